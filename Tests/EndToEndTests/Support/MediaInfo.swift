import Foundation
import Testing

/// What `ffprobe -show_format -show_streams -of json` says about a file: the independent judge.
struct MediaInfo: Decodable, Sendable {
    struct Stream: Decodable, Sendable {
        let index: Int
        let codecName: String?
        let codecType: String?
        let profile: String?
        /// The codec's level as ffprobe prints it (H.264: 31 for level 3.1).
        let level: Int?
        let width: Int?
        let height: Int?
        let pixFmt: String?
        let sampleAspectRatio: String?
        let fieldOrder: String?
        let rFrameRate: String?
        let avgFrameRate: String?
        let sampleRate: String?
        let channels: Int?
        let channelLayout: String?
        let duration: String?
        let bitRate: String?
        let nbFrames: String?
        let disposition: [String: Int]?
        let tags: [String: String]?
        let sideDataList: [SideData]?

        var isDefault: Bool { disposition?["default"] == 1 }

        /// Rotation from a display matrix or the legacy `rotate` tag, in ffprobe's sign convention.
        var rotation: Double? {
            if let matrix = sideDataList?.first(where: { $0.rotation != nil }), let degrees = matrix.rotation {
                return degrees
            }
            return tags?["rotate"].flatMap(Double.init)
        }

        /// Frames per second, from the average rate if known, else the base rate.
        var framesPerSecond: Double? {
            [avgFrameRate, rFrameRate].compactMap { $0.flatMap(parseRatio) }.first { $0 > 0 }
        }

        /// Width over height as displayed, sample aspect ratio applied.
        var displayAspect: Double? {
            guard let width, let height, height > 0 else { return nil }
            let sar = sampleAspectRatio.flatMap(parseRatio).flatMap { $0 > 0 ? $0 : nil } ?? 1
            return Double(width) * sar / Double(height)
        }
    }

    struct SideData: Decodable, Sendable {
        let sideDataType: String?
        let rotation: Double?
    }

    struct Format: Decodable, Sendable {
        let formatName: String?
        let duration: String?
        let bitRate: String?
        let size: String?
        let nbStreams: Int?
    }

    let streams: [Stream]
    let format: Format

    var videoStreams: [Stream] { streams.filter { $0.codecType == "video" } }
    var audioStreams: [Stream] { streams.filter { $0.codecType == "audio" } }
    var duration: Double? { format.duration.flatMap(Double.init) }
}

/// "30000/1001" -> 29.97; nil for "0/0" and junk.
func parseRatio(_ text: String) -> Double? {
    let parts = text.split(whereSeparator: { $0 == "/" || $0 == ":" }).compactMap { Double($0) }
    guard parts.count == 2, parts[1] != 0 else { return parts.count == 1 ? parts[0] : nil }
    return parts[0] / parts[1]
}

/// Runs ffprobe on `file` and decodes its JSON.
func probeMedia(_ file: URL) async throws -> MediaInfo {
    let result = try await runProcess(Locations.ffprobe,
                                      ["-v", "error", "-show_format", "-show_streams", "-of", "json", file.path],
                                      timeout: .seconds(60))
    try #require(result.exitCode == 0, "ffprobe failed on \(file.lastPathComponent): \(result)")
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    return try decoder.decode(MediaInfo.self, from: result.stdout)
}

/// Presentation times (seconds) of the first video stream's packets, in decode order.
func videoPacketTimes(_ file: URL) async throws -> [Double] {
    let result = try await runProcess(Locations.ffprobe,
                                      ["-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time",
                                       "-of", "csv=p=0", file.path],
                                      timeout: .seconds(60))
    try #require(result.exitCode == 0, "ffprobe failed on \(file.lastPathComponent): \(result)")
    return result.stdoutLines.compactMap { Double($0.trimmingCharacters(in: CharacterSet(charactersIn: ", "))) }
}

/// Number of frames the first video stream really decodes to.
func decodedVideoFrameCount(_ file: URL) async throws -> Int {
    let result = try await runProcess(Locations.ffprobe,
                                      ["-v", "error", "-count_frames", "-select_streams", "v:0",
                                       "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", file.path],
                                      timeout: .seconds(120))
    try #require(result.exitCode == 0, "ffprobe failed on \(file.lastPathComponent): \(result)")
    let text = result.stdoutText.trimmingCharacters(in: CharacterSet.whitespacesAndNewlines.union(CharacterSet(charactersIn: ",")))
    return try #require(Int(text), "frame count: \(text)")
}
