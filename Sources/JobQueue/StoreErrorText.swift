import Foundation

/// Store errors in one line, for a command's error message: the database's
/// own words, without SQL, codes alone or a password.
public enum StoreErrorText {
    public static func describe(_ error: any Error) -> String {
        if error is PostgresUnavailable || PostgresSession.isPostgresError(error) {
            return PostgresSession.describe(error)
        }
        let text = String(describing: error)
        // GRDB's description is "SQLite error N: message - while executing `...`".
        let message = text.components(separatedBy: " - while executing").first ?? text
        return message.replacingOccurrences(of: "\n", with: " ")
    }
}
