import Foundation
import Synchronization

/// Counts `NOTIFY`s on the queue's channels, on a connection of its own
/// (LISTEN holds it) in a thread of its own, reconnecting with backoff when
/// it breaks. A caller compares counts instead of querying: a changed count
/// means "look now". Each (re)connection also bumps every count, since
/// notifications sent while it was away are lost; callers poll now and then
/// regardless.
final class PostgresChangeListener: Sendable {
    private let location: PostgresConnectionString
    private let deadline: Duration
    private let counts = Mutex<[StoreChange: Int64]>([:])
    /// Called on every notification (and reconnection), by `watch`.
    private let wakers = Mutex<[Int: @Sendable () -> Void]>([:])
    private let nextWaker = Atomic<Int>(0)
    private let started = Atomic<Bool>(false)
    private let interruption = Interruption()

    init(location: PostgresConnectionString, deadline: Duration) {
        self.location = location
        self.deadline = deadline
    }

    func count(of change: StoreChange) -> Int64 {
        startListening()
        return counts.withLock { $0[change, default: 0] }
    }

    /// Calls `wake` on every notification until the returned function is called.
    func watch(_ wake: @escaping @Sendable () -> Void) -> @Sendable () -> Void {
        let key = nextWaker.add(1, ordering: .relaxed).newValue
        wakers.withLock { $0[key] = wake }
        startListening()
        return { [self] in _ = wakers.withLock { $0.removeValue(forKey: key) } }
    }

    /// Ends the listening thread within a fraction of a second.
    func stop() {
        interruption.request()
    }

    private func bump(_ changes: [StoreChange]) {
        guard !changes.isEmpty else { return }
        counts.withLock { counts in
            for change in changes { counts[change, default: 0] += 1 }
        }
        for wake in wakers.withLock({ Array($0.values) }) { wake() }
    }

    private func startListening() {
        guard started.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        let thread = Thread { [self] in listen() }
        thread.name = "vqueue.postgres.listen"
        thread.start()
    }

    private func listen() {
        var backoff = Duration.milliseconds(50)
        while !interruption.isRequested {
            do {
                let connection = try PostgresConnection(location: location, deadline: deadline, interruption: interruption)
                defer { connection.close() }
                for change in StoreChange.allCases { _ = try connection.run("LISTEN \(change.channel)", []) }
                bump(StoreChange.allCases)
                backoff = .milliseconds(50)
                while !interruption.isRequested {
                    let channels = try connection.notifications(waitingUpTo: .milliseconds(250))
                    bump(StoreChange.allCases.filter { channels.contains($0.channel) })
                }
            } catch {}
            Thread.sleep(forTimeInterval: Double(backoff.components.seconds) + Double(backoff.components.attoseconds) / 1e18)
            backoff = min(backoff * 2, .seconds(2))
        }
    }
}

extension StoreChange {
    /// The NOTIFY channel the database's triggers signal this change on.
    var channel: String {
        switch self {
        case .jobQueued: "vqueue_queued"
        case .event: "vqueue_events"
        }
    }
}
