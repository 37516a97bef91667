import ArgumentParser
import JobQueue

/// `ID` or `--batch ID`: what `status`, `cancel` and `retry` act on.
struct JobOrBatch: ParsableArguments {
    @Argument(help: "The job id.")
    var id: Int64?

    @Option(help: ArgumentHelp("Act on this batch instead of one job.", valueName: "id"))
    var batch: Int64?

    func validate() throws {
        if (id == nil) == (batch == nil) { throw ValidationError("give a job id, or --batch ID.") }
    }

    /// Runs a batch action and prints the batch as it then stands.
    static func printBatch(_ id: Int64, _ action: (Int64) async throws -> [Job]?) async throws {
        guard let jobs = try await action(id) else {
            throw CommandFailure.report("batch \(id)", "no such batch", exitCode: noSuchJobExitCode)
        }
        BatchReport(id: id, jobs: jobs).lines.forEach { print($0) }
    }
}
