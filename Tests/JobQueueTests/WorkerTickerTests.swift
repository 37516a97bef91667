import Foundation
import Testing
@testable import JobQueue

/// The worker's clock: a loop slower than its poll interval must not find a growing backlog of
/// ticks in its event stream, with a finished attempt's outcome queued behind them (under a full
/// test run's load, outcomes were recorded 20 s late).
@Suite struct WorkerTickerTests {
    @Test("a tick the loop has not taken yet is not followed by another")
    func atMostOneTickWaits() async throws {
        let ticks = Shared(0)
        let ticker = WorkerTicker(interval: 0.001) { ticks.value += 1 }
        defer { ticker.stop() }
        await eventually("the first tick") { ticks.value == 1 }
        // A hundred intervals and more: a loop this slow still has one tick waiting.
        try await Task.sleep(for: .milliseconds(200))
        #expect(ticks.value == 1)

        ticker.taken()
        await eventually("the next tick, once the first was taken") { ticks.value == 2 }
        try await Task.sleep(for: .milliseconds(200))
        #expect(ticks.value == 2)
    }
}
