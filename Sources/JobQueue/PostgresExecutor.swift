import Dispatch
import Foundation
import Synchronization

/// The farm's database: PostgreSQL through libpq, one blocking connection
/// behind one serial queue (as GRDB keeps SQLite's writer), opened on first
/// use and again after it broke. Every statement has a deadline
/// (`PostgresConnection`), so no call hangs; a broken or silent connection
/// fails the call with `StoreUnavailable`, and the next call reconnects (a
/// session the server ended while idle is replaced before the call).
final class PostgresExecutor: SQLExecutor, @unchecked Sendable {
    let dialect = SQLDialect.postgres
    let location: PostgresConnectionString
    /// How long connecting, or any one statement, may wait for the server.
    let deadline: Duration
    private let queue = DispatchQueue(label: "vqueue.postgres")
    /// Touched only on `queue`.
    private var connection: PostgresConnection?
    private let interruption = Interruption()
    private let listener: PostgresChangeListener

    var displayName: String { location.displayName }

    init(location: PostgresConnectionString, deadline: Duration = QueueLocation.defaultDeadline) {
        self.location = location
        self.deadline = deadline
        listener = PostgresChangeListener(location: location, deadline: deadline)
    }

    deinit {
        listener.stop()
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T {
        try await onConnection { connection in try body(PostgresStatements(connection: connection)) }
    }

    /// A transaction that lost a deadlock to another (two jobs' triggers
    /// locking two batches in opposite orders) is run again, a few times.
    ///
    /// A server that ends the session while COMMIT is on its way (a restart,
    /// pg_terminate_backend) may have committed or not; no client can tell
    /// from the lost answer. The transaction's id, taken before COMMIT, lets
    /// a new session ask the server which (`committedOrNot`): a committed
    /// change is the call's success, not an error that did nothing.
    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T {
        try await onConnection { connection in
            var tries = 0
            while true {
                _ = try connection.run("BEGIN", [])
                do {
                    let value = try body(PostgresStatements(connection: connection))
                    let transaction = try connection.run("SELECT txid_current_if_assigned()::text AS id", []).rows.first?
                        .optionalString("id")
                    do {
                        _ = try connection.run("COMMIT", [])
                    } catch let lost as StoreUnavailable where connection.endedByServer {
                        guard let transaction else { throw lost }
                        try self.committedOrNot(transaction, lost: lost)
                    }
                    return value
                } catch {
                    if connection.isOpen { _ = try? connection.run("ROLLBACK", []) }
                    tries += 1
                    guard let refusal = error as? SQLError, refusal.transient, tries < 4, connection.isOpen else { throw error }
                }
            }
        }
    }

    func maintain(_ body: @escaping @Sendable (any SQLConnection) throws -> Void) async throws {
        try await onConnection { connection in try body(PostgresStatements(connection: connection)) }
    }

    func changeCount(_ change: StoreChange) async throws -> Int64 {
        listener.count(of: change)
    }

    func watchChanges(_ wake: @escaping @Sendable () -> Void) -> (@Sendable () -> Void)? {
        listener.watch(wake)
    }

    func interrupt() {
        interruption.request()
    }

    func checkIdentity() throws {}

    func close() async {
        listener.stop()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                self.connection?.close()
                self.connection = nil
                continuation.resume()
            }
        }
    }

    /// Runs `body` on the connection, on the serial queue, connecting first
    /// when there is none (or it broke).
    private func onConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            queue.async {
                continuation.resume(with: Result { try self.connected(body) })
            }
        }
    }

    private func connected<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        // An interrupt asked for between two calls is for this one (a stop request must not
        // wait out a silent server because it came a moment early); the call uses it up.
        defer { interruption.reset() }
        // A connection the server ended while it sat idle is replaced before the call, not
        // found broken by it: the call after a restart or a pg_terminate_backend works.
        if let existing = connection, !existing.isOpen || existing.hasUnreadInput {
            existing.close()
            connection = nil
        }
        if let idle = connection {
            // The server's goodbye can still be on its way when the check above runs: then
            // the call's first statement meets it (FATAL 57P01, or the end of the stream),
            // and was never run. Once, on a new session, the call is made again. Not after a
            // statement was answered (a write is under way), nor after a deadline.
            let before = idle.answered
            do {
                return try run(body, on: idle)
            } catch is StoreUnavailable where idle.endedByServer && idle.answered == before {}
        }
        return try run(body, on: reconnected())
    }

    /// Returns when the transaction `id`, whose COMMIT's answer was lost,
    /// was committed; throws `lost` when it was not; and, when the server
    /// cannot say within the deadline (it is still restarting), says that
    /// the change may have been made.
    private func committedOrNot(_ id: String, lost: StoreUnavailable) throws {
        var gaveUp = ContinuousClock.now + deadline
        while !interruption.isRequested {
            let left = gaveUp - ContinuousClock.now
            guard left > .zero else { break }
            if let asked = try? PostgresConnection(location: location, deadline: left, interruption: interruption) {
                connection?.close()
                connection = asked
                let answer = try? asked.run("SELECT txid_status(?::bigint) AS status", [.text(id)])
                switch answer?.rows.first?.optionalString("status") {
                case "committed": return
                case "aborted": throw lost
                case "in progress": break  // its old session is still ending
                case nil where answer == nil: break  // the new session failed too
                default: gaveUp = .now  // too old to tell
                }
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw StoreUnavailable(location: lost.location,
                               reason: lost.reason + " (while committing: the change may have been made; check before doing it again)",
                               interrupted: lost.interrupted, outcomeUnknown: true)
    }

    private func reconnected() throws -> PostgresConnection {
        connection?.close()
        connection = nil
        let fresh = try PostgresConnection(location: location, deadline: deadline, interruption: interruption)
        connection = fresh
        return fresh
    }

    private func run<T>(_ body: (PostgresConnection) throws -> T, on current: PostgresConnection) throws -> T {
        do {
            return try body(current)
        } catch {
            if !current.isOpen, connection === current { connection = nil }
            throw error
        }
    }
}

/// A libpq connection as the store's `SQLConnection`.
struct PostgresStatements: SQLConnection {
    let connection: PostgresConnection
    var dialect: SQLDialect { .postgres }

    func execute(_ sql: String, _ arguments: [SQLValue]) throws -> Int {
        try connection.run(sql, arguments).changes
    }

    func query(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow] {
        try connection.run(sql, arguments).rows
    }
}
