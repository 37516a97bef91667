import Foundation
import Testing
@testable import JobQueue

// MARK: - Waking an idle worker: another process's change, told without polling

extension StoreConformanceTests {
    @Test("watchChanges wakes its caller when another process submits (SQLite: inotify on the file; PostgreSQL: NOTIFY), and stops when asked",
          arguments: StoreKind.allCases)
    func anotherProcessesSubmitWakesTheWatcher(_ kind: StoreKind) async throws {
        try await withTestDatabase(kind) { database in
            let watcher = try await database.open()
            let submitter = try await database.open()
            let wakes = Shared(0)
            let stop = try #require(watcher.watchChanges { wakes.value += 1 }, "\(kind) can tell its watchers of changes")
            // PostgreSQL's listener bumps once when it connects; wait for that to settle.
            try await Task.sleep(for: .milliseconds(500))
            let before = wakes.value
            _ = try await submitter.submitOne(newJob())
            await eventually("a wake-up after another store's submit") { wakes.value > before }

            stop()
            try await Task.sleep(for: .milliseconds(600))
            let stopped = wakes.value
            _ = try await submitter.submitOne(newJob("after"))
            try await Task.sleep(for: .milliseconds(600))
            #expect(wakes.value == stopped, "no wake-ups once stopped")
        }
    }

    @Test("on SQLite, a file written beside the database wakes nobody: only the database and its -wal and -journal count")
    func otherFilesInTheFolderDoNotWake() async throws {
        try await withTestDatabase(.sqlite) { database in
            let watcher = try await database.open()
            let wakes = Shared(0)
            let stop = try #require(watcher.watchChanges { wakes.value += 1 })
            defer { stop() }
            let folder = URL(fileURLWithPath: database.sqlitePath).deletingLastPathComponent()
            for n in 0..<20 {
                try Data("upload \(n)".utf8).write(to: folder.appendingPathComponent("upload-\(n).mp4"))
            }
            try await Task.sleep(for: .milliseconds(600))
            #expect(wakes.value == 0, "\(wakes.value) wake-ups for files that are not the queue")
        }
    }
}
