import Foundation
import JobQueue
import Transcode
import TranscodeJobs

/// A job as `status`, `list` and `submit --json` show it. The JSON field
/// names are a documented, stable contract (README, "JSON fields").
struct JobReport: Encodable {
    let job: Job
    let transcode: TranscodeJob?

    init(_ job: Job) {
        self.job = job
        transcode = TranscodeJob.decode(job.payload)
    }

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
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(job.id, forKey: .id)
        try c.encode(job.state.rawValue, forKey: .state)
        try c.encode(job.isRetrying, forKey: .retrying)
        try c.encode(progress, forKey: .progress)
        try c.encode(job.state == .running ? job.fps : nil, forKey: .fps)
        try c.encode(job.state == .running ? job.eta : nil, forKey: .eta)
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
        try c.encode(job.meta.pairs, forKey: .meta)
        try c.encode(job.state == .succeeded ? TranscodeResult.decode(job.result) : nil, forKey: .result)
        try c.encode(job.notify, forKey: .notify)
    }

    /// 0…1: 1 once succeeded, the last report while running.
    var progress: Double {
        switch job.state {
        case .succeeded: return 1
        case .queued: return 0
        default: return min(1, max(0, job.progress ?? 0))
        }
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
            if let fps = job.fps { parts.append(String(format: "%.0f fps", fps)) }
            if let eta = job.eta { parts.append("ETA \(ProgressDisplay.clock(eta))") }
        default:
            parts.append(job.state.rawValue)
        }
        if let parent = job.parentID { parts.append("(part of job \(parent))") }
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
