import Foundation
import JobQueue
import Synchronization
import Transcode

/// Runs a queued transcode in a child process (`vqueue transcode …
/// --progress-json`), so a decoder that crashes on a hostile file takes down
/// one attempt, not the worker.
///
/// The worker opens the files, never the child: the input is opened once
/// and checked for what it is (a regular file, inside the allowed folders
/// after every symlink), the temporary output is created in OUT's checked
/// folder under an unpredictable name that nothing planted can be followed
/// through, and the child gets both as descriptors 3 and 4. It reads and
/// writes nothing else. The worker enforces the job's time limit, notices
/// a child that reports no progress, caps its memory, and publishes the
/// result (`Publication`) without ever replacing an OUT that appeared.
public struct TranscodeJobHandler: JobHandler {
    /// This binary.
    let executable: String
    /// Overrides the job's thread count when set.
    let threadsPerJob: Int?
    /// Where jobs may read and write (after `pathMap`); nil is anywhere.
    let allowed: AllowedFolders?
    /// Where this box sees the submitting box's folders.
    let pathMap: PathMap
    /// Ceilings on every job's limits.
    let limits: TranscodeLimits
    /// Folders of jobs that could not run here because they were missing.
    private let missing = MissingFolders()

    public init(executable: String, threadsPerJob: Int?, allowed: AllowedFolders?, pathMap: PathMap = .none,
                limits: TranscodeLimits) {
        self.executable = executable
        self.threadsPerJob = threadsPerJob
        self.allowed = allowed
        self.pathMap = pathMap
        self.limits = limits
    }

    /// The job's transcode with its paths as this box sees them.
    private func transcode(_ job: Job) -> TranscodeJob? {
        guard job.kind == TranscodeJob.kind else { return nil }
        return TranscodeJob.decode(job.payload)?.mapped(by: pathMap)
    }

    /// The tag of an attempt's temporary file, to find it again.
    static func tag(_ job: Job) -> String { "job\(job.id)-\(job.attempts)" }

    public func run(_ job: Job, progress: @escaping @Sendable (JobProgress) -> Void) async -> JobOutcome {
        guard let transcode = transcode(job) else {
            return .failed(JobFailure("not a transcode job this vqueue understands", code: "unknown_job", permanent: true))
        }
        if let folder = missingFolder(transcode) {
            missing.add(folder)
            return .unavailableHere("\(DisplayText.escaped(folder)) does not exist on this box "
                                    + "(a shared folder not mounted, or a wrong --path-map?)")
        }
        let files: JobFiles
        switch open(transcode, for: job) {
        case .failure(let failure): return .failed(failure)
        case .success(let opened): files = opened
        }
        var options = transcode.options
        if let threadsPerJob { options.threads = threadsPerJob }
        let (limited, timeLimit) = limits.applied(to: options, mediaSeconds: job.weight)
        let optionsJSON = String(decoding: (try? JSONEncoder().encode(limited)) ?? Data("{}".utf8), as: UTF8.self)
        // The supervisor's own limit comes a little after the child's, which
        // stops itself with a clean message when it can.
        let child = ChildProcess(executable: executable, arguments: [
            "transcode", transcode.input, transcode.output, "--format", transcode.container.rawValue,
            "--input-fd", "3", "--output-fd", "4", "--progress-json", "--options-json", optionsJSON,
        ], inheritedDescriptors: [files.input.descriptor, files.temporary.descriptor],
           timeLimit: .milliseconds(Int64((timeLimit + 5) * 1000)), stallLimit: .milliseconds(Int64(limits.stallLimit * 1000)),
           memoryLimit: limited.maxMemory)
        let report = ChildReport()
        let result: ChildProcess.Result
        do {
            result = try await child.run { line in
                if let failure = TranscodeFailureLine.decode(line) {
                    report.failure(failure)
                } else if let update = try? JSONDecoder().decode(TranscodeProgress.self, from: Data(line.utf8)) {
                    if update.done, let facts = update.output { report.finished(facts) }
                    progress(JobProgress(fraction: min(1, update.percent / 100), fps: update.fps, eta: update.eta))
                }
            }
        } catch {
            files.temporary.discard()
            return .failed(JobFailure("could not start the transcoder: \(error)", code: "spawn_failed", permanent: false))
        }
        let outcome = Self.outcome(result, report: report, limits: limited, timeLimit: timeLimit, stallLimit: limits.stallLimit)
        guard case .succeeded = outcome, !Task.isCancelled else {
            files.temporary.discard()
            return Task.isCancelled ? .stopped : outcome
        }
        let temporary = UnsharedFile(files.temporary)
        let overwrite = transcode.overwrite
        // The result names OUT as it was submitted, not as this box's --path-map sees it.
        let submitted = TranscodeJob.decode(job.payload) ?? transcode
        let summary = report.output.flatMap {
            TranscodeResult(output: submitted.output, container: transcode.container, facts: $0).encoded()
        }
        return .succeeded(result: summary, publication: Publication(token: PublicationToken(files.temporary).text) {
            do throws(TranscodeError) {
                try temporary.file.publish(overwrite: overwrite)
            } catch {
                temporary.file.discard()
                if error == .outputAppeared {
                    throw JobFailure("\(DisplayText.escaped(transcode.output)) appeared after the job was queued and was left "
                                     + "as it is (submit with --overwrite to replace it)", code: "output_exists", permanent: true)
                }
                throw JobFailure(error.description, code: error.code, permanent: error.isPermanent)
            }
        })
    }

    /// What an attempt opens, checked: the input, and the temporary output
    /// in OUT's folder.
    private struct JobFiles {
        let input: InputFile
        let temporary: any TemporaryResult
    }

    private func open(_ transcode: TranscodeJob, for job: Job) -> Result<JobFiles, JobFailure> {
        let input: InputFile
        let folder: OutputFolder
        do {
            input = try InputFile(path: transcode.input)
            folder = try OutputFolder(containing: transcode.output)
        } catch {
            return .failure(JobFailure(error.description, code: error.code, permanent: error.isPermanent))
        }
        // What was opened is what is judged: a name swapped for a symlink
        // after any earlier look changes nothing.
        if !transcode.isSubmittedInput(input) {
            return .failure(JobFailure("\(DisplayText.escaped(transcode.input)) is not the file that was submitted (it was "
                                       + "replaced since); refusing to transcode it", code: "input_replaced", permanent: true))
        }
        if !transcode.isSubmittedFolder(folder) {
            return .failure(JobFailure("\(DisplayText.escaped(OutputFolder.folder(of: transcode.output))) is not the folder that "
                                       + "was submitted (it was replaced since); refusing to write there",
                                       code: "output_folder_replaced", permanent: true))
        }
        if let allowed {
            if !allowed.contains(resolved: input.realPath) {
                return .failure(Self.notAllowed("\(DisplayText.escaped(transcode.input)) is outside the allowed folders (\(allowed.list))"))
            }
            if !allowed.contains(resolved: folder.realPath) {
                return .failure(Self.notAllowed("\(DisplayText.escaped(transcode.output)) is outside the allowed folders (\(allowed.list))"))
            }
        }
        if let status = FileIdentity.status(path: transcode.output, followingSymlink: false) {
            if status.st_mode & S_IFMT == S_IFLNK {
                let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: transcode.output)) ?? "?"
                let outside = allowed.map { allowed in
                    AllowedFolders.resolve(transcode.output).map { !allowed.contains(resolved: $0) } ?? true
                } ?? false
                return .failure(outside
                    ? Self.notAllowed("\(DisplayText.escaped(transcode.output)) is a link to \(DisplayText.escaped(target)), outside the allowed folders")
                    : JobFailure("\(DisplayText.escaped(transcode.output)) is a symbolic link (to \(DisplayText.escaped(target))); "
                                 + "vqueue never writes through or over a link", code: "output_is_link", permanent: true))
            }
            if !transcode.overwrite {
                return .failure(JobFailure("\(DisplayText.escaped(transcode.output)) appeared after the job was queued and was "
                                           + "left as it is (submit with --overwrite to replace it)", code: "output_exists",
                                           permanent: true))
            }
        }
        do {
            return .success(JobFiles(input: input, temporary: try TemporaryResults.create(
                for: transcode.output, container: transcode.container, tag: Self.tag(job), in: folder)))
        } catch {
            return .failure(JobFailure(error.description, code: error.code, permanent: error.isPermanent))
        }
    }

    private static func notAllowed(_ message: String) -> JobFailure {
        JobFailure("refused by --allow-dir: \(message)", code: "not_allowed", permanent: true)
    }

    /// How the child ended, as the queue sees it: the limits the worker
    /// enforced, the child's own failure line, or a crash.
    static func outcome(_ result: ChildProcess.Result, report: ChildReport, limits: TranscodeOptions, timeLimit: Double,
                        stallLimit: Double) -> JobOutcome {
        switch result.stop {
        case .timeLimit:
            return .failed(JobFailure("exceeded the time limit of \(Self.duration(timeLimit)); stopped", code: "timeout",
                                      permanent: true))
        case .stalled:
            return .failed(JobFailure("made no progress for \(Self.duration(stallLimit)) (stuck); stopped", code: "stalled",
                                      permanent: false))
        case .cancelled:
            return .stopped
        case nil:
            break
        }
        // The child's own account first: it knows what failed.
        if let failure = report.failureLine {
            return .failed(JobFailure(failure.error, code: failure.errorCode, permanent: failure.permanent))
        }
        if result.memoryLimitReached, let bytes = limits.maxMemory {
            return .failed(JobFailure("exceeded the memory limit of \(bytes >> 20) MiB", code: "memory_limit", permanent: true))
        }
        let message = result.lastErrorLine.map(Self.withoutPrefix)
        switch result.termination {
        case .exited(0):
            return .succeeded(result: nil, publication: nil)
        case .exited(75):
            return .failed(JobFailure(message ?? "temporary failure", code: "io_error", permanent: false))
        case .exited(let code):
            return .failed(JobFailure(message ?? "the transcoder exited with status \(code)", code: "transcode_failed",
                                      permanent: true))
        case .signalled(let signal):
            return .crashed(signal: signal, detail: message ?? "")
        }
    }

    public func discard(_ job: Job) {
        guard let transcode = transcode(job) else { return }
        TemporaryOutput.removeStale(for: transcode.output, tag: Self.tag(job))
    }

    public func recoverPublication(_ job: Job, token: String) -> Bool {
        guard let transcode = transcode(job), let recorded = PublicationToken(text: token) else { return false }
        if TemporaryResults.isPublished(output: transcode.output, identity: recorded.identity) { return true }
        guard let left = TemporaryResults.adopt(recorded.name, identity: recorded.identity, for: transcode.output) else {
            return false
        }
        do {
            try left.publish(overwrite: transcode.overwrite)
            return true
        } catch {
            left.discard()
            return false
        }
    }

    /// The box's roots (allowed folders, path-map targets) and the folders
    /// jobs could not find lately: the first that is missing, in words.
    public func healthProblem() -> String? {
        if let root = missingRoot() { return "\(DisplayText.escaped(root)) does not exist on this box" }
        return missing.recentlyMissing().first.map { "\(DisplayText.escaped($0)) does not exist on this box (a job's folder)" }
    }

    public func jobFoldersStillMissing() -> Bool {
        missing.anyMissing
    }

    private func missingRoot() -> String? {
        ((allowed?.paths ?? []) + pathMap.rules.map(\.to)).first { AllowedFolders.resolve($0) == nil }
    }

    /// The first of the job's folders that is missing here: a sign of this
    /// box's trouble (a mount gone), not of the job's.
    private func missingFolder(_ transcode: TranscodeJob) -> String? {
        if let root = missingRoot() { return root }
        return [transcode.input, transcode.output].map(OutputFolder.folder(of:)).first { AllowedFolders.resolve($0) == nil }
    }

    /// The child's one-line error without its `vqueue: error: ` prefix.
    static func withoutPrefix(_ line: String) -> String {
        for prefix in ["vqueue: error: ", "Error: "] where line.hasPrefix(prefix) {
            return String(line.dropFirst(prefix.count))
        }
        return line
    }

    static func duration(_ seconds: Double) -> String {
        seconds >= 120 ? "\(Int((seconds / 60).rounded())) min" : String(format: "%.0f s", seconds)
    }
}

/// What a publication is, as recorded before it is made: the temporary
/// file's name and identity, so that any worker can tell later whether OUT
/// is that file, or finish the rename.
struct PublicationToken: Equatable {
    let name: String
    let identity: FileIdentity

    init(_ file: any TemporaryResult) {
        name = file.name
        identity = file.identity
    }

    /// `DEVICE:INODE NAME`.
    var text: String { "\(identity.device):\(identity.inode) \(name)" }

    init?(text: String) {
        guard let space = text.firstIndex(of: " ") else { return nil }
        let numbers = text[..<space].split(separator: ":")
        guard numbers.count == 2, let device = UInt64(numbers[0]), let inode = UInt64(numbers[1]) else { return nil }
        identity = FileIdentity(device: device, inode: inode)
        name = String(text[text.index(after: space)...])
    }
}

/// An attempt's temporary file, handed from the task that ran the child to
/// the worker's loop that publishes it: never used by both at once.
private final class UnsharedFile: @unchecked Sendable {
    let file: any TemporaryResult
    init(_ file: any TemporaryResult) { self.file = file }
}

/// Folders jobs found missing on this box, until they are back. The box's
/// problem for a minute from when one was first missed; after that, a
/// folder still missing is the job's problem, not the box's (the worker
/// leaves that job to others and takes other jobs), but it is remembered
/// until it is back, so that its job stays left alone.
private final class MissingFolders: Sendable {
    private let folders = Mutex<[String: ContinuousClock.Instant]>([:])
    static let patience = Duration.seconds(60)

    func add(_ folder: String) {
        folders.withLock { $0[folder] = $0[folder] ?? .now }
    }

    /// Those still missing, first missed within the last minute.
    func recentlyMissing() -> [String] {
        let now = ContinuousClock.now
        return stillMissing().filter { now - $0.value < Self.patience }.map(\.key).sorted()
    }

    var anyMissing: Bool { !stillMissing().isEmpty }

    /// Those still missing; the ones back are forgotten.
    private func stillMissing() -> [String: ContinuousClock.Instant] {
        folders.withLock { folders in
            folders = folders.filter { AllowedFolders.resolve($0.key) == nil }
            return folders
        }
    }
}

/// What the child reported on stdout: what its checked output holds (on
/// the last progress line) or its failure line, set from the monitoring thread.
final class ChildReport: Sendable {
    private let lines = Mutex<(output: OutputFacts?, failure: TranscodeFailureLine?)>((nil, nil))

    func finished(_ facts: OutputFacts) { lines.withLock { $0.output = facts } }
    func failure(_ line: TranscodeFailureLine) { lines.withLock { $0.failure = line } }
    var output: OutputFacts? { lines.withLock { $0.output } }
    var failureLine: TranscodeFailureLine? { lines.withLock { $0.failure } }
}
