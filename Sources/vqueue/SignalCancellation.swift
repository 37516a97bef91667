import Dispatch
import Foundation
import Synchronization

/// SIGINT and SIGTERM as a flag the transcode loop polls, so an interrupted
/// transcode cleans up its temporary file instead of dying mid-write.
final class SignalCancellation {
    /// Written by the signal handlers' queue, read by the working thread.
    private final class ReceivedSignal: Sendable {
        let number = Atomic<Int32>(0)
    }

    private let received = ReceivedSignal()
    private var sources: [DispatchSourceSignal] = []

    init(signals: [Int32] = [SIGINT, SIGTERM]) {
        for number in signals {
            Glibc.signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [received] in
                received.number.store(number, ordering: .relaxed)
            }
            source.resume()
            sources.append(source)
        }
    }

    /// The signal received, or nil.
    var signal: Int32? {
        let number = received.number.load(ordering: .relaxed)
        return number == 0 ? nil : number
    }

    var isCancelled: Bool { signal != nil }

    /// The shell convention for "killed by this signal": 128 + number.
    var exitCode: Int32 { 128 + (signal ?? 0) }
}
