/// Where a long video is cut to be encoded in pieces (`submit --split`):
/// chunk k holds exactly the source pictures whose presentation time is in
/// [start_k, start_k+1), the last one the rest. Each cut is placed on a
/// source keyframe near a multiple of the chunk length when there is one,
/// so that a chunk's decoder starts where its pictures do; otherwise on the
/// picture nearest that multiple, its decoder starting at the keyframe
/// before it (`seekFrom`) and dropping the pictures before `start`.
///
/// Times are seconds on the source's clock (`FrameIndex`), compared
/// exactly: a picture belongs to one chunk, whatever its spacing (variable
/// frame rates keep their times).
public struct ChunkPlan: Sendable, Equatable, Codable {
    public struct Chunk: Sendable, Equatable, Codable {
        public var index: Int
        /// The first picture's presentation time (inclusive).
        public var start: Double
        /// The next chunk's start (exclusive); nil for the last chunk.
        public var end: Double?
        /// The keyframe at or before `start` that decoding begins at.
        public var seekFrom: Double
        /// How many source pictures the chunk holds.
        public var frames: Int
        /// The whole video's first picture (chunk 0's start): where an HLS
        /// ladder's segments and the still pictures' samples are counted
        /// from. Nil in plans made before it was kept: the chunk's start.
        public var origin: Double? = nil
        /// The last picture before the chunk (nil for chunk 0): a sample due
        /// after it and before `start` falls on the chunk's first picture.
        public var after: Double? = nil
    }

    public var chunks: [Chunk]
    /// The source's pictures, all chunks together.
    public var frames: Int { chunks.reduce(0) { $0 + $1.frames } }

    /// How far from a multiple of the chunk length a keyframe may be and
    /// still be taken as the cut: a quarter of the length, at most 5 s.
    public static func keyframeReach(length: Double) -> Double { min(length / 4, 5) }

    /// Cuts `index` into chunks of about `length` seconds. Throws when the
    /// source has no pictures.
    public init(index: FrameIndex, length: Double) throws(TranscodeError) {
        let times = index.times
        guard let first = times.first, let last = times.last else { throw .nothingDecoded }
        precondition(length > 0, "a chunk length is positive")
        let reach = Self.keyframeReach(length: length)
        var starts = [first]
        var target = first + length
        while target <= last {
            let previous = starts.last!
            let cut = index.keyframe(nearest: target, within: reach, after: previous)
                ?? index.time(atOrAfter: target)
            if let cut, cut > previous { starts.append(cut) }
            target += length
        }
        var chunks: [Chunk] = []
        var position = 0
        for (number, start) in starts.enumerated() {
            let end = number + 1 < starts.count ? starts[number + 1] : nil
            let from = position
            while position < times.count, end.map({ times[position] < $0 }) ?? true { position += 1 }
            chunks.append(Chunk(index: number, start: start, end: end, seekFrom: index.keyframe(atOrBefore: start) ?? first,
                                frames: position - from, origin: first, after: from > 0 ? times[from - 1] : nil))
        }
        self.chunks = chunks
    }
}
