import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A box whose shared folder is missing (an NFS mount gone, a wrong `--path-map`): it used to
/// claim job after job and fail each for good ("input missing"), one bad box failing the whole
/// queue. Issue 10: the job goes back without spending an attempt, the worker shows itself
/// `unhealthy` with the reason (workers --json, events, its log) and resumes by itself.
@Suite("Trust: a worker whose shared folder is missing")
struct TrustLostMountTests {
    /// How long the test watches a sick worker leave the job alone.
    static let watch = Duration.seconds(6)

    /// A job submitted as `submitted/in/clip.mp4 -> submitted/out/clip.mp4`, the folder then gone
    /// from this box (moved to `away/`); `workerArguments` run a worker that needs `missing`; `heal`
    /// brings it back; `expectedClaims` is how often the job may be claimed while it is missing.
    private func rideOutLostFolder(_ store: TestQueue.Store, in directory: URL, workerArguments: [String],
                                   missing: URL, heal: () throws -> Void, published: URL,
                                   expectedClaims: ClosedRange<Int> = 0...0,
                                   sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let queue = try await TestQueue.make(in: directory, store: store)
        let submitted = directory.appendingPathComponent("submitted", isDirectory: true)
        try FileManager.default.createDirectory(at: submitted.appendingPathComponent("out"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: submitted.appendingPathComponent("in"), withIntermediateDirectories: true)
        let input = submitted.appendingPathComponent("in/clip.mp4")
        try FileManager.default.copyItem(at: Locations.fixture(Fixture.small), to: input)
        let id = try await queue.submit(input, submitted.appendingPathComponent("out/clip.mp4"))
        // The folder leaves this box (the worker's box sees it elsewhere, or not at all).
        let away = directory.appendingPathComponent("away", isDirectory: true)
        try FileManager.default.moveItem(at: submitted, to: away)

        do {
            let worker = try queue.startLoggedWorker(["--lease", "3s", "--concurrency", "1"] + workerArguments,
                                                     logFile: directory.appendingPathComponent("worker.log"))
            defer { worker.send(signal: SIGKILL) }

            // Unhealthy, with the reason naming the folder, in `workers --json`.
            var seen: FarmWorker?
            let unhealthy = try await eventually(within: .seconds(30)) {
                seen = try await queue.workers().first { $0.pid == Int(worker.pid) }
                return seen?.state == "unhealthy"
            }
            #expect(unhealthy, "the worker never showed itself unhealthy: \(String(describing: seen)); log: \(worker.log)",
                    sourceLocation: sourceLocation)
            #expect(seen?.reason?.contains(missing.path) == true, "the reason must name \(missing.path): \(String(describing: seen))",
                    sourceLocation: sourceLocation)

            // The job waits, its attempts unspent, and is not claimed over and over meanwhile.
            try await Task.sleep(for: Self.watch)
            let waiting = try await queue.job(id)
            #expect(waiting.state == "queued" && waiting.attempts == 0, "the job must wait unspent: \(waiting)",
                    sourceLocation: sourceLocation)
            let claims = try await queue.events(["--job", String(id)]).filter { $0.to == "running" }.count
            #expect(expectedClaims.contains(claims), "claimed \(claims) times while the folder was missing; log: \(worker.log)",
                    sourceLocation: sourceLocation)
            #expect(try await queue.workers().first { $0.pid == Int(worker.pid) }?.state == "unhealthy",
                    "still unhealthy while the folder is missing", sourceLocation: sourceLocation)
            let workerEvents = try await queue.events().filter { $0.kind == "worker" && $0.worker == seen?.id }
            let sick = workerEvents.first { $0.to == "unhealthy" }
            #expect(sick?.detail?.contains(missing.path) == true, "an unhealthy event naming the folder: \(workerEvents)",
                    sourceLocation: sourceLocation)
            #expect(worker.logLines.contains { $0.contains("unhealthy") && $0.contains(missing.path) },
                    "the log must say why: \(worker.log)", sourceLocation: sourceLocation)

            // The folder is back: alive again by itself, and the job succeeds on its first attempt.
            try heal()
            let job = try await queue.waitForJob(id, timeout: .seconds(300)) { ["succeeded", "failed", "cancelled"].contains($0.state) }
            #expect(job.state == "succeeded" && job.attempts == 1, "\(job); log: \(worker.log)", sourceLocation: sourceLocation)
            let healthy = try await queue.workers().first { $0.pid == Int(worker.pid) }
            #expect(healthy?.state == "alive" && healthy?.reason == nil, "\(String(describing: healthy))", sourceLocation: sourceLocation)
            let later = try await queue.events().filter { $0.kind == "worker" && $0.worker == seen?.id }.map(\.to)
            #expect(later.contains("healthy"), "a healthy event once it resumed: \(later)", sourceLocation: sourceLocation)
            #expect(worker.logLines.contains { $0.contains("healthy again") }, "\(worker.log)", sourceLocation: sourceLocation)
            let stop = await worker.stop()
            #expect(stop == .exited(0), "\(stop); log: \(worker.log)", sourceLocation: sourceLocation)
        }
        let info = try await probeMedia(published)
        #expect(info.videoStreams.first?.codecName == "h264" && info.audioStreams.first?.codecName == "aac", "\(info)",
                sourceLocation: sourceLocation)
    }

    @Test("--path-map to a folder missing on this box: the job stays queued unspent, the worker is unhealthy naming it (workers --json, events, log); once the folder is there it resumes by itself and the job succeeds on its first attempt",
          .timeLimit(.minutes(30)), arguments: TestQueue.Store.allCases)
    func pathMapTargetMissing(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let submitted = directory.appendingPathComponent("submitted", isDirectory: true)
            let mounted = directory.appendingPathComponent("mounted", isDirectory: true)
            try await rideOutLostFolder(store, in: directory,
                                        workerArguments: ["--path-map", "\(submitted.path)=\(mounted.path)"],
                                        missing: mounted,
                                        heal: { try FileManager.default.moveItem(at: directory.appendingPathComponent("away"), to: mounted) },
                                        published: mounted.appendingPathComponent("out/clip.mp4"))
        }
    }

    @Test("--allow-dir naming a folder missing on this box: the job stays queued unspent, the worker is unhealthy naming it; once the folder is back it resumes by itself and the job succeeds on its first attempt",
          .timeLimit(.minutes(30)), arguments: TestQueue.Store.allCases)
    func allowedFolderMissing(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let submitted = directory.appendingPathComponent("submitted", isDirectory: true)
            try await rideOutLostFolder(store, in: directory,
                                        workerArguments: ["--allow-dir", submitted.path],
                                        missing: submitted,
                                        heal: { try FileManager.default.moveItem(at: directory.appendingPathComponent("away"), to: submitted) },
                                        published: submitted.appendingPathComponent("out/clip.mp4"))
        }
    }

    @Test("a job whose folders are missing on this box (no --allow-dir or --path-map): put back unspent, the worker unhealthy naming the folder and not claiming it again until it is back; then it succeeds on its first attempt",
          .timeLimit(.minutes(30)), arguments: TestQueue.Store.allCases)
    func jobFolderMissing(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let submitted = directory.appendingPathComponent("submitted", isDirectory: true)
            // The worker can only learn of the missing folder by trying the job: one claim, put back.
            try await rideOutLostFolder(store, in: directory, workerArguments: [],
                                        missing: submitted,
                                        heal: { try FileManager.default.moveItem(at: directory.appendingPathComponent("away"), to: submitted) },
                                        published: submitted.appendingPathComponent("out/clip.mp4"),
                                        expectedClaims: 1...1)
        }
    }
}
