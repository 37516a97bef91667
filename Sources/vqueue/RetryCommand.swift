import ArgumentParser
import JobQueue
import Transcode

struct RetryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry",
        abstract: "Queue a failed or cancelled job (or a batch's failed jobs) again, with fresh attempts.",
        discussion: """
        Exit status: 0 queued again, 1 the job is not failed or cancelled, 4 no such job.

        Examples:
          vqueue retry 42
          vqueue retry --batch 7
        """)

    @OptionGroup
    var target: JobOrBatch

    @OptionGroup(title: "Queue")
    var queueOptions: QueueOptions

    func run() async throws {
        let store = try await queueOptions.openStore()
        if let batch = target.batch {
            try await JobOrBatch.printBatch(batch, store.retryBatch)
            return
        }
        guard let id = target.id else { return }
        guard let before = try await store.job(id: id) else {
            throw CommandFailure.report("job \(id)", "no such job", exitCode: noSuchJobExitCode)
        }
        guard before.state == .failed || before.state == .cancelled else {
            throw CommandFailure.report("job \(id)", "is \(before.state.rawValue); only failed or cancelled jobs can be retried")
        }
        let job: Job?
        do {
            job = try await store.retry(id: id)
        } catch let busy as JobStoreError {
            throw CommandFailure.report("job \(id)", "not retried: \(DisplayText.escaped(busy.description))")
        }
        guard let job, job.state == .queued else {
            throw CommandFailure.report("job \(id)", "changed state meanwhile; not retried")
        }
        print(JobReport(job).line)
    }
}
