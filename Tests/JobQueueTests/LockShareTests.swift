import Testing
@testable import JobQueue

/// Prune and compaction on SQLite keep each write short and leave the lock to workers after each:
/// with fixed 500-row chunks, a loaded machine's writes held the lock so long that a worker could
/// not renew a 1 s lease between them.
@Suite struct LockShareTests {
    @Test("on SQLite, the first chunk is the smallest; quick writes grow it to the largest, a slow write halves the next one down to the smallest")
    func chunksFollowWriteTime() async throws {
        var share = LockShare(dialect: .sqlite, largest: 500, smallest: 20)
        #expect(share.size == 20, "a loaded machine's first write must be short too")
        var sizes: [Int] = []
        for _ in 0..<6 {
            try await share.wrote(took: .zero)
            sizes.append(share.size)
        }
        #expect(sizes == [40, 80, 160, 320, 500, 500])
        sizes = []
        for _ in 0..<6 {
            try await share.wrote(took: LockShare.target * 3)
            sizes.append(share.size)
        }
        #expect(sizes == [250, 125, 62, 31, 20, 20])
        try await share.wrote(took: LockShare.target)
        #expect(share.size == 20, "a write near the target keeps its size")
        sizes = []
        for _ in 0..<6 {
            try await share.wrote(took: .zero)
            sizes.append(share.size)
        }
        #expect(sizes == [40, 80, 160, 320, 500, 500])
    }

    @Test("on SQLite the lock is left alone after each write for as long as the write took, 20 ms at least")
    func pausesAsLongAsTheWrite() async throws {
        var share = LockShare(dialect: .sqlite, largest: 500, smallest: 20)
        let clock = ContinuousClock()
        let short = try await clock.measure { try await share.wrote(took: .zero) }
        #expect(short >= LockShare.shortestPause)
        let long = try await clock.measure { try await share.wrote(took: .milliseconds(150)) }
        #expect(long >= .milliseconds(150))
    }

    @Test("on PostgreSQL (row locks, queued waiters) chunks stay at their largest and there is no pause")
    func postgresNeitherShrinksNorPauses() async throws {
        var share = LockShare(dialect: .postgres, largest: 500, smallest: 20)
        let clock = ContinuousClock()
        let took = try await clock.measure { try await share.wrote(took: .seconds(5)) }
        #expect(share.size == 500)
        #expect(took < .seconds(1), "a pause would have been 5 s")
    }
}
