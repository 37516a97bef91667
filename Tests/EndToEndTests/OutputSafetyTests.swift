import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Ways OUT can turn out to be IN.
enum SameFileCase: String, Sendable, CaseIterable, CustomTestStringConvertible {
    case samePath = "the same path"
    case symbolicLink = "a symbolic link to IN"
    case hardLink = "a hard link to IN"
    case dotDotPath = "IN spelled via sub/.."
    var testDescription: String { "OUT is \(rawValue)" }

    /// Makes (in `directory`) an output path that names `input` this way.
    func output(naming input: URL, in directory: URL) throws -> URL {
        switch self {
        case .samePath:
            return input
        case .symbolicLink:
            let output = directory.appendingPathComponent("link.mp4")
            try FileManager.default.createSymbolicLink(at: output, withDestinationURL: input)
            return output
        case .hardLink:
            let output = directory.appendingPathComponent("hard.mp4")
            try FileManager.default.linkItem(at: input, to: output)
            return output
        case .dotDotPath:
            try FileManager.default.createDirectory(at: directory.appendingPathComponent("sub"),
                                                    withIntermediateDirectories: false)
            return URL(fileURLWithPath: directory.path + "/sub/../" + input.lastPathComponent)
        }
    }
}

@Suite("vqueue never damages what is already there")
struct OutputSafetyTests {
    @Test("refuses to write over its own input, even with --overwrite", .timeLimit(.minutes(30)),
          arguments: SameFileCase.allCases)
    func refusesOutputThatIsInput(_ testCase: SameFileCase) async throws {
        try await withTemporaryDirectory { directory in
            let input = directory.appendingPathComponent("in.mp4")
            try FileManager.default.copyItem(at: Locations.fixture(Fixture.plain), to: input)
            let original = try Data(contentsOf: input)
            let output = try testCase.output(naming: input, in: directory)
            let before = directoryListing(directory)

            let result = try await vqueue(["transcode", input.path, output.path, "--overwrite"], timeout: .seconds(30))

            #expect(result.exitCode == 1, "\(result)")
            #expect(result.stdout.isEmpty)
            #expect(result.stderrLines.count == 1, "\(result)")
            #expect(try Data(contentsOf: input) == original, "the input was modified")
            #expect(directoryListing(directory) == before, "directory changed: \(directoryListing(directory))")
        }
    }

    @Test("an existing OUT is kept unless --overwrite is given", .timeLimit(.minutes(30)), arguments: ["flv", "mp4"])
    func existingOutputNeedsOverwrite(container: String) async throws {
        try await withTemporaryDirectory { directory in
            let input = Locations.fixture(Fixture.plain)
            let output = directory.appendingPathComponent("out.\(container)")
            let precious = Data("precious data, not a video\n".utf8)
            try precious.write(to: output)

            let refused = try await vqueue(["transcode", input.path, output.path], timeout: .seconds(30))
            expectOneLineError(refused, naming: "out.\(container)")
            #expect(try Data(contentsOf: output) == precious, "OUT was changed without --overwrite")
            #expect(directoryListing(directory) == ["out.\(container)"])

            let replaced = try await vqueue(["transcode", input.path, output.path, "--overwrite"])
            expectQuietSuccess(replaced)
            #expect(directoryListing(directory) == ["out.\(container)"])
            try await expectWebProfile(output, from: input, expectAudio: true)
        }
    }

    @Test("a failed run with --overwrite leaves the existing OUT as it was", .timeLimit(.minutes(30)),
          arguments: ["zero_bytes.mp4", "truncated_30pct.mp4", "huge_dimensions.mp4"])
    func failedOverwriteKeepsOldOutput(fixture: String) async throws {
        try await withTemporaryDirectory { directory in
            let output = directory.appendingPathComponent("out.mp4")
            let precious = Data("yesterday's good transcode\n".utf8)
            try precious.write(to: output)
            let result = try await vqueue(["transcode", Locations.fixture(fixture).path, output.path, "--overwrite"],
                                          timeout: .seconds(30))
            expectOneLineError(result, naming: fixture)
            #expect(try Data(contentsOf: output) == precious, "OUT changed by a failed run")
            #expect(directoryListing(directory) == ["out.mp4"], "\(directoryListing(directory))")
        }
    }

    @Test("OUT gets the permissions of any new file, so a web server can read it", .timeLimit(.minutes(30)),
          arguments: ["mp4", "flv"])
    func outputPermissions(container: String) async throws {
        try await withTemporaryDirectory { directory in
            // What creat(2) with 0666 gives under the current umask: the mode a user expects.
            let reference = directory.appendingPathComponent("reference")
            let descriptor = open(reference.path, O_CREAT | O_WRONLY, 0o666)
            try #require(descriptor >= 0)
            close(descriptor)
            let expectedMode = try #require(
                try FileManager.default.attributesOfItem(atPath: reference.path)[.posixPermissions] as? Int)

            let output = directory.appendingPathComponent("out.\(container)")
            let result = try await vqueue(["transcode", Locations.fixture(Fixture.small).path, output.path])
            expectQuietSuccess(result)
            let mode = try FileManager.default.attributesOfItem(atPath: output.path)[.posixPermissions] as? Int
            #expect(mode == expectedMode, "OUT mode \(String(mode ?? 0, radix: 8)), a new file gets \(String(expectedMode, radix: 8))")
        }
    }

    @Test("an output extension vqueue cannot write is refused before anything is written",
          .timeLimit(.minutes(30)), arguments: ["out.avi", "out.webm", "out", "out.MP4.txt"])
    func unsupportedOutputExtension(name: String) async throws {
        try await withTemporaryDirectory { directory in
            let output = directory.appendingPathComponent(name)
            let result = try await vqueue(["transcode", Locations.fixture(Fixture.plain).path, output.path],
                                          timeout: .seconds(30))
            #expect([1, 64].contains(result.exitCode ?? -1), "\(result)")
            #expect(result.stdout.isEmpty)
            #expect(result.stderrLines.count >= 1, "a reason must be given")
            #expect(directoryListing(directory).isEmpty, "written: \(directoryListing(directory))")
        }
    }

    @Test("an output folder that does not exist fails in one line", .timeLimit(.minutes(30)))
    func missingOutputFolder() async throws {
        try await withTemporaryDirectory { directory in
            let output = directory.appendingPathComponent("no/such/folder/out.mp4")
            let result = try await vqueue(["transcode", Locations.fixture(Fixture.plain).path, output.path],
                                          timeout: .seconds(30))
            #expect(result.exitCode == 1, "\(result)")
            #expect(result.stdout.isEmpty)
            #expect(result.stderrLines.count == 1, "\(result)")
            #expect(directoryListing(directory).isEmpty)
        }
    }

    @Test("a missing input fails in one line naming it", .timeLimit(.minutes(30)))
    func missingInput() async throws {
        try await withTemporaryDirectory { directory in
            let result = try await vqueue(["transcode", directory.appendingPathComponent("nope.mp4").path,
                                           directory.appendingPathComponent("out.mp4").path], timeout: .seconds(30))
            expectOneLineError(result, naming: "nope.mp4")
            #expect(directoryListing(directory).isEmpty)
        }
    }
}
