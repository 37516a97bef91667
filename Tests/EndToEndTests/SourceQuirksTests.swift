import Foundation
import Testing

/// Inputs that need more than a re-encode to look right on the web.
@Suite("Awkward sources come out right")
struct SourceQuirksTests {
    @Test("a 90° rotated phone video comes out portrait and upright", .timeLimit(.minutes(30)),
          arguments: ["mp4", "flv"])
    func rotatedComesOutUpright(container: String) async throws {
        try await withTemporaryDirectory { directory in
            let run = try await transcodeExpectingSuccess(Locations.fixture("rotated_90.mp4"), to: container,
                                                          in: directory)
            let video = try #require(run.info.videoStreams.first)
            #expect(video.width == 180 && video.height == 320, "got \(video.width ?? 0)x\(video.height ?? 0)")
            // ffmpeg applies the source's display matrix when decoding, so its picture is the upright reference.
            let reference = try await thumbnail(Locations.fixture("rotated_90.mp4"))
            let produced = try await thumbnail(run.output)
            let difference = meanDifference(reference, produced)
            #expect(difference < 20, "picture differs from the upright reference by \(difference) (turned the wrong way?)")
        }
    }

    @Test("641x479 becomes even-sized with the same shape", .timeLimit(.minutes(30)))
    func oddSizeBecomesEven() async throws {
        try await withTemporaryDirectory { directory in
            let input = Locations.fixture("odd_641x479.mkv")
            let run = try await transcodeExpectingSuccess(input, to: "mp4", in: directory)
            let video = try #require(run.info.videoStreams.first)
            let width = try #require(video.width), height = try #require(video.height)
            #expect((638...642).contains(width) && (476...480).contains(height), "got \(width)x\(height)")
            let sourceAspect = try #require(try await probeMedia(input).videoStreams.first?.displayAspect)
            let outputAspect = try #require(video.displayAspect)
            #expect(abs(outputAspect / sourceAspect - 1) < 0.01, "aspect \(outputAspect) vs source \(sourceAspect)")
        }
    }

    @Test("interlaced MPEG-2 comes out progressive", .timeLimit(.minutes(30)), arguments: ["mp4", "mkv"])
    func interlacedIsDeinterlaced(container: String) async throws {
        try await withTemporaryDirectory { directory in
            let run = try await transcodeExpectingSuccess(Locations.fixture("interlaced.ts"), to: container,
                                                          in: directory)
            let fieldOrder = run.info.videoStreams.first?.fieldOrder
            #expect(fieldOrder == nil || fieldOrder == "progressive", "field_order \(fieldOrder ?? "nil")")
        }
    }

    @Test("really interlaced pictures come out without combing", .timeLimit(.minutes(30)))
    func combingIsRemoved() async throws {
        try await withTemporaryDirectory { directory in
            let input = try await makeInterlacedSample(in: directory)
            let sourceVerdict = try await detectInterlacing(input)
            try #require(sourceVerdict.interlaced > sourceVerdict.progressive, "sample not combed: \(sourceVerdict)")
            let run = try await transcodeExpectingSuccess(input, to: "mp4", in: directory)
            let verdict = try await detectInterlacing(run.output)
            #expect(verdict.progressive > 4 * verdict.interlaced, "output still combed: \(verdict)")
        }
    }

    @Test("of two audio tracks the default-flagged one (stereo 880 Hz) is kept", .timeLimit(.minutes(30)))
    func defaultAudioTrackWins() async throws {
        try await withTemporaryDirectory { directory in
            let run = try await transcodeExpectingSuccess(Locations.fixture("two_audio.mkv"), to: "mp4", in: directory)
            let pitch = try await toneFrequency(run.output)
            #expect(abs(pitch - 880) < 80, "tone \(pitch) Hz; the default track is 880 Hz, the other 440 Hz")
        }
    }

    @Test("5.1 audio is downmixed to stereo that still carries the sound", .timeLimit(.minutes(30)))
    func surroundIsDownmixed() async throws {
        try await withTemporaryDirectory { directory in
            let run = try await transcodeExpectingSuccess(Locations.fixture("surround_51.mkv"), to: "mkv", in: directory)
            // Six full-scale tones folded into two channels must stay clearly audible, not cancel out
            // or get dropped with the channels a naive conversion discards.
            let sourceLevel = try await audioLevel(Locations.fixture("surround_51.mkv"))
            let level = try await audioLevel(run.output)
            #expect(level > 0.05 && level > sourceLevel / 4, "downmix level \(level) vs source (mono mix) \(sourceLevel)")
        }
    }

    @Test("variable frame rate keeps its frame timestamps", .timeLimit(.minutes(30)), arguments: ["mkv", "mp4"])
    func variableFrameRateKeepsTimestamps(container: String) async throws {
        try await withTemporaryDirectory { directory in
            let input = Locations.fixture("vfr.mkv")
            let run = try await transcodeExpectingSuccess(input, to: container, in: directory)
            let sourceTimes = try await videoPacketTimes(input).sorted()
            let outputTimes = try await videoPacketTimes(run.output).sorted()
            #expect(outputTimes.count == sourceTimes.count, "frame count \(outputTimes.count) vs \(sourceTimes.count)")
            guard let sourceStart = sourceTimes.first, let outputStart = outputTimes.first else { return }
            let drift = zip(sourceTimes, outputTimes).map { abs(($1 - outputStart) - ($0 - sourceStart)) }.max() ?? 0
            #expect(drift <= 0.002, "a frame moved by \(drift) s (VFR flattened to a constant rate?)")
        }
    }

    @Test("a single-frame input gives a single-frame video", .timeLimit(.minutes(30)), arguments: ["mp4", "flv"])
    func oneFrameStaysOneFrame(container: String) async throws {
        try await withTemporaryDirectory { directory in
            let run = try await transcodeExpectingSuccess(Locations.fixture("one_frame.mp4"), to: container,
                                                          in: directory)
            #expect(try await decodedVideoFrameCount(run.output) == 1)
        }
    }

    @Test("10-bit and RGB sources become 8-bit 4:2:0 with the same picture", .timeLimit(.minutes(30)),
          arguments: ["tenbit_420.mkv", "rgb_qtrle.mov"])
    func deepAndRGBSourcesConverted(fixture: String) async throws {
        try await withTemporaryDirectory { directory in
            let run = try await transcodeExpectingSuccess(Locations.fixture(fixture), to: "mp4", in: directory)
            let difference = meanDifference(try await thumbnail(Locations.fixture(fixture)), try await thumbnail(run.output))
            #expect(difference < 12, "picture differs from the source by \(difference)")
        }
    }

    @Test("corrupt packets are concealed, counted on stderr, and the run succeeds", .timeLimit(.minutes(30)))
    func bitflipConcealedWithWarning() async throws {
        try await withTemporaryDirectory { directory in
            let run = try await transcodeExpectingSuccess(Locations.fixture("bitflip.mp4"), to: "mp4", in: directory)
            let result = run.result
            let warning = result.stderrLines.first { $0.contains("concealed") && $0.contains("corrupt") }
            #expect(warning != nil, "expected `vqueue: warning: <path>: concealed N corrupt packets`: \(result)")
            if let warning {
                #expect(warning.contains("bitflip.mp4"), "warning must name the file: \(warning)")
                #expect(warning.range(of: #"concealed [1-9][0-9]* corrupt"#, options: .regularExpression) != nil,
                        "warning must count the packets: \(warning)")
            }
        }
    }
}
