import Foundation
import Testing
@testable import JobQueue

// MARK: - Another connection's lock; a lost PostgreSQL connection

extension StoreConformanceTests {
    /// Holds a write transaction on another connection, with `job`'s row changed (SQLite: the
    /// database's write lock; PostgreSQL: the row's lock), until `release` is set.
    private func holdLock(_ database: TestDatabase, on job: Int64, release: Flag) async throws -> Task<Void, any Error> {
        let holder = try database.makeExecutor()
        let holding = Flag()
        let hold = Task {
            try await holder.write { db in
                try db.execute("UPDATE jobs SET priority = priority WHERE id = ?", [.integer(job)])
                holding.set()
                while !release.isSet { usleep(5_000) }
            }
            await holder.close()
        }
        await eventually("the other connection holds its lock") { holding.isSet }
        return hold
    }

    @Test("a call waits for another connection's lock instead of failing, and gives up when interrupted",
          arguments: StoreKind.allCases)
    func waitingForALockIsInterruptible(_ kind: StoreKind) async throws {
        try await withTestDatabase(kind) { database in
            let store = try await database.open()
            let job = try await store.submitOne(newJob())

            let released = Flag()
            let hold = try await holdLock(database, on: job.id, release: released)
            let waiting = Task { try await store.cancel(id: job.id) }
            try await Task.sleep(for: .milliseconds(500))
            released.set()
            try await hold.value
            #expect(try await waiting.value?.state == .cancelled, "the waiting write went through once the lock was free")

            let releasedAgain = Flag()
            let holdAgain = try await holdLock(database, on: job.id, release: releasedAgain)
            let stuck = Task { () -> (any Error)? in
                do {
                    _ = try await store.retry(id: job.id)
                    return nil
                } catch {
                    return error
                }
            }
            // An interrupt is for the call in progress: it is asked again until the call, once
            // waiting, gives up (the lock is only released after that).
            let interrupter = Task {
                while !Task.isCancelled {
                    store.interrupt()
                    try? await Task.sleep(for: .milliseconds(50))
                }
            }
            let outcome = try await value(of: stuck, within: .seconds(20), "the interrupted call")
            interrupter.cancel()
            await interrupter.value
            _ = try? await store.now()  // uses up an interrupt asked after the call gave up
            releasedAgain.set()
            try await holdAgain.value
            let error = try #require(outcome ?? nil, "the call waiting for the lock must give up when interrupted")
            #expect((error as? StoreUnavailable)?.interrupted == true, "\(error)")
            #expect(try await store.existing(job.id).state == .cancelled, "the interrupted retry changed nothing")
            #expect(try await store.retry(id: job.id)?.state == .queued, "and the store works on")
        }
    }

    @Test("an interrupt asked between two calls is not lost: the next call, waiting for a lock, gives up",
          arguments: StoreKind.allCases)
    func interruptBetweenCallsIsNotLost(_ kind: StoreKind) async throws {
        try await withTestDatabase(kind) { database in
            let store = try await database.open()
            let job = try await store.submitOne(newJob())
            let released = Flag()
            let hold = try await holdLock(database, on: job.id, release: released)
            // A worker asked to stop a moment before its next call: that call may hang (a lock,
            // a silent server) and must not keep the worker from answering.
            store.interrupt()
            let call = Task { () -> (any Error)? in
                do {
                    _ = try await store.cancel(id: job.id)
                    return nil
                } catch {
                    return error
                }
            }
            let outcome = try await value(of: call, within: .seconds(10), "the call after the interrupt")
            released.set()
            try await hold.value
            let error = try #require(outcome ?? nil, "the call must give up, not wait for the lock")
            #expect((error as? StoreUnavailable)?.interrupted == true, "\(error)")
            #expect(try await store.existing(job.id).state == .queued, "the interrupted call changed nothing")
            #expect(try await store.cancel(id: job.id)?.state == .cancelled, "the interrupt was used up: the next call goes through")
        }
    }

    @Test("a PostgreSQL store whose connection was killed reports the database unavailable once, then reconnects")
    func killedConnectionReconnects() async throws {
        try await withTestDatabase(.postgres) { database in
            let store = try await database.open()
            let job = try await store.submitOne(newJob())
            #expect(try await TestPostgresServer.terminateConnections(to: database.postgresName) >= 1)
            var failures: [any Error] = []
            for _ in 0..<3 {
                do {
                    #expect(try await store.existing(job.id).state == .queued)
                    break
                } catch {
                    failures.append(error)
                }
            }
            #expect(failures.count <= 1, "\(failures)")
            for failure in failures {
                #expect((failure as? StoreUnavailable)?.interrupted == false, "a lost connection is an outage: \(failure)")
            }
            #expect(try await TestPostgresServer.terminateConnections(to: database.postgresName) >= 1)
            // The ended session is noticed before the claim (it reconnects then) or by it (it
            // fails, changing nothing, and the next reconnects): either way the job is claimed once.
            var claimed: [Job] = []
            do {
                claimed = try await store.claim(worker: "w", queues: [], limit: 1, leaseSeconds: longLease)
            } catch {
                #expect(error is StoreUnavailable, "\(error)")
                claimed = [try await store.claimOne("w")]
            }
            #expect(claimed.map(\.id) == [job.id], "the next write reconnects")
        }
    }
}
