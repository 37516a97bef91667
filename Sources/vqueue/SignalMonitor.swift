import Dispatch
import Foundation
import Synchronization

/// SIGINT and SIGTERM turned into state a working loop polls, instead of
/// the default of dying mid-write: a transcode removes its temporary file,
/// a worker stops claiming (first signal) or stops its jobs (second).
final class SignalMonitor {
    /// Written on the signal queue, read by the working thread.
    private final class Received: Sendable {
        let last = Atomic<Int32>(0)
        let count = Atomic<Int>(0)
    }

    private let received = Received()
    private var sources: [DispatchSourceSignal] = []

    /// - Parameter onSignal: also called on every signal (on a background queue).
    init(signals: [Int32] = [SIGINT, SIGTERM], onSignal: (@Sendable (Int32) -> Void)? = nil) {
        for number in signals {
            Glibc.signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [received] in
                received.last.store(number, ordering: .relaxed)
                received.count.add(1, ordering: .relaxed)
                onSignal?(number)
            }
            source.resume()
            sources.append(source)
        }
    }

    /// The last signal received, or nil.
    var signal: Int32? {
        let number = received.last.load(ordering: .relaxed)
        return number == 0 ? nil : number
    }

    var isSignalled: Bool { signal != nil }

    /// The shell convention for "stopped by this signal": 128 + number.
    var exitCode: Int32 { 128 + (signal ?? 0) }
}
