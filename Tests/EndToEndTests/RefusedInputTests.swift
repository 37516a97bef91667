import Foundation
import Testing

/// One unusable input written to one output container.
struct RefusalCase: Sendable, CustomTestStringConvertible {
    let fixture: String
    let container: String
    var testDescription: String { "\(fixture) -> .\(container)" }

    static let all: [RefusalCase] = Fixture.refused.flatMap { fixture in
        ["flv", "mp4"].map { RefusalCase(fixture: fixture, container: $0) }
    }
}

@Suite("Unusable inputs are refused quickly, in one line, leaving nothing behind")
struct RefusedInputTests {
    @Test("refused input", .timeLimit(.minutes(30)), arguments: RefusalCase.all)
    func refused(_ testCase: RefusalCase) async throws {
        try await withTemporaryDirectory { directory in
            let input = Locations.fixture(testCase.fixture)
            let output = directory.appendingPathComponent("out.\(testCase.container)")

            let arguments = ["transcode", input.path, output.path]
            let run = try await withTemporaryDirectory { scratch in
                try await runMeasuringPeakMemory(Locations.vqueue, arguments, scratch: scratch)
            }
            let result = run.result(command: ["vqueue"] + arguments)

            expectOneLineError(result, naming: testCase.fixture)
            #expect(directoryListing(directory).isEmpty, "left behind: \(directoryListing(directory))")
            // Quickly: without decoding. CPU time, which a loaded machine hardly stretches.
            #expect(run.cpuTime < .seconds(2), "used \(run.cpuTime) of CPU: \(result)")
        }
    }

    @Test("a picture size beyond --max-pixels is refused naming the limit", .timeLimit(.minutes(30)),
          arguments: ["huge_dimensions.mp4", "huge_dimensions.h264"])
    func hugeDimensionsNamesTheLimit(fixture: String) async throws {
        try await withTemporaryDirectory { directory in
            let output = directory.appendingPathComponent("out.mp4")
            let result = try await vqueue(["transcode", Locations.fixture(fixture).path, output.path],
                                          timeout: .seconds(30))
            expectOneLineError(result, naming: fixture)
            let message = result.stderrText.lowercased()
            #expect(message.contains("pixel") || (message.contains("size") && message.contains("limit")),
                    "message should say the picture-size limit was hit: \(result.stderrText)")
        }
    }

    @Test("a lowered --max-pixels refuses an ordinary 1080p input", .timeLimit(.minutes(30)))
    func maxPixelsOptionApplies() async throws {
        try await withTemporaryDirectory { directory in
            let output = directory.appendingPathComponent("out.mp4")
            let result = try await vqueue(["transcode", Locations.fixture("h264_aac_1080p.mp4").path, output.path,
                                           "--max-pixels", "100000"], timeout: .seconds(30))
            expectOneLineError(result, naming: "h264_aac_1080p.mp4")
            #expect(result.stderrText.lowercased().contains("pixel"), "\(result.stderrText)")
            #expect(directoryListing(directory).isEmpty)
        }
    }

    @Test("a truncated upload fails by default, quoting both durations", .timeLimit(.minutes(30)))
    func truncatedUploadFailsByDefault() async throws {
        try await withTemporaryDirectory { directory in
            let output = directory.appendingPathComponent("out.mp4")
            let result = try await vqueue(["transcode", Locations.fixture("truncated_30pct.mp4").path, output.path],
                                          timeout: .seconds(30))
            expectOneLineError(result, naming: "truncated_30pct.mp4")
            #expect(directoryListing(directory).isEmpty)
            // Durations as a user reads them: "1.5 s", "1.52s", "5 seconds", "00:00:05.00".
            let pattern = #"\d+(\.\d+)?\s*(s|sec|secs|seconds)\b|\d+:\d\d(:\d\d)?(\.\d+)?"#
            let line = result.stderrLines.first ?? ""
            let durations = Set(line.matches(of: try Regex(pattern)).map { String(line[$0.range]) })
            #expect(durations.count >= 2, "expected the decoded and the claimed duration in: \(line)")
        }
    }

    @Test("a truncated upload is transcoded as far as it goes with --allow-partial", .timeLimit(.minutes(30)))
    func truncatedUploadAcceptedWhenAllowed() async throws {
        try await withTemporaryDirectory { directory in
            let input = Locations.fixture("truncated_30pct.mp4")
            let output = directory.appendingPathComponent("out.mp4")
            let result = try await vqueue(["transcode", input.path, output.path, "--allow-partial"])
            #expect(result.exitCode == 0, "\(result)")
            #expect(result.stdout.isEmpty)
            let source = try await probeMedia(input)
            let info = try await expectWebProfile(output, from: input, expectAudio: true, checkDuration: false)
            let claimed = try #require(source.duration)
            let produced = try #require(info.duration)
            #expect(produced > 0.5 && produced < claimed * 0.7,
                    "output \(produced) s from a file claiming \(claimed) s but holding 30 % of the bytes")
        }
    }
}
