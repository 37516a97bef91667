// queue-bench: no-op jobs per second through the queue (DESIGN.md section 5).
//
// Only the queue is measured: the handler returns success at once and its
// commit step does nothing, so what remains is submit, claim, complete and
// the worker's own loop, on a real SQLite file with synchronous=FULL (as
// the SQLite store sets it), or with --postgres on a PostgreSQL server
// (the same store over libpq, the server's own durability settings).
//
//   queue-bench [--jobs N] [--batch B] [--concurrency C] [--processes P]
//               [--poll SECONDS] [--dir DIR] [--postgres BASEURL] [--profile] [--json]
//   queue-bench worker --db LOCATION [--concurrency C] [--poll SECONDS]
//   queue-bench supervisor [--jobs N] [--concurrency C] [--dir DIR] [--json]
//   queue-bench batch-poll [--jobs N] [--dir DIR] [--postgres BASEURL] [--json]
//
// `supervisor` runs N jobs (default 10,000) through one Worker whose jobs
// each run /bin/true in a child (ChildProcess), and prints the process's open
// descriptors and resident memory every tenth of the way: both must stay
// flat (issue 10). `batch-poll` times one `status --batch --wait` poll (the
// batch summary) of a 63,000-job batch beside reading all its jobs.
//
// The first form runs, each on a fresh database: an SQLite file under DIR
// (default .build/bench-queue, on the same disk as the project: never a
// tmpfs, or fsync would cost nothing), or with --postgres BASEURL
// (postgres://user@host:port/, as Tests/Support/postgres-server.sh prints)
// a database `vqueue_bench_NAME` on that server, dropped and created again
// through `psql BASEURLpostgres` (the user must be allowed to create
// databases):
//   1. fsync latency on DIR's disk, and the store's commit latency;
//   2. one process: submit N jobs in batches of B (one transaction each),
//      then drain them with one Worker (concurrency C);
//   3. several processes: submit N jobs, then drain them with P
//      `queue-bench worker` processes (this binary re-executed).
// Each drain is checked: every job succeeded exactly once (events table).
// `--profile` shows where the time goes: the worker's transactions (from its
// log: claim and completion batches and how often it claims) and the same
// store calls timed alone in a tight loop with no worker around them.
// `--json` adds one JSON object as the last stdout line (queue_bench.py
// reads it). `worker --db` takes an SQLite path or a postgres:// URL.

import Foundation
import JobQueue
import Synchronization

// MARK: - The no-op job

struct NoOpHandler: JobHandler {
    func run(_ job: Job, progress: @escaping @Sendable (JobProgress) -> Void) async -> JobOutcome {
        .succeeded(result: nil, publication: nil)
    }

    func discard(_ job: Job) {}
    func recoverPublication(_ job: Job, token: String) -> Bool { false }
    func healthProblem() -> String? { nil }
}

// MARK: - Helpers

extension Duration {
    var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}

func fmt(_ value: Double, _ decimals: Int) -> String { String(format: "%.\(decimals)f", value) }
func pad(_ s: String, _ width: Int) -> String { s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count) }
func lpad(_ s: String, _ width: Int) -> String { s.count >= width ? " " + s : String(repeating: " ", count: width - s.count) + s }

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("queue-bench: error: \(message)\n".utf8))
    exit(1)
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    let mid = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

struct Arguments {
    var values: [String: String] = [:]
    var flags: Set<String> = []
    var positional: [String] = []

    init(_ argv: ArraySlice<String>, flagNames: Set<String>) {
        var iterator = argv.makeIterator()
        while let arg = iterator.next() {
            if arg.hasPrefix("--") {
                let name = String(arg.dropFirst(2))
                if let eq = name.firstIndex(of: "=") {
                    values[String(name[..<eq])] = String(name[name.index(after: eq)...])
                } else if flagNames.contains(name) {
                    flags.insert(name)
                } else if let value = iterator.next() {
                    values[name] = value
                } else {
                    fail("\(arg) needs a value")
                }
            } else {
                positional.append(arg)
            }
        }
    }

    func int(_ name: String, _ fallback: Int) -> Int {
        guard let text = values[name] else { return fallback }
        guard let value = Int(text), value > 0 else { fail("--\(name) wants a positive whole number, not '\(text)'") }
        return value
    }

    func double(_ name: String, _ fallback: Double) -> Double {
        guard let text = values[name] else { return fallback }
        guard let value = Double(text), value > 0 else { fail("--\(name) wants a positive number, not '\(text)'") }
        return value
    }
}

func freshDatabase(_ dir: String, _ name: String) -> String {
    let path = (dir as NSString).appendingPathComponent(name)
    for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    return path
}

/// Where the bench makes its fresh databases.
enum Stores {
    /// SQLite files in a folder.
    case sqlite(dir: String)
    /// Databases on a PostgreSQL server: `base` is a URL without a database
    /// name (`postgres://user@host:port/`), a database name appended to it
    /// is a queue location.
    case postgres(base: String)

    var name: String {
        switch self {
        case .sqlite: "sqlite"
        case .postgres: "postgres"
        }
    }

    /// A fresh, empty database for `name` (letters, digits, _); returns its
    /// location, as `vqueue --db` and `queue-bench worker --db` take it.
    func fresh(_ name: String) throws -> String {
        switch self {
        case .sqlite(let dir):
            return freshDatabase(dir, "\(name).db")
        case .postgres:
            let database = "vqueue_bench_\(name)"
            // Separate -c's: CREATE DATABASE cannot run inside a transaction.
            _ = try psql(["-c", "DROP DATABASE IF EXISTS \(database) WITH (FORCE)", "-c", "CREATE DATABASE \(database)"])
            return url(database)
        }
    }

    /// The URL of a database on the server (`base` with `database` in it).
    func url(_ database: String) -> String {
        guard case .postgres(let base) = self else { return database }
        var (head, query) = (base, "")
        if let mark = base.firstIndex(of: "?") { (head, query) = (String(base[..<mark]), String(base[mark...])) }
        return (head.hasSuffix("/") ? head : head + "/") + database + query
    }

    /// Runs psql against the server's `postgres` database; returns its output.
    func psql(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["psql", url("postgres"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"] + arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let output = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            fail("psql \(arguments.joined(separator: " ")): exit \(process.terminationStatus): "
                 + String(decoding: errors, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// How durable the store's commits are, for the header.
    func durability() throws -> String {
        switch self {
        case .sqlite(let dir):
            return "synchronous=FULL, databases in \(dir)"
        case .postgres(let base):
            let settings = try psql(["-c", "SELECT 'PostgreSQL ' || current_setting('server_version') || ', fsync=' "
                                     + "|| current_setting('fsync') || ', synchronous_commit=' || current_setting('synchronous_commit')"])
            return "\(settings), databases vqueue_bench_* at \(base)"
        }
    }
}

/// Opens a queue location: a postgres:// URL or an SQLite path.
func openStore(_ location: String) async throws -> any JobStore {
    try await QueueLocation(location).open(createFolder: true)
}

/// Ends a store's connections (PostgreSQL) before its database is left behind.
func closeStore(_ store: any JobStore) async {
    await (store as? SQLJobStore)?.close()
}

func submitAll(_ store: any JobStore, jobs: Int, batch: Int) async throws -> Double {
    let start = ContinuousClock.now
    var submitted = 0
    while submitted < jobs {
        let count = min(batch, jobs - submitted)
        let newJobs = (0..<count).map { i in NewJob(kind: "noop", payload: "{\"n\":\(submitted + i)}") }
        let done = try await store.submit(newJobs)
        guard done.count == count else { fail("submit returned \(done.count) jobs for \(count)") }
        submitted += count
    }
    return (ContinuousClock.now - start).seconds
}

/// Every job succeeded, exactly once.
func verify(_ store: any JobStore, jobs: Int) async throws {
    let succeeded = try await store.jobs(state: .succeeded, limit: jobs + 1).count
    let unfinished = try await store.unfinishedCount()
    var successEvents = 0
    var after: Int64 = 0
    while true {
        let page = try await store.events(after: after, job: nil, limit: 10_000)
        guard let last = page.last else { break }
        // (`to` as text: works whether the store gives a JobState or a String.)
        successEvents += page.filter { "\($0.to)" == "succeeded" }.count
        after = last.id
    }
    guard succeeded == jobs, unfinished == 0, successEvents == jobs else {
        fail("drain incomplete: \(succeeded) succeeded, \(unfinished) unfinished, \(successEvents) success events, of \(jobs) jobs")
    }
}

func runWorker(store: any JobStore, concurrency: Int, poll: Double, trace: WorkerTrace? = nil) async throws {
    let configuration = WorkerConfiguration(concurrency: concurrency, queues: [], leaseSeconds: 30, drain: true,
                                            pollInterval: poll)
    let worker = Worker(store: store, handler: NoOpHandler(), configuration: configuration,
                        identity: Worker.makeIdentity(concurrency: concurrency, queues: [], leaseSeconds: 30), log: { trace?.log($0) })
    try await worker.run(shutdown: ShutdownRequest())
}

/// Median time of a write+fsync of one small block in `dir`, and of one
/// store write transaction (a one-job submit: committed with
/// synchronous=FULL on SQLite, as the server's settings say on PostgreSQL).
func diskLatency(dir: String, stores: Stores) async throws -> (fsyncMs: Double, commitMs: Double) {
    let path = (dir as NSString).appendingPathComponent("fsync-probe")
    _ = FileManager.default.createFile(atPath: path, contents: nil)
    defer { try? FileManager.default.removeItem(atPath: path) }
    let fd = open(path, O_WRONLY)
    guard fd >= 0 else { fail("cannot open \(path)") }
    defer { close(fd) }
    var fsyncs: [Double] = []
    var block = [UInt8](repeating: 7, count: 4096)
    for i in 0..<40 {
        let start = ContinuousClock.now
        _ = block.withUnsafeMutableBytes { pwrite(fd, $0.baseAddress, 4096, off_t(i * 4096)) }
        fsync(fd)
        fsyncs.append((ContinuousClock.now - start).seconds)
    }
    let store = try await openStore(try stores.fresh("commit_probe"))
    var commits: [Double] = []
    for _ in 0..<40 {
        let start = ContinuousClock.now
        _ = try await store.submit([NewJob(kind: "noop", payload: "{}")])
        commits.append((ContinuousClock.now - start).seconds)
    }
    await closeStore(store)
    return (median(fsyncs) * 1000, median(commits) * 1000)
}

func selfExecutable() -> String {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
}

// MARK: - Where the time goes (--profile)

/// The worker's log, timestamped: each claim logs one "running" line per
/// job and each completion transaction one "succeeded" line per job, so
/// runs of the same kind are the worker's batches.
final class WorkerTrace: Sendable {
    private let lines = Mutex<[(at: ContinuousClock.Instant, claimed: Bool)]>([])

    func log(_ line: String) {
        let now = ContinuousClock.now
        let claimed = line.contains(" running ")
        guard claimed || line.contains(" succeeded ") else { return }
        lines.withLock { $0.append((now, claimed)) }
    }

    func report() {
        let all = lines.withLock { $0 }
        var batches: [(at: ContinuousClock.Instant, claimed: Bool, size: Int)] = []
        for line in all {
            if let last = batches.last, last.claimed == line.claimed {
                batches[batches.count - 1].size += 1
            } else {
                batches.append((line.at, line.claimed, 1))
            }
        }
        let claims = batches.filter(\.claimed)
        let completes = batches.filter { !$0.claimed }
        guard claims.count > 1 else { return }
        let span = (claims.last!.at - claims.first!.at).seconds
        print("  worker loop (1 process): \(claims.count) claim transactions of \(fmt(Double(claims.map(\.size).reduce(0, +)) / Double(claims.count), 1)) jobs, "
              + "\(completes.count) completion transactions of \(fmt(Double(completes.map(\.size).reduce(0, +)) / Double(max(completes.count, 1)), 1)) jobs; "
              + "one claim every \(fmt(1000 * span / Double(claims.count - 1), 2)) ms")
    }
}

/// The store's calls alone, in a tight loop with no worker: claim up to
/// `limit` jobs, complete them, again until the queue is empty.
func directLoop(stores: Stores, jobs: Int, batch: Int, limit: Int) async throws {
    let store = try await openStore(try stores.fresh("direct"))
    _ = try await submitAll(store, jobs: jobs, batch: batch)
    var claimTimes: [Double] = []
    var completeTimes: [Double] = []
    let start = ContinuousClock.now
    while true {
        let t0 = ContinuousClock.now
        let claimed = try await store.claim(worker: "direct", queues: [], limit: limit, leaseSeconds: 30)
        let t1 = ContinuousClock.now
        claimTimes.append((t1 - t0).seconds)
        if claimed.isEmpty { break }
        _ = try await store.complete(claimed.map { JobCompletion(job: $0.lease, result: nil) }, worker: "direct")
        completeTimes.append((ContinuousClock.now - t1).seconds)
    }
    let wall = (ContinuousClock.now - start).seconds
    var tokens: [Double] = []
    for _ in 0..<200 {
        let t0 = ContinuousClock.now
        _ = try await store.changeToken(for: .jobQueued)
        tokens.append((ContinuousClock.now - t0).seconds)
    }
    let head = Array(claimTimes.prefix(10)), tail = Array(claimTimes.dropLast().suffix(10))
    print("  store alone (claim \(limit) + complete, no worker loop): \(fmt(Double(jobs) / wall, 0)) jobs/s; "
          + "claim \(fmt(1000 * median(claimTimes), 2)) ms median (\(fmt(1000 * median(head), 2)) ms with \(jobs) queued, "
          + "\(fmt(1000 * median(tail), 2)) ms near empty), complete \(fmt(1000 * median(completeTimes), 2)) ms median, "
          + "changeToken \(fmt(1000 * median(tokens), 3)) ms")
    await closeStore(store)
}

// MARK: - `queue-bench worker`

func workerMain(_ args: Arguments) async throws {
    guard let db = args.values["db"] else { fail("worker needs --db PATH or --db postgres://URL") }
    let store = try await openStore(db)
    let start = Date().timeIntervalSince1970
    try await runWorker(store: store, concurrency: args.int("concurrency", 64), poll: args.double("poll", 0.01))
    let end = Date().timeIntervalSince1970
    await closeStore(store)
    print("{\"start\": \(start), \"end\": \(end)}")
}

// MARK: - The benchmark

func benchMain(_ args: Arguments) async throws {
    let jobs = args.int("jobs", 20_000)
    let batch = args.int("batch", 500)
    let concurrency = args.int("concurrency", 64)
    let processes = args.int("processes", 4)
    let poll = args.double("poll", 0.01)
    let profile = args.flags.contains("profile")
    let dir = args.values["dir"] ?? ".build/bench-queue"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let stores: Stores = args.values["postgres"].map { .postgres(base: $0) } ?? .sqlite(dir: dir)
    if case .postgres(let base) = stores {
        guard PostgresConnectionString.recognises(base) else { fail("--postgres wants a postgres:// URL, not '\(base)'") }
    }

    let durability = try stores.durability()
    print("queue-bench: \(jobs) no-op jobs, submit batches of \(batch), worker concurrency \(concurrency), "
          + "poll \(fmt(poll * 1000, 1)) ms, \(durability)")
    let disk = try await diskLatency(dir: dir, stores: stores)
    print("  disk: write+fsync \(fmt(disk.fsyncMs, 2)) ms median (in \(dir)); "
          + "one-job submit transaction \(fmt(disk.commitMs, 2)) ms median (\(stores.name))")

    // One process.
    let single = try await openStore(try stores.fresh("single"))
    let trace = profile ? WorkerTrace() : nil
    let submit1 = try await submitAll(single, jobs: jobs, batch: batch)
    let drainStart = ContinuousClock.now
    try await runWorker(store: single, concurrency: concurrency, poll: poll, trace: trace)
    let drain1 = (ContinuousClock.now - drainStart).seconds
    try await verify(single, jobs: jobs)
    await closeStore(single)
    let total1 = Double(jobs) / (submit1 + drain1)
    print("  1 process : submit \(fmt(Double(jobs) / submit1, 0)) jobs/s, claim+complete \(fmt(Double(jobs) / drain1, 0)) jobs/s, "
          + "through submit+claim+complete \(fmt(total1, 0)) jobs/s")
    if profile {
        trace?.report()
        try await directLoop(stores: stores, jobs: jobs, batch: batch, limit: concurrency)
    }

    // Several processes.
    let multiPath = try stores.fresh("multi")
    let multiStore = try await openStore(multiPath)
    let submit2 = try await submitAll(multiStore, jobs: jobs, batch: batch)
    let drain2Start = ContinuousClock.now
    var children: [(Process, Pipe)] = []
    for _ in 0..<processes {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: selfExecutable())
        process.arguments = ["worker", "--db", multiPath, "--concurrency", "\(concurrency)", "--poll", "\(poll)"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        children.append((process, pipe))
    }
    for (process, pipe) in children {
        _ = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { fail("a worker process exited with status \(process.terminationStatus)") }
    }
    let drain2 = (ContinuousClock.now - drain2Start).seconds
    try await verify(multiStore, jobs: jobs)
    await closeStore(multiStore)
    let total2 = Double(jobs) / (submit2 + drain2)
    print("  \(processes) processes: submit \(fmt(Double(jobs) / submit2, 0)) jobs/s, claim+complete \(fmt(Double(jobs) / drain2, 0)) jobs/s "
          + "(including process start-up), through submit+claim+complete \(fmt(total2, 0)) jobs/s")

    if args.flags.contains("json") {
        let result: [String: Any] = [
            "store": stores.name, "durability": durability,
            "jobs": jobs, "batch": batch, "concurrency": concurrency, "processes": processes, "poll": poll,
            "fsync_ms": disk.fsyncMs, "commit_ms": disk.commitMs,
            "single": ["submit_s": submit1, "drain_s": drain1, "jobs_per_s": total1,
                       "submit_jobs_per_s": Double(jobs) / submit1, "drain_jobs_per_s": Double(jobs) / drain1],
            "multi": ["submit_s": submit2, "drain_s": drain2, "jobs_per_s": total2,
                      "submit_jobs_per_s": Double(jobs) / submit2, "drain_jobs_per_s": Double(jobs) / drain2],
        ]
        let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }
}

// MARK: - A supervisor's own costs over many jobs

/// Each job runs a real child (`/bin/true` through ChildProcess), as a
/// transcode job's does, so what a worker keeps per finished job shows.
struct ChildHandler: JobHandler {
    let samples: SupervisorSamples

    func run(_ job: Job, progress: @escaping @Sendable (JobProgress) -> Void) async -> JobOutcome {
        defer { samples.finished() }
        do {
            let result = try await ChildProcess(executable: "/bin/true", arguments: []).run { _ in }
            return result.termination == .exited(0) ? .succeeded(result: nil, publication: nil)
                : .failed(JobFailure("/bin/true failed", code: "internal", permanent: true))
        } catch {
            return .failed(JobFailure("\(error)", code: "spawn_failed", permanent: true))
        }
    }

    func discard(_ job: Job) {}
    func recoverPublication(_ job: Job, token: String) -> Bool { false }
    func healthProblem() -> String? { nil }
}

/// The worker process's open descriptors and resident memory every
/// `every` finished jobs.
final class SupervisorSamples: @unchecked Sendable {
    private let lock = NSLock()
    private var done = 0
    let every: Int
    private(set) var rows: [(jobs: Int, descriptors: Int, residentMB: Double)] = []

    init(every: Int) {
        self.every = every
        rows.append((0, Self.descriptors(), Self.residentMB()))
    }

    func finished() {
        lock.withLock {
            done += 1
            if done % every == 0 { rows.append((done, Self.descriptors(), Self.residentMB())) }
        }
    }

    static func descriptors() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
    }

    static func residentMB() -> Double {
        guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
              let pages = statm.split(separator: " ").dropFirst().first.flatMap({ Double($0) }) else { return -1 }
        return pages * Double(sysconf(Int32(_SC_PAGESIZE))) / 1_048_576
    }
}

/// A worker through `jobs` jobs that each run a child: its descriptors and
/// resident memory must stay flat (issue 10).
func supervisorMain(_ args: Arguments) async throws {
    let jobs = args.int("jobs", 10_000)
    let concurrency = args.int("concurrency", 4)
    let dir = args.values["dir"] ?? ".build/bench-queue"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let store = try await openStore(try Stores.sqlite(dir: dir).fresh("supervisor"))
    _ = try await submitAll(store, jobs: jobs, batch: 500)
    let samples = SupervisorSamples(every: max(1, jobs / 10))
    let configuration = WorkerConfiguration(concurrency: concurrency, queues: [], leaseSeconds: 30, drain: true)
    let worker = Worker(store: store, handler: ChildHandler(samples: samples), configuration: configuration,
                        identity: Worker.makeIdentity(concurrency: concurrency, queues: [], leaseSeconds: 30), log: { _ in })
    let start = ContinuousClock.now
    try await worker.run(shutdown: ShutdownRequest())
    let seconds = (ContinuousClock.now - start).seconds
    try await verify(store, jobs: jobs)
    print("queue-bench supervisor: \(jobs) jobs, each running /bin/true in a child, \(concurrency) at a time")
    print("     jobs  descriptors  resident MB")
    for row in samples.rows {
        print(lpad(String(row.jobs), 9) + lpad(String(row.descriptors), 13) + lpad(fmt(row.residentMB, 1), 13))
    }
    print("  \(fmt(Double(jobs) / seconds, 0)) jobs/s")
    if args.flags.contains("json") {
        let result: [String: Any] = ["jobs": jobs, "samples": samples.rows.map { ["jobs": $0.jobs, "descriptors": $0.descriptors,
                                                                                 "resident_mb": $0.residentMB] }]
        print(String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self))
    }
}

/// `status --batch --wait` on a big batch polls `batchSummary`: its cost per
/// poll, beside reading the whole batch (what every poll did before).
func batchPollMain(_ args: Arguments) async throws {
    let jobs = args.int("jobs", 63_000)
    let dir = args.values["dir"] ?? ".build/bench-queue"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let stores: Stores = args.values["postgres"].map { .postgres(base: $0) } ?? .sqlite(dir: dir)
    let store = try await openStore(try stores.fresh("batch_poll"))
    let (batchID, _) = try await store.submitBatch((0..<jobs).map { NewJob(kind: "noop", payload: "{\"n\":\($0)}", weight: 10) })
    func median(_ body: () async throws -> Void) async rethrows -> Double {
        var times: [Double] = []
        for _ in 0..<9 {
            let start = ContinuousClock.now
            try await body()
            times.append((ContinuousClock.now - start).seconds)
        }
        return times.sorted()[times.count / 2]
    }
    let summary = try await median { _ = try await store.batchSummary(id: batchID) }
    let whole = try await median { _ = try await store.batch(id: batchID) }
    await closeStore(store)
    print("queue-bench batch-poll (\(stores.name)): a \(jobs)-job batch: one poll (summary) \(fmt(summary * 1000, 1)) ms, "
          + "reading every job \(fmt(whole * 1000, 1)) ms")
    if args.flags.contains("json") {
        print("{\"store\": \"\(stores.name)\", \"jobs\": \(jobs), \"summary_ms\": \(summary * 1000), \"whole_ms\": \(whole * 1000)}")
    }
}

let argv = CommandLine.arguments.dropFirst()
let flagNames: Set<String> = ["profile", "json"]
if argv.first == "worker" {
    try await workerMain(Arguments(argv.dropFirst(), flagNames: flagNames))
} else if argv.first == "supervisor" {
    try await supervisorMain(Arguments(argv.dropFirst(), flagNames: flagNames))
} else if argv.first == "batch-poll" {
    try await batchPollMain(Arguments(argv.dropFirst(), flagNames: flagNames))
} else if argv.first == "--help" || argv.first == "-h" {
    print("usage: queue-bench [--jobs N] [--batch B] [--concurrency C] [--processes P] [--poll S] [--dir DIR]")
    print("                   [--postgres postgres://USER@HOST:PORT/] [--profile] [--json]")
    print("       queue-bench worker --db PATH|postgres://URL [--concurrency C] [--poll S]")
    print("       queue-bench supervisor [--jobs N] [--concurrency C] [--dir DIR] [--json]")
    print("       queue-bench batch-poll [--jobs N] [--dir DIR] [--postgres postgres://USER@HOST:PORT/] [--json]")
} else {
    try await benchMain(Arguments(argv, flagNames: flagNames))
}
