import Foundation
import Transcode

/// The payload of a queued transcode: what `vqueue submit` checked and the
/// worker's child will do. Paths are absolute.
public struct TranscodeJob: Codable, Equatable, Sendable {
    public static let kind = "transcode"

    public var input: String
    public var output: String
    public var options: TranscodeOptions
    public var overwrite: Bool

    public init(input: String, output: String, options: TranscodeOptions, overwrite: Bool) {
        self.input = input
        self.output = output
        self.options = options
        self.overwrite = overwrite
    }

    public func encoded() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    public static func decode(_ payload: String) -> TranscodeJob? {
        try? JSONDecoder().decode(TranscodeJob.self, from: Data(payload.utf8))
    }

    /// The container: the output's extension, checked at submit.
    public var container: OutputContainer {
        (try? OutputContainer(path: output)) ?? .mp4
    }
}
