import CProcess
import Glibc

/// A started child as the monitoring thread keeps it, from spawn to reap:
/// its descriptors, its output so far, and the deadlines that stop it.
/// Touched only on the monitoring thread.
final class RunningChild {
    /// The three descriptors the monitoring thread waits on for a child.
    enum Stream: UInt64, CaseIterable {
        /// The pidfd: readable once the child has exited.
        case exit = 0
        case stdout = 1
        case stderr = 2
    }

    let serial: UInt64
    let launch: ChildLaunch
    let continuation: ChildProcessMonitor.Continuation
    let pid: pid_t
    let startedAt: ContinuousClock.Instant
    /// The supervisor's resident memory at the fork (see `result`).
    let supervisorResidentBytes: Int
    /// Open descriptors, by stream; removed when closed (each exactly once).
    private(set) var descriptors: [Stream: Int32]
    private var output = LineSplitter(maximumLineLength: ChildProcess.maximumOutputLineLength)
    private var errors = ErrorTail(capacity: ChildProcess.errorLineCount,
                                   maximumLineLength: ChildProcess.maximumErrorLineLength)
    private var lastLineAt: ContinuousClock.Instant
    /// A stderr line, kept or not, said an allocation was refused.
    private var saidMemoryExhausted = false
    /// Set when the supervisor starts stopping the child.
    private(set) var stop: ChildProcess.StopReason?
    /// When SIGKILL follows the SIGTERM already sent.
    private var killAt: ContinuousClock.Instant?

    init(serial: UInt64, launch: ChildLaunch, continuation: ChildProcessMonitor.Continuation,
         spawned: vq_spawned_child, now: ContinuousClock.Instant) {
        self.serial = serial
        self.launch = launch
        self.continuation = continuation
        pid = spawned.pid
        supervisorResidentBytes = Int(spawned.parent_rss_bytes)
        descriptors = [.exit: spawned.pidfd, .stdout: spawned.stdout_fd, .stderr: spawned.stderr_fd]
        startedAt = now
        lastLineAt = now
    }

    // MARK: Output

    /// Takes bytes read from `stream`: stdout lines go to `onLine` (and count
    /// as progress), stderr lines to the kept tail.
    func take(_ bytes: UnsafeRawBufferPointer, from stream: Stream, now: ContinuousClock.Instant) {
        switch stream {
        case .stdout:
            output.append(bytes) { line in
                lastLineAt = now
                launch.onLine(line)
            }
        case .stderr:
            errors.append(bytes) { noteMemoryExhaustion(in: $0) }
        case .exit:
            break
        }
    }

    /// Forgets a descriptor the caller has just closed.
    func closed(_ stream: Stream) {
        descriptors[stream] = nil
    }

    /// Only under a memory limit: a Swift trap's message ("failed to
    /// allocate") comes before its stack trace, out of the kept tail.
    private func noteMemoryExhaustion(in line: String) {
        guard launch.memoryLimit != nil, !saidMemoryExhausted else { return }
        saidMemoryExhausted = MemoryCeiling.saysMemoryIsExhausted(line)
    }

    // MARK: Stopping

    /// The next moment something must be done to this child, if any.
    var nextDeadline: ContinuousClock.Instant? {
        if stop != nil { return killAt }
        let timeUp = launch.timeLimit.map { startedAt + $0 }
        guard let stallLimit = launch.stallLimit else { return timeUp }
        let stalled = lastLineAt + stallLimit
        return min(timeUp ?? stalled, stalled)
    }

    /// Acts on the deadlines that have passed.
    func checkDeadlines(now: ContinuousClock.Instant) {
        if stop != nil {
            guard let killAt, now >= killAt else { return }
            // The grace period is over.
            _ = vq_signal_group(pid, SIGKILL)
            self.killAt = nil
        } else if let timeLimit = launch.timeLimit, now >= startedAt + timeLimit {
            beginStopping(.timeLimit, now: now)
        } else if let stallLimit = launch.stallLimit, now >= lastLineAt + stallLimit {
            beginStopping(.stalled, now: now)
        }
    }

    /// SIGTERM to the child's process group, SIGKILL after the grace period.
    /// The first reason sticks.
    func beginStopping(_ reason: ChildProcess.StopReason, now: ContinuousClock.Instant) {
        guard stop == nil else { return }
        stop = reason
        _ = vq_signal_group(pid, SIGTERM)
        // A stopped child (SIGSTOP, ^Z) would hold SIGTERM pending forever.
        _ = vq_signal_group(pid, SIGCONT)
        killAt = now + launch.gracePeriod
    }

    // MARK: The end

    /// What this process may grow by between measuring itself and forking.
    static let forkAccountingSlack = 16 << 20

    /// The result once the child has been reaped and its pipes drained.
    func result(ending: vq_child_exit, now: ContinuousClock.Instant) -> ChildProcess.Result {
        output.finish { launch.onLine($0) }
        errors.finish { noteMemoryExhaustion(in: $0) }
        let termination: ChildProcess.Termination = ending.exited != 0
            ? .exited(ending.code) : .signalled(ending.signal)
        let peak = Int(ending.peak_rss_bytes)
        // ru_maxrss counts the pages the child shared with this process
        // between fork and exec: a peak not clearly above this process's size
        // then says nothing of the child's own use (a big supervisor, a test
        // runner, would otherwise pass for a child at its ceiling).
        let ownPeak = peak > supervisorResidentBytes + Self.forkAccountingSlack ? peak : 0
        let memoryLimitReached = launch.memoryLimit?.wasMostLikelyReached(
            termination: termination, stop: stop, peakMemoryBytes: ownPeak, saidSo: saidMemoryExhausted) ?? false
        return ChildProcess.Result(
            termination: termination, stop: stop, errorLines: errors.lines, peakMemoryBytes: peak,
            memoryLimitReached: memoryLimitReached, duration: now - startedAt)
    }
}
