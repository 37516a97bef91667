import Foundation
import JobQueue

/// A job's child process must not outlive its worker (a `kill -9` of the
/// worker would otherwise leave an orphan encoding for nobody). The worker
/// passes its pid; when the child's parent is no longer that process, Linux
/// has re-parented it and the child stops as if cancelled. If the work loop
/// is stuck inside a long library call, a watchdog removes the temporary
/// file and exits after a grace period.
struct SupervisorWatch {
    let supervisor: pid_t?

    init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        supervisor = environment[ChildProcess.supervisorVariable].flatMap { pid_t($0) }
    }

    var supervisorIsGone: Bool {
        guard let supervisor else { return false }
        return getppid() != supervisor
    }

    /// Starts the watchdog; `cleanUp` runs before the forced exit.
    func startWatchdog(grace: Double = 5, cleanUp: @escaping @Sendable () -> Void) {
        guard let supervisor else { return }
        Thread.detachNewThread {
            while getppid() == supervisor { Thread.sleep(forTimeInterval: 0.5) }
            Thread.sleep(forTimeInterval: grace)
            cleanUp()
            _exit(75)
        }
    }
}
