/// A value bound to or read from a statement, in the four kinds both stores
/// share (SQLite's storage classes; PostgreSQL's columns here are bigint,
/// integer, double precision and text).
public enum SQLValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
}

/// Something that can be bound as a statement argument.
public protocol SQLBindable: Sendable {
    var sqlValue: SQLValue { get }
}

extension Int: SQLBindable { public var sqlValue: SQLValue { .integer(Int64(self)) } }
extension Int64: SQLBindable { public var sqlValue: SQLValue { .integer(self) } }
extension Double: SQLBindable { public var sqlValue: SQLValue { .real(self) } }
extension String: SQLBindable { public var sqlValue: SQLValue { .text(self) } }
extension Bool: SQLBindable { public var sqlValue: SQLValue { .integer(self ? 1 : 0) } }
extension SQLValue: SQLBindable { public var sqlValue: SQLValue { self } }
extension Optional: SQLBindable where Wrapped: SQLBindable {
    public var sqlValue: SQLValue { self?.sqlValue ?? .null }
}

/// One row of a result, read by column name. The columns' names are shared
/// by every row of one result.
public struct SQLRow: Sendable {
    let columns: SQLColumns
    let values: [SQLValue]

    public subscript(_ name: String) -> SQLValue {
        guard let index = columns.index[name] else { return .null }
        return values[index]
    }

    public func int(_ name: String) -> Int { optionalInt(name) ?? 0 }
    public func int64(_ name: String) -> Int64 { optionalInt64(name) ?? 0 }
    public func double(_ name: String) -> Double { optionalDouble(name) ?? 0 }
    public func string(_ name: String) -> String { optionalString(name) ?? "" }

    public func optionalInt(_ name: String) -> Int? { optionalInt64(name).map { Int(clamping: $0) } }

    public func optionalInt64(_ name: String) -> Int64? {
        switch self[name] {
        case .integer(let value): return value
        case .real(let value): return value.isFinite ? Int64(value) : nil
        case .text(let text): return Int64(text)
        case .null: return nil
        }
    }

    public func optionalDouble(_ name: String) -> Double? {
        switch self[name] {
        case .integer(let value): return Double(value)
        case .real(let value): return value
        case .text(let text): return Double(text)
        case .null: return nil
        }
    }

    public func optionalString(_ name: String) -> String? {
        switch self[name] {
        case .text(let text): return text
        case .integer(let value): return String(value)
        case .real(let value): return String(value)
        case .null: return nil
        }
    }
}

/// The column names of one result and where each is.
final class SQLColumns: Sendable {
    let names: [String]
    let index: [String: Int]

    init(_ names: [String]) {
        self.names = names
        var index: [String: Int] = [:]
        for (position, name) in names.enumerated() where index[name] == nil { index[name] = position }
        self.index = index
    }
}
