import Foundation
import JobQueue
import Transcode

/// One attempt's child (`vqueue transcode … --progress-json`) run under the
/// worker's limits: the job's options passed as JSON, the descriptors the
/// worker opened handed down (3, 4, …, in order), its progress lines passed
/// on, and how it ended turned into the attempt's outcome.
struct ChildRun {
    let handler: TranscodeJobHandler
    /// The job's options, limited (`TranscodeJobHandler.limitedOptions`).
    let options: TranscodeOptions
    let timeLimit: Double
    /// `transcode IN OUT …`, without the progress and options arguments.
    let arguments: [String]
    let descriptors: [Int32]

    /// Runs the child to its end: the outcome (`succeeded` without a
    /// result: the caller adds it), and what the child reported.
    func run(progress: @escaping @Sendable (JobProgress) -> Void) async -> (outcome: JobOutcome, report: ChildReport) {
        let optionsJSON = String(decoding: (try? JSONEncoder().encode(options)) ?? Data("{}".utf8), as: UTF8.self)
        // The supervisor's own limit comes a little after the child's, which
        // stops itself with a clean message when it can.
        let child = ChildProcess(executable: handler.executable,
                                 arguments: arguments + ["--progress-json", "--options-json", optionsJSON],
                                 inheritedDescriptors: descriptors,
                                 timeLimit: .milliseconds(Int64((timeLimit + 5) * 1000)),
                                 stallLimit: .milliseconds(Int64(handler.limits.stallLimit * 1000)),
                                 memoryLimit: options.maxMemory)
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
            return (.failed(JobFailure("could not start the transcoder: \(error)", code: "spawn_failed", permanent: false)), report)
        }
        if Task.isCancelled { return (.stopped, report) }
        return (TranscodeJobHandler.outcome(result, report: report, limits: options, timeLimit: timeLimit,
                                            stallLimit: handler.limits.stallLimit), report)
    }
}
