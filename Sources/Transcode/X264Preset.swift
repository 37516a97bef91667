/// x264's speed/size trade-offs, fastest first (`--x264-preset`).
public enum X264Preset: String, CaseIterable, Sendable, Codable {
    case ultrafast, superfast, veryfast, faster, fast, medium, slow, slower, veryslow
}
