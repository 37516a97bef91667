import Foundation

/// A counting semaphore for child processes. Swift Testing runs every test at once; on a two-core box
/// that would start dozens of encoders together and turn every time limit into a coin toss.
actor ProcessSlots {
    static let shared = ProcessSlots(count: max(2, ProcessInfo.processInfo.activeProcessorCount) + 1)

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

/// Runs `body` while holding one process slot.
func withProcessSlot<T>(_ body: () async throws -> T) async rethrows -> T {
    await ProcessSlots.shared.acquire()
    do {
        let value = try await body()
        await ProcessSlots.shared.release()
        return value
    } catch {
        await ProcessSlots.shared.release()
        throw error
    }
}
