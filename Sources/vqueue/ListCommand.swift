import ArgumentParser
import JobQueue

struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List jobs, newest first.",
        discussion: """
        Examples:
          vqueue list
          vqueue list --state failed --json | jq -r '.[].error'
        """)

    @Option(help: ArgumentHelp("Only jobs in this state.", valueName: "state"))
    var state: JobState?

    @Option(help: ArgumentHelp("At most this many.", valueName: "n"))
    var limit = 50

    @Flag(help: "Print a JSON array of job objects.")
    var json = false

    @OptionGroup(title: "Queue")
    var queueOptions: QueueOptions

    func validate() throws {
        if limit < 1 { throw ValidationError("--limit must be at least 1.") }
    }

    func run() async throws {
        let store = try await queueOptions.openStore()
        let jobs = try await store.jobs(state: state, limit: limit)
        var reports: [JobReport] = []
        for job in jobs { reports.append(try await JobReport.load(job, store: store)) }
        if json {
            print(try JobReport.json(reports))
        } else {
            for report in reports { print(report.line) }
        }
    }
}
