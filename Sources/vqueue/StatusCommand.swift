import ArgumentParser
import Foundation
import JobQueue

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show where a job stands.",
        discussion: """
        Exit status: 0 succeeded, 1 failed, 2 cancelled, 3 not finished yet (queued, retrying
        or running), 4 no such job, 64 bad usage.

        Examples:
          vqueue status 42
          vqueue status 42 --json | jq -r .state
          vqueue status 42 --wait --timeout 10m && echo done
        """)

    @Argument(help: "The job id `submit` printed.")
    var id: Int64

    @Flag(help: "Print a JSON object (fields in the README).")
    var json = false

    @Flag(help: "Wait until the job finishes (progress bar on a terminal).")
    var wait = false

    @Option(help: ArgumentHelp("With --wait: give up after this long (exit 3): 30s, 10m.", valueName: "duration"))
    var timeout: TimeSpan?

    @OptionGroup(title: "Queue")
    var queueOptions: QueueOptions

    func validate() throws {
        if timeout != nil && !wait { throw ValidationError("--timeout only applies with --wait.") }
    }

    func run() async throws {
        let store = try queueOptions.openStore()
        if wait {
            try await Self.finish(waitingFor: id, store: store, timeout: timeout?.seconds, json: json)
        }
        guard let job = try await store.job(id: id) else {
            throw CommandFailure.report("job \(id)", "no such job in \(queueOptions.location)", exitCode: noSuchJobExitCode)
        }
        try Self.show(job, json: json)
    }

    /// Waits for the job, prints it and exits with its status code.
    static func finish(waitingFor id: Int64, store: any JobStore, timeout: Double?, json: Bool) async throws {
        guard let job = try await JobWaiter(store: store, id: id, timeout: timeout).wait() else {
            throw CommandFailure.report("job \(id)", "no such job", exitCode: noSuchJobExitCode)
        }
        try show(job, json: json)
    }

    static func show(_ job: Job, json: Bool) throws {
        let report = JobReport(job)
        print(json ? try JobReport.json(report) : report.line)
        if report.exitCode != 0 { throw ExitCode(report.exitCode) }
    }
}
