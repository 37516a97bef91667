import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `vqueue submit --split`, run by real workers and judged by ffprobe and ffmpeg against the
/// unsplit transcode of the same source: the same pictures at the same times, the audio where it
/// was, the same quality with no seam; and the faults a farm has (a worker killed holding a chunk,
/// a cancel mid-way, a join that fails its check).
@Suite("Split transcodes end to end")
struct SplitJobTests {
    // MARK: - The unsplit output's equal

    @Test("""
        against the unsplit transcode: the same pictures at the same times, the audio's start and length, PSNR within \
        0.2 dB and no seam at a boundary, a clean decode; succeeded once; no work folder left
        """,
          .timeLimit(.minutes(30)), arguments: ["mp4", "mkv", "flv"])
    func equalsTheUnsplitOutput(_ container: String) async throws {
        try await withTemporaryDirectory { directory in
            // B-frames and open GOPs, a keyframe every 2 s: the 3 s cuts fall on keyframes (6 s)
            // and between them (3 s, 9 s), where a chunk decodes from the keyframe before.
            let source = try await Self.source(in: directory, "source.mp4", [
                "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=12",
                "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=12",
                "-c:v", "libx264", "-preset", "veryfast", "-bf", "3", "-x264-params", "keyint=50:min-keyint=50:open-gop=1:scenecut=0",
                "-c:a", "aac", "-shortest",
            ])
            let run = try await Self.splitAndWhole(source, in: directory, container: container, chunk: "3s")
            try await Self.expectEqual(run)
            #expect(try await run.queue.stateHistory(run.splitID) == ["waiting", "queued", "running", "succeeded"])

            let media = try await probeMedia(run.split)
            #expect(media.videoStreams.first?.codecName == "h264" && media.audioStreams.first?.codecName == "aac", "\(media)")
            let (splitDuration, wholeDuration) = (Double(media.format.duration ?? "") ?? 0,
                                                  Double(try await probeMedia(run.whole).format.duration ?? "") ?? 0)
            #expect(abs(splitDuration - wholeDuration) <= 0.04, "within one frame: \(splitDuration) s, unsplit \(wholeDuration) s")
            let (splitAudio, wholeAudio) = (try await Self.audioSpan(run.split), try await Self.audioSpan(run.whole))
            #expect(abs(splitAudio.start - wholeAudio.start) <= 0.001, "audio starts at \(splitAudio.start), unsplit \(wholeAudio.start)")
            #expect(abs(splitAudio.length - wholeAudio.length) <= 1024.0 / 48000, "audio lasts \(splitAudio.length), unsplit \(wholeAudio.length)")

            // Quality at the same CRF, and the pictures either side of every cut.
            let splitPSNR = try await Self.framePSNR(run.split, against: source, in: directory)
            let wholePSNR = try await Self.framePSNR(run.whole, against: source, in: directory)
            let (splitMean, wholeMean) = (Self.mean(splitPSNR), Self.mean(wholePSNR))
            #expect(abs(splitMean - wholeMean) <= 0.2, "PSNR \(splitMean) dB split, \(wholeMean) dB unsplit")
            let starts = try await Self.chunkStarts(run)
            #expect(starts == [0, 3, 6, 9], "\(starts)")
            for start in starts.dropFirst() {
                let after = Int((start * 25).rounded())
                for index in [after - 1, after] {
                    #expect(splitPSNR[index] >= splitMean - 2, "picture \(index), at the cut at \(start) s: \(splitPSNR[index]) dB, mean \(splitMean)")
                }
            }
        }
    }

    /// The sources a split must keep as they are.
    enum Source: String, CaseIterable, Sendable {
        case variableFrameRate, duplicateTimes, interlaced, rotated, lastChunkOnePicture, shorterThanOneChunk

        var arguments: [String] {
            switch self {
            case .variableFrameRate:
                // Steps of 10 to 55 ms, repeating: no two pictures the same distance apart in a row.
                ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=8", "-vf", "settb=1/1000,setpts=N/25/TB+0.015*mod(N\\,3)/TB",
                 "-fps_mode", "passthrough", "-enc_time_base", "1/1000", "-c:v", "libx264", "-preset", "veryfast", "-g", "30"]
            case .duplicateTimes:
                // The same, through an encoder on a 1/25 s clock: pairs of pictures with the same
                // time, one pair on a keyframe (a cut must not part them).
                ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=8", "-vf", "settb=1/1000,setpts=N/25/TB+0.015*mod(N\\,3)/TB",
                 "-fps_mode", "passthrough", "-c:v", "libx264", "-preset", "veryfast", "-g", "30"]
            case .interlaced:
                ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=50:duration=8,scroll=h=0.02",
                 "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=8",
                 "-vf", "tinterlace=mode=interleave_top,setfield=tff", "-c:v", "mpeg2video", "-flags", "+ilme+ildct", "-top", "1",
                 "-b:v", "2M", "-c:a", "mp2", "-shortest"]
            case .rotated:
                // Rotated by the stream copy below (FFmpeg 5.1 writes the matrix only on a copy).
                ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=8", "-c:v", "libx264", "-preset", "veryfast"]
            case .lastChunkOnePicture:
                // 201 pictures, cut every 2 s on a keyframe: the last chunk holds the picture at 8 s alone.
                ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-frames:v", "201", "-c:v", "libx264", "-preset", "veryfast",
                 "-g", "25"]
            case .shorterThanOneChunk:
                ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=5",
                 "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=5",
                 "-c:v", "libx264", "-preset", "veryfast", "-c:a", "aac", "-shortest"]
            }
        }

        var file: String {
            switch self {
            case .variableFrameRate: "vfr.mkv"
            case .duplicateTimes: "duplicates.mkv"
            case .interlaced: "combed.ts"
            default: "\(rawValue).mp4"
            }
        }

        /// `--chunk`, and how many chunks that makes.
        var chunk: (length: String, count: Int) {
            switch self {
            case .lastChunkOnePicture: ("2s", 5)
            case .shorterThanOneChunk: ("30s", 1)
            default: ("2s", 4)
            }
        }
    }

    @Test("every kind of source comes out as the unsplit transcode's pictures, at its times, decoding cleanly",
          .timeLimit(.minutes(30)), arguments: Source.allCases)
    func sourcesKeepTheirPictures(_ kind: Source) async throws {
        try await withTemporaryDirectory { directory in
            var source = try await Self.source(in: directory, kind.file, kind.arguments)
            if kind == .rotated {
                source = try await Self.source(in: directory, "portrait.mp4",
                                               ["-i", source.path, "-map", "0", "-c", "copy", "-metadata:s:v:0", "rotate=-90"])
            }
            let run = try await Self.splitAndWhole(source, in: directory, container: "mp4", chunk: kind.chunk.length)
            try await Self.expectEqual(run)
            #expect(try await Self.chunkStarts(run).count == kind.chunk.count)
            if kind == .rotated {
                let video = try #require(try await probeMedia(run.split).videoStreams.first)
                let unsplit = try #require(try await probeMedia(run.whole).videoStreams.first)
                #expect(video.width == 240 && video.height == 320 && unsplit.width == 240, "upright, as unsplit: \(video)")
            }
        }
    }

    // MARK: - Faults

    @Test("a worker killed holding a chunk: only that chunk is encoded again, the job succeeds with every picture",
          .timeLimit(.minutes(30)))
    func killedWorkerCostsOneChunk() async throws {
        try await withTemporaryDirectory { directory in
            let input = try await makeLongSample(in: directory, seconds: 16, size: "640x360", noisy: true)
            let queue = TestQueue(in: directory)
            let out = try Self.outputFolder(in: directory)
            let output = out.appendingPathComponent("long.mp4")
            // With a storyboard: each chunk leaves two files (its thumbnails, then the chunk).
            let whole = try await queue.submit(input, output, Self.slow + ["--split", "--chunk", "4s", "--storyboard"])
            let first = try queue.startWorker(["--concurrency", "1", "--lease", "2s"])
            // A chunk (not the audio, which is queued first) caught encoding.
            var caught: Int64?
            let encoding = try await eventually(within: .seconds(900)) {
                caught = try await queue.query("""
                    SELECT id FROM jobs WHERE parent_id = \(whole) AND state = 'running' AND progress > 0 AND payload LIKE '%"chunk"%'
                    """).first.flatMap { Int64($0) }
                return caught != nil
            }
            try #require(encoding, "no chunk was seen encoding")
            kill(first.pid, SIGKILL)
            _ = await first.wait(timeout: .seconds(30))

            let second = try await queue.run("worker", ["--drain", "--concurrency", "2", "--lease", "2s"], timeout: .seconds(1200))
            #expect(second.exitCode == 0, "\(second)")
            #expect(try await queue.job(whole).state == "succeeded")
            let attempts = try await queue.query("SELECT id || ':' || attempts FROM jobs WHERE parent_id = \(whole) ORDER BY id")
            let killed = try #require(caught)
            for line in attempts {
                let id = line.split(separator: ":")[0]
                #expect(line.hasSuffix(id == "\(killed)" ? ":2" : ":1"), "the killed chunk twice, every other part once: \(attempts)")
            }
            #expect(try await decodedVideoFrameCount(output) == 16 * 25)
            #expect(try await decodeComplaints(output).isEmpty)
            #expect(directoryListing(out) == ["long.mp4", "long.storyboard.jpg", "long.storyboard.vtt"], "\(directoryListing(out))")
            let track = try String(contentsOf: out.appendingPathComponent("long.storyboard.vtt"), encoding: .utf8)
            #expect(track.components(separatedBy: "-->").count - 1 == 16, "a thumbnail a second, none lost or doubled: \(track)")
        }
    }

    @Test("cancelled mid-way: the job and its parts end, and no chunk, work folder or temporary file is left",
          .timeLimit(.minutes(30)))
    func cancelLeavesNothing() async throws {
        try await withTemporaryDirectory { directory in
            let input = try await makeLongSample(in: directory, seconds: 16, size: "640x360", noisy: true)
            let queue = TestQueue(in: directory)
            let out = try Self.outputFolder(in: directory)
            let whole = try await queue.submit(input, out.appendingPathComponent("long.mp4"),
                                               Self.slow + ["--split", "--chunk", "2s", "--poster"])
            let worker = try queue.startWorker(["--concurrency", "1", "--lease", "2s"])
            let started = try await eventually(within: .seconds(900)) {
                try await queue.query("SELECT count(*) FROM jobs WHERE parent_id = \(whole) AND state = 'succeeded'") == ["3"]
            }
            try #require(started, "three parts never succeeded")
            #expect(directoryListing(out).count == 1, "the work folder, while it runs: \(directoryListing(out))")
            let cancel = try await queue.run("cancel", [String(whole)])
            #expect(cancel.exitCode == 0, "\(cancel)")

            let settled = try await eventually(within: .seconds(300)) {
                let running = try await queue.query("SELECT count(*) FROM jobs WHERE state = 'running'")
                return running == ["0"] && directoryListing(out).isEmpty
            }
            #expect(settled, "left: \(directoryListing(out))")
            #expect(try await queue.job(whole).state == "cancelled")
            let states = Set(try await queue.query("SELECT state FROM jobs WHERE parent_id = \(whole)"))
            #expect(states.isSubset(of: ["succeeded", "cancelled"]) && states.contains("cancelled"), "\(states)")
            _ = await stopWorker(worker)
        }
    }

    @Test("""
        a join that fails its check fails the job with the reason; OUT is not written; the work folder is kept for a \
        retry until prune deletes the job
        """, .timeLimit(.minutes(30)))
    func failedJoin() async throws {
        try await withTemporaryDirectory { directory in
            let input = try await makeLongSample(in: directory, seconds: 16, size: "320x240")
            let queue = TestQueue(in: directory)
            let out = try Self.outputFolder(in: directory)
            let output = out.appendingPathComponent("long.mp4")
            let whole = try await queue.submit(input, output, Self.slow + ["--split", "--chunk", "2s"])
            let work = out.appendingPathComponent(".long.mp4.split-\(whole)")
            let worker = try queue.startWorker(["--concurrency", "1"])
            // Chunk 1 replaced by chunk 0 while the later chunks still encode: the join finds two
            // chunks with the same pictures' times.
            let second = work.appendingPathComponent("chunk-000001.nut")
            let done = await eventually(within: .seconds(900)) { FileManager.default.fileExists(atPath: second.path) }
            try #require(done, "chunk 1 never appeared")
            let copy = work.appendingPathComponent("copy")
            try FileManager.default.copyItem(at: work.appendingPathComponent("chunk-000000.nut"), to: copy)
            #expect(rename(copy.path, second.path) == 0)
            #expect(try await queue.query("SELECT state FROM jobs WHERE id = \(whole)") == ["waiting"], "too late: the join had begun")

            let ended = try await queue.run("status", [String(whole), "--wait", "--timeout", "900s"], timeout: .seconds(960))
            #expect(ended.exitCode == 1, "\(ended)")
            let job = try await queue.job(whole)
            #expect(job.state == "failed" && job.errorCode == "output_check_failed", "\(job)")
            #expect(job.error?.contains("chunk 1 starts before chunk 0 ends") == true, "\(job.error ?? "")")
            #expect(!FileManager.default.fileExists(atPath: output.path))
            #expect(directoryListing(out) == [work.lastPathComponent], "kept for a retry, nothing else: \(directoryListing(out))")
            _ = await stopWorker(worker)

            // Pruned, the job can no longer be retried: what it kept goes with it.
            try await Task.sleep(for: .seconds(2))
            let pruned = try await queue.run("prune", ["--older-than", "1s"])
            #expect(pruned.exitCode == 0 && pruned.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines) != "0", "\(pruned)")
            #expect(try await queue.query("SELECT count(*) FROM jobs") == ["0"])
            #expect(directoryListing(out).isEmpty, "the work folder went with the job: \(directoryListing(out))")
        }
    }

    // MARK: - Refusals

    @Test("--split refuses what it cannot do yet, in one usage line, queueing nothing",
          arguments: [["in.mp4", "out.mp4", "--allow-partial"],
                      ["--out-dir", "out", "--format", "mp4", "in.mp4"], ["in.mp4", "out.mp4", "--chunk", "10s"]])
    func refusals(_ arguments: [String]) async throws {
        try await withTemporaryDirectory { directory in
            let queue = TestQueue(in: directory)
            let split = arguments.contains("--chunk") ? [] : ["--split"]
            let result = try await queue.run("submit", split + arguments, in: directory)
            #expect(result.exitCode == 64, "\(result)")
            #expect(result.stderrText.split(separator: "\n").first?.contains("--split") == true
                    || result.stderrText.contains("--chunk goes with --split"), "\(result)")
            #expect(!FileManager.default.fileExists(atPath: queue.database.path), "nothing queued")
        }
    }

    // MARK: - Helpers

    /// One thread and x264's medium preset: a 640x360 chunk of a few seconds takes seconds.
    static let slow = ["--threads", "1", "--x264-preset", "medium"]

    struct Run {
        let queue: TestQueue
        let splitID: Int64
        let wholeID: Int64
        let split: URL
        let whole: URL
        let out: URL
    }

    static func source(in directory: URL, _ name: String, _ arguments: [String]) async throws -> URL {
        let file = directory.appendingPathComponent(name)
        let result = try await runProcess(Locations.ffmpeg, ["-nostdin", "-v", "error"] + arguments + [file.path], timeout: .seconds(120))
        try #require(result.exitCode == 0, "could not make \(name): \(result)")
        return file
    }

    static func outputFolder(in directory: URL) throws -> URL {
        let out = directory.appendingPathComponent("out", isDirectory: true)
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: false)
        return out
    }

    /// The source split (`--split --chunk`) and whole, each into `out/`, run by one worker of two slots.
    static func splitAndWhole(_ source: URL, in directory: URL, container: String, chunk: String) async throws -> Run {
        let queue = TestQueue(in: directory)
        let out = try outputFolder(in: directory)
        let split = out.appendingPathComponent("split.\(container)")
        let whole = out.appendingPathComponent("whole.\(container)")
        let splitID = try await queue.submit(source, split, ["--split", "--chunk", chunk])
        let wholeID = try await queue.submit(source, whole)
        let worker = try await queue.run("worker", ["--drain", "--concurrency", "2"], timeout: .seconds(1200))
        try #require(worker.exitCode == 0, "\(worker)")
        let states = [try await queue.job(splitID), try await queue.job(wholeID)].map { "\($0.state) \($0.error ?? "")" }
        try #require(states == ["succeeded ", "succeeded "], "\(states)")
        return Run(queue: queue, splitID: splitID, wholeID: wholeID, split: split, whole: whole, out: out)
    }

    /// What every split must keep: the unsplit output's pictures at its times, a clean decode, and
    /// nothing left beside OUT.
    static func expectEqual(_ run: Run, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let (splitTimes, wholeTimes) = (try await videoPacketTimes(run.split).sorted(), try await videoPacketTimes(run.whole).sorted())
        #expect(!splitTimes.isEmpty && splitTimes.count == wholeTimes.count, "\(splitTimes.count) pictures, unsplit \(wholeTimes.count)",
                sourceLocation: sourceLocation)
        let moved = zip(splitTimes, wholeTimes).filter { abs($0 - $1) > 0.0005 }
        #expect(moved.isEmpty, "pictures at other times (split, unsplit): \(moved.prefix(5))", sourceLocation: sourceLocation)
        #expect(try await decodedVideoFrameCount(run.split) == decodedVideoFrameCount(run.whole), sourceLocation: sourceLocation)
        let complaints = try await decodeComplaints(run.split)
        #expect(complaints.isEmpty, "\(complaints)", sourceLocation: sourceLocation)
        #expect(directoryListing(run.out) == [run.split.lastPathComponent, run.whole.lastPathComponent].sorted(),
                "no work folder or temporary file: \(directoryListing(run.out))", sourceLocation: sourceLocation)
    }

    /// Each chunk's first picture's time, from the parts' payloads, in order.
    static func chunkStarts(_ run: Run) async throws -> [Double] {
        try await run.queue.query("SELECT payload FROM jobs WHERE parent_id = \(run.splitID) ORDER BY id").compactMap { payload in
            let object = try JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: Any]
            let chunk = ((object?["split"] as? [String: Any])?["chunk"] as? [String: Any])?["plan"] as? [String: Any]
            return chunk?["start"] as? Double
        }
    }

    /// The first audio stream's first packet time and its length, from its packets.
    static func audioSpan(_ file: URL) async throws -> (start: Double, length: Double) {
        let result = try await runProcess(Locations.ffprobe, ["-v", "error", "-select_streams", "a:0", "-show_entries",
                                                              "packet=pts_time,duration_time", "-of", "csv=p=0", file.path])
        try #require(result.exitCode == 0, "\(result)")
        let packets = result.stdoutLines.map { $0.split(separator: ",").compactMap { Double($0) } }.filter { $0.count == 2 }
        let start = try #require(packets.map { $0[0] }.min())
        let end = try #require(packets.map { $0[0] + $0[1] }.max())
        return (start, end - start)
    }

    /// Each picture's PSNR (dB) against the source's picture of the same number.
    static func framePSNR(_ file: URL, against source: URL, in directory: URL) async throws -> [Double] {
        let stats = directory.appendingPathComponent("psnr-\(file.lastPathComponent).log")
        let result = try await runProcess(Locations.ffmpeg, ["-nostdin", "-v", "error", "-i", file.path, "-i", source.path,
                                                             "-lavfi", "[0:v][1:v]psnr=stats_file=\(stats.path)", "-f", "null", "-"])
        try #require(result.exitCode == 0, "\(result)")
        return try String(contentsOf: stats, encoding: .utf8).split(separator: "\n").compactMap { line in
            line.split(separator: " ").first { $0.hasPrefix("psnr_avg:") }.flatMap { Double($0.dropFirst("psnr_avg:".count)) }
        }
    }

    static func mean(_ values: [Double]) -> Double { values.reduce(0, +) / Double(max(values.count, 1)) }
}
