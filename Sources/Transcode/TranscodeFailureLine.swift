import Foundation

/// The last line a `vqueue transcode --progress-json` prints on stdout when
/// it fails, for the process supervising it: the one-line message, its
/// stable code (`TranscodeError.code`) and whether another attempt could
/// succeed. Progress lines before it are unchanged.
public struct TranscodeFailureLine: Codable, Equatable, Sendable {
    public var error: String
    public var errorCode: String
    public var permanent: Bool

    public init(error: String, errorCode: String, permanent: Bool) {
        self.error = error
        self.errorCode = errorCode
        self.permanent = permanent
    }

    /// The line as a supervisor reads it back, or nil for any other line.
    public static func decode(_ line: String) -> TranscodeFailureLine? {
        guard line.contains("\"error_code\"") else { return nil }
        return try? JSONDecoder().decode(TranscodeFailureLine.self, from: Data(line.utf8))
    }

    enum CodingKeys: String, CodingKey {
        case error, permanent
        case errorCode = "error_code"
    }

    public func print() {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard var line = try? encoder.encode(self) else { return }
        line.append(UInt8(ascii: "\n"))
        FileHandle.standardOutput.write(line)
    }
}
