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
    private var thumbnails: [OwnedFrame] = []
    private var timeBase = AVRational(num: 1, den: 1)
    private var origin: Double?

    /// For a video that lasts about `duration` seconds (nil: unknown).
    init(duration: Double?) {
        interval = max(1, ((duration ?? 0) / Double(Self.maxTiles)).rounded(.up))
    }

    func observe(_ frame: UnsafeMutablePointer<AVFrame>, timeBase: AVRational) throws(TranscodeError) {
        let seconds = Double(frame.pointee.pts) * av_q2d(timeBase)
        let origin = origin ?? seconds
        self.origin = origin
        let at = seconds - origin
        guard at + 1e-6 >= Double(thumbnails.count) * interval else { return }
        let kept = try OwnedFrame()
        guard av_frame_ref(kept.pointer, frame) >= 0 else { throw MemoryLimit.outOfMemory("keeping a storyboard picture") }
        self.timeBase = timeBase
        thumbnails.append(kept)
        if thumbnails.count > Self.maxTiles {
            thumbnails = thumbnails.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
            interval *= 2
        }
    }

    /// The grid as JPEG and its WebVTT track, whose cues point at the grid
    /// as `gridURL` (relative to the track), for a video lasting `duration`
    /// seconds; nil when no picture was seen.
    func images(duration: Double, gridURL: String) throws(TranscodeError) -> (jpeg: [UInt8], vtt: String)? {
        guard let first = thumbnails.first else { return nil }
        let width = Int(first.pointer.pointee.width), height = Int(first.pointer.pointee.height)
        let aspect = first.pointer.pointee.sample_aspect_ratio
        let displayWidth = Double(width) * (aspect.num > 0 && aspect.den > 0 ? av_q2d(aspect) : 1)
        func even(_ value: Double) -> Int { max(2, Int((value / 2).rounded()) * 2) }
        let (tileWidth, tileHeight) = displayWidth >= Double(height)
            ? (Self.tileLongSide, even(Double(Self.tileLongSide) * Double(height) / displayWidth))
            : (even(Double(Self.tileLongSide) * displayWidth / Double(height)), Self.tileLongSide)
        let count = thumbnails.count
        let columns = min(Self.columns, count)
        let rows = (count + columns - 1) / columns
        var bytes: [UInt8]?
        try JPEGEncoder.filter(thumbnails.map(\.pointer), timeBase: timeBase,
                               chain: "scale=\(tileWidth):\(tileHeight):flags=bicubic,setsar=1,tile=\(columns)x\(rows)") {
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
