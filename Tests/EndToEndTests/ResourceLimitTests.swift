import Foundation
import Testing

@Suite("Limits protect the box")
struct ResourceLimitTests {
    /// A 16000x16000 frame alone is 384 MB in 4:2:0; decoding even one would blow far past this.
    static let peakMemoryCeiling = 200 * 1024 * 1024

    @Test("a file claiming 16000x16000 is refused without allocating the picture", .timeLimit(.minutes(30)),
          arguments: ["huge_dimensions.mp4", "huge_dimensions.h264"])
    func hugeDimensionsStaySmall(fixture: String) async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Locations.vqueue.path))
        try await withTemporaryDirectory { directory in
            let outputDirectory = directory.appendingPathComponent("out", isDirectory: true)
            try FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: false)
            let output = outputDirectory.appendingPathComponent("out.mp4")
            let run = try await runMeasuringPeakMemory(
                Locations.vqueue, ["transcode", Locations.fixture(fixture).path, output.path], scratch: directory)
            #expect(run.termination == .exited(1), "\(run.termination): \(run.stderr)")
            #expect(run.peakResidentBytes < Self.peakMemoryCeiling,
                    "peak RSS \(run.peakResidentBytes / 1_048_576) MiB")
            #expect(run.cpuTime < .seconds(2), "used \(run.cpuTime) of CPU")
            #expect(directoryListing(outputDirectory).isEmpty)
        }
    }

    @Test("the memory measurement sees a real decode (calibration of the check above)", .timeLimit(.minutes(30)))
    func peakMemoryMeasurementWorks() async throws {
        try await withTemporaryDirectory { directory in
            // ffmpeg holding a 4096x4096 RGBA frame must show up as well over 64 MiB.
            let run = try await runMeasuringPeakMemory(Locations.ffmpeg, [
                "-nostdin", "-v", "error", "-f", "lavfi", "-i", "color=size=4096x4096:duration=0.2",
                "-pix_fmt", "rgba", "-f", "null", "-",
            ], scratch: directory)
            #expect(run.termination == .exited(0), "\(run.stderr)")
            #expect(run.peakResidentBytes > 64 * 1024 * 1024, "peak RSS \(run.peakResidentBytes) bytes")
        }
    }

    @Test("--timeout stops a long transcode, says so, and leaves nothing", .timeLimit(.minutes(30)))
    func timeoutStopsTheJob() async throws {
        try await withTemporaryDirectory { directory in
            let input = try await makeLongSample(in: directory, seconds: 20)
            let outputDirectory = directory.appendingPathComponent("out", isDirectory: true)
            try FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: false)
            let output = outputDirectory.appendingPathComponent("out.mp4")
            let result = try await vqueue(["transcode", input.path, output.path, "--timeout", "100ms",
                                           "--x264-preset", "veryslow"], timeout: .seconds(60))
            expectOneLineError(result, naming: "long.mp4")
            #expect(result.stderrText.range(of: #"time ?limit|timed? ?out|timeout"#,
                                            options: [.regularExpression, .caseInsensitive]) != nil,
                    "message should say the time limit was hit: \(result.stderrText)")
            #expect(result.elapsed < .seconds(10), "took \(result.elapsed) with a 100 ms limit")
            #expect(directoryListing(outputDirectory).isEmpty, "left behind: \(directoryListing(outputDirectory))")
        }
    }
}
