/// The demuxers an input may be read by: each reads one self-contained file
/// from the bytes it is given and never opens another (libav's
/// `format_whitelist`). Left out on purpose: playlists and lists of other
/// files (`hls`, `dash`, `concat`), image sequences and patterns (`image2`),
/// session descriptions (`sdp`, `rtp`, `rtsp`), and anything that names a
/// device or URL; an upload that libav would read as one of those could make
/// a worker read files or hosts its submitter has no right to.
enum SingleFileFormats {
    /// libav's short demuxer names (a demuxer registered under several, like
    /// "mov,mp4,m4a,3gp,3g2,mj2", matches by any of them).
    static let allowed = [
        "mov", "mp4", "matroska", "webm", "avi", "flv", "mpegts", "mpeg", "mpegvideo", "asf", "ogg", "wav",
        "mp3", "aac", "flac", "h264", "hevc", "m4v", "yuv4mpegpipe", "dv", "gif", "mxf", "nut", "ivf", "rm",
        "mjpeg", "h263", "vc1", "obu",
    ]

    /// The list as libav's `format_whitelist` option takes it.
    static var whitelist: String { allowed.joined(separator: ",") }

    /// Whether libav's demuxer `name` (possibly "a,b,c") is allowed.
    static func allows(_ name: String) -> Bool {
        name.split(separator: ",").contains { allowed.contains(String($0)) }
    }

    /// What a refused demuxer means to a user, for the ones that read other
    /// files; nil for those that are merely not accepted.
    static func multiFileKind(_ name: String) -> String? {
        let names = Set(name.split(separator: ",").map(String.init))
        if !names.isDisjoint(with: ["hls", "applehttp"]) { return "it is an HLS playlist" }
        if !names.isDisjoint(with: ["dash", "webm_dash_manifest"]) { return "it is a DASH manifest" }
        if names.contains("concat") { return "it is an ffconcat list of other files" }
        if names.contains(where: { $0.hasPrefix("image2") || $0.hasSuffix("_pipe") }) {
            return "it is an image or an image sequence"
        }
        if !names.isDisjoint(with: ["sdp", "rtp", "rtsp", "sap"]) { return "it describes a network stream" }
        if !names.isDisjoint(with: ["tee", "ffmetadata", "lavfi", "mcc", "imf"]) {
            return "libav reads it as \(name), which refers to other files"
        }
        return nil
    }
}
