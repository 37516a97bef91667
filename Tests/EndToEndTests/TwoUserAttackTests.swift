import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

// The README's two-user set-up ("Several users, one database", "Only the folders a worker is meant
// to touch") held against a hostile web user, with two real local users (TwoUserSite): the web
// user uploads and submits, the worker user transcodes with --allow-dir over the uploads and the
// outputs. Everything the web user does here, a PHP upload handler that has been taken over could
// do: write its uploads folder, write the shared output folder, name any path in a symlink, know a
// job's id (submit prints it) and attempt number (status shows it).

/// What the tests transcode: small fixtures the site's users may read once installed.
private enum Media {
    /// The web user's own upload: H.264 320x240, 1 s, no audio.
    static let upload = Locations.fixture("video_only.mp4")
    /// Another of the web user's videos (a different file): MPEG-4 320x240 + MP3, 2 s.
    static let otherUpload = Locations.fixture("old_camera.avi")
    /// The worker-only video the web user must never get transcoded into something it can read:
    /// VP9 641x479, a size none of the web user's videos has (its transcode is 640x478 or 642x480).
    static let secret = Locations.fixture("odd_641x479.mkv")
    static let secretWidth = 641
}

/// Bytes a text form must never carry: C0 controls other than the newline that ends a line, DEL,
/// and C1 controls (U+0080…U+009F, 0xC2 0x80…0x9F in UTF-8).
private func rawControlBytes(_ data: Data) -> [UInt8] {
    var found: [UInt8] = []
    let bytes = [UInt8](data)
    for (index, byte) in bytes.enumerated() {
        if (byte < 0x20 && byte != 0x0a) || byte == 0x7f {
            found.append(byte)
        } else if byte == 0xc2, index + 1 < bytes.count, (0x80...0x9f).contains(bytes[index + 1]) {
            found.append(bytes[index + 1])
        }
    }
    return found
}

private func expectNoRawControls(_ data: Data, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let found = rawControlBytes(data)
    let shown = String(decoding: data, as: UTF8.self).debugDescription
    #expect(found.isEmpty, "\(what) prints raw control bytes \(found.map { String(format: "0x%02x", $0) }): \(shown)",
            sourceLocation: sourceLocation)
}

/// The files in a folder, for "nothing else appeared" checks (hidden ones included).
private func listing(_ folder: URL) -> Set<String> { Set(directoryListing(folder)) }

/// A job that failed for good on its first attempt, with one of `codes`, the message naming `naming`.
private func expectPermanentFailure(_ job: JobStatus, codes: Set<String>, naming: String? = nil,
                                    sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(job.state == "failed", "job \(job.id): \(job)", sourceLocation: sourceLocation)
    let code = job.errorCode ?? "no code", message = job.error ?? "no message"
    #expect(job.errorCode.map(codes.contains) == true,
            "job \(job.id) failed with \(code) (\(message)), expected one of \(codes.sorted())", sourceLocation: sourceLocation)
    #expect(job.attempts == 1, "a refusal is permanent, not retried: \(job)", sourceLocation: sourceLocation)
    if let naming {
        #expect(job.error?.contains(naming) == true, "the message must name \(naming): \(job.error ?? "none")",
                sourceLocation: sourceLocation)
    }
}

/// A worker run with --drain must end by itself, exit 0.
private func expectDrained(_ ended: Termination, _ log: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(ended == .exited(0), "the worker (as the worker user) ended with \(ended); its log:\n\(log)",
            sourceLocation: sourceLocation)
    #expect(!log.contains("readonly database"), "\(log)", sourceLocation: sourceLocation)
}

@Suite("Two real users: the README's recipe holds against a hostile web user", .serialized)
struct TwoUserAttackTests {
    // MARK: 1. The recipe as written

    enum FirstUse: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case webSubmitsFirst = "the web user submits first (and creates the database)"
        case workerStartsFirst = "the worker starts first (and creates the database)"
        var testDescription: String { rawValue }
    }

    @Test("the README's two-user recipe works as written: both users write one group-writable database",
          .timeLimit(.minutes(30)), arguments: FirstUse.allCases)
    func recipeWorksAsWritten(_ first: FirstUse) async throws {
        try await TwoUserSite.with { site in
            let inputs = [site.uploads.appendingPathComponent("first.mp4"), site.uploads.appendingPathComponent("second.mp4")]
            for input in inputs { try await site.install(Media.upload, at: input, owner: .web) }
            let outputs = [site.video.appendingPathComponent("first.mp4"), site.video.appendingPathComponent("second.mp4")]
            let creator: TwoUserSite.Role = first == .webSubmitsFirst ? .web : .worker

            var firstID: Int64?
            var worker: LoggedProcess
            if first == .webSubmitsFirst {
                firstID = try await site.mustSubmit(inputs[0], outputs[0])
                worker = try site.startWorker(["--concurrency", "1"])
            } else {
                worker = try site.startWorker(["--concurrency", "1"])
                let created = await eventually(within: .seconds(30)) { fileStatus(site.database) != nil }
                try #require(created, "the worker did not create \(site.database.path): \(worker.log)")
                firstID = try await site.mustSubmit(inputs[0], outputs[0])
            }
            let database = try #require(fileStatus(site.database), "no database at \(site.database.path)")
            #expect(database.st_uid == site.uid(creator), "the database should belong to its creator, the \(creator) user")
            #expect(database.st_gid == site.groupID, "the setgid folder gives the database the shared group")
            #expect(database.st_mode & 0o060 == 0o060,
                    "umask 002 must give a group-writable database, not \(String(database.st_mode & 0o777, radix: 8))")
            #expect(database.st_mode & 0o002 == 0, "umask 002 never makes it world-writable")

            let one = try await site.finished(try #require(firstID))
            #expect(one.state == "succeeded", "\(one); worker log:\n\(worker.log)")

            // The worker has the database open: its -wal and -shm exist now, created by whichever
            // user opened it first after the last close. The other user must write them.
            for suffix in ["-wal", "-shm"] {
                let file = URL(fileURLWithPath: site.database.path + suffix)
                let status = try #require(fileStatus(file), "no \(file.lastPathComponent) while the worker runs")
                #expect(status.st_gid == site.groupID, "\(file.lastPathComponent) has group \(status.st_gid)")
                #expect(status.st_mode & 0o060 == 0o060,
                        "\(file.lastPathComponent) is \(String(status.st_mode & 0o777, radix: 8)): the other user cannot write it")
            }
            // The web user writes through the worker's -wal and -shm while the worker holds them.
            let secondID = try await site.mustSubmit(inputs[1], outputs[1])
            let two = try await site.finished(secondID)
            #expect(two.state == "succeeded", "\(two); worker log:\n\(worker.log)")
            let listed = try await site.vqueue(as: .web, ["list", "--json"])
            #expect(listed.exitCode == 0 && !listed.stderrText.contains("readonly"), "\(listed)")
            let workerList = try await site.vqueue(as: .worker, ["status", String(secondID)])
            #expect(workerList.exitCode == 0, "\(workerList)")

            #expect(await worker.stop() == .exited(0), "\(worker.log)")
            #expect(!worker.log.contains("readonly database"), "\(worker.log)")

            for output in outputs {
                let status = try #require(fileStatus(output), "\(output.lastPathComponent) was not published")
                #expect(isRegularFile(status))
                #expect(status.st_uid == site.workerUID, "an output is the worker's file")
                #expect(status.st_gid == site.groupID, "the setgid output folder gives it the shared group")
                #expect(status.st_mode & 0o777 == 0o664, "the output's mode follows umask 002: \(String(status.st_mode & 0o777, radix: 8))")
                #expect(try await probeMedia(output).videoStreams.first?.width == 320)
            }
        }
    }

    // MARK: 2. Symlinks planted at the temporary name

    @Test("a symlink planted at the temporary name never makes the worker write elsewhere", .timeLimit(.minutes(30)))
    func plantedTemporaryLinksAreNeverFollowed() async throws {
        try await TwoUserSite.with { site in
            let input = site.uploads.appendingPathComponent("in.mp4")
            try await site.install(Media.upload, at: input, owner: .web)
            // Two files only the worker may write: one in its home (outside the allowed folders),
            // one in a private folder inside them.
            let privateFolder = site.video.appendingPathComponent("private", isDirectory: true)
            try await site.administer("/usr/bin/install", ["-d", "-o", site.workerUser, "-g", site.group, "-m", "0700",
                                                           privateFolder.path])
            let preciousFiles = [site.workerHome.appendingPathComponent("precious.txt"),
                                 privateFolder.appendingPathComponent("precious.txt")]
            let scratch = site.logs.appendingPathComponent("precious.txt")
            try Data("only the worker may write this\n".utf8).write(to: scratch)
            for file in preciousFiles { try await site.install(scratch, at: file, owner: .worker, mode: "0600") }
            let before = preciousFiles.map(FileFingerprint.init)

            let output = site.video.appendingPathComponent("victim.mp4")
            let id = try await site.mustSubmit(input, output)

            // Every name the web user could guess for attempts 1 and 2: the old predictable ones,
            // and `.victim.mp4.job<ID>-<ATTEMPT>.<16 hex>.part` with all sorts of hex digits.
            var hex = ["0000000000000000", "ffffffffffffffff", "0123456789abcdef", "fedcba9876543210",
                       "deadbeefdeadbeef", "0000000000000001", "00000000ffffffff", "FFFFFFFFFFFFFFFF"]
            var generator = SystemRandomNumberGenerator()
            for _ in 0..<200 {
                let digits = String(generator.next(), radix: 16)
                hex.append(String(repeating: "0", count: 16 - digits.count) + digits)
            }
            var links: [String] = []
            for attempt in 1...2 {
                links.append(".victim.mp4.job\(id)-\(attempt).part")
                links += hex.map { ".victim.mp4.job\(id)-\(attempt).\($0).part" }
            }
            links.append(".victim.mp4.part")
            let fifos = [".victim.mp4.job\(id)-1.aaaaaaaaaaaaaaaa.part", ".victim.mp4.job\(id)-1.fifo.part",
                         ".victim.mp4.job\(id)-0.part"]
            let halves = [Array(links.prefix(links.count / 2)), Array(links.dropFirst(links.count / 2))]
            for (target, names) in zip(preciousFiles, halves) {
                try await site.mustShell(as: .web, #"cd "$1" && t=$2 && shift 2 && for n; do ln -s -- "$t" "$n" || exit 1; done"#,
                                         [site.video.path, target.path] + names)
            }
            try await site.mustShell(as: .web, #"cd "$1" && shift && for n; do mkfifo -- "$n" || exit 1; done"#,
                                     [site.video.path] + fifos)
            let planted = listing(site.video)

            let (ended, log) = try await site.drain()
            expectDrained(ended, log)
            let job = try await site.status(id)
            #expect(job.state == "succeeded" || (job.state == "failed" && job.errorCode != nil && job.error != nil),
                    "the job must succeed, or fail cleanly with a reason: \(job)")
            #expect(job.state == "succeeded", "nothing planted should stop the job: \(job)")

            for (file, fingerprint) in zip(preciousFiles, before) {
                #expect(FileFingerprint(file) == fingerprint, "\(file.path) was touched: now \(FileFingerprint(file).map(\.description) ?? "gone")")
            }
            let published = fileStatus(output)
            #expect(!isSymbolicLink(published), "OUT is a symlink")
            if job.state == "succeeded" {
                #expect(isRegularFile(published), "OUT is not a regular file")
                #expect(published?.st_uid == site.workerUID, "OUT is not the worker's own file")
                #expect(published.map { $0.st_mode & 0o777 } == 0o664, "OUT's mode does not follow umask 002")
                #expect(try await probeMedia(output).videoStreams.first?.width == 320)
            }
            // Every planted name is still what the web user made it: nothing followed, replaced or removed.
            for (target, names) in zip(preciousFiles, halves) {
                for name in names {
                    let link = site.video.appendingPathComponent(name)
                    #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: link.path)) == target.path,
                            "\(name) is no longer the planted link")
                }
            }
            for name in fifos {
                #expect(fileStatus(site.video.appendingPathComponent(name)).map { $0.st_mode & S_IFMT == S_IFIFO } == true,
                        "\(name) is no longer the planted FIFO")
            }
            #expect(listing(site.video) == planted.union(job.state == "succeeded" ? ["victim.mp4"] : []),
                    "the worker left something behind: \(listing(site.video).subtracting(planted))")
        }
    }

    // MARK: 3. OUT (or its folder) replaced by a symlink

    enum LinkTarget: String, CaseIterable, Sendable {
        /// A worker-only file in the worker's home, outside the allowed folders.
        case workerHome = "in the worker's home"
        /// A worker-only file in a worker-only folder inside the allowed folders.
        case privateFolder = "in a private folder inside the allowed folders"
    }

    struct LinkedOutput: Sendable, CustomTestStringConvertible {
        let target: LinkTarget
        let overwrite: Bool
        var testDescription: String { "to a worker-only file \(target.rawValue)\(overwrite ? ", --overwrite" : "")" }
        static let all = LinkTarget.allCases.flatMap { target in [false, true].map { LinkedOutput(target: target, overwrite: $0) } }
    }

    /// A worker-only file (0600, the worker's) for `target`, and the folder it is in.
    private func workerOnlyFile(_ target: LinkTarget, in site: TwoUserSite, named name: String = "precious.mp4")
        async throws -> URL {
        var folder = site.workerHome
        if target == .privateFolder {
            folder = site.video.appendingPathComponent("private", isDirectory: true)
            if fileStatus(folder) == nil {
                try await site.administer("/usr/bin/install", ["-d", "-o", site.workerUser, "-g", site.group, "-m", "0700", folder.path])
            }
        }
        let file = folder.appendingPathComponent(name)
        try await site.install(Media.secret, at: file, owner: .worker, mode: "0600")
        return file
    }

    @Test("OUT replaced by a symlink after submit: the job fails, the link and its target untouched",
          .timeLimit(.minutes(30)), arguments: LinkedOutput.all)
    func outputReplacedByLink(_ linked: LinkedOutput) async throws {
        try await TwoUserSite.with { site in
            let input = site.uploads.appendingPathComponent("in.mp4")
            try await site.install(Media.upload, at: input, owner: .web)
            let target = try await workerOnlyFile(linked.target, in: site)
            let before = FileFingerprint(target)
            let output = site.video.appendingPathComponent("victim.mp4")
            let id = try await site.mustSubmit(input, output, linked.overwrite ? ["--overwrite"] : [])
            try await site.mustShell(as: .web, #"ln -s -- "$1" "$2""#, [target.path, output.path])
            let folderBefore = listing(site.video)

            let (ended, log) = try await site.drain()
            expectDrained(ended, log)
            let job = try await site.status(id)
            expectPermanentFailure(job, codes: ["output_is_link", "not_allowed"], naming: "victim.mp4")
            #expect(FileFingerprint(target) == before, "the link's target was written")
            #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: output.path)) == target.path,
                    "the link at OUT was not left as it was")
            #expect(listing(site.video) == folderBefore, "the worker left something: \(listing(site.video).subtracting(folderBefore))")
        }
    }

    @Test("OUT turned into a symlink while the job runs: the link's target is never written",
          .timeLimit(.minutes(30)), arguments: [false, true])
    func outputLinkedWhileRunning(_ overwrite: Bool) async throws {
        try await TwoUserSite.with { site in
            let sample = try await makeLongSample(in: site.logs, seconds: 10)
            let input = site.uploads.appendingPathComponent("long.mp4")
            try await site.install(sample, at: input, owner: .web)
            let target = try await workerOnlyFile(.privateFolder, in: site)
            let before = FileFingerprint(target)
            let output = site.video.appendingPathComponent("victim.mp4")
            // A slow preset, so the job is still encoding when the link appears.
            let id = try await site.mustSubmit(input, output, ["--x264-preset", "slow"] + (overwrite ? ["--overwrite"] : []))
            let worker = try site.startWorker(["--concurrency", "1"])
            let writing = await eventually(within: .seconds(60)) { temporaryOutput(for: output, job: id, attempt: 1) != nil }
            try #require(writing, "the job never started writing: \(worker.log)")
            try await site.mustShell(as: .web, #"ln -s -- "$1" "$2""#, [target.path, output.path])
            let stillRunning = try await site.status(id).state == "running"
            let job = try await site.finished(id)
            #expect(await worker.stop() == .exited(0), "\(worker.log)")
            try #require(stillRunning, "the job finished before the link was planted: the test proves nothing (make it slower)")

            #expect(FileFingerprint(target) == before, "the link's target was written")
            if overwrite {
                // OUT is the link, which --overwrite allows to be replaced (never followed).
                let published = fileStatus(output)
                let asPlanted = (try? FileManager.default.destinationOfSymbolicLink(atPath: output.path)) == target.path
                #expect(asPlanted || (isRegularFile(published) && published?.st_uid == site.workerUID),
                        "OUT must be the untouched link or the worker's regular file: \(job)")
            } else {
                expectPermanentFailure(job, codes: ["output_exists", "output_is_link"], naming: "victim.mp4")
                #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: output.path)) == target.path,
                        "the link at OUT was replaced without --overwrite")
            }
            #expect(temporaryOutput(for: output, job: id, attempt: 1) == nil, "the temporary file was left behind")
        }
    }

    /// submit checks that the web user may write OUT's folder; the worker then checks only that the
    /// folder it opens lies inside --allow-dir. A folder the web user swaps for a link to a
    /// worker-only folder inside the allowed folders must not let it replace (with --overwrite) a
    /// file there it could never have written: the folder the worker writes must be the one submit
    /// checked (as the input must be the file submit checked).
    @Test("OUT's folder swapped for a symlink after submit: nothing is written where it points",
          .timeLimit(.minutes(30)), arguments: LinkTarget.allCases)
    func outputFolderReplacedByLink(_ target: LinkTarget) async throws {
        try await TwoUserSite.with { site in
            let input = site.uploads.appendingPathComponent("in.mp4")
            try await site.install(Media.upload, at: input, owner: .web)
            // The folder the link will point to holds a worker-only file named as OUT: with
            // --overwrite, a worker following the link would replace it.
            let precious = try await workerOnlyFile(target, in: site, named: "victim.mp4")
            let destination = precious.deletingLastPathComponent()
            let before = FileFingerprint(precious)
            let destinationBefore = listing(destination)
            let subfolder = site.video.appendingPathComponent("mine", isDirectory: true)
            try await site.mustShell(as: .web, #"mkdir -m 2775 -- "$1""#, [subfolder.path])
            let output = subfolder.appendingPathComponent("victim.mp4")
            let id = try await site.mustSubmit(input, output, ["--overwrite"])
            try await site.mustShell(as: .web, #"mv -- "$1" "$1.old" && ln -s -- "$2" "$1""#, [subfolder.path, destination.path])

            let (ended, log) = try await site.drain()
            expectDrained(ended, log)
            let job = try await site.status(id)
            let outcome = "job \(job.state), \(job.errorCode ?? "no code")"
            #expect(FileFingerprint(precious) == before,
                    "the worker replaced \(precious.path), a file only it may write, for the web user (\(outcome))")
            #expect(listing(destination) == destinationBefore,
                    "the worker wrote into \(destination.path): \(listing(destination).symmetricDifference(destinationBefore))")
            #expect(job.state == "failed" && job.attempts == 1, "the job should fail for good, saying why: \(job)")
        }
    }

    // MARK: 4. Reading through the input

    enum InputAttack: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case hlsUpload = "an HLS playlist named .mp4, naming worker-only videos"
        case ffconcatUpload = "an ffconcat list named .mp4, naming worker-only videos"
        case symlinkOutside = "the upload swapped for a symlink to a worker-only video outside the allowed folders"
        case symlinkInside = "the upload swapped for a symlink to a worker-only video inside the allowed folders"
        case hardLink = "the upload swapped for a hard link to a worker-only video"
        case otherFile = "the upload swapped for another regular file (another inode)"
        case fifo = "the upload swapped for a FIFO"
        case hlsInPlace = "the upload rewritten in place (same inode and size) as an HLS playlist"
        case ffconcatInPlace = "the upload rewritten in place (same inode and size) as an ffconcat list"
        var testDescription: String { rawValue }
    }

    /// A playlist (or list) naming `targets`, padded with comment lines to `size` bytes if given.
    private static func redirect(hls: Bool, naming targets: [String], size: Int? = nil) -> Data {
        var text = hls
            ? "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n" + targets.map { "#EXTINF:1.0,\n\($0)\n" }.joined() + "#EXT-X-ENDLIST\n"
            : "ffconcat version 1.0\n" + targets.map { "file '\($0)'\n" }.joined()
        if let size, size > text.utf8.count + 2 {
            text += "#" + String(repeating: "x", count: size - text.utf8.count - 2) + "\n"
        }
        return Data(text.utf8)
    }

    @Test("the worker never transcodes a worker-only file the web user names through its upload",
          .timeLimit(.minutes(30)), arguments: InputAttack.allCases)
    func inputNeverReadsWorkerOnlyFiles(_ attack: InputAttack) async throws {
        try await TwoUserSite.with { site in
            let outside = try await workerOnlyFile(.workerHome, in: site, named: "secret.mkv")
            let inside = try await workerOnlyFile(.privateFolder, in: site, named: "secret.mkv")
            // A worker-only file the web user can reach by name (for the hard link).
            let reachable = site.video.appendingPathComponent("worker-only.mkv")
            try await site.install(Media.secret, at: reachable, owner: .worker, mode: "0600")
            let input = site.uploads.appendingPathComponent("upload.mp4")
            let output = site.video.appendingPathComponent("out.mp4")
            let scratch = site.logs.appendingPathComponent("redirect")

            switch attack {
            case .hlsUpload, .ffconcatUpload:
                try Self.redirect(hls: attack == .hlsUpload, naming: [inside.path, outside.path]).write(to: scratch)
                try await site.install(scratch, at: input, owner: .web)
            default:
                try await site.install(Media.upload, at: input, owner: .web)
            }
            let (submitted, submitResult) = try await site.submit(input.path, output.path)
            guard let id = submitted else {
                // Refused at submit: the best outcome for an upload that names other files.
                #expect([.hlsUpload, .ffconcatUpload].contains(attack), "submit refused a real video: \(submitResult)")
                expectOneLineError(submitResult, naming: "upload.mp4")
                #expect(submitResult.stderrText.contains("single media file"), "\(submitResult)")
                let listed = try await site.vqueue(as: .web, ["list", "--json"])
                #expect(listed.exitCode != 0 || listed.stdoutText == "[]\n", "a refused upload was queued: \(listed)")
                #expect(fileStatus(output) == nil)
                return
            }
            #expect(![.hlsUpload, .ffconcatUpload].contains(attack), "submit queued an upload that names other files (job \(id))")

            let submittedInode = fileStatus(input).map { UInt64($0.st_ino) }
            var expectedCodes: Set<String> = ["input_replaced", "not_allowed"]
            var kernelRefused = false
            switch attack {
            case .hlsUpload, .ffconcatUpload:
                expectedCodes = ["not_single_file"]
            case .symlinkOutside, .symlinkInside:
                let target = attack == .symlinkOutside ? outside : inside
                try await site.mustShell(as: .web, #"ln -s -- "$1" "$2.new" && mv -f -- "$2.new" "$2""#, [target.path, input.path])
            case .hardLink:
                // fs.protected_hardlinks (Debian's default) refuses a link to a file the web user
                // neither owns nor may read and write; if a kernel allowed it, the worker must still refuse.
                let linked = try await site.shell(as: .web, #"ln -- "$1" "$2.new" && mv -f -- "$2.new" "$2""#,
                                                  [reachable.path, input.path])
                kernelRefused = linked.exitCode != 0
            case .otherFile:
                try await site.install(Media.otherUpload, at: site.uploads.appendingPathComponent("other.mp4"), owner: .web)
                try await site.mustShell(as: .web, #"cp -- "$1" "$2.new" && mv -f -- "$2.new" "$2""#,
                                         [site.uploads.appendingPathComponent("other.mp4").path, input.path])
                expectedCodes = ["input_replaced"]
            case .fifo:
                try await site.mustShell(as: .web, #"rm -f -- "$1" && mkfifo -- "$1""#, [input.path])
                expectedCodes = ["input_replaced", "input_unreadable"]
            case .hlsInPlace, .ffconcatInPlace:
                let size = try #require(fileStatus(input)).st_size
                try Self.redirect(hls: attack == .hlsInPlace, naming: [inside.path, outside.path], size: Int(size)).write(to: scratch)
                chmod(scratch.path, 0o644)
                chmod(site.logs.path, 0o755)
                // `cat > upload` truncates and rewrites the same file: the inode and size submit recorded hold.
                try await site.mustShell(as: .web, #"cat -- "$1" > "$2""#, [scratch.path, input.path])
                let now = try #require(fileStatus(input))
                try #require(UInt64(now.st_ino) == submittedInode && now.st_size == size,
                             "the rewrite changed the inode or size; the test proves nothing")
                expectedCodes = ["not_single_file"]
            }
            let uploadsBefore = listing(site.uploads)
            let videoBefore = listing(site.video)

            let (ended, log) = try await site.drain()
            expectDrained(ended, log)
            let job = try await site.status(id)
            if kernelRefused {
                // The attack could not be made: the job transcodes the web user's own upload.
                #expect(job.state == "succeeded", "\(job)")
                let media = try await probeMedia(output)
                #expect(media.videoStreams.first?.width == 320, "OUT is not the web user's video: \(media.videoStreams)")
            } else {
                // The worker's own refusals name the upload (its status line names it anyway).
                expectPermanentFailure(job, codes: expectedCodes, naming: attack == .fifo ? nil : "upload.mp4")
                #expect(fileStatus(output) == nil, "OUT was written")
            }
            // Nothing the web user can read holds the worker-only video.
            #expect(listing(site.uploads) == uploadsBefore)
            #expect(listing(site.video).subtracting(["out.mp4"]) == videoBefore, "\(listing(site.video).subtracting(videoBefore))")
            for name in listing(site.video) where name.hasSuffix(".mp4") {
                let file = site.video.appendingPathComponent(name)
                guard isRegularFile(fileStatus(file)) else { continue }
                let width = try await probeMedia(file).videoStreams.first?.width ?? 0
                #expect(abs(width - Media.secretWidth) > 2, "\(name) holds the worker-only video (\(width) wide)")
            }
        }
    }

    // MARK: 5. Limits the submitter chooses

    @Test("submit --max-pixels cannot raise the worker's --max-pixels", .timeLimit(.minutes(30)))
    func submittedPixelLimitIsNoCeiling() async throws {
        try await TwoUserSite.with { site in
            let input = site.uploads.appendingPathComponent("huge.mp4")
            try await site.install(Locations.fixture("huge_dimensions.mp4"), at: input, owner: .web)
            let output = site.video.appendingPathComponent("huge.mp4")
            let id = try await site.mustSubmit(input, output, ["--max-pixels", "256000000", "--max-memory", "64G", "--timeout", "10d"])
            let (ended, log) = try await site.drain(["--max-pixels", "2000000"])
            expectDrained(ended, log)
            let job = try await site.status(id)
            expectPermanentFailure(job, codes: ["too_many_pixels"])
            #expect(job.error?.contains("2000000") == true || job.error?.contains("2 000 000") == true
                    || job.error?.contains("2,000,000") == true, "the message should give the worker's limit: \(job.error ?? "")")
            #expect(fileStatus(output) == nil)
        }
    }

    @Test("submit --max-memory cannot raise the worker's --max-memory; the worker and its other job carry on",
          .timeLimit(.minutes(30)))
    func submittedMemoryLimitIsNoCeiling() async throws {
        try await TwoUserSite.with { site in
            let huge = site.uploads.appendingPathComponent("huge.mp4")
            try await site.install(Locations.fixture("huge_dimensions.mp4"), at: huge, owner: .web)
            let sample = try await makeLongSample(in: site.logs, seconds: 6, size: "320x240")
            let normal = site.uploads.appendingPathComponent("normal.mp4")
            try await site.install(sample, at: normal, owner: .web)
            let normalID = try await site.mustSubmit(normal, site.video.appendingPathComponent("normal.mp4"))
            let hugeID = try await site.mustSubmit(huge, site.video.appendingPathComponent("huge.mp4"),
                                                   ["--max-pixels", "256000000", "--max-memory", "64G"])
            // The worker lets the picture through (its own --max-pixels is high) but not the memory.
            let worker = try site.startWorker(["--drain", "--concurrency", "2", "--max-pixels", "300000000",
                                               "--max-memory", "512M"])
            let ended = await worker.wait(timeout: .seconds(180))
            expectDrained(ended, worker.log)
            let hugeJob = try await site.status(hugeID)
            expectPermanentFailure(hugeJob, codes: ["memory_limit"])
            #expect(hugeJob.error?.contains("512") == true, "the message should give the worker's limit: \(hugeJob.error ?? "")")
            let normalJob = try await site.status(normalID)
            #expect(normalJob.state == "succeeded", "the worker's other job: \(normalJob)")
            #expect(normalJob.workerPID == hugeJob.workerPID, "one worker ran both")
            #expect(fileStatus(site.video.appendingPathComponent("huge.mp4")) == nil)
        }
    }

    @Test("submit --timeout cannot raise the worker's --timeout", .timeLimit(.minutes(30)))
    func submittedTimeLimitIsNoCeiling() async throws {
        try await TwoUserSite.with { site in
            let sample = try await makeLongSample(in: site.logs, seconds: 20)
            let input = site.uploads.appendingPathComponent("long.mp4")
            try await site.install(sample, at: input, owner: .web)
            let output = site.video.appendingPathComponent("long.mp4")
            let id = try await site.mustSubmit(input, output, ["--timeout", "10d", "--x264-preset", "veryslow"])
            let started = ContinuousClock.now
            let (ended, log) = try await site.drain(["--timeout", "3s"])
            let elapsed = ContinuousClock.now - started
            expectDrained(ended, log)
            let job = try await site.status(id)
            expectPermanentFailure(job, codes: ["timeout"])
            #expect(elapsed < .seconds(60), "the worker's 3 s limit was not enforced (\(elapsed))")
            #expect(fileStatus(output) == nil)
        }
    }

    // MARK: 6. Names in output

    @Test("names with control characters are escaped in every text form and exact in JSON", .timeLimit(.minutes(30)))
    func controlCharactersInNamesAreEscaped() async throws {
        try await TwoUserSite.with { site in
            let failingName = "a\u{1b}[2Jb\u{07}c\nd.mp4"
            let runningName = "r\u{1b}]0;owned\u{07}u\rn\tx\u{9b}y\u{2028}.mp4"
            let failingInput = site.uploads.appendingPathComponent(failingName)
            let failingOutput = site.video.appendingPathComponent(failingName)
            try await site.install(Media.upload, at: failingInput, owner: .web)
            // The replacement, where the web user can read it (the checkout may not be: a clone in
            // a `mktemp -d` folder is the caller's alone).
            let replacement = site.uploads.appendingPathComponent("replacement.avi")
            try await site.install(Media.otherUpload, at: replacement, owner: .web)
            let failingID = try await site.mustSubmit(failingInput, failingOutput)
            // Replaced after submit: the job fails with a message naming the file.
            try await site.mustShell(as: .web, #"cp -- "$1" "$2""#, [replacement.path, failingInput.path])
            let (ended, log) = try await site.drain()
            expectDrained(ended, log)
            expectNoRawControls(Data(log.utf8), "the worker's log")
            #expect(try await site.status(failingID).state == "failed")

            // A second job, caught running, so top shows its name.
            let sample = try await makeLongSample(in: site.logs, seconds: 20)
            let runningInput = site.uploads.appendingPathComponent(runningName)
            try await site.install(sample, at: runningInput, owner: .web)
            let runningID = try await site.mustSubmit(runningInput, site.video.appendingPathComponent(runningName),
                                                      ["--x264-preset", "slow"])
            let worker = try site.startWorker(["--concurrency", "1"])
            let running = await eventually(within: .seconds(60)) {
                (try? await site.status(runningID).state) == "running"
            }
            try #require(running, "job \(runningID) never ran: \(worker.log)")

            let ids = [failingID, runningID]
            let list = try await site.vqueue(as: .web, ["list"])
            #expect(list.exitCode == 0, "\(list)")
            expectNoRawControls(list.stdout, "list")
            let jobLines = list.stdoutText.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty }
            #expect(jobLines.filter { $0.hasPrefix("job ") }.count == ids.count && jobLines.allSatisfy { $0.hasPrefix("job ") },
                    "list: one line a job, each starting `job N`: \(list.stdoutText.debugDescription)")
            for id in ids {
                let status = try await site.vqueue(as: .web, ["status", String(id)])
                expectNoRawControls(status.stdout, "status \(id)")
                #expect(status.stdoutText.hasSuffix("\n") && status.stdoutLines.count == 1,
                        "status \(id): one line: \(status.stdoutText.debugDescription)")
            }
            let events = try await site.vqueue(as: .web, ["events"])
            #expect(events.exitCode == 0, "\(events)")
            expectNoRawControls(events.stdout, "events")
            #expect(events.stdoutLines.allSatisfy { $0.hasPrefix("#") }, "events: one line an event: \(events.stdoutText.debugDescription)")
            let top = try await site.vqueue(as: .web, ["top", "--once"])
            #expect(top.exitCode == 0, "\(top)")
            expectNoRawControls(top.stdout, "top --once")
            #expect(top.stdoutText.contains("owned"), "top --once should show the running job's name: \(top.stdoutText)")
            for result in [list, events, top] { expectNoRawControls(result.stderr, "stderr of \(result.command.suffix(2))") }

            // JSON carries the names exactly.
            let listed = try await site.vqueue(as: .web, ["list", "--json"])
            let jobs = try JSONDecoder.snakeCase.decode([JobStatus].self, from: listed.stdout)
            #expect(jobs.first { $0.id == failingID }?.input == failingInput.path)
            #expect(jobs.first { $0.id == failingID }?.output == failingOutput.path)
            #expect(jobs.first { $0.id == runningID }?.input == runningInput.path)
            let failed = try await site.status(failingID)
            #expect(failed.input == failingInput.path && failed.output == failingOutput.path, "\(failed)")
            let eventLines = try await site.vqueue(as: .web, ["events", "--json"])
            #expect(eventLines.stdoutLines.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) != nil },
                    "events --json: one JSON object a line: \(eventLines.stdoutText.debugDescription)")
            _ = try await site.vqueue(as: .web, ["cancel", String(runningID)])
            #expect(await worker.stop() == .exited(0), "\(worker.log)")
            expectNoRawControls(Data(worker.log.utf8), "the worker's log")
        }
    }

    /// In JSON a name that is not UTF-8 cannot be carried as bytes; it must be spelled the way
    /// `probe --json` spells it (`\xNN`, DisplayText.jsonSafe), never as U+FFFD and never as the
    /// private-use characters vqueue carries such bytes in internally (a path that names no file).
    @Test("a name that is not UTF-8 goes through submit, worker and output byte for byte", .timeLimit(.minutes(30)))
    func nonUTF8NamesAreKeptByteForByte() async throws {
        try await TwoUserSite.with { site in
            try await site.install(Media.upload, at: site.uploads.appendingPathComponent("plain.mp4"), owner: .web)
            // The names are made by printf in the web user's shell: \377\376 is 0xFF 0xFE, \351 Latin-1 é.
            try await site.mustShell(as: .web, #"cd "$1" && mv -- plain.mp4 "$(printf 'in-\377\376-caf\351.mp4')""#,
                                     [site.uploads.path])
            let submitted = try await site.mustShell(as: .web, #"""
                cd "$1" && exec "$2" submit -- "$(printf 'in-\377\376-caf\351.mp4')" "$3/$(printf 'out-\377\376-caf\351.mp4')"
                """#, [site.uploads.path, site.binary.path, site.video.path])
            let id = try #require(TestQueue.jobID(submitted), "\(submitted)")
            let (ended, log) = try await site.drain()
            expectDrained(ended, log)
            let job = try await site.status(id)
            #expect(job.state == "succeeded", "\(job)")
            #expect(!(job.error ?? "").contains("missing") && !log.contains("does not exist"), "\(job) \(log)")

            let inputName = Array("in-".utf8) + [0xff, 0xfe] + Array("-caf".utf8) + [0xe9] + Array(".mp4".utf8)
            let outputName = Array("out-".utf8) + [0xff, 0xfe] + Array("-caf".utf8) + [0xe9] + Array(".mp4".utf8)
            #expect(rawDirectoryListing(site.uploads) == [inputName], "uploads: \(rawDirectoryListing(site.uploads))")
            #expect(rawDirectoryListing(site.video) == [outputName],
                    "the output is not named byte for byte: \(rawDirectoryListing(site.video).map { $0.map { String(format: "%02x", $0) }.joined() })")
            let replacement: [UInt8] = [0xef, 0xbf, 0xbd]
            for name in rawDirectoryListing(site.uploads) + rawDirectoryListing(site.video) {
                #expect(!name.indices.contains { name[$0...].starts(with: replacement) }, "U+FFFD in a file name")
            }
            let outputPath = Array(site.video.path.utf8) + [UInt8(ascii: "/")] + outputName
            let published = try #require(fileStatus(outputPath), "no output at the exact bytes")
            #expect(isRegularFile(published) && published.st_uid == site.workerUID)
            // ffprobe through an ASCII hard link to it.
            let probeName = site.logs.appendingPathComponent("probe.mp4")
            let linked = (outputPath + [0]).withUnsafeBufferPointer { bytes in
                bytes.baseAddress!.withMemoryRebound(to: CChar.self, capacity: bytes.count) { link($0, probeName.path) }
            }
            try #require(linked == 0, "link: \(String(cString: strerror(errno)))")
            #expect(try await probeMedia(probeName).videoStreams.first?.width == 320)

            let status = try await site.vqueue(as: .web, ["status", String(id)])
            #expect(status.exitCode == 0, "\(status)")
            #expect(status.stdoutText.contains(#"\xFF\xFE"#) && !status.stdoutText.contains("\u{FFFD}"),
                    "status should show the bytes escaped: \(status.stdoutText.debugDescription)")
            let json = try await site.vqueue(as: .web, ["status", String(id), "--json"])
            #expect(!json.stdoutText.contains("\u{FFFD}"), "status --json replaced bytes with U+FFFD: \(json.stdoutText)")
            let decoded = try JobStatus.decode(json.stdout)
            #expect(decoded.input == site.uploads.path + #"/in-\xFF\xFE-caf\xE9.mp4"#,
                    "status --json should show the bytes as probe --json does (\\xNN): \(decoded.input.debugDescription)")
        }
    }

    @Test("an OUT name too long for the file system is refused at submit; one at the limit works",
          .timeLimit(.minutes(30)))
    func outputNameLengthIsCheckedAtSubmit() async throws {
        try await TwoUserSite.with { site in
            let input = site.uploads.appendingPathComponent("in.mp4")
            try await site.install(Media.upload, at: input, owner: .web)
            // Queue something first, so that "nothing queued" is a comparison with a real database.
            let firstID = try await site.mustSubmit(input, site.video.appendingPathComponent("first.mp4"))
            for name in [String(repeating: "x", count: 296) + ".mp4", String(repeating: "é", count: 148) + ".mp4"] {
                #expect(name.utf8.count == 300)
                let (id, result) = try await site.submit(input.path, site.video.appendingPathComponent(name).path)
                #expect(id == nil, "a 300-byte OUT name was queued as job \(id ?? 0)")
                #expect(result.exitCode == 1, "\(result)")
                #expect(result.stderrLines.count == 1 && result.stderrText.hasPrefix("vqueue: error: "), "\(result)")
                #expect(result.stderrText.contains("output_name") || result.stderrText.contains("300 bytes"),
                        "the refusal should say the name is too long: \(result.stderrText)")
            }
            let listed = try await site.vqueue(as: .web, ["list", "--json"])
            let jobs = try JSONDecoder.snakeCase.decode([JobStatus].self, from: listed.stdout)
            #expect(jobs.map(\.id) == [firstID], "only the first job may be queued: \(jobs.map(\.id))")

            // 255 bytes is allowed: the temporary name is cut to fit, and the job runs.
            let longest = String(repeating: "y", count: 251) + ".mp4"
            let longID = try await site.mustSubmit(input, site.video.appendingPathComponent(longest))
            let (ended, log) = try await site.drain()
            expectDrained(ended, log)
            #expect(try await site.status(longID).state == "succeeded")
            #expect(isRegularFile(fileStatus(site.video.appendingPathComponent(longest))))
        }
    }

    // MARK: 7. PostgreSQL passwords

    @Test("no message shows a PostgreSQL password, however it is written", .timeLimit(.minutes(30)))
    func postgresPasswordsNeverShown() async throws {
        try await TwoUserSite.with { site in
            try await ThrowawayPostgres.with { server in
                try await PostgresPasswordCheck(site: site, server: server).run()
            }
        }
    }
}

/// Test 7's work: a role with a password on a server of the test's own (password checked), URLs
/// and key=value strings that spell right and wrong passwords every way, and the commands run
/// with them, as the site's users.
private struct PostgresPasswordCheck {
    let site: TwoUserSite
    let server: ThrowawayPostgres

    /// A token that occurs nowhere else (no host, database or user name holds it).
    static func token() -> String { "Tk" + String(UUID().uuidString.filter(\.isHexDigit).prefix(10)) }

    var port: Int { Int(URLComponents(string: server.baseURL)?.port ?? 0) }

    /// Every way the password might appear: as written, percent-decoded, percent-encoded, and
    /// each run of 4 or more letters and digits in it (a password cut at a '/' or '@').
    static func spellings(_ password: String) -> Set<String> {
        var all: Set<String> = [password, password.removingPercentEncoding ?? password,
                                password.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? password,
                                password.addingPercentEncoding(withAllowedCharacters: .urlPasswordAllowed) ?? password]
        let decoded = password.removingPercentEncoding ?? password
        for text in [password, decoded] {
            for run in text.split(whereSeparator: { !($0.isLetter || $0.isNumber) }) where run.count >= 4 { all.insert(String(run)) }
        }
        return all
    }

    func run() async throws {
        let role = "vqpw\(site.tag)"
        let database = try await server.createDatabase("vqpw\(site.tag)")
        _ = database
        // The password the role really has: a '/', an '@', a '%' and a literal "%2F" in it.
        let password = "Sl/\(Self.token())@x%2F\(Self.token())"
        let sqlPassword = password.replacingOccurrences(of: "'", with: "''")
        let made = try await server.psql("postgres", ["-q", "-c", "CREATE ROLE \(role) LOGIN PASSWORD '\(sqlPassword)'",
                                                      "-c", "ALTER DATABASE vqpw\(site.tag) OWNER TO \(role)"])
        try #require(made.exitCode == 0, "\(made)")
        // Only this role must give its password (the test server trusts everyone else).
        let hba = server.directory.appendingPathComponent("data/pg_hba.conf")
        let rules = try String(contentsOf: hba, encoding: .utf8)
        try ("host all \(role) 0.0.0.0/0 scram-sha-256\n" + rules).write(to: hba, atomically: false, encoding: .utf8)
        let reloaded = try await server.psql("postgres", ["-q", "-c", "SELECT pg_reload_conf()"])
        try #require(reloaded.exitCode == 0, "\(reloaded)")
        try await Task.sleep(for: .milliseconds(300))

        let host = "127.0.0.1"
        let db = "vqpw\(site.tag)"
        let encoded = password.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let wrong = "Wr/\(Self.token())@y%2F\(Self.token())"
        let wrongEncoded = wrong.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let badEscape = "Bad%zz\(Self.token())"
        let spaced = "\(Self.token()) \(Self.token())"
        let closedPort = try #require(ThrowawayPostgres.freeLoopbackPort(), "no free port")

        // The right password, percent-encoded: the queue works, and says nothing of the password.
        let good = "postgres://\(role):\(encoded)@\(host):\(port)/\(db)"
        let input = site.uploads.appendingPathComponent("in.mp4")
        try await site.install(Locations.fixture("video_only.mp4"), at: input, owner: .web)
        site.queueLocation = good
        let submitted = try await site.vqueue(as: .web, ["submit", "--", input.path, site.video.appendingPathComponent("out.mp4").path])
        try #require(submitted.exitCode == 0, "the right password, percent-encoded, must work: \(submitted)")
        let id = try #require(TestQueue.jobID(submitted))
        let (ended, log) = try await site.drain()
        #expect(ended == .exited(0), "\(log)")
        let done = try await site.vqueue(as: .web, ["status", String(id)])
        #expect(done.exitCode == 0, "\(done)")
        let top = try await site.vqueue(as: .web, ["top", "--once"])
        let workers = try await site.vqueue(as: .web, ["workers", "--json"])
        expectNoPassword(password, in: [submitted.stdoutText, submitted.stderrText, log, done.stdoutText, done.stderrText,
                                        top.stdoutText, top.stderrText, workers.stdoutText, workers.stderrText], "the working queue")

        // Wrong, refused or unreachable: every command's message, and a worker's log.
        // What each is, the string, the password in it, and what the message must say (which shows
        // the server did check the password, or vqueue refused the string before libpq saw it).
        let refused = "percent-encode"
        let rejected = "password authentication failed"
        let unreachable = "refused"
        let cases: [(String, String, String, String)] = [
            ("'/' and '@' unencoded in the URL", "postgres://\(role):\(password)@\(host):\(port)/\(db)", password, refused),
            ("a wrong password, percent-encoded", "postgres://\(role):\(wrongEncoded)@\(host):\(port)/\(db)", wrong, rejected),
            ("a wrong password, '/' and '@' unencoded", "postgres://\(role):\(wrong)@\(host):\(port)/\(db)", wrong, refused),
            ("an invalid percent escape", "postgres://\(role):\(badEscape)@\(host):\(port)/\(db)", badEscape, "percent"),
            ("the right password, nobody listening", "postgres://\(role):\(encoded)@\(host):\(closedPort)/\(db)", password,
             unreachable),
            ("the right password unencoded, nobody listening", "postgres://\(role):\(password)@\(host):\(closedPort)/\(db)",
             password, refused),
            ("a wrong password in the URL's query", "postgres://\(role)@\(host):\(port)/\(db)?password=\(wrongEncoded)", wrong,
             rejected),
            ("a wrong password as key=value", "host=\(host) port=\(port) dbname=\(db) user=\(role) password='\(wrong)'", wrong,
             rejected),
            ("the right password as key=value, nobody listening",
             "host=\(host) port=\(closedPort) dbname=\(db) user=\(role) password='\(password)'", password, unreachable),
            // Mistakes libpq answers by quoting what it could not read.
            ("an invalid percent escape in the query's password", "postgres://\(role)@\(host):\(port)/\(db)?password=\(badEscape)",
             badEscape, "percent"),
            ("a key=value password with a space, unquoted", "host=\(host) port=\(port) dbname=\(db) user=\(role) password=\(spaced)",
             spaced, ""),
        ]
        for (what, location, secret, saying) in cases {
            site.queueLocation = location
            var texts: [String] = []
            for command in [["status", String(id)], ["submit", "--", input.path, site.video.appendingPathComponent("again.mp4").path],
                            ["list"], ["top", "--once"]] {
                let result = try await site.vqueue(as: .web, command, timeout: .seconds(40))
                #expect(result.exitCode == 75, "\(what): \(command[0]) should exit 75: \(result)")
                #expect(result.stderrLines.count == 1, "\(what): one error line: \(result)")
                #expect(saying.isEmpty || result.stderrText.contains(saying), "\(what): the message should say \(saying.debugDescription): \(result)")
                texts += [result.stdoutText, result.stderrText]
            }
            let worker = try site.startWorker([])
            let logged = await worker.line(within: .seconds(40)) { $0.contains("queue database") || $0.contains("error") }
            #expect(logged.map { saying.isEmpty || $0.contains(saying) } == true, "\(what): the worker should log why (\(saying)): \(worker.log)")
            worker.send(signal: SIGTERM)
            _ = await worker.wait(timeout: .seconds(30))
            texts.append(worker.log)
            expectNoPassword(secret, in: texts, what)
        }
        site.queueLocation = site.database.path
    }

    func expectNoPassword(_ password: String, in texts: [String], _ what: String,
                          sourceLocation: SourceLocation = #_sourceLocation) {
        let spellings = Self.spellings(password)
        for text in Set(texts) {
            let shown = spellings.filter { text.contains($0) }.sorted()
            if !shown.isEmpty {
                Issue.record("\(what): the password shows (as \(shown.map(\.debugDescription).joined(separator: ", "))) in: \(text)",
                             sourceLocation: sourceLocation)
            }
        }
    }
}
