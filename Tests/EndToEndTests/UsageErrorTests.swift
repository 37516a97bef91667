import Foundation
import Testing

@Suite("Malformed command lines exit 64 and touch nothing")
struct UsageErrorTests {
    // Every malformed command line is checked in-process (vqueueTests' UsageErrorParsingTests); these
    // few check the real binary's exit status, its silence on stdout and the untouched folder.
    @Test("bad option value", .timeLimit(.minutes(30)), arguments: [
        ["--crf", "52"],
        ["-b", "200k", "--crf", "20"],
        ["--no-such-option"],
    ])
    func badOption(_ options: [String]) async throws {
        try await withTemporaryDirectory { directory in
            let output = directory.appendingPathComponent("out.mp4")
            let result = try await vqueue(["transcode", Locations.fixture(Fixture.plain).path, output.path] + options,
                                          timeout: .seconds(30))
            #expect(result.exitCode == 64, "\(result)")
            #expect(result.stdout.isEmpty, "\(result)")
            #expect(!result.stderrLines.isEmpty, "a usage error must say what is wrong")
            #expect(directoryListing(directory).isEmpty)
        }
    }

    @Test("missing arguments", .timeLimit(.minutes(30)), arguments: [
        ["transcode"], ["no-such-command"],
    ])
    func missingArguments(_ arguments: [String]) async throws {
        try await withTemporaryDirectory { directory in
            let result = try await vqueue(arguments, in: directory, timeout: .seconds(30))
            #expect(result.exitCode == 64, "\(result)")
            #expect(result.stdout.isEmpty, "\(result)")
            #expect(directoryListing(directory).isEmpty)
        }
    }
}
