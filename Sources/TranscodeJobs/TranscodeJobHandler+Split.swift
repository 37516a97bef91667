import Foundation
import JobQueue
import Transcode

/// The steps of a split transcode (`submit --split`, `SplitStep`). A part
/// (a chunk, the audio) writes into the work folder beside OUT, which the
/// first part to run creates (`SplitWorkFolder`), under its attempt's
/// temporary name, renamed to the part's name when it has succeeded (its
/// publication, under the lease, as OUT's is). The whole runs the stitch
/// once every part has succeeded: it joins the parts into OUT's temporary
/// file, published as every output is, and then removes the work folder.
/// A whole or part cancelled removes the work folder (`discard`); one that
/// failed for good keeps it, so that `vqueue retry` redoes only what failed.
extension TranscodeJobHandler {
    /// The whole's id: a part's parent, or the whole itself.
    static func wholeID(_ job: Job) -> Int64 { job.parentID ?? job.id }

    func runSplit(_ step: SplitStep, of transcode: TranscodeJob, job: Job,
                  progress: @escaping @Sendable (JobProgress) -> Void) async -> JobOutcome {
        let opened: (input: InputFile?, folder: OutputFolder)
        switch openChecked(transcode, input: step.partName != nil) {
        case .failure(let failure): return .failed(failure)
        case .success(let checked): opened = checked
        }
        let name = transcode.workFolderName(wholeID: Self.wholeID(job), limit: opened.folder.maximumNameBytes)
        let tag = Self.tag(job)
        if let part = step.partName, let input = opened.input {
            return await runPart(part, step: step, transcode, job: job, input: input, folder: opened.folder, workFolder: name, tag: tag,
                                 progress: progress)
        }
        return await runStitch(step, transcode, job: job, folder: opened.folder, workFolder: name, tag: tag, progress: progress)
    }

    /// A chunk or the audio into the work folder.
    private func runPart(_ part: String, step: SplitStep, _ transcode: TranscodeJob, job: Job, input: InputFile, folder: OutputFolder,
                         workFolder name: String, tag: String, progress: @escaping @Sendable (JobProgress) -> Void) async -> JobOutcome {
        let work: SplitWorkFolder
        let output: Int32
        do {
            work = try SplitWorkFolder(named: name, in: folder, creating: true)
            output = try work.create(part, tag: tag)
        } catch {
            return .failed(JobFailure(error.description, code: error.code, permanent: error.isPermanent))
        }
        let seconds = if case .audio(let seconds) = step { seconds } else { job.weight }
        let (limited, timeLimit) = limitedOptions(transcode, mediaSeconds: seconds)
        let child = ChildRun(handler: self, options: limited, timeLimit: timeLimit, arguments: [
            "transcode", transcode.input, transcode.output, "--format", transcode.container.rawValue,
            "--input-fd", "3", "--output-fd", "4", "--split-step", Self.encoded(step),
        ], descriptors: [input.descriptor, output])
        let (outcome, _) = await child.run(progress: progress)
        close(output)
        guard case .succeeded = outcome, !Task.isCancelled else {
            work.discard(part, tag: tag)
            return Task.isCancelled ? .stopped : outcome
        }
        let folder = UnsharedFolder(work)
        return .succeeded(result: nil, publication: Publication(token: Self.partToken(part, tag: tag)) {
            do throws(TranscodeError) {
                try folder.work.publish(part, tag: tag)
            } catch {
                folder.work.discard(part, tag: tag)
                throw JobFailure(error.description, code: error.code, permanent: error.isPermanent)
            }
        })
    }

    /// The parts joined into OUT; the work folder removed once OUT is in place.
    private func runStitch(_ step: SplitStep, _ transcode: TranscodeJob, job: Job, folder: OutputFolder, workFolder name: String,
                           tag: String, progress: @escaping @Sendable (JobProgress) -> Void) async -> JobOutcome {
        if let refusal = refusal(writing: transcode.output, overwrite: transcode.overwrite) { return .failed(refusal) }
        let work: SplitWorkFolder
        let temporary: any TemporaryResult
        do {
            work = try SplitWorkFolder(named: name, in: folder, creating: false)
            if case .stitch(let chunks, let audio) = step {
                let missing = (0..<chunks).map(SplitStep.chunkName) + (audio ? [SplitStep.audioName] : [])
                if let absent = missing.first(where: { !work.holds($0) }) {
                    return .failed(JobFailure("\(absent) is missing from the work folder \(DisplayText.escaped(name)) (removed by hand?); "
                                              + "nothing was joined", code: "part_missing", permanent: true))
                }
            }
            temporary = try TemporaryResults.create(for: transcode.output, container: transcode.container, tag: tag, in: folder)
        } catch {
            return .failed(JobFailure(error.description, code: error.code, permanent: error.isPermanent))
        }
        let (limited, timeLimit) = limitedOptions(transcode, mediaSeconds: job.weight)
        let child = ChildRun(handler: self, options: limited, timeLimit: timeLimit, arguments: [
            "transcode", transcode.input, transcode.output, "--format", transcode.container.rawValue,
            "--output-fd", "3", "--parts-fd", "4", "--split-step", Self.encoded(step),
        ], descriptors: [temporary.descriptor, work.descriptor])
        let (outcome, report) = await child.run(progress: progress)
        guard case .succeeded = outcome, !Task.isCancelled else {
            temporary.discard()
            return Task.isCancelled ? .stopped : outcome
        }
        let submitted = TranscodeJob.decode(job.payload) ?? transcode
        let summary = report.output.flatMap {
            TranscodeResult(output: submitted.output, container: transcode.container, facts: $0).encoded()
        }
        let result = UnsharedResult(temporary, folder: folder)
        let overwrite = transcode.overwrite
        let output = transcode.output
        return .succeeded(result: summary, publication: Publication(token: PublicationToken(temporary).text) {
            do throws(TranscodeError) {
                try result.file.publish(overwrite: overwrite)
            } catch {
                result.file.discard()
                if case .outputAppeared = error {
                    throw JobFailure("\(DisplayText.escaped(output)) appeared after the job was queued and was left as it is; "
                                     + "nothing was published (submit with --overwrite to replace it)", code: "output_exists",
                                     permanent: true)
                }
                throw JobFailure(error.description, code: error.code, permanent: error.isPermanent)
            }
            SplitWorkFolder.remove(named: name, in: result.folder)
        })
    }

    /// What a split step's attempt leaves when it will not be published: its
    /// temporary part or OUT; and when the job was cancelled, the work folder.
    func discardSplit(_ step: SplitStep, of transcode: TranscodeJob, job: Job) {
        guard let folder = try? OutputFolder(containing: transcode.output) else { return }
        let name = transcode.workFolderName(wholeID: Self.wholeID(job), limit: folder.maximumNameBytes)
        if let part = step.partName {
            (try? SplitWorkFolder(named: name, in: folder, creating: false))?.discard(part, tag: Self.tag(job))
        } else {
            TemporaryOutput.removeStale(for: transcode.output, tag: Self.tag(job))
        }
        if job.state == .cancelled { SplitWorkFolder.remove(named: name, in: folder) }
    }

    /// Finishes a part's publication that a dead worker recorded: the
    /// attempt's file renamed to the part's name (a part redone is the same
    /// part: the same pictures, encoded alike).
    func recoverPart(_ token: String, of transcode: TranscodeJob, job: Job) -> Bool {
        guard let folder = try? OutputFolder(containing: transcode.output),
              let work = try? SplitWorkFolder(named: transcode.workFolderName(wholeID: Self.wholeID(job), limit: folder.maximumNameBytes),
                                              in: folder, creating: false),
              let (part, tag) = Self.part(fromToken: token) else { return false }
        if work.holds(SplitWorkFolder.temporaryName(part, tag: tag)) {
            return (try? work.publish(part, tag: tag)) != nil
        }
        return work.holds(part)
    }

    /// After a dead worker's stitch was published, the work folder goes.
    func removeWorkFolder(of transcode: TranscodeJob, job: Job) {
        guard let folder = try? OutputFolder(containing: transcode.output) else { return }
        SplitWorkFolder.remove(named: transcode.workFolderName(wholeID: Self.wholeID(job), limit: folder.maximumNameBytes), in: folder)
    }

    static func encoded(_ step: SplitStep) -> String {
        String(decoding: (try? JSONEncoder().encode(step)) ?? Data(), as: UTF8.self)
    }

    /// `part PART TAG`: a part's publication, as recorded.
    static func partToken(_ part: String, tag: String) -> String { "part \(part) \(tag)" }

    static func part(fromToken token: String) -> (part: String, tag: String)? {
        let words = token.split(separator: " ")
        guard words.count == 3, words[0] == "part" else { return nil }
        return (String(words[1]), String(words[2]))
    }
}

/// A part's work folder, handed from the task that ran the child to the
/// worker's loop that publishes the part: never used by both at once.
private final class UnsharedFolder: @unchecked Sendable {
    let work: SplitWorkFolder
    init(_ work: SplitWorkFolder) { self.work = work }
}

/// The stitch's temporary OUT, handed over the same way.
private final class UnsharedResult: @unchecked Sendable {
    let file: any TemporaryResult
    let folder: OutputFolder
    init(_ file: any TemporaryResult, folder: OutputFolder) {
        self.file = file
        self.folder = folder
    }
}
