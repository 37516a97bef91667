import Glibc

/// The words the C library has for an errno value.
func systemMessage(_ code: Int32) -> String {
    String(cString: strerror(code))
}

/// Retries a system call interrupted by a signal (SIGINT and SIGTERM are
/// handled, not fatal, while a transcode runs).
func retryingInterrupted(_ call: () -> Int32) -> Int32 {
    while true {
        let result = call()
        if result >= 0 || errno != EINTR { return result }
    }
}
