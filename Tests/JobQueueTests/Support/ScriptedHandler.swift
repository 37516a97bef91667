import Foundation
import Synchronization
@testable import JobQueue

/// A `JobHandler` whose attempts do what the test scripted, and which remembers what the
/// worker asked of it: attempts started, attempts cancelled, leftovers discarded, publications
/// recovered.
final class ScriptedHandler: JobHandler {
    /// What one attempt does.
    enum Step: Sendable {
        /// Succeeds at once, recording success directly.
        case succeed(result: String?)
        /// Succeeds with a publication: `publish` runs in the worker between its two records.
        case publish(token: String, result: String?, publish: @Sendable () throws -> Void)
        case fail(JobFailure)
        /// The attempt's process was killed by `signal`.
        case crash(signal: Int32)
        /// This box cannot run the job now; from then on `healthProblem()` says so too (the
        /// folder is missing for every job), until the test clears it.
        case unavailableHere(String)
        /// Runs until its task is cancelled, then reports `.stopped`.
        case blockUntilCancelled
        /// Works for `duration` (or until cancelled: `.stopped`), then does `then`.
        case work(Duration, then: @Sendable () -> Step)
        /// Waits for the gate to open (or the task to be cancelled: `.stopped`), then does `then`.
        case wait(Gate, then: @Sendable () -> Step)
    }

    /// What attempt number `attempt` of job `job` does.
    typealias Script = @Sendable (_ job: Job) -> Step

    private let script: Script
    private let record = Mutex(Record())
    private let problem = Mutex<String?>(nil)
    private let foldersMissing = Mutex(false)
    /// Whether a recovered publication is found in place.
    private let publicationsInPlace = Mutex(true)

    struct Record: Sendable {
        var started: [LeasedJob] = []
        var cancelled: [LeasedJob] = []
        var discarded: [LeasedJob] = []
        var recovered: [(job: LeasedJob, token: String)] = []
    }

    init(_ script: @escaping Script) {
        self.script = script
    }

    var started: [LeasedJob] { record.withLock { $0.started } }
    var cancelled: [LeasedJob] { record.withLock { $0.cancelled } }
    var discarded: [LeasedJob] { record.withLock { $0.discarded } }
    var recovered: [(job: LeasedJob, token: String)] { record.withLock { $0.recovered } }

    /// Whether `recoverPublication` finds the result in place (true) or lost (false) from now on.
    func setPublicationsInPlace(_ inPlace: Bool) {
        publicationsInPlace.withLock { $0 = inPlace }
    }

    /// What `healthProblem()` answers from now on.
    func setHealthProblem(_ text: String?) {
        problem.withLock { $0 = text }
    }

    func run(_ job: Job, progress: @escaping @Sendable (JobProgress) -> Void) async -> JobOutcome {
        record.withLock { $0.started.append(job.lease) }
        progress(JobProgress(fraction: 0.1))
        return await perform(script(job), job)
    }

    private func perform(_ step: Step, _ job: Job) async -> JobOutcome {
        switch step {
        case .succeed(let result):
            return .succeeded(result: result, publication: nil)
        case .publish(let token, let result, let publish):
            return .succeeded(result: result, publication: Publication(token: token, publish: publish))
        case .fail(let failure):
            return .failed(failure)
        case .crash(let signal):
            return .crashed(signal: signal, detail: "killed in test")
        case .unavailableHere(let reason):
            problem.withLock { $0 = reason }
            return .unavailableHere(reason)
        case .blockUntilCancelled:
            while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(5)) }
            record.withLock { $0.cancelled.append(job.lease) }
            return .stopped
        case .work(let duration, let then):
            try? await Task.sleep(for: duration)
            if Task.isCancelled {
                record.withLock { $0.cancelled.append(job.lease) }
                return .stopped
            }
            return await perform(then(), job)
        case .wait(let gate, let then):
            while !gate.isOpen {
                if Task.isCancelled {
                    record.withLock { $0.cancelled.append(job.lease) }
                    return .stopped
                }
                try? await Task.sleep(for: .milliseconds(5))
            }
            return await perform(then(), job)
        }
    }

    func discard(_ job: Job) {
        record.withLock { $0.discarded.append(job.lease) }
    }

    func recoverPublication(_ job: Job, token: String) -> Bool {
        record.withLock { $0.recovered.append((job.lease, token)) }
        return publicationsInPlace.withLock { $0 }
    }

    func healthProblem() -> String? {
        problem.withLock { $0 }
    }

    /// What `jobFoldersStillMissing()` answers from now on: a folder gone for long, no longer
    /// the box's problem, but its job's.
    func setFoldersStillMissing(_ missing: Bool) {
        foldersMissing.withLock { $0 = missing }
    }

    func jobFoldersStillMissing() -> Bool {
        foldersMissing.withLock { $0 }
    }
}
