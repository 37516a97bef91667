import Synchronization

/// How hard a worker has been asked to stop. The first request (SIGTERM,
/// SIGINT) stops claiming and lets running jobs finish; the second stops
/// them and puts them back in the queue without spending an attempt.
public final class ShutdownRequest: Sendable {
    public enum Level: Int, Sendable, Comparable {
        case none = 0, graceful = 1, immediate = 2
        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
    }

    private let value = Atomic<Int>(0)
    private let observer = Mutex<(@Sendable () -> Void)?>(nil)

    public init() {}

    public var level: Level { Level(rawValue: value.load(ordering: .acquiring)) ?? .immediate }

    /// One step harder: none → graceful → immediate.
    public func escalate() {
        _ = value.wrappingAdd(1, ordering: .acquiringAndReleasing)
        notify()
    }

    /// At least this hard.
    public func request(_ level: Level) {
        var current = value.load(ordering: .acquiring)
        while current < level.rawValue {
            let (exchanged, original) = value.compareExchange(expected: current, desired: level.rawValue, ordering: .acquiringAndReleasing)
            if exchanged {
                notify()
                return
            }
            current = original
        }
    }

    /// Called (on the requesting thread) whenever the level rises: the
    /// worker wakes its loop at once, whatever it was waiting for.
    func observe(_ body: @escaping @Sendable () -> Void) {
        observer.withLock { $0 = body }
    }

    private func notify() {
        observer.withLock { $0 }?()
    }
}
