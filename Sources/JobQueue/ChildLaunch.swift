import Glibc
import Synchronization

/// One `ChildProcess.run` as the monitoring thread receives it: everything
/// needed to start the child, prepared on the caller's task, and the flag
/// that tells the thread the run was cancelled before the child started.
final class ChildLaunch: Sendable {
    let executable: String
    let argv: CStringArray
    let envp: CStringArray
    let inheritedDescriptors: [Int32]
    let timeLimit: Duration?
    let stallLimit: Duration?
    let memoryLimit: MemoryCeiling?
    let gracePeriod: Duration
    let onLine: @Sendable (String) -> Void
    /// Set by the cancellation handler, which may run before the monitoring
    /// thread has seen this launch.
    let isCancelled = Atomic<Bool>(false)

    init(executable: String, argv: CStringArray, envp: CStringArray, inheritedDescriptors: [Int32],
         timeLimit: Duration?, stallLimit: Duration?, memoryLimit: MemoryCeiling?, gracePeriod: Duration,
         onLine: @escaping @Sendable (String) -> Void) {
        self.executable = executable
        self.argv = argv
        self.envp = envp
        self.inheritedDescriptors = inheritedDescriptors
        self.timeLimit = timeLimit
        self.stallLimit = stallLimit
        self.memoryLimit = memoryLimit
        self.gracePeriod = gracePeriod
        self.onLine = onLine
    }
}

/// A NULL-terminated array of C strings (argv, envp), made before fork
/// because nothing may be allocated between fork and exec.
final class CStringArray: @unchecked Sendable {
    // Sendable: written only in init, freed only in deinit.
    let pointers: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
    let count: Int

    init(_ strings: [String]) {
        count = strings.count
        pointers = .allocate(capacity: strings.count + 1)
        for (index, string) in strings.enumerated() {
            pointers[index] = strdup(string)
        }
        pointers[strings.count] = nil
    }

    deinit {
        for index in 0..<count { free(pointers[index]) }
        pointers.deallocate()
    }
}
