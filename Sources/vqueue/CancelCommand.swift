import ArgumentParser
import JobQueue

struct CancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Cancel a queued or running job, or a batch's unfinished jobs.",
        discussion: """
        A queued job is cancelled at once; a running one within about a second (its \
        transcoder is stopped and its temporary file removed; OUT is not written). \
        Exit status: 0 cancelled, 1 already finished (nothing changed), 4 no such job.

        Examples:
          vqueue cancel 42
          vqueue cancel --batch 7
        """)

    @OptionGroup
    var target: JobOrBatch

    @OptionGroup(title: "Queue")
    var queueOptions: QueueOptions

    func run() async throws {
        let store = try await queueOptions.openStore()
        if let batch = target.batch {
            try await JobOrBatch.printBatch(batch, store.cancelBatch)
            return
        }
        guard let id = target.id else { return }
        guard let before = try await store.job(id: id) else {
            throw CommandFailure.report("job \(id)", "no such job", exitCode: noSuchJobExitCode)
        }
        guard !before.state.isFinished, let job = try await store.cancel(id: id) else {
            throw CommandFailure.report("job \(id)", "already \(before.state.rawValue); nothing to cancel")
        }
        guard job.state == .cancelled else {
            if job.state == .running && job.publishing != nil {
                throw CommandFailure.report("job \(id)", "is putting its finished output in place; too late to cancel")
            }
            throw CommandFailure.report("job \(id)", "already \(job.state.rawValue); nothing to cancel")
        }
        print(try await JobReport.load(job, store: store).line)
    }
}
