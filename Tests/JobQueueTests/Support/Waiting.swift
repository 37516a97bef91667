import Foundation
import Synchronization
import Testing

/// Polls `condition` until it holds or `timeout` has passed; records an issue (naming `what`, and
/// the last error the condition threw, if any) and returns false if it never held. Timeouts are
/// generous: a loaded machine may be slow, and a test never asserts that something happens
/// quickly, only that it happens.
@discardableResult
func eventually(_ what: @autoclosure () -> String, timeout: Duration = .seconds(20), every interval: Duration = .milliseconds(20),
                sourceLocation: SourceLocation = #_sourceLocation,
                _ condition: () async throws -> Bool) async -> Bool {
    let ends = ContinuousClock.now + timeout
    var lastError: (any Error)?
    while true {
        do {
            if try await condition() { return true }
        } catch {
            lastError = error
        }
        if ContinuousClock.now > ends {
            let error = lastError.map { " (last error: \($0))" } ?? ""
            Issue.record("timed out after \(timeout) waiting until \(what())\(error)", sourceLocation: sourceLocation)
            return false
        }
        try? await Task.sleep(for: interval)
    }
}

/// Sleeps comfortably longer than a lease of `seconds`, so that it has surely expired on the
/// store's clock.
func outlast(lease seconds: Double) async {
    try? await Task.sleep(for: .milliseconds(Int64((seconds * 2 + 0.5) * 1000)))
}

/// The value of `task`, or an issue and nil if it has not ended within `timeout` (the task is
/// then cancelled, and not waited for).
func value<T: Sendable, Failure: Error>(of task: Task<T, Failure>, within timeout: Duration, _ what: String,
                        sourceLocation: SourceLocation = #_sourceLocation) async throws -> T? {
    let ends = ContinuousClock.now + timeout
    let done = Flag()
    let watcher = Task {
        _ = try? await task.value
        done.set()
    }
    defer { watcher.cancel() }
    while !done.isSet {
        if ContinuousClock.now > ends {
            Issue.record("\(what) did not end within \(timeout)", sourceLocation: sourceLocation)
            task.cancel()
            return nil
        }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return try await task.value
}
