import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Queue tests that run several workers, kill things or time a reaction. They run one at a time
/// (nested suites inherit `.serialized`), so they neither starve each other of the two cores nor
/// measure each other's load.
@Suite("Queue workers under stress", .serialized)
struct QueueWorkerTests {}

/// A worker started for a test, and the means to wait for what it does to a job.
struct QueueScene: Sendable {
    let queue: TestQueue
    /// Where the jobs' outputs go (and nothing else, so a stray temporary file shows).
    let outputs: URL

    init(in directory: URL, store: TestQueue.Store) async throws {
        queue = try await TestQueue.make(in: directory, store: store)
        outputs = directory.appendingPathComponent("out", isDirectory: true)
        try FileManager.default.createDirectory(at: outputs, withIntermediateDirectories: false)
    }

    func output(_ name: String) -> URL { outputs.appendingPathComponent(name) }

    /// Waits until attempt `attempt` of job `id` runs in a child that has begun writing its temporary
    /// file, and returns the child's pid.
    func runningChild(of id: Int64, writing output: URL, attempt: Int, timeout: Duration = .seconds(40),
                      sourceLocation: SourceLocation = #_sourceLocation) async throws -> pid_t {
        var child: pid_t?
        let found = await eventually(within: timeout) {
            child = ProcessTable.jobChild(for: output, job: id, attempt: attempt)
            return child != nil
        }
        let status = try? await queue.job(id)
        let comment: Comment = """
            attempt \(attempt) of job \(id) never ran in a child writing .\(output.lastPathComponent).job\(id)-\(attempt).*.part; \
            job: \(String(describing: status)); out/: \(directoryListing(outputs))
            """
        try #require(found, comment, sourceLocation: sourceLocation)
        return child!
    }

    /// Polls job `id` until it has finished (succeeded, failed or cancelled).
    func finished(_ id: Int64, timeout: Duration = .seconds(120)) async throws -> JobStatus {
        try await queue.waitForJob(id, timeout: timeout) { ["succeeded", "failed", "cancelled"].contains($0.state) }
    }

    /// Whether no process is left that works on any attempt of `output`.
    func noChildLeft(for output: URL) -> Bool {
        // The whole path: the same test on the other store may be running a job of the same name.
        ProcessTable.pids(withArgumentContaining: output.path).isEmpty
    }
}

/// What every worker's stderr must be free of: the database must never be reported busy, and no
/// line is an error of the worker itself.
func expectCleanWorkerLog(_ result: ProcessResult, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(!result.stderrText.localizedCaseInsensitiveContains("database is locked"),
            "\(result)", sourceLocation: sourceLocation)
    #expect(!result.stderrText.contains("vqueue: error:"), "\(result)", sourceLocation: sourceLocation)
    #expect(result.stdout.isEmpty, "a worker prints nothing on stdout: \(result)", sourceLocation: sourceLocation)
    expectNoControlCharacters(result.stderr, sourceLocation: sourceLocation)
}

/// Ends a worker left running by a test that failed early.
func killIfRunning(_ worker: RunningProcess) {
    worker.send(signal: SIGKILL)
}
