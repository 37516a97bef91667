import Foundation
import Testing

/// `submit --split` with a target bit rate: each chunk is encoded to it on its own, and the whole
/// file must still land on it (README, "What --split does to the other options").
@Suite("Split transcodes: a target bit rate survives chunking")
struct SplitRateControlTests {
    @Test("-b 600k in 4 s chunks: the joined file's video is within 5 % of 600 kb/s, as the unsplit one's is",
          .timeLimit(.minutes(30)))
    func bitRateSurvivesChunking() async throws {
        try await withTemporaryDirectory { directory in
            // Grain everywhere: more than 600 kb/s would be spent if it could, so the rate control decides.
            let input = try await makeLongSample(in: directory, seconds: 20, size: "640x360", noisy: true)
            let queue = TestQueue(in: directory)
            let options = ["-b", "600k", "--x264-preset", "veryfast", "--no-audio"]
            let split = directory.appendingPathComponent("split.mp4")
            let whole = directory.appendingPathComponent("whole.mp4")
            let splitID = try await queue.submit(input, split, options + ["--split", "--chunk", "4s"])
            let wholeID = try await queue.submit(input, whole, options)
            let worker = try await queue.run("worker", ["--drain", "--concurrency", "2"], timeout: .seconds(1200))
            #expect(worker.exitCode == 0, "\(worker)")
            let states = [try await queue.job(splitID).state, try await queue.job(wholeID).state]
            #expect(states == ["succeeded", "succeeded"])
            #expect(try await queue.query("SELECT count(*) FROM jobs WHERE parent_id = \(splitID)") == ["5"], "five chunks")

            let target = 600_000.0
            for (name, file) in [("split", split), ("unsplit", whole)] {
                let rate = try await videoBitRate(file, seconds: 20)
                #expect(abs(rate - target) / target <= 0.05, "\(name): \(Int(rate)) b/s against \(Int(target))")
            }
        }
    }

    /// The video stream's bits per second, from its packets' sizes.
    private func videoBitRate(_ file: URL, seconds: Double) async throws -> Double {
        let result = try await runProcess(Locations.ffprobe, ["-v", "error", "-select_streams", "v:0", "-show_entries",
                                                              "packet=size", "-of", "csv=p=0", file.path], timeout: .seconds(60))
        try #require(result.exitCode == 0, "\(result)")
        let bytes = result.stdoutLines.compactMap { Double($0.trimmingCharacters(in: CharacterSet(charactersIn: ", "))) }.reduce(0, +)
        return bytes * 8 / seconds
    }
}
