import Foundation
import Testing

/// `submit --wait` and `status --wait` as a person at a terminal sees them: the bar shows the
/// job's real frames per second and speed (it showed `0 fps 0.00x` throughout), a batch's bar
/// says how many of its jobs are done, and a job that no live worker serves is said to wait, once
/// (it waited silently). Issue 15.
@Suite("--wait: a real bar, and a word when no worker will come")
struct WaitProgressTests {
    /// Starts `arguments` with a terminal (util-linux `script`, which gives the command a pty);
    /// its stdout is what the terminal received.
    static func startOnTerminal(_ queue: TestQueue, _ arguments: [String], in directory: URL) throws -> RunningProcess {
        let line = ([Locations.vqueue.path] + queue.commandLine(arguments[0], Array(arguments.dropFirst())))
            .map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        return try RunningProcess(URL(fileURLWithPath: "/usr/bin/script"), ["-q", "-e", "-c", line, "/dev/null"],
                                  currentDirectory: directory, environment: queue.environment.merging(["TERM": "xterm"]) { $1 })
    }

    /// Runs `arguments` with a terminal to its end.
    static func onTerminal(_ queue: TestQueue, _ arguments: [String], in directory: URL) async throws -> ProcessResult {
        let process = try startOnTerminal(queue, arguments, in: directory)
        return await process.wait(timeout: .seconds(600))
    }

    /// Every drawing of the bar: (fps, speed, words after the ETA).
    static func bars(_ text: String) -> [(fps: Double, speed: Double, note: String)] {
        text.components(separatedBy: "\r").compactMap { drawing in
            guard let match = drawing.firstMatch(of: /\] +[0-9.]+%  +([0-9]+) fps  ([0-9.]+)x  ETA [0-9:-]+(.*)/) else { return nil }
            return (Double(match.1) ?? -1, Double(match.2) ?? -1, String(match.3).trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    @Test("submit --wait on a terminal: the bar shows the frames per second and speed the job runs at, not 0",
          .timeLimit(.minutes(30)), arguments: TestQueue.Store.allCases)
    func jobBarIsReal(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let queue = try await TestQueue.make(in: directory, store: store)
            let input = try await makeLongSample(in: directory, seconds: 12)
            let worker = try queue.startWorker(["--concurrency", "1"])
            let waited = try? await Self.onTerminal(queue, ["submit", "--wait", input.path, directory.appendingPathComponent("out.mp4").path,
                                                            "--x264-preset", "medium", "--threads", "1"], in: directory)
            let stopped = await stopWorker(worker)
            let result = try #require(waited)
            #expect(result.exitCode == 0, "\(result)")
            let bars = Self.bars(result.stdoutText)
            #expect(bars.contains { $0.fps > 0 }, "some drawing shows the job's fps: \(result.stdoutText.suffix(2000))")
            #expect(bars.contains { $0.speed > 0 }, "some drawing shows a speed: \(result.stdoutText.suffix(2000))")
            #expect(stopped.exitCode == 0, "\(stopped)")
        }
    }

    @Test("status --batch --wait on a terminal: the bar says how many of the batch's jobs are done, and shows their fps",
          .timeLimit(.minutes(30)))
    func batchBarCountsJobs() async throws {
        try await withTemporaryDirectory { directory in
            let queue = try await TestQueue.make(in: directory, store: .sqlite)
            var inputs: [URL] = []
            for n in 1...3 { inputs.append(try await makeLongSample(in: directory, named: "in\(n).mp4", seconds: 10)) }
            let outDir = directory.appendingPathComponent("out", isDirectory: true)
            try FileManager.default.createDirectory(at: outDir, withIntermediateDirectories: false)
            let (batch, _) = try await queue.submitBatchExpectingIDs(inputs, into: outDir)
            // The waiter first, and the worker only once its bar is up: on a loaded machine the
            // worker could otherwise finish the batch before the waiter starts.
            let waiter = try Self.startOnTerminal(queue, ["status", "--batch", String(batch), "--wait"], in: directory)
            _ = await eventually(within: .seconds(120)) {
                String(decoding: waiter.stdoutSoFar, as: UTF8.self).contains("0 of 3 done") || !waiter.isRunning
            }
            let worker = try queue.startWorker(["--concurrency", "1"])
            let result = await waiter.wait(timeout: .seconds(600))
            let stopped = await stopWorker(worker)
            #expect(result.exitCode == 0, "\(result)")
            let notes = Set(Self.bars(result.stdoutText).map(\.note))
            #expect(notes.contains("0 of 3 done") && notes.contains { $0 == "1 of 3 done" || $0 == "2 of 3 done" },
                    "the count climbs: \(notes)")
            #expect(Self.bars(result.stdoutText).contains { $0.fps > 0 }, "\(result.stdoutText.suffix(2000))")
            #expect(stopped.exitCode == 0, "\(stopped)")
        }
    }

    @Test("status --wait on a job no live worker serves says so once on stderr, and still waits; a worker on another queue does not count",
          .timeLimit(.minutes(30)), arguments: TestQueue.Store.allCases)
    func unservedJobIsSaid(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let queue = try await TestQueue.make(in: directory, store: store)
            let id = try await queue.submit(Locations.fixture(Fixture.small).path, directory.appendingPathComponent("out.mp4").path,
                                            ["--queue", "hd"])
            let elsewhere = try queue.startWorker(["--queue", "sd"])
            _ = try await queue.worker(pid: elsewhere.pid, timeout: .seconds(120))
            let waited = try? await queue.run("status", [String(id), "--wait", "--timeout", "12s"])
            let stopped = await stopWorker(elsewhere)
            let result = try #require(waited)
            #expect(result.exitCode == 3, "still queued when the timeout ran out: \(result)")
            #expect(result.stdoutLines.count == 1 && result.stdoutText.contains("queued"), "\(result)")
            #expect(result.stderrLines == ["vqueue: job \(id) waits: no live worker takes jobs from queue 'hd' (start one with `vqueue worker`)"],
                    "said once in 12 s: \(result)")
            #expect(stopped.exitCode == 0, "\(stopped)")

            // A worker for its queue: nothing is said, the job ends.
            let worker = try queue.startWorker(["--queue", "hd"])
            _ = try await queue.worker(pid: worker.pid, timeout: .seconds(120))
            let served = try? await queue.run("status", [String(id), "--wait", "--timeout", "5m"])
            let stoppedToo = await stopWorker(worker)
            let done = try #require(served)
            #expect(done.exitCode == 0 && done.stderr.isEmpty, "\(done)")
            #expect(stoppedToo.exitCode == 0, "\(stoppedToo)")
        }
    }
}
