import CLibAV
import Foundation

/// The pictures a player shows while the viewer scrubs: one small
/// thumbnail every `interval` seconds, laid out in one grid image
/// (`storyboard.jpg`, 10 across), and a WebVTT file whose cues point at
/// each thumbnail (`storyboard.jpg#xywh=x,y,w,h`) and cover the whole
/// video without a gap. The interval is chosen so that the grid holds at
/// most 100 thumbnails: it starts from the duration the container claims,
/// and doubles (keeping every other thumbnail) if the video runs longer.
final class Storyboard: FrameObserver {
    static let columns = 10
    static let maxTiles = 100
    /// The thumbnails' long side, in pixels.
    static let tileLongSide = 160

    private(set) var interval: Double
    private(set) var thumbnails: [OwnedFrame] = []
    private(set) var timeBase = AVRational(num: 1, den: 1)
    private var origin: Double?
    /// The next thumbnail is the first picture at or after this multiple
    /// of the interval.
    private var nextIndex = 0
    /// Whether the interval doubles when the grid is full (not in a chunk,
    /// which holds a part of the thumbnails: the stitch does it).
    private var doubles = true

    /// For a video that lasts about `duration` seconds (nil: unknown).
    init(duration: Double?) {
        interval = Self.interval(forDuration: duration)
    }

    /// A stitch's storyboard (`SplitStills`): the thumbnails its chunks
    /// kept, every `interval` seconds, are given to it in order.
    init(interval: Double) {
        self.interval = interval
    }

    /// A chunk's thumbnails (`ChunkStills`): every `interval` seconds from
    /// the whole video's first picture (`origin`), the first due after the
    /// picture before the chunk (`after`).
    init(interval: Double, origin: Double, after: Double?) {
        self.interval = interval
        self.origin = origin
        doubles = false
        if let after { nextIndex = Int(((after - origin + 1e-6) / interval).rounded(.down)) + 1 }
    }

    /// The interval for a video lasting about `duration` seconds.
    static func interval(forDuration duration: Double?) -> Double {
        max(1, ((duration ?? 0) / Double(maxTiles)).rounded(.up))
    }

    func observe(_ frame: UnsafeMutablePointer<AVFrame>, timeBase: AVRational) throws(TranscodeError) {
        let seconds = Double(frame.pointee.pts) * av_q2d(timeBase)
        let origin = origin ?? seconds
        self.origin = origin
        let at = seconds - origin
        guard at + 1e-6 >= Double(nextIndex) * interval else { return }
        let kept = try OwnedFrame()
        guard av_frame_ref(kept.pointer, frame) >= 0 else { throw MemoryLimit.outOfMemory("keeping a storyboard picture") }
        self.timeBase = timeBase
        thumbnails.append(kept)
        nextIndex += 1
        if doubles && thumbnails.count > Self.maxTiles {
            thumbnails = thumbnails.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
            interval *= 2
            nextIndex = thumbnails.count
        }
    }

    /// The size of a thumbnail of `frame` (its long side `tileLongSide`,
    /// its display shape kept, even), and the filter chain that makes one.
    static func tile(of frame: UnsafeMutablePointer<AVFrame>) -> (width: Int, height: Int, chain: String) {
        let width = Int(frame.pointee.width), height = Int(frame.pointee.height)
        let aspect = frame.pointee.sample_aspect_ratio
        let displayWidth = Double(width) * (aspect.num > 0 && aspect.den > 0 ? av_q2d(aspect) : 1)
        func even(_ value: Double) -> Int { max(2, Int((value / 2).rounded()) * 2) }
        let (tileWidth, tileHeight) = displayWidth >= Double(height)
            ? (Self.tileLongSide, even(Double(Self.tileLongSide) * Double(height) / displayWidth))
            : (even(Double(Self.tileLongSide) * displayWidth / Double(height)), Self.tileLongSide)
        return (tileWidth, tileHeight, "scale=\(tileWidth):\(tileHeight):flags=bicubic,setsar=1")
    }

    /// The grid as JPEG and its WebVTT track, whose cues point at the grid
    /// as `gridURL` (relative to the track), for a video lasting `duration`
    /// seconds; nil when no picture was seen.
    func images(duration: Double, gridURL: String) throws(TranscodeError) -> (jpeg: [UInt8], vtt: String)? {
        guard let first = thumbnails.first else { return nil }
        let (tileWidth, tileHeight, scale) = Self.tile(of: first.pointer)
        let count = thumbnails.count
        let columns = min(Self.columns, count)
        let rows = (count + columns - 1) / columns
        var bytes: [UInt8]?
        try JPEGEncoder.filter(thumbnails.map(\.pointer), timeBase: timeBase,
                               chain: scale + ",tile=\(columns)x\(rows)") {
            (grid) throws(TranscodeError) in
            if bytes == nil { bytes = try JPEGEncoder.encode(grid) }
        }
        guard let bytes else { return nil }
        var cues = ["WEBVTT", ""]
        let total = max(duration, Double(count - 1) * interval + 0.001)
        for index in 0..<count {
            let start = Double(index) * interval
            let stop = index == count - 1 ? total : min(total, Double(index + 1) * interval)
            let x = (index % columns) * tileWidth, y = (index / columns) * tileHeight
            cues.append("\(Self.timestamp(start)) --> \(Self.timestamp(stop))")
            cues.append("\(gridURL)#xywh=\(x),\(y),\(tileWidth),\(tileHeight)")
            cues.append("")
        }
        return (bytes, cues.joined(separator: "\n"))
    }

    /// A file name as a relative URL: every byte but letters, digits and
    /// `-._~` percent-encoded, so a space, a `#` or a `:` in OUT's name
    /// cannot change what a player fetches.
    static func reference(to name: String) -> String {
        var url = ""
        for byte in PathEncoding.bytes(of: name) {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                url.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                url += String(format: "%%%02X", byte)
            }
        }
        return url
    }

    /// `HH:MM:SS.mmm`.
    static func timestamp(_ seconds: Double) -> String {
        let milliseconds = Int((seconds * 1000).rounded())
        return String(format: "%02d:%02d:%02d.%03d", milliseconds / 3_600_000, milliseconds / 60_000 % 60,
                      milliseconds / 1000 % 60, milliseconds % 1000)
    }
}
