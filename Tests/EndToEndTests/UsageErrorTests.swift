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

@Suite("The binary says what it is and what was meant")
struct BinaryIdentityTests {
    @Test("vqueue --version prints the VERSION file's version and, built from git, the commit", .timeLimit(.minutes(30)))
    func version() async throws {
        let result = try await vqueue(["--version"], timeout: .seconds(30))
        let version = try String(contentsOf: Locations.packageRoot.appendingPathComponent("VERSION"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(result.exitCode == 0 && result.stderr.isEmpty, "\(result)")
        #expect(result.stdoutLines.count == 1, "\(result)")
        let line = result.stdoutLines.first ?? ""
        #expect(line.hasPrefix("vqueue \(version)"), "\(result)")
        let head = try await runProcess(URL(fileURLWithPath: "/usr/bin/git"), ["-C", Locations.packageRoot.path, "rev-parse", "HEAD"],
                                        timeout: .seconds(30))
        if head.exitCode == 0, let commit = head.stdoutLines.first {
            // Built from this checkout: its commit (+changes when the tree had some).
            #expect(line.hasPrefix("vqueue \(version) (commit \(commit.prefix(12))"), "HEAD is \(commit): \(result)")
        }
    }

    @Test("a mistyped subcommand exits 64 and names the one meant", .timeLimit(.minutes(30)))
    func mistypedSubcommand() async throws {
        try await withTemporaryDirectory { directory in
            let result = try await vqueue(["sumbit", "in.avi", "out.flv"], in: directory, timeout: .seconds(30))
            #expect(result.exitCode == 64, "\(result)")
            #expect(result.stdout.isEmpty, "\(result)")
            #expect(result.stderrLines.first == "Error: unknown command 'sumbit'; did you mean 'vqueue submit'?", "\(result)")
            #expect(directoryListing(directory).isEmpty)
        }
    }
}
