import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// An HLS option set and the folder it must give (on a 5 s 640x360 sample, or the 1 s 1080p fixture).
struct HLSOptionsCase: Sendable, CustomTestStringConvertible {
    let arguments: [String]
    /// nil: the 5 s 640x360 sample made for the test.
    let fixture: String?
    let request: HLSLadderRequest
    /// The rungs the options must give, by name.
    let rungs: [String]
    var testDescription: String { arguments.joined(separator: " ") + " (\(fixture ?? "5 s 640x360 sample"))" }

    static let all = [
        HLSOptionsCase(arguments: ["--hls-segment-type", "ts", "--segment", "2s"], fixture: nil,
                       request: HLSLadderRequest(format: .ts, segmentSeconds: 2), rungs: ["240p", "360p"]),
        HLSOptionsCase(arguments: ["--segment", "2s"], fixture: nil,
                       request: HLSLadderRequest(segmentSeconds: 2), rungs: ["240p", "360p"]),
        HLSOptionsCase(arguments: ["--ladder", "240p,360p"], fixture: Fixture.plain,
                       request: HLSLadderRequest(rungs: [240, 360]), rungs: ["240p", "360p"]),
        HLSOptionsCase(arguments: ["--max-height", "480", "--no-audio"], fixture: Fixture.plain,
                       request: HLSLadderRequest(maxHeight: 480, audio: false), rungs: ["240p", "360p", "480p"]),
        // 1 s TS segments whose short last audio segment raises RFC 8216's peak (a run of segments
        // from half to one and a half target durations): BANDWIDTH was the largest single one.
        HLSOptionsCase(arguments: ["--ladder", "240p", "--segment", "1s", "--hls-segment-type", "ts"], fixture: "old_camera.avi",
                       request: HLSLadderRequest(rungs: [240], format: .ts, segmentSeconds: 1), rungs: ["240p"]),
    ]
}

/// A command line an HLS output must refuse as a usage error, and what the error must mention.
struct HLSRefusalCase: Sendable, CustomTestStringConvertible {
    let options: [String]
    let output: String
    let mentions: String
    var testDescription: String { "\(options.joined(separator: " ")) -> \(output)" }

    static let all = [
        HLSRefusalCase(options: ["--video-bitrate", "1M"], output: "out.hls", mentions: "--video-bitrate"),
        HLSRefusalCase(options: ["--preset", "720p"], output: "out.hls", mentions: "--preset"),
        HLSRefusalCase(options: ["--ladder", "999p"], output: "out.hls", mentions: "999p"),
        HLSRefusalCase(options: ["--segment", "0s"], output: "out.hls", mentions: "--segment"),
        HLSRefusalCase(options: ["--segment", "61s"], output: "out.hls", mentions: "--segment"),
        HLSRefusalCase(options: ["--hls-segment-type", "webm"], output: "out.hls", mentions: "--hls-segment-type"),
        HLSRefusalCase(options: ["--ladder", "240p"], output: "out.mp4", mentions: "--ladder"),
        HLSRefusalCase(options: ["--segment", "2s"], output: "out.flv", mentions: "--segment"),
        HLSRefusalCase(options: ["--hls-segment-type", "ts"], output: "out.mkv", mentions: "--hls-segment-type"),
    ]
}

@Suite("HLS ladders: a folder any player can stream, every rung cut at the same instants")
struct HLSLadderTests {
    @Test("every accepted input becomes an HLS ladder: web video in every rung, sizes by the short side, aligned keyframes, a truthful master playlist",
          .timeLimit(.minutes(30)), arguments: Fixture.transcodable)
    func everyInputBecomesALadder(_ fixture: String) async throws {
        try await withTemporaryDirectory { directory in
            let input = Locations.fixture(fixture)
            let output = directory.appendingPathComponent("out.hls")
            let result = try await vqueue(["transcode", input.path, output.path])
            expectQuietSuccess(result)
            try #require(result.exitCode == 0, "\(result)")
            try await expectHLSLadder(output, from: input)
            #expect(directoryListing(directory) == ["out.hls"], "only OUT may be left: \(directoryListing(directory))")
        }
    }

    @Test("--hls-segment-type, --segment, --ladder and --max-height/--no-audio give what they say",
          .timeLimit(.minutes(30)), arguments: HLSOptionsCase.all)
    func optionsDoWhatTheySay(_ testCase: HLSOptionsCase) async throws {
        try await withTemporaryDirectory { directory in
            let media = directory.appendingPathComponent("media", isDirectory: true)
            try FileManager.default.createDirectory(at: media, withIntermediateDirectories: false)
            let input: URL
            if let fixture = testCase.fixture {
                input = Locations.fixture(fixture)
            } else {
                input = try await makeLongSample(in: media, seconds: 5, size: "640x360")
            }
            let output = directory.appendingPathComponent("out.hls")
            let result = try await vqueue(["transcode", input.path, output.path] + testCase.arguments)
            expectQuietSuccess(result)
            try #require(result.exitCode == 0, "\(result)")

            let ladder = try await expectHLSLadder(output, from: input, request: testCase.request)
            // Spelled out, beside the rule the checker applies: the rungs asked for and nothing else.
            #expect(ladder.rungs.map(\.name) == testCase.rungs, "rungs: \(ladder.rungs.map(\.name))")
            #expect(directoryListing(output) == (["master.m3u8", "poster.jpg"] + testCase.rungs
                                                 + (testCase.request.audio ? ["audio"] : [])).sorted(),
                    "\(directoryListing(output))")
            for rung in ladder.rungs {
                let durations = rung.playlist.segments.map(\.duration)
                let names = rung.playlist.segments.map(\.uri)
                if testCase.request.segmentSeconds == 2 {
                    // The 5 s sample at 25 fps: 2 s, 2 s, then the last second.
                    #expect(durations.count == 3 && zip(durations, [2, 2, 1]).allSatisfy { abs($0 - $1) <= 0.041 },
                            "\(rung.name): segments \(durations)")
                }
                switch testCase.request.format {
                case .ts:
                    #expect(names.allSatisfy { $0.hasSuffix(".ts") } && rung.playlist.initSection == nil, "\(rung.name): \(names)")
                    if let first = names.first {
                        let segment = try await probeMedia(output.appendingPathComponent(rung.name).appendingPathComponent(first))
                        #expect(segment.format.formatName == "mpegts", "\(rung.name)/\(first) is \(segment.format.formatName ?? "?")")
                    }
                case .fmp4:
                    #expect(names.allSatisfy { $0.hasSuffix(".m4s") } && rung.playlist.initSection == "init_\(rung.name).mp4", "\(rung.name): \(names)")
                }
            }
            if let audio = ladder.audio, testCase.request.format == .ts {
                #expect(audio.segments.allSatisfy { $0.uri.hasSuffix(".ts") } && audio.initSection == nil, "audio: \(audio.files)")
            }
            #expect(directoryListing(directory) == ["media", "out.hls"], "\(directoryListing(directory))")
        }
    }

    @Test("an existing OUT.hls folder is kept unless --overwrite, which swaps the new ladder in and removes the old",
          .timeLimit(.minutes(30)))
    func overwriteSwapsTheFolder() async throws {
        try await withTemporaryDirectory { directory in
            let input = Locations.fixture(Fixture.small)
            let output = directory.appendingPathComponent("out.hls")
            let oldRung = output.appendingPathComponent("240p", isDirectory: true)
            try FileManager.default.createDirectory(at: oldRung, withIntermediateDirectories: true)
            let marker = Data("yesterday's ladder\n".utf8)
            try marker.write(to: output.appendingPathComponent("marker.txt"))
            try marker.write(to: oldRung.appendingPathComponent("seg0.m4s"))
            let before = filesUnder(output)

            let refused = try await vqueue(["transcode", input.path, output.path], timeout: .seconds(60))
            expectOneLineError(refused, naming: "out.hls")
            #expect(filesUnder(output) == before, "the old folder was changed without --overwrite: \(filesUnder(output))")
            #expect(try Data(contentsOf: output.appendingPathComponent("marker.txt")) == marker)
            #expect(directoryListing(directory) == ["out.hls"], "\(directoryListing(directory))")

            let replaced = try await vqueue(["transcode", input.path, output.path, "--overwrite"])
            expectQuietSuccess(replaced)
            try #require(replaced.exitCode == 0, "\(replaced)")
            #expect(!FileManager.default.fileExists(atPath: output.appendingPathComponent("marker.txt").path),
                    "the old folder's files survived --overwrite")
            try await expectHLSLadder(output, from: input)
            #expect(directoryListing(directory) == ["out.hls"], "the old folder must be removed, not left aside: \(directoryListing(directory))")
        }
    }

    @Test("a plain file named OUT.hls is refused, even with --overwrite, and left byte for byte", .timeLimit(.minutes(30)),
          arguments: [false, true])
    func plainFileAtOutputIsKept(overwrite: Bool) async throws {
        try await withTemporaryDirectory { directory in
            let output = directory.appendingPathComponent("out.hls")
            let precious = Data("#EXTM3U\nnot a folder, someone's file\n".utf8)
            try precious.write(to: output)
            let result = try await vqueue(["transcode", Locations.fixture(Fixture.small).path, output.path]
                                          + (overwrite ? ["--overwrite"] : []), timeout: .seconds(60))
            expectOneLineError(result, naming: "out.hls")
            #expect(try Data(contentsOf: output) == precious, "the file at OUT was changed")
            #expect(directoryListing(directory) == ["out.hls"], "\(directoryListing(directory))")
        }
    }

    @Test("a worker publishes a submitted ladder; status --json lists every file and rendition as they are on disk",
          .timeLimit(.minutes(30)))
    func workerJobReportsTheLadder() async throws {
        try await withTemporaryDirectory { directory in
            let scene = try await QueueScene(in: directory, store: .sqlite)
            let queue = scene.queue
            let input = Locations.fixture(Fixture.plain)
            let jobs: [(output: URL, options: [String], request: HLSLadderRequest)] = [
                (scene.output("clip.hls"), [], HLSLadderRequest()),
                (scene.output("clip-ts.hls"), ["--ladder", "240p,480p", "--hls-segment-type", "ts"],
                 HLSLadderRequest(rungs: [240, 480], format: .ts)),
            ]
            var ids: [Int64] = []
            for job in jobs { ids.append(try await queue.submit(input, job.output, job.options)) }

            let worker = try await withProcessSlot {
                try await queue.startWorker(["--drain", "--concurrency", "2"]).wait(timeout: .seconds(300))
            }
            #expect(worker.exitCode == 0, "\(worker)")
            expectCleanWorkerLog(worker)

            for (id, job) in zip(ids, jobs) {
                let run = try await queue.run("status", [String(id), "--json"])
                #expect(run.exitCode == 0 && run.stderr.isEmpty, "\(run)")
                let status = try JSONDecoder.snakeCase.decode(LadderJob.self, from: run.stdout)
                #expect(status.state == "succeeded" && status.attempts == 1, "\(run)")
                #expect(try await queue.stateHistory(id) == ["queued", "running", "succeeded"])
                #expect(try await queue.successCount(id) == 1)

                let ladder = try await expectHLSLadder(job.output, from: input, request: job.request)
                let result = try #require(status.result, "a succeeded job has a result: \(run)")
                #expect(result.container == "hls", "\(result.container)")
                let listed = Dictionary(result.files.map { ($0.path, $0.size) }, uniquingKeysWith: { first, _ in first })
                #expect(result.files.count == listed.count, "a file listed twice: \(result.files.map(\.path))")
                #expect(listed == filesUnder(job.output), "result.files \(listed) against the folder \(filesUnder(job.output))")

                let renditions = Dictionary(result.renditions.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
                #expect(Set(renditions.keys) == Set(ladder.rungs.map(\.name) + ["audio"]), "renditions: \(renditions.keys.sorted())")
                for rung in ladder.rungs {
                    guard let reported = renditions[rung.name] else { continue }
                    #expect(reported.width == rung.width && reported.height == rung.height,
                            "\(rung.name): reported \(reported.width ?? 0)x\(reported.height ?? 0), ffprobe \(rung.width)x\(rung.height)")
                    #expect(reported.segments == rung.playlist.segments.count && reported.bytes == rung.bytes,
                            "\(rung.name): reported \(reported.segments) segments, \(reported.bytes) bytes; the folder has \(rung.playlist.segments.count), \(rung.bytes)")
                    #expect(reported.bandwidth == rung.variant?.attributes["BANDWIDTH"].flatMap(Int.init)
                            && reported.averageBandwidth == rung.variant?.attributes["AVERAGE-BANDWIDTH"].flatMap(Int.init)
                            && reported.codecs == rung.variant?.attributes["CODECS"],
                            "\(rung.name): reported \(reported), master.m3u8 says \(rung.variant?.attributes ?? [:])")
                }
                if let reported = renditions["audio"], let audio = ladder.audio {
                    #expect(reported.codecs == "mp4a.40.2" && reported.segments == audio.segments.count
                            && reported.bytes == ladder.audioBytes, "audio: reported \(reported), the folder has \(audio.segments.count) segments, \(ladder.audioBytes) bytes")
                }
            }
            #expect(directoryListing(scene.outputs) == ["clip-ts.hls", "clip.hls"], "\(directoryListing(scene.outputs))")
        }
    }

    @Test("options that do not fit the output are usage errors (exit 64, one error line) and nothing is written",
          .timeLimit(.minutes(30)), arguments: HLSRefusalCase.all)
    func misfitOptionsAreUsageErrors(_ testCase: HLSRefusalCase) async throws {
        try await withTemporaryDirectory { directory in
            let input = Locations.fixture(Fixture.small).path
            let output = directory.appendingPathComponent(testCase.output).path
            let queue = TestQueue(in: directory)
            let transcode = try await vqueue(["transcode", input, output] + testCase.options, timeout: .seconds(60))
            let submit = try await queue.run("submit", testCase.options + [input, output])
            for result in [transcode, submit] {
                #expect(result.exitCode == 64, "\(result)")
                #expect(result.stdout.isEmpty, "\(result)")
                let errors = result.stderrLines.filter { $0.hasPrefix("Error: ") }
                #expect(errors.count == 1 && result.stderrLines.first == errors.first, "one error line, first: \(result)")
                #expect(errors.first?.contains(testCase.mentions) == true, "the error must name \(testCase.mentions): \(result)")
                expectNoControlCharacters(result.stderr)
            }
            #expect(directoryListing(directory).isEmpty, "written: \(directoryListing(directory))")
        }
    }

    @Test("a failed ladder leaves no folder, hidden or not, and an existing one as it was", .timeLimit(.minutes(30)),
          arguments: [false, true])
    func failureLeavesNoFolder(replacing: Bool) async throws {
        try await withTemporaryDirectory { directory in
            let output = directory.appendingPathComponent("out.hls")
            if replacing {
                try FileManager.default.createDirectory(at: output, withIntermediateDirectories: false)
                try Data("yesterday's ladder\n".utf8).write(to: output.appendingPathComponent("master.m3u8"))
            }
            let before = filesUnder(output)
            let result = try await vqueue(["transcode", Locations.fixture("truncated_30pct.mp4").path, output.path]
                                          + (replacing ? ["--overwrite"] : []), timeout: .seconds(120))
            expectOneLineError(result, naming: "truncated_30pct.mp4")
            #expect(directoryListing(directory) == (replacing ? ["out.hls"] : []), "left behind: \(directoryListing(directory))")
            #expect(filesUnder(output) == before, "the existing folder was changed: \(filesUnder(output))")
        }
    }

    @Test("an interrupted ladder leaves no folder, hidden or not, and an existing one as it was", .timeLimit(.minutes(30)),
          arguments: [false, true])
    func interruptionLeavesNoFolder(replacing: Bool) async throws {
        try await withTemporaryDirectory { directory in
            let input = try await makeLongSample(in: directory, seconds: 10)
            let outputs = directory.appendingPathComponent("out", isDirectory: true)
            try FileManager.default.createDirectory(at: outputs, withIntermediateDirectories: false)
            let output = outputs.appendingPathComponent("out.hls")
            if replacing {
                try FileManager.default.createDirectory(at: output, withIntermediateDirectories: false)
                try Data("yesterday's ladder\n".utf8).write(to: output.appendingPathComponent("master.m3u8"))
            }
            let before = filesUnder(output)
            let existing = replacing ? ["out.hls"] : []

            try await withProcessSlot {
                let process = try startVqueue(["transcode", input.path, output.path, "--x264-preset", "veryslow"]
                                              + (replacing ? ["--overwrite"] : []))
                // `.out.hls.<pid>.<16 random hex>.part`, a folder only its owner can enter.
                let partPrefix = ".out.hls.\(process.pid)."
                let isPart = { (name: String) in
                    name.hasPrefix(partPrefix) && name.hasSuffix(".part")
                        && name.dropFirst(partPrefix.count).dropLast(".part".count).wholeMatch(of: /[0-9a-f]{16}/) != nil
                }
                let appeared = await eventually(within: .seconds(60)) {
                    !process.isRunning || directoryListing(outputs).contains(where: isPart)
                }
                let listing = directoryListing(outputs)
                #expect(appeared && listing.filter { !isPart($0) } == existing && listing.filter(isPart).count == 1,
                        "while running, only \(partPrefix)<16 hex>.part should be there: \(listing)")
                if let part = listing.first(where: isPart) {
                    let attributes = try? FileManager.default.attributesOfItem(atPath: outputs.appendingPathComponent(part).path)
                    #expect(attributes?[.type] as? FileAttributeType == .typeDirectory
                            && (attributes?[.posixPermissions] as? NSNumber)?.intValue == 0o700,
                            "the hidden folder: \(String(describing: attributes))")
                }
                guard process.isRunning else {
                    let early = await process.wait()
                    Issue.record("vqueue ended before it could be interrupted: \(early)")
                    return
                }
                process.send(signal: SIGTERM)
                let result = await process.wait(timeout: .seconds(60))
                #expect(result.termination == .exited(128 + SIGTERM), "\(result)")
                #expect(result.stdout.isEmpty, "\(result)")
                #expect(result.stderrLines.count == 1 && result.stderrText.contains("out.hls"), "one line naming OUT: \(result)")
                expectNoControlCharacters(result.stderr)
            }
            #expect(directoryListing(outputs) == existing, "left behind after interruption: \(directoryListing(outputs))")
            #expect(filesUnder(output) == before, "the existing folder was changed: \(filesUnder(output))")
        }
    }
}

/// The fields of a ladder job's `status --json` this suite reads.
private struct LadderJob: Decodable {
    struct Result: Decodable {
        struct File: Decodable {
            let path: String
            let size: Int64
        }
        struct Rendition: Decodable, CustomStringConvertible {
            let name: String
            let width: Int?
            let height: Int?
            let bandwidth: Int
            let averageBandwidth: Int
            let segments: Int
            let bytes: Int64
            let codecs: String
            var description: String {
                "\(name) \(width ?? 0)x\(height ?? 0) BANDWIDTH \(bandwidth) AVERAGE \(averageBandwidth) \(segments) segments \(bytes) bytes \(codecs)"
            }
        }
        let container: String
        let files: [File]
        let renditions: [Rendition]
    }
    let state: String
    let attempts: Int
    let result: Result?
}
