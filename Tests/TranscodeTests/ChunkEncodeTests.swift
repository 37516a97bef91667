import CLibAV
import Foundation
import Testing
@testable import Transcode

/// A chunk of a split transcode, judged by ffprobe: exactly its pictures, at the source's times,
/// starting with an IDR, decoding without an error; every chunk with the same SPS and PPS.
@Suite("Chunk encodes: each chunk's pictures exactly, from an IDR, the same SPS/PPS in every chunk", .timeLimit(.minutes(10)))
struct ChunkEncodeTests {
    struct Probed {
        var times: [Double]
        var firstIsIDR: Bool
    }

    /// The chunk's pictures as ffprobe decodes them, and whether the first is an IDR (an I picture that is a keyframe).
    func probe(_ path: String) throws -> Probed {
        let text = try ExternalTool.run("/usr/bin/ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries",
                                                "frame=pts_time,key_frame,pict_type", "-of", "json", path])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let frames = try #require(json["frames"] as? [[String: Any]])
        let first = frames.first
        return Probed(times: frames.compactMap { ($0["pts_time"] as? String).flatMap(Double.init) },
                      firstIsIDR: first?["key_frame"] as? Int == 1 && first?["pict_type"] as? String == "I")
    }

    /// The stream's extradata (SPS and PPS), as libav reads it back.
    func extradata(_ path: String) throws -> [UInt8] {
        let media = try InputMedia(path: path, maxPixels: TranscodeOptions.defaultMaxPixels)
        let parameters = try #require(media.bestStream(AVMEDIA_TYPE_VIDEO)?.pointee.codecpar?.pointee)
        return Array(UnsafeBufferPointer(start: parameters.extradata, count: Int(parameters.extradata_size)))
    }

    @Test("every chunk of a clip with B-frames: its pictures and times exactly, IDR first, the same SPS/PPS, no decoding error",
          arguments: ["closed GOPs", "open GOPs", "one keyframe", "variable frame rate"])
    func chunksOfAClip(_ kind: String) throws {
        try ExternalTool.inFolder { folder in
            let source = folder.appendingPathComponent("source.mkv").path
            var x264 = "keyint=50:min-keyint=50:scenecut=0"
            var input = ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=10"]
            switch kind {
            case "open GOPs": x264 += ":open-gop=1"
            case "one keyframe": x264 = "keyint=1000:min-keyint=1000:scenecut=0"
            case "variable frame rate":
                // Every third picture held twice as long: times of 40 and 80 ms.
                input += ["-vf", "setpts='N*0.04/TB+floor(N/3)*0.04/TB'"]
            default: break
            }
            try ExternalTool.run("/usr/bin/ffmpeg", ["-v", "error"] + input + ["-c:v", "libx264", "-bf", "3", "-x264-params", x264,
                                                                   "-fps_mode", "passthrough", source])
            let index = try FrameIndex(file: InputFile(path: source))
            let plan = try ChunkPlan(index: index, length: 3)
            #expect(plan.chunks.count >= 3, "\(plan.chunks.map(\.start))")
            var headers: [[UInt8]] = []
            for chunk in plan.chunks {
                let path = folder.appendingPathComponent("chunk\(chunk.index).nut").path
                let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
                try #require(fd >= 0, "the encode takes the descriptor")
                let summary = try ChunkEncode(source: .path(source), chunk: chunk, options: TranscodeOptions(), output: fd).run()
                #expect(summary.frames == chunk.frames && summary.first == chunk.start)

                let wanted = index.times.filter { time in time >= chunk.start && chunk.end.map { time < $0 } ?? true }
                let probed = try probe(path)
                #expect(probed.times.count == wanted.count, "chunk \(chunk.index): \(probed.times.count) pictures, the plan \(wanted.count)")
                #expect(zip(probed.times, wanted).allSatisfy { abs($0 - $1) < 0.0005 }, "chunk \(chunk.index): the source's times: \(probed.times.prefix(4)) against \(wanted.prefix(4))")
                #expect(probed.firstIsIDR, "chunk \(chunk.index) starts with an IDR")
                let errors = try ExternalTool.run("/usr/bin/ffmpeg", ["-v", "error", "-i", path, "-f", "null", "-"], errorsToo: true)
                #expect(errors.isEmpty, "chunk \(chunk.index) decodes without an error: \(errors)")
                headers.append(try extradata(path))
            }
            #expect(!headers[0].isEmpty && headers.allSatisfy { $0 == headers[0] }, "the same SPS/PPS in every chunk")
            #expect(plan.frames == index.times.count)
        }
    }

    @Test("a chunk whose plan does not match the source is refused, not written as if it did")
    func planThatDoesNotMatch() throws {
        try ExternalTool.inFolder { folder in
            let source = folder.appendingPathComponent("source.mkv").path
            try ExternalTool.run("/usr/bin/ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=4",
                                        "-c:v", "libx264", source])
            // A start between two pictures: no picture is at 1.01 s.
            let chunk = ChunkPlan.Chunk(index: 0, start: 1.01, end: 2, seekFrom: 0, frames: 25)
            let fd = open(folder.appendingPathComponent("chunk.nut").path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            #expect(throws: TranscodeError.self) { _ = try ChunkEncode(source: .path(source), chunk: chunk, options: TranscodeOptions(), output: fd).run() }
        }
    }
}
