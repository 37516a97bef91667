import Foundation
import Synchronization

/// Wakes the worker's loop every `interval`, from a thread of its own that
/// sleeps with `usleep`, rather than with `Task.sleep`: Dispatch's timers,
/// which `Task.sleep` rests on, never fire in a process whose clocks are
/// faked with libfaketime (measured: not even with its monotonic clock left
/// alone), which is how the tests give a box a clock an hour off.
final class WorkerTicker: Sendable {
    private final class Flag: Sendable {
        let stopped = Atomic<Bool>(false)
    }

    private let flag = Flag()

    init(interval: Double, tick: @escaping @Sendable () -> Void) {
        let microseconds = useconds_t(max(1_000, min(interval * 1e6, 1e6)))
        let thread = Thread { [flag] in
            while !flag.stopped.load(ordering: .relaxed) {
                usleep(microseconds)
                tick()
            }
        }
        thread.name = "vqueue.worker.tick"
        thread.start()
    }

    func stop() {
        flag.stopped.store(true, ordering: .relaxed)
    }
}
