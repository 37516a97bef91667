/// Reads a store's events in order, from an event id on, and waits for new
/// ones without polling the table: between reads it watches the store's
/// change token (a NOTIFY on PostgreSQL, a commit on SQLite), which costs
/// next to nothing, and reads again once it moves (or once a second, in
/// case a change was missed). `vqueue events --follow` and the HTTP event
/// stream both follow the farm this way.
public struct EventFollower: Sendable {
    let store: SQLJobStore
    /// Only this job's events, when set.
    let job: Int64?
    /// The last event returned.
    public private(set) var last: Int64
    /// Events read at a time.
    public static let page = 1000

    public init(store: SQLJobStore, after last: Int64, job: Int64? = nil) {
        self.store = store
        self.last = last
        self.job = job
    }

    /// The events recorded after the last one returned (at most `page`);
    /// when there are none, waits up to `patience` for some (looking again
    /// whenever the store changes, and once a second), or until `stop`
    /// says so. Empty when none came.
    public mutating func next(waitingUpTo patience: Duration, stop: () -> Bool = { false }) async throws -> [JobEvent] {
        let clock = ContinuousClock()
        let ends = clock.now + patience
        while true {
            let token = try await store.changeToken(for: .event)
            let looked = clock.now
            let events = try await store.events(after: last, job: job, limit: Self.page)
            if let newest = events.last {
                last = newest.id
                return events
            }
            while clock.now < ends, clock.now - looked < .seconds(1), !stop(), !Task.isCancelled,
                  try await store.changeToken(for: .event) == token {
                try await Task.sleep(for: .milliseconds(20))
            }
            if clock.now >= ends || stop() || Task.isCancelled { return [] }
        }
    }
}
