import Foundation
import Synchronization

/// Wakes the worker's loop every `interval`, from a thread of its own that
/// sleeps with `usleep`, rather than with `Task.sleep`: Dispatch's timers,
/// which `Task.sleep` rests on, never fire in a process whose clocks are
/// faked with libfaketime (measured: not even with its monotonic clock left
/// alone), which is how the tests give a box a clock an hour off.
///
/// At most one tick waits for the loop at a time: a loop slower than the
/// interval (a slow store, a loaded box) would otherwise find a backlog of
/// ticks growing without bound in its event stream, each a round with the
/// store, and a finished attempt queued behind them all (measured: an
/// attempt's outcome recorded 20 s late under a full test run's load).
final class WorkerTicker: Sendable {
    private final class State: Sendable {
        let stopped = Atomic<Bool>(false)
        let pending = Atomic<Bool>(false)
    }

    private let state = State()

    init(interval: Double, tick: @escaping @Sendable () -> Void) {
        let microseconds = useconds_t(max(1_000, min(interval * 1e6, 1e6)))
        let thread = Thread { [state] in
            while !state.stopped.load(ordering: .relaxed) {
                usleep(microseconds)
                if !state.pending.exchange(true, ordering: .acquiringAndReleasing) { tick() }
            }
        }
        thread.name = "vqueue.worker.tick"
        thread.start()
    }

    /// The loop took the pending tick: the next one may be sent.
    func taken() {
        state.pending.store(false, ordering: .releasing)
    }

    func stop() {
        state.stopped.store(true, ordering: .relaxed)
    }
}
