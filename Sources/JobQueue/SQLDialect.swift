import Foundation

/// What really differs between the two stores' SQL; everything else is
/// written once.
public enum SQLDialect: String, Sendable {
    case sqlite
    case postgres

    /// Locks the claimed rows and skips rows other workers are claiming
    /// (PostgreSQL); SQLite's writes are serialized already.
    var skipLocked: String {
        self == .postgres ? "FOR UPDATE SKIP LOCKED" : ""
    }

    /// The larger of two values (SQLite's two-argument MAX).
    func greatest(_ a: String, _ b: String) -> String {
        self == .postgres ? "GREATEST(\(a), \(b))" : "MAX(\(a), \(b))"
    }

    /// The smaller of two values (SQLite's two-argument MIN).
    func least(_ a: String, _ b: String) -> String {
        self == .postgres ? "LEAST(\(a), \(b))" : "MIN(\(a), \(b))"
    }

    /// A column type in the schema's one description, for this database.
    func type(_ type: ColumnType) -> String {
        switch (self, type) {
        case (.sqlite, .id): return "INTEGER PRIMARY KEY AUTOINCREMENT"
        case (.postgres, .id): return "bigserial PRIMARY KEY"
        case (.sqlite, .integer), (.sqlite, .bigint): return "INTEGER"
        case (.postgres, .integer): return "integer"
        case (.postgres, .bigint): return "bigint"
        case (.sqlite, .time), (.sqlite, .real): return "REAL"
        case (.postgres, .time), (.postgres, .real): return "double precision"
        case (_, .text): return "TEXT"
        }
    }

    enum ColumnType: String, CaseIterable {
        /// The table's key, handed out in insertion order.
        case id
        case integer
        case bigint
        /// Seconds since 1970 on the store's clock.
        case time
        case real
        case text
    }

    /// `{id}`, `{time}`… in `sql` replaced by this dialect's types.
    func render(_ sql: String) -> String {
        var rendered = sql
        for type in ColumnType.allCases {
            rendered = rendered.replacingOccurrences(of: "{\(type.rawValue)}", with: self.type(type))
        }
        return rendered
    }
}
