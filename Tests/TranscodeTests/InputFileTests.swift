import Foundation
import Glibc
import Testing
@testable import Transcode

private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Fixtures")

@Suite("Inputs are opened once, as regular files, and read only through their descriptor")
struct InputFileTests {
    @Test("a FIFO or a folder is refused at once, without blocking")
    func nonRegularFilesAreRefused() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vqueue-unit-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        #expect(mkfifo(folder + "/fifo.mp4", 0o600) == 0)
        #expect { try InputFile(path: folder + "/fifo.mp4") } throws: {
            ($0 as? TranscodeError)?.code == "input_unreadable" && "\($0)".contains("FIFO")
        }
        #expect { try InputFile(path: folder) } throws: { ($0 as? TranscodeError)?.code == "input_unreadable" }
        #expect { try InputFile(path: folder + "/missing.mp4") } throws: { ($0 as? TranscodeError)?.code == "input_missing" }
    }

    @Test("the real path is where the file is, symlinks resolved")
    func realPathResolvesSymlinks() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vqueue-unit-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let target = fixtures.appendingPathComponent("video_only.mp4").resolvingSymlinksInPath().path
        #expect(symlink(target, folder + "/link.mp4") == 0)
        let file = try InputFile(path: folder + "/link.mp4")
        #expect(file.realPath == target)
        #expect(file.identity == FileIdentity(path: target, followingSymlink: true))
    }
}

@Suite("A finished output is checked before it is published")
struct OutputCheckTests {
    private let file = fixtures.appendingPathComponent("video_only.mp4").path

    private func expectation(width: Int = 320, height: Int = 240, audio: Bool = false, duration: Double = 1.0) -> OutputExpectation {
        OutputExpectation(width: width, height: height, hasAudio: audio, duration: duration, frameDuration: 0.04)
    }

    @Test("H.264 of the right size and length passes")
    func goodOutputPasses() throws {
        try OutputCheck.verify(file: InputFile(path: file), expecting: expectation())
    }

    @Test("a wrong size, missing audio or wrong length fails, saying what", arguments: [
        ("640x480", 640, 240, false, 1.0), ("audio", 320, 240, true, 1.0), ("lasts", 320, 240, false, 2.0),
    ])
    func badOutputFails(what: String, width: Int, height: Int, audio: Bool, duration: Double) throws {
        let input = try InputFile(path: file)
        #expect { try OutputCheck.verify(file: input, expecting: expectation(width: width, height: height, audio: audio, duration: duration)) } throws: {
            ($0 as? TranscodeError)?.code == "output_check_failed"
        }
    }

    @Test("AAC is required where audio is expected, and video must be H.264")
    func codecsAreChecked() throws {
        let webm = fixtures.appendingPathComponent("vp9_opus.webm").path
        let info = try MediaProbe.probe(path: webm)
        let video = try #require(info.streams.first { $0.type == "video" })
        #expect { try OutputCheck.verify(file: InputFile(path: webm), expecting: expectation(
            width: video.width ?? 0, height: video.height ?? 0, audio: true, duration: info.duration ?? 0)) } throws: {
            ($0 as? TranscodeError)?.code == "output_check_failed" && "\($0)".contains("H.264")
        }
    }
}
