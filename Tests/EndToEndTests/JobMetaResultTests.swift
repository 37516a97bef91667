import Foundation
import Testing

/// `submit --meta` and a succeeded job's `result`, as a site reads them back: the site's own
/// strings in every JSON view of the job (status, list, events, the batch's failures), and what
/// was written, judged against ffprobe.
@Suite("Job meta and results in every JSON view")
struct JobMetaResultTests {
    /// The fields of `status --json` this suite reads.
    struct Viewed: Decodable {
        let id: Int64
        let state: String
        let meta: [String: String]
        let result: Result?
    }

    struct Result: Decodable, Equatable {
        struct File: Decodable, Equatable {
            let path: String
            let size: Int64
        }
        let files: [File]
        let container: String
        let duration: Double
        let width: Int
        let height: Int
        let videoBitrate: Int
        let audioBitrate: Int?
        let frames: Int
    }

    struct Event: Decodable {
        let job: Int64?
        let to: String
        let meta: [String: String]?
    }

    @Test("meta given at submit comes back from status, list and events; a succeeded job's result says what was written",
          .timeLimit(.minutes(30)), arguments: TestQueue.Store.allCases)
    func metaAndResult(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let queue = try await TestQueue.make(in: directory, store: store)
            let tagged = directory.appendingPathComponent("tagged.mp4")
            let plain = directory.appendingPathComponent("plain.flv")
            let meta = ["upload": "42", "user.id": "7", "title": "Zoë's \"clip\" $(rm -rf) \\ ok"]
            let taggedID = try await queue.submit(Locations.fixture("old_camera.avi"), tagged,
                                                  meta.sorted { $0.key < $1.key }.flatMap { ["--meta", "\($0.key)=\($0.value)"] })
            let plainID = try await queue.submit(Locations.fixture("video_only.mp4"), plain)

            // Queued: meta already there, no result yet.
            let queued = try await view(queue, taggedID)
            #expect(queued.meta == meta && queued.result == nil, "\(queued)")

            let worker = try await withProcessSlot {
                try await queue.startWorker(["--drain"]).wait(timeout: .seconds(300))
            }
            #expect(worker.exitCode == 0, "\(worker)")

            let done = try await view(queue, taggedID)
            #expect(done.state == "succeeded" && done.meta == meta, "\(done)")
            let other = try await view(queue, plainID)
            #expect(other.state == "succeeded" && other.meta.isEmpty, "no meta is an empty object: \(other)")

            // list --json shows the same.
            let list = try await queue.run("list", ["--json"])
            #expect(list.exitCode == 0, "\(list)")
            let listed = try JSONDecoder.snakeCase.decode([Viewed].self, from: Data(list.stdoutText.utf8))
            #expect(listed.first { $0.id == taggedID }?.meta == meta && listed.first { $0.id == plainID }?.meta == [:])
            #expect(listed.first { $0.id == taggedID }?.result == done.result, "list shows the result as status does")

            // Every event of the job carries its meta.
            let events = try await queue.run("events", ["--json"])
            #expect(events.exitCode == 0, "\(events)")
            let decoded = try events.stdoutLines.map { try JSONDecoder().decode(Event.self, from: Data($0.utf8)) }
            let ofTagged = decoded.filter { $0.job == taggedID }
            #expect(ofTagged.map(\.to) == ["queued", "running", "succeeded"], "\(events)")
            #expect(ofTagged.allSatisfy { $0.meta == meta }, "\(events)")
            #expect(decoded.filter { $0.job == plainID }.allSatisfy { $0.meta == [:] }, "\(events)")

            try await expectResult(done.result, describes: tagged, container: "mp4", withAudio: true)
            try await expectResult(other.result, describes: plain, container: "flv", withAudio: false)
        }
    }

    @Test("a batch's --meta goes on each of its jobs", arguments: TestQueue.Store.allCases)
    func batchMeta(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let queue = try await TestQueue.make(in: directory, store: store)
            let run = try await queue.run("submit", ["--out-dir", directory.path, "--format", "mp4", "--meta", "site=a", "--meta", "run=9",
                                                     Locations.fixture("one_frame.mp4").path, Locations.fixture("vfr.mkv").path])
            #expect(run.exitCode == 0 && run.stdoutLines.count == 3, "\(run)")
            for id in run.stdoutLines.dropFirst().compactMap({ Int64($0) }) {
                #expect(try await view(queue, id).meta == ["site": "a", "run": "9"])
            }
        }
    }

    @Test("bad meta is refused at submit as a usage error (exit 64) that names it, and nothing is queued",
          arguments: ["no equals sign", "a bad key", "a key twice", "over 4 KiB", "33 pairs"])
    func refusals(_ case: String) async throws {
        let options: [String] = switch `case` {
        case "no equals sign": ["--meta", "upload"]
        case "a bad key": ["--meta", "bad key=1"]
        case "a key twice": ["--meta", "a=1", "--meta", "a=2"]
        case "over 4 KiB": ["--meta", "big=" + String(repeating: "x", count: 4097)]
        default: (0...32).flatMap { ["--meta", "k\($0)=v"] }
        }
        try await withTemporaryDirectory { directory in
            let queue = try await TestQueue.make(in: directory, store: .sqlite)
            let output = directory.appendingPathComponent("out.mp4")
            let result = try await queue.run("submit", options + [Locations.fixture("one_frame.mp4").path, output.path])
            #expect(result.exitCode == 64 && result.stdout.isEmpty, "\(result)")
            let first = result.stderrLines.first ?? ""
            #expect(first.hasPrefix("Error: ") && first.contains("meta"), "\(result)")
            #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("queue.db").path),
                    "nothing queued, no database made")
        }
    }

    private func view(_ queue: TestQueue, _ id: Int64) async throws -> Viewed {
        let run = try await queue.run("status", [String(id), "--json"])
        return try JSONDecoder.snakeCase.decode(Viewed.self, from: Data(run.stdoutText.utf8))
    }

    /// The result against the file on disk and ffprobe's reading of it.
    private func expectResult(_ result: Result?, describes file: URL, container: String, withAudio: Bool,
                              sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let result = try #require(result, "a succeeded job has a result", sourceLocation: sourceLocation)
        let size = try #require(try FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int64)
        #expect(result.files == [Result.File(path: file.path, size: size)], "\(result)", sourceLocation: sourceLocation)
        #expect(result.container == container, sourceLocation: sourceLocation)
        let probe = try await probeMedia(file)
        let video = try #require(probe.streams.first { $0.codecType == "video" })
        #expect(result.width == video.width && result.height == video.height, "\(result)", sourceLocation: sourceLocation)
        #expect(result.frames == (try await decodedVideoFrameCount(file)), "\(result)", sourceLocation: sourceLocation)
        let duration = try #require(probe.format.duration.flatMap(Double.init))
        #expect(abs(result.duration - duration) <= 0.1, "\(result.duration) s against ffprobe's \(duration) s",
                sourceLocation: sourceLocation)
        // Bit rates: the bytes of each stream's packets, as ffprobe lists them, over the duration.
        let videoBits = Double(try await packetBytes(file, stream: "v:0")) * 8 / result.duration
        #expect(abs(Double(result.videoBitrate) - videoBits) <= 0.01 * videoBits, "\(result.videoBitrate) against \(videoBits)",
                sourceLocation: sourceLocation)
        if withAudio {
            let audioBits = Double(try await packetBytes(file, stream: "a:0")) * 8 / result.duration
            let reported = try #require(result.audioBitrate, "audio bit rate", sourceLocation: sourceLocation)
            #expect(abs(Double(reported) - audioBits) <= 0.01 * audioBits, "\(reported) against \(audioBits)",
                    sourceLocation: sourceLocation)
        } else {
            #expect(result.audioBitrate == nil, "no audio, no audio bit rate", sourceLocation: sourceLocation)
        }
    }

    private func packetBytes(_ file: URL, stream: String) async throws -> Int64 {
        let run = try await runProcess(Locations.ffprobe, ["-v", "error", "-select_streams", stream, "-show_entries", "packet=size",
                                                           "-of", "csv=p=0", file.path], timeout: .seconds(60))
        try #require(run.exitCode == 0, "\(run)")
        return run.stdoutLines.compactMap { Int64($0.trimmingCharacters(in: CharacterSet(charactersIn: ", "))) }.reduce(0, +)
    }
}
