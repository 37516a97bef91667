import ArgumentParser
import Foundation
import JobQueue

/// Which queue database a command uses: `--db`, else `VQUEUE_DB`, else the
/// default `~/.local/share/vqueue/queue.db` (the same from every folder).
struct QueueOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "The queue database: a file, or a PostgreSQL URL or key=value string. Default: $VQUEUE_DB, else ~/.local/share/vqueue/queue.db.",
        valueName: "path-or-url"), completion: .file())
    var db: String?

    static let environmentVariable = "VQUEUE_DB"

    func validate() throws {
        if let db, db.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("--db is empty; give the queue database's path or a postgres:// URL.")
        }
    }

    /// The location as typed (or taken from the environment, or the default).
    var text: String {
        if let db { return db }
        if let env = ProcessInfo.processInfo.environment[Self.environmentVariable], !env.isEmpty { return env }
        return Self.defaultLocation
    }

    static var defaultLocation: String {
        let home = ProcessInfo.processInfo.environment["HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? FileManager.default.homeDirectoryForCurrentUser.path
        return URL(fileURLWithPath: home).appendingPathComponent(".local/share/vqueue/queue.db").path
    }

    /// The queue's name for messages, never with a password.
    var displayName: String {
        (try? QueueLocation(text).displayName) ?? text
    }

    /// Opens the store: PostgreSQL for a connection string, else an SQLite
    /// file (its folder created only with `createFolder`: `submit` and
    /// `worker`). A database that cannot be opened or reached ends the
    /// command with one line and exit 75.
    func openStore(createFolder: Bool = false) async throws -> SQLJobStore {
        let location: QueueLocation
        do {
            location = try QueueLocation(text)
        } catch {
            throw CommandFailure.report("--db", error.description, exitCode: ExitCode.validationFailure.rawValue)
        }
        do {
            return try await location.open(createFolder: createFolder)
        } catch let unavailable as StoreUnavailable {
            throw CommandFailure.report(unavailable.location, "cannot open the queue database: \(unavailable.reason)",
                                        exitCode: StoreFailure.exitCode)
        }
    }
}

/// Errors of the queue database while a command runs (it went away, its
/// disk filled, a statement was refused): one line and exit 75, the
/// sysexits code for "temporary failure, try again", never 1, which
/// means the job failed.
enum StoreFailure {
    static let exitCode: Int32 = 75

    /// The line and exit code for `error`, when it is the store's.
    static func report(_ error: any Error) -> CommandRefusal? {
        switch error {
        case let unavailable as StoreUnavailable:
            return CommandFailure.report(unavailable.location, "the queue database: \(unavailable.reason)", exitCode: exitCode)
        case let refused as SQLError:
            return CommandFailure.report("the queue database", "refused a statement: \(refused.message)", exitCode: exitCode)
        default:
            return nil
        }
    }
}
