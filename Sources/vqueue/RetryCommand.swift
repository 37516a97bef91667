import ArgumentParser
import JobQueue

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

    @Argument(help: "The job id.")
    var id: Int64?

    @Option(help: ArgumentHelp("Queue this batch's failed jobs again.", valueName: "id"))
    var batch: Int64?

    @OptionGroup(title: "Queue")
    var queueOptions: QueueOptions

    func validate() throws {
        if (id == nil) == (batch == nil) { throw ValidationError("give a job id, or --batch ID.") }
    }

    func run() async throws {
        let store = try queueOptions.openStore()
        if let batch {
            guard let jobs = try await store.retryBatch(id: batch) else {
                throw CommandFailure.report("batch \(batch)", "no such batch", exitCode: noSuchJobExitCode)
            }
            BatchReport(id: batch, jobs: jobs).lines.forEach { print($0) }
            return
        }
        guard let id else { return }
        guard let before = try await store.job(id: id) else {
            throw CommandFailure.report("job \(id)", "no such job", exitCode: noSuchJobExitCode)
        }
        guard before.state == .failed || before.state == .cancelled else {
            throw CommandFailure.report("job \(id)", "is \(before.state.rawValue); only failed or cancelled jobs can be retried")
        }
        guard let job = try await store.retry(id: id), job.state == .queued else {
            throw CommandFailure.report("job \(id)", "changed state meanwhile; not retried")
        }
        print(JobReport(job).line)
    }
}
