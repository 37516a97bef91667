/// The container an output file gets, chosen by its extension.
public enum OutputContainer: String, Sendable, CaseIterable {
    case flv
    case mp4
    case mkv

    /// The container for `path`, or `unsupportedOutput` naming the extension.
    public init(path: String) throws(TranscodeError) {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        let ext = name.contains(".") ? String(name.split(separator: ".").last!).lowercased() : ""
        switch ext {
        case "flv": self = .flv
        case "mp4", "m4v": self = .mp4
        case "mkv": self = .mkv
        default: throw .unsupportedOutput(ext.isEmpty ? "(none)" : "." + ext)
        }
    }

    /// libav's short name of the muxer.
    var muxerName: String {
        switch self {
        case .flv: return "flv"
        case .mp4: return "mp4"
        case .mkv: return "matroska"
        }
    }

    /// Muxer options: MP4 puts its index (moov) first so playback can start
    /// before the download ends.
    var muxerOptions: [String: String] {
        self == .mp4 ? ["movflags": "+faststart"] : [:]
    }
}
