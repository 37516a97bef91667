import ArgumentParser
import JobQueue

struct CancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Cancel a queued or running job, or a batch's unfinished jobs.",
        discussion: """
        A queued job is cancelled at once; a running one within about a second (its
        transcoder is stopped and its temporary file removed; OUT is not written).
        Exit status: 0 cancelled, 1 already finished (nothing changed), 4 no such job.

        Examples:
          vqueue cancel 42
          vqueue cancel --batch 7
        """)

    @Argument(help: "The job id.")
    var id: Int64?

    @Option(help: ArgumentHelp("Cancel this batch's queued and running jobs.", valueName: "id"))
    var batch: Int64?

    @OptionGroup(title: "Queue")
    var queueOptions: QueueOptions

    func validate() throws {
        if (id == nil) == (batch == nil) { throw ValidationError("give a job id, or --batch ID.") }
    }

    func run() async throws {
        let store = try queueOptions.openStore()
        if let batch {
            guard let jobs = try await store.cancelBatch(id: batch) else {
                throw CommandFailure.report("batch \(batch)", "no such batch", exitCode: noSuchJobExitCode)
            }
            BatchReport(id: batch, jobs: jobs).lines.forEach { print($0) }
            return
        }
        guard let id else { return }
        guard let job = try await store.cancel(id: id) else {
            throw CommandFailure.report("job \(id)", "no such job", exitCode: noSuchJobExitCode)
        }
        guard job.state == .cancelled else {
            throw CommandFailure.report("job \(id)", "already \(job.state.rawValue); nothing to cancel")
        }
        print(JobReport(job).line)
    }
}
