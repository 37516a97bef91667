/// One connection inside one transaction (or, for maintenance, none), used
/// by one caller at a time. Statements are written once for both stores,
/// with `?` placeholders and the few differences asked of `dialect`.
public protocol SQLConnection {
    var dialect: SQLDialect { get }
    /// Runs a statement; returns the number of rows it inserted, changed or deleted.
    @discardableResult
    func execute(_ sql: String, _ arguments: [SQLValue]) throws -> Int
    /// Runs a statement and returns its rows (a SELECT, or a change with RETURNING).
    func query(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow]
}

extension SQLConnection {
    @discardableResult
    func execute(_ sql: String, _ arguments: any SQLBindable...) throws -> Int {
        try execute(sql, arguments.map(\.sqlValue))
    }

    func query(_ sql: String, _ arguments: any SQLBindable...) throws -> [SQLRow] {
        try query(sql, arguments.map(\.sqlValue))
    }

    func queryOne(_ sql: String, _ arguments: any SQLBindable...) throws -> SQLRow? {
        try query(sql, arguments.map(\.sqlValue)).first
    }

    func queryOne(_ sql: String, _ arguments: [SQLValue]) throws -> SQLRow? {
        try query(sql, arguments).first
    }

    /// `?, ?, ?` for an IN list of `count` values (at least one, so the SQL stays valid).
    func marks(_ count: Int) -> String {
        Array(repeating: "?", count: max(count, 1)).joined(separator: ", ")
    }
}

/// Runs transactions against one database: the small surface the queue's
/// one SQL store is written over, implemented by GRDB for SQLite and by
/// libpq for PostgreSQL.
///
/// Bodies are synchronous and run on the connection's own serial executor
/// (GRDB's writer queue; one thread per PostgreSQL connection), so a
/// transaction never interleaves with another caller's statements and
/// never suspends while it holds locks.
public protocol SQLExecutor: Sendable {
    var dialect: SQLDialect { get }
    /// The database for messages: a path, or a PostgreSQL URL without its password.
    var displayName: String { get }

    /// A consistent snapshot for reading.
    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T
    /// A write transaction: committed when `body` returns, rolled back when it
    /// throws. Writes never overlap (SQLite: `BEGIN IMMEDIATE`; PostgreSQL:
    /// row locks), so check-then-write inside one is safe.
    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T
    /// Statements that must run outside a transaction (compaction).
    func maintain(_ body: @escaping @Sendable (any SQLConnection) throws -> Void) async throws

    /// A number that changes when `change` may have happened (SQLite: another
    /// connection committed; PostgreSQL: a NOTIFY arrived). Cheap to poll.
    func changeCount(_ change: StoreChange) async throws -> Int64
    /// Calls `wake`, from a thread of its own, soon after another process
    /// may have changed the database, until the returned function is called;
    /// nil when it cannot tell (the caller then polls).
    func watchChanges(_ wake: @escaping @Sendable () -> Void) -> (@Sendable () -> Void)?
    /// Makes the call in progress give up now with `StoreUnavailable` (a worker
    /// asked to stop does not wait out a silent server); asked between two
    /// calls, it is for the next one, which gives up if it has to wait.
    func interrupt()
    /// Throws when the database is no longer the one that was opened (an
    /// SQLite file removed or replaced under a running worker).
    func checkIdentity() throws
    /// Ends the connections (a PostgreSQL database can then be dropped).
    func close() async
}

/// The queue database cannot be opened or reached right now (a missing
/// folder, permissions, a server that is down or silent). Commands exit 75
/// on it; a worker waits and retries.
public struct StoreUnavailable: Error, CustomStringConvertible, Sendable {
    /// The database, as `SQLExecutor.displayName` names it.
    public let location: String
    /// What is wrong, in one line, with the fix where there is one.
    public let reason: String
    /// The call was abandoned on request (`SQLExecutor.interrupt`), not
    /// because the database failed.
    public let interrupted: Bool
    /// The connection was lost while a change was being committed, and the
    /// database could not say afterwards whether it was: the change may
    /// have been made.
    public let outcomeUnknown: Bool

    public init(location: String, reason: String, interrupted: Bool = false, outcomeUnknown: Bool = false) {
        self.location = location
        self.reason = reason
        self.interrupted = interrupted
        self.outcomeUnknown = outcomeUnknown
    }

    public var description: String { "\(location): \(reason)" }
}

/// A statement the database refused (a broken constraint, a bug), in one
/// line without the SQL.
public struct SQLError: Error, CustomStringConvertible, Sendable {
    public let message: String
    /// The unique index a write would have broken, when that is the problem.
    public let uniqueIndex: String?
    /// The transaction lost to another (a deadlock): it was rolled back,
    /// and running it again is the cure.
    public let transient: Bool

    public init(_ message: String, uniqueIndex: String? = nil, transient: Bool = false) {
        self.message = message
        self.uniqueIndex = uniqueIndex
        self.transient = transient
    }

    public var description: String { message }
}
