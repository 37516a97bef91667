/// The media in Fixtures/ (made by Fixtures/make-fixtures.sh), grouped by what vqueue must do with them.
enum Fixture {
    /// Inputs vqueue must turn into web video.
    static let transcodable = [
        "old_camera.avi", "h264_aac_1080p.mp4", "vp9_opus.webm", "rotated_90.mp4", "odd_641x479.mkv",
        "video_only.mp4", "surround_51.mkv", "vfr.mkv", "tenbit_420.mkv", "interlaced.ts", "rgb_qtrle.mov",
        "one_frame.mp4", "two_audio.mkv", "bitflip.mp4",
    ]

    /// Inputs vqueue must refuse with exit 1 and one line naming the file.
    static let refused = [
        "audio_only.m4a", "zero_bytes.mp4", "text_file.avi", "no_moov.mp4", "huge_dimensions.mp4",
        "huge_dimensions.h264", "truncated_30pct.mp4",
    ]

    /// The output containers vqueue writes.
    static let containers = ["flv", "mp4", "mkv"]

    /// A small, clean input (320x240, 1 s, H.264 + AAC) for tests about something other than media.
    static let small = "rotated_90.mp4"
    /// A small clean input with plain stereo-compatible audio and no rotation.
    static let plain = "h264_aac_1080p.mp4"
}
