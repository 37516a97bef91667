import Foundation
import Testing
@testable import JobQueue

/// An acknowledged submit survives a power cut: on SQLite every commit is synced to disk
/// (synchronous=FULL). GRDB's WAL set-up turned the writer connection, which makes every write, to
/// synchronous=NORMAL, where a commit reaches the disk only at the next checkpoint.
@Suite struct SQLiteDurabilityTests {
    @Test("every SQLite write, on a new file and on an existing one, runs with synchronous=FULL")
    func writesAreSyncedOnCommit() async throws {
        try await withTestDatabase(.sqlite) { database in
            for opening in ["a new file", "the existing file"] {
                let store = try await database.open()
                _ = try await store.submitOne(newJob())
                let level = try await store.write { connection in
                    try connection.queryOne("PRAGMA synchronous")?.values.first
                }
                #expect(level == .integer(2), "synchronous on the writing connection (2 is FULL), opening \(opening)")
                await store.close()
            }
        }
    }
}
