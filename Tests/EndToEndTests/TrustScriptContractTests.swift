import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// What a script calling vqueue relies on (issue 10, "The script contract"): 75 and one plain line
/// when the queue database cannot be opened or reached (never 1, which means "the job failed"), a
/// usage error for `--db ""`, no folder made by a command that only reads, exactly one JSON
/// document from `--wait --json`, and no libav chatter on stderr.
@Suite("Trust: the script contract")
struct TrustScriptContractTests {
    /// Every command a script runs against a queue, with arguments that would work on a good one.
    static func everyCommand(input: URL, output: URL) -> [(name: String, arguments: [String])] {
        [("status", ["1"]), ("status", ["1", "--json"]), ("list", ["--json"]), ("events", []), ("workers", ["--json"]),
         ("cancel", ["1"]), ("retry", ["1"]), ("prune", ["--older-than", "7d"]), ("submit", ["--", input.path, output.path])]
    }

    /// A database that cannot be opened, as a script must see it: exit 75, nothing on stdout, one
    /// `vqueue: error:` line naming the database, without Swift's, Foundation's, GRDB's or libpq's
    /// own texts and without SQL.
    static func expectUnavailable(_ result: ProcessResult, naming database: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.exitCode == 75, "\(result)", sourceLocation: sourceLocation)
        #expect(result.stdout.isEmpty, "\(result)", sourceLocation: sourceLocation)
        #expect(result.stderrLines.count == 1, "one line: \(result)", sourceLocation: sourceLocation)
        let line = result.stderrLines.first ?? ""
        #expect(line.hasPrefix("vqueue: error: ") && line.contains(database), "\(line)", sourceLocation: sourceLocation)
        for leak in ["Error:", "NSCocoaErrorDomain", "NSError", "UserInfo", "PSQLError", "SELECT ", "INSERT ", "UPDATE ",
                     "CREATE ", "PRAGMA ", "DatabaseError", "SQLite error", "Fatal error", "\\n"] {
            #expect(!line.contains(leak), "'\(leak)' in \(line)", sourceLocation: sourceLocation)
        }
        expectNoControlCharacters(result.stderr, sourceLocation: sourceLocation)
    }

    @Test("every command on an SQLite queue it cannot read (another user's 0600 file) exits 75 with one line",
          .timeLimit(.minutes(30)))
    func unreadableDatabase() async throws {
        try await withTemporaryDirectory { directory in
            let queue = TestQueue(in: directory)
            _ = try await queue.submit(Locations.fixture("one_frame.mp4"), directory.appendingPathComponent("x.mp4"))
            chmod(queue.database.path, 0o600)
            let user = getuid() == 0 ? UnprivilegedUser.name : nil
            if user == nil { chmod(queue.database.path, 0o000) }
            // What the other user may read and write besides.
            let input = directory.appendingPathComponent("in.mp4")
            try FileManager.default.copyItem(at: Locations.fixture("one_frame.mp4"), to: input)
            chmod(input.path, 0o644)
            let outputs = directory.appendingPathComponent("public", isDirectory: true)
            try FileManager.default.createDirectory(at: outputs, withIntermediateDirectories: false)
            chmod(outputs.path, 0o777)
            chmod(directory.path, 0o755)

            for command in Self.everyCommand(input: input, output: outputs.appendingPathComponent("o.mp4")) + [("worker", ["--drain"])] {
                let result = try await runAs(user, [command.name, "--db", queue.database.path] + command.arguments, scratch: directory)
                Self.expectUnavailable(result, naming: queue.database.path)
            }
        }
    }

    @Test("every command on a file that is not an SQLite database, or a queue file with damaged pages, exits 75 with one line",
          .timeLimit(.minutes(30)))
    func corruptDatabase() async throws {
        try await withTemporaryDirectory { directory in
            let text = directory.appendingPathComponent("text.db")
            try Data(String(repeating: "this is not a database, just a text file\n", count: 200).utf8).write(to: text)
            // A real queue with 30 jobs, then every page after the first overwritten with garbage.
            let damaged = TestQueue(in: directory, named: "damaged.db")
            for index in 0..<30 {
                _ = try await damaged.submit(Locations.fixture("one_frame.mp4"), directory.appendingPathComponent("d\(index).mp4"))
            }
            for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: damaged.database.path + suffix) }
            var bytes = try Data(contentsOf: damaged.database)
            try #require(bytes.count > 8192, "\(bytes.count)")
            for offset in stride(from: 4096, to: bytes.count, by: 1) { bytes[offset] = UInt8(truncatingIfNeeded: offset &* 31 &+ 7) }
            try bytes.write(to: damaged.database)

            for database in [text, damaged.database] {
                for command in Self.everyCommand(input: Locations.fixture("one_frame.mp4"), output: directory.appendingPathComponent("o.mp4"))
                    + [("worker", ["--drain"])] {
                    let result = try await runQuick([command.name, "--db", database.path] + command.arguments, timeout: .seconds(60))
                    Self.expectUnavailable(result, naming: database.path)
                }
            }
        }
    }

    @Test("every command but worker on a stopped PostgreSQL server exits 75 with one line, at once",
          .timeLimit(.minutes(30)))
    func stoppedPostgres() async throws {
        try await withTemporaryDirectory { directory in
            try await ThrowawayPostgres.with { server in
                let url = try await server.createDatabase("contract")
                let queue = PostgresQueueClient(server: server, database: "contract", place: .here)
                _ = try await queue.submit(Locations.fixture("one_frame.mp4"), directory.appendingPathComponent("x.mp4"))
                try await server.stop()
                for command in Self.everyCommand(input: Locations.fixture("one_frame.mp4"), output: directory.appendingPathComponent("o.mp4")) {
                    let result = try await runQuick([command.name, "--db", url] + command.arguments, timeout: .seconds(60))
                    Self.expectUnavailable(result, naming: "127.0.0.1")
                    #expect(result.elapsed < .seconds(10), "a refused connection is known at once: \(result)")
                }
            }
        }
    }

    @Test("--db \"\" is a usage error (64) for every command, not the default queue", .timeLimit(.minutes(30)))
    func emptyDatabaseOption() async throws {
        try await withTemporaryDirectory { directory in
            let home = directory.appendingPathComponent("home", isDirectory: true)
            try FileManager.default.createDirectory(at: home, withIntermediateDirectories: false)
            for command in Self.everyCommand(input: Locations.fixture("one_frame.mp4"), output: directory.appendingPathComponent("o.mp4"))
                + [("worker", ["--drain"])] {
                let process = try startVqueue([command.name, "--db", ""] + command.arguments, environment: ["HOME": home.path])
                let result = await process.wait(timeout: .seconds(60))
                #expect(result.exitCode == 64, "\(command.name): \(result)")
                #expect(result.stdout.isEmpty && result.stderrText.contains("--db"), "\(command.name): \(result)")
            }
            #expect(directoryListing(home).isEmpty, "the default queue was used: \(directoryListing(home))")
        }
    }

    @Test("--db in a missing folder: every reading command exits 75 with one line and creates nothing; submit and worker create the folder",
          .timeLimit(.minutes(30)))
    func databaseInMissingFolder() async throws {
        try await withTemporaryDirectory { directory in
            let missing = directory.appendingPathComponent("missing/folder/q.db")
            for command in Self.everyCommand(input: Locations.fixture("one_frame.mp4"), output: directory.appendingPathComponent("o.mp4"))
                where command.name != "submit" {
                let result = try await runQuick([command.name, "--db", missing.path] + command.arguments, timeout: .seconds(60))
                Self.expectUnavailable(result, naming: missing.path)
                #expect(directoryListing(directory).isEmpty, "\(command.name) made \(directoryListing(directory))")
            }

            let submit = try await runQuick(["submit", "--db", missing.path, Locations.fixture("one_frame.mp4").path,
                                           directory.appendingPathComponent("o.mp4").path])
            #expect(submit.exitCode == 0 && TestQueue.jobID(submit) != nil && submit.stderr.isEmpty, "\(submit)")
            #expect(FileManager.default.fileExists(atPath: missing.path), "submit must create the folder and the queue")

            let elsewhere = directory.appendingPathComponent("other/folder/q.db")
            let worker = try await runQuick(["worker", "--db", elsewhere.path, "--drain"], timeout: .seconds(60))
            #expect(worker.exitCode == 0, "\(worker)")
            #expect(FileManager.default.fileExists(atPath: elsewhere.path), "worker must create the folder and the queue")
        }
    }

    @Test("submit --wait --json and status --wait --json print exactly one JSON document, the job as it ended (a success and a permanent failure with its error_code)",
          .timeLimit(.minutes(30)), arguments: TestQueue.Store.allCases)
    func waitJSONIsOneDocument(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let scene = try await QueueScene(in: directory, store: store)
            do {
                let worker = try scene.queue.startWorker(["--concurrency", "1"])
                defer { killIfRunning(worker) }

                let submitted = try await scene.queue.run("submit", ["--wait", "--json", Locations.fixture(Fixture.small).path,
                                                                      scene.output("ok.mp4").path], timeout: .seconds(300))
                #expect(submitted.exitCode == 0, "\(submitted)")
                _ = try Self.oneJSONObject(submitted)
                let ok = try? JobStatus.decode(submitted.stdout)
                #expect(ok?.state == "succeeded" && ok?.attempts == 1, "\(submitted)")
                #expect(ok?.error == nil && ok?.errorCode == nil, "\(submitted)")

                // A truncated upload passes submit's checks and fails in the worker, for good.
                let failing = try await scene.queue.submit(Locations.fixture("truncated_30pct.mp4"), scene.output("cut.mp4"))
                let waited = try await scene.queue.run("status", [String(failing), "--wait", "--json"], timeout: .seconds(300))
                #expect(waited.exitCode == 1, "\(waited)")
                _ = try Self.oneJSONObject(waited)
                let failed = try? JobStatus.decode(waited.stdout)
                #expect(failed?.state == "failed", "\(waited)")
                #expect(failed?.errorCode == "truncated", "\(waited)")
                #expect(failed?.attempts == 1, "a permanent failure is not retried: \(waited)")

                let line = try await scene.queue.run("status", [String(failing)])
                #expect(line.exitCode == 1 && line.stdoutLines.count == 1, "\(line)")
                #expect(line.stdoutText.contains("failed after 1 attempt (not retried: "), "reads as final: \(line)")

                // error_code in every JSON view of the failure.
                let listed = try await scene.queue.list().first { $0.id == failing }
                #expect(listed?.errorCode == "truncated", "\(String(describing: listed))")
                let event = try await scene.queue.events(["--job", String(failing)]).last
                #expect(event?.to == "failed" && event?.errorCode == "truncated", "\(String(describing: event))")
                let stopped = await stopWorker(worker)
                #expect(stopped.exitCode == 0, "\(stopped)")
            }
        }
    }

    /// A vqueue command that takes milliseconds, run without waiting for a process slot (the
    /// encoders of other tests hold those for minutes).
    func runQuick(_ arguments: [String], timeout: Duration = .seconds(60)) async throws -> ProcessResult {
        try await startVqueue(arguments).wait(timeout: timeout)
    }

    /// The whole of stdout parsed as one JSON object (nil, with an issue recorded, when it is not).
    static func oneJSONObject(_ result: ProcessResult, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any]? {
        let object = try? JSONSerialization.jsonObject(with: result.stdout) as? [String: Any]
        #expect(object != nil, "stdout is not exactly one JSON object: \(result)", sourceLocation: sourceLocation)
        return object
    }

    @Test("a batch submit of every transcodable fixture prints nothing on stderr (no libav lines); each refused fixture gets exactly one line",
          .timeLimit(.minutes(30)))
    func noLibavChatter() async throws {
        try await withTemporaryDirectory { directory in
            let queue = TestQueue(in: directory)
            let outputs = directory.appendingPathComponent("out", isDirectory: true)
            try FileManager.default.createDirectory(at: outputs, withIntermediateDirectories: false)
            let (_, jobs) = try await queue.submitBatchExpectingIDs(Fixture.transcodable.map(Locations.fixture), into: outputs)
            #expect(jobs.count == Fixture.transcodable.count)
            let refusedOnly = ["audio_only.m4a", "zero_bytes.mp4", "text_file.avi", "huge_dimensions.mp4", "huge_dimensions.h264"]
            for name in refusedOnly {
                let result = try await queue.run("submit", [Locations.fixture(name).path, outputs.appendingPathComponent("\(name).mp4").path])
                expectOneLineError(result, naming: name)
            }
        }
    }
}
