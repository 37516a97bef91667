import Foundation
import Testing

/// An awkward input/output name pair.
struct AwkwardName: Sendable, CustomTestStringConvertible {
    let input: String
    let output: String
    var testDescription: String { "\(input) -> \(output)" }

    static let all = [
        AwkwardName(input: "my holiday video.mp4", output: "my holiday video (web).flv"),
        AwkwardName(input: "it's mine.mp4", output: "it's mine'.mp4"),
        AwkwardName(input: "say \"cheese\".mp4", output: "\"quoted\" out.mkv"),
        AwkwardName(input: "$(touch pwned).mp4", output: "$(touch pwned) out.flv"),
        AwkwardName(input: "`touch pwned`; touch pwned & .mp4", output: "a;touch pwned|x.mp4"),
        AwkwardName(input: "-i.mp4", output: "-y out.flv"),
        AwkwardName(input: "vidéo 日本.mp4", output: "vidéo 日本 → web.mp4"),
        AwkwardName(input: "tab\there.mp4", output: "new\nline.flv"),
    ]
}

@Suite("File names are only names")
struct FileNameTests {
    @Test("absolute paths with awkward names", .timeLimit(.minutes(30)), arguments: AwkwardName.all)
    func absolutePaths(_ name: AwkwardName) async throws {
        try await withTemporaryDirectory { directory in
            let input = directory.appendingPathComponent(name.input)
            try FileManager.default.copyItem(at: Locations.fixture(Fixture.plain), to: input)
            let output = directory.appendingPathComponent(name.output)

            let result = try await vqueue(["transcode", input.path, output.path], in: directory)

            expectQuietSuccess(result)
            #expect(Set(directoryListing(directory)) == [name.input, name.output], "\(directoryListing(directory))")
            try await expectWebProfile(output, from: input, expectAudio: true)
            expectNotPwned(directory)
        }
    }

    @Test("relative names starting with a dash", .timeLimit(.minutes(30)),
          arguments: [["--", "-in.mp4", "-out.mp4"], ["./-in.mp4", "./-out.mp4"]])
    func leadingDash(_ names: [String]) async throws {
        try await withTemporaryDirectory { directory in
            try FileManager.default.copyItem(at: Locations.fixture(Fixture.plain),
                                             to: directory.appendingPathComponent("-in.mp4"))
            let result = try await vqueue(["transcode", "--no-audio"] + names, in: directory)
            expectQuietSuccess(result)
            #expect(Set(directoryListing(directory)) == ["-in.mp4", "-out.mp4"], "\(directoryListing(directory))")
            let output = directory.appendingPathComponent("-out.mp4")
            try await expectWebProfile(output, from: directory.appendingPathComponent("-in.mp4"),
                                       expectAudio: false)
        }
    }

    /// 81 three-byte characters: a title in Japanese fills the 255-byte name limit quickly, and the
    /// temporary `.NAME.<pid>.part` sibling must not push it over.
    @Test("an OUT name close to the 255-byte limit works", .timeLimit(.minutes(30)))
    func longOutputName() async throws {
        try await withTemporaryDirectory { directory in
            let name = String(repeating: "日本語", count: 27) + ".mp4"
            #expect(name.utf8.count == 247)
            let output = directory.appendingPathComponent(name)
            let input = Locations.fixture(Fixture.small)
            let result = try await vqueue(["transcode", input.path, output.path])
            expectQuietSuccess(result)
            #expect(directoryListing(directory) == [name], "\(directoryListing(directory))")
            if result.exitCode == 0 {
                try await expectWebProfile(output, from: input)
            }
        }
    }

    @Test("relative awkward names resolve against the working directory", .timeLimit(.minutes(30)))
    func relativeNames() async throws {
        try await withTemporaryDirectory { directory in
            let name = AwkwardName(input: "$(touch pwned) vidéo.mp4", output: "it's \"done\".mkv")
            try FileManager.default.copyItem(at: Locations.fixture(Fixture.plain),
                                             to: directory.appendingPathComponent(name.input))
            let result = try await vqueue(["transcode", name.input, name.output], in: directory)
            expectQuietSuccess(result)
            #expect(Set(directoryListing(directory)) == [name.input, name.output], "\(directoryListing(directory))")
            expectNotPwned(directory)
        }
    }

    @Test("probe takes awkward names too", .timeLimit(.minutes(30)))
    func probeAwkwardName() async throws {
        try await withTemporaryDirectory { directory in
            let input = directory.appendingPathComponent("$(touch pwned) 'a' \"b\" vidéo.mp4")
            try FileManager.default.copyItem(at: Locations.fixture(Fixture.plain), to: input)
            let result = try await vqueue(["probe", "--json", input.path], in: directory, timeout: .seconds(30))
            #expect(result.exitCode == 0, "\(result)")
            let object = try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any]
            #expect(object?["path"] as? String == input.path, "path must be reported exactly")
            expectNotPwned(directory)
        }
    }

    private func expectNotPwned(_ directory: URL, sourceLocation: SourceLocation = #_sourceLocation) {
        for place in [directory, Locations.packageRoot, Locations.fixtures,
                      URL(fileURLWithPath: FileManager.default.currentDirectoryPath)] {
            #expect(!FileManager.default.fileExists(atPath: place.appendingPathComponent("pwned").path),
                    "a shell ran a file name in \(place.path)", sourceLocation: sourceLocation)
        }
    }
}
