import Foundation

/// The pause between two looks at something a test waits for: `first` at first, then a tenth of
/// the time waited so far, at most half a second. What the test sees comes at most a tenth of its
/// wait late, and the looking costs a small share of what it waits for: a look at a job is a
/// `vqueue status` process, tens of milliseconds of CPU, taken from the encoders being waited for.
struct PollPacing {
    private let started = ContinuousClock.now
    private let first: Duration

    init(first: Duration = .milliseconds(20)) {
        self.first = first
    }

    func pause() async throws {
        let waited = ContinuousClock.now - started
        try await Task.sleep(for: min(.milliseconds(500), max(first, waited / 10)))
    }
}
