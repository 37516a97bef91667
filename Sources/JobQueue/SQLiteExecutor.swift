import Foundation
import GRDB

/// The embedded store's database: one SQLite file on one host (WAL needs
/// shared memory, so never on a network file system), through GRDB.
///
/// Writes are immediate transactions (GRDB's default for a pool), so they
/// never deadlock on lock upgrades; a busy timeout makes a process wait for
/// another's write rather than fail, and a `database is locked` that slips
/// past it (WAL recovery after a crash, opening while another process
/// converts the journal) is retried until the same deadline.
/// `synchronous=FULL` makes every acknowledged submit survive a power cut.
final class SQLiteExecutor: SQLExecutor {
    let dialect = SQLDialect.sqlite
    let path: String
    let pool: DatabasePool
    /// The file as opened (device, inode), to notice it removed or replaced.
    private let identity: FileIdentity
    private let interruption: Interruption

    /// How long any statement waits for another process's lock.
    static let busyTimeout: Double = 60

    var displayName: String { path }

    /// Opens the queue file, creating it (and, with `createFolder`, its
    /// folder) when missing. The file is created by this process with its
    /// umask honoured, so a group-shared folder gets a group-writable queue
    /// (SQLite creates `-wal` and `-shm` with the file's own permissions).
    init(path: String, createFolder: Bool) throws {
        self.path = path
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var isFolder: ObjCBool = false
        if !FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder) {
            guard createFolder else {
                throw StoreUnavailable(location: path, reason: "its folder \(folder) does not exist (check --db or VQUEUE_DB)")
            }
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            } catch {
                throw StoreUnavailable(location: path, reason: "cannot create its folder \(folder): \(Self.errnoText(error))")
            }
        } else if !isFolder.boolValue {
            throw StoreUnavailable(location: path, reason: "\(folder) is not a folder")
        }
        let created = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        if created >= 0 { Glibc.close(created) }

        var configuration = Configuration()
        // Wait for another process's lock in short sleeps, so that a worker
        // asked to stop is not held up by a long wait (SQLite's own busy
        // timeout cannot be interrupted).
        let interruption = Interruption()
        self.interruption = interruption
        let sleep: UInt32 = 10_000
        configuration.busyMode = .callback { tries in
            if interruption.isRequested { return false }
            usleep(sleep)
            return Double(tries) * Double(sleep) / 1e6 < Self.busyTimeout
        }
        configuration.prepareDatabase { db in
            db.add(function: DatabaseFunction("vqueue_now", argumentCount: 0, pure: false) { _ in
                Date().timeIntervalSince1970
            })
            // A part's change changes its whole, whose own trigger must fire
            // (`QueueSchema.wholeAndPartStatements`), as PostgreSQL's do.
            try db.execute(sql: "PRAGMA recursive_triggers = ON")
            // A new file: space freed by `prune` is then given back a little
            // at a time. It must be chosen before anything is written (GRDB
            // switches to WAL right after this, which writes the header).
            if try Int.fetchOne(db, sql: "PRAGMA page_count") == 0 {
                try db.execute(sql: "PRAGMA auto_vacuum = INCREMENTAL")
            }
        }
        let pool = try Self.retryingBusy(path: path) {
            do {
                return try DatabasePool(path: path, configuration: configuration)
            } catch let error as DatabaseError {
                throw Self.describe(error, path: path)
            }
        }
        // GRDB's WAL set-up, which runs after `prepareDatabase`, sets the
        // writer to synchronous=NORMAL: commits would then reach the disk
        // only at the next checkpoint, and a power cut could lose
        // acknowledged submits. Every write goes through this one connection.
        do {
            try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        } catch let error as DatabaseError {
            throw Self.describe(error, path: path)
        }
        self.pool = pool
        guard let identity = FileIdentity(path: path) else {
            throw StoreUnavailable(location: path, reason: "the file vanished while it was being opened")
        }
        self.identity = identity
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T {
        try await run { [pool] in try await pool.read { db in try body(SQLiteConnection(db: db)) } }
    }

    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T {
        try await run { [pool] in try await pool.write { db in try body(SQLiteConnection(db: db)) } }
    }

    func maintain(_ body: @escaping @Sendable (any SQLConnection) throws -> Void) async throws {
        try await run { [pool] in try await pool.writeWithoutTransaction { db in try body(SQLiteConnection(db: db)) } }
    }

    func changeCount(_ change: StoreChange) async throws -> Int64 {
        // data_version is per connection and moves when *another* connection
        // commits; the writer connection is always the same one.
        try await run { [pool] in
            try await pool.writeWithoutTransaction { db in try Int64.fetchOne(db, sql: "PRAGMA data_version") ?? 0 }
        }
    }

    func watchChanges(_ wake: @escaping @Sendable () -> Void) -> (@Sendable () -> Void)? {
        guard let watch = SQLiteFileWatch(databasePath: path, wake: wake) else { return nil }
        return { watch.stop() }
    }

    func close() async {
        try? pool.close()
    }

    func interrupt() {
        interruption.request()
        pool.interrupt()
    }

    func checkIdentity() throws {
        guard let now = FileIdentity(path: path) else {
            throw StoreUnavailable(location: path, reason: "the queue database file was removed while this process had it open")
        }
        if now != identity {
            throw StoreUnavailable(location: path, reason: "the queue database file was replaced by another file while this process had it open")
        }
    }

    /// Runs one store call: busy errors retried until the busy timeout,
    /// other database errors turned into one line (no SQL, no codes alone).
    private func run<T>(_ call: () async throws -> T) async throws -> T {
        // An interrupt asked for between two calls is for this one (a stop request must not
        // wait out a lock because it came a moment early); the call uses it up.
        defer { interruption.reset() }
        let deadline = Date().addingTimeInterval(Self.busyTimeout)
        while true {
            do {
                return try await call()
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY && Date() < deadline
                        && !interruption.isRequested {
                // A lock the busy handler is not asked about (WAL recovery after a crash).
                try await Task.sleep(for: .milliseconds(20))
            } catch let error as DatabaseError {
                if interruption.isRequested {
                    throw StoreUnavailable(location: path, reason: "interrupted", interrupted: true)
                }
                throw Self.describe(error, path: path)
            }
        }
    }

    private static func retryingBusy<T>(path: String, _ open: () throws -> T) throws -> T {
        let deadline = Date().addingTimeInterval(busyTimeout)
        while true {
            do {
                return try open()
            } catch let error as StoreUnavailable where error.reason.contains("database is locked") && Date() < deadline {
                usleep(20_000)
            }
        }
    }

    /// A database error as the store reports it: the file's problem as
    /// `StoreUnavailable` (permissions, not a database, disk full), a
    /// refused statement as `SQLError`.
    static func describe(_ error: DatabaseError, path: String) -> any Error {
        let message = error.message ?? "SQLite error \(error.resultCode.rawValue)"
        switch error.resultCode {
        case .SQLITE_CONSTRAINT:
            // "UNIQUE constraint failed: jobs.target"
            let index = message.hasPrefix("UNIQUE constraint failed: ")
                ? String(message.dropFirst("UNIQUE constraint failed: ".count)) : nil
            return SQLError(message, uniqueIndex: index)
        case .SQLITE_READONLY, .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_AUTH:
            return StoreUnavailable(location: path, reason: permissionProblem(path: path, message: message))
        case .SQLITE_NOTADB, .SQLITE_CORRUPT:
            return StoreUnavailable(location: path, reason: "is not a usable vqueue database (SQLite: \(message)); "
                                    + "move it away and let vqueue create a new one, or restore a backup")
        case .SQLITE_FULL:
            return StoreUnavailable(location: path, reason: "the disk holding the queue database is full; free some space")
        case .SQLITE_IOERR, .SQLITE_BUSY, .SQLITE_LOCKED, .SQLITE_PROTOCOL, .SQLITE_NOMEM, .SQLITE_INTERRUPT:
            return StoreUnavailable(location: path, reason: message)
        default:
            return SQLError(message)
        }
    }

    /// Which file, which user, and where the README explains the fix.
    private static func permissionProblem(path: String, message: String) -> String {
        let user = getpwuid(geteuid()).map { String(cString: $0.pointee.pw_name) } ?? "uid \(geteuid())"
        for file in [path, path + "-wal", path + "-shm", URL(fileURLWithPath: path).deletingLastPathComponent().path] {
            var info = stat()
            guard stat(file, &info) == 0 else { continue }
            let isFolder = (info.st_mode & S_IFMT) == S_IFDIR
            if access(file, isFolder ? (W_OK | X_OK) : (R_OK | W_OK)) != 0 {
                let owner = getpwuid(info.st_uid).map { String(cString: $0.pointee.pw_name) } ?? "uid \(info.st_uid)"
                let mode = String(info.st_mode & 0o7777, radix: 8)
                return "\(user) cannot write \(file) (owned by \(owner), mode \(mode)); give \(user) write access to the "
                    + "database, its -wal and -shm files and its folder (README: \"Several users, one database\")"
            }
        }
        return "\(message) (README: \"Several users, one database\")"
    }

    private static func errnoText(_ error: any Error) -> String {
        (error as NSError).localizedFailureReason ?? (error as NSError).localizedDescription
    }
}

/// A file's device and inode: the same path naming another file is noticed.
struct FileIdentity: Equatable {
    let device: UInt64
    let inode: UInt64

    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }
}

/// GRDB's connection as the store's `SQLConnection`.
struct SQLiteConnection: SQLConnection {
    let db: Database
    var dialect: SQLDialect { .sqlite }

    func execute(_ sql: String, _ arguments: [SQLValue]) throws -> Int {
        let statement = try db.cachedStatement(sql: sql)
        try statement.execute(arguments: Self.arguments(arguments))
        return db.changesCount
    }

    func query(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow] {
        let statement = try db.cachedStatement(sql: sql)
        let columns = SQLColumns(statement.columnNames)
        return try Row.fetchAll(statement, arguments: Self.arguments(arguments)).map { row in
            SQLRow(columns: columns, values: row.databaseValues.map(Self.value))
        }
    }

    private static func arguments(_ values: [SQLValue]) -> StatementArguments {
        StatementArguments(values.map { value -> (any DatabaseValueConvertible)? in
            switch value {
            case .null: return nil
            case .integer(let number): return number
            case .real(let number): return number
            case .text(let text): return text
            }
        })
    }

    private static func value(_ value: DatabaseValue) -> SQLValue {
        switch value.storage {
        case .null: return .null
        case .int64(let number): return .integer(number)
        case .double(let number): return .real(number)
        case .string(let text): return .text(text)
        case .blob(let data): return .text(String(decoding: data, as: UTF8.self))
        }
    }
}
