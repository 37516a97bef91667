import Synchronization

/// A worker's delivery of the outbox's notifications: claims those due, a
/// few at a time, sends each through the sender on a task of its own (a slow
/// or silent receiver holds one of `inFlight` places, never the worker's
/// jobs), and records the outcome: delivered, retried after a pause
/// (`JobNotification.retryDelay`), or failed for good (refused with 410, or
/// still failing `JobNotification.retryWindow` after the end it announces).
///
/// At least once: a worker killed mid-delivery leaves its lease to run out,
/// then another worker sends the notification again, with the same id.
public struct NotificationDeliverer: Sendable {
    public let store: any JobStore
    public let sender: any NotificationSender
    public let worker: String
    public let log: @Sendable (String) -> Void
    /// Deliveries under way at most.
    public var inFlight = 4
    /// Longer than any attempt (the sender's own time limit).
    public var leaseSeconds: Double = 60
    public var pollInterval: Duration = .seconds(1)
    /// Deliveries under way (`run`'s, which outlive it).
    private let busy = Counter()

    public init(store: any JobStore, sender: any NotificationSender, worker: String,
                log: @escaping @Sendable (String) -> Void) {
        self.store = store
        self.sender = sender
        self.worker = worker
        self.log = log
    }

    /// Delivers until the task is cancelled. Deliveries under way then are
    /// left to end with the process (their leases run out; another worker
    /// sends them).
    public func run() async {
        var unreachable = false
        while !Task.isCancelled {
            let free = inFlight - busy.value
            if free > 0 {
                do {
                    let claimed = try await store.claimNotifications(worker: worker, limit: free, leaseSeconds: leaseSeconds)
                    if unreachable {
                        log("notifications: the store answers again")
                        unreachable = false
                    }
                    for notification in claimed {
                        busy.add(1)
                        Task.detached {
                            await deliver(notification)
                            busy.add(-1)
                        }
                    }
                } catch {
                    if !unreachable { log("notifications: cannot claim (\(StoreErrorText.describe(error))); retrying") }
                    unreachable = true
                }
            }
            try? await Task.sleep(for: pollInterval)
        }
    }

    /// Waits for every delivery under way, then delivers what is due now (a
    /// draining worker, before it exits). A notification that fails is
    /// left for later, to whichever worker is running then.
    public func deliverDue() async {
        // `run`'s deliveries first, so that no more than `inFlight` are ever under way.
        while busy.value > 0 { try? await Task.sleep(for: .milliseconds(50)) }
        while true {
            let claimed = (try? await store.claimNotifications(worker: worker, limit: inFlight, leaseSeconds: leaseSeconds)) ?? []
            if claimed.isEmpty { break }
            await withTaskGroup(of: Void.self) { group in
                for notification in claimed { group.addTask { await deliver(notification) } }
            }
        }
    }

    /// One attempt, recorded.
    func deliver(_ notification: JobNotification) async {
        let outcome: NotificationOutcome
        do {
            if let subject = try await subject(of: notification) {
                outcome = decide(await sender.send(notification, about: subject), for: notification)
            } else {
                outcome = .failed(status: nil, reason: "its job or batch no longer exists")
            }
        } catch {
            outcome = decide(.retry(status: nil, reason: "cannot read its job (\(StoreErrorText.describe(error)))"), for: notification)
        }
        do {
            try await store.recordNotification(notification, worker: worker, outcome: outcome)
        } catch {
            // Its lease runs out; it is sent again.
            log("notification \(notification.id): cannot record the outcome (\(StoreErrorText.describe(error)))")
        }
        log(line(notification, outcome))
    }

    func subject(of notification: JobNotification) async throws -> NotificationSubject? {
        if let batch = notification.batchID {
            return try await store.batch(id: batch).map { .batch(batch, $0) }
        }
        guard let id = notification.jobID else { return nil }
        return try await store.job(id: id).map { .job(notification.ended($0)) }
    }

    func decide(_ attempt: NotificationAttempt, for notification: JobNotification) -> NotificationOutcome {
        switch attempt {
        case .delivered(let status):
            return .delivered(status: status)
        case .refused(let status):
            return .failed(status: status, reason: "the receiver answered HTTP \(status): not sent again")
        case .retry(let status, let reason):
            let pause = JobNotification.retryDelay(afterAttempt: notification.attempts)
            if notification.age + pause > JobNotification.retryWindow {
                return .failed(status: status, reason: "still failing after \(Int(JobNotification.retryWindow / 3600)) h: \(reason)")
            }
            return .retry(status: status, reason: reason, after: pause)
        }
    }

    func line(_ notification: JobNotification, _ outcome: NotificationOutcome) -> String {
        let about = notification.batchID.map { "batch \($0)" } ?? notification.jobID.map { "job \($0)" } ?? "?"
        let head = "notification \(notification.id) (\(notification.event), \(about)) to \(notification.url)"
        switch outcome {
        case .delivered(let status): return "\(head): delivered, HTTP \(status)"
        case .failed(_, let reason): return "\(head): failed for good after \(notification.attempts) attempt(s): \(reason)"
        case .retry(_, let reason, let after): return "\(head): attempt \(notification.attempts) failed (\(reason)); again in \(Int(after)) s"
        }
    }
}

/// Deliveries under way.
private final class Counter: Sendable {
    private let count = Atomic<Int>(0)
    func add(_ delta: Int) { count.add(delta, ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
}
