import Foundation

/// A counting semaphore for child processes. Swift Testing runs every test at once; on a two-core box
/// that would start dozens of encoders together and turn every time limit into a coin toss.
///
/// A test's `.timeLimit` counts its wait for a slot too, which on a loaded box can be most of the
/// run; so the end-to-end tests' limits are 30 minutes: they catch a hang, not slowness. Deadlines
/// that are part of a behaviour (a reaction within a second, a lease running out) are checked
/// inside the tests, from the moment the behaviour starts.
actor ProcessSlots {
    static let shared = ProcessSlots(count: max(2, ProcessInfo.processInfo.activeProcessorCount) + 1)
    /// Whether the current task holds a slot.
    @TaskLocal static var holding = false

    private var available: Int
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(count: Int) { available = count }

    func acquire() async {
        if available > 0 {
            available -= 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func release() {
        if waiters.isEmpty {
            available += 1
        } else {
            waiters.removeFirst().resume()
        }
    }
}

/// Runs `body` while holding one process slot. A task that holds one already runs `body` at
/// once: a slot taken again inside another (`runProcess` takes one) would wait for a slot its
/// own task holds, and with every slot held that way a loaded run hung for 30 minutes.
func withProcessSlot<T>(_ body: () async throws -> T) async rethrows -> T {
    if ProcessSlots.holding { return try await body() }
    await ProcessSlots.shared.acquire()
    do {
        let value = try await ProcessSlots.$holding.withValue(true) { try await body() }
        await ProcessSlots.shared.release()
        return value
    } catch {
        await ProcessSlots.shared.release()
        throw error
    }
}
