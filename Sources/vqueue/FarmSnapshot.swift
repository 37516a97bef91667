import Foundation
import JobQueue
import Transcode
import TranscodeJobs

/// Everything `vqueue top` shows, read in one go, and laid out as lines for
/// a screen of a given size.
struct FarmSnapshot {
    var workers: [WorkerReport]
    var running: [Job]
    var depths: [QueueDepth]
    var lastMinute: (succeeded: Int, failed: Int)
    var lastHour: (succeeded: Int, failed: Int)
    var failures: [Job]
    var takenAt: Double

    static func read(from store: any JobStore) async throws -> FarmSnapshot {
        let now = try await store.now()
        return FarmSnapshot(
            workers: try await store.workers().map { WorkerReport(worker: $0, now: now) }
                .filter { $0.state != .stopped || now - ($0.worker.stoppedAt ?? 0) < 60 },
            running: try await store.jobs(state: .running, limit: 200).sorted { $0.id < $1.id },
            depths: try await store.queueDepths(),
            lastMinute: try await store.finishedCounts(since: now - 60),
            lastHour: try await store.finishedCounts(since: now - 3600),
            failures: try await store.jobs(state: .failed, limit: 5),
            takenAt: now)
    }

    static func padded(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    /// The screen as lines at most `width` wide and `height` tall; `selected`
    /// is the index of the highlighted running job.
    func lines(width: Int, height: Int, selected: Int?, database: String) -> [String] {
        var head = ["vqueue top  \(database)  \(Timestamp.iso(takenAt).prefix(19).replacingOccurrences(of: "T", with: " "))Z"]
        let alive = workers.filter { $0.state == .alive }.count
        let unhealthy = workers.filter { $0.state == .unhealthy }.count
        head.append("WORKERS \(alive) alive, " + (unhealthy > 0 ? "\(unhealthy) unhealthy, " : "")
                    + "\(workers.count - alive - unhealthy) other")
        var workerLines = workers.map { report -> String in
            let fps = running.filter { $0.leaseOwner == report.worker.id }.compactMap(\.fps).reduce(0, +)
            // %-24@ pads nothing on Linux Foundation; pad the strings here.
            return " " + Self.padded(String(report.worker.id.suffix(22)), 22) + " " + Self.padded(report.state.rawValue, 8)
                + String(format: " %3d/%-3d hb %3ds done %-5d fail %-4d %4.0f fps", report.worker.runningJobs,
                         report.worker.concurrency, Int(report.heartbeatAge.rounded()), report.worker.jobsDone,
                         report.worker.jobsFailed, fps)
        }
        if workerLines.isEmpty { workerLines = [" (no workers)"] }
        for report in workers where report.state == .unhealthy {
            workerLines.append("   unhealthy: " + DisplayText.escaped(report.worker.unhealthyReason ?? "?"))
        }

        var jobLines = ["RUNNING \(running.count)"]
        let barWidth = max(10, min(30, width - 50))
        for (index, job) in running.enumerated() {
            let report = JobReport(job)
            let filled = Int(report.progress * Double(barWidth))
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: barWidth - filled)
            let name = DisplayText.escaped(report.transcode.map { URL(fileURLWithPath: $0.input).lastPathComponent } ?? job.kind)
                + (report.partLabel.map { " (\($0))" } ?? "")
            let eta = job.eta.map { ProgressDisplay.clock($0) } ?? "--:--"
            let marker = index == selected ? ">" : " "
            jobLines.append(String(format: "%@%6lld [%@] %3.0f%% %5.0f fps ETA %@ %@", marker, job.id, bar,
                                   report.progress * 100, job.fps ?? 0, eta, name))
        }
        if running.isEmpty { jobLines.append("  (nothing running)") }

        let depthText = depths.isEmpty ? "empty" : depths.map { "\($0.queue)/p\($0.priority): \($0.count)" }.joined(separator: "  ")
        var tail = ["QUEUED " + depthText,
                    "FINISHED last minute: \(lastMinute.succeeded) ok, \(lastMinute.failed) failed;"
                        + " last hour: \(lastHour.succeeded) ok, \(lastHour.failed) failed"]
        tail.append("LATEST FAILURES")
        tail += failures.isEmpty ? ["  (none)"] : failures.map { "  job \($0.id): \(DisplayText.escaped($0.error ?? "?"))" }

        // Fit the height: the running jobs give way first, then failures.
        var lines = head + workerLines + jobLines + tail
        if lines.count > height {
            let spare = max(2, height - (head.count + workerLines.count + tail.count))
            lines = head + workerLines + Array(jobLines.prefix(spare)) + tail
        }
        return lines.prefix(height).map { String($0.prefix(width)) }
    }
}
