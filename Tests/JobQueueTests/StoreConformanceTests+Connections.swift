import Foundation
import Testing
@testable import JobQueue

// MARK: - A lost PostgreSQL connection

extension StoreConformanceTests {
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
            do {
                _ = try await store.claim(worker: "w", queues: [], limit: 1, leaseSeconds: longLease)
            } catch {
                #expect(error is StoreUnavailable, "\(error)")
            }
            #expect(try await store.claimOne("w").id == job.id, "the next write reconnects")
        }
    }
}
