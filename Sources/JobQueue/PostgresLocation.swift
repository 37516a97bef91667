import Foundation

/// Where a PostgreSQL queue lives, read from a URL in libpq's form:
/// `postgres://user[:password]@host[:port]/dbname[?sslmode=disable|prefer|require]`
/// (`postgresql://` too; user, password and dbname may be percent-encoded).
public struct PostgresLocation: Sendable, Equatable {
    public enum TLSMode: String, Sendable {
        /// Plain TCP.
        case disable
        /// TLS when the server offers it (libpq's default).
        case prefer
        /// TLS or no connection. As in libpq, the server's certificate is not verified.
        case require
    }

    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var tls: TLSMode

    /// True for the URLs this type reads; anything else names an SQLite file.
    public static func isPostgresURL(_ text: String) -> Bool {
        let lower = text.lowercased()
        return lower.hasPrefix("postgres://") || lower.hasPrefix("postgresql://")
    }

    public init(url text: String) throws {
        guard Self.isPostgresURL(text), let components = URLComponents(string: text) else {
            throw PostgresLocationError("not a PostgreSQL URL (postgres://user@host:5432/dbname)")
        }
        guard let host = components.host, !host.isEmpty else {
            throw PostgresLocationError("the URL names no host (postgres://user@host:5432/dbname)")
        }
        guard let user = components.user, !user.isEmpty else {
            throw PostgresLocationError("the URL names no user (postgres://user@host:5432/dbname)")
        }
        let database = String(components.path.drop { $0 == "/" })
        guard !database.isEmpty, !database.contains("/") else {
            throw PostgresLocationError("the URL names no database (postgres://user@host:5432/dbname)")
        }
        var tls = TLSMode.prefer
        for item in components.queryItems ?? [] {
            switch (item.name, item.value ?? "") {
            case ("sslmode", let value):
                // libpq's allow and verify-* modes map to their nearest meaning here.
                switch value {
                case "disable": tls = .disable
                case "allow", "prefer": tls = .prefer
                case "require", "verify-ca", "verify-full": tls = .require
                default: throw PostgresLocationError("sslmode must be disable, prefer or require, not '\(value)'")
                }
            case (let name, _):
                throw PostgresLocationError("unknown URL parameter '\(name)' (only sslmode is read)")
            }
        }
        self.host = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        self.port = components.port ?? 5432
        self.user = components.percentEncodedUser.flatMap { $0.removingPercentEncoding } ?? user
        self.password = components.percentEncodedPassword.flatMap { $0.removingPercentEncoding }
        self.database = database.removingPercentEncoding ?? database
        self.tls = tls
    }

    /// The URL without its password, for messages.
    public var description: String {
        "postgres://\(user)@\(host.contains(":") ? "[\(host)]" : host):\(port)/\(database)"
    }
}

public struct PostgresLocationError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
