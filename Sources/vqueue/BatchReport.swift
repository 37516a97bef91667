import Foundation
import JobQueue
import Transcode
import TranscodeJobs

/// A batch as `status --batch` and `submit --json` show it: counts per
/// state, progress weighted by media duration, an ETA, and the failures.
struct BatchReport: Encodable {
    let id: Int64
    let jobs: [Job]

    var counts: [String: Int] {
        var counts = Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0.rawValue, 0) })
        for job in jobs { counts[job.state.rawValue, default: 0] += 1 }
        counts["retrying"] = jobs.filter(\.isRetrying).count
        return counts
    }

    var isFinished: Bool { jobs.allSatisfy(\.state.isFinished) }

    /// 0…1, each job counting by its weight (seconds of media).
    var progress: Double {
        let total = jobs.reduce(0) { $0 + $1.weight }
        guard total > 0 else { return 1 }
        let done = jobs.reduce(0) { sum, job in
            sum + job.weight * (job.state.isFinished ? 1 : JobReport(job).progress)
        }
        return min(1, done / total)
    }

    /// Seconds left at the pace since the batch's first job started.
    var eta: Double? {
        guard !isFinished else { return nil }
        return Self.eta(start: jobs.compactMap(\.startedAt).min(), progress: progress)
    }

    static func eta(_ summary: BatchSummary) -> Double? {
        summary.isFinished ? nil : eta(start: summary.firstStart, progress: summary.progress)
    }

    private static func eta(start: Double?, progress fraction: Double) -> Double? {
        guard let start else { return nil }
        let elapsed = Date().timeIntervalSince1970 - start
        guard fraction > 0.001, elapsed > 0 else { return nil }
        return elapsed * (1 - fraction) / fraction
    }

    /// Like a job's: 0 all succeeded, 3 some not finished, 1 some failed, 2 cancelled.
    var exitCode: Int32 {
        if jobs.allSatisfy({ $0.state == .succeeded }) { return 0 }
        if !isFinished { return 3 }
        if jobs.contains(where: { $0.state == .failed }) { return 1 }
        return 2
    }

    enum CodingKeys: String, CodingKey {
        case id, jobs, counts, progress, eta, finished, failed
        case jobIDs = "job_ids"
    }

    struct Failure: Encodable {
        let id: Int64
        let input: String?
        let output: String?
        let error: String?
        let errorCode: String?
        let meta: [String: String]

        enum CodingKeys: String, CodingKey {
            case id, input, output, error, meta
            case errorCode = "error_code"
        }
    }

    var failures: [Failure] {
        jobs.filter { $0.state == .failed }.map { job in
            let transcode = TranscodeJob.decode(job.payload)
            return Failure(id: job.id, input: transcode.map { DisplayText.jsonSafe($0.input) },
                           output: transcode.map { DisplayText.jsonSafe($0.output) }, error: job.error, errorCode: job.errorCode,
                           meta: job.meta.pairs)
        }
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(jobs.count, forKey: .jobs)
        try c.encode(jobs.map(\.id), forKey: .jobIDs)
        try c.encode(counts, forKey: .counts)
        try c.encode((progress * 1000).rounded() / 1000, forKey: .progress)
        try c.encode(eta.map { $0.rounded() }, forKey: .eta)
        try c.encode(isFinished, forKey: .finished)
        try c.encode(failures, forKey: .failed)
    }

    /// `batch 3: 10 jobs, 4 succeeded, 2 running, 4 queued; 47% ETA 1:10`, then one line per failure.
    var lines: [String] {
        let counts = self.counts
        let parts = ["succeeded", "running", "queued", "waiting", "failed", "cancelled"].compactMap { state -> String? in
            let count = counts[state] ?? 0
            guard count > 0 else { return nil }
            let retrying = state == "queued" && (counts["retrying"] ?? 0) > 0 ? " (\(counts["retrying"]!) retrying)" : ""
            return "\(count) \(state)\(retrying)"
        }
        var head = "batch \(id): \(jobs.count) job\(jobs.count == 1 ? "" : "s"), " + parts.joined(separator: ", ")
        head += String(format: "; %.0f%%", progress * 100)
        if let eta { head += " ETA \(ProgressDisplay.clock(eta))" }
        return [head] + failures.map { "  job \($0.id) failed: \(DisplayText.escaped($0.error ?? "unknown error"))" }
    }
}
