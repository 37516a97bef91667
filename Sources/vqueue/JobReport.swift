import Foundation
import JobQueue
import Transcode
import TranscodeJobs

/// A job as `status`, `list` and `submit --json` show it. The JSON field
/// names are a documented, stable contract (README, "JSON fields").
struct JobReport: Encodable {
    let job: Job
    let transcode: TranscodeJob?
    /// A split job's parts in numbers (`submit --split`), nil for a job without parts.
    let parts: BatchSummary?

    init(_ job: Job, parts: BatchSummary? = nil) {
        self.job = job
        transcode = TranscodeJob.decode(job.payload)
        self.parts = parts
    }

    /// The job as the store has it, with its parts' numbers when it is a
    /// split job's whole.
    static func load(_ job: Job, store: any JobStore) async throws -> JobReport {
        guard case .stitch = TranscodeJob.decode(job.payload)?.split else { return JobReport(job) }
        return JobReport(job, parts: try await store.partsSummary(of: job.id))
    }

    /// How much of a split job is its stitch (the rest its parts), in its progress.
    static let stitchShare = 0.05

    enum CodingKeys: String, CodingKey {
        case id, state, retrying, progress, fps, eta, input, output, queue, priority, attempts, error, worker, key, meta, result,
             notify
        case maxAttempts = "max_attempts"
        case errorCode = "error_code"
        case submittedAt = "submitted_at"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case retryAt = "retry_at"
        case batchID = "batch_id"
        case parentID = "parent_id"
        case parts
    }

    /// A whole's `parts`: how many, and how many in each state.
    private struct PartCounts: Encodable {
        let summary: BatchSummary
        enum CodingKeys: String, CodingKey { case total, queued, running, succeeded, failed, cancelled }
        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(summary.total, forKey: .total)
            for (key, state) in [(CodingKeys.queued, JobState.queued), (.running, .running), (.succeeded, .succeeded),
                                 (.failed, .failed), (.cancelled, .cancelled)] {
                try c.encode(summary.counts[state] ?? 0, forKey: key)
            }
        }
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(job.id, forKey: .id)
        try c.encode(job.state.rawValue, forKey: .state)
        try c.encode(job.isRetrying, forKey: .retrying)
        try c.encode(progress, forKey: .progress)
        try c.encode(fps, forKey: .fps)
        try c.encode(eta, forKey: .eta)
        // Exact names, but bytes that are not UTF-8 as `\xNN` (JSON cannot carry them).
        try c.encode(transcode.map { DisplayText.jsonSafe($0.input) }, forKey: .input)
        try c.encode(transcode.map { DisplayText.jsonSafe($0.output) }, forKey: .output)
        try c.encode(job.queue, forKey: .queue)
        try c.encode(job.priority, forKey: .priority)
        try c.encode(job.attemptsUsed, forKey: .attempts)
        try c.encode(job.maxAttempts, forKey: .maxAttempts)
        try c.encode(job.state == .succeeded ? nil : job.error, forKey: .error)
        try c.encode(job.state == .succeeded ? nil : job.errorCode, forKey: .errorCode)
        try c.encode(job.key, forKey: .key)
        try c.encode(job.leaseOwner, forKey: .worker)
        try c.encode(Timestamp.iso(job.submittedAt), forKey: .submittedAt)
        try c.encode(job.startedAt.map(Timestamp.iso), forKey: .startedAt)
        try c.encode(job.finishedAt.map(Timestamp.iso), forKey: .finishedAt)
        try c.encode(job.isRetrying ? Timestamp.iso(job.runAt) : nil, forKey: .retryAt)
        try c.encode(job.batchID, forKey: .batchID)
        try c.encode(job.parentID, forKey: .parentID)
        try c.encode(parts.map(PartCounts.init), forKey: .parts)
        try c.encode(job.meta.pairs, forKey: .meta)
        try c.encode(job.state == .succeeded ? TranscodeResult.decode(job.result) : nil, forKey: .result)
        try c.encode(job.notify, forKey: .notify)
    }

    /// 0…1: 1 once succeeded, the last report while running. A split
    /// job's: its parts' (weighed by media seconds), then its stitch's.
    var progress: Double {
        let own = switch job.state {
        case .succeeded: 1.0
        case .queued, .waiting: 0.0
        default: min(1, max(0, job.progress ?? 0))
        }
        guard let parts, job.state != .succeeded else { return own }
        return parts.progress * (1 - Self.stitchShare) + (job.state == .running ? own * Self.stitchShare : 0)
    }

    /// What a part of a split job is: `chunk 3 of job 12`, `the audio of job 12`.
    var partLabel: String? {
        guard let parent = job.parentID else { return nil }
        return "\(transcode?.split?.description ?? "part") of job \(parent)"
    }

    /// Frames per second: the job's own while it runs; a split job's parts'
    /// together while it waits for them.
    var fps: Double? {
        if job.state == .running { return job.fps }
        if job.state == .waiting, let parts, parts.counts[.running] ?? 0 > 0 { return parts.fps }
        return nil
    }

    /// Seconds left: the job's own while it runs; a split job's, from its
    /// parts' pace so far, while it waits for them.
    var eta: Double? {
        if job.state == .running { return job.eta }
        if job.state == .waiting, let parts, let left = BatchReport.eta(parts), left.isFinite {
            return left
        }
        return nil
    }

    /// `job 12 running 45% 120 fps ETA 0:12, attempt 1/3: /in.avi -> /out.flv`,
    /// `job 12 failed after 1 attempt (not retried: …): /in.avi -> /out.flv`.
    /// Names are escaped: a control character in a file name never reaches
    /// the terminal.
    var line: String {
        var parts = ["job \(job.id)"]
        switch job.state {
        case .queued where job.isRetrying:
            let wait = max(0, job.runAt - Date().timeIntervalSince1970)
            parts.append("retrying in \(ProgressDisplay.clock(wait))")
        case .running:
            parts.append(String(format: "running %.0f%%", progress * 100))
            if let fps { parts.append(String(format: "%.0f fps", fps)) }
            if let eta { parts.append("ETA \(ProgressDisplay.clock(eta))") }
        case .waiting where self.parts != nil:
            let summary = self.parts!
            parts.append(String(format: "waiting for its parts (%d of %d done) %.0f%%", summary.counts[.succeeded] ?? 0, summary.total,
                                progress * 100))
            if let fps { parts.append(String(format: "%.0f fps", fps)) }
            if let eta { parts.append("ETA \(ProgressDisplay.clock(eta))") }
        default:
            parts.append(job.state.rawValue)
        }
        if let partLabel { parts.append("(\(partLabel))") }
        var text = parts.joined(separator: " ")
        var error = job.error.map(DisplayText.escaped)
        if job.state == .failed {
            let attempts = "after \(job.attemptsUsed) attempt\(job.attemptsUsed == 1 ? "" : "s")"
            if job.failedWithoutRetry, let reason = error {
                text += " \(attempts) (not retried: \(reason))"
                error = nil
            } else {
                text += " \(attempts)"
            }
        } else {
            text += ", attempt \(job.attemptsUsed)/\(job.maxAttempts)"
        }
        if let transcode { text += ": \(DisplayText.escaped(transcode.input)) -> \(DisplayText.escaped(transcode.output))" }
        if job.state != .succeeded, let error { text += " (\(error))" }
        return text
    }

    /// The `status` exit code: 0 succeeded, 1 failed, 2 cancelled, 3 not finished.
    var exitCode: Int32 {
        switch job.state {
        case .succeeded: return 0
        case .failed: return 1
        case .cancelled: return 2
        case .queued, .running, .waiting: return 3
        }
    }

    static func json<T: Encodable>(_ value: T, pretty: Bool = false) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted] : [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}

/// Times as the JSON shows them: ISO 8601, UTC, milliseconds.
enum Timestamp {
    /// `2026-11-26T17:30:00.123Z`, formatted by hand: Foundation's
    /// ISO8601DateFormatter costs milliseconds to set up, and `status`
    /// is on a web request's path.
    static func iso(_ seconds: Double) -> String {
        var milliseconds = Int64((seconds * 1000).rounded())
        let millisecond = Int(milliseconds % 1000)
        milliseconds /= 1000
        var time = time_t(milliseconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                      Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), millisecond)
    }
}

/// The `status` exit code for a job that does not exist.
let noSuchJobExitCode: Int32 = 4
