import CProcess
import Glibc

extension ChildProcess {
    /// Which kernel limit enforces `memoryLimit` in the child. Measured here
    /// with `vqueue transcode` (2 cores; the smallest ceiling it passed under):
    ///
    /// | input (peak RSS)            | RLIMIT_DATA | RLIMIT_AS |
    /// |-----------------------------|-------------|-----------|
    /// | 320x240 VP9 (85 MB)         | 207 MiB     | 589 MiB   |
    /// | same, --threads 8 (91 MB)   | 382 MiB     | 796 MiB   |
    /// | 1080p H.264 (326 MB)        | 526 MiB     | 1020 MiB  |
    /// | same, --threads 8 (441 MB)  | 908 MiB     | 1753 MiB  |
    ///
    /// RLIMIT_AS counts what is only reserved (180 shared libraries, glibc's
    /// 64 MiB malloc arena per thread): under 512 MiB even a 320x240 job
    /// fails, some while loading libavfilter. RLIMIT_DATA counts private
    /// writable memory (heap, anonymous mappings, 8 MiB per thread stack):
    /// 1.6 to 2.4 times the peak RSS. Both stop an 8192x4320 input (2.5 GB
    /// RSS unlimited) within a second, the encoder failing to open.
    public enum MemoryLimitKind: Sendable, Equatable {
        /// RLIMIT_DATA, the default: what the child can actually dirty.
        case data
        /// RLIMIT_AS: its whole address space, reserved or not.
        case addressSpace
    }

    /// The exit status by which a child says an allocation was refused
    /// (sysexits' EX_OSERR): `vqueue transcode` should exit with it when it
    /// knows, so that `Result.memoryLimitReached` need not guess.
    public static let memoryExhaustedExitCode: Int32 = 71
}

/// A child's memory ceiling, and the judgement of whether a child that ended
/// badly ran into it. An rlimit makes the kernel refuse an allocation
/// (ENOMEM from mmap or brk) rather than kill the child, so no signal says
/// "memory": the child fails however its code handles the refusal (libav:
/// "Cannot allocate memory", but libx264 only "Generic error in an external
/// library"; Swift: "failed to allocate N bytes", then SIGABRT; Python:
/// MemoryError), and the evidence is its exit status, what it wrote and how
/// much it had used.
struct MemoryCeiling: Sendable, Equatable {
    let bytes: Int
    let kind: ChildProcess.MemoryLimitKind

    var cKind: vq_memory_limit_kind {
        kind == .addressSpace ? VQ_MEMORY_LIMIT_ADDRESS_SPACE : VQ_MEMORY_LIMIT_DATA
    }

    /// What refused allocations print, lowercased: strerror(ENOMEM) (libav
    /// and C programs), the Swift runtime, Python, C++.
    private static let exhaustionMessages = [
        "cannot allocate memory", "failed to allocate", "could not allocate memory", "memoryerror",
        "out of memory", "bad_alloc",
    ]

    static func saysMemoryIsExhausted(_ line: String) -> Bool {
        let lowercased = line.lowercased()
        return exhaustionMessages.contains { lowercased.contains($0) }
    }

    /// Whether a child that ended this way most likely did so because an
    /// allocation was refused. Not if it succeeded or the supervisor stopped
    /// it; yes if it exited with `memoryExhaustedExitCode` or said so on
    /// stderr, or if it failed (any other exit, or a crash) having used half
    /// the ceiling or more: the kernel counts more than the resident peak
    /// (see ``ChildProcess/MemoryLimitKind``), so such a child was at the
    /// ceiling. An allocation refused at once (an 8192x4320 encoder at
    /// 138 MB resident) leaves only the child's own word. `peakMemoryBytes`
    /// is the child's own peak, 0 when it is not known.
    func wasMostLikelyReached(termination: ChildProcess.Termination, stop: ChildProcess.StopReason?,
                              peakMemoryBytes: Int, saidSo: Bool) -> Bool {
        guard stop == nil, termination != .exited(0) else { return false }
        if termination == .exited(ChildProcess.memoryExhaustedExitCode) || saidSo { return true }
        return peakMemoryBytes >= bytes / 2
    }
}
