/// Where a job stands. `queued -> running -> succeeded | failed | cancelled`;
/// a running job whose attempt fails transiently goes back to `queued` with
/// a later `runAt` (shown as "retrying"). A job made of parts (`NewJob.parts`)
/// is `waiting` until they have all succeeded, then `queued`; it ends
/// `failed` or `cancelled` as soon as one of them does.
public enum JobState: String, Codable, Sendable, CaseIterable {
    case queued
    case running
    case succeeded
    case failed
    case cancelled
    case waiting

    /// A job in a final state never runs again unless retried by hand.
    public var isFinished: Bool {
        self == .succeeded || self == .failed || self == .cancelled
    }
}
