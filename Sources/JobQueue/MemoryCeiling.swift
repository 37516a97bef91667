import CProcess
import Glibc

extension ChildProcess {
    /// Which kernel limit enforces `memoryLimit` in the child.
    public enum MemoryLimitKind: Sendable, Equatable {
        /// RLIMIT_DATA: the child's private writable memory (heap, anonymous
        /// mappings, thread stacks), what it can actually dirty.
        case data
        /// RLIMIT_AS: its whole address space, including what is only
        /// reserved (glibc's 64 MiB arena per thread, read-only mappings).
        case addressSpace
    }
}

/// A child's memory ceiling, and the judgement of whether a child that ended
/// badly ran into it. An rlimit makes the kernel refuse an allocation
/// (ENOMEM from mmap or brk) rather than kill the child, so there is no
/// signal that says "memory": the child fails however its code handles a
/// refused allocation (libav: "Cannot allocate memory"; Swift: a trap;
/// Python: MemoryError), and the evidence is what it wrote and how it died.
struct MemoryCeiling: Sendable, Equatable {
    let bytes: Int
    let kind: ChildProcess.MemoryLimitKind

    var cKind: vq_memory_limit_kind {
        kind == .addressSpace ? VQ_MEMORY_LIMIT_ADDRESS_SPACE : VQ_MEMORY_LIMIT_DATA
    }

    /// What refused allocations print, lowercased: strerror(ENOMEM) (libav
    /// and C programs), the Swift runtime, Python, C++, glibc's malloc checks.
    static let exhaustionMessages = [
        "cannot allocate memory", "could not allocate memory", "memoryerror", "out of memory",
        "bad_alloc", "failed to allocate", "allocation failed",
    ]

    /// Whether a child that ended this way most likely did so because an
    /// allocation was refused: it was not stopped by the supervisor and did
    /// not succeed, and either it said so, or it crashed (a refused
    /// allocation dereferenced, a runtime trap) having used at least half
    /// the ceiling.
    func wasMostLikelyReached(termination: ChildProcess.Termination, stop: ChildProcess.StopReason?,
                              peakMemoryBytes: Int, errorLines: [String]) -> Bool {
        guard stop == nil, termination != .exited(0) else { return false }
        let said = errorLines.contains { line in
            let lowercased = line.lowercased()
            return Self.exhaustionMessages.contains { lowercased.contains($0) }
        }
        if said { return true }
        guard case .signalled(let signal) = termination else { return false }
        let crashes: Set<Int32> = [SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGTRAP, SIGKILL]
        return crashes.contains(signal) && peakMemoryBytes >= bytes / 2
    }
}
