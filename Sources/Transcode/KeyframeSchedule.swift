import CLibAV

/// Where every rung of an HLS ladder puts an IDR frame: on the first frame
/// at or after each multiple of the segment length, counted from the first
/// frame (or, for a chunk of a split transcode, from the whole video's). Each rung keeps its own schedule, and all see the same frames
/// with the same timestamps, so their keyframes (and the segments the HLS
/// muxer cuts at them) line up exactly, whatever x264 adds at scene cuts.
final class KeyframeSchedule {
    let segmentSeconds: Double
    private var origin: Double?
    private var nextBoundary = 0

    init(segmentSeconds: Double, origin: Double? = nil) {
        self.segmentSeconds = segmentSeconds
        self.origin = origin
    }

    /// Whether the frame at `seconds` must be a keyframe (it is called once
    /// per frame, in order).
    func isBoundary(at seconds: Double) -> Bool {
        let origin = origin ?? seconds
        self.origin = origin
        // A millionth of a second of slack: 4.0 computed as 3.9999999.
        guard seconds - origin + 1e-6 >= Double(nextBoundary) * segmentSeconds else { return false }
        while seconds - origin + 1e-6 >= Double(nextBoundary) * segmentSeconds { nextBoundary += 1 }
        return true
    }
}
