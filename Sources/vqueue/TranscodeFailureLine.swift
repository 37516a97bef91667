import Foundation

/// The last line a `vqueue transcode --progress-json` prints on stdout when
/// it fails, for the process supervising it: the one-line message, its
/// stable code (`TranscodeError.code`) and whether another attempt could
/// succeed. Progress lines before it are unchanged.
struct TranscodeFailureLine: Codable, Equatable {
    var error: String
    var errorCode: String
    var permanent: Bool

    enum CodingKeys: String, CodingKey {
        case error, permanent
        case errorCode = "error_code"
    }

    func print() {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard var line = try? encoder.encode(self) else { return }
        line.append(UInt8(ascii: "\n"))
        FileHandle.standardOutput.write(line)
    }
}
