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
        let ticker = WorkerTicker(interval: 0.001) { _ in ticks.value += 1 }
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

    @Test("idle, it ticks only every idle interval, and at once when woken, saying so (an idle worker costs nothing and still starts a job at once)")
    func idleTicksSlowlyAndWakes() async throws {
        let ticks = Shared<[Bool]>([])
        let ticker = WorkerTicker(interval: 0.001) { changed in ticks.value.append(changed) }
        defer { ticker.stop() }
        ticker.sleepWhenIdle(1_000)
        ticker.idle(true)
        await eventually("the first tick") { ticks.value.count == 1 }
        ticker.taken()
        // At most one more clock tick (one may have been under way when idle was set).
        try await Task.sleep(for: .milliseconds(300))
        #expect(ticks.value.count <= 2, "\(ticks.value)")
        let before = ticks.value.count
        ticker.taken()

        ticker.wake()
        await eventually("a tick right after the wake") { ticks.value.count == before + 1 }
        #expect(ticks.value.last == true, "a woken tick says it was woken: \(ticks.value)")

        // Busy again: the short interval is back at once, and a wake adds nothing to it.
        ticker.taken()
        ticker.idle(false)
        await eventually("clock ticks every millisecond again") {
            ticker.taken()
            return ticks.value.count >= before + 10
        }
    }
}
