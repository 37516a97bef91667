import Foundation
import Synchronization
@testable import JobQueue

/// A real executor (SQLite or PostgreSQL) with a switch the test turns: its calls can fail as an
/// unreachable database does (`StoreUnavailable`), hang until interrupted as a silent server
/// does, or fail only when a statement matching a pattern runs (the transaction is then rolled
/// back, as when a connection drops mid-write).
final class ControllableExecutor: SQLExecutor {
    enum Mode: Sendable, Equatable {
        case normal
        /// Every call throws `StoreUnavailable`.
        case failing
        /// Every call waits until `interrupt()` (then throws `StoreUnavailable`, interrupted) or
        /// until the mode changes (then goes on).
        case stuck
    }

    private let base: any SQLExecutor
    private let state = Mutex(State())

    private struct State {
        var mode = Mode.normal
        var interrupted = false
        /// Statements containing this text throw while `failuresLeft` > 0.
        var failingStatement: String?
        var failuresLeft = 0
        var stuckCalls = 0
        var failedCalls = 0
        var changeCountsAnswered = false
    }

    init(_ base: any SQLExecutor) {
        self.base = base
    }

    var dialect: SQLDialect { base.dialect }
    var displayName: String { base.displayName }

    var mode: Mode {
        get { state.withLock { $0.mode } }
        set { state.withLock { $0.mode = newValue } }
    }

    /// The next `times` statements containing `text` throw `StoreUnavailable`, rolling back
    /// their transaction.
    func failStatements(containing text: String, times: Int) {
        state.withLock {
            $0.failingStatement = text
            $0.failuresLeft = times
        }
    }

    /// Whether `changeCount` answers whatever the mode, as PostgreSQL's executor does (it counts
    /// the notifications its listening thread already received: no round trip). Off by default.
    var changeCountsAnswered: Bool {
        get { state.withLock { $0.changeCountsAnswered } }
        set { state.withLock { $0.changeCountsAnswered = newValue } }
    }

    /// How many calls have waited in `.stuck` mode, and failed (by mode or statement), so far.
    var stuckCalls: Int { state.withLock { $0.stuckCalls } }
    var failedCalls: Int { state.withLock { $0.failedCalls } }

    private func unavailable(_ reason: String, interrupted: Bool = false) -> StoreUnavailable {
        StoreUnavailable(location: displayName, reason: reason, interrupted: interrupted)
    }

    /// Lets a call through, or fails or holds it as the mode says. An interrupt asked for before
    /// the call is for it, as with the real executors; the call uses it up (`done`).
    private func admit() async throws {
        var counted = false
        while true {
            let (mode, interrupted) = state.withLock { ($0.mode, $0.interrupted) }
            switch mode {
            case .normal:
                return
            case .failing:
                state.withLock { $0.failedCalls += 1 }
                throw unavailable("connection refused (test: the database is down)")
            case .stuck:
                if !counted {
                    counted = true
                    state.withLock { $0.stuckCalls += 1 }
                }
                if interrupted { throw unavailable("interrupted (test: the server never answered)", interrupted: true) }
                try? await Task.sleep(for: .milliseconds(5))
            }
        }
    }

    private func done() {
        state.withLock { $0.interrupted = false }
    }

    /// Throws for a statement the test made fail.
    fileprivate func check(_ sql: String) throws {
        let fails = state.withLock { state -> Bool in
            guard let text = state.failingStatement, state.failuresLeft > 0, sql.contains(text) else { return false }
            state.failuresLeft -= 1
            state.failedCalls += 1
            return true
        }
        if fails { throw unavailable("server closed the connection unexpectedly (test)") }
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T {
        defer { done() }
        try await admit()
        return try await base.read { [self] db in try body(CheckedConnection(base: db, executor: self)) }
    }

    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T {
        defer { done() }
        try await admit()
        return try await base.write { [self] db in try body(CheckedConnection(base: db, executor: self)) }
    }

    func maintain(_ body: @escaping @Sendable (any SQLConnection) throws -> Void) async throws {
        defer { done() }
        try await admit()
        try await base.maintain { [self] db in try body(CheckedConnection(base: db, executor: self)) }
    }

    func changeCount(_ change: StoreChange) async throws -> Int64 {
        if changeCountsAnswered { return try await base.changeCount(change) }
        defer { done() }
        try await admit()
        return try await base.changeCount(change)
    }

    /// No change notices: a worker on this executor polls every tick, as the fault tests expect.
    func watchChanges(_ wake: @escaping @Sendable () -> Void) -> (@Sendable () -> Void)? { nil }

    func interrupt() {
        state.withLock { $0.interrupted = true }
        base.interrupt()
    }

    func checkIdentity() throws {
        try base.checkIdentity()
    }

    func close() async {
        await base.close()
    }
}

/// A connection whose statements the executor may make fail.
private struct CheckedConnection: SQLConnection {
    let base: any SQLConnection
    let executor: ControllableExecutor

    var dialect: SQLDialect { base.dialect }

    func execute(_ sql: String, _ arguments: [SQLValue]) throws -> Int {
        try executor.check(sql)
        return try base.execute(sql, arguments)
    }

    func query(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow] {
        try executor.check(sql)
        return try base.query(sql, arguments)
    }
}
