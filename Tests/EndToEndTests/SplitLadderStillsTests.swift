import Foundation
import Testing

/// `vqueue submit --split` to an HLS ladder (every chunk encodes every rung) and with the still
/// pictures a page needs (a poster, a storyboard: each chunk keeps its share), judged against the
/// unsplit transcode of the same source: the same segments, pictures and times in every rung, and
/// the same poster and storyboard, byte for byte.
@Suite("Split transcodes: HLS ladders, posters and storyboards")
struct SplitLadderStillsTests {
    /// 12 s with sound, B-frames, a keyframe every 2 s: 3 s chunks cut between keyframes (3 s, 9 s)
    /// and on one (6 s); 4 s segments fall across the cuts.
    static func source(in directory: URL) async throws -> URL {
        try await SplitJobTests.source(in: directory, "source.mp4", [
            "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=12",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=12",
            "-c:v", "libx264", "-preset", "veryfast", "-bf", "3", "-x264-params", "keyint=50:min-keyint=50:scenecut=0",
            "-c:a", "aac", "-shortest",
        ])
    }

    @Test("""
        to an HLS ladder: every rung cut into the unsplit ladder's segments, with its pictures at its times, decoding \
        cleanly; the same master playlist's variants; the poster and storyboard the unsplit ladder's, byte for byte
        """,
          .timeLimit(.minutes(30)), arguments: ["fmp4", "ts"])
    func ladderEqualsTheUnsplitLadder(_ segmentType: String) async throws {
        try await withTemporaryDirectory { directory in
            let source = try await Self.source(in: directory)
            let options = ["--ladder", "240p,360p", "--storyboard", "--hls-segment-type", segmentType]
            let run = try await Self.splitAndWhole(source, in: directory, output: "hls", options: options)
            #expect(try await run.queue.stateHistory(run.splitID) == ["waiting", "queued", "running", "succeeded"])
            #expect(try await run.queue.query("SELECT count(*) FROM jobs WHERE parent_id = \(run.splitID)") == ["5"],
                    "four chunks, each with both rungs, and the audio")

            for rendition in ["240p", "360p", "audio"] {
                let split = run.split.appendingPathComponent(rendition).appendingPathComponent("index.m3u8")
                let whole = run.whole.appendingPathComponent(rendition).appendingPathComponent("index.m3u8")
                let (splitList, wholeList) = (try HLSMediaPlaylist(reading: split), try HLSMediaPlaylist(reading: whole))
                #expect(splitList.isComplete && splitList.segments.count == wholeList.segments.count
                        && zip(splitList.segments, wholeList.segments).allSatisfy { abs($0.duration - $1.duration) < 0.0015 },
                        "\(rendition): segments \(splitList.segments.map(\.duration)), unsplit \(wholeList.segments.map(\.duration))")
                let complaints = try await decodeComplaints(split)
                #expect(complaints.isEmpty, "\(rendition): \(complaints)")
                guard rendition != "audio" else { continue }
                let (splitTimes, wholeTimes) = (try await videoPacketTimes(split).sorted(), try await videoPacketTimes(whole).sorted())
                #expect(splitTimes.count == 300 && wholeTimes.count == 300, "\(rendition): \(splitTimes.count) pictures, unsplit \(wholeTimes.count)")
                let moved = zip(splitTimes, wholeTimes).filter { abs($0 - $1) > 0.0005 }
                #expect(moved.isEmpty, "\(rendition): pictures at other times (split, unsplit): \(moved.prefix(5))")
            }
            let (splitMaster, wholeMaster) = (try HLSMasterPlaylist(reading: run.split.appendingPathComponent("master.m3u8")),
                                              try HLSMasterPlaylist(reading: run.whole.appendingPathComponent("master.m3u8")))
            let described = { (master: HLSMasterPlaylist) in
                master.variants.map { [$0.uri, $0.attributes["RESOLUTION"] ?? "", $0.attributes["CODECS"] ?? "", $0.attributes["AUDIO"] ?? ""] }
            }
            #expect(described(splitMaster) == described(wholeMaster), "\(described(splitMaster))")
            for file in ["poster.jpg", "storyboard.jpg", "storyboard.vtt"] {
                let (split, whole) = (try Data(contentsOf: run.split.appendingPathComponent(file)),
                                      try Data(contentsOf: run.whole.appendingPathComponent(file)))
                #expect(!split.isEmpty && split == whole, "\(file): \(split.count) bytes, unsplit \(whole.count), not the same")
            }
            #expect(directoryListing(run.out) == ["split.hls", "whole.hls"], "no work folder left: \(directoryListing(run.out))")
        }
    }

    @Test("""
        a single file's poster and storyboard are the unsplit transcode's, byte for byte, published beside OUT; the \
        storyboard's track points at its own grid
        """,
          .timeLimit(.minutes(30)), arguments: ["mp4", "mkv"])
    func stillsEqualTheUnsplitOnes(_ container: String) async throws {
        try await withTemporaryDirectory { directory in
            let source = try await Self.source(in: directory)
            let run = try await Self.splitAndWhole(source, in: directory, output: container, options: ["--poster", "--storyboard"])
            let names = { (stem: String) in ["\(stem).\(container)", "\(stem).poster.jpg", "\(stem).storyboard.jpg", "\(stem).storyboard.vtt"] }
            #expect(directoryListing(run.out) == (names("split") + names("whole")).sorted(), "\(directoryListing(run.out))")
            for file in ["poster.jpg", "storyboard.jpg"] {
                let (split, whole) = (try Data(contentsOf: run.out.appendingPathComponent("split.\(file)")),
                                      try Data(contentsOf: run.out.appendingPathComponent("whole.\(file)")))
                #expect(!split.isEmpty && split == whole, "\(file): \(split.count) bytes, unsplit \(whole.count), not the same")
            }
            let splitTrack = try String(contentsOf: run.out.appendingPathComponent("split.storyboard.vtt"), encoding: .utf8)
            let wholeTrack = try String(contentsOf: run.out.appendingPathComponent("whole.storyboard.vtt"), encoding: .utf8)
            #expect(splitTrack.contains("split.storyboard.jpg#xywh=") && !splitTrack.contains("whole."), "\(splitTrack)")
            #expect(splitTrack.replacingOccurrences(of: "split.storyboard.jpg", with: "whole.storyboard.jpg") == wholeTrack,
                    "cues: \(splitTrack)\nunsplit: \(wholeTrack)")
            let (splitTimes, wholeTimes) = (try await videoPacketTimes(run.split).sorted(), try await videoPacketTimes(run.whole).sorted())
            #expect(splitTimes.count == 300 && splitTimes == wholeTimes, "\(splitTimes.count) pictures, unsplit \(wholeTimes.count)")
            let status = try await run.queue.run("status", [String(run.splitID), "--json"])
            let object = try JSONSerialization.jsonObject(with: status.stdout) as? [String: Any]
            let files = ((object?["result"] as? [String: Any])?["files"] as? [[String: Any]])?.compactMap { $0["path"] as? String }
            #expect(files?.sorted() == names("split").map { run.out.appendingPathComponent($0).path }.sorted(),
                    "the result lists OUT and its companions: \(status.stdoutText)")
        }
    }

    struct Run {
        let queue: TestQueue
        let splitID: Int64
        let split: URL
        let whole: URL
        let out: URL
    }

    /// The source split in 3 s chunks and whole, into `out/split.EXT` and `out/whole.EXT`, by one
    /// worker of two slots.
    static func splitAndWhole(_ source: URL, in directory: URL, output ext: String, options: [String]) async throws -> Run {
        let queue = TestQueue(in: directory)
        let out = try SplitJobTests.outputFolder(in: directory)
        let split = out.appendingPathComponent("split.\(ext)")
        let whole = out.appendingPathComponent("whole.\(ext)")
        let splitID = try await queue.submit(source, split, options + ["--split", "--chunk", "3s"])
        let wholeID = try await queue.submit(source, whole, options)
        let worker = try await queue.run("worker", ["--drain", "--concurrency", "2"], timeout: .seconds(1200))
        try #require(worker.exitCode == 0, "\(worker)")
        let states = [try await queue.job(splitID), try await queue.job(wholeID)].map { "\($0.state) \($0.error ?? "")" }
        try #require(states == ["succeeded ", "succeeded "], "\(states)")
        return Run(queue: queue, splitID: splitID, split: split, whole: whole, out: out)
    }
}
