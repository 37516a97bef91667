import Foundation
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The parts of an HLS ladder a page shows before and while it plays (the poster, the storyboard),
/// and the folder's publication: all at once, never half, whatever is killed or replaced.
@Suite("HLS: poster, storyboard, and a folder published whole", .serialized)
struct HLSPublishTests {
    @Test("the poster skips a black opening and is the top rung's size; the storyboard's cues cover the video, each inside the grid",
          .timeLimit(.minutes(10)))
    func posterAndStoryboard() async throws {
        try await withTemporaryDirectory { directory in
            // Three seconds of black, then colour bars moving: what a poster must not be is the first frame.
            let input = directory.appendingPathComponent("opening.mp4")
            let made = try await runProcess(Locations.ffmpeg, [
                "-nostdin", "-v", "error",
                "-f", "lavfi", "-i", "color=black:size=640x360:rate=25:duration=3",
                "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=9",
                "-filter_complex", "[0:v][1:v]concat=n=2:v=1:a=0[v]", "-map", "[v]",
                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", input.path,
            ], timeout: .seconds(120))
            try #require(made.exitCode == 0, "\(made)")
            let output = directory.appendingPathComponent("out.hls")
            let result = try await vqueue(["transcode", input.path, output.path, "--ladder", "240p,360p", "--storyboard"])
            expectQuietSuccess(result)
            try #require(result.exitCode == 0, "\(result)")

            let poster = try await probeMedia(output.appendingPathComponent("poster.jpg"))
            let top = try await probeMedia(output.appendingPathComponent("360p/index.m3u8"))
            #expect(poster.videoStreams.first?.codecName == "mjpeg")
            #expect(poster.videoStreams.first?.width == top.videoStreams.first?.width
                    && poster.videoStreams.first?.height == top.videoStreams.first?.height, "the top rung's size")
            let brightness = try await lumaStatistics(output.appendingPathComponent("poster.jpg"))
            #expect(brightness.mean > 40 && brightness.deviation > 20, "the poster looks black or flat: \(brightness)")

            let grid = try await probeMedia(output.appendingPathComponent("storyboard.jpg"))
            let gridWidth = try #require(grid.videoStreams.first?.width), gridHeight = try #require(grid.videoStreams.first?.height)
            let cues = try StoryboardCue.parse(String(contentsOf: output.appendingPathComponent("storyboard.vtt"), encoding: .utf8))
            let duration = try #require(top.duration)
            try #require(!cues.isEmpty && cues.count <= 100, "\(cues.count) cues")
            #expect(cues.first!.start == 0, "the first cue starts at 0")
            #expect(abs(cues.last!.end - duration) <= 0.05, "the last cue ends at \(cues.last!.end), the video at \(duration)")
            for (earlier, later) in zip(cues, cues.dropFirst()) {
                #expect(abs(earlier.end - later.start) < 0.0005, "a gap or overlap between \(earlier) and \(later)")
            }
            for cue in cues {
                #expect(cue.image == "storyboard.jpg" && cue.width > 0 && cue.height > 0
                        && cue.x + cue.width <= gridWidth && cue.y + cue.height <= gridHeight,
                        "\(cue) is not inside the \(gridWidth)x\(gridHeight) grid")
            }
            #expect(Set(cues.map { "\($0.x),\($0.y)" }).count == cues.count, "every cue has its own thumbnail")
        }
    }

    @Test("a long video's storyboard holds at most 100 thumbnails, one every N whole seconds", .timeLimit(.minutes(10)))
    func longStoryboard() async throws {
        try await withTemporaryDirectory { directory in
            let input = try await makeLongSample(in: directory, seconds: 130, size: "160x90")
            let output = directory.appendingPathComponent("out.hls")
            let result = try await vqueue(["transcode", input.path, output.path, "--storyboard", "--no-poster", "--x264-preset", "ultrafast"])
            try #require(result.exitCode == 0, "\(result)")
            let cues = try StoryboardCue.parse(String(contentsOf: output.appendingPathComponent("storyboard.vtt"), encoding: .utf8))
            #expect(cues.count == 65, "130 s at one thumbnail every 2 s: \(cues.count)")
            #expect(cues.dropLast().allSatisfy { abs($0.end - $0.start - 2) < 0.0005 })
            #expect(!FileManager.default.fileExists(atPath: output.appendingPathComponent("poster.jpg").path), "--no-poster")
        }
    }

    @Test("--overwrite swaps the whole ladder at once: a reader listing it meanwhile always sees a complete ladder",
          .timeLimit(.minutes(10)))
    func overwriteWhileRead() async throws {
        try await withTemporaryDirectory { directory in
            let input = try await makeLongSample(in: directory, seconds: 12)
            let output = directory.appendingPathComponent("out.hls")
            let first = try await vqueue(["transcode", input.path, output.path, "--ladder", "240p"])
            try #require(first.exitCode == 0, "\(first)")
            let reader = LadderReader(output)
            let reading = Task.detached { reader.readUntilStopped() }
            let second = try await vqueue(["transcode", input.path, output.path, "--ladder", "240p,360p", "--overwrite"])
            reader.stop()
            let seen = await reading.value
            #expect(second.exitCode == 0, "\(second)")
            #expect(seen.incomplete.isEmpty, "a reader saw a half ladder: \(seen.incomplete.prefix(3))")
            #expect(seen.complete > 10, "the reader read the ladder \(seen.complete) times")
            #expect(seen.rungCounts == [1, 2] || seen.rungCounts == [2], "it saw the old, then the new: \(seen.rungCounts)")
            #expect(directoryListing(directory).filter { $0.hasPrefix(".") }.isEmpty, "a temporary folder is left")
            #expect(directoryListing(output.appendingPathComponent("360p")).contains("index.m3u8"))
        }
    }

    @Test("kill -9 of a worker mid-ladder: another worker makes the ladder, the job succeeds once, no temporary folder is left",
          .timeLimit(.minutes(15)))
    func killedWorker() async throws {
        try await withTemporaryDirectory { directory in
            let scene = try await QueueScene(in: directory, store: .sqlite)
            let input = try await makeLongSample(in: directory, seconds: 20)
            let output = scene.output("long.hls")
            let workerArguments = ["--lease", "2s", "--concurrency", "1"]
            let job = try await withProcessSlot {
                let first = try scene.queue.startWorker(workerArguments)
                defer { killIfRunning(first) }
                let id = try await scene.queue.submit(input, output, ["--ladder", "240p,360p"])
                let child = try await scene.runningChild(of: id, writing: output, attempt: 1)
                try await Task.sleep(for: .milliseconds(500))
                first.send(signal: SIGKILL)
                _ = await first.wait(timeout: .seconds(10))
                #expect(await eventually(within: .seconds(3)) { !ProcessTable.isAlive(child) }, "the child kept running")
                let second = try scene.queue.startWorker(workerArguments)
                defer { killIfRunning(second) }
                let job = try await scene.finished(id)
                let log = await stopWorker(second)
                expectCleanWorkerLog(log)
                return job
            }
            #expect(job.state == "succeeded" && job.attempts == 2, "\(job)")
            #expect(try await scene.queue.stateHistory(job.id) == ["queued", "running", "queued", "running", "succeeded"])
            #expect(directoryListing(scene.outputs) == ["long.hls"], "\(directoryListing(scene.outputs))")
            let seen = LadderReader(output).readOnce()
            #expect(seen == 2, "the published ladder is complete: \(String(describing: seen))")
            try await expectWebProfile(output.appendingPathComponent("360p/index.m3u8"), from: input, expectAudio: false)
        }
    }
}

/// One cue of a storyboard's WebVTT track.
struct StoryboardCue: CustomStringConvertible {
    let start: Double
    let end: Double
    let image: String
    let x: Int, y: Int, width: Int, height: Int

    var description: String { "\(start)-\(end) \(image)#xywh=\(x),\(y),\(width),\(height)" }

    static func parse(_ text: String) throws -> [StoryboardCue] {
        let lines = text.components(separatedBy: "\n")
        try #require(lines.first == "WEBVTT", "not WebVTT: \(lines.first ?? "")")
        var cues: [StoryboardCue] = []
        for (index, line) in lines.enumerated() where line.contains(" --> ") {
            let times = line.components(separatedBy: " --> ").map(seconds)
            let target = try #require(lines.dropFirst(index + 1).first, "a cue without a picture")
            let parts = target.components(separatedBy: "#xywh=")
            let numbers = parts.last?.split(separator: ",").compactMap { Int($0) } ?? []
            try #require(parts.count == 2 && numbers.count == 4 && times.count == 2, "a bad cue: \(line) / \(target)")
            cues.append(StoryboardCue(start: times[0], end: times[1], image: parts[0],
                                      x: numbers[0], y: numbers[1], width: numbers[2], height: numbers[3]))
        }
        return cues
    }

    /// `HH:MM:SS.mmm` in seconds.
    private static func seconds(_ text: String) -> Double {
        text.split(separator: ":").reduce(0) { $0 * 60 + (Double($1) ?? .nan) }
    }
}

/// Lists an HLS folder the way a player would fetch it: the master playlist, every rendition
/// playlist it names, every file those name. A read that finds something missing saw half a ladder.
final class LadderReader: @unchecked Sendable {
    struct Seen {
        var complete = 0
        var incomplete: [String] = []
        /// The rung counts seen, each once, in order.
        var rungCounts: [Int] = []
    }

    private let folder: URL
    private let stopped = Mutex(false)

    init(_ folder: URL) { self.folder = folder }

    func stop() { stopped.withLock { $0 = true } }

    func readUntilStopped() -> Seen {
        var seen = Seen()
        while !stopped.withLock({ $0 }) {
            switch read() {
            case .success(let rungs):
                seen.complete += 1
                if seen.rungCounts.last != rungs { seen.rungCounts.append(rungs) }
            case .failure(let problem):
                seen.incomplete.append(problem.text)
            }
        }
        return seen
    }

    /// The number of rungs of a complete ladder, or nil.
    func readOnce() -> Int? {
        if case .success(let rungs) = read() { return rungs }
        return nil
    }

    struct Problem: Error { let text: String }

    private func read() -> Result<Int, Problem> {
        guard let master = try? String(contentsOf: folder.appendingPathComponent("master.m3u8"), encoding: .utf8) else {
            return .failure(Problem(text: "no master.m3u8"))
        }
        var rungs = 0
        for playlist in master.components(separatedBy: "\n").filter({ $0.hasSuffix(".m3u8") && !$0.hasPrefix("#") })
            + master.components(separatedBy: "\"").filter({ $0.hasSuffix(".m3u8") }) {
            let url = folder.appendingPathComponent(playlist)
            guard let text = try? String(contentsOf: url, encoding: .utf8), text.contains("#EXT-X-ENDLIST") else {
                return .failure(Problem(text: "\(playlist) missing or unfinished"))
            }
            if !playlist.hasPrefix("audio/") { rungs += 1 }
            let names = text.components(separatedBy: "\n").filter { !$0.isEmpty && !$0.hasPrefix("#") }
                + text.components(separatedBy: "\"").filter { $0.hasSuffix(".mp4") }
            for name in names where !FileManager.default.fileExists(atPath: url.deletingLastPathComponent().appendingPathComponent(name).path) {
                return .failure(Problem(text: "\(playlist) names \(name), which is missing"))
            }
        }
        return rungs > 0 ? .success(rungs) : .failure(Problem(text: "master.m3u8 names no rung"))
    }
}

/// The brightness of a picture: mean and standard deviation of its luma (0-255), as ffmpeg decodes it.
func lumaStatistics(_ picture: URL) async throws -> (mean: Double, deviation: Double) {
    let result = try await runProcess(Locations.ffmpeg, ["-nostdin", "-v", "error", "-i", picture.path,
                                                         "-f", "rawvideo", "-pix_fmt", "gray", "-"], timeout: .seconds(60))
    try #require(result.exitCode == 0 && !result.stdout.isEmpty, "\(result)")
    let values = result.stdout.map(Double.init)
    let mean = values.reduce(0, +) / Double(values.count)
    let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)
    return (mean, variance.squareRoot())
}
