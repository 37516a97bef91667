import Glibc

/// Why a child could not be started.
public enum ChildProcessError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `step` (execve, pipe, ...) failed with `errno`.
    case cannotStart(executable: String, step: String, errno: Int32)
    /// The waiting task was cancelled before the child was started.
    case cancelledBeforeStart

    public var description: String {
        switch self {
        case let .cannotStart(executable, step, error):
            return "cannot start \(executable): \(step): \(String(cString: strerror(error)))"
        case .cancelledBeforeStart:
            return "cancelled before the child was started"
        }
    }
}
