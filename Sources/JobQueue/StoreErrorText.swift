/// Store errors in one line, for a command's error message or a worker's
/// log: the database's own words, without SQL, codes alone or a password.
public enum StoreErrorText {
    public static func describe(_ error: any Error) -> String {
        switch error {
        case let unavailable as StoreUnavailable: return unavailable.reason
        case let refused as SQLError: return refused.message
        case let rule as JobStoreError: return rule.description
        default: return String(describing: error).split(whereSeparator: \.isNewline).joined(separator: " ")
        }
    }
}
