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

    /// Opens (creating if needed) the store, or ends the command with a
    /// one-line error naming the database.
    func openStore() throws -> any JobStore {
        let path = location
        do {
            return try SQLiteJobStore(path: URL(fileURLWithPath: path).standardizedFileURL.path)
        } catch {
            throw CommandFailure.report(path, "cannot open the queue database: \(QueueErrorText.describe(error))")
        }
    }
}

/// Database errors in one line, without SQL or codes alone.
enum QueueErrorText {
    static func describe(_ error: any Error) -> String {
        let text = String(describing: error)
        // GRDB's description is "SQLite error N: message - while executing `...`".
        let message = text.components(separatedBy: " - while executing").first ?? text
        return message.replacingOccurrences(of: "\n", with: " ")
    }
}
