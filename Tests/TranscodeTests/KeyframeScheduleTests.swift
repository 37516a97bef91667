import Testing
@testable import Transcode

/// Where an HLS rung's IDR frames go: the first picture at or after each multiple of the segment
/// length, counted from the first picture; a split transcode's chunk counts from the whole video's
/// first picture, so its rungs put them where one transcode's would.
@Suite("Keyframe schedules: the same boundaries for a whole video and for its chunks")
struct KeyframeScheduleTests {
    /// The pictures among `times` the schedule marks.
    func marked(_ times: [Double], segment: Double, origin: Double? = nil) -> [Double] {
        let schedule = KeyframeSchedule(segmentSeconds: segment, origin: origin)
        return times.filter { schedule.isBoundary(at: $0) }
    }

    @Test("29.97 pictures a second from 0.5 s, 4 s segments: a chunk from any picture marks the whole's boundaries in it")
    func chunksMarkTheWholesBoundaries() {
        let times = (0..<600).map { 0.5 + Double($0) * 1001 / 30000 }
        let whole = marked(times, segment: 4)
        #expect(whole.count == 5 && whole.first == 0.5)
        for cut in [37, 120, 121, 239, 480] {
            let chunk = Array(times[cut...])
            // A chunk's first picture is an IDR frame anyway (a new encoder): marked or not, it is
            // a cut only if the whole marks it.
            let own = marked(chunk, segment: 4, origin: times[0]).dropFirst()
            #expect(Array(own) == whole.filter { $0 > chunk[0] }, "cut at picture \(cut)")
        }
    }
}
