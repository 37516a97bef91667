/// Named output sizes for the web (`--preset 720p`): each sets a maximum
/// height and the bitrates that suit it. Options given explicitly win.
public enum WebPreset: String, CaseIterable, Sendable {
    case p240 = "240p"
    case p360 = "360p"
    case p480 = "480p"
    case p720 = "720p"
    case p1080 = "1080p"

    public var maxHeight: Int {
        switch self {
        case .p240: return 240
        case .p360: return 360
        case .p480: return 480
        case .p720: return 720
        case .p1080: return 1080
        }
    }

    public var videoBitrate: Int {
        switch self {
        case .p240: return 400_000
        case .p360: return 800_000
        case .p480: return 1_200_000
        case .p720: return 2_500_000
        case .p1080: return 5_000_000
        }
    }

    public var audioBitrate: Int {
        switch self {
        case .p240: return 64_000
        case .p360: return 96_000
        case .p480, .p720: return 128_000
        case .p1080: return 192_000
        }
    }

    /// The picture the video bit rate is meant for: 16:9 at the preset's
    /// height, 30 frames a second, in pixels per second. A smaller or slower
    /// output gets proportionally less (`TranscodeOptions.videoBitratePixelRate`).
    public var pixelRate: Int {
        let width = (maxHeight * 16 / 9 + 1) / 2 * 2
        return width * maxHeight * 30
    }

    /// One line for `--help` and the README.
    public var summary: String {
        "\(rawValue): max height \(maxHeight), video \(videoBitrate / 1000)k, audio \(audioBitrate / 1000)k"
    }
}
