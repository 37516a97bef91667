import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A fixture and the single file it is made into, with `--poster --storyboard` (and `--max-height
/// 360`, so the poster's size says it is the output's, not the source's).
struct CompanionCase: Sendable, CustomTestStringConvertible {
    let fixture: String
    let container: String
    var testDescription: String { "\(fixture) -> out.\(container)" }

    static let all = [
        CompanionCase(fixture: Fixture.plain, container: "mp4"),
        CompanionCase(fixture: "old_camera.avi", container: "flv"),
    ]
    static let options = ["--poster", "--storyboard", "--max-height", "360"]
}

/// Issue 13: `--poster` and `--storyboard` for a single file write `out.poster.jpg`,
/// `out.storyboard.jpg` and `out.storyboard.vtt` beside `out.mp4`, published with it or not at all.
@Suite("A single file's poster and storyboard: beside OUT, published with it, or not at all", .serialized)
struct SingleFileCompanionsTests {
    @Test("transcode --poster --storyboard: beside OUT, a JPEG poster at the output's size that is not black, and a storyboard whose cues cover the output without a gap, each inside the grid",
          .timeLimit(.minutes(30)), arguments: CompanionCase.all)
    func transcodeWritesCompanions(_ testCase: CompanionCase) async throws {
        try await withTemporaryDirectory { directory in
            let output = directory.appendingPathComponent("out.\(testCase.container)")
            let result = try await vqueue(["transcode", Locations.fixture(testCase.fixture).path, output.path] + CompanionCase.options)
            expectQuietSuccess(result)
            try #require(result.exitCode == 0, "\(result)")
            #expect(directoryListing(directory) == companionListing("out", testCase.container), "\(directoryListing(directory))")
            try await expectCompanions(of: output)
        }
    }

    @Test("submit --poster --storyboard and a worker: the companions are published with OUT, and status --json lists OUT and each of them with its size on disk",
          .timeLimit(.minutes(30)), arguments: CompanionCase.all)
    func workerPublishesCompanions(_ testCase: CompanionCase) async throws {
        try await withTemporaryDirectory { directory in
            let scene = try await QueueScene(in: directory, store: .sqlite)
            let output = scene.output("out.\(testCase.container)")
            let id = try await scene.queue.submit(Locations.fixture(testCase.fixture), output, CompanionCase.options)
            let worker = try await withProcessSlot {
                try await scene.queue.startWorker(["--drain"]).wait(timeout: .seconds(300))
            }
            #expect(worker.exitCode == 0, "\(worker)")
            expectCleanWorkerLog(worker)

            let run = try await scene.queue.run("status", [String(id), "--json"])
            let status = try JSONDecoder.snakeCase.decode(CompanionJob.self, from: run.stdout)
            #expect(status.state == "succeeded" && status.attempts == 1, "\(run)")
            #expect(directoryListing(scene.outputs) == companionListing("out", testCase.container), "\(directoryListing(scene.outputs))")
            let files = try #require(status.result?.files, "a succeeded job has a result: \(run)")
            #expect(files.map(\.path) == [output.path] + companionNames("out").map { scene.output($0).path },
                    "OUT first, then its companions: \(files.map(\.path))")
            let listed = Dictionary(files.map { ($0.path, $0.size) }, uniquingKeysWith: { first, _ in first })
            #expect(listed == filesUnder(scene.outputs), "result.files \(listed) against the folder \(filesUnder(scene.outputs))")
            try await expectCompanions(of: output)
        }
    }

    @Test("an existing companion without --overwrite is refused by transcode and by submit, as an existing OUT is, and left byte for byte; --overwrite replaces it",
          .timeLimit(.minutes(30)), arguments: ["out.poster.jpg", "out.storyboard.vtt"])
    func existingCompanionIsRefused(_ name: String) async throws {
        try await withTemporaryDirectory { directory in
            let outputs = directory.appendingPathComponent("out", isDirectory: true)
            try FileManager.default.createDirectory(at: outputs, withIntermediateDirectories: false)
            let existing = outputs.appendingPathComponent(name)
            let precious = Data("yesterday's picture\n".utf8)
            try precious.write(to: existing)
            let input = Locations.fixture(Fixture.small).path
            let output = outputs.appendingPathComponent("out.mp4").path
            let queue = TestQueue(in: directory)

            let transcode = try await vqueue(["transcode", input, output, "--poster", "--storyboard"], timeout: .seconds(60))
            let submit = try await queue.run("submit", ["--poster", "--storyboard", input, output])
            for result in [transcode, submit] {
                expectOneLineError(result, naming: name)
                #expect(result.stderrText.contains("--overwrite"), "the fix is named: \(result)")
            }
            #expect(try Data(contentsOf: existing) == precious, "the existing companion was changed")
            #expect(directoryListing(outputs) == [name], "written: \(directoryListing(outputs))")
            #expect(try await queue.run("list", ["--json"]).stdoutText.trimmingCharacters(in: .whitespacesAndNewlines) == "[]",
                    "a refused submit queues nothing")

            let replaced = try await vqueue(["transcode", input, output, "--poster", "--storyboard", "--overwrite"])
            expectQuietSuccess(replaced)
            #expect((try? Data(contentsOf: existing)) != precious, "--overwrite did not replace \(name)")
            #expect(directoryListing(outputs) == companionListing("out", "mp4"), "\(directoryListing(outputs))")
        }
    }

    @Test("a companion's name taken while the job runs: the job fails for good with output_exists, nothing is published, the file is left byte for byte, no temporary file is left",
          .timeLimit(.minutes(30)))
    func companionAppearedWhileRunning() async throws {
        try await withLongJob(seconds: 8, writing: "clip.mp4") { scene, input, output in
            let appeared = scene.output("clip.storyboard.vtt")
            let precious = Data("WEBVTT\n\nsomeone else's track\n".utf8)

            let (job, log) = try await scene.job(input, output, LongJob.options + ["--poster", "--storyboard"]) { _ in
                try precious.write(to: appeared, options: .withoutOverwriting)
            }
            #expect(log.exitCode == 0, "\(log)")
            #expect(job.state == "failed" && job.errorCode == "output_exists" && job.attempts == 1, "\(job)")
            #expect(job.error?.contains(appeared.path) == true, "the error names the companion: \(job)")
            #expect(try Data(contentsOf: appeared) == precious, "the file that appeared was changed")
            #expect(directoryListing(scene.outputs) == ["clip.storyboard.vtt"], "published or left: \(directoryListing(scene.outputs))")
            #expect(scene.noChildLeft(for: output))
        }
    }

    @Test("a cancelled job with --poster --storyboard leaves neither OUT, nor a companion, nor a temporary file or folder",
          .timeLimit(.minutes(30)))
    func cancelledJobLeavesNothing() async throws {
        try await withLongJob(seconds: 12, writing: "long.mp4") { scene, input, output in
            var during: [String] = []
            let (job, log) = try await scene.job(input, output, LongJob.options + ["--poster", "--storyboard"]) { id in
                during = directoryListing(scene.outputs)
                let cancel = try await scene.queue.run("cancel", [String(id)])
                #expect(cancel.exitCode == 0, "\(cancel)")
            }
            expectCleanWorkerLog(log)
            // While it ran: the hidden temporary file and the hidden folder of the companions.
            #expect(during.count == 2 && during.allSatisfy { $0.hasPrefix(".long.mp4.job\(job.id)-1.") && $0.hasSuffix(".part") },
                    "while running: \(during)")
            #expect(job.state == "cancelled", "\(job)")
            #expect(directoryListing(scene.outputs).isEmpty, "left behind: \(directoryListing(scene.outputs))")
        }
    }

    @Test("kill -9 of a worker mid-job: the next attempt removes the dead one's temporary file and folder, the job succeeds once with every companion, whose cues cover the whole video",
          .timeLimit(.minutes(30)))
    func killedWorkerThenRetry() async throws {
        try await withLongJob(seconds: 20, writing: "long.mp4") { scene, input, output in
            let (job, log) = try await scene.jobAfterKilledWorker(input, output, ["--poster", "--storyboard"] + LongJob.options)
            expectCleanWorkerLog(log)
            #expect(job.state == "succeeded" && job.attempts == 2, "\(job)")
            #expect(try await scene.queue.successCount(job.id) == 1)
            #expect(directoryListing(scene.outputs) == companionListing("long", "mp4"), "\(directoryListing(scene.outputs))")
            let cues = try await expectCompanions(of: output)
            #expect(cues == 20, "20 s at one thumbnail a second: \(cues) cues")
        }
    }

    @Test("a transcode that fails, or is interrupted, leaves neither OUT, nor a companion, nor a temporary file or folder",
          .timeLimit(.minutes(30)), arguments: [false, true])
    func failureLeavesNothing(interrupted: Bool) async throws {
        try await withTemporaryDirectory { directory in
            let outputs = directory.appendingPathComponent("out", isDirectory: true)
            try FileManager.default.createDirectory(at: outputs, withIntermediateDirectories: false)
            let output = outputs.appendingPathComponent("out.mp4")
            let options = ["--poster", "--storyboard"]
            if !interrupted {
                let result = try await vqueue(["transcode", Locations.fixture("truncated_30pct.mp4").path, output.path] + options,
                                              timeout: .seconds(120))
                expectOneLineError(result, naming: "truncated_30pct.mp4")
            } else {
                let input = try await makeLongSample(in: directory, seconds: 10)
                try await withProcessSlot {
                    let process = try startVqueue(["transcode", input.path, output.path, "--x264-preset", "veryslow"] + options)
                    let started = await eventually(within: .seconds(60)) {
                        !process.isRunning || directoryListing(outputs).count == 2
                    }
                    #expect(started && process.isRunning, "the temporary file and folder never both appeared: \(directoryListing(outputs))")
                    process.send(signal: SIGTERM)
                    let result = await process.wait(timeout: .seconds(60))
                    #expect(result.termination == .exited(128 + SIGTERM), "\(result)")
                }
            }
            #expect(directoryListing(outputs).isEmpty, "left behind: \(directoryListing(outputs))")
        }
    }
}

/// A queue of the test's own in a temporary folder, a long sample (`LongJob`) of `seconds`, and the
/// output `name` a job of it writes.
private func withLongJob(seconds: Int, writing name: String,
                         _ body: (QueueScene, URL, URL) async throws -> Void) async throws {
    try await withTemporaryDirectory { directory in
        let scene = try await QueueScene(in: directory, store: .sqlite)
        try await body(scene, try await LongJob.sample(in: directory, seconds: seconds), scene.output(name))
    }
}

/// The fields of a job's `status --json` this suite reads.
private struct CompanionJob: Decodable {
    struct Result: Decodable {
        struct File: Decodable {
            let path: String
            let size: Int64
        }
        let files: [File]
    }
    let state: String
    let attempts: Int
    let result: Result?
}

/// `stem.poster.jpg`, `stem.storyboard.jpg`, `stem.storyboard.vtt`, in the order the result lists them.
private func companionNames(_ stem: String) -> [String] {
    ["\(stem).poster.jpg", "\(stem).storyboard.jpg", "\(stem).storyboard.vtt"]
}

/// What the output folder holds once `stem.container` is published with its companions.
private func companionListing(_ stem: String, _ container: String) -> [String] {
    (["\(stem).\(container)"] + companionNames(stem)).sorted()
}

/// The companions beside `output` are what a page needs: the poster a JPEG at the output's picture
/// size, not black or flat; the storyboard a grid and a WebVTT track whose cues cover the output,
/// pointing at the grid by its name beside OUT. Returns the number of cues.
@discardableResult
private func expectCompanions(of output: URL, sourceLocation: SourceLocation = #_sourceLocation) async throws -> Int {
    let stem = output.deletingPathExtension().lastPathComponent
    let folder = output.deletingLastPathComponent()
    let video = try await probeMedia(output)
    try await expectPoster(folder.appendingPathComponent("\(stem).poster.jpg"), sizedAs: video, sourceLocation: sourceLocation)
    let track = try String(contentsOf: folder.appendingPathComponent("\(stem).storyboard.vtt"), encoding: .utf8)
    let cues = try StoryboardCue.parse(track)
    try await expectStoryboard(cues, grid: folder.appendingPathComponent("\(stem).storyboard.jpg"), named: "\(stem).storyboard.jpg",
                               lasting: try #require(video.duration, sourceLocation: sourceLocation), sourceLocation: sourceLocation)
    return cues.count
}
