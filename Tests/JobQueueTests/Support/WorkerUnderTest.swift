import Foundation
import Testing
@testable import JobQueue

/// A `Worker` running in a task of the test, on a store of the test's database, with its log
/// kept. Stopped through its `ShutdownRequest`, as SIGTERM would.
struct WorkerUnderTest: Sendable {
    let id: String
    let worker: Worker
    let shutdown: ShutdownRequest
    let log: LogLines
    let task: Task<Void, any Error>
    private let returned: Flag

    /// A configuration for tests: no backoff, no streak pauses, polling every 50 ms (quick enough
    /// for any test, and a fifth of the default's wake-ups: many workers share this process).
    static func configuration(concurrency: Int = 2, leaseSeconds: Double = longLease, drain: Bool = false) -> WorkerConfiguration {
        WorkerConfiguration(concurrency: concurrency, queues: [], leaseSeconds: leaseSeconds, drain: drain, pollInterval: 0.05,
                            retry: noBackoff, failureStreakLimit: 0)
    }

    static func start(store: SQLJobStore, handler: ScriptedHandler, configuration: WorkerConfiguration = configuration(),
                      name: String = "worker") -> WorkerUnderTest {
        let id = "\(name)-\(UUID().uuidString.prefix(8))"
        let identity = WorkerRecord(id: id, host: "test-host", pid: Int(getpid()), concurrency: configuration.concurrency,
                                    queues: configuration.queues, leaseSeconds: configuration.leaseSeconds)
        let log = LogLines()
        let worker = Worker(store: store, handler: handler, configuration: configuration, identity: identity, log: log.sink)
        let shutdown = ShutdownRequest()
        let returned = Flag()
        let task = Task {
            defer { returned.set() }
            try await worker.run(shutdown: shutdown)
        }
        return WorkerUnderTest(id: id, worker: worker, shutdown: shutdown, log: log, task: task, returned: returned)
    }

    /// Waits for `run` to return; an issue (with the log) if it has not within `timeout`.
    @discardableResult
    func ended(within timeout: Duration = .seconds(30), sourceLocation: SourceLocation = #_sourceLocation) async throws -> Bool {
        let ended = try await value(of: task, within: timeout, "worker \(id)", sourceLocation: sourceLocation) != nil
        if !ended {
            let lines = log.all.joined(separator: "\n")
            Issue.record("worker \(id)'s log:\n\(lines)", sourceLocation: sourceLocation)
        }
        return ended
    }

    /// Asks for a graceful stop and waits for the worker to return.
    func stop(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        shutdown.request(.graceful)
        try await ended(sourceLocation: sourceLocation)
    }

    /// Whether `run` has returned (or thrown).
    var hasEnded: Bool { returned.isSet }
}
