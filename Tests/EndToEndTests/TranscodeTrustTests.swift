import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// What `vqueue transcode --progress-json` ends with when it fails.
private struct FailureLine: Decodable {
    let error: String
    let errorCode: String
    let permanent: Bool
}

/// The last stdout line of a `--progress-json` run, as a failure line.
private func failureLine(_ result: ProcessResult, sourceLocation: SourceLocation = #_sourceLocation) throws -> FailureLine {
    let last = try #require(result.stdoutLines.last, "no JSON line on stdout: \(result)", sourceLocation: sourceLocation)
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    return try decoder.decode(FailureLine.self, from: Data(last.utf8))
}

/// Runs vqueue through `/bin/sh -c SCRIPT sh ARGS...`: for what `Process` cannot do itself (hand the
/// child extra descriptors, pass argument bytes that are not UTF-8). The script is a constant; every
/// name reaches it as a positional parameter, never pasted into it.
private func vqueueThroughShell(_ script: String, _ arguments: [String], in directory: URL,
                                timeout: Duration = .seconds(180)) async throws -> ProcessResult {
    try await runProcess(URL(fileURLWithPath: "/bin/sh"), ["-c", script, "sh", Locations.vqueue.path] + arguments,
                         currentDirectory: directory, timeout: timeout)
}

/// The temporary files in `directory` (hidden `.part` files).
private func temporaryFiles(_ directory: URL) -> [String] {
    directoryListing(directory).filter { $0.hasPrefix(".") && $0.hasSuffix(".part") }
}

@Suite("An upload is read as one file, through the descriptor that was checked")
struct HostileInputTests {
    /// An upload named .mp4 that makes libav read another file: the target is a FIFO nobody writes, so
    /// a vqueue that opens it blocks until the time limit instead of answering.
    enum Redirect: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case hls = "an HLS playlist"
        case ffconcat = "an ffconcat list"
        var testDescription: String { "\(rawValue) named .mp4" }

        func contents(naming target: String) -> String {
            switch self {
            case .hls:
                return "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXTINF:1.0,\n\(target)\n#EXT-X-ENDLIST\n"
            case .ffconcat:
                return "ffconcat version 1.0\nfile '\(target)'\n"
            }
        }
    }

    private func plant(_ redirect: Redirect, in directory: URL) throws -> URL {
        let secrets = directory.appendingPathComponent("secret", isDirectory: true)
        try FileManager.default.createDirectory(at: secrets, withIntermediateDirectories: false)
        try #require(mkfifo(secrets.appendingPathComponent("video.ts").path, 0o600) == 0)
        let upload = directory.appendingPathComponent("upload.mp4")
        try redirect.contents(naming: "secret/video.ts").write(to: upload, atomically: false, encoding: .utf8)
        return upload
    }

    @Test("transcode refuses a file that names other files, and never opens them", .timeLimit(.minutes(30)),
          arguments: Redirect.allCases)
    func transcodeRefusesRedirects(_ redirect: Redirect) async throws {
        try await withTemporaryDirectory { directory in
            let upload = try plant(redirect, in: directory)
            let output = directory.appendingPathComponent("out.mp4")
            let result = try await vqueue(["transcode", upload.path, output.path, "--progress-json"], timeout: .seconds(60))
            #expect(!result.timedOut, "vqueue blocked opening the file the upload names")
            #expect(result.exitCode == 1, "\(result)")
            #expect(result.stderrLines.count == 1 && result.stderrText.contains("not a single media file"), "\(result)")
            #expect(try failureLine(result).errorCode == "not_single_file")
            #expect(!FileManager.default.fileExists(atPath: output.path))
            #expect(temporaryFiles(directory).isEmpty)
        }
    }

    @Test("probe refuses a file that names other files, and never opens them", .timeLimit(.minutes(30)),
          arguments: Redirect.allCases)
    func probeRefusesRedirects(_ redirect: Redirect) async throws {
        try await withTemporaryDirectory { directory in
            let upload = try plant(redirect, in: directory)
            let result = try await vqueue(["probe", upload.path], timeout: .seconds(60))
            #expect(!result.timedOut, "vqueue blocked opening the file the upload names")
            expectOneLineError(result, naming: "upload.mp4")
            #expect(result.stderrText.contains("not a single media file"), "\(result)")
        }
    }

    @Test("a FIFO given as IN is refused at once", .timeLimit(.minutes(30)))
    func fifoInputIsRefused() async throws {
        try await withTemporaryDirectory { directory in
            let fifo = directory.appendingPathComponent("upload.mp4")
            try #require(mkfifo(fifo.path, 0o600) == 0)
            let result = try await vqueue(["transcode", fifo.path, directory.appendingPathComponent("out.mp4").path],
                                          timeout: .seconds(60))
            #expect(!result.timedOut, "vqueue blocked opening a FIFO")
            expectOneLineError(result, naming: "upload.mp4")
            #expect(result.stderrText.contains("FIFO"), "\(result)")
        }
    }
}

@Suite("OUT is never clobbered, and nothing but the temporary file is written")
struct OutputPublishingTests {
    @Test("the temporary file has an unpredictable name and is private until published", .timeLimit(.minutes(30)))
    func temporaryNameIsUnpredictable() async throws {
        try await withTemporaryDirectory { directory in
            let output = directory.appendingPathComponent("out.mp4")
            let process = try startVqueue(["transcode", Locations.fixture("bitflip.mp4").path, output.path, "--threads", "1"])
            var seen: [String] = []
            while process.isRunning && seen.isEmpty {
                seen = temporaryFiles(directory)
                try await Task.sleep(for: .milliseconds(20))
            }
            let result = await process.wait()
            #expect(result.exitCode == 0, "\(result)")
            let name = try #require(seen.first, "never saw the temporary file")
            let pattern = try Regex(#"^\.out\.mp4\.\d+\.[0-9a-f]{16}\.part$"#)
            #expect(name.wholeMatch(of: pattern) != nil, "predictable temporary name \(name)")
            #expect(directoryListing(directory) == ["out.mp4"])
        }
    }

    @Test("an OUT that appears while the transcode runs is left as it is", .timeLimit(.minutes(30)))
    func outputAppearingMeanwhileIsKept() async throws {
        try await withTemporaryDirectory { directory in
            let output = directory.appendingPathComponent("out.mp4")
            let process = try startVqueue(["transcode", Locations.fixture("bitflip.mp4").path, output.path,
                                           "--threads", "1", "--progress-json"])
            while process.isRunning && temporaryFiles(directory).isEmpty {
                try await Task.sleep(for: .milliseconds(20))
            }
            let theirs = Data("someone else's upload\n".utf8)
            try theirs.write(to: output)
            let result = await process.wait()
            #expect(result.exitCode == 1, "\(result)")
            #expect(try Data(contentsOf: output) == theirs, "OUT was replaced without --overwrite")
            #expect(result.stderrLines.count == 1 && result.stderrText.contains("appeared"), "\(result)")
            #expect(try failureLine(result).errorCode == "output_exists")
            #expect(directoryListing(directory) == ["out.mp4"], "\(directoryListing(directory))")
        }
    }

    @Test("a child handed descriptors reads and writes only through them, MP4 index at the front",
          .timeLimit(.minutes(30)))
    func descriptorsInAndOut() async throws {
        try await withTemporaryDirectory { directory in
            let written = directory.appendingPathComponent(".out.mp4.job1-1.0123456789abcdef.part")
            let script = #"exec "$1" transcode in.mp4 out.mp4 --format mp4 --input-fd 5 --output-fd 6 --progress-json 5<"$2" 6>"$3""#
            let result = try await vqueueThroughShell(script, [Locations.fixture(Fixture.plain).path, written.path],
                                                      in: directory)
            #expect(result.exitCode == 0, "\(result)")
            #expect(directoryListing(directory) == [written.lastPathComponent], "\(directoryListing(directory))")
            let boxes = try topLevelBoxTypes(written)
            #expect((boxes.firstIndex(of: "moov") ?? .max) < (boxes.firstIndex(of: "mdat") ?? -1), "boxes: \(boxes)")
            try await expectWebProfile(written, from: Locations.fixture(Fixture.plain), expectAudio: true)
        }
    }

    @Test("a failure under --progress-json ends with one JSON line carrying a stable code", .timeLimit(.minutes(30)),
          arguments: [("audio_only.m4a", "no_video_stream"), ("huge_dimensions.mp4", "too_many_pixels"),
                      ("truncated_30pct.mp4", "truncated"), ("zero_bytes.mp4", "not_media")])
    func failureLineHasCode(fixture: String, code: String) async throws {
        try await withTemporaryDirectory { directory in
            let result = try await vqueue(["transcode", Locations.fixture(fixture).path,
                                           directory.appendingPathComponent("out.mp4").path, "--progress-json"],
                                          timeout: .seconds(60))
            #expect(result.exitCode == 1, "\(result)")
            let line = try failureLine(result)
            #expect(line.errorCode == code)
            #expect(line.permanent)
            #expect(line.error.contains(fixture))
            #expect(directoryListing(directory).isEmpty)
        }
    }

    @Test("a name longer than the file system takes is refused before any work", .timeLimit(.minutes(30)))
    func tooLongOutputName() async throws {
        try await withTemporaryDirectory { directory in
            let output = directory.appendingPathComponent(String(repeating: "x", count: 300) + ".mp4")
            let result = try await vqueue(["transcode", Locations.fixture(Fixture.small).path, output.path, "--progress-json"],
                                          timeout: .seconds(60))
            #expect(result.exitCode == 1, "\(result)")
            #expect(result.stderrLines.count == 1, "\(result)")
            #expect(try failureLine(result).errorCode == "output_name")
            #expect(directoryListing(directory).isEmpty)
        }
    }
}

@Suite("A full disk is a temporary failure", .enabled(if: getuid() == 0, "mounting a small tmpfs needs root"))
struct DiskFullTests {
    @Test("disk full exits 75 in one line and leaves no file", .timeLimit(.minutes(30)), arguments: Fixture.containers)
    func diskFull(container: String) async throws {
        try await withTemporaryDirectory { directory in
            try await withSmallDisk(in: directory) { mount in
                let output = mount.appendingPathComponent("out.\(container)")
                let result = try await vqueue(["transcode", Locations.fixture("bitflip.mp4").path, output.path, "-b", "2M",
                                               "--progress-json"])
                try expectDiskFull(result, leaving: mount)
            }
        }
    }

    /// The HLS muxer writes its segments itself and does not say when one was cut short: before,
    /// a full disk mid-ladder came out as a permanent "failed its check (a playlist does not start
    /// with #EXTM3U)", exit 1. Each rung's encoder runs on a thread of its own, whose error this
    /// also carries back.
    @Test("a ladder that fills the disk exits 75 with disk_full in one line and leaves no folder",
          .timeLimit(.minutes(30)), arguments: ["fmp4", "ts"])
    func ladderFillsTheDisk(segmentType: String) async throws {
        try await withTemporaryDirectory { directory in
            let input = try await makeLongSample(in: directory, seconds: 12, noisy: true)
            try await withSmallDisk(in: directory) { mount in
                let result = try await vqueue(["transcode", input.path, mount.appendingPathComponent("out.hls").path,
                                               "--ladder", "240p,360p", "--segment", "1s", "--hls-segment-type", segmentType,
                                               "--no-poster", "--progress-json"])
                try expectDiskFull(result, leaving: mount)
            }
        }
    }

    /// A 100 KiB tmpfs mounted in `directory` for `body`, unmounted after.
    private func withSmallDisk(in directory: URL, _ body: (URL) async throws -> Void) async throws {
        let mount = directory.appendingPathComponent("small", isDirectory: true)
        try FileManager.default.createDirectory(at: mount, withIntermediateDirectories: false)
        let mounted = try await runProcess(URL(fileURLWithPath: "/bin/mount"), ["-t", "tmpfs", "-o", "size=100k", "tmpfs", mount.path])
        try #require(mounted.exitCode == 0, "\(mounted)")
        defer { _ = umount2(mount.path, Int32(MNT_DETACH)) }
        try await body(mount)
    }

    /// Exit 75, one error line saying so, `disk_full` and not permanent, nothing left on the disk.
    private func expectDiskFull(_ result: ProcessResult, leaving mount: URL,
                                sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(result.exitCode == 75, "\(result)", sourceLocation: sourceLocation)
        #expect(result.stderrLines.filter { $0.hasPrefix("vqueue: error: ") }.count == 1, "\(result)", sourceLocation: sourceLocation)
        #expect(result.stderrText.contains("no space left"), "\(result)", sourceLocation: sourceLocation)
        let line = try failureLine(result)
        #expect(line.errorCode == "disk_full" && !line.permanent, sourceLocation: sourceLocation)
        #expect(directoryListing(mount).isEmpty, "left behind: \(directoryListing(mount))", sourceLocation: sourceLocation)
    }
}

@Suite("A memory ceiling per transcode")
struct MemoryLimitTests {
    @Test("a picture too big for --max-memory fails with memory_limit, for good", .timeLimit(.minutes(30)))
    func bigPictureExceedsTheLimit() async throws {
        try await withTemporaryDirectory { directory in
            let input = directory.appendingPathComponent("4k.mp4")
            let made = try await runProcess(Locations.ffmpeg, [
                "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=3840x2160:rate=25:duration=0.4",
                "-c:v", "libx264", "-preset", "ultrafast", input.path,
            ])
            try #require(made.exitCode == 0, "\(made)")
            let output = directory.appendingPathComponent("out.mp4")
            let result = try await vqueue(["transcode", input.path, output.path, "--max-memory", "256M", "--progress-json"])
            #expect(result.exitCode == 1, "\(result)")
            let line = try failureLine(result)
            #expect(line.errorCode == "memory_limit" && line.permanent, "\(result)")
            #expect(line.error.contains("exceeded the memory limit of 256 MiB"), "\(line.error)")
            #expect(result.stderrLines.filter { $0.hasPrefix("vqueue: error: ") }.count == 1, "\(result)")
            #expect(!FileManager.default.fileExists(atPath: output.path))
            #expect(temporaryFiles(directory).isEmpty)
        }
    }

    @Test("an ordinary transcode under a generous limit is not refused (threads and all)", .timeLimit(.minutes(30)))
    func ordinaryTranscodeFits() async throws {
        try await withTemporaryDirectory { directory in
            try await transcodeExpectingSuccess(Locations.fixture(Fixture.plain), to: "mp4", in: directory,
                                                arguments: ["--max-memory", "1G"], expectAudio: true)
        }
    }
}

@Suite("Absurd limits are usage errors, never a crash")
struct AbsurdLimitTests {
    @Test("values beyond any sense exit 64 naming the option", .timeLimit(.minutes(30)), arguments: [
        ["--max-pixels", "9223372036854775807"], ["--max-pixels", "99999999999999999999"],
        ["--timeout", "99999999999999999d"], ["--timeout", "1e300s"],
        ["--max-memory", "99999999P"], ["--max-memory", "1k"], ["--max-memory", "lots"],
    ])
    func absurdValue(_ option: [String]) async throws {
        try await withTemporaryDirectory { directory in
            let result = try await vqueue(["transcode", Locations.fixture(Fixture.small).path,
                                           directory.appendingPathComponent("out.mp4").path] + option,
                                          timeout: .seconds(60))
            #expect(result.termination == .exited(64), "\(result)")
            #expect(result.stdout.isEmpty)
            let errors = result.stderrLines.filter { $0.hasPrefix("Error: ") || $0.hasPrefix("vqueue: error: ") }
            #expect(errors.count == 1 && errors[0].contains(option[0]), "\(result)")
            #expect(directoryListing(directory).isEmpty)
        }
    }
}

@Suite("Names that are not UTF-8, or hold control characters, are only names")
struct RawFileNameTests {
    @Test("bytes that are not UTF-8 are kept byte for byte, in and out", .timeLimit(.minutes(30)))
    func latin1Names() async throws {
        try await withTemporaryDirectory { directory in
            // vid\xE9o.mp4 -> sortie\xFF.mkv, made and passed by the shell from octal escapes.
            let script = #"cp "$2" "$(printf 'vid\351o.mp4')" && exec "$1" transcode "$(printf 'vid\351o.mp4')" "$(printf 'sortie\377.mkv')""#
            let result = try await vqueueThroughShell(script, [Locations.fixture(Fixture.small).path], in: directory)
            #expect(result.exitCode == 0, "\(result)")
            let names = try rawNames(directory)
            #expect(names == [Array("sortie".utf8) + [0xFF] + Array(".mkv".utf8), Array("vid".utf8) + [0xE9] + Array("o.mp4".utf8)],
                    "\(names)")
            let probe = try await vqueueThroughShell(#"exec "$1" probe "$(printf 'vid\351o.mp4')""#, [], in: directory)
            #expect(probe.exitCode == 0, "\(probe)")
            #expect(probe.stdoutText.contains("vid\\xE9o.mp4"), "\(probe.stdoutText)")
        }
    }

    @Test("control characters in a name are escaped in the one error line", .timeLimit(.minutes(30)))
    func controlCharactersAreEscaped() async throws {
        try await withTemporaryDirectory { directory in
            let name = "evil\u{1B}[2J\u{07}\nname.mp4"
            let result = try await vqueue(["transcode", directory.appendingPathComponent(name).path,
                                           directory.appendingPathComponent("out.mp4").path], timeout: .seconds(60))
            expectOneLineError(result, naming: "evil\\e[2J\\a\\nname.mp4")
            #expect(!result.stderr.contains(0x07))
        }
    }

    /// The names in `directory` as raw bytes, sorted.
    private func rawNames(_ directory: URL) throws -> [[UInt8]] {
        let listing = try #require(opendir(directory.path))
        defer { closedir(listing) }
        var names: [[UInt8]] = []
        while let entry = readdir(listing) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
            if name != [0x2E] && name != [0x2E, 0x2E] { names.append(name) }
        }
        return names.sorted { $0.lexicographicallyPrecedes($1) }
    }
}
