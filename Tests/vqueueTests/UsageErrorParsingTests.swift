import ArgumentParser
import Testing
@testable import vqueue

/// Malformed command lines, parsed in-process as `vqueue` parses its own: each is a usage error
/// (exit 64) with a message, before anything runs. The end-to-end `UsageErrorTests` keep a few of
/// these against the real binary, for the exit status and the untouched folder.
@Suite struct UsageErrorParsingTests {
    static let transcodeOptions: [[String]] = [
        ["--crf", "abc"], ["--crf", "52"], ["--crf", "-1"], ["--video-bitrate", "12q"], ["-b", "fast"],
        ["--audio-bitrate", "loud"], ["--timeout", "5x"], ["--timeout", "soon"], ["--max-height", "tall"],
        ["--max-height", "0"], ["--threads", "many"], ["--x264-preset", "warp"], ["--preset", "4k-hdr"],
        ["--max-pixels", "lots"], ["-b", "200k", "--crf", "20"], ["--no-such-option"],
    ]

    @Test(arguments: transcodeOptions)
    func transcodeRefusesABadOption(_ options: [String]) {
        expectUsageError(["transcode", "in.mp4", "out.mp4"] + options)
    }

    @Test(arguments: transcodeOptions + [
        ["--max-attempts", "0"], ["--max-attempts", "many"], ["--priority", "high"], ["--queue", ""],
        ["--key", ""], ["--db", ""], ["--format", "mp4"],
    ])
    func submitRefusesABadOption(_ options: [String]) {
        expectUsageError(["submit", "in.mp4", "out.mp4"] + options)
    }

    @Test(arguments: [
        ["transcode"], ["transcode", "only-in.mp4"], ["probe"], ["no-such-command"], ["submit"], ["submit", "in.mp4"],
        ["submit", "--out-dir", "/tmp", "in.mp4"], ["status"], ["status", "1", "--batch", "2"], ["status", "1", "--timeout", "5s"],
        ["cancel"], ["retry"], ["list", "--state", "sleeping"], ["list", "--limit", "0"],
        ["worker", "--concurrency", "0"], ["worker", "--lease", "10ms"], ["worker", "--path-map", "relative=/x"],
        ["worker", "stop"], ["prune"], ["prune", "--older-than", "1d", "--state", "running"],
    ])
    func refusesAMalformedCommandLine(_ arguments: [String]) {
        expectUsageError(arguments)
    }

    @Test func acceptsANegativePriority() throws {
        let command = try VQueue.parseAsRoot(["submit", "in.mp4", "out.mp4", "--priority", "-1"])
        #expect((command as? SubmitCommand)?.priority == -1)
    }

    private func expectUsageError(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try VQueue.parseAsRoot(arguments)
            Issue.record("\(arguments) parsed, but is not a valid command line", sourceLocation: sourceLocation)
        } catch {
            #expect(VQueue.exitCode(for: error) == .validationFailure, "\(arguments): \(error)", sourceLocation: sourceLocation)
            #expect(!VQueue.message(for: error).isEmpty, "\(arguments): a usage error says what is wrong",
                    sourceLocation: sourceLocation)
        }
    }
}
