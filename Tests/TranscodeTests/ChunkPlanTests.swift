import Foundation
import Testing
@testable import Transcode

/// Where a long video is cut for `--split`: every picture in exactly one chunk, cuts on keyframes
/// near each multiple of the length when there are some, frame-exact everywhere.
@Suite("Chunk plans: every picture in exactly one chunk, cut on keyframes where there are some")
struct ChunkPlanTests {
    /// Pictures every `1/rate` s for `seconds`, a keyframe every `gop` pictures.
    func constantRate(_ rate: Double, seconds: Double, gop: Int) -> FrameIndex {
        let times = (0..<Int(seconds * rate)).map { Double($0) / rate }
        return FrameIndex(times: times, keyframes: stride(from: 0, to: times.count, by: gop).map { times[$0] })
    }

    /// What every plan must be: chunks in order, each starting where the last ended, each
    /// picture counted once, each decoder starting at a keyframe at or before its chunk.
    func expectPartition(_ plan: ChunkPlan, _ index: FrameIndex, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(plan.frames == index.times.count, "every picture once", sourceLocation: sourceLocation)
        #expect(plan.chunks.first?.start == index.times.first, sourceLocation: sourceLocation)
        #expect(plan.chunks.last?.end == nil, sourceLocation: sourceLocation)
        for (k, chunk) in plan.chunks.enumerated() {
            #expect(chunk.index == k && chunk.frames > 0, sourceLocation: sourceLocation)
            let inside = index.times.filter { time in time >= chunk.start && chunk.end.map { time < $0 } ?? true }
            #expect(inside.count == chunk.frames && inside.first == chunk.start, "chunk \(k)", sourceLocation: sourceLocation)
            #expect(index.keyframes.contains(chunk.seekFrom) && chunk.seekFrom <= chunk.start, sourceLocation: sourceLocation)
            if k + 1 < plan.chunks.count { #expect(chunk.end == plan.chunks[k + 1].start, sourceLocation: sourceLocation) }
            // Where the whole's samples (segments, stills) are counted from, and the picture before the chunk.
            #expect(chunk.origin == index.times.first, sourceLocation: sourceLocation)
            #expect(chunk.after == index.times.last { $0 < chunk.start }, "chunk \(k)", sourceLocation: sourceLocation)
        }
    }

    @Test("constant rate, a keyframe every 2 s: cuts on the keyframes at each 30 s, decoders start on them")
    func cutsOnKeyframes() throws {
        let index = constantRate(25, seconds: 125, gop: 50)
        let plan = try ChunkPlan(index: index, length: 30)
        expectPartition(plan, index)
        #expect(plan.chunks.map(\.start) == [0, 30, 60, 90, 120])
        #expect(plan.chunks.map(\.frames) == [750, 750, 750, 750, 125])
        #expect(plan.chunks.allSatisfy { $0.seekFrom == $0.start })
    }

    @Test("keyframes off the multiples: the nearest within reach is taken")
    func nearestKeyframe() throws {
        // A keyframe every 7 s: 28 is nearest 30, 63 nearest 60.
        let index = constantRate(10, seconds: 80, gop: 70)
        let plan = try ChunkPlan(index: index, length: 30)
        expectPartition(plan, index)
        #expect(plan.chunks.map(\.start) == [0, 28, 63])
    }

    @Test("one keyframe in the whole file: cuts on the pictures at each multiple, every decoder starts at the top")
    func noKeyframesToCutOn() throws {
        let index = constantRate(24, seconds: 70, gop: 1_000_000)
        let plan = try ChunkPlan(index: index, length: 30)
        expectPartition(plan, index)
        #expect(plan.chunks.map(\.start) == [0, 30, 60])
        #expect(plan.chunks.allSatisfy { $0.seekFrom == 0 })
    }

    @Test("variable frame rate: uneven spacing, times kept exactly")
    func variableRate() throws {
        var times: [Double] = []
        var t = 0.0
        for i in 0..<2000 {
            times.append(t)
            t += i.isMultiple(of: 3) ? 0.05 : 0.0333
        }
        let index = FrameIndex(times: times, keyframes: stride(from: 0, to: times.count, by: 45).map { times[$0] })
        let plan = try ChunkPlan(index: index, length: 10)
        expectPartition(plan, index)
        #expect(plan.chunks.count >= 7)
        for chunk in plan.chunks.dropFirst() {
            let multiple = (chunk.start / 10).rounded() * 10
            #expect(abs(chunk.start - multiple) <= ChunkPlan.keyframeReach(length: 10))
        }
    }

    @Test("two pictures with the same time are never parted: no cut on a time two pictures share, both counted")
    func sharedTimesStayTogether() throws {
        // 25 fps, a keyframe every second; the keyframe at 2 s shares its time with the picture
        // before it (a source's clock too coarse for its pictures), as does the picture at 4 s.
        var times = (0..<150).map { Double($0) / 25 }
        times[49] = 2.0
        times[99] = 4.0
        let index = FrameIndex(times: times, keyframes: stride(from: 0, to: 150, by: 25).map { Double($0) / 25 })
        #expect(index.times.count == 150, "both pictures of a shared time are counted")
        let plan = try ChunkPlan(index: index, length: 2)
        expectPartition(plan, index)
        // 2 s is shared: the cut goes to a keyframe within reach (0.5 s: none other), else the
        // first picture after it; 4 s is shared too: the next picture.
        #expect(plan.chunks.map(\.start) == [0, 2.04, 4.04], "\(plan.chunks.map(\.start))")
        #expect(plan.chunks.map(\.seekFrom) == [0, 2, 4])
    }

    @Test("the last chunk may be a single picture; a source shorter than one chunk is one chunk")
    func edges() throws {
        // 60 s of pictures and one more at 60.0, a keyframe there.
        var index = constantRate(25, seconds: 60, gop: 50)
        index = FrameIndex(times: index.times + [60], keyframes: index.keyframes + [60])
        let plan = try ChunkPlan(index: index, length: 30)
        expectPartition(plan, index)
        #expect(plan.chunks.map(\.frames) == [750, 750, 1])

        let short = constantRate(25, seconds: 12, gop: 50)
        let one = try ChunkPlan(index: short, length: 30)
        expectPartition(one, short)
        #expect(one.chunks.count == 1 && one.chunks[0].frames == 300)

        #expect(throws: TranscodeError.self) { _ = try ChunkPlan(index: FrameIndex(times: [], keyframes: []), length: 30) }
    }

    @Test("a real file's index matches ffprobe's: every picture's time, and the keyframes", arguments: ["closed", "open"])
    func indexOfARealFile(_ gop: String) throws {
        try ExternalTool.inFolder { folder in
            let path = folder.appendingPathComponent("source.mp4").path
            // B-frames with reordering; an open GOP puts pictures before each keyframe's time after it in the file.
            let x264 = gop == "open" ? "open-gop=1:keyint=48:min-keyint=48:scenecut=0" : "keyint=48:min-keyint=48:scenecut=0"
            try ExternalTool.run("/usr/bin/ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=24:duration=9",
                                        "-c:v", "libx264", "-bf", "3", "-x264-params", x264, path])
            let probed = try ExternalTool.run("/usr/bin/ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries",
                                                      "packet=pts_time,flags", "-of", "csv=p=0", path])
            let rows = probed.split(separator: "\n").map { $0.split(separator: ",") }
            let times = rows.compactMap { Double($0[0]) }.sorted()
            let keyframes = rows.filter { $0.count > 1 && $0[1].hasPrefix("K") }.compactMap { Double($0[0]) }.sorted()
            let index = try FrameIndex(file: InputFile(path: path))
            #expect(index.times.count == 216 && times.count == 216)
            #expect(zip(index.times, times).allSatisfy { abs($0 - $1) < 1e-6 })
            #expect(index.keyframes.count == keyframes.count && zip(index.keyframes, keyframes).allSatisfy { abs($0 - $1) < 1e-6 })
            #expect(index.keyframes.count >= 4)
            let plan = try ChunkPlan(index: index, length: 2)
            expectPartition(plan, index)
            #expect(plan.chunks.map(\.start) == [0, 2, 4, 6, 8], "the keyframes every 2 s")
        }
    }
}
