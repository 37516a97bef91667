import CProcess
import Foundation
import Synchronization

/// Wakes the worker's loop every `interval`, or every `idleInterval` while
/// the worker is idle and its store tells it of changes (`wake`), from a
/// thread of its own that waits in `poll` on an eventfd, rather than with
/// `Task.sleep`: Dispatch's timers, which `Task.sleep` rests on, never fire
/// in a process whose clocks are faked with libfaketime (measured: not even
/// with its monotonic clock left alone), which is how the tests give a box a
/// clock an hour off.
///
/// At most one tick waits for the loop at a time: a loop slower than the
/// interval (a slow store, a loaded box) would otherwise find a backlog of
/// ticks growing without bound in its event stream, each a round with the
/// store, and a finished attempt queued behind them all (measured: an
/// attempt's outcome recorded 20 s late under a full test run's load).
final class WorkerTicker: Sendable {
    /// Shared with the thread and with whoever wakes it: the eventfd is
    /// closed only when none of them can write to it any more.
    private final class State: Sendable {
        let stopped = Atomic<Bool>(false)
        let pending = Atomic<Bool>(false)
        let idle = Atomic<Bool>(false)
        /// Microseconds between ticks while idle; 0 while nothing wakes the ticker.
        let idleMicroseconds = Atomic<Int>(0)
        let wakeFD = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))

        deinit {
            if wakeFD >= 0 { close(wakeFD) }
        }
    }

    private let state = State()

    /// `tick(changed)`: `changed` when woken by `wake`, not by the clock.
    init(interval: Double, tick: @escaping @Sendable (_ changed: Bool) -> Void) {
        let busy = Self.microseconds(interval)
        let thread = Thread { [state] in
            var ready = pollfd(fd: state.wakeFD, events: Int16(POLLIN), revents: 0)
            var drained: UInt64 = 0
            while !state.stopped.load(ordering: .relaxed) {
                let idle = state.idleMicroseconds.load(ordering: .relaxed)
                let wait = state.idle.load(ordering: .relaxed) && idle > 0 ? idle : busy
                var woken = false
                if state.wakeFD >= 0 {
                    if poll(&ready, 1, Int32(wait / 1000)) > 0 {
                        woken = read(state.wakeFD, &drained, 8) == 8
                    }
                } else {
                    usleep(useconds_t(wait))
                }
                if state.stopped.load(ordering: .relaxed) { break }
                if !state.pending.exchange(true, ordering: .acquiringAndReleasing) { tick(woken) }
            }
        }
        thread.name = "vqueue.worker.tick"
        thread.start()
    }

    private static func microseconds(_ seconds: Double) -> Int {
        Int(max(1_000, min(seconds * 1e6, 1e6)))
    }

    /// Something may have changed: tick now rather than at the end of the
    /// wait, when idle. A busy worker looks every `interval` anyway, and its
    /// own writes (and, on PostgreSQL, every event's NOTIFY) would otherwise
    /// add a store round each (measured: no-op throughput halved). A change
    /// just before the worker turned idle is seen at the tick that follows.
    func wake() {
        guard state.idle.load(ordering: .relaxed) else { return }
        poke()
    }

    private func poke() {
        var one: UInt64 = 1
        if state.wakeFD >= 0 { _ = write(state.wakeFD, &one, 8) }
    }

    /// From now on, while `idle(true)`, ticks come every `seconds` (and on `wake`).
    func sleepWhenIdle(_ seconds: Double) {
        state.idleMicroseconds.store(Self.microseconds(seconds), ordering: .relaxed)
    }

    /// Whether the worker has nothing running or to record.
    /// Turning busy ends an idle wait under way, so the short interval
    /// starts at once.
    func idle(_ idle: Bool) {
        if state.idle.exchange(idle, ordering: .relaxed) && !idle { poke() }
    }

    /// The loop took the pending tick: the next one may be sent.
    func taken() {
        state.pending.store(false, ordering: .releasing)
    }

    func stop() {
        state.stopped.store(true, ordering: .relaxed)
        poke()
    }
}
