import ArgumentParser
import Foundation
import JobQueue
import Transcode

struct WorkersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workers",
        abstract: "List the workers using this database and how each is doing.",
        discussion: """
        States: alive; unhealthy (alive but taking no jobs: a folder it needs is missing on its \
        box, or its last attempts failed on jobs that succeeded elsewhere; the reason says \
        which, and it resumes by itself); stopping (finishing its jobs); stopped (exited \
        cleanly); gone (no heartbeat within its lease time: killed, crashed or cut off).

        JSON fields: id, state, reason (why unhealthy, else null), host, pid, concurrency, \
        queues, running, started_at, heartbeat_at, heartbeat_age (seconds), jobs_done, \
        jobs_failed.

        Examples:
          vqueue workers
          vqueue workers --json | jq -r '.[] | select(.state == "alive") | .id'
        """)

    @Flag(help: "Print a JSON array.")
    var json = false

    @OptionGroup(title: "Queue")
    var queueOptions: QueueOptions

    func run() async throws {
        let store = try await queueOptions.openStore()
        let now = try await store.now()
        let reports = try await store.workers().map { WorkerReport(worker: $0, now: now) }
        if json {
            print(try JobReport.json(reports))
        } else {
            for report in reports { print(report.line) }
        }
    }
}

/// A worker as `workers` and `top` show it.
struct WorkerReport: Encodable {
    let worker: WorkerRecord
    let now: Double

    var state: WorkerRecord.State { worker.state(at: now) }
    var heartbeatAge: Double { max(0, now - worker.heartbeatAt) }

    enum CodingKeys: String, CodingKey {
        case id, state, reason, host, pid, concurrency, queues, running
        case startedAt = "started_at"
        case heartbeatAt = "heartbeat_at"
        case heartbeatAge = "heartbeat_age"
        case jobsDone = "jobs_done"
        case jobsFailed = "jobs_failed"
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(worker.id, forKey: .id)
        try c.encode(state.rawValue, forKey: .state)
        try c.encode(state == .unhealthy ? worker.unhealthyReason : nil, forKey: .reason)
        try c.encode(worker.host, forKey: .host)
        try c.encode(worker.pid, forKey: .pid)
        try c.encode(worker.concurrency, forKey: .concurrency)
        try c.encode(worker.queues, forKey: .queues)
        try c.encode(worker.runningJobs, forKey: .running)
        try c.encode(Timestamp.iso(worker.startedAt), forKey: .startedAt)
        try c.encode(Timestamp.iso(worker.heartbeatAt), forKey: .heartbeatAt)
        try c.encode((heartbeatAge * 10).rounded() / 10, forKey: .heartbeatAge)
        try c.encode(worker.jobsDone, forKey: .jobsDone)
        try c.encode(worker.jobsFailed, forKey: .jobsFailed)
    }

    /// `vm:4121:3fa2 alive pid 4121 on vm, 1/2 busy, heartbeat 2s ago, 14 done, 1 failed`
    var line: String {
        "\(worker.id) \(state.rawValue) pid \(worker.pid) on \(worker.host), \(worker.runningJobs)/\(worker.concurrency) busy, "
            + "heartbeat \(Int(heartbeatAge.rounded()))s ago, \(worker.jobsDone) done, \(worker.jobsFailed) failed"
            + (state == .unhealthy ? " (unhealthy: \(DisplayText.escaped(worker.unhealthyReason ?? "?")))" : "")
    }
}
