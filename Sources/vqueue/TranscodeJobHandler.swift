import Foundation
import JobQueue
import Transcode

/// Runs a queued transcode in a child process (`vqueue transcode IN TMP
/// --progress-json …`), so a decoder that crashes on a hostile file takes
/// down one attempt, not the worker.
struct TranscodeJobHandler: JobHandler {
    /// This binary.
    let executable: String
    /// Overrides the job's thread count when set.
    let threadsPerJob: Int?
    /// Where jobs may read and write (after `pathMap`); nil is anywhere.
    let allowed: AllowedFolders?
    /// Where this box sees the submitting box's folders.
    var pathMap = PathMap.none

    /// The job's transcode with its paths as this box sees them.
    private func transcode(_ job: Job) -> TranscodeJob? {
        guard job.kind == TranscodeJob.kind else { return nil }
        return TranscodeJob.decode(job.payload)?.mapped(by: pathMap)
    }

    func run(_ job: Job, progress: @escaping @Sendable (JobProgress) -> Void) async -> JobOutcome {
        guard let transcode = transcode(job) else {
            return .failed("not a transcode job this vqueue understands", permanent: true)
        }
        if let refusal = allowed?.refusal(input: transcode.input, output: transcode.output) {
            return .failed("refused by --allow-dir: \(refusal)", permanent: true)
        }
        var options = transcode.options
        if let threadsPerJob { options.threads = threadsPerJob }
        let temporary = transcode.temporaryOutput(jobID: job.id, attempt: job.attempts)
        let optionsJSON: String
        do {
            optionsJSON = String(decoding: try JSONEncoder().encode(options), as: UTF8.self)
        } catch {
            return .failed("cannot encode the job's options: \(error)", permanent: true)
        }
        let child = ChildProcess(executable: executable, arguments: [
            "transcode", transcode.input, temporary.path, "--format", transcode.container.rawValue,
            "--write-in-place", "--progress-json", "--options-json", optionsJSON,
        ])
        let finalLine = FinalLine()
        let result: ChildProcess.Result
        do {
            result = try await child.run { line in
                guard let report = try? JSONDecoder().decode(TranscodeProgress.self, from: Data(line.utf8)) else { return }
                if report.done { finalLine.set(line) }
                progress(JobProgress(fraction: min(1, report.percent / 100), fps: report.fps, eta: report.eta))
            }
        } catch {
            return .failed("could not start the transcoder (\(executable)): \(error)", permanent: false)
        }
        if Task.isCancelled { return .stopped }
        let message = Self.childMessage(result.lastErrorLine)
        switch result.termination {
        case .exited(0):
            do {
                try temporary.flush()
            } catch {
                return .failed(error.description, permanent: false)
            }
            return .succeeded(result: finalLine.value, commit: { try temporary.moveIntoPlace() })
        case .exited(75):
            return .failed(message ?? "temporary failure", permanent: false)
        case .exited(let code):
            return .failed(message ?? "the transcoder exited with status \(code)", permanent: true)
        case .signalled(let signal):
            return .crashed(signal: signal, detail: message ?? "")
        }
    }

    func discard(_ job: Job) {
        guard let transcode = transcode(job),
              allowed?.refusal(input: transcode.input, output: transcode.output) == nil else { return }
        transcode.temporaryOutput(jobID: job.id, attempt: job.attempts).discard()
    }

    /// The child's one-line error without its `vqueue: error: ` prefix.
    static func childMessage(_ line: String?) -> String? {
        guard let line else { return nil }
        for prefix in ["vqueue: error: ", "Error: "] where line.hasPrefix(prefix) {
            return String(line.dropFirst(prefix.count))
        }
        return line
    }
}

/// The child's last progress line (its summary), set from the reading thread.
private final class FinalLine: @unchecked Sendable {
    private let lock = NSLock()
    private var line: String?
    func set(_ value: String) { lock.withLock { line = value } }
    var value: String? { lock.withLock { line } }
}
