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

    @Option(help: ArgumentHelp("Only jobs in this state: queued, running, succeeded, failed, cancelled.", valueName: "state"))
    var state: String?

    @Option(help: ArgumentHelp("At most this many. Default: 50.", valueName: "n"))
    var limit = 50

    @Flag(help: "Print a JSON array of job objects.")
    var json = false

    @OptionGroup(title: "Queue")
    var queueOptions: QueueOptions

    func validate() throws {
        if let state, JobState(rawValue: state) == nil {
            throw ValidationError("unknown --state '\(state)'; use \(JobState.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        if limit < 1 { throw ValidationError("--limit must be at least 1.") }
    }

    func run() async throws {
        let store = try await queueOptions.openStore()
        let jobs = try await store.jobs(state: state.flatMap(JobState.init(rawValue:)), limit: limit)
        if json {
            print(try JobReport.json(jobs.map(JobReport.init)))
        } else {
            for job in jobs { print(JobReport(job).line) }
        }
    }
}
