import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Several boxes sharing one PostgreSQL queue, each box a Linux network namespace of its own: jobs
/// spread over the boxes and each runs once; a box cut off the network loses its job to another
/// and its late result is thrown away; a box whose clock is an hour off neither steals a live job
/// nor keeps a dead one. Needs root (network namespaces); CI runs as root.
@Suite("Boxes in network namespaces", .serialized)
struct MultiHostTests {
    /// `--threads 1` and x264's medium preset make a job of several seconds from the 10 s sample.
    static let slowJob = ["--threads", "1", "--x264-preset", "medium"]

    @Test("nine jobs, three boxes: every job succeeds exactly once and every box runs some",
          .timeLimit(.minutes(30)))
    func jobsSpreadOverBoxes() async throws {
        try await withTemporaryDirectory { directory in
            try await Farm.with(boxes: ["a", "b", "c"], in: directory) { farm in
                try await spreadOverBoxes(farm)
            }
        }
    }

    private func spreadOverBoxes(_ farm: Farm) async throws {
        let outputs = try farm.outputFolder()
        let workers = try ["a", "b", "c"].map { try farm.startWorker(on: $0) }
        try await farm.waitUntilAlive(workers)

        let spaces = workers.map { networkNamespace(of: $0.pid) }
        #expect(Set(spaces).count == 3 && !spaces.contains(networkNamespace(of: getpid())),
                "each worker must run in a network namespace of its own: \(spaces)")
        let clients = try await farm.queue.query("""
            SELECT DISTINCT host(client_addr) FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid()
            """)
        #expect(Set(clients).isSuperset(of: ["a", "b", "c"].map { farm.box($0).address }),
                "the workers must reach the server from their boxes' addresses: \(clients)")

        let inputs = ["old_camera.avi", "h264_aac_1080p.mp4", "vp9_opus.webm", "rotated_90.mp4", "video_only.mp4",
                      "surround_51.mkv", "vfr.mkv", "tenbit_420.mkv", "two_audio.mkv"].map(Locations.fixture)
        let submit = try await farm.queue.run("submit", ["--out-dir", outputs.path, "--format", "mp4", "--threads", "1",
                                                         "--"] + inputs.map(\.path))
        try #require(submit.exitCode == 0, "batch submit failed: \(submit)")
        let ids = submit.stdoutLines.compactMap { Int64($0) }
        try #require(ids.count == inputs.count + 1, "the batch id, then one job id per input: \(submit)")
        let jobs = Array(ids.dropFirst())

        let wait = try await farm.queue.run("status", ["--batch", String(ids[0]), "--wait", "--timeout", "90s"],
                                            timeout: .seconds(120))
        #expect(wait.exitCode == 0, "every job must succeed: \(wait); logs: \(workers.map(\.log))")

        let counts = try await farm.queue.query("""
            SELECT job_id, count(*) FILTER (WHERE to_state = 'running'), count(*) FILTER (WHERE to_state = 'succeeded')
            FROM events WHERE kind = 'job' GROUP BY job_id ORDER BY job_id
            """)
        #expect(counts == jobs.sorted().map { "\($0)|1|1" }, "each job must run once and succeed once (id|runs|successes): \(counts)")
        var runners: [pid_t: Int] = [:]
        for id in jobs {
            let job = try await farm.queue.job(id)
            #expect(job.state == "succeeded" && job.attempts == 1, "\(job)")
            if let pid = job.workerPID { runners[pid, default: 0] += 1 }
        }
        for (box, worker) in zip(["a", "b", "c"], workers) {
            #expect(runners[worker.pid, default: 0] > 0,
                    "box \(box) (worker pid \(worker.pid)) ran none of the jobs: \(runners)")
        }

        for input in inputs {
            let output = outputs.appendingPathComponent(input.deletingPathExtension().lastPathComponent + ".mp4")
            let video = try await probeMedia(output).videoStreams.first
            #expect(video?.codecName == "h264", "\(output.lastPathComponent): \(String(describing: video))")
        }
        #expect(temporaryFiles(in: outputs).isEmpty, "\(directoryListing(outputs))")
        for worker in workers {
            let exit = await worker.stop()
            #expect(exit == .exited(0), "SIGTERM: \(exit); log: \(worker.log)")
            #expect(!worker.log.contains("vqueue: error:"), "\(worker.log)")
        }
    }

    @Test("a split job on three boxes: its chunks are taken by every box, each once, and joined into one correct file",
          .timeLimit(.minutes(30)))
    func splitJobOverBoxes() async throws {
        try await withTemporaryDirectory { directory in
            try await Farm.with(boxes: ["a", "b", "c"], in: directory) { farm in
                try await splitOverBoxes(farm, input: makeLongSample(in: directory, seconds: 24, size: "320x240"))
            }
        }
    }

    private func splitOverBoxes(_ farm: Farm, input: URL) async throws {
        let outputs = try farm.outputFolder()
        let output = outputs.appendingPathComponent("long.mp4")
        let workers = try ["a", "b", "c"].map { try farm.startWorker(on: $0) }
        try await farm.waitUntilAlive(workers)
        // Twelve chunks of 2 s, each a few seconds' work with one thread and the medium preset.
        let whole = try await farm.queue.submit(input, output, Self.slowJob + ["--split", "--chunk", "2s"])
        let wait = try await farm.queue.run("status", [String(whole), "--wait", "--timeout", "240s"], timeout: .seconds(260))
        #expect(wait.exitCode == 0, "the split job must succeed: \(wait); logs: \(workers.map(\.log))")

        let parts = try await farm.queue.query("SELECT id FROM jobs WHERE parent_id = \(whole) ORDER BY id").compactMap { Int64($0) }
        #expect(parts.count == 13, "twelve chunks and the audio: \(parts)")
        let counts = try await farm.queue.query("""
            SELECT job_id, count(*) FILTER (WHERE to_state = 'running'), count(*) FILTER (WHERE to_state = 'succeeded')
            FROM events WHERE kind = 'job' GROUP BY job_id ORDER BY job_id
            """)
        #expect(counts == ([whole] + parts).sorted().map { "\($0)|1|1" },
                "the whole and each part run once and succeed once (id|runs|successes): \(counts)")
        var runners: [pid_t: Int] = [:]
        for id in parts {
            if let pid = try await farm.queue.job(id).workerPID { runners[pid, default: 0] += 1 }
        }
        for (box, worker) in zip(["a", "b", "c"], workers) {
            #expect(runners[worker.pid, default: 0] > 0, "box \(box) (worker pid \(worker.pid)) took none of the parts: \(runners)")
        }

        let media = try await probeMedia(output)
        #expect(media.videoStreams.first?.codecName == "h264" && media.audioStreams.first?.codecName == "aac", "\(media)")
        #expect(try await decodedVideoFrameCount(output) == 24 * 25, "every source picture, once")
        #expect(try await decodeComplaints(output).isEmpty)
        #expect(directoryListing(outputs) == ["long.mp4"], "no chunk, work folder or temporary file is left: \(directoryListing(outputs))")
        for worker in workers {
            let exit = await worker.stop()
            #expect(exit == .exited(0), "SIGTERM: \(exit); log: \(worker.log)")
            #expect(!worker.log.contains("vqueue: error:"), "\(worker.log)")
        }
    }

    @Test("""
          a box cut off the network mid-job: another box rescues the job once the lease has run out; \
          the cut-off box's late result is thrown away and the box carries on when the link is back
          """, .timeLimit(.minutes(30)))
    func boxCutOff() async throws {
        try await withTemporaryDirectory { directory in
            let input = try await makeLongSample(in: directory, seconds: 10)
            try await Farm.with(boxes: ["a", "b"], in: directory) { farm in
                try await cutOff(farm, input: input)
            }
        }
    }

    private func cutOff(_ farm: Farm, input: URL) async throws {
        let outputs = try farm.outputFolder()
        let output = outputs.appendingPathComponent("long.mp4")
        let a = try farm.startWorker(on: "a")
        try await farm.waitUntilAlive([a])
        let id = try await farm.queue.submit(input, output, Self.slowJob)
        let child = try await farm.caughtEncoding(id, attempt: 1, output: output, on: a)

        try await farm.cut("a")
        let cutAt = ContinuousClock.now
        #expect(ProcessTable.isAlive(child), "the job had finished before the cut")
        // A's child keeps encoding offline; its result then waits for the database.
        let childDone = await eventually(within: .seconds(60)) { !ProcessTable.isAlive(child) }
        try #require(childDone, "box a's child \(child) never finished")
        #expect(a.isRunning, "box a's worker died when its link went: \(a.log)")
        #expect(temporaryOutput(for: output, job: id, attempt: 1) != nil,
                "box a's finished attempt must wait in its temporary file: \(directoryListing(outputs))")

        let b = try farm.startWorker(on: "b")
        let job = try await farm.queue.finished(id)
        #expect(job.state == "succeeded", "\(job); b: \(b.log)")
        #expect(job.attempts == 2, "box a's attempt and box b's: \(job)")
        #expect(job.workerPID == b.pid, "box b must have finished the job: \(job)")
        #expect(try await farm.queue.stateHistory(id) == ["queued", "running", "queued", "running", "succeeded"])
        #expect(try await farm.queue.successCount(id) == 1)
        let rescue = try await farm.queue.query(
            "SELECT detail FROM events WHERE job_id = \(id) AND from_state = 'running' AND to_state = 'queued'")
        #expect(rescue.count == 1 && rescue.allSatisfy { $0.contains(":\(a.pid):") && $0.contains("stopped renewing its lease") },
                "the job must go back to the queue because box a's lease ran out: \(rescue)")
        #expect(directoryListing(outputs) == ["long.mp4"], "OUT and no temporary file: \(directoryListing(outputs))")
        try await expectWebProfile(output, from: input)
        let result = try fileIdentity(output)

        // Box a has been cut off for a while now: it must have noticed.
        let lost = await a.line(within: .seconds(20) - cutAt.duration(to: .now)) {
            $0.contains("cannot reach the queue database")
        }
        #expect(lost != nil, "box a's worker must say it cannot reach the database: \(a.log)")

        try await farm.reconnect("a")
        let reconnectedAt = ContinuousClock.now
        let rejected = await a.line(within: .seconds(90)) {
            $0.contains("job \(id) ") && ($0.contains("result discarded") || $0.contains("lease lost"))
        }
        #expect(rejected != nil, "box a's late result must be rejected: \(a.log)")
        let settled = reconnectedAt.duration(to: .now)
        #expect(settled < .seconds(20), "box a took \(settled) after its link came back to settle its job: \(a.log)")
        let back = await a.line(within: .seconds(5)) { $0.contains("the queue database is back after") }
        #expect(back != nil, "box a's worker must say the database is back: \(a.log)")
        #expect(!a.logLines.contains { $0.contains("job \(id) succeeded") },
                "box a's log must not say job \(id) succeeded there: \(a.log)")

        #expect(a.isRunning, "box a's worker died: \(a.log)")
        #expect(directoryListing(outputs) == ["long.mp4"], "no temporary file left: \(directoryListing(outputs))")
        #expect(try fileIdentity(output) == result, "OUT must still be box b's file")
        let aIsAlive = await eventually(within: .seconds(5)) {
            (try? await farm.queue.workers().first { $0.pid == Int(a.pid) }?.state) == "alive"
        }
        let listed = try await farm.queue.workers().first { $0.pid == Int(a.pid) }
        #expect(aIsAlive, "box a heartbeats again, so `vqueue workers` must show it alive: \(String(describing: listed))")

        for worker in [a, b] {
            let exit = await worker.stop()
            #expect(exit == .exited(0), "SIGTERM: \(exit); log: \(worker.log)")
        }
    }

    @Test("a box whose clock is an hour ahead neither steals a live job nor keeps one after it dies",
          .timeLimit(.minutes(30)))
    func clockSkew() async throws {
        let libfaketime = try #require(Self.libfaketime,
                                       "libfaketime not found (/usr/lib/*/faketime/libfaketime.so.1): apt-get install faketime")
        // The box's wall clock an hour ahead. Its monotonic clock stays true, as on a real box with a
        // wrong clock (only wall clocks are compared between boxes); faking it too would stall every
        // timer in the process (Dispatch arms timerfds with absolute monotonic deadlines).
        let skewed = ["LD_PRELOAD": libfaketime, "FAKETIME": "+1h", "FAKETIME_DONT_FAKE_MONOTONIC": "1"]
        try await withTemporaryDirectory { directory in
            // The first job must outlast box c's start by more than the lease however fast this
            // machine is (a 10 s sample, idle, ended 1.5 s after c came up); the second is short,
            // so that its rescue finishes in time however loaded it is.
            let long = try await makeLongSample(in: directory, named: "thirty.mp4", seconds: 30)
            let input = try await makeLongSample(in: directory, seconds: 10)
            try await Farm.with(boxes: ["b", "c"], in: directory) { farm in
                try await skewedBox(farm, long: long, input: input, skewed: skewed)
            }
        }
    }

    private func skewedBox(_ farm: Farm, long: URL, input: URL, skewed: [String: String]) async throws {
        let outputs = try farm.outputFolder()

        // 1. Box b runs a job; box c, an hour ahead, runs alongside for longer than the lease.
        let b = try farm.startWorker(on: "b")
        try await farm.waitUntilAlive([b])
        let first = outputs.appendingPathComponent("first.mp4")
        let firstID = try await farm.queue.submit(long, first, Self.slowJob)
        _ = try await farm.caughtEncoding(firstID, attempt: 1, output: first, on: b)
        let c = try farm.startWorker(on: "c", environment: skewed)
        // A generous wait: in a loaded run (two busy loops, a prune of 100,000 jobs beside it) box c's
        // debug binary once printed nothing for 20 s. What it was doing is in the message if it recurs.
        let started = try #require(await c.line(within: .seconds(60)) { $0.contains(" started: ") },
                                   "box c's worker never started: running \(c.isRunning), \(ProcessTable.describe(c.pid)); log: \(c.log)")
        let skew = try #require(logLineTime(started), "no time on \(started)").timeIntervalSinceNow
        try #require(abs(skew - 3600) < 120,
                     "box c's clock must be an hour ahead (its log's times show it): \(Int(skew)) s off; \(c.log)")
        try await farm.waitUntilAlive([c])
        let cListed = try await farm.queue.workers().first { $0.pid == Int(c.pid) }
        #expect(cListed.map { (0...3).contains($0.heartbeatAge) } == true,
                "box c's heartbeat must be on the server's clock: \(String(describing: cListed))")

        let firstJob = try await farm.queue.finished(firstID)
        #expect(firstJob.state == "succeeded", "\(firstJob)")
        #expect(firstJob.attempts == 1, "box c must not have taken the job over: \(firstJob); c: \(c.log)")
        #expect(firstJob.workerPID == b.pid, "\(firstJob)")
        #expect(try await farm.queue.stateHistory(firstID) == ["queued", "running", "succeeded"])
        #expect(!c.logLines.contains { $0.contains("job \(firstID) ") || $0.contains(" is gone") },
                "box c must neither touch the job nor find box b gone: \(c.log)")
        let overlap = try await farm.secondsBetween(
            "SELECT at FROM events WHERE kind = 'worker' AND to_state = 'online' AND detail LIKE 'pid \(c.pid) %'",
            "SELECT at FROM events WHERE job_id = \(firstID) AND to_state = 'succeeded'")
        try #require(overlap > 2.5, "box c ran beside the job for only \(overlap) s, not more than the 2 s lease: proves nothing")

        // 2. Box c takes a job and dies: box b (started again) rescues it once c's lease has
        //    run out by the server's clock: not before, and not an hour later.
        let stopped = await b.stop()
        #expect(stopped == .exited(0), "\(b.log)")
        let second = outputs.appendingPathComponent("second.mp4")
        let secondID = try await farm.queue.submit(input, second, Self.slowJob)
        let child = try await farm.caughtEncoding(secondID, attempt: 1, output: second, on: c)
        c.send(signal: SIGKILL)
        let killed = await c.wait(timeout: .seconds(10))
        #expect(killed == .signaled(SIGKILL), "\(killed)")
        let childGone = await eventually(within: .seconds(3)) { !ProcessTable.isAlive(child) }
        #expect(childGone, "box c's child \(child) outlived its worker")
        let b2 = try farm.startWorker(on: "b")
        let secondJob = try await farm.queue.finished(secondID, timeout: .seconds(60))
        #expect(secondJob.state == "succeeded", "\(secondJob); b: \(b2.log)")
        #expect(secondJob.attempts == 2, "\(secondJob)")
        #expect(secondJob.workerPID == b2.pid, "\(secondJob)")
        #expect(try await farm.queue.stateHistory(secondID) == ["queued", "running", "queued", "running", "succeeded"])
        let held = try await farm.secondsBetween(
            "SELECT heartbeat_at FROM workers WHERE pid = \(c.pid)",
            "SELECT at FROM events WHERE job_id = \(secondID) AND from_state = 'running' AND to_state = 'queued'")
        #expect(held >= 1.9 && held < 8,
                "box c's job must go back to the queue about one 2 s lease after its last heartbeat, not \(held) s")

        try await expectWebProfile(first, from: long)
        try await expectWebProfile(second, from: input)
        #expect(directoryListing(outputs) == ["first.mp4", "second.mp4"], "\(directoryListing(outputs))")
        let exit = await b2.stop()
        #expect(exit == .exited(0), "SIGTERM: \(exit); log: \(b2.log)")
    }

    /// libfaketime's preload library (Debian package faketime), wherever the architecture puts it.
    static let libfaketime: String? = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib")) ?? [])
        .map { "/usr/lib/\($0)/faketime/libfaketime.so.1" }
        .first { FileManager.default.fileExists(atPath: $0) }
}

/// The boxes of one multi-host test. Each box is a network namespace of its own with one veth
/// (`eth0`, 10.77.0.1N/24) into a bridge in the database box's namespace (10.77.0.1/24), where a
/// throw-away PostgreSQL listens on 10.77.0.1:5432. The addresses exist only inside these
/// namespaces, so runs side by side never meet, and nothing outside the machine is addressed.
/// Jobs are submitted and the database is read from the database box (the web site's box, say).
final class Farm: @unchecked Sendable {
    struct Box: Sendable {
        let name: String
        let place: NetworkPlace
        let address: String
    }

    let directory: URL
    let queue: PostgresQueueClient
    private let boxes: [String: Box]
    private let lock = NSLock()
    private var workers: [LoggedProcess] = []

    /// Namespaces are `vqmh-<test process pid>-<random>-<box>`.
    private static let prefix = "vqmh-"

    private init(directory: URL, queue: PostgresQueueClient, boxes: [String: Box]) {
        self.directory = directory
        self.queue = queue
        self.boxes = boxes
    }

    func box(_ name: String) -> Box { boxes[name]! }

    /// Makes the namespaces and the server, runs `body`, then kills every worker it started, stops
    /// the server and deletes the namespaces, whatever happened.
    static func with<T>(boxes names: [String], in directory: URL,
                        _ body: (Farm) async throws -> T) async throws -> T {
        try #require(getuid() == 0, """
            the multi-host tests make Linux network namespaces (ip netns add), which needs root; \
            CI runs the tests as root: run them as root
            """)
        try #require(FileManager.default.isExecutableFile(atPath: NetworkPlace.ip.path),
                     "no `ip` program (Debian package iproute2)")
        await removeAbandoned()
        let tag = "\(prefix)\(getpid())-\(String(UInt16.random(in: .min ... .max), radix: 16))"
        let database = NetworkPlace(namespace: "\(tag)-db")
        var made: [String] = []
        do {
            try await ip(["netns", "add", database.namespace!])
            made.append(database.namespace!)
            try await ip(["-n", database.namespace!, "link", "set", "lo", "up"])
            try await ip(["-n", database.namespace!, "link", "add", "br0", "type", "bridge"])
            try await ip(["-n", database.namespace!, "addr", "add", "10.77.0.1/24", "dev", "br0"])
            try await ip(["-n", database.namespace!, "link", "set", "br0", "up"])
            var boxes: [String: Box] = [:]
            for (index, name) in names.enumerated() {
                let box = Box(name: name, place: NetworkPlace(namespace: "\(tag)-\(name)"), address: "10.77.0.1\(index + 1)")
                let namespace = box.place.namespace!
                try await ip(["netns", "add", namespace])
                made.append(namespace)
                try await ip(["-n", namespace, "link", "set", "lo", "up"])
                try await ip(["-n", namespace, "link", "add", "eth0", "type", "veth", "peer", "name", "to-\(name)",
                              "netns", database.namespace!])
                try await ip(["-n", database.namespace!, "link", "set", "to-\(name)", "master", "br0", "up"])
                try await ip(["-n", namespace, "addr", "add", "\(box.address)/24", "dev", "eth0"])
                try await ip(["-n", namespace, "link", "set", "eth0", "up"])
                boxes[name] = box
            }
            let value = try await ThrowawayPostgres.with(port: 5432, listen: "10.77.0.1", place: database) { server in
                _ = try await server.createDatabase("farm")
                let farm = Farm(directory: directory,
                                queue: PostgresQueueClient(server: server, database: "farm", place: database), boxes: boxes)
                do {
                    let value = try await body(farm)
                    await farm.endWorkers()
                    return value
                } catch {
                    await farm.endWorkers()
                    throw error
                }
            }
            await deleteNamespaces(made)
            return value
        } catch {
            await deleteNamespaces(made)
            throw error
        }
    }

    private static func ip(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let result = try await NetworkPlace.here.run(NetworkPlace.ip, arguments)
        try #require(result.exitCode == 0, "ip failed: \(result)", sourceLocation: sourceLocation)
    }

    private static func deleteNamespaces(_ names: [String]) async {
        for name in names.reversed() {
            let result = try? await NetworkPlace.here.run(NetworkPlace.ip, ["netns", "del", name])
            if result?.exitCode != 0 {
                Issue.record("could not delete network namespace \(name): \(result.map(\.description) ?? "not run")")
            }
        }
    }

    /// Namespaces left by a test process that died (a time limit, a crash) go; their server goes
    /// with the next `ThrowawayPostgres`.
    private static func removeAbandoned() async {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? [] where name.hasPrefix(prefix) {
            let owner = name.dropFirst(prefix.count).split(separator: "-").first.flatMap { pid_t($0) }
            guard let owner, owner != getpid(), kill(owner, 0) != 0, errno == ESRCH else { continue }
            _ = try? await NetworkPlace.here.run(NetworkPlace.ip, ["netns", "del", name])
        }
    }

    /// A folder for the jobs' outputs (and nothing else, so a stray temporary file shows).
    func outputFolder() throws -> URL {
        let outputs = directory.appendingPathComponent("out", isDirectory: true)
        try FileManager.default.createDirectory(at: outputs, withIntermediateDirectories: true)
        return outputs
    }

    /// `vqueue worker --db URL --lease 2s --concurrency 1` on box `name`, logging to a file of its own.
    func startWorker(on name: String, environment: [String: String] = [:]) throws -> LoggedProcess {
        let count = lock.withLock { workers.count }
        let worker = try queue.startWorker(["--lease", "2s", "--concurrency", "1"], in: box(name).place,
                                           logFile: directory.appendingPathComponent("worker-\(count + 1)-\(name).log"),
                                           environment: environment)
        lock.withLock { workers.append(worker) }
        return worker
    }

    private func endWorkers() async {
        for worker in lock.withLock({ workers }) { await worker.end() }
    }

    /// Waits until `vqueue workers` shows each of these workers alive.
    func waitUntilAlive(_ workers: [LoggedProcess], sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let pids = Set(workers.map { Int($0.pid) })
        let alive = try await eventually(within: .seconds(30)) {
            try await queue.workers().filter { pids.contains($0.pid) && $0.state == "alive" }.count == pids.count
        }
        try #require(alive, "workers \(pids.sorted()) never all showed up alive: \(workers.map(\.log))",
                     sourceLocation: sourceLocation)
    }

    /// Waits until attempt `attempt` of job `id` runs on `worker` in a child that has begun
    /// writing its temporary file and reported progress, and returns the child's pid.
    func caughtEncoding(_ id: Int64, attempt: Int, output: URL, on worker: LoggedProcess,
                        sourceLocation: SourceLocation = #_sourceLocation) async throws -> pid_t {
        var child: pid_t?
        let caught = try await eventually(within: .seconds(60)) {
            child = ProcessTable.jobChild(for: output, job: id, attempt: attempt)
            guard child != nil else { return false }
            let job = try await queue.job(id)
            return job.state == "running" && job.attempts == attempt && job.workerPID == worker.pid && job.progress > 0
        }
        let job = try? await queue.job(id)
        try #require(caught, """
            attempt \(attempt) of job \(id) was never caught encoding on worker \(worker.pid): \
            \(String(describing: job)); log: \(worker.log)
            """, sourceLocation: sourceLocation)
        return child!
    }

    /// Takes box `name`'s link down: its packets go nowhere, as when a cable or switch fails.
    func cut(_ name: String) async throws {
        try await Self.ip(["-n", box(name).place.namespace!, "link", "set", "eth0", "down"])
    }

    func reconnect(_ name: String) async throws {
        try await Self.ip(["-n", box(name).place.namespace!, "link", "set", "eth0", "up"])
    }

    /// Seconds from the time the first query answers to the time the second does (server clock).
    func secondsBetween(_ earlier: String, _ later: String,
                        sourceLocation: SourceLocation = #_sourceLocation) async throws -> Double {
        let from = try #require(try await queue.query(earlier).first.flatMap(Double.init), "no answer to \(earlier)",
                                sourceLocation: sourceLocation)
        let to = try #require(try await queue.query(later).first.flatMap(Double.init), "no answer to \(later)",
                              sourceLocation: sourceLocation)
        return to - from
    }
}

/// The network namespace a process is in (`net:[4026531840]`).
func networkNamespace(of pid: pid_t) -> String {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/net")) ?? "?"
}

/// What tells one file from another at the same path: inode, size and modification time.
func fileIdentity(_ file: URL) throws -> String {
    let attributes = try FileManager.default.attributesOfItem(atPath: file.path)
    return "\(attributes[.systemFileNumber] ?? "?") \(attributes[.size] ?? "?") \(attributes[.modificationDate] ?? "?")"
}
