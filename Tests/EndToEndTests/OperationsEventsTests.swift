import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// One test case at a time, so that --follow's latency is not measured while the other cases drain
/// their workers.
@Suite("events: every transition, in order, resumable, followed live", .serialized)
struct OperationsEventsTests {
    /// Two jobs (one succeeds, one fails) run by one `worker --drain`.
    private func drainedQueue(in directory: URL, store: TestQueue.Store) async throws -> (TestQueue, ok: Int64, failed: Int64) {
        let queue = try await TestQueue.make(in: directory, store: store)
        let ok = try await queue.submit(Locations.fixture("one_frame.mp4"), directory.appendingPathComponent("ok.mp4"))
        let failed = try await queue.submit(Locations.fixture("truncated_30pct.mp4"), directory.appendingPathComponent("bad.mp4"))
        let worker = try await vqueue(queue.commandLine("worker", ["--drain", "--concurrency", "1"]))
        try #require(worker.exitCode == 0, "\(worker)")
        return (queue, ok, failed)
    }

    @Test("each job goes submitted -> running -> finished, ids increase, workers come online and stop",
          .timeLimit(.minutes(30)), arguments: TestQueue.Store.allCases)
    func inOrder(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let (queue, ok, failed) = try await drainedQueue(in: directory, store: store)
            let events = try await queue.events()

            #expect(zip(events, events.dropFirst()).allSatisfy { $0.id < $1.id }, "ids must increase: \(events.map(\.id))")
            #expect(events.allSatisfy { QueueTime.isWellFormed($0.at) }, "times: \(events.map(\.at))")
            #expect(events.allSatisfy { ["job", "worker"].contains($0.kind) }, "\(events)")

            let okTrail = events.filter { $0.job == ok }
            #expect(okTrail.map(\.from) == [nil, "queued", "running"], "\(okTrail)")
            #expect(okTrail.map(\.to) == ["queued", "running", "succeeded"], "\(okTrail)")
            #expect(okTrail.allSatisfy { $0.kind == "job" })
            let failedTrail = events.filter { $0.job == failed }
            #expect(failedTrail.map(\.to) == ["queued", "running", "failed"], "\(failedTrail)")
            #expect(failedTrail.last?.detail?.isEmpty == false, "the failure event carries the error: \(failedTrail)")
            #expect(okTrail.dropFirst().allSatisfy { $0.worker != nil }, "running/finished events name the worker")

            let workerEvents = events.filter { $0.kind == "worker" }
            let worker = try #require(workerEvents.first?.worker, "no worker event: \(events)")
            #expect(workerEvents.filter { $0.worker == worker }.map(\.to).first == "online", "\(workerEvents)")
            #expect(workerEvents.filter { $0.worker == worker }.map(\.to).last == "stopped", "\(workerEvents)")
            #expect(workerEvents.allSatisfy { $0.job == nil }, "\(workerEvents)")
            let online = try #require(events.firstIndex { $0.kind == "worker" && $0.to == "online" })
            let firstRun = try #require(events.firstIndex { $0.to == "running" })
            #expect(online < firstRun, "the worker comes online before it runs anything: \(events)")

            // The plain form: one line per event, no control characters.
            let plain = try await queue.run("events")
            #expect(plain.exitCode == 0 && plain.stderr.isEmpty, "\(plain)")
            #expect(plain.stdoutLines.count == events.count, "\(plain)")
            expectNoControlCharacters(plain.stdout)
            for (line, event) in zip(plain.stdoutLines, events) {
                #expect(line.hasPrefix("#\(event.id) "), "line for event \(event.id): \(line)")
            }

            // --job: only that job's events.
            #expect(try await queue.events(["--job", String(ok)]) == okTrail)
        }
    }

    @Test("--since N prints exactly the events after N", .timeLimit(.minutes(30)), arguments: TestQueue.Store.allCases)
    func resumable(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let (queue, _, _) = try await drainedQueue(in: directory, store: store)
            let events = try await queue.events()
            try #require(events.count >= 8, "\(events)")
            for cut in [0, 1, events.count / 2, events.count - 1, events.count] {
                let since = cut == 0 ? Int64(0) : events[cut - 1].id
                let tail = try await queue.events(["--since", String(since)])
                #expect(tail == Array(events[cut...]), "--since \(since)")
            }
            // Resuming while new events arrive: what was not seen yet, and nothing twice.
            let last = events.last!.id
            let more = try await queue.submit(Locations.fixture("one_frame.mp4"), directory.appendingPathComponent("more.mp4"))
            let fresh = try await queue.events(["--since", String(last)])
            #expect(fresh.count == 1 && fresh.first?.job == more && fresh.first?.to == "queued", "\(fresh)")
        }
    }

    @Test("--follow prints a new event within about a second and stops promptly on SIGINT",
          .timeLimit(.minutes(30)), arguments: TestQueue.Store.allCases)
    func follow(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let queue = try await TestQueue.make(in: directory, store: store)
            let first = try await queue.submit(Locations.fixture("one_frame.mp4"), directory.appendingPathComponent("a.mp4"))
            let follower = try startVqueue(queue.commandLine("events", ["--follow", "--json"]))
            defer { follower.send(signal: SIGKILL) }

            func seen() -> [FarmEvent] {
                let text = String(decoding: follower.stdoutSoFar, as: UTF8.self)
                // Only complete lines: the last one may still be on its way.
                let complete = text.hasSuffix("\n") ? text : String(text[..<(text.lastIndex(of: "\n") ?? text.startIndex)])
                return (try? FarmEvent.decodeLines(complete)) ?? []
            }

            let backlog = await eventually(within: .seconds(10)) { seen().contains { $0.job == first } }
            #expect(backlog, "--follow first prints what is already there: \(seen())")
            #expect(follower.isRunning, "--follow must keep running")

            // Timed from submit's return (its event is committed by then), not from its start: on a
            // busy box a vqueue process takes a while to start, which is no delay of --follow's.
            let submitStarted = ContinuousClock.now
            let second = try await queue.submit(Locations.fixture("one_frame.mp4"), directory.appendingPathComponent("b.mp4"))
            let submittedAt = ContinuousClock.now
            let arrived = await eventually(within: .seconds(5)) { seen().contains { $0.job == second } }
            let delay = ContinuousClock.now - submittedAt
            #expect(arrived, "the new job's event never came: \(seen())")
            #expect(delay < .seconds(2), "the new event took \(delay) after submit returned (submit took \(submittedAt - submitStarted))")
            #expect(follower.isRunning)

            let signalledAt = ContinuousClock.now
            follower.send(signal: SIGINT)
            let result = await follower.wait(timeout: .seconds(10))
            let reaction = ContinuousClock.now - signalledAt
            #expect(!result.timedOut && reaction < .seconds(2), "took \(reaction) to stop: \(result)")
            #expect(result.termination == .exited(0) || result.termination == .signaled(SIGINT)
                    || result.termination == .exited(130), "\(result)")
            let all = try FarmEvent.decodeLines(result.stdoutText)
            #expect(all.map(\.job) == [first, second], "each event once, in order: \(result)")
            expectNoControlCharacters(result.stdout)
        }
    }
}
