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
/// failed for good keeps it, so that `vqueue retry` redoes only what failed,
/// until `vqueue prune` deletes the job (`removeKeptParts`).
extension TranscodeJobHandler {
    /// The whole's id: a part's parent, or the whole itself.
    static func wholeID(_ job: Job) -> Int64 { job.parentID ?? job.id }

    func runSplit(_ step: SplitStep, of transcode: TranscodeJob, job: Job,
                  progress: @escaping @Sendable (JobProgress) -> Void) async -> JobOutcome {
        guard !step.partNames.isEmpty else { return await runStitch(step, transcode, job: job, progress: progress) }
        let opened: (input: InputFile?, folder: OutputFolder)
        switch openChecked(transcode, input: true) {
        case .failure(let failure): return .failed(failure)
        case .success(let checked): opened = checked
        }
        guard let input = opened.input else { return .failed(JobFailure("the input was not opened", code: "io_error", permanent: false)) }
        let name = transcode.workFolderName(wholeID: Self.wholeID(job), limit: opened.folder.maximumNameBytes)
        return await runPart(step, transcode, job: job, input: input, folder: opened.folder, workFolder: name, tag: Self.tag(job),
                             progress: progress)
    }

    /// A chunk (and its share of the still pictures) or the audio into the
    /// work folder.
    private func runPart(_ step: SplitStep, _ transcode: TranscodeJob, job: Job, input: InputFile, folder: OutputFolder,
                         workFolder name: String, tag: String, progress: @escaping @Sendable (JobProgress) -> Void) async -> JobOutcome {
        let parts = step.partNames
        let work: SplitWorkFolder
        var outputs: [Int32] = []
        defer { for fd in outputs { close(fd) } }
        do {
            work = try SplitWorkFolder(named: name, in: folder, creating: true)
        } catch {
            return .failed(JobFailure(error.description, code: error.code, permanent: error.isPermanent))
        }
        do {
            for part in parts { outputs.append(try work.create(part, tag: tag)) }
        } catch {
            for part in parts { work.discard(part, tag: tag) }
            return .failed(JobFailure(error.description, code: error.code, permanent: error.isPermanent))
        }
        let seconds = if case .audio(let seconds) = step { seconds } else { job.weight }
        let (limited, timeLimit) = limitedOptions(transcode, mediaSeconds: seconds)
        // The part itself is the last name: descriptor 4; a chunk's still pictures, 5.
        let child = ChildRun(handler: self, options: limited, timeLimit: timeLimit, arguments: [
            "transcode", transcode.input, transcode.output, "--format", transcode.container.rawValue,
            "--input-fd", "3", "--output-fd", "4", "--split-step", Self.encoded(step),
        ] + (parts.count > 1 ? ["--stills-fd", "5"] : []),
           descriptors: [input.descriptor, outputs[outputs.count - 1]] + outputs.dropLast())
        let (outcome, _) = await child.run(progress: progress)
        guard case .succeeded = outcome, !Task.isCancelled else {
            for part in parts { work.discard(part, tag: tag) }
            return Task.isCancelled ? .stopped : outcome
        }
        let folder = UnsharedFolder(work)
        return .succeeded(result: nil, publication: Publication(token: Self.partToken(parts, tag: tag)) {
            do throws(TranscodeError) {
                // The part last: the stitch takes a part as done when it is there.
                for part in parts { try folder.work.publish(part, tag: tag) }
            } catch {
                for part in parts { folder.work.discard(part, tag: tag) }
                throw JobFailure(error.description, code: error.code, permanent: error.isPermanent)
            }
        })
    }

    /// The parts joined into OUT (with a single file's companions); the
    /// work folder removed once OUT is in place.
    private func runStitch(_ step: SplitStep, _ transcode: TranscodeJob, job: Job,
                           progress: @escaping @Sendable (JobProgress) -> Void) async -> JobOutcome {
        let files: JobFiles
        switch open(transcode, for: job, input: false) {
        case .failure(let failure): return .failed(failure)
        case .success(let opened): files = opened
        }
        let name = transcode.workFolderName(wholeID: Self.wholeID(job), limit: files.folder.maximumNameBytes)
        let work: SplitWorkFolder
        do {
            work = try SplitWorkFolder(named: name, in: files.folder, creating: false)
            if case .stitch(let chunks, let audio, let stills) = step {
                let missing = (0..<chunks).flatMap { stills == nil ? [SplitStep.chunkName($0)] : [SplitStep.stillsName($0), SplitStep.chunkName($0)] }
                    + (audio ? [SplitStep.audioName] : [])
                if let absent = missing.first(where: { !work.holds($0) }) {
                    files.discard()
                    return .failed(JobFailure("\(absent) is missing from the work folder \(DisplayText.escaped(name)) (removed by hand?); "
                                              + "nothing was joined", code: "part_missing", permanent: true))
                }
            }
        } catch {
            files.discard()
            return .failed(JobFailure(error.description, code: error.code, permanent: error.isPermanent))
        }
        let (limited, timeLimit) = limitedOptions(transcode, mediaSeconds: job.weight)
        let child = ChildRun(handler: self, options: limited, timeLimit: timeLimit, arguments: [
            "transcode", transcode.input, transcode.output, "--format", transcode.container.rawValue,
            "--output-fd", "3", "--parts-fd", "4", "--split-step", Self.encoded(step),
        ] + (files.companions == nil ? [] : ["--stills-fd", "5"]),
           descriptors: [files.temporary.descriptor, work.descriptor] + (files.companions.map { [$0.descriptor] } ?? []))
        let (outcome, report) = await child.run(progress: progress)
        return published(outcome, report: report, files: files, transcode: transcode, job: job) { folder in
            SplitWorkFolder.remove(named: name, in: folder)
        }
    }

    /// What a split step's attempt leaves when it will not be published: its
    /// temporary part or OUT; and when the job was cancelled, the work folder.
    func discardSplit(_ step: SplitStep, of transcode: TranscodeJob, job: Job) {
        guard let folder = try? OutputFolder(containing: transcode.output) else { return }
        let name = transcode.workFolderName(wholeID: Self.wholeID(job), limit: folder.maximumNameBytes)
        if step.partName != nil {
            let work = try? SplitWorkFolder(named: name, in: folder, creating: false)
            for part in step.partNames { work?.discard(part, tag: Self.tag(job)) }
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
              let (parts, tag) = Self.parts(fromToken: token) else { return false }
        for part in parts where work.holds(SplitWorkFolder.temporaryName(part, tag: tag)) {
            guard (try? work.publish(part, tag: tag)) != nil else { return false }
        }
        return parts.allSatisfy(work.holds)
    }

    /// After a dead worker's stitch was published, the work folder goes.
    func removeWorkFolder(of transcode: TranscodeJob, job: Job) {
        guard let folder = try? OutputFolder(containing: transcode.output) else { return }
        SplitWorkFolder.remove(named: transcode.workFolderName(wholeID: Self.wholeID(job), limit: folder.maximumNameBytes), in: folder)
    }

    /// What a failed split job kept for its retry, once it can no longer be
    /// retried (`vqueue prune` deleted it): its work folder beside OUT, as
    /// this box sees OUT, if it is one this user made (`SplitWorkFolder`'s
    /// check: a folder, not a link, this user's own, closed to others).
    public static func removeKeptParts(of job: Job) {
        guard job.kind == TranscodeJob.kind, let transcode = TranscodeJob.decode(job.payload), case .stitch = transcode.split,
              let folder = try? OutputFolder(containing: transcode.output) else { return }
        let name = transcode.workFolderName(wholeID: job.id, limit: folder.maximumNameBytes)
        guard (try? SplitWorkFolder(named: name, in: folder, creating: false)) != nil else { return }
        SplitWorkFolder.remove(named: name, in: folder)
    }

    static func encoded(_ step: SplitStep) -> String {
        String(decoding: (try? JSONEncoder().encode(step)) ?? Data(), as: UTF8.self)
    }

    /// `part PART[,PART] TAG`: a part's publication (its files, the part
    /// itself last), as recorded.
    static func partToken(_ parts: [String], tag: String) -> String { "part \(parts.joined(separator: ",")) \(tag)" }

    static func parts(fromToken token: String) -> (parts: [String], tag: String)? {
        let words = token.split(separator: " ")
        guard words.count == 3, words[0] == "part" else { return nil }
        return (words[1].split(separator: ",").map(String.init), String(words[2]))
    }
}

/// A part's work folder, handed from the task that ran the child to the
/// worker's loop that publishes the part: never used by both at once.
private final class UnsharedFolder: @unchecked Sendable {
    let work: SplitWorkFolder
    init(_ work: SplitWorkFolder) { self.work = work }
}
