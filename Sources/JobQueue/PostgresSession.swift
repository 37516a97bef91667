import Foundation
import Logging
import NIOSSL
import PostgresNIO
import Synchronization

/// One connection to the queue's PostgreSQL server, used by one caller at a
/// time (a transaction must not interleave with another caller's
/// statements), opened on first use and opened again after it broke.
///
/// A broken connection fails the call in progress with
/// `PostgresUnavailable`; the next call reconnects. Callers that must ride
/// out a restart of the server (the worker) retry; one-shot commands report
/// it in one line.
actor PostgresSession {
    let location: PostgresLocation
    private let configuration: PostgresConnection.Configuration
    private var connection: PostgresConnection?
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []
    private var nextConnectionID = 0
    static let logger = Logger(label: "vqueue.postgres", factory: { _ in SwiftLogNoOpLogHandler() })

    init(_ location: PostgresLocation, connectTimeout: Duration = .seconds(5)) throws {
        self.location = location
        let tls: PostgresConnection.Configuration.TLS
        switch location.tls {
        case .disable:
            tls = .disable
        case .prefer, .require:
            var settings = TLSConfiguration.makeClientConfiguration()
            settings.certificateVerification = .none
            let context = try NIOSSLContext(configuration: settings)
            tls = location.tls == .require ? .require(context) : .prefer(context)
        }
        var configuration = PostgresConnection.Configuration(host: location.host, port: location.port, username: location.user,
                                                             password: location.password, database: location.database, tls: tls)
        configuration.options.connectTimeout = .nanoseconds(Int64(connectTimeout.components.seconds) * 1_000_000_000)
        self.configuration = configuration
    }

    /// How long a call may wait for the server before its connection counts
    /// as broken: a cut network link sends no error, only silence.
    static let deadline = Duration.seconds(15)

    /// Runs `body` on the connection, alone, within `deadline` (connecting
    /// first if need be, also within it).
    func run<T: Sendable>(deadline: Duration = PostgresSession.deadline,
                          _ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        await acquire()
        defer { release() }
        do {
            return try await withoutActuallyEscaping(body) { body in
                try await withThrowingTaskGroup(of: T.self) { group in
                    group.addTask { try await body(try await self.connected()) }
                    group.addTask {
                        try await Task.sleep(for: deadline)
                        // Fails the call still waiting on the connection (a connect in
                        // progress ends when the group cancels it).
                        await self.dropConnection()
                        throw NoAnswer(deadline: deadline)
                    }
                    defer { group.cancelAll() }
                    return try await group.next()!
                }
            }
        } catch {
            if let connection, connection.isClosed || Self.isConnectionFailure(error) {
                await dropConnection()
            }
            if Self.isConnectionFailure(error) || error is PostgresUnavailable {
                throw error is PostgresUnavailable ? error : PostgresUnavailable(location: location, reason: Self.describe(error))
            }
            throw error
        }
    }

    private func dropConnection() async {
        guard let connection else { return }
        self.connection = nil
        await Self.close(connection)
    }

    /// Runs `body` in a transaction, alone.
    func transaction<T: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await run { connection in
            try await connection.query("BEGIN", logger: Self.logger)
            do {
                let value = try await body(connection)
                try await connection.query("COMMIT", logger: Self.logger)
                return value
            } catch {
                if !connection.isClosed { _ = try? await connection.query("ROLLBACK", logger: Self.logger) }
                throw error
            }
        }
    }

    /// Closes the connection (at the end of a command).
    func close() async {
        if let connection { await Self.close(connection) }
        connection = nil
    }

    /// A new connection of its own, for a caller that keeps it (LISTEN).
    func openConnection() async throws -> PostgresConnection {
        nextConnectionID += 1
        do {
            let connection = try await PostgresConnection.connect(configuration: configuration, id: nextConnectionID,
                                                                  logger: Self.logger)
            Self.open.withLock { $0[ObjectIdentifier(connection)] = connection }
            return connection
        } catch {
            throw PostgresUnavailable(location: location, reason: Self.describe(error))
        }
    }

    /// Every connection not yet closed. A command that ends without
    /// closing its store just exits (the server sees the socket close);
    /// a connection is never dropped while open.
    private static let open = Mutex<[ObjectIdentifier: PostgresConnection]>([:])

    static func close(_ connection: PostgresConnection) async {
        try? await connection.close()
        _ = open.withLock { $0.removeValue(forKey: ObjectIdentifier(connection)) }
    }

    private func connected() async throws -> PostgresConnection {
        if let connection {
            if !connection.isClosed { return connection }
            await dropConnection()
        }
        let fresh = try await openConnection()
        connection = fresh
        return fresh
    }

    private func acquire() async {
        if !busy {
            busy = true
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    private func release() {
        if waiting.isEmpty {
            busy = false
        } else {
            waiting.removeFirst().resume()
        }
    }

    static func isConnectionFailure(_ error: any Error) -> Bool {
        guard let error = error as? PSQLError else { return error is PostgresUnavailable || error is NoAnswer }
        return [.serverClosedConnection, .clientClosedConnection, .connectionError, .uncleanShutdown, .sslUnsupported]
            .contains(error.code)
    }

    static func isPostgresError(_ error: any Error) -> Bool {
        error is PSQLError || error is PostgresTransactionError
    }

    /// PostgreSQL errors in one line: the server's message, or what broke.
    static func describe(_ error: any Error) -> String {
        if let unavailable = error as? PostgresUnavailable { return unavailable.reason }
        if let transaction = error as? PostgresTransactionError {
            if let inner = transaction.closureError ?? transaction.commitError ?? transaction.beginError {
                return describe(inner)
            }
        }
        guard let error = error as? PSQLError else { return String(describing: error) }
        if let message = error.serverInfo?[.message] {
            return message
        }
        let underlying = error.underlying.map { ": \(describeUnderlying($0))" } ?? ""
        switch error.code {
        case .connectionError: return "cannot connect\(underlying)"
        case .serverClosedConnection, .uncleanShutdown: return "the server closed the connection\(underlying)"
        case .clientClosedConnection: return "the connection was closed\(underlying)"
        case .sslUnsupported: return "the server does not offer TLS (sslmode=require)"
        case .authMechanismRequiresPassword: return "the server asks for a password; put it in the URL"
        default: return "\(error.code)\(underlying)"
        }
    }

    private static func describeUnderlying(_ error: any Error) -> String {
        let text = String(describing: error)
        // NIO's connect errors list every address tried; the first reason is enough.
        if text.contains("connectionRefused") || text.contains("Connection refused") { return "connection refused" }
        if text.contains("connectTimeout") || text.contains("timed out") { return "timed out" }
        return text.replacingOccurrences(of: "\n", with: " ")
    }
}

/// The server did not answer within the deadline.
struct NoAnswer: Error, CustomStringConvertible {
    let deadline: Duration
    var description: String { "no answer from the server within \(deadline.components.seconds) s" }
}

/// The PostgreSQL server could not be reached, or the connection broke.
public struct PostgresUnavailable: Error, CustomStringConvertible {
    public let location: PostgresLocation
    public let reason: String
    public var description: String { "\(location.description): \(reason)" }
}
