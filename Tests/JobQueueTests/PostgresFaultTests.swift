import Foundation
import Testing
@testable import JobQueue

/// PostgreSQL faults, each twenty times in a row, on a server of each test's own: a store call in
/// flight (waiting on the server for a row lock) and a worker with a job mid-attempt when the
/// fault strikes. Each time, the call ends (`StoreUnavailable`) within the store's deadline, the
/// next call works once the server is back, nothing is recorded twice or lost, and the worker
/// says it lost the database and that it is back as often as it noticed. No call may hang.
///
/// The stores under test have a short deadline (`FaultBench.deadline`, 2 s) so that twenty
/// faults stay fast; the timings are printed (`PostgresFaultTests <test>: ...`).
/// VQUEUE_FAULT_ITERATIONS=N runs each fault N times instead of 20.
@Suite("PostgreSQL faults, 20 times in a row each: sessions ended, restarts, outages longer than the lease, a frozen or silent server",
       .timeLimit(.minutes(5)))
struct PostgresFaultTests {
    static let iterations = ProcessInfo.processInfo.environment["VQUEUE_FAULT_ITERATIONS"].flatMap { Int($0) } ?? 20

    @Test("pg_terminate_backend of every session of the store and the worker, LISTEN included: the call in flight ends, the next works, changes are heard again")
    func sessionsTerminated() async throws {
        try await FaultyPostgresServer.with { server in
            let bench = try await FaultBench.make(on: server)
            let timings = Timings()
            // The store under test listens for changes from now on (the worker always does).
            _ = try await bench.store.changeToken(for: .jobQueued)
            let listening = "query LIKE 'LISTEN %'"
            try await strike(bench, timings, noticedEveryTime: false) { bench, spared, whileAway in
                await eventually("the store and the worker are both listening") {
                    try await bench.server.sessions(on: bench.database, where: listening).count == 2
                }
                let sessions = try await bench.server.sessions(on: bench.database).filter { !spared.contains($0) }
                #expect(try await bench.server.terminate(sessions) >= 4, "the store's, the worker's and both LISTEN sessions")
                try await whileAway()
            } afterward: { bench, i in
                // changeToken works again: a new LISTEN session hears a new job.
                await eventually("both LISTEN sessions are back") {
                    try await bench.server.sessions(on: bench.database, where: listening).count == 2
                }
                try await Task.sleep(for: .milliseconds(300))
                let before = try await bench.store.changeToken(for: .jobQueued)
                _ = try await bench.checked { try await $0.submitOne(newJob("notice-\(i)", queue: FaultBench.heldQueue)) }
                await eventually("the store hears of the new job") { try await bench.store.changeToken(for: .jobQueued) > before }
            }
            timings.report("pg_terminate_backend")
            try await bench.finish()
        }
    }

    @Test("pg_ctl restart -m fast: the call in flight ends at once, the next works, the worker's job succeeds once")
    func serverRestarted() async throws {
        try await FaultyPostgresServer.with { server in
            let bench = try await FaultBench.make(on: server)
            let timings = Timings()
            try await strike(bench, timings, noticedEveryTime: false) { bench, _, whileAway in
                let restarting = Task { try await bench.server.restart() }
                do {
                    try await whileAway()
                } catch {
                    _ = try? await restarting.value
                    throw error
                }
                try await restarting.value
            }
            timings.report("pg_ctl restart -m fast")
            try await bench.finish()
        }
    }

    @Test("a session ended while idle (pg_terminate_backend, by turns pg_ctl restart -m fast): the next call reconnects and works")
    func idleSessionEnded() async throws {
        try await FaultyPostgresServer.with { server in
            let url = try await server.createDatabase("idle")
            let store = try await QueueLocation(url).open(createFolder: false, deadline: FaultBench.deadline)
            let job = try await store.submitOne(newJob())
            for i in 1...Self.iterations {
                _ = try await store.now()
                if i.isMultiple(of: 2) {
                    try await server.restart()
                } else {
                    #expect(try await server.terminate(try await server.sessions(on: "idle")) == 1)
                }
                // The server's goodbye has arrived: the idle connection is gone, and the store can tell.
                try await Task.sleep(for: .milliseconds(100))
                let next = await Result { try await store.existing(job.id) }
                if case .failure(let error) = next { Issue.record("iteration \(i): the next call failed: \(error)") }
            }
            await store.close()
        }
    }

    @Test("a session ended just before a call (its goodbye still on the way): the call is made again on a new session, reads and writes alike, and a write is done once")
    func sessionEndedJustBeforeACall() async throws {
        try await FaultyPostgresServer.with { server in
            let url = try await server.createDatabase("racing")
            let store = try await QueueLocation(url).open(createFolder: false, deadline: FaultBench.deadline)
            var submitted: [Int64] = []
            for i in 1...Self.iterations {
                _ = try await store.now()
                // The session ended a moment ago may still be listed (its backend exiting).
                #expect(try await server.terminate(try await server.sessions(on: "racing")) >= 1)
                // No pause: the server's FATAL 57P01 and the end of the stream race the call.
                let next: Result<Int64, any Error> = await Result {
                    i.isMultiple(of: 2) ? try await store.submitOne(newJob()).id : Int64(try await store.now() > 0 ? 0 : -1)
                }
                switch next {
                case .success(let id): if id > 0 { submitted.append(id) }
                case .failure(let error): Issue.record("iteration \(i): the call failed: \(error)")
                }
            }
            let all = try await store.jobs(state: nil, limit: 1000)
            #expect(all.count == submitted.count, "each submit made once")
            await store.close()
        }
    }

    @Test("the server stopped (-m immediate) for longer than the worker's lease: calls fail fast, the worker says so once, keeps its job and finishes it once")
    func serverDownLongerThanTheLease() async throws {
        try await FaultyPostgresServer.with { server in
            let lease = 1.0
            let bench = try await FaultBench.make(on: server, leaseSeconds: lease)
            let timings = Timings()
            try await strike(bench, timings, noticedEveryTime: true, rescueAllowed: true) { bench, _, whileAway in
                let stopped = ContinuousClock.now
                try await bench.server.stopImmediately()
                try await whileAway()
                // A call while the server is down: refused, at once.
                let asked = ContinuousClock.now
                let down = await Result { try await bench.store.now() }
                timings.record("call while down", ContinuousClock.now - asked)
                #expect(ContinuousClock.now - asked <= FaultBench.deadline + FaultBench.slack)
                expectUnavailable(down, "a call while the server is down")
                let away = ContinuousClock.now - stopped
                let longer = Duration.milliseconds(Int64(lease * 1000) + 500)
                if away < longer { try await Task.sleep(for: longer - away) }
                try await bench.server.startAgain()
            }
            timings.report("pg_ctl stop -m immediate, down > lease")
            try await bench.finish()
        }
    }

    @Test("the server frozen (SIGSTOP, every process) mid-call: calls in flight and new ones end by the deadline, an interrupted one at once; after SIGCONT the next works")
    func serverFrozen() async throws {
        try await FaultyPostgresServer.with { server in
            let bench = try await FaultBench.make(on: server)
            let timings = Timings()
            let url = server.url(database: bench.database)
            try await strike(bench, timings, noticedEveryTime: false) { bench, _, whileAway in
                bench.server.freeze()
                do {
                    // Meanwhile, a new connection (the kernel accepts it; nobody answers) and a
                    // call interrupted as a stop request would.
                    async let connecting = callOnANewConnection(url, timings)
                    async let interrupted = interruptedCall(url, timings)
                    try await whileAway()
                    try await connecting
                    try await interrupted
                } catch {
                    bench.server.thaw()
                    throw error
                }
                bench.server.thaw()
            }
            timings.report("SIGSTOP of the server")
            try await bench.finish()
        }
    }

    @Test("a server that accepts TCP and never answers: opening a store on it fails with StoreUnavailable by the deadline, and an interrupt ends a call waiting on it at once")
    func silentServer() async throws {
        let silent = try SilentServer()
        defer { silent.stop() }
        let url = silent.url(database: "queue")
        let timings = Timings()
        for i in 1...Self.iterations {
            async let interrupted = interruptedCall(url, timings)
            let started = ContinuousClock.now
            do {
                _ = try await QueueLocation(url).open(createFolder: false, deadline: FaultBench.deadline)
                Issue.record("iteration \(i): a store opened on a server that never answers")
            } catch let unavailable as StoreUnavailable {
                #expect(!unavailable.interrupted && unavailable.reason.contains("no answer from the server within 2 s"),
                        "\(unavailable)")
            }
            let took = ContinuousClock.now - started
            timings.record("open", took)
            #expect(took <= FaultBench.deadline + FaultBench.slack, "iteration \(i): open took \(took)")
            try await interrupted
        }
        #expect(silent.acceptedCount >= 2 * Self.iterations, "every attempt reached the listener")
        timings.report("silent listener")
    }

    @Test("a COMMIT whose answer is lost: the call succeeds when the server committed, fails changing nothing when it did not, and says the change may have been made when the server cannot say")
    func commitAnswerLost() async throws {
        try await FaultyPostgresServer.with { server in
            let relay = try SilentServer(relayingTo: server.port)
            defer { relay.stop() }
            _ = try await server.createDatabase("lost")
            let store = try await QueueLocation(relay.url(database: "lost")).open(createFolder: false, deadline: FaultBench.deadline)
            for i in 1...5 {
                // Committed, its answer dropped: the server says so to a new session.
                let committed = try await store.submitOne(newJob("committed-\(i)"))
                relay.cut(.afterCommit)
                let cancelled = try await store.cancel(id: committed.id)
                #expect(cancelled?.state == .cancelled && relay.cutCount == 3 * i - 2, "iteration \(i)")
                #expect(try await store.job(id: committed.id)?.state == .cancelled)

                // Never committed: the call fails as any lost connection does, and changed nothing.
                let rolledBack = try await store.submitOne(newJob("rolled-back-\(i)"))
                relay.cut(.beforeCommit)
                let refused = await Result { try await store.cancel(id: rolledBack.id) }
                #expect(relay.cutCount == 3 * i - 1)
                expectUnavailable(refused, "iteration \(i): a COMMIT that never reached the server")
                if case .failure(let error as StoreUnavailable) = refused { #expect(!error.outcomeUnknown, "\(error)") }
                #expect(try await store.job(id: rolledBack.id)?.state == .queued)

                // Committed, and the server silent afterwards: the call ends by the deadline, saying
                // the change may have been made, which it was.
                let unknown = try await store.submitOne(newJob("unknown-\(i)"))
                relay.cut(.afterCommitThenSilence)
                let asked = ContinuousClock.now
                let outcome = await Result { try await store.cancel(id: unknown.id) }
                #expect(ContinuousClock.now - asked <= FaultBench.deadline + FaultBench.slack)
                #expect(relay.cutCount == 3 * i)
                relay.resume()
                switch outcome {
                case .failure(let error as StoreUnavailable):
                    #expect(error.outcomeUnknown && error.reason.contains("the change may have been made"), "\(error)")
                default:
                    Issue.record("iteration \(i): \(outcome)")
                }
                #expect(try await store.job(id: unknown.id)?.state == .cancelled)
            }
            await store.close()
        }
    }

    @Test("a server that goes silent under a running worker (a relay that stops passing bytes): the worker says so once, keeps retrying, and carries on when it answers again; a stop request meanwhile is answered at once")
    func serverGoesSilentUnderAWorker() async throws {
        try await FaultyPostgresServer.with { server in
            let relay = try SilentServer(relayingTo: server.port)
            defer { relay.stop() }
            let bench = try await FaultBench.make(on: server, workerURL: { relay.url(database: $0) })
            let timings = Timings()
            for i in 1...Self.iterations {
                let work = try await bench.runningJob("work-\(i)")
                relay.goSilent()
                let silenced = ContinuousClock.now
                await eventually("iteration \(i): the worker says it cannot reach the database") { bench.outagesLogged.lost == i }
                let noticed = ContinuousClock.now - silenced
                timings.record("worker notices", noticed)
                // Its next store call starts within a poll interval, and waits out the deadline.
                #expect(noticed <= FaultBench.deadline + FaultBench.slack + .seconds(1), "iteration \(i): \(noticed)")
                let accepted = relay.acceptedCount
                await eventually("iteration \(i): the worker tries again") { relay.acceptedCount > accepted }
                if i.isMultiple(of: 2) { bench.gates.open(work.id) }  // its result waits in the worker
                relay.resume()
                await eventually("iteration \(i): the worker says the database is back") { bench.outagesLogged.back == i }
                #expect(bench.outagesLogged.lost == i, "once per outage:\n\(bench.worker.log.all.joined(separator: "\n"))")
                bench.gates.open(work.id)
                try await bench.expectSucceededOnce(work)
            }

            // A stop request while a store call waits on the silent server is answered at once;
            // a second makes the worker return, leaving its job to its lease.
            let last = try await bench.runningJob("last")
            relay.goSilent()
            try await Task.sleep(for: .milliseconds(700))
            let asked = ContinuousClock.now
            bench.worker.shutdown.request(.graceful)
            await eventually("the worker says it is stopping") { bench.worker.log.contains("stopping after its 1 running job(s)") }
            timings.record("graceful stop answered", ContinuousClock.now - asked)
            #expect(ContinuousClock.now - asked < .seconds(1))
            let forced = ContinuousClock.now
            bench.worker.shutdown.request(.immediate)
            try await bench.worker.ended(within: .seconds(15))
            timings.record("forced stop returned", ContinuousClock.now - forced)
            #expect(ContinuousClock.now - forced < .seconds(10))
            #expect(bench.worker.log.contains("stopping without recording 1 result(s)"), "\(bench.worker.log.all)")
            #expect(bench.handler.cancelled == [LeasedJob(id: last.id, attempt: 1)], "its running attempt was stopped")
            relay.resume()
            #expect(try await bench.checked { try await $0.existing(last.id) }.state == .running, "left to its lease")
            timings.report("relay gone silent")
            try await bench.finish()
        }
    }
}

// MARK: - The fault, twenty times

extension PostgresFaultTests {
    /// Does a fault to the server: given the bench, the sessions to spare (the lock holder's), and
    /// what to do once the fault has struck, before the server is back. Returns with the server back.
    typealias Fault = @Sendable (FaultBench, _ spared: [Int], _ whileAway: () async throws -> Void) async throws -> Void

    /// `fault`, `iterations` times in a row. Each time: a job of the worker's mid-attempt (its
    /// result, by turns, ready before the fault, while the server is away, or after); a store call
    /// waiting on the server for a row lock; the fault. The call must end by the deadline with
    /// `StoreUnavailable` and change nothing; the next call must work once the server is back; the
    /// job must succeed once; the worker's "cannot reach" and "is back" lines must pair up (and,
    /// with `noticedEveryTime`, come once per fault). `afterward` runs at the end of each time.
    func strike(_ bench: FaultBench, _ timings: Timings, noticedEveryTime: Bool, rescueAllowed: Bool = false,
                sourceLocation: SourceLocation = #_sourceLocation, _ fault: Fault,
                afterward: (FaultBench, Int) async throws -> Void = { _, _ in }) async throws {
        let url = bench.server.url(database: bench.database)
        for i in 1...Self.iterations {
            let work = try await bench.runningJob("work-\(i)")
            let target = try await bench.checked { try await $0.submitOne(newJob("held-\(i)", queue: FaultBench.heldQueue)) }
            let lock = try await RowLock.hold(job: target.id, database: url)
            let call = Task { () -> (Result<Job?, any Error>, ContinuousClock.Instant) in
                let result = await Result { try await bench.store.cancel(id: target.id) }
                return (result, ContinuousClock.now)
            }
            await eventually("iteration \(i): the store's call waits for the lock") {
                try await bench.server.sessions(on: bench.database, where: "wait_event_type = 'Lock'").count == 1
            }
            if i % 3 == 0 { bench.gates.open(work.id) }  // its completion races the fault
            let struck = ContinuousClock.now
            var outcome: Result<Job?, any Error>?
            try await fault(bench, [lock.session]) {
                if i % 3 == 1 { bench.gates.open(work.id) }  // finished while the server is away
                guard let finished = try await value(of: call, within: .seconds(30), "iteration \(i): the call in flight",
                                                     sourceLocation: sourceLocation) else { return }
                let (result, ended) = finished
                timings.record("call in flight", ended - struck)
                #expect(ended - struck <= FaultBench.deadline + FaultBench.slack,
                        "iteration \(i): the call ended \(ended - struck) after the fault", sourceLocation: sourceLocation)
                outcome = result
            }
            await lock.release()

            // The server is back: the next call works, and the call in flight did all or nothing. (It
            // fails, as the lock holder's session is spared or ended with its own; but a server
            // ending every session may end the holder's first and let the call through.)
            let next = try await bench.store.job(id: target.id)
            switch outcome {
            case .success?:
                #expect(next?.state == .cancelled, "iteration \(i): \(String(describing: next))", sourceLocation: sourceLocation)
                timings.record("calls in flight that went through", .zero)
            case .failure(let error)?:
                #expect((error as? StoreUnavailable)?.interrupted == false, "iteration \(i): \(error)", sourceLocation: sourceLocation)
                // A server that ended the session mid-COMMIT and was not back within the
                // deadline to say whether it committed: the call said the change may have been made.
                if (error as? StoreUnavailable)?.outcomeUnknown == true {
                    timings.record("calls in flight whose outcome the server could not tell", .zero)
                } else {
                    #expect(next?.state == .queued, "iteration \(i): \(String(describing: next))", sourceLocation: sourceLocation)
                }
            case nil:
                break
            }

            bench.gates.open(work.id)
            try await bench.expectSucceededOnce(work, rescueAllowed: rescueAllowed, sourceLocation: sourceLocation)
            await eventually("iteration \(i): the worker's outage lines pair up", sourceLocation: sourceLocation) {
                let logged = bench.outagesLogged
                return logged.lost == logged.back && (!noticedEveryTime || logged.lost >= i)
            }
            let logged = bench.outagesLogged
            #expect(logged.lost <= i && (!noticedEveryTime || logged.lost == i),
                    "iteration \(i): the worker logged \(logged.lost) outage(s):\n\(bench.worker.log.all.joined(separator: "\n"))",
                    sourceLocation: sourceLocation)
            try await afterward(bench, i)
        }
        let started = bench.handler.started
        #expect(Set(started).count == started.count, "no attempt run twice", sourceLocation: sourceLocation)
        #expect(!bench.worker.hasEnded, "the worker rode out every fault: \(bench.worker.log.all)", sourceLocation: sourceLocation)
    }
}

// MARK: - Calls on a server that does not answer

/// A call on a new connection to a server that accepts TCP and answers nothing ends by the
/// deadline with `StoreUnavailable`.
private func callOnANewConnection(_ url: String, _ timings: Timings) async throws {
    let executor = PostgresExecutor(location: PostgresConnectionString(url), deadline: FaultBench.deadline)
    let started = ContinuousClock.now
    let result = await Result { try await executor.read { db in try db.query("SELECT 1 AS one") } }
    let took = ContinuousClock.now - started
    timings.record("new connection", took)
    #expect(took <= FaultBench.deadline + FaultBench.slack, "a new connection gave up after \(took)")
    expectUnavailable(result, "a call on a new connection")
    await executor.close()
}

/// A call waiting on a server that answers nothing (its deadline a minute away), interrupted as a
/// worker's stop request does: it ends at once with `StoreUnavailable`, interrupted.
private func interruptedCall(_ url: String, _ timings: Timings) async throws {
    let executor = PostgresExecutor(location: PostgresConnectionString(url), deadline: .seconds(60))
    let call = Task { await Result { try await executor.read { db in try db.query("SELECT 1 AS one") } } }
    try await Task.sleep(for: .milliseconds(300))
    let asked = ContinuousClock.now
    executor.interrupt()
    let result = try await value(of: call, within: .seconds(10), "the interrupted call")
    let took = ContinuousClock.now - asked
    timings.record("interrupted call", took)
    // It notices within a tenth of a second; the slack is for a loaded machine's scheduling.
    #expect(took < .seconds(1) + FaultBench.slack, "an interrupted call ended \(took) after the interrupt")
    if let result {
        switch result {
        case .success: Issue.record("a call on a server that never answers succeeded")
        case .failure(let error): #expect((error as? StoreUnavailable)?.interrupted == true, "\(error)")
        }
    }
    await executor.close()
}

/// The call failed as an unreachable database does: `StoreUnavailable`, not interrupted.
private func expectUnavailable<T>(_ result: Result<T, any Error>, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    switch result {
    case .success(let value):
        Issue.record("\(what) succeeded (\(value)) though the server was away", sourceLocation: sourceLocation)
    case .failure(let error):
        #expect((error as? StoreUnavailable)?.interrupted == false, "\(what): \(error)", sourceLocation: sourceLocation)
    }
}
