/// How long a transiently failed job waits before its next attempt:
/// exponential backoff with jitter, so jobs failed together (a full disk, a
/// dead worker) do not all come back in the same instant.
public struct RetryPolicy: Sendable {
    public var baseDelay: Double
    public var maximumDelay: Double

    public init(baseDelay: Double = 1, maximumDelay: Double = 300) {
        self.baseDelay = baseDelay
        self.maximumDelay = maximumDelay
    }

    /// Seconds to wait after failed attempt number `attempt` (1-based):
    /// between half and all of `base * 2^(attempt-1)`, capped.
    public func delay(afterAttempt attempt: Int) -> Double {
        let exponential = baseDelay * Double(1 << min(max(attempt - 1, 0), 20))
        let capped = min(maximumDelay, exponential)
        return capped * Double.random(in: 0.5...1.0)
    }
}
