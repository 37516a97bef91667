import ArgumentParser
import JobQueue

struct WorkerStopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop",
        abstract: "Ask a worker (or all of them) to stop, from any process using the same database.",
        discussion: """
        By default the worker finishes its running jobs first, as after SIGTERM; with --now \
        it stops them and puts them back in the queue, as after a second signal. The worker \
        exits 0 within about a second of finishing, and `vqueue events` says so.

        Examples:
          vqueue workers                   # find the id
          vqueue worker stop vm:4121:3fa2
          vqueue worker stop --all --now
        """)

    @Argument(help: "The worker's id, as `vqueue workers` shows it.")
    var id: String?

    @Flag(help: "Stop every live worker.")
    var all = false

    @Flag(help: "Stop running jobs too (they go back in the queue, attempt not counted).")
    var now = false

    @OptionGroup(title: "Queue")
    var queueOptions: QueueOptions

    func validate() throws {
        if (id == nil) == !all { throw ValidationError("give a worker id, or --all.") }
    }

    func run() async throws {
        let store = try await queueOptions.openStore()
        let asked = try await store.requestStop(worker: id, level: now ? .immediate : .graceful)
        if let id, asked.isEmpty {
            throw CommandFailure.report("worker \(id)", "no such live worker (see vqueue workers)", exitCode: noSuchJobExitCode)
        }
        for worker in asked { print(worker) }
    }
}
