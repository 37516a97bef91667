import Foundation

/// Where a queue lives, read once from `--db` / `VQUEUE_DB` (or the default
/// path): a PostgreSQL connection string (URL or `key=value` words), or
/// the path of an SQLite file. Every command and the benchmarks open their
/// store through here.
public enum QueueLocation: Sendable, Equatable {
    case sqlite(path: String)
    case postgres(PostgresConnectionString)

    /// Reads a location as typed. An empty text is not a location.
    public init(_ text: String) throws(QueueLocationError) {
        guard !text.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw QueueLocationError("the queue database location is empty; give a file path or a postgres:// URL")
        }
        if PostgresConnectionString.recognises(text) {
            self = .postgres(PostgresConnectionString(text))
        } else {
            self = .sqlite(path: URL(fileURLWithPath: text).standardizedFileURL.path)
        }
    }

    /// How long connecting to PostgreSQL, or any one statement, may wait
    /// for the server before it counts as unreachable.
    public static let defaultDeadline = Duration.seconds(15)

    /// The location for messages, never with a password.
    public var displayName: String {
        switch self {
        case .sqlite(let path): return path
        case .postgres(let connection): return connection.displayName
        }
    }

    /// Opens the store, creating its tables on first use. An SQLite file's
    /// folder is created only with `createFolder` (`submit` and `worker`:
    /// other commands on a mistyped path say so instead of making one).
    /// Throws `StoreUnavailable` when the database cannot be opened or
    /// reached, with one line that says what to do.
    public func open(createFolder: Bool, deadline: Duration = QueueLocation.defaultDeadline) async throws -> SQLJobStore {
        let executor: any SQLExecutor
        switch self {
        case .sqlite(let path): executor = try SQLiteExecutor(path: path, createFolder: createFolder)
        case .postgres(let connection): executor = PostgresExecutor(location: connection, deadline: deadline)
        }
        do {
            return try await SQLJobStore(executor: executor)
        } catch let error as SQLError {
            // The schema could not be made or read: a database that is not ours.
            throw StoreUnavailable(location: displayName, reason: "cannot set up the queue's tables: \(error.message)")
        }
    }
}

public struct QueueLocationError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
