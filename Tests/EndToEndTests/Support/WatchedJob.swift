import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A job running on one worker while a second, idle worker with the same short lease watches
/// it: the watcher re-queues the job the moment its lease lapses. The setting in which prune,
/// locks and stalls must take no lease from a live worker.
struct WatchedJob {
    let busy: LoggedProcess
    let rescuer: LoggedProcess
    /// The job's child process.
    let child: pid_t

    /// Starts the busy worker, waits for it to run job `id` (writing `output`), then starts the
    /// rescuer and waits until it is registered. Both log to files in `directory`.
    static func start(_ id: Int64, writing output: URL, on queue: TestQueue, lease: String,
                      in directory: URL) async throws -> WatchedJob {
        let arguments = ["--lease", lease, "--concurrency", "1"]
        let busy = try queue.startLoggedWorker(arguments, logFile: directory.appendingPathComponent("busy.log"))
        do {
            _ = try await queue.jobCaughtRunning(id, timeout: .seconds(300))
            let rescuer = try queue.startLoggedWorker(arguments, logFile: directory.appendingPathComponent("rescuer.log"))
            do {
                _ = try await queue.worker(pid: rescuer.pid)
                let child = try #require(ProcessTable.jobChildren(writing: output).first, "job \(id) runs in no child")
                return WatchedJob(busy: busy, rescuer: rescuer, child: child.pid)
            } catch {
                rescuer.send(signal: SIGKILL)
                throw error
            }
        } catch {
            busy.send(signal: SIGKILL)
            throw error
        }
    }

    /// Both workers' logs, to show when a test fails.
    var logs: String { "busy: \(busy.log)\nrescuer: \(rescuer.log)" }

    func kill() {
        busy.send(signal: SIGKILL)
        rescuer.send(signal: SIGKILL)
    }

    /// Stops both (SIGTERM, after the job): each should exit 0.
    func stop() async -> [Termination] {
        [await busy.stop(), await rescuer.stop()]
    }
}
