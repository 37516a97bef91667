import Foundation

/// A rendition's playlist as the HLS muxer wrote it, read back: for the
/// check before publishing (it must list every segment in its folder and no
/// other) and for the master playlist's bit rates.
struct HLSMediaPlaylist {
    struct Segment: Equatable {
        /// The file's name in the rendition's folder.
        let name: String
        /// Seconds, from its `#EXTINF`.
        let duration: Double
    }

    /// The fMP4 init segment (`#EXT-X-MAP`), if any.
    private(set) var initSegment: String?
    /// Seconds, from `#EXT-X-TARGETDURATION` (0 for a playlist of one
    /// picture, which then has no peak: see `peakBitrate`).
    private(set) var targetDuration = 0
    private(set) var segments: [Segment] = []

    /// Seconds of media it lists.
    var duration: Double { segments.reduce(0) { $0 + $1.duration } }

    /// Every file it names: the init segment first.
    var files: [String] { (initSegment.map { [$0] } ?? []) + segments.map(\.name) }

    /// Parses a VOD media playlist whose files are plain names in its own
    /// folder. Throws `outputCheckFailed` saying what is wrong.
    init(text: String) throws(TranscodeError) {
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        guard lines.first == "#EXTM3U" else { throw .outputCheckFailed("a playlist does not start with #EXTM3U") }
        guard lines.contains("#EXT-X-ENDLIST") else { throw .outputCheckFailed("a playlist has no #EXT-X-ENDLIST (unfinished)") }
        var pending: Double?
        for line in lines.dropFirst() where !line.isEmpty {
            if line.hasPrefix("#EXTINF:") {
                let value = line.dropFirst("#EXTINF:".count).prefix { $0 != "," }
                guard let seconds = Double(value), seconds > 0 else {
                    throw .outputCheckFailed("a playlist has a bad duration: \(DisplayText.escaped(line))")
                }
                pending = seconds
            } else if line.hasPrefix("#EXT-X-TARGETDURATION:") {
                // libav writes 0 for a ladder of one picture (40 ms, rounded).
                guard let seconds = Int(line.dropFirst("#EXT-X-TARGETDURATION:".count)), seconds >= 0 else {
                    throw .outputCheckFailed("a playlist has a bad target duration: \(DisplayText.escaped(line))")
                }
                targetDuration = seconds
            } else if line.hasPrefix("#EXT-X-MAP:") {
                guard let start = line.range(of: "URI=\""), let end = line[start.upperBound...].firstIndex(of: "\"") else {
                    throw .outputCheckFailed("a playlist has a bad #EXT-X-MAP")
                }
                initSegment = try Self.plainName(String(line[start.upperBound..<end]))
            } else if !line.hasPrefix("#") {
                guard let seconds = pending else {
                    throw .outputCheckFailed("a playlist lists \(DisplayText.escaped(line)) without a duration")
                }
                segments.append(Segment(name: try Self.plainName(line), duration: seconds))
                pending = nil
            }
        }
        guard !segments.isEmpty else { throw .outputCheckFailed("a playlist lists no segment") }
        guard lines.contains(where: { $0.hasPrefix("#EXT-X-TARGETDURATION:") }) else {
            throw .outputCheckFailed("a playlist has no #EXT-X-TARGETDURATION")
        }
    }

    /// RFC 8216's peak segment bit rate (4.3.4.2), for `sizes` of the
    /// segments by name: the largest bit rate of any run of consecutive
    /// segments that lasts from half to one and a half target durations.
    /// (A short last segment counts with the one before it.)
    func peakBitrate(sizes: [String: Int64]) -> Double {
        let target = Double(targetDuration)
        var peak = 0.0
        for first in segments.indices {
            var seconds = 0.0, bits = 0.0
            for segment in segments[first...] {
                seconds += segment.duration
                bits += Double(sizes[segment.name] ?? 0) * 8
                if seconds > 1.5 * target { break }
                if seconds >= 0.5 * target { peak = max(peak, bits / seconds) }
            }
        }
        return peak
    }

    private static func plainName(_ uri: String) throws(TranscodeError) -> String {
        guard !uri.isEmpty, !uri.contains("/"), uri != ".", uri != "..", !uri.contains(":") else {
            throw .outputCheckFailed("a playlist names \(DisplayText.escaped(uri)), not a file beside it")
        }
        return uri
    }
}

/// The master playlist a player opens first: one variant per rung, and the
/// audio as one rendition they all share (encoded once, stored once; Safari,
/// hls.js and ExoPlayer all play an audio group, and Apple's authoring
/// specification asks for one with a ladder).
struct HLSMasterPlaylist {
    struct Variant {
        /// The rung's folder.
        let name: String
        let width: Int
        let height: Int
        let framesPerSecond: Double?
        /// Bits per second, the highest segment's and over the whole,
        /// audio included.
        let peak: Int
        let average: Int
        /// RFC 6381, video then audio: `avc1.64001f,mp4a.40.2`.
        let codecs: String
    }

    var variants: [Variant]
    /// The audio rendition's folder, when there is audio.
    var audio: String?
    /// `#EXT-X-VERSION`: 7 for fMP4 segments, 3 for MPEG-TS.
    var version: Int

    static let audioGroup = "audio"

    var text: String {
        var lines = ["#EXTM3U", "#EXT-X-VERSION:\(version)", "#EXT-X-INDEPENDENT-SEGMENTS"]
        if let audio {
            lines.append("#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"\(Self.audioGroup)\",NAME=\"Audio\",DEFAULT=YES,AUTOSELECT=YES,"
                         + "CHANNELS=\"2\",URI=\"\(audio)/index.m3u8\"")
        }
        // Best first: a player starts with the first variant listed.
        for variant in variants.sorted(by: { $0.peak > $1.peak }) {
            var attributes = ["BANDWIDTH=\(variant.peak)", "AVERAGE-BANDWIDTH=\(variant.average)",
                              "RESOLUTION=\(variant.width)x\(variant.height)", "CODECS=\"\(variant.codecs)\""]
            if let rate = variant.framesPerSecond, rate.isFinite, rate > 0 {
                attributes.append("FRAME-RATE=\(String(format: "%.3f", rate))")
            }
            if audio != nil { attributes.append("AUDIO=\"\(Self.audioGroup)\"") }
            lines.append("#EXT-X-STREAM-INF:" + attributes.joined(separator: ","))
            lines.append("\(variant.name)/index.m3u8")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// RFC 6381 codec names for the master playlist, from what the encoders
/// wrote.
enum CodecName {
    /// `avc1.PPCCLL` (profile, constraint flags, level) from H.264
    /// extradata: an avcC record, or Annex B with the SPS in it.
    static func h264(extradata: UnsafeMutablePointer<UInt8>?, size: Int32) -> String {
        guard let extradata, size >= 4 else { return "avc1.640028" }
        let bytes = Array(UnsafeBufferPointer(start: extradata, count: Int(size)))
        var sps: ArraySlice<UInt8>?
        if bytes[0] == 1 {
            sps = bytes[1...3]
        } else {
            // Annex B: the byte after a start code whose NAL type is 7.
            var index = 0
            while index + 4 < bytes.count {
                if bytes[index] == 0, bytes[index + 1] == 0, bytes[index + 2] == 1, bytes[index + 3] & 0x1f == 7,
                   index + 6 < bytes.count {
                    sps = bytes[(index + 4)...(index + 6)]
                    break
                }
                index += 1
            }
        }
        guard let sps else { return "avc1.640028" }
        return "avc1." + sps.map { String(format: "%02x", $0) }.joined()
    }

    /// AAC-LC, the only audio vqueue writes.
    static let aac = "mp4a.40.2"
}
