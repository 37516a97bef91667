import Synchronization
import Testing
@testable import JobQueue

/// Counts calls from a closure.
private final class Counter: Sendable {
    private let count = Mutex(0)
    var value: Int { count.withLock { $0 } }
    /// Counts one more call and returns the count so far.
    func increment() -> Int { count.withLock { $0 += 1; return $0 } }
}

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

    @Test("on SQLite, after its pause the loop waits for as long as a worker's renewal is late")
    func waitsForALateRenewal() async throws {
        var share = LockShare(dialect: .sqlite, largest: 500, smallest: 20)
        let asked = Counter()
        let clock = ContinuousClock()
        let took = try await clock.measure {
            try await share.wrote(took: .zero, lateRenewal: { asked.increment() <= 3 })
        }
        #expect(asked.value == 4, "asked again until the renewal is no longer late")
        #expect(took >= LockShare.shortestPause + LockShare.lateRenewalPoll * 3)
    }

    @Test("on PostgreSQL (row locks, queued waiters) chunks stay at their largest and there is no pause")
    func postgresNeitherShrinksNorPauses() async throws {
        var share = LockShare(dialect: .postgres, largest: 500, smallest: 20)
        let clock = ContinuousClock()
        let asked = Counter()
        let took = try await clock.measure { try await share.wrote(took: .seconds(5), lateRenewal: { asked.increment() > 0 }) }
        #expect(share.size == 500)
        #expect(asked.value == 0, "no wait for late renewals either")
        #expect(took < .seconds(1), "a pause would have been 5 s")
    }
}
