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
/// through, and the child gets both as descriptors 3 and 4; a single file's
/// companions (its poster, its storyboard) get a temporary folder beside
/// OUT, descriptor 5, published with OUT (`TemporaryCompanions`). It reads
/// and writes nothing else. The worker enforces the job's time limit, notices
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
        if let step = transcode.split { return await runSplit(step, of: transcode, job: job, progress: progress) }
        let files: JobFiles
        switch open(transcode, for: job, input: true) {
        case .failure(let failure): return .failed(failure)
        case .success(let opened): files = opened
        }
        guard let input = files.input else { return .failed(JobFailure("the input was not opened", code: "io_error", permanent: false)) }
        let (limited, timeLimit) = limitedOptions(transcode, mediaSeconds: job.weight)
        let child = ChildRun(handler: self, options: limited, timeLimit: timeLimit, arguments: [
            "transcode", transcode.input, transcode.output, "--format", transcode.container.rawValue,
            "--input-fd", "3", "--output-fd", "4",
        ] + (files.companions == nil ? [] : ["--companions-fd", "5"]),
           descriptors: [input.descriptor, files.temporary.descriptor] + (files.companions.map { [$0.descriptor] } ?? []))
        let (outcome, report) = await child.run(progress: progress)
        return published(outcome, report: report, files: files, transcode: transcode, job: job)
    }

    /// What the child's outcome comes to: a success is published (OUT and
    /// its companions, never over an OUT that appeared), and then
    /// `afterwards` runs with OUT's folder; anything else leaves nothing.
    func published(_ outcome: JobOutcome, report: ChildReport, files: JobFiles, transcode: TranscodeJob, job: Job,
                   afterwards: (@Sendable (OutputFolder) -> Void)? = nil) -> JobOutcome {
        guard case .succeeded = outcome, !Task.isCancelled else {
            files.discard()
            return Task.isCancelled ? .stopped : outcome
        }
        // The companions the result lists are those this worker found made
        // and will publish, not what the child said.
        var facts = report.output
        do {
            if let written = try files.companions?.inventory() { facts?.companions = written }
        } catch {
            files.discard()
            return .failed(JobFailure(error.description, code: error.code, permanent: error.isPermanent))
        }
        let unshared = UnsharedFiles(files)
        let overwrite = transcode.overwrite
        // The result names OUT as it was submitted, not as this box's --path-map sees it.
        let submitted = TranscodeJob.decode(job.payload) ?? transcode
        let summary = facts.flatMap {
            TranscodeResult(output: submitted.output, container: transcode.container, facts: $0).encoded()
        }
        let token = PublicationToken(files.temporary, companions: files.companions)
        return .succeeded(result: summary, publication: Publication(token: token.text) {
            do throws(TranscodeError) {
                if let companions = unshared.files.companions {
                    try companions.publish(with: unshared.files.temporary, overwrite: overwrite)
                } else {
                    try unshared.files.temporary.publish(overwrite: overwrite)
                }
            } catch {
                unshared.files.discard()
                switch error {
                case .outputAppeared, .companionAppeared:
                    let what = if case .companionAppeared(let path) = error { path } else { transcode.output }
                    throw JobFailure("\(DisplayText.escaped(what)) appeared after the job was queued and was left as it is; "
                                     + "nothing was published (submit with --overwrite to replace it)", code: "output_exists",
                                     permanent: true)
                default:
                    throw JobFailure(error.description, code: error.code, permanent: error.isPermanent)
                }
            }
            afterwards?(unshared.files.folder)
        })
    }

    /// What an attempt opens, checked: the input, the temporary output in
    /// OUT's folder, and the temporary folder of a single file's companions.
    struct JobFiles {
        /// Nil for a split job's stitch, which reads the parts.
        let input: InputFile?
        let folder: OutputFolder
        let temporary: any TemporaryResult
        let companions: TemporaryCompanions?

        /// Removes what the attempt created (it will not be published).
        func discard() {
            temporary.discard()
            companions?.discard()
        }
    }

    /// The job's options with the box's thread count and its ceilings, and its time limit.
    func limitedOptions(_ transcode: TranscodeJob, mediaSeconds: Double) -> (options: TranscodeOptions, timeLimit: Double) {
        var options = transcode.options
        if let threadsPerJob { options.threads = threadsPerJob }
        return limits.applied(to: options, mediaSeconds: mediaSeconds)
    }

    func open(_ transcode: TranscodeJob, for job: Job, input wanted: Bool) -> Result<JobFiles, JobFailure> {
        let input: InputFile?
        let folder: OutputFolder
        switch openChecked(transcode, input: wanted) {
        case .failure(let failure): return .failure(failure)
        case .success(let opened): (input, folder) = (opened.input, opened.folder)
        }
        let companions = transcode.container.isFolder ? [] : CompanionFile.all(for: transcode.output, options: transcode.options)
        for path in [transcode.output] + companions.map({ $0.path(beside: transcode.output) }) {
            if let refusal = refusal(writing: path, overwrite: transcode.overwrite) { return .failure(refusal) }
        }
        let temporary: any TemporaryResult
        do {
            temporary = try TemporaryResults.create(for: transcode.output, container: transcode.container, tag: Self.tag(job), in: folder)
        } catch {
            return .failure(JobFailure(error.description, code: error.code, permanent: error.isPermanent))
        }
        do {
            let made = companions.isEmpty ? nil
                : try TemporaryCompanions(for: transcode.output, tag: Self.tag(job), companions: companions, in: folder)
            return .success(JobFiles(input: input, folder: folder, temporary: temporary, companions: made))
        } catch {
            temporary.discard()
            return .failure(JobFailure(error.description, code: error.code, permanent: error.isPermanent))
        }
    }

    /// The input (when `input`) and OUT's folder, opened and judged by what
    /// was opened: the very file and folder submitted, inside the allowed
    /// folders after every symlink.
    func openChecked(_ transcode: TranscodeJob, input wanted: Bool) -> Result<(input: InputFile?, folder: OutputFolder), JobFailure> {
        let input: InputFile?
        let folder: OutputFolder
        do {
            input = wanted ? try InputFile(path: transcode.input) : nil
            folder = try OutputFolder(containing: transcode.output)
        } catch {
            return .failure(JobFailure(error.description, code: error.code, permanent: error.isPermanent))
        }
        // What was opened is what is judged: a name swapped for a symlink
        // after any earlier look changes nothing.
        if let input, !transcode.isSubmittedInput(input) {
            return .failure(JobFailure("\(DisplayText.escaped(transcode.input)) is not the file that was submitted (it was "
                                       + "replaced since); refusing to transcode it", code: "input_replaced", permanent: true))
        }
        if !transcode.isSubmittedFolder(folder) {
            return .failure(JobFailure("\(DisplayText.escaped(OutputFolder.folder(of: transcode.output))) is not the folder that "
                                       + "was submitted (it was replaced since); refusing to write there",
                                       code: "output_folder_replaced", permanent: true))
        }
        if let allowed {
            if let input, !allowed.contains(resolved: input.realPath) {
                return .failure(Self.notAllowed("\(DisplayText.escaped(transcode.input)) is outside the allowed folders (\(allowed.list))"))
            }
            if !allowed.contains(resolved: folder.realPath) {
                return .failure(Self.notAllowed("\(DisplayText.escaped(transcode.output)) is outside the allowed folders (\(allowed.list))"))
            }
        }
        return .success((input, folder))
    }

    /// Why the attempt must not write `path` (OUT, or a companion of it),
    /// or nil: a symbolic link is never written through or over, and a
    /// file that appeared since the submit is kept unless `overwrite`.
    func refusal(writing path: String, overwrite: Bool) -> JobFailure? {
        guard let status = FileIdentity.status(path: path, followingSymlink: false) else { return nil }
        if status.st_mode & S_IFMT == S_IFLNK {
            let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? "?"
            let outside = allowed.map { allowed in
                AllowedFolders.resolve(path).map { !allowed.contains(resolved: $0) } ?? true
            } ?? false
            return outside
                ? Self.notAllowed("\(DisplayText.escaped(path)) is a link to \(DisplayText.escaped(target)), outside the allowed folders")
                : JobFailure("\(DisplayText.escaped(path)) is a symbolic link (to \(DisplayText.escaped(target))); "
                             + "vqueue never writes through or over a link", code: "output_is_link", permanent: true)
        }
        if overwrite { return nil }
        return JobFailure("\(DisplayText.escaped(path)) appeared after the job was queued and was "
                          + "left as it is (submit with --overwrite to replace it)", code: "output_exists", permanent: true)
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
        if let step = transcode.split { return discardSplit(step, of: transcode, job: job) }
        TemporaryOutput.removeStale(for: transcode.output, tag: Self.tag(job))
    }

    /// Finishes a dead worker's publication from its token. A single file's
    /// companions are published before OUT, so an OUT in place means they
    /// are too, and only their temporary folder is left to remove. Else
    /// the publication is made again from where it stopped (companions
    /// already moved count as placed); if it cannot be, the companions the
    /// dead worker had moved are taken back, so that the retry finds their
    /// names free.
    public func recoverPublication(_ job: Job, token: String) -> Bool {
        guard let transcode = transcode(job) else { return false }
        if let step = transcode.split {
            if step.partName != nil { return recoverPart(token, of: transcode, job: job) }
            var whole = transcode
            whole.split = nil
            guard recoverOutput(job, whole, token: token) else { return false }
            removeWorkFolder(of: transcode, job: job)
            return true
        }
        return recoverOutput(job, transcode, token: token)
    }

    private func recoverOutput(_ job: Job, _ transcode: TranscodeJob, token: String) -> Bool {
        guard let recorded = PublicationToken(text: token) else { return false }
        let asked = CompanionFile.all(for: transcode.output, options: transcode.options)
        let adopted = recorded.companions.flatMap {
            TemporaryCompanions(adopting: $0.folder, identity: $0.identity, for: transcode.output, companions: asked, recorded: $0.files)
        }
        if TemporaryResults.isPublished(output: transcode.output, identity: recorded.identity) {
            adopted?.discard()
            return true
        }
        guard let left = TemporaryResults.adopt(recorded.name, identity: recorded.identity, for: transcode.output),
              recorded.companions == nil || adopted != nil else {
            if let files = recorded.companions?.files { TemporaryCompanions.withdraw(asked, recorded: files, for: transcode.output) }
            return false
        }
        do {
            if let adopted {
                try adopted.publish(with: left, overwrite: transcode.overwrite)
            } else {
                try left.publish(overwrite: transcode.overwrite)
            }
            return true
        } catch {
            left.discard()
            adopted?.discard()
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
/// is that file, or finish the rename; and a single file's companions: the
/// temporary folder's name and identity, and each file in it to publish.
struct PublicationToken: Equatable {
    let name: String
    let identity: FileIdentity
    var companions: Companions?

    struct Companions: Codable, Equatable {
        let folder: String
        let identity: FileIdentity
        /// By their names in the folder (`poster.jpg`).
        let files: [String: FileIdentity]
    }

    init(_ file: any TemporaryResult, companions: TemporaryCompanions? = nil) {
        name = file.name
        identity = file.identity
        self.companions = companions.map { companions in
            Companions(folder: companions.name, identity: companions.identity,
                       files: Dictionary(companions.made.map { ($0.companion.file, $0.identity) }, uniquingKeysWith: { first, _ in first }))
        }
    }

    /// The JSON form's fields.
    private struct Recorded: Codable {
        let name: String
        let identity: FileIdentity
        let companions: Companions
    }

    /// `DEVICE:INODE NAME` (as workers of earlier releases recorded it);
    /// with companions, a JSON object.
    var text: String {
        guard let companions else { return "\(identity.device):\(identity.inode) \(name)" }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(Recorded(name: name, identity: identity, companions: companions))) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    init?(text: String) {
        if text.hasPrefix("{") {
            guard let recorded = try? JSONDecoder().decode(Recorded.self, from: Data(text.utf8)) else { return nil }
            name = recorded.name
            identity = recorded.identity
            companions = recorded.companions
            return
        }
        guard let space = text.firstIndex(of: " ") else { return nil }
        let numbers = text[..<space].split(separator: ":")
        guard numbers.count == 2, let device = UInt64(numbers[0]), let inode = UInt64(numbers[1]) else { return nil }
        identity = FileIdentity(device: device, inode: inode)
        name = String(text[text.index(after: space)...])
    }
}

/// An attempt's files, handed from the task that ran the child to the
/// worker's loop that publishes them: never used by both at once.
private final class UnsharedFiles: @unchecked Sendable {
    let files: TranscodeJobHandler.JobFiles
    init(_ files: TranscodeJobHandler.JobFiles) { self.files = files }
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
