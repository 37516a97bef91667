import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// One way `submit` must refuse a job before queueing it.
struct SubmitRefusal: Sendable, CustomTestStringConvertible {
    let testDescription: String
    /// 1 for a refused file, 64 for a malformed command line.
    var exitCode: Int32 = 1
    /// Run as an unprivileged user: root reads and writes whatever the permission bits say, so
    /// permission checks can only be seen without it.
    var unprivileged = false
    /// Lays out the files in the media folder; returns submit's arguments and what the error must name.
    let prepare: @Sendable (_ media: URL) throws -> (arguments: [String], naming: String)

    static let fixture = Locations.fixture("one_frame.mp4")

    /// IN copied into the media folder.
    static func copiedInput(_ media: URL, _ name: String = "in.mp4") throws -> URL {
        let input = media.appendingPathComponent(name)
        try FileManager.default.copyItem(at: fixture, to: input)
        return input
    }

    static let refusedFiles: [SubmitRefusal] = [
        SubmitRefusal(testDescription: "IN does not exist") { media in
            ([media.appendingPathComponent("missing.mp4").path, media.appendingPathComponent("out.mp4").path],
             "missing.mp4")
        },
        SubmitRefusal(testDescription: "IN is a folder") { media in
            let folder = media.appendingPathComponent("folder.mp4", isDirectory: true)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: false)
            return ([folder.path, media.appendingPathComponent("out.mp4").path], "folder.mp4")
        },
        SubmitRefusal(testDescription: "IN is unreadable", unprivileged: true) { media in
            let input = try copiedInput(media, "secret.mp4")
            try FileManager.default.setAttributes([.posixPermissions: 0o000], ofItemAtPath: input.path)
            return ([input.path, media.appendingPathComponent("out.mp4").path], "secret.mp4")
        },
        SubmitRefusal(testDescription: "OUT's folder does not exist") { media in
            ([fixture.path, media.appendingPathComponent("nowhere/out.mp4").path], "nowhere/out.mp4")
        },
        SubmitRefusal(testDescription: "OUT's folder is not writable", unprivileged: true) { media in
            let folder = media.appendingPathComponent("readonly", isDirectory: true)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: false,
                                                    attributes: [.posixPermissions: 0o555])
            // IN inside the media folder: the unprivileged user may not reach the checkout.
            let input = try copiedInput(media)
            return ([input.path, folder.appendingPathComponent("out.mp4").path], "readonly/out.mp4")
        },
        SubmitRefusal(testDescription: "OUT exists and --overwrite is not given") { media in
            let existing = try copiedInput(media, "existing.mp4")
            return ([fixture.path, existing.path], "existing.mp4")
        },
        SubmitRefusal(testDescription: "OUT is a folder") { media in
            let folder = media.appendingPathComponent("folder.mp4", isDirectory: true)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: false)
            return ([fixture.path, folder.path, "--overwrite"], "folder.mp4")
        },
        SubmitRefusal(testDescription: "OUT's extension is not a container vqueue writes") { media in
            ([fixture.path, media.appendingPathComponent("out.avi").path], "out.avi")
        },
        SubmitRefusal(testDescription: "OUT has no extension") { media in
            ([fixture.path, media.appendingPathComponent("out").path], "out")
        },
    ] + ["audio_only.m4a", "text_file.avi", "zero_bytes.mp4", "huge_dimensions.mp4", "no_moov.mp4"].map { name in
        // Every attempt would fail on these: refused at submit rather than queued to fail.
        SubmitRefusal(testDescription: "IN is an upload no attempt could transcode (\(name))") { media in
            ([Locations.fixture(name).path, media.appendingPathComponent("out.mp4").path], name)
        }
    } + SameFileCase.allCases.map { sameFile in
        SubmitRefusal(testDescription: "OUT is IN (\(sameFile.rawValue)), even with --overwrite") { media in
            let input = try copiedInput(media)
            let output = try sameFile.output(naming: input, in: media)
            return ([input.path, output.path, "--overwrite"], output.lastPathComponent)
        }
    }

    static let badCommandLines: [SubmitRefusal] = [
        // The rest are parsed in-process (vqueueTests' UsageErrorParsingTests).
        ["--crf", "99"], ["--priority", "high"], ["--no-such-option"],
    ].map { options in
        SubmitRefusal(testDescription: "bad options: \(options.joined(separator: " "))", exitCode: 64) { media in
            ([fixture.path, media.appendingPathComponent("out.mp4").path] + options, options[0])
        }
    } + [
        SubmitRefusal(testDescription: "OUT is missing", exitCode: 64) { _ in ([fixture.path], "out") },
    ]
}

@Suite("submit refuses what cannot work, queueing nothing and leaving the database alone")
struct QueueSubmitRefusalTests {
    @Test("refused", .timeLimit(.minutes(30)),
          arguments: TestQueue.Store.allCases, SubmitRefusal.refusedFiles + SubmitRefusal.badCommandLines)
    func refused(_ store: TestQueue.Store, _ refusal: SubmitRefusal) async throws {
        try await withTemporaryDirectory { directory in
            let media = directory.appendingPathComponent("media", isDirectory: true)
            try FileManager.default.createDirectory(at: media, withIntermediateDirectories: false)
            // An SQLite database lives in a folder of its own, open to the unprivileged user too.
            let databaseFolder = directory.appendingPathComponent("db", isDirectory: true)
            try FileManager.default.createDirectory(at: databaseFolder, withIntermediateDirectories: false,
                                                    attributes: [.posixPermissions: 0o777])
            try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: databaseFolder.path)
            let queue = try await TestQueue.make(in: databaseFolder, store: store)
            let user = refusal.unprivileged ? UnprivilegedUser.name : nil

            let created = try await runAs(user, queue.commandLine("list", ["--json"]), scratch: directory)
            try #require(created.exitCode == 0 && created.stdoutText == "[]\n", "creating the queue: \(created)")
            let before = try await databaseSnapshot(queue, databaseFolder)

            let (arguments, naming) = try refusal.prepare(media)
            let mediaBefore = directoryListing(media)
            let result = try await runAs(user, queue.commandLine("submit", arguments), in: media, scratch: directory)

            if refusal.exitCode == 64 {
                expectUsageError(result, naming: naming)
            } else {
                expectOneLineError(result, naming: naming)
            }
            #expect(try await databaseSnapshot(queue, databaseFolder) == before, "the refused submit changed the database")
            let after = try await queue.run("list", ["--json"])
            #expect(after.exitCode == 0 && after.stdoutText == "[]\n", "nothing may be queued: \(after)")
            #expect(directoryListing(media) == mediaBefore, "the refused submit changed the media folder")
        }
    }

    @Test("a refused submit does not create the queue database", .timeLimit(.minutes(30)))
    func refusalCreatesNoDatabase() async throws {
        try await withTemporaryDirectory { directory in
            let queue = TestQueue(in: directory.appendingPathComponent("new", isDirectory: true))
            let result = try await queue.run("submit", [directory.appendingPathComponent("missing.mp4").path,
                                                         directory.appendingPathComponent("out.mp4").path])
            expectOneLineError(result, naming: "missing.mp4")
            #expect(directoryListing(directory).isEmpty, "\(directoryListing(directory))")
        }
    }

    /// ArgumentParser's form: an `Error: ...` line naming the option, perhaps followed by its hints
    /// (`Help: <the option's help>`, `Usage: ...`, `See 'vqueue submit --help' ...`), and nothing on stdout.
    private func expectUsageError(_ result: ProcessResult, naming: String,
                                  sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.exitCode == 64, "\(result)", sourceLocation: sourceLocation)
        #expect(result.stdout.isEmpty, "\(result)", sourceLocation: sourceLocation)
        let hints = ["Help: ", "Usage: ", "See '"]
        let errors = result.stderrLines.filter { line in
            !hints.contains { line.trimmingCharacters(in: .whitespaces).hasPrefix($0) }
        }
        #expect(errors.count == 1, "one error line (besides the usage hint): \(result)", sourceLocation: sourceLocation)
        #expect(errors.first.map { $0.hasPrefix("Error: ") || $0.hasPrefix("vqueue: error: ") } == true,
                "\(result)", sourceLocation: sourceLocation)
        #expect(errors.first?.contains(naming) == true, "the error must name \(naming): \(result)",
                sourceLocation: sourceLocation)
        expectNoControlCharacters(result.stderr, sourceLocation: sourceLocation)
    }

    /// SQLite: the database folder's files and their bytes (the WAL and shared-memory files
    /// included). PostgreSQL: every row of the queue's tables.
    private func databaseSnapshot(_ queue: TestQueue, _ folder: URL) async throws -> [String: Data] {
        var snapshot: [String: Data] = [:]
        switch queue.store {
        case .sqlite:
            for name in directoryListing(folder) {
                snapshot[name] = try Data(contentsOf: folder.appendingPathComponent(name))
            }
        case .postgres:
            for table in ["jobs", "workers", "batches", "events"] {
                snapshot[table] = Data(try await queue.query("SELECT * FROM \(table) ORDER BY 1").joined(separator: "\n").utf8)
            }
        }
        return snapshot
    }
}

/// Who runs the permission cases when the tests run as root.
enum UnprivilegedUser {
    static let name = "nobody"

    /// The binary under test where that user can run it: a checkout may sit in a folder only
    /// root can enter (CI clones into a `mktemp -d` folder, mode 0700), so the test copies it
    /// into its own (world-readable) temporary folder. The copy is made by `cp`, not in this
    /// process: a child another test spawns while this process holds the copy open for writing
    /// inherits that descriptor, and executing the copy then fails with "Text file busy".
    static func binary(in directory: URL) async throws -> URL {
        let folder = directory.appendingPathComponent("bin", isDirectory: true)
        let copy = folder.appendingPathComponent("vqueue")
        if !FileManager.default.fileExists(atPath: copy.path) {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let cp = try RunningProcess(URL(fileURLWithPath: "/bin/cp"), [Locations.vqueue.path, copy.path])
            let copied = await cp.wait(timeout: .seconds(60))
            try #require(copied.exitCode == 0, "copying the binary for the unprivileged user: \(copied)")
        }
        for path in [directory.path, folder.path, copy.path] { chmod(path, 0o755) }
        return copy
    }
}

/// Runs vqueue with `arguments`, as `user` (through runuser, when the tests run as root) or as
/// the test itself.
func runAs(_ user: String?, _ arguments: [String], in directory: URL? = nil, scratch: URL) async throws -> ProcessResult {
    guard let user, getuid() == 0 else {
        return try await startVqueue(arguments, in: directory).wait(timeout: .seconds(60))
    }
    let process = try RunningProcess(URL(fileURLWithPath: "/usr/sbin/runuser"),
                                     ["-u", user, "--", try await UnprivilegedUser.binary(in: scratch).path] + arguments,
                                     currentDirectory: directory)
    return await process.wait(timeout: .seconds(60))
}
