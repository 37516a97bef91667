import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `vqueue cancel ID; vqueue retry ID` while the job runs, as an impatient operator does: once it
/// published a file without a valid index, marked `succeeded`, because the retried attempt reused
/// the cancelled one's number (and so its temporary file and its lease). Issue 9.
@Suite("Trust: cancel, then retry, of a running job")
struct TrustCancelRetryTests {
    @Test("cancel then retry of a running job, three times quickly, two workers: OUT is complete and plays, the job succeeds once, attempt numbers never repeat, no .part is left",
          .timeLimit(.minutes(30)), arguments: TestQueue.Store.allCases)
    func cancelThenRetryRunningJob(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let scene = try await QueueScene(in: directory, store: store)
            let input = try await LongJob.sample(in: directory, seconds: 20)
            let output = scene.output("long.mp4")
            let rounds = 3

            let (id, numbers, temporaries, logs) = try await withProcessSlot {
                // Two workers: the retried job may be claimed by the other one while the cancelled
                // attempt's child is still being stopped by the first.
                let first = try scene.queue.startLoggedWorker(["--concurrency", "1"], logFile: directory.appendingPathComponent("w1.log"))
                defer { first.send(signal: SIGKILL) }
                let second = try scene.queue.startLoggedWorker(["--concurrency", "1"], logFile: directory.appendingPathComponent("w2.log"))
                defer { second.send(signal: SIGKILL) }
                let id = try await scene.queue.submit(input, output, LongJob.options)

                var numbers: [Int] = []
                var temporaries: [String] = []
                for round in 1...(rounds + 1) {
                    // The next attempt is running: a number above every earlier one.
                    var current = (state: "", attempt: 0)
                    let started = try await eventually(within: .seconds(300)) {
                        current = try await scene.queue.attemptNumber(id)
                        return current.state == "running" && current.attempt > (numbers.last ?? 0)
                    }
                    try #require(started, "round \(round): no new attempt of job \(id) started: \(current); w1: \(first.log) w2: \(second.log)")
                    numbers.append(current.attempt)

                    // Round 1: cancelled mid-encode (its child has written part of a file);
                    // round 2: as soon as its child exists; round 3: as soon as it is claimed.
                    // The last attempt runs to the end.
                    if round == 1 || round == 2 || round == rounds + 1 {
                        var child: (pid: pid_t, temporary: String)?
                        let caught = await eventually(within: .seconds(120)) {
                            child = ProcessTable.jobChildren(writing: output).first { !temporaries.contains($0.temporary) }
                            return child != nil
                        }
                        try #require(caught, "round \(round): no child of attempt \(current.attempt) appeared")
                        temporaries.append(child!.temporary)
                    }
                    if round == 1 { _ = try await scene.queue.jobCaughtRunning(id, timeout: .seconds(300)) }
                    if round > rounds { break }

                    let cancel = try await scene.queue.run("cancel", [String(id)])
                    #expect(cancel.exitCode == 0, "round \(round): \(cancel)")
                    let retry = try await scene.queue.run("retry", [String(id)])
                    #expect(retry.exitCode == 0, "round \(round): \(retry)")
                }

                let job = try await scene.finished(id, timeout: .seconds(900))
                #expect(job.state == "succeeded", "\(job); w1: \(first.log) w2: \(second.log)")
                #expect(first.isRunning && second.isRunning, "a worker died: w1: \(first.log) w2: \(second.log)")
                let stops = [await first.stop(), await second.stop()]
                #expect(stops == [.exited(0), .exited(0)], "SIGTERM: \(stops)")
                return (id, numbers, temporaries, first.log + second.log)
            }

            // Attempt numbers: each claim a new one, never one handed out before.
            #expect(numbers == numbers.sorted() && Set(numbers).count == numbers.count,
                    "attempt numbers must only grow: \(numbers)")
            #expect(Set(temporaries).count == temporaries.count,
                    "two attempts wrote the same temporary file: \(temporaries)")
            let final = try await scene.queue.attemptNumber(id)
            #expect(final.attempt == numbers.last, "an attempt was claimed that the test did not see: \(final), saw \(numbers)")

            // The job as a script sees it: succeeded, one attempt since the last retry.
            let (job, statusRun) = try await scene.queue.status(id)
            #expect(statusRun.exitCode == 0 && job.state == "succeeded", "\(statusRun)")
            #expect(job.attempts == 1, "a retry counts attempts afresh: \(job)")
            #expect(job.error == nil && job.errorCode == nil, "\(job)")

            // Its history: every cancelled attempt, then one that succeeded, exactly once.
            let expected = ["queued"] + Array(repeating: ["running", "cancelled", "queued"], count: rounds).flatMap { $0 }
                + ["running", "succeeded"]
            let history = try await scene.queue.events(["--job", String(id)]).map(\.to)
            #expect(history == expected, "events of job \(id): \(history); logs: \(logs)")
            #expect(try await scene.queue.successCount(id) == 1)

            // What is left on disk: OUT alone, complete.
            #expect(directoryListing(scene.outputs) == ["long.mp4"], "OUT and nothing else: \(directoryListing(scene.outputs))")
            #expect(temporaryFiles(in: scene.outputs).isEmpty)
            #expect(scene.noChildLeft(for: output), "a transcode of long.mp4 is still running")
            try await expectWebProfile(output, from: input)
        }
    }
}
