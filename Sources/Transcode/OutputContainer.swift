/// The container an output gets, chosen by its extension. `hls` is a
/// folder (`OUT.hls/`): a ladder of renditions and their playlists.
public enum OutputContainer: String, Sendable, CaseIterable {
    case flv
    case mp4
    case mkv
    case hls

    /// The container for `path`, or `unsupportedOutput` naming the extension.
    public init(path: String) throws(TranscodeError) {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        let ext = name.contains(".") ? String(name.split(separator: ".").last!).lowercased() : ""
        switch ext {
        case "flv": self = .flv
        case "mp4", "m4v": self = .mp4
        case "mkv": self = .mkv
        case "hls": self = .hls
        default: throw .unsupportedOutput(ext.isEmpty ? "(none)" : "." + ext)
        }
    }

    /// libav's short name of the muxer.
    var muxerName: String {
        switch self {
        case .flv: return "flv"
        case .mp4: return "mp4"
        case .mkv: return "matroska"
        case .hls: return "hls"
        }
    }

    /// Muxer options: MP4 puts its index (moov) first so playback can start
    /// before the download ends.
    /// Whether the output is a folder rather than one file.
    public var isFolder: Bool { self == .hls }

    var muxerOptions: [String: String] {
        self == .mp4 ? ["movflags": "+faststart"] : [:]
    }
}
