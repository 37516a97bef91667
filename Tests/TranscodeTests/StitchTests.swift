import CLibAV
import Foundation
import Testing
@testable import Transcode

/// A split transcode's chunks joined, judged by ffprobe and ffmpeg against the same source
/// transcoded whole: the same pictures at the same times, no decoding error, the same quality.
@Suite("Stitching chunks: the output of an unsplit transcode, picture for picture, in every container", .timeLimit(.minutes(10)))
struct StitchTests {
    /// Every picture's presentation time, as ffprobe decodes the file.
    func pictureTimes(_ path: String) throws -> [Double] {
        let text = try ExternalTool.run("/usr/bin/ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries",
                                                             "frame=pts_time", "-of", "csv=p=0", path])
        return text.split(separator: "\n").compactMap { Double($0.trimmingCharacters(in: CharacterSet(charactersIn: ","))) }
    }

    /// The average PSNR (all planes) of `path` against `reference`, picture by picture.
    func psnr(_ path: String, against reference: String) throws -> Double {
        let log = try ExternalTool.run("/usr/bin/ffmpeg", ["-hide_banner", "-i", path, "-i", reference, "-lavfi", "psnr",
                                                           "-f", "null", "-"], errorsToo: true)
        let average = try #require(log.range(of: "average:")).upperBound
        return try #require(Double(log[average...].prefix { !$0.isWhitespace }))
    }

    /// A source made by ffmpeg from these inputs and encoding options, in `folder`.
    func source(in folder: URL, _ arguments: [String]) throws -> String {
        let path = folder.appendingPathComponent("source.mkv").path
        try ExternalTool.run("/usr/bin/ffmpeg", ["-v", "error"] + arguments + [path])
        return path
    }

    /// Cuts `source` into chunks of `length` seconds and encodes each into `folder`.
    func encodeChunks(_ source: String, length: Double, in folder: URL,
                      options: TranscodeOptions = TranscodeOptions(includeAudio: false)) throws -> (ChunkPlan, [String]) {
        let plan = try ChunkPlan(index: FrameIndex(file: InputFile(path: source)), length: length)
        let paths = try plan.chunks.map { chunk in
            let path = folder.appendingPathComponent("chunk\(chunk.index).nut").path
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            try #require(fd >= 0)
            _ = try ChunkEncode(source: .path(source), chunk: chunk, options: options, output: fd).run()
            return path
        }
        return (plan, paths)
    }

    @Test("chunks of a clip with B-frames joined into each container: the unsplit output's pictures and times, no decoding error, PSNR within 0.2 dB",
          arguments: [OutputContainer.mp4, .flv, .mkv])
    func joinedLikeUnsplit(_ container: OutputContainer) throws {
        try ExternalTool.inFolder { folder in
            let source = try source(in: folder, ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=10", "-c:v", "libx264",
                                                 "-bf", "3", "-x264-params", "keyint=50:min-keyint=50:open-gop=1"])
            let whole = folder.appendingPathComponent("whole.\(container.rawValue)").path
            _ = try Transcoder(input: source, output: whole, options: TranscodeOptions(includeAudio: false)).run()

            let (plan, chunks) = try encodeChunks(source, length: 3, in: folder)
            #expect(plan.chunks.count == 4)
            let joined = folder.appendingPathComponent("joined.\(container.rawValue)").path
            let fd = open(joined, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            try #require(fd >= 0)
            let facts = try Stitch(chunks: chunks.map { .path($0) }, audio: nil, container: container, output: fd).run()
            #expect(facts.frames == 250 && facts.width == 320 && facts.height == 240)

            let wholeTimes = try pictureTimes(whole)
            let joinedTimes = try pictureTimes(joined)
            #expect(joinedTimes.count == 250 && wholeTimes.count == 250)
            #expect(zip(joinedTimes, wholeTimes).allSatisfy { abs($0 - $1) < 0.0015 },
                    "the unsplit output's times: \(joinedTimes.prefix(5)) against \(wholeTimes.prefix(5))")
            let errors = try ExternalTool.run("/usr/bin/ffmpeg", ["-v", "error", "-i", joined, "-f", "null", "-"], errorsToo: true)
            #expect(errors.isEmpty, "decodes without an error: \(errors)")
            let codec = try ExternalTool.run("/usr/bin/ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries",
                                                                  "stream=codec_name", "-of", "csv=p=0", joined])
            #expect(codec.trimmingCharacters(in: .whitespacesAndNewlines) == "h264")
            let (joinedQuality, wholeQuality) = (try psnr(joined, against: source), try psnr(whole, against: source))
            #expect(abs(joinedQuality - wholeQuality) <= 0.2, "PSNR \(joinedQuality) dB joined, \(wholeQuality) dB whole")
        }
    }

    /// The audio stream as ffprobe sees it: codec, start, duration, packets.
    func audioFacts(_ path: String) throws -> (codec: String, start: Double, duration: Double, packets: Int) {
        let text = try ExternalTool.run("/usr/bin/ffprobe", ["-v", "error", "-select_streams", "a:0", "-count_packets",
                                                             "-show_entries", "stream=codec_name,start_time,duration,nb_read_packets",
                                                             "-of", "json", path])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let stream = try #require((json["streams"] as? [[String: Any]])?.first)
        return (stream["codec_name"] as? String ?? "", Double(stream["start_time"] as? String ?? "") ?? .nan,
                Double(stream["duration"] as? String ?? "") ?? .nan, Int(stream["nb_read_packets"] as? String ?? "") ?? -1)
    }

    @Test("with the audio encoded once, whole: the same AAC stream as the unsplit output, starting and ending at the same times",
          arguments: [OutputContainer.mp4, .flv, .mkv])
    func joinedWithAudio(_ container: OutputContainer) throws {
        try ExternalTool.inFolder { folder in
            let source = try source(in: folder, ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=8",
                                                 "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=8",
                                                 "-c:v", "libx264", "-bf", "2", "-x264-params", "keyint=50", "-c:a", "flac"])
            let whole = folder.appendingPathComponent("whole.\(container.rawValue)").path
            _ = try Transcoder(input: source, output: whole, options: TranscodeOptions()).run()

            let (_, chunks) = try encodeChunks(source, length: 3, in: folder, options: TranscodeOptions())
            let audio = folder.appendingPathComponent("audio.mp4").path
            let decoded = try AudioEncode(source: .path(source), options: TranscodeOptions(),
                                          output: open(audio, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)).run()
            #expect(abs((decoded ?? 0) - 8) < 0.05)
            let joined = folder.appendingPathComponent("joined.\(container.rawValue)").path
            let facts = try Stitch(chunks: chunks.map { .path($0) }, audio: .path(audio), container: container,
                                   output: open(joined, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)).run()
            #expect(facts.audioBytes ?? 0 > 0 && facts.frames == 200)

            let (a, b) = (try audioFacts(joined), try audioFacts(whole))
            #expect(a.codec == "aac" && a.packets == b.packets, "\(a) against the unsplit \(b)")
            #expect(abs(a.start - b.start) < 0.001, "audio starts as in the unsplit output: \(a.start) against \(b.start)")
            if !a.duration.isNaN || !b.duration.isNaN {
                #expect(abs(a.duration - b.duration) < 0.001, "audio lasts as in the unsplit output: \(a.duration) against \(b.duration)")
            }
            let wholeTimes = try pictureTimes(whole), joinedTimes = try pictureTimes(joined)
            #expect(joinedTimes.count == wholeTimes.count && zip(joinedTimes, wholeTimes).allSatisfy { abs($0 - $1) < 0.0015 })
            let errors = try ExternalTool.run("/usr/bin/ffmpeg", ["-v", "error", "-i", joined, "-f", "null", "-"], errorsToo: true)
            #expect(errors.isEmpty, "decodes without an error: \(errors)")
        }
    }

    @Test("chunks encoded unlike each other are refused, and nothing is joined")
    func unlikeChunksRefused() throws {
        try ExternalTool.inFolder { folder in
            let source = try source(in: folder, ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=6",
                                                 "-c:v", "libx264", "-x264-params", "keyint=25"])
            let plan = try ChunkPlan(index: FrameIndex(file: InputFile(path: source)), length: 3)
            var paths: [String] = []
            for (chunk, crf) in zip(plan.chunks, [23.0, 30.0]) {
                let path = folder.appendingPathComponent("chunk\(chunk.index).nut").path
                let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
                _ = try ChunkEncode(source: .path(source), chunk: chunk, options: TranscodeOptions(crf: crf, includeAudio: false),
                                    output: fd).run()
                paths.append(path)
            }
            let joined = folder.appendingPathComponent("joined.mp4").path
            let fd = open(joined, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            let error = #expect(throws: TranscodeError.self) { _ = try Stitch(chunks: paths.map { .path($0) }, audio: nil, container: .mp4, output: fd).run() }
            #expect(error?.description.contains("chunk 1 was not encoded as chunk 0 was (its SPS/PPS differ)") == true, "\(String(describing: error))")
            #expect((try? FileManager.default.attributesOfItem(atPath: joined)[.size] as? Int) == 0, "nothing written")
        }
    }
}
