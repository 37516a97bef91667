import Foundation
import Testing

/// One unfinished job per OUT, checked in the submit's own transaction, and `submit --key` for an
/// upload handler that retries. Issue 9: two jobs for one OUT were both accepted and both
/// "succeeded", the second replacing the first.
@Suite("Trust: one unfinished job per OUT; submit --key")
struct TrustOneJobPerOutputTests {
    /// How many upload handlers submit in one burst.
    static let burst = 8

    /// A refusal because another job writes OUT: exit 1, nothing on stdout, one line naming that job.
    private func expectRefusedNaming(_ result: ProcessResult, job id: Int64, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.exitCode == 1, "\(result)", sourceLocation: sourceLocation)
        #expect(result.stdout.isEmpty, "stdout must stay empty on a refusal: \(result)", sourceLocation: sourceLocation)
        #expect(result.stderrLines.count == 1, "one line: \(result)", sourceLocation: sourceLocation)
        let line = result.stderrLines.first ?? ""
        #expect(line.hasPrefix("vqueue: error: ") && line.contains("job \(id) "),
                "the line must name job \(id): \(line)", sourceLocation: sourceLocation)
    }

    @Test("a second submit for OUT while a job writes it is refused naming that job (with --overwrite too, and OUT spelled another way); once that job ended, a new one is accepted",
          .timeLimit(.minutes(30)), arguments: TestQueue.Store.allCases)
    func secondSubmitRefused(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let scene = try await QueueScene(in: directory, store: store)
            let output = scene.output("a.mp4")
            let first = try await scene.queue.submit(Locations.fixture("one_frame.mp4"), output)

            let again = try await scene.queue.run("submit", [Locations.fixture(Fixture.small).path, output.path])
            expectRefusedNaming(again, job: first)
            let overwrite = try await scene.queue.run("submit", ["--overwrite", Locations.fixture(Fixture.small).path, output.path])
            expectRefusedNaming(overwrite, job: first)
            let relative = try await scene.queue.run("submit", [Locations.fixture(Fixture.small).path, "out/./a.mp4"], in: directory)
            expectRefusedNaming(relative, job: first)
            #expect(try await scene.queue.list().map(\.id) == [first], "the refusals queued nothing")

            // Cancelled: OUT is free again.
            let cancel = try await scene.queue.run("cancel", [String(first)])
            try #require(cancel.exitCode == 0, "\(cancel)")
            let second = try await scene.queue.submit(Locations.fixture("one_frame.mp4"), output)
            #expect(second != first)
            let busy = try await scene.queue.run("submit", [Locations.fixture(Fixture.small).path, output.path])
            expectRefusedNaming(busy, job: second)

            // Succeeded: OUT is free again (it exists now, so it takes --overwrite).
            let drained = try await scene.queue.run("worker", ["--drain"], timeout: .seconds(300))
            try #require(drained.exitCode == 0, "\(drained)")
            #expect(try await scene.queue.job(second).state == "succeeded")
            let third = try await scene.queue.submit(Locations.fixture(Fixture.small).path, output.path, ["--overwrite"])
            #expect(Set(try await scene.queue.list().map(\.id)) == [first, second, third])
        }
    }

    @Test("submits for one OUT started at the same instant from many processes: exactly one gets in, every other is refused naming it",
          .timeLimit(.minutes(30)), arguments: TestQueue.Store.allCases)
    func racingSubmitsOneWins(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let scene = try await QueueScene(in: directory, store: store)
            _ = try await scene.queue.run("list")  // the queue exists already, as on a site that runs
            var queued: [Int64] = []
            for round in 1...3 {
                let output = scene.output("race\(round).mp4")
                let command = [Locations.vqueue.path] + scene.queue.commandLine("submit", [Locations.fixture("one_frame.mp4").path, output.path])
                let results = try await SimultaneousStart.run(Array(repeating: command, count: Self.burst),
                                                              lockFile: directory.appendingPathComponent("start.lock"),
                                                              environment: scene.queue.environment)
                let winners = results.filter { $0.exitCode == 0 }
                try #require(winners.count == 1, "round \(round): \(winners.count) of \(Self.burst) got in: \(results)")
                let winner = try #require(TestQueue.jobID(winners[0]), "\(winners[0])")
                for loser in results where loser.exitCode != 0 {
                    expectRefusedNaming(loser, job: winner)
                }
                queued.append(winner)
            }
            let jobs = try await scene.queue.list()
            #expect(Set(jobs.map(\.id)) == Set(queued), "one job per OUT: \(jobs.map { ($0.id, $0.output ?? "") })")
        }
    }

    @Test("submit --key: the same key prints the same id with exit 0, also after the job finished and for another OUT; one job in list",
          .timeLimit(.minutes(30)), arguments: TestQueue.Store.allCases)
    func keyReturnsTheSameJob(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let scene = try await QueueScene(in: directory, store: store)
            let input = Locations.fixture("one_frame.mp4")
            let output = scene.output("k.mp4")
            let id = try await scene.queue.submit(input, output, ["--key", "upload-42"])
            #expect(try await scene.queue.job(id).key == "upload-42")

            let again = try await scene.queue.run("submit", ["--key", "upload-42", input.path, output.path])
            #expect(again.exitCode == 0 && TestQueue.jobID(again) == id && again.stderr.isEmpty, "\(again)")

            let drained = try await scene.queue.run("worker", ["--drain"], timeout: .seconds(300))
            try #require(drained.exitCode == 0, "\(drained)")
            #expect(try await scene.queue.job(id).state == "succeeded")

            // After the job finished (OUT exists now) the key still means that job.
            let afterwards = try await scene.queue.run("submit", ["--key", "upload-42", input.path, output.path])
            #expect(afterwards.exitCode == 0 && TestQueue.jobID(afterwards) == id && afterwards.stderr.isEmpty, "\(afterwards)")
            let elsewhere = try await scene.queue.run("submit", ["--key", "upload-42", input.path, scene.output("other.mp4").path])
            #expect(elsewhere.exitCode == 0 && TestQueue.jobID(elsewhere) == id, "\(elsewhere)")
            #expect(try await scene.queue.list().map(\.id) == [id], "the key queued nothing new")
            #expect(!FileManager.default.fileExists(atPath: scene.output("other.mp4").path))
        }
    }

    @Test("submit --key from many processes at the same instant: every one exits 0 printing the same id; one job queued",
          .timeLimit(.minutes(30)), arguments: TestQueue.Store.allCases)
    func racingKeysOneJob(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let scene = try await QueueScene(in: directory, store: store)
            _ = try await scene.queue.run("list")
            for round in 1...3 {
                let output = scene.output("keyed\(round).mp4")
                let command = [Locations.vqueue.path] + scene.queue.commandLine(
                    "submit", ["--key", "upload-\(round)", Locations.fixture("one_frame.mp4").path, output.path])
                let results = try await SimultaneousStart.run(Array(repeating: command, count: Self.burst),
                                                              lockFile: directory.appendingPathComponent("start.lock"),
                                                              environment: scene.queue.environment)
                let failed = results.filter { $0.exitCode != 0 || !$0.stderr.isEmpty }
                #expect(failed.isEmpty, "round \(round): every retried submit must succeed quietly: \(failed)")
                let ids = Set(results.map { TestQueue.jobID($0) })
                #expect(ids.count == 1 && !ids.contains(nil), "round \(round): one id for one key, got \(ids): \(results)")
            }
            let jobs = try await scene.queue.list()
            #expect(jobs.count == 3 && Set(jobs.compactMap(\.key)) == ["upload-1", "upload-2", "upload-3"],
                    "one job per key: \(jobs.map { ($0.id, $0.key ?? "-") })")
        }
    }
}
