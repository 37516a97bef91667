import JobQueue

/// Whether anything will run what `--wait` waits for: a queued job waits
/// forever when no live worker takes jobs from its queue, and a person
/// watching an idle bar should be told so (once).
enum WorkerAvailability {
    static func whyUnserved(_ job: Job, store: any JobStore) async throws -> String? {
        guard job.state == .queued else { return nil }
        guard try await !serves(queue: job.queue, store: store) else { return nil }
        return "job \(job.id) waits: no live worker takes jobs from queue '\(job.queue)' (start one with `vqueue worker`)"
    }

    static func whyUnserved(_ batch: BatchSummary, store: any JobStore) async throws -> String? {
        guard batch.counts[.queued, default: 0] > 0, batch.counts[.running, default: 0] == 0 else { return nil }
        guard try await !serves(queue: nil, store: store) else { return nil }
        return "batch \(batch.id) waits: no live worker is running (start one with `vqueue worker`)"
    }

    /// A live worker taking jobs from `queue` (any queue when nil).
    private static func serves(queue: String?, store: any JobStore) async throws -> Bool {
        let now = try await store.now()
        return try await store.workers().contains { worker in
            worker.state(at: now) == .alive && (queue == nil || worker.queues.isEmpty || worker.queues.contains(queue!))
        }
    }
}
