import Foundation
import Synchronization
import Testing
@testable import JobQueue

/// A fresh, empty queue database of one test's own: an SQLite file in a new temporary folder,
/// or a new database on the test PostgreSQL server. Every store opened on it is closed, and the
/// database removed, when the test's body ends (`withTestDatabase`).
final class TestDatabase: Sendable {
    let kind: StoreKind
    /// Where the queue is, as `--db` would name it.
    let location: QueueLocation
    /// The SQLite file's folder, or the PostgreSQL database's name, to remove afterwards.
    private let leftover: String
    private let opened = Mutex<[SQLJobStore]>([])

    private init(kind: StoreKind, location: QueueLocation, leftover: String) {
        self.kind = kind
        self.location = location
        self.leftover = leftover
    }

    static func make(_ kind: StoreKind, sourceLocation: SourceLocation = #_sourceLocation) async throws -> TestDatabase {
        switch kind {
        case .sqlite:
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vqueue-store-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            return TestDatabase(kind: kind, location: .sqlite(path: folder.appendingPathComponent("queue.db").path),
                                leftover: folder.path)
        case .postgres:
            let (name, url) = try await TestPostgresServer.createDatabase(sourceLocation: sourceLocation)
            return TestDatabase(kind: kind, location: try QueueLocation(url), leftover: name)
        }
    }

    /// The SQLite file's path (SQLite databases only).
    var sqlitePath: String {
        guard case .sqlite(let path) = location else { preconditionFailure("a \(kind) database has no file") }
        return path
    }

    /// The PostgreSQL database's name (PostgreSQL databases only).
    var postgresName: String {
        precondition(kind == .postgres, "a \(kind) database has no name on a server")
        return leftover
    }

    /// The PostgreSQL connection string (PostgreSQL databases only).
    var postgresURL: String {
        guard case .postgres(let connection) = location else { preconditionFailure("a \(kind) database has no URL") }
        return connection.text
    }

    /// A store on the database as every command opens one (`QueueLocation.open`). Each call is
    /// another store instance, with connections of its own: another process, as far as the
    /// database can tell.
    func open() async throws -> SQLJobStore {
        let store = try await location.open(createFolder: false)
        opened.withLock { $0.append(store) }
        return store
    }

    /// A store over a `ControllableExecutor`: the executor a command would open, which the test
    /// can make fail or hang.
    func openControllable() async throws -> (store: SQLJobStore, executor: ControllableExecutor) {
        let executor = ControllableExecutor(try makeExecutor())
        let store = try await SQLJobStore(executor: executor)
        opened.withLock { $0.append(store) }
        return (store, executor)
    }

    /// The executor `QueueLocation.open` would make, not yet opened as a store.
    func makeExecutor() throws -> any SQLExecutor {
        switch location {
        case .sqlite(let path): return try SQLiteExecutor(path: path, createFolder: false)
        case .postgres(let connection): return PostgresExecutor(location: connection, deadline: .seconds(30))
        }
    }

    /// Closes every store opened here and removes the database.
    func remove() async {
        for store in opened.withLock({ $0 }) { await store.close() }
        switch kind {
        case .sqlite: try? FileManager.default.removeItem(atPath: leftover)
        case .postgres: TestPostgresServer.dropDatabase(leftover)
        }
    }
}

/// Runs `body` with a fresh database of `kind`, removed afterwards however the body ends.
func withTestDatabase<T>(_ kind: StoreKind, sourceLocation: SourceLocation = #_sourceLocation,
                         _ body: (TestDatabase) async throws -> T) async throws -> T {
    let database = try await TestDatabase.make(kind, sourceLocation: sourceLocation)
    do {
        let value = try await body(database)
        await database.remove()
        return value
    } catch {
        await database.remove()
        throw error
    }
}

/// Runs `body` with one store on a fresh database of `kind`.
func withStore<T>(_ kind: StoreKind, sourceLocation: SourceLocation = #_sourceLocation,
                  _ body: (SQLJobStore) async throws -> T) async throws -> T {
    try await withTestDatabase(kind, sourceLocation: sourceLocation) { database in
        try await body(try await database.open())
    }
}
