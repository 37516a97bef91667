import Foundation

/// A job's child process: a program run with an argument array (never
/// through a shell) and an explicit environment, its stdout read line by
/// line, the last lines of its stderr kept for the error message, and its
/// end reported with how much memory it used.
///
/// What the supervisor guarantees, whatever the child does:
/// - Nothing leaks: every descriptor opened for a child is closed once when
///   `run` returns (or throws), and the child gets only stdin (/dev/null),
///   stdout, stderr and `inheritedDescriptors` (as 3, 4, ...).
/// - The child and everything it starts (its own process group) is stopped
///   with SIGTERM, then SIGKILL after `gracePeriod`, when the waiting task is
///   cancelled, when it has run for `timeLimit`, or when it has printed no
///   stdout line for `stallLimit`. The supervisor's clock decides, so a child
///   stopped with SIGSTOP or blocked in a read is stopped too.
/// - The child dies with its supervisor (PR_SET_PDEATHSIG = SIGKILL).
/// - With `memoryLimit`, the kernel refuses the child's allocations past it
///   (`memoryLimitKind` says which limit; `Result.memoryLimitReached` says
///   whether that most likely ended it).
///
/// All children of a process share one monitoring thread (see
/// ``ChildProcessMonitor``); `onLine` is called on it, so it must be quick.
public struct ChildProcess: Sendable {
    public enum Termination: Sendable, Equatable {
        case exited(Int32)
        case signalled(Int32)
    }

    /// Why the supervisor stopped the child.
    public enum StopReason: Sendable, Equatable {
        /// The task waiting for it was cancelled.
        case cancelled
        /// It ran for `timeLimit`.
        case timeLimit
        /// It printed no stdout line for `stallLimit`.
        case stalled
    }

    public struct Result: Sendable {
        public var termination: Termination
        /// Why the supervisor stopped it; nil when it ended by itself.
        public var stop: StopReason?
        /// Its last non-empty stderr lines (at most ``errorLineCount``, each
        /// cut at ``maximumErrorLineLength`` bytes), trimmed, oldest first.
        public var errorLines: [String]
        /// Its peak resident memory (ru_maxrss from wait4), including any
        /// children it waited for. Linux counts in it the pages the child
        /// shared with the supervisor until exec, so it is at least about the
        /// supervisor's resident size at the start (a worker's: 20 to 40 MB);
        /// `memoryLimitReached` only trusts a peak clearly above that.
        public var peakMemoryBytes: Int
        /// It ran under `memoryLimit` and most likely ended because an
        /// allocation was refused (see ``MemoryLimitKind``).
        public var memoryLimitReached: Bool
        /// From start to reaped.
        public var duration: Duration

        /// The child's last stderr line, trimmed.
        public var lastErrorLine: String? { errorLines.last }
    }

    /// The supervisor's pid, in the child's environment.
    public static let supervisorVariable = "VQUEUE_SUPERVISOR_PID"
    /// How many stderr lines a `Result` keeps.
    public static let errorLineCount = 10
    /// Longer stderr lines are cut (stdout lines at 64 KiB).
    public static let maximumErrorLineLength = 1024
    static let maximumOutputLineLength = 64 * 1024

    public let executable: String
    public let arguments: [String]
    /// The child's whole environment; nil for this process's. Either way
    /// the child also gets `VQUEUE_SUPERVISOR_PID` and `SWIFT_BACKTRACE`.
    public var environment: [String: String]?
    /// Descriptors of this process the child gets as 3, 4, ... (at most 64).
    /// They stay open here: the caller closes them after `run`.
    public var inheritedDescriptors: [Int32]
    /// The longest the child may run; nil for no limit.
    public var timeLimit: Duration?
    /// The longest the child may go without printing a stdout line.
    public var stallLimit: Duration?
    /// The child's memory ceiling in bytes; nil (or not positive) for none.
    public var memoryLimit: Int?
    public var memoryLimitKind: MemoryLimitKind = .data
    /// Between SIGTERM and SIGKILL.
    public var gracePeriod: Duration

    public init(
        executable: String,
        arguments: [String],
        environment: [String: String]? = nil,
        inheritedDescriptors: [Int32] = [],
        timeLimit: Duration? = nil,
        stallLimit: Duration? = nil,
        memoryLimit: Int? = nil,
        gracePeriod: Duration = .seconds(3)
    ) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.inheritedDescriptors = inheritedDescriptors
        self.timeLimit = timeLimit
        self.stallLimit = stallLimit
        self.memoryLimit = memoryLimit
        self.gracePeriod = gracePeriod
    }

    /// Runs the child to its end; `onLine` gets each stdout line, in order,
    /// on the monitoring thread. Throws only when the child could not be
    /// started (or the task was cancelled before it was).
    public func run(onLine: @escaping @Sendable (String) -> Void) async throws(ChildProcessError) -> Result {
        let launch = ChildLaunch(
            executable: executable,
            argv: CStringArray([executable] + arguments),
            envp: CStringArray(childEnvironment().map { "\($0.key)=\($0.value)" }),
            inheritedDescriptors: inheritedDescriptors,
            timeLimit: timeLimit,
            stallLimit: stallLimit,
            memoryLimit: memoryLimit.flatMap { $0 > 0 ? MemoryCeiling(bytes: $0, kind: memoryLimitKind) : nil },
            gracePeriod: gracePeriod,
            onLine: onLine
        )
        let monitor = try ChildProcessMonitor.shared(for: executable)
        let outcome = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                monitor.start(launch, continuation: continuation)
            }
        } onCancel: {
            monitor.stop(launch, reason: .cancelled)
        }
        return try outcome.get()
    }

    private func childEnvironment() -> [String: String] {
        var variables = environment ?? ProcessInfo.processInfo.environment
        variables[Self.supervisorVariable] = String(getpid())
        // A Swift child's crash handler would otherwise catch SIGSEGV, print a
        // backtrace and, for a signal sent from outside, carry on: the
        // supervisor must see the crash as a crash.
        variables["SWIFT_BACKTRACE"] = "enable=no"
        return variables
    }
}
