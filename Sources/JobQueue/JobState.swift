/// Where a job stands. `queued -> running -> succeeded | failed | cancelled`;
/// a running job whose attempt fails transiently goes back to `queued` with
/// a later `runAt` (shown as "retrying").
public enum JobState: String, Codable, Sendable, CaseIterable {
    case queued
    case running
    case succeeded
    case failed
    case cancelled

    /// A job in a final state never runs again unless retried by hand.
    public var isFinished: Bool {
        self == .succeeded || self == .failed || self == .cancelled
    }
}
