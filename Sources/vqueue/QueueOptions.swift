import ArgumentParser
import Foundation
import JobQueue

/// Which queue database a command uses: `--db`, else `VQUEUE_DB`, else the
/// default `~/.local/share/vqueue/queue.db` (the same from every folder).
struct QueueOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The queue database. Default: $VQUEUE_DB, else ~/.local/share/vqueue/queue.db.",
                               valueName: "path"))
    var db: String?

    static let environmentVariable = "VQUEUE_DB"

    var location: String {
        if let db, !db.isEmpty { return db }
        if let env = ProcessInfo.processInfo.environment[Self.environmentVariable], !env.isEmpty { return env }
        return Self.defaultLocation
    }

    static var defaultLocation: String {
        let home = ProcessInfo.processInfo.environment["HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? FileManager.default.homeDirectoryForCurrentUser.path
        return URL(fileURLWithPath: home).appendingPathComponent(".local/share/vqueue/queue.db").path
    }

    /// Opens (creating if needed) the store: PostgreSQL for a `postgres://`
    /// URL, else an SQLite file. Ends the command with a one-line error
    /// naming the database (never its password) when that fails.
    func openStore() async throws -> any JobStore {
        let location = location
        if PostgresLocation.isPostgresURL(location) {
            let postgres: PostgresLocation
            do {
                postgres = try PostgresLocation(url: location)
            } catch {
                throw CommandFailure.report(Self.redacted(location), "bad queue database URL: \(error)")
            }
            do {
                return try await PostgresJobStore(location: postgres)
            } catch {
                throw CommandFailure.report(postgres.description,
                                            "cannot open the queue database: \(StoreErrorText.describe(error))")
            }
        }
        do {
            return try SQLiteJobStore(path: URL(fileURLWithPath: location).standardizedFileURL.path)
        } catch {
            throw CommandFailure.report(location, "cannot open the queue database: \(StoreErrorText.describe(error))")
        }
    }

    /// The queue's name for messages: a PostgreSQL URL without its password.
    var displayName: String {
        (try? PostgresLocation(url: location).description) ?? Self.redacted(location)
    }

    /// A location as typed, with any `:password@` blanked out.
    static func redacted(_ location: String) -> String {
        location.replacingOccurrences(of: #"(://[^/:@]*):[^@/]*@"#, with: "$1:***@", options: .regularExpression)
    }
}
