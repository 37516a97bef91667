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
          .timeLimit(.minutes(30)))
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

            let top = try await probeMedia(output.appendingPathComponent("360p/index.m3u8"))
            try await expectPoster(output.appendingPathComponent("poster.jpg"), sizedAs: top)

            let cues = try StoryboardCue.parse(String(contentsOf: output.appendingPathComponent("storyboard.vtt"), encoding: .utf8))
            try await expectStoryboard(cues, grid: output.appendingPathComponent("storyboard.jpg"), named: "storyboard.jpg",
                                       lasting: try #require(top.duration))
        }
    }

    @Test("a long video's storyboard holds at most 100 thumbnails, one every N whole seconds", .timeLimit(.minutes(30)))
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
          .timeLimit(.minutes(30)))
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
          .timeLimit(.minutes(30)))
    func killedWorker() async throws {
        try await withTemporaryDirectory { directory in
            let scene = try await QueueScene(in: directory, store: .sqlite)
            let input = try await makeLongSample(in: directory, seconds: 20)
            let output = scene.output("long.hls")
            let (job, log) = try await scene.jobAfterKilledWorker(input, output, ["--ladder", "240p,360p"])
            expectCleanWorkerLog(log)
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

/// A storyboard's cues are what a player needs to show previews while scrubbing: they start at 0,
/// follow one another without a gap or an overlap and end with the video (`duration`, within 50
/// ms); each points at a thumbnail of its own, by the grid's name, inside the grid.
func expectStoryboard(_ cues: [StoryboardCue], grid: URL, named name: String, lasting duration: Double,
                      sourceLocation: SourceLocation = #_sourceLocation) async throws {
    let image = try await probeMedia(grid)
    #expect(image.videoStreams.first?.codecName == "mjpeg", "the grid is not a JPEG", sourceLocation: sourceLocation)
    let width = try #require(image.videoStreams.first?.width, sourceLocation: sourceLocation)
    let height = try #require(image.videoStreams.first?.height, sourceLocation: sourceLocation)
    try #require(!cues.isEmpty && cues.count <= 100, "\(cues.count) cues", sourceLocation: sourceLocation)
    #expect(cues.first!.start == 0, "the first cue starts at \(cues.first!.start)", sourceLocation: sourceLocation)
    #expect(abs(cues.last!.end - duration) <= 0.05, "the last cue ends at \(cues.last!.end), the video at \(duration)",
            sourceLocation: sourceLocation)
    for (earlier, later) in zip(cues, cues.dropFirst()) {
        #expect(abs(earlier.end - later.start) < 0.0005, "a gap or overlap between \(earlier) and \(later)",
                sourceLocation: sourceLocation)
    }
    for cue in cues {
        #expect(cue.image == name && cue.width > 0 && cue.height > 0 && cue.x + cue.width <= width && cue.y + cue.height <= height,
                "\(cue) is not inside the \(width)x\(height) grid \(name)", sourceLocation: sourceLocation)
    }
    #expect(Set(cues.map { "\($0.x),\($0.y)" }).count == cues.count, "every cue has its own thumbnail", sourceLocation: sourceLocation)
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

/// A poster is a JPEG at the size of `video`'s pictures, and not black or flat.
func expectPoster(_ poster: URL, sizedAs video: MediaInfo, sourceLocation: SourceLocation = #_sourceLocation) async throws {
    let picture = try await probeMedia(poster).videoStreams.first
    #expect(picture?.codecName == "mjpeg", "the poster is not a JPEG", sourceLocation: sourceLocation)
    let size = "\(picture?.width ?? 0)x\(picture?.height ?? 0)"
    let expected = "\(video.videoStreams.first?.width ?? -1)x\(video.videoStreams.first?.height ?? -1)"
    #expect(size == expected, "the poster is \(size), the video \(expected)", sourceLocation: sourceLocation)
    let brightness = try await lumaStatistics(poster)
    #expect(brightness.mean > 40 && brightness.deviation > 20, "the poster looks black or flat: \(brightness)",
            sourceLocation: sourceLocation)
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
