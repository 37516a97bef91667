import Testing
@testable import Transcode

@Suite struct OutputContainerTests {
    @Test(arguments: [("a.flv", OutputContainer.flv), ("b.MP4", .mp4), ("c.m4v", .mp4), ("dir.x/d.mkv", .mkv)])
    func containerComesFromTheExtension(path: String, expected: OutputContainer) throws {
        #expect(try OutputContainer(path: path) == expected)
    }

    @Test(arguments: ["out.avi", "out", "out.webm", "dir.mp4/out"])
    func otherExtensionsAreRefusedByName(path: String) {
        #expect(throws: TranscodeError.self) { try OutputContainer(path: path) }
    }
}
