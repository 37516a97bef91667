import Foundation
import Testing

/// A worker given allowed folders touches nothing outside them, however a path gets there.
@Suite("worker --allow-dir: nothing read or written outside the allowed folders")
struct OperationsAllowDirTests {
    /// allowed/{in,out} with a clean input, and outside/ with a clean input and a file to protect.
    struct Layout {
        let root: URL
        var allowed: URL { root.appendingPathComponent("allowed", isDirectory: true) }
        var inbox: URL { allowed.appendingPathComponent("in", isDirectory: true) }
        var outbox: URL { allowed.appendingPathComponent("out", isDirectory: true) }
        var outside: URL { root.appendingPathComponent("outside", isDirectory: true) }
        var victim: URL { outside.appendingPathComponent("victim.mp4") }
        static let victimBytes = Data("precious, not a video".utf8)

        init(in root: URL) throws {
            self.root = root
            for folder in [inbox, outbox, outside] {
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            }
            try FileManager.default.copyItem(at: Locations.fixture("one_frame.mp4"), to: inbox.appendingPathComponent("clip.mp4"))
            try FileManager.default.copyItem(at: Locations.fixture("one_frame.mp4"), to: outside.appendingPathComponent("secret.mp4"))
            try Self.victimBytes.write(to: victim)
        }

        var outsideUntouched: Bool {
            directoryListing(outside) == ["secret.mp4", "victim.mp4"]
                && (try? Data(contentsOf: victim)) == Self.victimBytes
        }
    }

    /// Submits each case, runs one draining worker with `workerArguments`/`environment`, returns the
    /// jobs' final states.
    private func run(_ cases: [(input: String, output: String, options: [String])], queue: TestQueue,
                     workerArguments: [String], environment: [String: String] = [:]) async throws -> [JobStatus] {
        var ids: [Int64] = []
        for item in cases {
            ids.append(try await queue.submit(item.input, item.output, item.options))
        }
        let worker = try await withProcessSlot {
            let process = try startVqueue(queue.commandLine("worker", ["--drain"] + workerArguments),
                                          environment: queue.environment.merging(environment) { $1 })
            return await process.wait(timeout: .seconds(90))
        }
        #expect(worker.exitCode == 0, "\(worker)")
        var jobs: [JobStatus] = []
        for id in ids { jobs.append(try await queue.job(id)) }
        return jobs
    }

    @Test("inside succeeds; an input or output outside, a symlink out, `..` out and an output link out all fail",
          .timeLimit(.minutes(30)), arguments: TestQueue.Store.allCases)
    func refusesEveryWayOut(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let layout = try Layout(in: directory)
            let queue = try await TestQueue.make(in: directory, store: store)
            let link = layout.inbox.appendingPathComponent("innocent.mp4")
            try FileManager.default.createSymbolicLink(at: link, withDestinationURL: layout.outside.appendingPathComponent("secret.mp4"))
            let outputLink = layout.outbox.appendingPathComponent("link-out.mp4")
            try FileManager.default.createSymbolicLink(at: outputLink, withDestinationURL: layout.victim)
            let clip = layout.inbox.appendingPathComponent("clip.mp4").path
            let dotDot = layout.inbox.path + "/../../outside/secret.mp4"

            let cases: [(input: String, output: String, options: [String])] = [
                (clip, layout.outbox.appendingPathComponent("inside.mp4").path, []),
                (layout.outside.appendingPathComponent("secret.mp4").path, layout.outbox.appendingPathComponent("in-outside.mp4").path, []),
                (clip, layout.outside.appendingPathComponent("written-outside.mp4").path, []),
                (link.path, layout.outbox.appendingPathComponent("via-link.mp4").path, []),
                (dotDot, layout.outbox.appendingPathComponent("via-dotdot.mp4").path, []),
                (clip, layout.outbox.path + "/../../outside/dotdot-out.mp4", []),
                (clip, outputLink.path, ["--overwrite"]),
            ]
            let jobs = try await run(cases, queue: queue, workerArguments: ["--allow-dir", layout.allowed.path])

            #expect(jobs[0].state == "succeeded", "a job inside the allowed folder runs: \(jobs[0])")
            for job in jobs.dropFirst() {
                #expect(job.state == "failed", "must be refused: \(job)")
                #expect(job.attempts <= 1, "a refusal is permanent, not retried: \(job)")
                #expect(job.error?.contains("allowed folders") == true, "the error says why: \(job)")
            }
            #expect(jobs[1].error?.contains(layout.allowed.path) == true, "the error names the allowed folders: \(jobs[1])")
            #expect(layout.outsideUntouched, "outside/: \(directoryListing(layout.outside))")
            #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: outputLink.path)) == layout.victim.path,
                    "the output link is left as it was")
            #expect(directoryListing(layout.outbox) == ["inside.mp4", "link-out.mp4"], "\(directoryListing(layout.outbox))")
        }
    }

    @Test("VQUEUE_ALLOW_DIRS (colon-separated) works as --allow-dir does", .timeLimit(.minutes(30)),
          arguments: TestQueue.Store.allCases)
    func environmentVariable(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let layout = try Layout(in: directory)
            let queue = try await TestQueue.make(in: directory, store: store)
            let elsewhere = directory.appendingPathComponent("elsewhere", isDirectory: true)
            try FileManager.default.createDirectory(at: elsewhere, withIntermediateDirectories: false)
            let cases: [(input: String, output: String, options: [String])] = [
                (layout.inbox.appendingPathComponent("clip.mp4").path, elsewhere.appendingPathComponent("ok.mp4").path, []),
                (layout.outside.appendingPathComponent("secret.mp4").path, elsewhere.appendingPathComponent("no.mp4").path, []),
            ]
            let jobs = try await run(cases, queue: queue, workerArguments: [],
                                     environment: ["VQUEUE_ALLOW_DIRS": "\(layout.allowed.path):\(elsewhere.path)"])
            #expect(jobs[0].state == "succeeded", "\(jobs[0])")
            #expect(jobs[1].state == "failed" && jobs[1].error?.contains("allowed folders") == true, "\(jobs[1])")
            #expect(directoryListing(elsewhere) == ["ok.mp4"], "\(directoryListing(elsewhere))")
            #expect(layout.outsideUntouched)
        }
    }
}

/// `prune` deletes old finished jobs and their events, and nothing else.
/// One test case at a time: each store's cases would otherwise all drain a worker in the busy first
/// minute of the run, together.
@Suite("prune: finished jobs older than the age, and their events; never queued ones", .serialized)
struct OperationsPruneTests {
    /// A succeeded, a failed and a cancelled job, finished over a second ago, then one queued now.
    private func agedQueue(in directory: URL, store: TestQueue.Store) async throws
        -> (TestQueue, succeeded: Int64, failed: Int64, cancelled: Int64, queued: Int64) {
        let queue = try await TestQueue.make(in: directory, store: store)
        let succeeded = try await queue.submit(Locations.fixture("one_frame.mp4"), directory.appendingPathComponent("ok.mp4"))
        let failed = try await queue.submit(Locations.fixture("truncated_30pct.mp4"), directory.appendingPathComponent("bad.mp4"))
        let cancelled = try await queue.submit(Locations.fixture("rotated_90.mp4"), directory.appendingPathComponent("no.mp4"))
        let cancel = try await queue.run("cancel", [String(cancelled)])
        try #require(cancel.exitCode == 0, "\(cancel)")
        let worker = try await vqueue(queue.commandLine("worker", ["--drain"]))
        try #require(worker.exitCode == 0, "\(worker)")
        try await Task.sleep(for: .milliseconds(1300))
        let queued = try await queue.submit(Locations.fixture("one_frame.mp4"), directory.appendingPathComponent("later.mp4"))
        return (queue, succeeded, failed, cancelled, queued)
    }

    @Test("--older-than 1s deletes succeeded, failed and cancelled jobs with their events and prints the count",
          .timeLimit(.minutes(30)), arguments: TestQueue.Store.allCases)
    func pruneFinished(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let (queue, succeeded, failed, cancelled, queued) = try await agedQueue(in: directory, store: store)
            let result = try await queue.run("prune", ["--older-than", "1s"])
            #expect(result.exitCode == 0 && result.stderr.isEmpty, "\(result)")
            #expect(result.stdoutLines == ["3"], "prints how many jobs went: \(result)")

            #expect(try await queue.list().map(\.id) == [queued], "only the queued job is left")
            for id in [succeeded, failed, cancelled] {
                let gone = try await queue.run("status", [String(id)])
                #expect(gone.exitCode == 4, "\(gone)")
                #expect(try await queue.events(["--job", String(id)]).isEmpty, "job \(id)'s events must go too")
            }
            #expect(try await queue.events(["--job", String(queued)]).map(\.to) == ["queued"])

            let again = try await queue.run("prune", ["--older-than", "1s"])
            #expect(again.exitCode == 0 && again.stdoutLines == ["0"], "\(again)")
            #expect(try await queue.job(queued).state == "queued")
        }
    }

    @Test("--state succeeded deletes only the succeeded ones", .timeLimit(.minutes(30)),
          arguments: TestQueue.Store.allCases)
    func pruneOneState(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let (queue, succeeded, failed, cancelled, queued) = try await agedQueue(in: directory, store: store)
            let result = try await queue.run("prune", ["--older-than", "1s", "--state", "succeeded"])
            #expect(result.exitCode == 0 && result.stdoutLines == ["1"], "\(result)")
            #expect(Set(try await queue.list().map(\.id)) == [failed, cancelled, queued])
            #expect(try await queue.events(["--job", String(succeeded)]).isEmpty)
            #expect(try await queue.events(["--job", String(failed)]).map(\.to) == ["queued", "running", "failed"])
        }
    }

    @Test("--older-than longer than the jobs' age deletes nothing; queued or running cannot be asked for",
          arguments: TestQueue.Store.allCases)
    func pruneNothingYoung(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let queue = try await TestQueue.make(in: directory, store: store)
            _ = try await queue.submit(Locations.fixture("one_frame.mp4"), directory.appendingPathComponent("ok.mp4"))
            let worker = try await vqueue(queue.commandLine("worker", ["--drain"]))
            try #require(worker.exitCode == 0, "\(worker)")
            let young = try await queue.run("prune", ["--older-than", "1h"])
            #expect(young.exitCode == 0 && young.stdoutLines == ["0"], "\(young)")
            #expect(try await queue.list().count == 1)
            let refused = try await queue.run("prune", ["--older-than", "1s", "--state", "queued"])
            #expect(refused.exitCode == 64 && refused.stdout.isEmpty, "\(refused)")
        }
    }
}
