import Foundation
import JobQueue
import Synchronization
import Transcode

/// Runs a queued transcode in a child process (`vqueue transcode IN TMP
/// --progress-json …`), so a decoder that crashes on a hostile file takes
/// down one attempt, not the worker.
public struct TranscodeJobHandler: JobHandler {
    /// This binary.
    let executable: String
    /// Overrides the job's thread count when set.
    let threadsPerJob: Int?
    /// Where jobs may read and write (after `pathMap`); nil is anywhere.
    let allowed: AllowedFolders?
    /// Where this box sees the submitting box's folders.
    let pathMap: PathMap
    /// Folders of jobs that could not run here because they were missing.
    private let missing = MissingFolders()

    public init(executable: String, threadsPerJob: Int?, allowed: AllowedFolders?, pathMap: PathMap = .none) {
        self.executable = executable
        self.threadsPerJob = threadsPerJob
        self.allowed = allowed
        self.pathMap = pathMap
    }

    /// The job's transcode with its paths as this box sees them.
    private func transcode(_ job: Job) -> TranscodeJob? {
        guard job.kind == TranscodeJob.kind else { return nil }
        return TranscodeJob.decode(job.payload)?.mapped(by: pathMap)
    }

    public func run(_ job: Job, progress: @escaping @Sendable (JobProgress) -> Void) async -> JobOutcome {
        guard let transcode = transcode(job) else {
            return .failed(JobFailure("not a transcode job this vqueue understands", code: "unknown_job", permanent: true))
        }
        if let folder = missingFolder(transcode) {
            missing.add(folder)
            return .unavailableHere("\(folder) does not exist on this box (a shared folder not mounted, or a wrong --path-map?)")
        }
        if let allowed, let refusal = refusal(transcode, allowed) {
            return .failed(JobFailure("refused by --allow-dir: \(refusal)", code: "not_allowed", permanent: true))
        }
        if let target = Self.linkTarget(transcode.output) {
            return .failed(JobFailure("\(transcode.output) is a symbolic link (to \(target)); vqueue never writes through "
                                      + "or over a link", code: "output_is_link", permanent: true))
        }
        var options = transcode.options
        if let threadsPerJob { options.threads = threadsPerJob }
        let temporary = transcode.temporaryOutput(jobID: job.id, attempt: job.attempts)
        let optionsJSON: String
        do {
            optionsJSON = String(decoding: try JSONEncoder().encode(options), as: UTF8.self)
        } catch {
            return .failed(JobFailure("cannot encode the job's options: \(error)", code: "internal", permanent: true))
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
            return .failed(JobFailure("could not start the transcoder (\(executable)): \(error)", code: "spawn_failed", permanent: false))
        }
        if Task.isCancelled { return .stopped }
        let message = Self.childMessage(result.lastErrorLine)
        switch result.termination {
        case .exited(0):
            do {
                try temporary.flush()
            } catch {
                return .failed(JobFailure(error.description, code: "io_error", permanent: false))
            }
            let overwrite = transcode.overwrite
            return .succeeded(result: finalLine.value, publication: Publication(token: temporary.path) {
                if !overwrite && FileManager.default.fileExists(atPath: temporary.finalPath) {
                    throw JobFailure("\(temporary.finalPath) appeared after the job was queued; it was left as it is "
                                     + "(submit with --overwrite to replace it)", code: "output_exists", permanent: true)
                }
                try temporary.moveIntoPlace()
            })
        case .exited(75):
            return .failed(JobFailure(message ?? "temporary failure", code: "temporary", permanent: false))
        case .exited(let code):
            return .failed(JobFailure(message ?? "the transcoder exited with status \(code)", code: "transcode_failed", permanent: true))
        case .signalled(let signal):
            return .crashed(signal: signal, detail: message ?? "")
        }
    }

    public func discard(_ job: Job) {
        guard let transcode = transcode(job) else { return }
        if let allowed, refusal(transcode, allowed) != nil { return }
        transcode.temporaryOutput(jobID: job.id, attempt: job.attempts).discard()
    }

    public func recoverPublication(_ job: Job, token: String) -> Bool {
        guard let transcode = transcode(job) else { return false }
        let temporary = transcode.temporaryOutput(jobID: job.id, attempt: job.attempts)
        guard temporary.path == token else { return false }
        if FileManager.default.fileExists(atPath: temporary.path) {
            return (try? temporary.moveIntoPlace()) != nil
        }
        return FileManager.default.fileExists(atPath: temporary.finalPath)
    }

    /// The box's roots (allowed folders, path-map targets) and the folders
    /// jobs could not find lately: the first that is missing, in words.
    public func healthProblem() -> String? {
        if let root = missingRoot() { return "\(root) does not exist on this box" }
        return missing.stillMissing().first.map { "\($0) does not exist on this box (a job's folder)" }
    }

    private func missingRoot() -> String? {
        ((allowed?.paths ?? []) + pathMap.rules.map(\.to)).first { AllowedFolders.resolve($0) == nil }
    }

    /// The first of the job's folders that is missing here: a sign of this
    /// box's trouble (a mount gone), not of the job's.
    private func missingFolder(_ transcode: TranscodeJob) -> String? {
        if let root = missingRoot() { return root }
        let folders = [transcode.input, transcode.output].map { URL(fileURLWithPath: $0).deletingLastPathComponent().path }
        return folders.first { AllowedFolders.resolve($0) == nil }
    }

    private func refusal(_ transcode: TranscodeJob, _ allowed: AllowedFolders) -> String? {
        guard let input = AllowedFolders.resolve(transcode.input) else { return "\(transcode.input): cannot be resolved" }
        if !allowed.contains(resolved: input) { return "\(transcode.input) is outside the allowed folders (\(allowed.list))" }
        let folder = URL(fileURLWithPath: transcode.output).deletingLastPathComponent().path
        guard let outputFolder = AllowedFolders.resolve(folder), allowed.contains(resolved: outputFolder) else {
            return "\(transcode.output) is outside the allowed folders (\(allowed.list))"
        }
        if Self.linkTarget(transcode.output) != nil, let target = AllowedFolders.resolve(transcode.output),
           !allowed.contains(resolved: target) {
            return "\(transcode.output) is a link to \(target), outside the allowed folders (\(allowed.list))"
        }
        return nil
    }

    /// Where `path` points, when it is a symbolic link.
    static func linkTarget(_ path: String) -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: path)
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

/// Folders jobs found missing on this box, until they are back.
private final class MissingFolders: Sendable {
    private let folders = Mutex<Set<String>>([])

    func add(_ folder: String) {
        folders.withLock { _ = $0.insert(folder) }
    }

    /// Those still missing; the ones back are forgotten.
    func stillMissing() -> [String] {
        folders.withLock { folders in
            folders = folders.filter { AllowedFolders.resolve($0) == nil }
            return folders.sorted()
        }
    }
}

/// The child's last progress line (its summary), set from the reading thread.
private final class FinalLine: @unchecked Sendable {
    private let lock = NSLock()
    private var line: String?
    func set(_ value: String) { lock.withLock { line = value } }
    var value: String? { lock.withLock { line } }
}
