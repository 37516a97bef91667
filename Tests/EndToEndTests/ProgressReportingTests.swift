import Foundation
import Testing

@Suite("--progress-json speaks JSON lines a supervisor can read")
struct ProgressReportingTests {
    @Test("every stdout line is a progress object; percent climbs to 100 and ends with done",
          .timeLimit(.minutes(30)), arguments: ["flv", "mp4"])
    func progressLines(container: String) async throws {
        try await withTemporaryDirectory { directory in
            let input = try await makeLongSample(in: directory, seconds: 4)
            let output = directory.appendingPathComponent("out.\(container)")
            let result = try await vqueue(["transcode", input.path, output.path, "--progress-json",
                                           "--x264-preset", "medium"])
            #expect(result.exitCode == 0, "\(result)")
            expectNoControlCharacters(result.stderr)
            expectNoControlCharacters(result.stdout)
            #expect(result.stdoutText.hasSuffix("\n"), "the last line must be terminated")

            let lines = result.stdoutText.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
            try #require(!lines.isEmpty, "no progress lines")
            var percents: [Double] = []
            var frames: [Double] = []
            var last: [String: Any] = [:]
            for line in lines {
                let object = try #require(try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                                          "not a JSON object: \(line)")
                for key in ["frames", "percent", "fps", "speed"] {
                    #expect(object[key] is NSNumber, "\(key) missing or not a number in \(line)")
                }
                for key in ["total_frames", "eta"] {
                    #expect(object[key] is NSNumber || object[key] is NSNull, "\(key) missing in \(line)")
                }
                percents.append((object["percent"] as? NSNumber)?.doubleValue ?? -1)
                frames.append((object["frames"] as? NSNumber)?.doubleValue ?? -1)
                last = object
            }
            #expect(percents == percents.sorted(), "percent went backwards: \(percents)")
            #expect(frames == frames.sorted(), "frames went backwards: \(frames)")
            #expect(percents.allSatisfy { (0...100).contains($0) }, "\(percents)")
            #expect((last["percent"] as? NSNumber)?.doubleValue == 100, "last line: \(last)")
            #expect((last["done"] as? NSNumber)?.boolValue == true, "last line: \(last)")
            #expect(Array(lines.dropLast()).allSatisfy { !$0.contains("\"done\":true") && !$0.contains("\"done\": true") },
                    "only the last line may say done")
            try await expectWebProfile(output, from: input, expectAudio: true)
            let finalFrames = (last["frames"] as? NSNumber)?.intValue ?? -1
            let written = try await decodedVideoFrameCount(output)
            #expect(finalFrames == written, "last line says \(finalFrames) frames; the output has \(written)")
        }
    }

    @Test("a long transcode reports about twice a second", .timeLimit(.minutes(30)))
    func progressIsPeriodic() async throws {
        try await withTemporaryDirectory { directory in
            let input = try await makeLongSample(in: directory, seconds: 8)
            let output = directory.appendingPathComponent("out.mkv")
            let result = try await vqueue(["transcode", input.path, output.path, "--progress-json",
                                           "--x264-preset", "slow"])
            #expect(result.exitCode == 0, "\(result)")
            let seconds = Double(result.elapsed.components.seconds)
            let lines = result.stdoutLines.count
            if seconds >= 2 {
                #expect(Double(lines) >= seconds, "\(lines) lines in \(result.elapsed)")
                #expect(Double(lines) <= seconds * 4 + 2, "\(lines) lines in \(result.elapsed): too chatty")
            }
        }
    }

    @Test("without a terminal, stderr carries no progress bar", .timeLimit(.minutes(30)))
    func noProgressBarIntoPipes() async throws {
        try await withTemporaryDirectory { directory in
            let input = try await makeLongSample(in: directory, seconds: 3)
            let output = directory.appendingPathComponent("out.mp4")
            let result = try await vqueue(["transcode", input.path, output.path])
            expectQuietSuccess(result, allowWarnings: false)
        }
    }
}
