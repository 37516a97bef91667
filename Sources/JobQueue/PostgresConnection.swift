import CLibPQ
import Foundation
import Synchronization

/// One libpq connection, used by one thread at a time, where no call can
/// hang: libpq runs in non-blocking mode and this type waits on its socket
/// with `poll`, so connecting and every statement end by a deadline (the
/// server silent, a cut link) or when interrupted (a worker asked to stop).
/// Either way the connection is dropped and the call throws
/// `StoreUnavailable`; the caller connects again next time.
///
/// TCP keepalives and `tcp_user_timeout` make the kernel give up on a dead
/// peer too, so even an idle LISTEN connection notices a vanished server.
final class PostgresConnection {
    private var connection: OpaquePointer?
    let location: PostgresConnectionString
    /// Set from any thread to abandon the call in progress.
    let interruption: Interruption

    /// How long a statement, or connecting, may wait for the server.
    let deadline: Duration

    /// Statements the server has answered (successfully or with an ordinary
    /// SQL error) on this connection.
    private(set) var answered = 0
    /// The server ended the session or the link broke (not: a deadline
    /// passed, a call was interrupted). A statement that met this before any
    /// answer never ran, when the session had ended before it was sent.
    private(set) var endedByServer = false

    /// libpq's settings vqueue adds to what the connection string says (it
    /// can override each): fail fast on a dead server, name ourselves in
    /// `pg_stat_activity`.
    private static let defaults: [(String, String)] = [
        ("connect_timeout", "10"),
        ("keepalives", "1"),
        ("keepalives_idle", "5"),
        ("keepalives_interval", "2"),
        ("keepalives_count", "3"),
        ("tcp_user_timeout", "10000"),
        ("application_name", "vqueue"),
        ("client_encoding", "UTF8"),
    ]

    init(location: PostgresConnectionString, deadline: Duration, interruption: Interruption) throws {
        self.location = location
        self.deadline = deadline
        self.interruption = interruption
        var unavailableReason: UnsafePointer<CChar>?
        guard vq_libpq_available(&unavailableReason) != 0 else {
            throw StoreUnavailable(location: location.displayName, reason: "PostgreSQL's client library libpq cannot be loaded ("
                                   + (unavailableReason.map { String(cString: $0) } ?? "not found") + "); install libpq5")
        }
        if let problem = location.problem {
            throw StoreUnavailable(location: location.displayName, reason: problem)
        }
        let settings = Self.defaults + [("dbname", location.text)]
        connection = Self.withCStrings(settings.map(\.0)) { keywords in
            Self.withCStrings(settings.map(\.1)) { values in
                PQconnectStartParams(keywords, values, 1)
            }
        }
        guard let connection else {
            throw StoreUnavailable(location: location.displayName, reason: "out of memory while connecting")
        }
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        let ends = ContinuousClock.now + deadline
        var polling = PGRES_POLLING_WRITING
        while true {
            if PQstatus(connection) == CONNECTION_BAD {
                defer { close() }
                throw failure(Self.message(PQerrorMessage(connection)))
            }
            switch polling {
            case PGRES_POLLING_OK:
                PQsetnonblocking(connection, 1)
                return
            case PGRES_POLLING_FAILED:
                defer { close() }
                throw failure(Self.message(PQerrorMessage(connection)))
            case PGRES_POLLING_READING:
                try wait(for: Int16(POLLIN), until: ends, doing: "connecting")
            default:
                try wait(for: Int16(POLLOUT), until: ends, doing: "connecting")
            }
            polling = PQconnectPoll(connection)
        }
    }

    deinit { close() }

    var isOpen: Bool {
        guard let connection else { return false }
        return PQstatus(connection) == CONNECTION_OK
    }

    /// Whether the server has sent something since the last statement's answer. Nothing comes
    /// unasked to an idle connection that does not LISTEN but the end of its session
    /// (pg_terminate_backend, a server shutting down): its reason, then the end of the stream.
    var hasUnreadInput: Bool {
        guard let connection else { return false }
        var descriptor = pollfd(fd: PQsocket(connection), events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, 0) > 0
    }

    /// Closes the connection. A statement still running on the server is
    /// cancelled from another thread (PQcancel opens a connection of its
    /// own, which must not hold this one up).
    func close(cancelRunning: Bool = false) {
        guard let connection else { return }
        self.connection = nil
        if cancelRunning, PQtransactionStatus(connection) == PQTRANS_ACTIVE, let cancel = PQgetCancel(connection) {
            let handle = CancelHandle(cancel)
            Thread.detachNewThread {
                var buffer = [CChar](repeating: 0, count: 256)
                _ = PQcancel(handle.pointer, &buffer, Int32(buffer.count))
                PQfreeCancel(handle.pointer)
            }
        }
        PQfinish(connection)
    }

    /// The result of one statement.
    struct Result {
        var rows: [SQLRow]
        /// Rows inserted, updated or deleted.
        var changes: Int
    }

    /// Runs one statement with `?` placeholders (sent as `$1`, `$2`…) and
    /// waits for its result, within the deadline.
    func run(_ sql: String, _ arguments: [SQLValue]) throws -> Result {
        guard let connection else { throw failure("the connection was closed") }
        let text = Self.numberingPlaceholders(sql)
        let types: [Oid] = arguments.map { value in
            switch value {
            case .null: return 0
            case .integer: return Oid(VQ_PG_INT8)
            case .real: return Oid(VQ_PG_FLOAT8)
            case .text: return Oid(VQ_PG_TEXT)
            }
        }
        let strings: [String?] = arguments.map { value in
            switch value {
            case .null: return nil
            case .integer(let number): return String(number)
            case .real(let number): return number.isFinite ? String(number) : (number.isNaN ? "NaN" : number > 0 ? "Infinity" : "-Infinity")
            case .text(let text): return text
            }
        }
        let sent = Self.withOptionalCStrings(strings) { values in
            PQsendQueryParams(connection, text, Int32(arguments.count), types, values, nil, nil, 0)
        }
        guard sent == 1 else { throw brokenOrFailed() }
        let ends = ContinuousClock.now + deadline
        // Send everything (a large batch may not fit the socket's buffer).
        while true {
            let flushed = PQflush(connection)
            if flushed == 0 { break }
            if flushed < 0 { throw brokenOrFailed() }
            try wait(for: Int16(POLLOUT | POLLIN), until: ends, doing: "sending a statement")
            if PQconsumeInput(connection) == 0 { throw brokenOrFailed() }
        }
        var result = Result(rows: [], changes: 0)
        var refusal: (any Error)?
        while true {
            while PQisBusy(connection) == 1 {
                try wait(for: Int16(POLLIN), until: ends, doing: "waiting for a statement's answer")
                if PQconsumeInput(connection) == 0 { throw brokenOrFailed() }
            }
            guard let answer = PQgetResult(connection) else { break }
            defer { PQclear(answer) }
            switch PQresultStatus(answer) {
            case PGRES_TUPLES_OK:
                result.rows = Self.rows(answer)
                result.changes = Int(String(cString: PQcmdTuples(answer))) ?? 0
            case PGRES_COMMAND_OK:
                result.changes = Int(String(cString: PQcmdTuples(answer))) ?? 0
            default:
                if refusal == nil { refusal = refusalError(answer) }
            }
        }
        if let refusal { throw refusal }
        answered += 1
        return result
    }

    /// Reads what arrived and returns the channels notified since last
    /// time (for a connection that LISTENs).
    func notifications(waitingUpTo timeout: Duration) throws -> [String] {
        guard let connection else { throw failure("the connection was closed") }
        let socket = PQsocket(connection)
        var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        let ready = poll(&descriptor, 1, Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000))
        if ready < 0 && errno != EINTR { throw failure("waiting for notifications failed: \(String(cString: strerror(errno)))") }
        if interruption.isRequested { throw failure("interrupted") }
        if PQconsumeInput(connection) == 0 { throw brokenOrFailed() }
        var channels: [String] = []
        while let notice = PQnotifies(connection) {
            channels.append(String(cString: notice.pointee.relname))
            PQfreemem(notice)
        }
        return channels
    }

    /// Waits until the socket is ready for `events`, in slices short enough
    /// to notice an interruption quickly.
    private func wait(for events: Int16, until ends: ContinuousClock.Instant, doing what: String) throws {
        guard let connection else { throw failure("the connection was closed") }
        while true {
            if interruption.isRequested {
                close(cancelRunning: true)
                throw StoreUnavailable(location: location.displayName, reason: "interrupted while \(what)", interrupted: true)
            }
            let left = ends - ContinuousClock.now
            if left <= .zero {
                throw abandon("no answer from the server within \(deadline.components.seconds) s while \(what)")
            }
            let slice = min(left, .milliseconds(100))
            var descriptor = pollfd(fd: PQsocket(connection), events: events, revents: 0)
            let milliseconds = Int32(slice.components.seconds * 1000 + slice.components.attoseconds / 1_000_000_000_000_000)
            let ready = poll(&descriptor, 1, max(1, milliseconds))
            if ready > 0 { return }
            if ready < 0 && errno != EINTR {
                throw abandon("waiting for the server failed: \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Drops the connection (cancelling what runs on the server) and says why.
    private func abandon(_ reason: String) -> StoreUnavailable {
        close(cancelRunning: true)
        return failure(reason)
    }

    private func failure(_ reason: String) -> StoreUnavailable {
        StoreUnavailable(location: location.displayName, reason: location.scrubbed(reason))
    }

    /// After libpq refused to send or read: the connection's own error.
    private func brokenOrFailed() -> StoreUnavailable {
        let message = connection.map { Self.message(PQerrorMessage($0)) } ?? "the connection was closed"
        endedByServer = true
        close()
        return failure(message.isEmpty ? "the connection to the server was lost" : message)
    }

    /// A statement's error: the server going away is `StoreUnavailable`
    /// (retry later); a broken unique index names the index; anything else
    /// is the server's message.
    private func refusalError(_ answer: OpaquePointer) -> any Error {
        func field(_ code: Character) -> String? {
            PQresultErrorField(answer, Int32(code.asciiValue!)).map { String(cString: $0) }
        }
        let state = field("C") ?? ""
        let message = field("M") ?? Self.message(PQresultErrorMessage(answer))
        // 08: connection exceptions; 57P0x: the server shutting down or
        // starting; 53: out of disk, memory or connections.
        if state.hasPrefix("08") || state.hasPrefix("57P") || state.hasPrefix("53") || !isOpen {
            if !isOpen || state.hasPrefix("08") || state == "57P01" || state == "57P02" {
                endedByServer = true
                close()
            }
            return failure(message)
        }
        answered += 1
        if state == "23505" { return SQLError(location.scrubbed(message), uniqueIndex: field("n")) }
        // 40P01: deadlock detected; 40001: serialization failure.
        return SQLError(location.scrubbed(message), transient: state == "40P01" || state == "40001")
    }

    /// libpq's text in one line: its lines joined, tabs and trailing newline gone.
    static func message(_ text: UnsafePointer<CChar>?) -> String {
        guard let text else { return "" }
        return String(cString: text).split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: " ")
    }

    private static func rows(_ answer: OpaquePointer) -> [SQLRow] {
        let fieldCount = Int(PQnfields(answer))
        let columns = SQLColumns((0..<fieldCount).map { String(cString: PQfname(answer, Int32($0))) })
        let types = (0..<fieldCount).map { PQftype(answer, Int32($0)) }
        return (0..<Int(PQntuples(answer))).map { row in
            SQLRow(columns: columns, values: (0..<fieldCount).map { field in
                if PQgetisnull(answer, Int32(row), Int32(field)) == 1 { return .null }
                let text = String(cString: PQgetvalue(answer, Int32(row), Int32(field)))
                switch Int32(types[field]) {
                case Int32(VQ_PG_INT8), Int32(VQ_PG_INT4), Int32(VQ_PG_INT2), Int32(VQ_PG_OID):
                    return Int64(text).map(SQLValue.integer) ?? .text(text)
                case Int32(VQ_PG_FLOAT8), Int32(VQ_PG_FLOAT4), Int32(VQ_PG_NUMERIC):
                    return Double(text).map(SQLValue.real) ?? .text(text)
                case Int32(VQ_PG_BOOL):
                    return .integer(text == "t" ? 1 : 0)
                default:
                    return .text(text)
                }
            })
        }
    }

    /// `?` placeholders as PostgreSQL's `$1`, `$2`… (the queue's SQL has no
    /// `?` in its string literals).
    static func numberingPlaceholders(_ sql: String) -> String {
        var result = ""
        result.reserveCapacity(sql.utf8.count + 16)
        var number = 0
        var inString = false
        for character in sql {
            if character == "'" { inString.toggle() }
            if character == "?" && !inString {
                number += 1
                result += "$\(number)"
            } else {
                result.append(character)
            }
        }
        return result
    }

    private static func withCStrings<T>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> T) -> T {
        withOptionalCStrings(strings + [nil], body)
    }

    private static func withOptionalCStrings<T>(_ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> T) -> T {
        let copies: [UnsafeMutablePointer<CChar>?] = strings.map { $0.map { strdup($0) } }
        defer { copies.forEach { free($0) } }
        let pointers = copies.map { UnsafePointer($0) }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}

/// A cancel request's handle, carried to the thread that sends it.
private final class CancelHandle: @unchecked Sendable {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
}

/// A request, from any thread, to abandon the call in progress.
final class Interruption: Sendable {
    private let requested = Atomic<Bool>(false)

    var isRequested: Bool { requested.load(ordering: .acquiring) }
    func request() { requested.store(true, ordering: .releasing) }
    func reset() { requested.store(false, ordering: .releasing) }
}
