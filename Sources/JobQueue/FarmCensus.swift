/// The farm at one moment, counted by the database (one read): jobs by
/// state and queue, the oldest queued job of each queue, and the frames per
/// second of everything running. What `/metrics` shows as gauges.
public struct FarmCensus: Sendable, Equatable {
    public struct Count: Sendable, Equatable {
        public var state: JobState
        public var queue: String
        public var count: Int
    }

    public var jobs: [Count]
    /// Per queue, when its oldest queued job was submitted (the store's clock).
    public var oldestQueued: [String: Double]
    /// The sum of the running jobs' frames per second.
    public var runningFPS: Double
    /// The store's clock when counted.
    public var now: Double
    /// The newest event's id (0 for none).
    public var lastEventID: Int64
    /// Notifications (webhooks) by state.
    public var notifications: [JobNotification.State: Int] = [:]
}

extension SQLJobStore {
    public func census() async throws -> FarmCensus {
        try await read { db in
            let counts = try db.query("SELECT state, queue, COUNT(*) AS count FROM jobs GROUP BY state, queue ORDER BY queue, state")
            let oldest = try db.query("SELECT queue, MIN(submitted_at) AS oldest FROM jobs WHERE state = 'queued' GROUP BY queue")
            let running = try db.queryOne("SELECT COALESCE(SUM(fps), 0) AS fps, vqueue_now() AS now FROM jobs WHERE state = 'running'")
            let last = try db.queryOne("SELECT COALESCE(MAX(id), 0) AS last FROM events")
            let notifications = try db.query("SELECT state, COUNT(*) AS count FROM notifications GROUP BY state")
            var census = FarmCensus(
                jobs: counts.compactMap { row in
                    JobState(rawValue: row.string("state")).map { .init(state: $0, queue: row.string("queue"), count: row.int("count")) }
                },
                oldestQueued: Dictionary(uniqueKeysWithValues: oldest.map { ($0.string("queue"), $0.double("oldest")) }),
                runningFPS: running?.double("fps") ?? 0,
                now: running?.double("now") ?? 0,
                lastEventID: last?.int64("last") ?? 0)
            for row in notifications {
                if let state = JobNotification.State(rawValue: row.string("state")) { census.notifications[state] = row.int("count") }
            }
            return census
        }
    }
}
