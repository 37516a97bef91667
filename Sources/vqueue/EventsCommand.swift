import ArgumentParser
import Foundation
import JobQueue
import Transcode

struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Print job transitions and workers coming and going, in order.",
        usage: "vqueue events [--follow] [--json] [--since <event-id>] [<options>]",
        discussion: """
        One line per event; with --json one JSON object per line, each with its event id, so \
        a consumer can resume where it stopped with --since. With --follow new events are \
        printed as they happen (within a second) until interrupted.

        JSON fields: id, kind ("job", "worker" or "notification"), at (ISO 8601 UTC), job (id \
        or null), from (previous job state or null), to (job state; for workers online, \
        stopping, stopped, offline, unhealthy, healthy; for a notification's delivery \
        delivered or failed), worker, detail, error_code (for a failure or a retry: the \
        stable code of its error, else null).

        Examples:
          vqueue events --job 42
          vqueue events --follow --json --since "$last_seen_id"
        """)

    @Flag(help: "Keep printing new events until interrupted.")
    var follow = false

    @Flag(help: "One JSON object per line.")
    var json = false

    @Option(help: ArgumentHelp("Only events after this event id.", valueName: "event-id"))
    var since: Int64 = 0

    @Option(help: ArgumentHelp("Only this job's events.", valueName: "id"))
    var job: Int64?

    @OptionGroup(title: "Queue")
    var queueOptions: QueueOptions

    func run() async throws {
        let store = try await queueOptions.openStore()
        let signals = SignalMonitor()
        var follower = EventFollower(store: store, after: since, job: job)
        while !signals.isSignalled {
            // Without --follow: what is there now, page after page, then the end.
            let events = try await follower.next(waitingUpTo: follow ? .seconds(3600) : .zero) { signals.isSignalled }
            for event in events {
                print(json ? try JobReport.json(EventReport(event)) : EventReport(event).line)
            }
            fflush(nil)
            if events.isEmpty && !follow { break }
        }
    }
}

/// An event as `events` prints it.
struct EventReport: Encodable {
    let event: JobEvent

    init(_ event: JobEvent) { self.event = event }

    enum CodingKeys: String, CodingKey {
        case id, kind, at, job, from, to, worker, detail, meta
        case errorCode = "error_code"
        case parentID = "parent_id"
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(event.id, forKey: .id)
        try c.encode(event.kind, forKey: .kind)
        try c.encode(Timestamp.iso(event.at), forKey: .at)
        try c.encode(event.jobID, forKey: .job)
        try c.encode(event.from, forKey: .from)
        try c.encode(event.to, forKey: .to)
        try c.encode(event.worker, forKey: .worker)
        try c.encode(event.detail, forKey: .detail)
        try c.encode(event.errorCode, forKey: .errorCode)
        // A job event carries its job's meta (an object, empty for none).
        if event.jobID != nil {
            try c.encode(event.meta.pairs, forKey: .meta)
            try c.encode(event.parentID, forKey: .parentID)
        }
    }

    /// `#12 2026-11-26T17:30:00.123Z job 5 queued -> running worker=host:1:ab`
    var line: String {
        var text = "#\(event.id) \(Timestamp.iso(event.at)) "
        if event.kind == "notification" {
            text += "notification \(event.to)" + (event.jobID.map { " (job \($0))" } ?? "")
        } else if let job = event.jobID {
            text += "job \(job)" + (event.parentID.map { " (part of job \($0))" } ?? "") + " \(event.from ?? "new") -> \(event.to)"
        } else {
            text += "worker \(event.worker ?? "?") \(event.to)"
        }
        if event.jobID != nil, let worker = event.worker { text += " worker=\(worker)" }
        if let detail = event.detail { text += ": \(DisplayText.escaped(detail))" }
        return text
    }
}
