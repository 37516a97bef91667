import PostgresNIO
import Synchronization

/// Counts `NOTIFY`s on the queue's channels, on a connection of its own
/// (LISTEN holds it), reconnecting with backoff when it breaks. A caller
/// compares counts instead of querying: a changed count means "look now".
/// Each (re)connection also bumps the counts, since notifications sent
/// while it was away are lost; callers poll now and then regardless.
final class PostgresNotifier: Sendable {
    private let counts = Counts()
    private let listening = Mutex<Task<Void, Never>?>(nil)
    private let session: PostgresSession

    init(session: PostgresSession) {
        self.session = session
    }

    deinit {
        listening.withLock { $0?.cancel() }
    }

    func count(of change: StoreChange) -> Int64 {
        startListening()
        return counts.value.withLock { $0[change, default: 0] }
    }

    /// The counts, shared with the listening task (which must not keep the notifier alive).
    private final class Counts: Sendable {
        let value = Mutex<[StoreChange: Int64]>([:])

        func bump(_ changes: [StoreChange]) {
            value.withLock { counts in
                for change in changes { counts[change, default: 0] += 1 }
            }
        }
    }

    private func startListening() {
        listening.withLock { task in
            guard task == nil else { return }
            task = Task { [counts, session] in
                var backoff = Duration.milliseconds(50)
                while !Task.isCancelled {
                    do {
                        let connection = try await session.openConnection()
                        defer { Task { await PostgresSession.close(connection) } }
                        backoff = .milliseconds(50)
                        try await Self.listen(connection, to: StoreChange.allCases) { counts.bump($0) }
                    } catch {}
                    try? await Task.sleep(for: backoff)
                    backoff = min(backoff * 2, .seconds(2))
                }
            }
        }
    }

    /// LISTENs on every channel, reports "listening" as a change on all of
    /// them, then reports each notification until the connection ends.
    private static func listen(_ connection: PostgresConnection, to changes: [StoreChange],
                               _ changed: @escaping @Sendable ([StoreChange]) -> Void) async throws {
        guard let first = changes.first else { return }
        try await connection.listen(on: first.channel) { notifications in
            if changes.count > 1 {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await listen(connection, to: Array(changes.dropFirst()), changed) }
                    group.addTask {
                        for try await _ in notifications { changed([first]) }
                    }
                    try await group.next()
                    group.cancelAll()
                }
            } else {
                changed(StoreChange.allCases)
                for try await _ in notifications { changed([first]) }
            }
        }
    }
}

extension StoreChange {
    var channel: String {
        switch self {
        case .jobQueued: "vqueue_queued"
        case .event: "vqueue_events"
        }
    }
}
