import Foundation
import Synchronization
import Testing
@testable import JobQueue

/// What a fault-injection test works with: a queue database on a server of its own, a store
/// under test with a short deadline, an in-process worker (its own store, the same deadline)
/// running the "work" queue's jobs, whose attempts wait for a gate of the test's, and a checker
/// store that waits out the server's absences to look at outcomes.
final class FaultBench: Sendable {
    /// The deadline of the stores under test: short, so that twenty faults in a row stay fast.
    static let deadline = Duration.seconds(2)
    /// What a call may take beyond its deadline to end: `poll` slices, and a loaded machine.
    static let slack = Duration.seconds(2)
    /// The queue the worker takes jobs from; jobs of `heldQueue` are the test's own to lock and change.
    static let workQueue = "work"
    static let heldQueue = "held"

    let server: FaultyPostgresServer
    let database: String
    /// The store whose calls the faults hit.
    let store: SQLJobStore
    /// For looking at outcomes (`checked`).
    let checker: SQLJobStore
    let handler: ScriptedHandler
    let gates: JobGates
    let worker: WorkerUnderTest
    let workerStore: SQLJobStore

    private init(server: FaultyPostgresServer, database: String, store: SQLJobStore, checker: SQLJobStore,
                 handler: ScriptedHandler, gates: JobGates, worker: WorkerUnderTest, workerStore: SQLJobStore) {
        self.server = server
        self.database = database
        self.store = store
        self.checker = checker
        self.handler = handler
        self.gates = gates
        self.worker = worker
        self.workerStore = workerStore
    }

    /// A new database on `server` and a worker on it with a lease of `leaseSeconds`, whose store
    /// is opened at `workerURL` (a relay, say) when given.
    static func make(on server: FaultyPostgresServer, leaseSeconds: Double = 10,
                     workerURL: ((String) -> String)? = nil) async throws -> FaultBench {
        let database = "faults"
        let url = try await server.createDatabase(database)
        let location = try QueueLocation(url)
        let checker = try await location.open(createFolder: false, deadline: .seconds(10))
        let store = try await location.open(createFolder: false, deadline: deadline)
        let workerStore = try await QueueLocation(workerURL?(database) ?? url).open(createFolder: false, deadline: deadline)
        let gates = JobGates()
        let handler = ScriptedHandler { job in .wait(gates.gate(for: job.id), then: { .succeed(result: "done") }) }
        let configuration = WorkerConfiguration(concurrency: 2, queues: [workQueue], leaseSeconds: leaseSeconds, pollInterval: 0.01,
                                                retry: noBackoff, failureStreakLimit: 0)
        let worker = WorkerUnderTest.start(store: workerStore, handler: handler, configuration: configuration)
        return FaultBench(server: server, database: database, store: store, checker: checker, handler: handler, gates: gates,
                          worker: worker, workerStore: workerStore)
    }

    /// Stops the worker gracefully and closes the stores.
    func finish() async throws {
        try await worker.stop()
        for store in [store, checker, workerStore] { await store.close() }
    }

    /// `body` on the checker, again and again while the server is away (up to half a minute).
    func checked<T: Sendable>(_ body: (SQLJobStore) async throws -> T) async throws -> T {
        let ends = ContinuousClock.now + .seconds(30)
        while true {
            do {
                return try await body(checker)
            } catch let error as StoreUnavailable {
                if ContinuousClock.now > ends { throw error }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    /// A job for the worker, once its attempt is running (waiting for its gate).
    func runningJob(_ name: String) async throws -> Job {
        let job = try await checked { try await $0.submitOne(newJob(name, queue: Self.workQueue)) }
        await eventually("the worker runs job \(job.id)") { handler.started.contains { $0.id == job.id } }
        return job
    }

    /// Checks that the worker's job ends succeeded, once, on one attempt (or, when
    /// `rescueAllowed`, on a second attempt after one rescue, never more).
    func expectSucceededOnce(_ job: Job, rescueAllowed: Bool = false, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        await eventually("job \(job.id) succeeds", sourceLocation: sourceLocation) {
            try await checker.existing(job.id).state == .succeeded
        }
        let history = try await checked { try await $0.history(job.id) }
        let attempts = handler.started.filter { $0.id == job.id }.count
        if rescueAllowed && attempts == 2 {
            #expect(history == ["queued", "running", "queued", "running", "succeeded"], "job \(job.id): \(history)",
                    sourceLocation: sourceLocation)
        } else {
            #expect(history == ["queued", "running", "succeeded"] && attempts == 1,
                    "job \(job.id): \(history), \(attempts) attempt(s); log:\n\(worker.log.all.joined(separator: "\n"))",
                    sourceLocation: sourceLocation)
        }
    }

    /// How many times the worker said it lost the database, and that it was back.
    var outagesLogged: (lost: Int, back: Int) {
        let lines = worker.log.all
        return (lines.filter { $0.contains("cannot reach the queue database") }.count,
                lines.filter { $0.contains("the queue database is back after") }.count)
    }
}

/// One gate per job: the worker's attempt of that job waits for it.
final class JobGates: Sendable {
    private let gates = Mutex<[Int64: Gate]>([:])

    func gate(for job: Int64) -> Gate {
        gates.withLock { gates in
            if let gate = gates[job] { return gate }
            let gate = Gate()
            gates[job] = gate
            return gate
        }
    }

    func open(_ job: Int64) { gate(for: job).open() }
}

/// A write transaction on a connection of the test's own that holds a job's row lock until
/// released: a store call that changes that row waits for it on the server, in flight for as
/// long as the test likes.
final class RowLock: Sendable {
    private let executor: PostgresExecutor
    private let released: Flag
    private let task: Task<Void, Never>
    /// The lock holder's server process, which the test spares.
    let session: Int

    private init(executor: PostgresExecutor, released: Flag, task: Task<Void, Never>, session: Int) {
        self.executor = executor
        self.released = released
        self.task = task
        self.session = session
    }

    static func hold(job: Int64, database url: String) async throws -> RowLock {
        let executor = PostgresExecutor(location: PostgresConnectionString(url), deadline: .seconds(10))
        let released = Flag(), holding = Flag()
        let session = Shared(0)
        let failure = Shared<String?>(nil)
        let task = Task {
            do {
                try await executor.write { db in
                    session.value = try db.queryOne("SELECT pg_backend_pid() AS pid")?.int("pid") ?? 0
                    try db.execute("UPDATE jobs SET priority = priority WHERE id = ?", [.integer(job)])
                    holding.set()
                    while !released.isSet { usleep(5_000) }
                }
            } catch {
                // Its commit fails when the fault ended its session: the lock went with it.
                if !holding.isSet { failure.value = "\(error)" }
            }
        }
        await eventually("the lock on job \(job) is held") { holding.isSet || failure.value != nil }
        if let failure = failure.value { throw DaemonCommand.CommandError("could not lock job \(job): \(failure)") }
        return RowLock(executor: executor, released: released, task: task, session: session.value)
    }

    /// Ends the transaction (committing it if its session survived) and closes its connection.
    func release() async {
        released.set()
        await task.value
        await executor.close()
    }
}

/// Durations measured across iterations, for the report and the bound.
final class Timings: Sendable {
    private let measured = Mutex<[String: [Duration]]>([:])

    func record(_ what: String, _ duration: Duration) {
        measured.withLock { $0[what, default: []].append(duration) }
    }

    func maximum(_ what: String) -> Duration? {
        measured.withLock { $0[what]?.max() }
    }

    /// One line per measure: count and maximum, in seconds.
    func report(_ test: String) {
        let lines = measured.withLock { measured in
            measured.keys.sorted().map { key -> String in
                let values = measured[key]!
                return "\(key): \(values.count)x, max \(Self.seconds(values.max()!)) s"
            }
        }
        print("PostgresFaultTests \(test): " + lines.joined(separator: "; "))
    }

    static func seconds(_ duration: Duration) -> String {
        String(format: "%.2f", Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
    }
}
