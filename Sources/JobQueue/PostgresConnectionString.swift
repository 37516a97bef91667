import CLibPQ
import Foundation

/// A PostgreSQL queue named the way every PostgreSQL tool names a database,
/// handed to libpq as it is: a URL (`postgres://user@host:5432/vqueue`,
/// `postgres:///vqueue?host=/var/run/postgresql`) or `key=value` words
/// (`host=db.example dbname=vqueue sslmode=verify-full`). libpq fills in
/// the rest from `PG*` variables, `~/.pgpass` and service files, and gives
/// every `sslmode` its real meaning.
///
/// The text may hold a password; only `displayName`, which never does,
/// appears in messages.
public struct PostgresConnectionString: Sendable, Equatable {
    public let text: String

    public init(_ text: String) {
        self.text = text
    }

    /// True for a PostgreSQL URL or `key=value` string; anything else names
    /// an SQLite file.
    public static func recognises(_ text: String) -> Bool {
        let lower = text.lowercased()
        if lower.hasPrefix("postgres://") || lower.hasPrefix("postgresql://") { return true }
        // `host=… dbname=…`: the first word is one of libpq's keywords.
        let trimmed = text.drop { $0 == " " }
        guard let equals = trimmed.firstIndex(of: "=") else { return false }
        let keyword = trimmed[..<equals].trimmingCharacters(in: .whitespaces)
        return keywords.contains(keyword)
    }

    /// libpq 15's connection keywords.
    static let keywords: Set<String> = [
        "host", "hostaddr", "port", "dbname", "user", "password", "passfile", "channel_binding", "connect_timeout",
        "client_encoding", "options", "application_name", "fallback_application_name", "keepalives",
        "keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout", "replication", "gssencmode",
        "sslmode", "sslcompression", "sslcert", "sslkey", "sslpassword", "sslrootcert", "sslcrl", "sslcrldir",
        "sslsni", "requirepeer", "ssl_min_protocol_version", "ssl_max_protocol_version", "krbsrvname", "gsslib",
        "service", "target_session_attrs",
    ]

    /// `postgres://user@host:port/dbname` with whatever the string names of
    /// these, and never a password, however it was written (a URL is cut
    /// by hand at its last `@`, so a password holding `/` or `@` cannot
    /// leak through a parser that misreads it).
    public var displayName: String {
        if let scheme = text.range(of: "://") {
            let rest = text[scheme.upperBound...]
            var name = "postgres://"
            var hostPart = rest
            if let at = rest.lastIndex(of: "@") {
                let user = rest[..<at].prefix { $0 != ":" }
                name += user + "@"
                hostPart = rest[rest.index(after: at)...]
            }
            let path = hostPart.prefix { $0 != "?" }
            name += path
            if let question = hostPart.firstIndex(of: "?") {
                let shown = hostPart[hostPart.index(after: question)...].split(separator: "&")
                    .filter { $0.hasPrefix("host=") || $0.hasPrefix("port=") || $0.hasPrefix("service=") }
                if !shown.isEmpty { name += "?" + shown.joined(separator: "&") }
            }
            return name
        }
        let shown = Set(["host", "hostaddr", "port", "dbname", "user", "service"])
        guard let values = parsed() else { return "PostgreSQL (a connection string libpq cannot read)" }
        let words = values.filter { shown.contains($0.key) }.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        return words.isEmpty ? "PostgreSQL (from PG* variables)" : words.joined(separator: " ")
    }

    /// Why libpq should not be given this string, before it echoes parts
    /// of it in an error: a URL whose password holds a character that ends
    /// the user part early.
    public var problem: String? {
        guard let scheme = text.range(of: "://") else {
            // libpq's complaint about words it cannot read quotes them, and
            // one of them may be (part of) a password.
            return parsed() == nil && vq_libpq_available(nil) != 0
                ? "libpq cannot read this connection string (a value with spaces goes in single quotes: password='a b')"
                : nil
        }
        let rest = text[scheme.upperBound...]
        if Self.hasBadPercentEscape(rest) {
            return "the URL has an invalid percent escape ('%' not followed by two hex digits); write a literal % as %25"
        }
        guard let at = rest.lastIndex(of: "@") else { return nil }
        let credentials = rest[..<at]
        if credentials.contains("/") || credentials.contains("@") || credentials.contains("?") || credentials.contains("#") {
            return "the URL's user or password holds '/', '@', '?' or '#'; percent-encode them (%2F, %40, %3F, %23) "
                + "or keep the password in ~/.pgpass or PGPASSWORD"
        }
        return nil
    }

    private static func hasBadPercentEscape(_ text: Substring) -> Bool {
        var index = text.startIndex
        while let percent = text[index...].firstIndex(of: "%") {
            let digits = text[text.index(after: percent)...].prefix(2)
            if digits.count < 2 || !digits.allSatisfy(\.isHexDigit) { return true }
            index = text.index(percent, offsetBy: 3)
        }
        return false
    }

    /// Every spelling of the password this string holds, to scrub from
    /// any text that might echo it.
    var secrets: [String] {
        var found: [String] = []
        if let scheme = text.range(of: "://") {
            let rest = text[scheme.upperBound...]
            if let at = rest.lastIndex(of: "@"), let colon = rest[..<at].firstIndex(of: ":") {
                let raw = String(rest[rest.index(after: colon)..<at])
                found += [raw, raw.removingPercentEncoding ?? raw]
            }
            // `?password=…` in the query, as libpq also reads it.
            if let question = rest.firstIndex(of: "?") {
                for item in rest[rest.index(after: question)...].split(separator: "&") where item.hasPrefix("password=") {
                    let raw = String(item.dropFirst("password=".count))
                    found += [raw, raw.removingPercentEncoding ?? raw]
                }
            }
        } else if let password = parsed()?["password"] {
            found.append(password)
        } else if let range = text.range(of: "password") {
            // Unreadable words: everything after `password` may be it.
            found.append(String(text[range.upperBound...]).trimmingCharacters(in: CharacterSet(charactersIn: " =")))
        }
        return found.filter { !$0.isEmpty }.sorted { $0.count > $1.count }
    }

    /// `text` with every spelling of the password replaced by `***`.
    func scrubbed(_ message: String) -> String {
        secrets.reduce(message) { $0.replacingOccurrences(of: $1, with: "***") }
    }

    /// The string's words as libpq reads them, or nil.
    private func parsed() -> [String: String]? {
        guard vq_libpq_available(nil) != 0 else { return nil }
        var error: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(text, &error) else {
            if let error { PQfreemem(error) }
            return nil
        }
        defer { PQconninfoFree(options) }
        var values: [String: String] = [:]
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val { values[String(cString: keyword)] = String(cString: value) }
            option += 1
        }
        return values
    }
}
