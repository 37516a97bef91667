import CLibAV
import Glibc
import Synchronization

/// A ceiling on this process's memory, set by the kernel (`--max-memory`):
/// past it an allocation fails, libav reports ENOMEM, and the transcode
/// ends with `TranscodeError.memoryLimit` instead of the box swapping or the
/// OOM killer choosing a victim.
///
/// The limit is RLIMIT_DATA: since Linux 4.7 it counts the process's private
/// writable memory (heap, anonymous mappings, thread stacks), which is what
/// decoded pictures and encoder buffers take. RLIMIT_AS, which counts every
/// reserved address, fails for no reason a user could act on: glibc reserves
/// 64 MiB of address space per malloc arena (one per thread, and libx264
/// and the frame-threaded decoders start several), so a transcode using a
/// small fraction of its limit in memory would be refused.
public enum MemoryLimit {
    private static let current = Atomic<Int>(0)

    /// Limits this process to `bytes` from now on. Call it before opening
    /// anything. Throws if the kernel refuses.
    public static func apply(bytes: Int) throws(TranscodeError) {
        guard vq_set_data_limit(UInt64(bytes)) == 0 else {
            throw .libav("setting the memory limit", systemMessage(errno))
        }
        current.store(bytes, ordering: .relaxed)
    }

    /// The limit in force, set by `apply`, or nil.
    public static var bytes: Int? {
        let value = current.load(ordering: .relaxed)
        return value > 0 ? value : nil
    }

    /// What an allocation failure means here: the limit when one is set
    /// (nothing else makes malloc fail on Linux's overcommitting default), or
    /// a passing shortage of memory on the machine.
    static func outOfMemory(_ doing: String) -> TranscodeError {
        if let bytes { return .memoryLimit(bytes) }
        return .ioError(doing, systemMessage(ENOMEM))
    }
}
