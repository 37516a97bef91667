import Foundation
import Testing

@Suite("Transcode options do what they say")
struct TranscodeOptionsTests {
    @Test("--no-audio drops the audio stream", .timeLimit(.minutes(30)), arguments: ["flv", "mp4"])
    func noAudio(container: String) async throws {
        try await withTemporaryDirectory { directory in
            try await transcodeExpectingSuccess(Locations.fixture(Fixture.plain), to: container, in: directory,
                                                arguments: ["--no-audio"], expectAudio: false)
        }
    }

    @Test("--max-height 120 scales 1920x1080 down to 120 high, aspect kept, even width", .timeLimit(.minutes(30)))
    func maxHeightScalesDown() async throws {
        try await withTemporaryDirectory { directory in
            let run = try await transcodeExpectingSuccess(Locations.fixture("h264_aac_1080p.mp4"), to: "mp4",
                                                          in: directory, arguments: ["--max-height", "120"])
            let video = try #require(run.info.videoStreams.first)
            #expect(video.height == 120)
            #expect([212, 214].contains(video.width ?? 0), "width \(video.width ?? 0), expected 1920*120/1080 ≈ 213 made even")
        }
    }

    @Test("--max-height never scales up", .timeLimit(.minutes(30)))
    func maxHeightNeverUpscales() async throws {
        try await withTemporaryDirectory { directory in
            let run = try await transcodeExpectingSuccess(Locations.fixture("old_camera.avi"), to: "mp4",
                                                          in: directory, arguments: ["--max-height", "720"])
            #expect(run.info.videoStreams.first?.width == 320 && run.info.videoStreams.first?.height == 240)
        }
    }

    @Test("--preset 240p caps the height at 240", .timeLimit(.minutes(30)))
    func namedPresetCapsHeight() async throws {
        try await withTemporaryDirectory { directory in
            let run = try await transcodeExpectingSuccess(Locations.fixture("h264_aac_1080p.mp4"), to: "flv",
                                                          in: directory, arguments: ["--preset", "240p"])
            #expect(run.info.videoStreams.first?.height == 240)
        }
    }

    @Test("--preset 720p on a busy 180x320 upload: a bit rate for 180x320 at 25 fps (130k), not 720p's 2.5M; -b given explicitly is kept",
          .timeLimit(.minutes(30)))
    func presetBitrateFollowsTheOutputSize() async throws {
        try await withTemporaryDirectory { directory in
            let input = try await makeLongSample(in: directory, named: "phone.mp4", seconds: 3, size: "180x320", noisy: true)
            let preset = try await transcodeExpectingSuccess(input, to: "mp4", in: directory, arguments: ["--preset", "720p"])
            let video = try #require(preset.info.videoStreams.first)
            #expect(video.width == 180 && video.height == 320, "never scaled up")
            // 2.5 Mbit/s x (180x320x25) / (1280x720x30) = 130 kbit/s. Before the cap this noisy
            // picture took well over 1 Mbit/s.
            let scaled = try #require(video.bitRate.flatMap(Double.init))
            #expect((65_000...260_000).contains(scaled), "video bitrate \(Int(scaled)) bit/s under --preset 720p")

            let explicit = try await transcodeExpectingSuccess(input, to: "mkv", in: directory,
                                                               arguments: ["--preset", "720p", "-b", "600k"])
            // The whole file's rate (MKV keeps none per stream): 600k of video and 128k of audio,
            // against about 260k had the video been scaled.
            let given = try #require(explicit.info.format.bitRate.flatMap(Double.init))
            #expect(given > 450_000, "an explicit -b 600k is not scaled: \(Int(given)) bit/s in all")
        }
    }

    @Test("-b 200k holds the video near 200 kbit/s on a busy picture", .timeLimit(.minutes(30)),
          arguments: [["-b", "200k"], ["--video-bitrate", "200000"], ["--video-bitrate", "0.2M"]])
    func videoBitrateIsHonoured(option: [String]) async throws {
        try await withTemporaryDirectory { directory in
            let input = try await makeLongSample(in: directory, named: "busy.mp4", seconds: 3, noisy: true)
            let run = try await transcodeExpectingSuccess(input, to: "mp4", in: directory, arguments: option)
            let bitrate = try #require(run.info.videoStreams.first?.bitRate.flatMap(Double.init))
            // The same source at the default CRF 23 needs about 8 Mbit/s, so this range shows the cap works.
            #expect((100_000...320_000).contains(bitrate), "video bitrate \(Int(bitrate)) bit/s for \(option)")
        }
    }

    @Test("MP4 output has its index (moov) before the media (mdat)", .timeLimit(.minutes(30)),
          arguments: ["mp4", "m4v"])
    func mp4IsFastStart(extension ext: String) async throws {
        try await withTemporaryDirectory { directory in
            let run = try await transcodeExpectingSuccess(Locations.fixture("old_camera.avi"), to: ext, in: directory)
            let boxes = try topLevelBoxTypes(run.output)
            let moov = try #require(boxes.firstIndex(of: "moov"), "no moov box: \(boxes)")
            let mdat = try #require(boxes.firstIndex(of: "mdat"), "no mdat box: \(boxes)")
            #expect(moov < mdat, "top-level boxes \(boxes)")
        }
    }

    @Test("--crf, --x264-preset, --audio-bitrate, --threads and --timeout are accepted", .timeLimit(.minutes(30)))
    func encoderKnobsAccepted() async throws {
        try await withTemporaryDirectory { directory in
            try await transcodeExpectingSuccess(Locations.fixture("old_camera.avi"), to: "mkv", in: directory,
                                                arguments: ["--crf", "30", "--x264-preset", "superfast",
                                                            "--audio-bitrate", "96k", "--threads", "1",
                                                            "--timeout", "10m"])
        }
    }

    /// x264's ultrafast turns off CABAC and B-frames and then labels the stream Constrained Baseline;
    /// the contract promises Main or High whatever the speed preset.
    @Test("the fastest x264 preset still gives Main or High profile", .timeLimit(.minutes(30)))
    func ultrafastKeepsProfile() async throws {
        try await withTemporaryDirectory { directory in
            try await transcodeExpectingSuccess(Locations.fixture("old_camera.avi"), to: "mp4", in: directory,
                                                arguments: ["--x264-preset", "ultrafast"])
        }
    }
}
