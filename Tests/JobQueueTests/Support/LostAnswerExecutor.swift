import Foundation
import Synchronization
@testable import JobQueue

/// A real executor whose next few write transactions that run a statement containing some text
/// (one that changed or returned rows) are committed, and then reported failed with `StoreUnavailable`: the connection died after the
/// server committed and before its answer arrived, which no client can tell from a failed commit
/// (a PostgreSQL server shutting down ends its sessions so, mid-COMMIT).
final class LostAnswerExecutor: SQLExecutor {
    private let base: any SQLExecutor
    private let state = Mutex<(text: String?, left: Int, lost: Int)>((nil, 0, 0))

    init(_ base: any SQLExecutor) {
        self.base = base
    }

    /// The next `times` committed writes that run a statement containing `text`, which changed or
    /// returned rows, are reported failed.
    func loseAnswers(ofWritesContaining text: String, times: Int) {
        state.withLock { $0 = (text, times, $0.lost) }
    }

    /// How many answers were lost so far.
    var lost: Int { state.withLock { $0.lost } }

    var dialect: SQLDialect { base.dialect }
    var displayName: String { base.displayName }

    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T {
        try await base.read(body)
    }

    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T {
        let ran = StatementLog()
        let value = try await base.write { db in try body(RecordingConnection(base: db, log: ran)) }
        let loses = state.withLock { state -> Bool in
            guard let text = state.text, state.left > 0,
                  ran.statements.contains(where: { $0.sql.contains(text) && $0.rows > 0 }) else { return false }
            state.left -= 1
            state.lost += 1
            return true
        }
        if loses {
            throw StoreUnavailable(location: displayName, reason: "server closed the connection unexpectedly (test: after the commit)")
        }
        return value
    }

    func maintain(_ body: @escaping @Sendable (any SQLConnection) throws -> Void) async throws {
        try await base.maintain(body)
    }

    func changeCount(_ change: StoreChange) async throws -> Int64 {
        try await base.changeCount(change)
    }

    /// No change notices: a worker on this executor polls every tick.
    func watchChanges(_ wake: @escaping @Sendable () -> Void) -> (@Sendable () -> Void)? { nil }

    func interrupt() { base.interrupt() }
    func checkIdentity() throws { try base.checkIdentity() }
    func close() async { await base.close() }
}

/// The statements one transaction ran, with the rows each changed or returned.
private final class StatementLog: Sendable {
    private let list = Mutex<[(sql: String, rows: Int)]>([])
    func append(_ sql: String, rows: Int) { list.withLock { $0.append((sql, rows)) } }
    var statements: [(sql: String, rows: Int)] { list.withLock { $0 } }
}

private struct RecordingConnection: SQLConnection {
    let base: any SQLConnection
    let log: StatementLog

    var dialect: SQLDialect { base.dialect }

    func execute(_ sql: String, _ arguments: [SQLValue]) throws -> Int {
        let changed = try base.execute(sql, arguments)
        log.append(sql, rows: changed)
        return changed
    }

    func query(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow] {
        let rows = try base.query(sql, arguments)
        log.append(sql, rows: rows.count)
        return rows
    }
}
