import Foundation
import Transcode

/// A succeeded transcode's `result`, as every JSON view of the job shows it
/// (README, "JSON fields"): the files written, with their sizes, and what
/// the checked output holds. Celery's `AsyncResult.result`, for video.
public struct TranscodeResult: Codable, Sendable, Equatable {
    /// One file written.
    public struct File: Codable, Sendable, Equatable {
        /// As the submitter named it (before any worker's `--path-map`).
        public var path: String
        public var size: Int64
    }

    public var files: [File]
    public var container: String
    /// Seconds.
    public var duration: Double
    public var width: Int
    public var height: Int
    /// Bits per second, over the whole duration.
    public var videoBitrate: Int
    /// Nil when the output has no audio.
    public var audioBitrate: Int?
    public var frames: Int
    /// An HLS ladder's renditions; nil for a single file.
    public var renditions: [RenditionFacts]?

    enum CodingKeys: String, CodingKey {
        case files, container, duration, width, height, frames, renditions
        case videoBitrate = "video_bitrate"
        case audioBitrate = "audio_bitrate"
    }

    public init(output: String, container: OutputContainer, facts: OutputFacts) {
        // A folder output lists every file in it, by its path under OUT; a
        // single file itself, then its companions beside it.
        files = facts.files.map { $0.map { File(path: output + "/" + $0.path, size: $0.size) } }
            ?? [File(path: output, size: facts.size)]
            + (facts.companions ?? []).map { File(path: CompanionFile.path(of: $0.path, beside: output), size: $0.size) }
        renditions = facts.renditions
        self.container = container.rawValue
        duration = (facts.duration * 1000).rounded() / 1000
        width = facts.width
        height = facts.height
        videoBitrate = facts.videoBitRate
        audioBitrate = facts.audioBitRate
        frames = facts.frames
    }

    public func encoded() -> String? {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) }
    }

    /// From a job's stored result (nil for a job of an earlier release,
    /// which stored something else).
    public static func decode(_ text: String?) -> TranscodeResult? {
        text.flatMap { try? JSONDecoder().decode(TranscodeResult.self, from: Data($0.utf8)) }
    }
}
