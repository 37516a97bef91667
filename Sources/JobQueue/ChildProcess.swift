import Foundation

/// A job's child process: this same binary run with other arguments (never
/// through a shell), its stdout read line by line, the last lines of its
/// stderr kept for the error message. Cancelling the waiting task sends
/// SIGTERM, then SIGKILL if the child has not gone after a grace period.
///
/// The child is told its supervisor's pid (`VQUEUE_SUPERVISOR_PID`) so it
/// can stop itself if the supervisor dies (Linux re-parents orphans).
public struct ChildProcess: Sendable {
    public enum Termination: Sendable, Equatable {
        case exited(Int32)
        case signalled(Int32)
    }

    public struct Result: Sendable {
        public var termination: Termination
        /// The child's last stderr line, trimmed.
        public var lastErrorLine: String?
    }

    public static let supervisorVariable = "VQUEUE_SUPERVISOR_PID"

    public let executable: String
    public let arguments: [String]
    public var gracePeriod: Double = 3

    public init(executable: String, arguments: [String]) {
        self.executable = executable
        self.arguments = arguments
    }

    /// Runs the child to its end; `onLine` gets each stdout line.
    public func run(onLine: @escaping @Sendable (String) -> Void) async throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment[Self.supervisorVariable] = String(getpid())
        // A Swift child's crash handler would otherwise catch SIGSEGV, print a
        // backtrace and, for a signal sent from outside, carry on: the
        // supervisor must see the crash as a crash.
        environment["SWIFT_BACKTRACE"] = "enable=no"
        process.environment = environment
        let stdout = Pipe(), stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = FileHandle.nullDevice

        let stdoutLines = LineSplitter(onLine: onLine)
        let stderrTail = LineSplitter(onLine: nil)
        stdout.fileHandleForReading.readabilityHandler = { handle in stdoutLines.append(handle.availableData) }
        stderr.fileHandleForReading.readabilityHandler = { handle in stderrTail.append(handle.availableData) }

        let exit = ExitWaiter()
        process.terminationHandler = { finished in
            exit.finish(finished.terminationReason == .uncaughtSignal
                        ? .signalled(finished.terminationStatus) : .exited(finished.terminationStatus))
        }
        try process.run()
        let pid = process.processIdentifier
        let grace = gracePeriod
        let termination = await withTaskCancellationHandler {
            await exit.wait()
        } onCancel: {
            kill(pid, SIGTERM)
            Task.detached {
                try? await Task.sleep(for: .seconds(grace))
                if process.isRunning { kill(pid, SIGKILL) }
            }
        }
        // Drain what is still in the pipes after exit.
        stdout.fileHandleForReading.readabilityHandler = nil
        stderr.fileHandleForReading.readabilityHandler = nil
        stdoutLines.append(stdout.fileHandleForReading.readDataToEndOfFile())
        stdoutLines.finish()
        stderrTail.append(stderr.fileHandleForReading.readDataToEndOfFile())
        stderrTail.finish()
        return Result(termination: termination, lastErrorLine: stderrTail.lastLine)
    }
}

/// Splits a byte stream into lines, calling back for each complete one and
/// remembering the last.
private final class LineSplitter: @unchecked Sendable {
    private let lock = NSLock()
    private var buffer = Data()
    private var last: String?
    private let onLine: (@Sendable (String) -> Void)?

    init(onLine: (@Sendable (String) -> Void)?) { self.onLine = onLine }

    func append(_ data: Data) {
        guard !data.isEmpty else { return }
        let lines: [String] = lock.withLock {
            buffer.append(data)
            var complete: [String] = []
            while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                complete.append(String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self))
                buffer.removeSubrange(buffer.startIndex...newline)
            }
            return complete
        }
        for line in lines { deliver(line) }
    }

    func finish() {
        let rest: String? = lock.withLock {
            defer { buffer.removeAll() }
            return buffer.isEmpty ? nil : String(decoding: buffer, as: UTF8.self)
        }
        if let rest { deliver(rest) }
    }

    var lastLine: String? { lock.withLock { last } }

    private func deliver(_ line: String) {
        let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { return }
        lock.withLock { last = trimmed }
        onLine?(trimmed)
    }
}

/// A one-shot rendezvous between Process's termination handler and the
/// task waiting for it (whichever comes first).
private final class ExitWaiter: @unchecked Sendable {
    private let lock = NSLock()
    private var termination: ChildProcess.Termination?
    private var continuation: CheckedContinuation<ChildProcess.Termination, Never>?

    func finish(_ value: ChildProcess.Termination) {
        let waiting: CheckedContinuation<ChildProcess.Termination, Never>? = lock.withLock {
            termination = value
            defer { continuation = nil }
            return continuation
        }
        waiting?.resume(returning: value)
    }

    func wait() async -> ChildProcess.Termination {
        await withCheckedContinuation { continuation in
            let ready: ChildProcess.Termination? = lock.withLock {
                if let termination { return termination }
                self.continuation = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}
