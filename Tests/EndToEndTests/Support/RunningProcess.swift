import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child started with Foundation's `Process`: arguments go straight to exec, never through a shell.
/// stdin is /dev/null and stdout/stderr are pipes, so the child never sees a terminal.
final class RunningProcess: @unchecked Sendable {
    let command: [String]
    private let process = Process()
    private let stdoutCollector = PipeCollector()
    private let stderrCollector = PipeCollector()
    private let startedAt = ContinuousClock.now
    private let lock = NSLock()
    private var exited = false
    /// When the child's end was seen (Foundation's termination handler, on a thread of its own):
    /// the child's run time, not how long the test's task took to be resumed afterwards (the
    /// runner's cooperative threads can be busy for seconds under load: a command that gave up
    /// by its 15 s deadline, as its message said, was reported as taking 40 s).
    private var exitedAt: ContinuousClock.Instant?
    /// The same moment on the wall clock, to compare with times other processes report.
    private var exitedOn: Date?
    private var exitWaiters: [CheckedContinuation<Void, Never>] = []
    private var killedForTimeout = false

    var pid: pid_t { process.processIdentifier }
    /// What the child has written to stdout so far.
    var stdoutSoFar: Data { stdoutCollector.data }

    init(_ executable: URL, _ arguments: [String], currentDirectory: URL? = nil,
         environment: [String: String] = [:]) throws {
        command = [executable.path] + arguments
        process.executableURL = executable
        process.arguments = arguments
        if let currentDirectory { process.currentDirectoryURL = currentDirectory }
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardInput = FileHandle.nullDevice
        let stdoutPipe = Pipe()
        let stderrPipe = Pipe()
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        // weak: a test may drop a process it killed without waiting for it.
        process.terminationHandler = { [weak self] _ in self?.markExited() }
        try process.run()
        stdoutCollector.start(reading: stdoutPipe.fileHandleForReading)
        stderrCollector.start(reading: stderrPipe.fileHandleForReading)
    }

    var isRunning: Bool { lock.withLock { !exited } }

    func send(signal: Int32) {
        lock.withLock {
            if !exited { _ = kill(process.processIdentifier, signal) }
        }
    }

    /// Waits for the child to end; after `timeout` it is killed with SIGKILL and the result says so.
    func wait(timeout: Duration = .seconds(180)) async -> ProcessResult {
        let watchdog = Task { [self] in
            try? await Task.sleep(for: timeout)
            guard !Task.isCancelled else { return }
            lock.withLock {
                if !exited {
                    killedForTimeout = true
                    _ = kill(process.processIdentifier, SIGKILL)
                }
            }
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let alreadyExited = lock.withLock {
                if exited { return true }
                exitWaiters.append(continuation)
                return false
            }
            if alreadyExited { continuation.resume() }
        }
        let elapsed = (lock.withLock { exitedAt } ?? ContinuousClock.now) - startedAt
        watchdog.cancel()
        let stdout = await stdoutCollector.finished()
        let stderr = await stderrCollector.finished()
        let termination: Termination = process.terminationReason == .exit
            ? .exited(process.terminationStatus) : .signaled(process.terminationStatus)
        return ProcessResult(command: command, termination: termination, stdout: stdout, stderr: stderr,
                             elapsed: elapsed, timedOut: lock.withLock { killedForTimeout },
                             ended: lock.withLock { exitedOn } ?? Date())
    }

    private func markExited() {
        let waiters = lock.withLock {
            exited = true
            exitedAt = ContinuousClock.now
            exitedOn = Date()
            defer { exitWaiters = [] }
            return exitWaiters
        }
        waiters.forEach { $0.resume() }
    }
}

/// Drains one pipe on its own thread, so a chatty child never blocks on a full pipe.
private final class PipeCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var buffer = Data()
    private let drained = DispatchGroup()

    var data: Data { lock.withLock { buffer } }

    func start(reading handle: FileHandle) {
        drained.enter()
        let thread = Thread { [self] in
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                lock.withLock { buffer.append(chunk) }
            }
            try? handle.close()
            drained.leave()
        }
        thread.start()
    }

    func finished() async -> Data {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            drained.notify(queue: .global()) { continuation.resume() }
        }
        return data
    }
}

/// Runs a program to completion and returns what it did. Waits for a free process slot first, so the
/// parallel tests do not bury the two cores under dozens of encoders at once.
func runProcess(_ executable: URL, _ arguments: [String], currentDirectory: URL? = nil,
                environment: [String: String] = [:], timeout: Duration = .seconds(180)) async throws -> ProcessResult {
    try await withProcessSlot {
        let process = try RunningProcess(executable, arguments, currentDirectory: currentDirectory,
                                         environment: environment)
        return await process.wait(timeout: timeout)
    }
}
