import Foundation
import Testing

/// `vqueue probe --json` as the contract spells it.
struct ProbeReport: Decodable {
    struct Stream: Decodable {
        let index: Int
        let type: String
        let codec: String?
        let width: Int?
        let height: Int?
        let pixelFormat: String?
        let frameRate: Double?
        let rotation: Double?
        let fieldOrder: String?
        let sampleRate: Int?
        let channels: Int?
        let channelLayout: String?
        let `default`: Bool?
    }
    let path: String
    let container: String?
    let duration: Double?
    let bitRate: Int?
    let streams: [Stream]
}

@Suite("probe reports what libav sees")
struct ProbeCommandTests {
    private func probeReport(_ file: URL) async throws -> ProbeReport {
        let result = try await vqueue(["probe", "--json", file.path], timeout: .seconds(30))
        try #require(result.exitCode == 0, "\(result)")
        expectNoControlCharacters(result.stderr)
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            return try decoder.decode(ProbeReport.self, from: result.stdout)
        } catch {
            Issue.record("probe --json output does not match the contract: \(error)\n\(result.stdoutText)")
            throw error
        }
    }

    @Test("one entry per stream, codecs as ffprobe names them", .timeLimit(.minutes(30)),
          arguments: Fixture.transcodable + ["audio_only.m4a"])
    func streamsMatchFFprobe(fixture: String) async throws {
        let file = Locations.fixture(fixture)
        let report = try await probeReport(file)
        let truth = try await probeMedia(file)
        #expect(report.path == file.path)
        #expect(report.container == truth.format.formatName, "container \(report.container ?? "nil")")
        #expect(report.streams.map(\.index) == truth.streams.map(\.index))
        #expect(report.streams.map(\.type) == truth.streams.map { $0.codecType ?? "?" })
        #expect(report.streams.map(\.codec) == truth.streams.map(\.codecName))
        if let bitRate = truth.format.bitRate.flatMap(Int.init) {
            #expect(report.bitRate == bitRate, "bit_rate \(report.bitRate ?? -1) vs \(bitRate)")
        }
        if let claimed = truth.duration {
            #expect(abs((report.duration ?? -1) - claimed) < 0.01, "duration \(report.duration ?? -1) vs \(claimed)")
        }
        for (mine, theirs) in zip(report.streams, truth.streams) {
            #expect(mine.default == theirs.isDefault, "stream \(mine.index) default flag")
            if theirs.codecType == "video" {
                #expect(mine.width == theirs.width && mine.height == theirs.height, "stream \(mine.index) size")
                if let rate = theirs.avgFrameRate.flatMap(parseRatio), rate > 0 {
                    #expect(abs((mine.frameRate ?? -1) - rate) < 0.01, "stream \(mine.index) frame rate \(mine.frameRate ?? -1) vs \(rate)")
                }
                #expect(mine.pixelFormat == theirs.pixFmt, "stream \(mine.index) pixel format")
            } else if theirs.codecType == "audio" {
                #expect(mine.channels == theirs.channels, "stream \(mine.index) channels")
                #expect(mine.sampleRate.map(String.init) == theirs.sampleRate, "stream \(mine.index) sample rate")
            }
        }
    }

    @Test("a rotated video reports the quarter turn clockwise it needs", .timeLimit(.minutes(30)))
    func rotation() async throws {
        let report = try await probeReport(Locations.fixture("rotated_90.mp4"))
        let video = try #require(report.streams.first { $0.type == "video" })
        let rotation = try #require(video.rotation)
        // The fixture's tkhd matrix is (a b c d) = (0 1 -1 0): x' = -y, y' = x, which turns the picture
        // 90° clockwise on screen (ffprobe: display matrix rotation -90, libav counting counter-clockwise;
        // the ffmpeg program turns it clockwise too). The contract counts clockwise, so 90.
        #expect(rotation == 90, "rotation \(rotation)")
        #expect(video.width == 320 && video.height == 180, "coded size is reported")
    }

    @Test("an unrotated video reports rotation 0", .timeLimit(.minutes(30)))
    func noRotation() async throws {
        let report = try await probeReport(Locations.fixture("video_only.mp4"))
        #expect(report.streams.first?.rotation == 0)
    }

    @Test("interlaced MPEG-2 reports top field first", .timeLimit(.minutes(30)))
    func fieldOrder() async throws {
        let report = try await probeReport(Locations.fixture("interlaced.ts"))
        #expect(report.streams.first { $0.type == "video" }?.fieldOrder == "tt")
        let progressive = try await probeReport(Locations.fixture("video_only.mp4"))
        #expect(progressive.streams.first?.fieldOrder == "progressive")
    }

    @Test("5.1 audio reports six channels", .timeLimit(.minutes(30)))
    func surroundChannels() async throws {
        let report = try await probeReport(Locations.fixture("surround_51.mkv"))
        let audio = try #require(report.streams.first { $0.type == "audio" })
        #expect(audio.channels == 6)
        #expect(audio.channelLayout?.hasPrefix("5.1") == true, "layout \(audio.channelLayout ?? "nil")")
    }

    @Test("probe of a broken file fails in one line", .timeLimit(.minutes(30)),
          arguments: ["zero_bytes.mp4", "text_file.avi", "no_moov.mp4"])
    func brokenFile(fixture: String) async throws {
        let result = try await vqueue(["probe", Locations.fixture(fixture).path], timeout: .seconds(30))
        expectOneLineError(result, naming: fixture)
        let json = try await vqueue(["probe", "--json", Locations.fixture(fixture).path], timeout: .seconds(30))
        expectOneLineError(json, naming: fixture)
    }

    /// libav's own lines ("[h264 @ 0x55d…] …") never reach the user, whether the file probes or not.
    /// (Run here, in a process of its own: a test that redirected the test runner's stderr to
    /// catch them raced with every other test's output.)
    @Test("probe prints nothing of libav's own", .timeLimit(.minutes(30)),
          arguments: ["zero_bytes.mp4", "text_file.avi", "no_moov.mp4", "huge_dimensions.h264", "huge_dimensions.mp4",
                      "bitflip.mp4"])
    func quietProbe(fixture: String) async throws {
        for arguments in [["probe"], ["probe", "--json"]] {
            let result = try await vqueue(arguments + [Locations.fixture(fixture).path], timeout: .seconds(30))
            let libavLines = result.stderrLines.filter { $0.hasPrefix("[") || $0.contains(" @ 0x") }
            #expect(libavLines.isEmpty, "libav printed: \(result)")
            #expect(result.stderrLines.count <= 1, "\(result)")
        }
    }

    @Test("the human summary names the streams", .timeLimit(.minutes(30)))
    func humanSummary() async throws {
        let result = try await vqueue(["probe", Locations.fixture("h264_aac_1080p.mp4").path], timeout: .seconds(30))
        #expect(result.exitCode == 0, "\(result)")
        #expect(result.stdoutText.contains("h264") && result.stdoutText.contains("aac"), "\(result.stdoutText)")
        #expect(result.stdoutText.contains("1920") && result.stdoutText.contains("1080"), "\(result.stdoutText)")
        expectNoControlCharacters(result.stdout)
    }
}
