import Foundation
import JobQueue
import Testing
import Transcode
@testable import TranscodeJobs

/// A worker that dies while it publishes a single file with its companions (a poster, a
/// storyboard) leaves a recorded publication (`PublicationToken`) that another worker finishes
/// (`recoverPublication`) or, if it cannot, takes back, so that nothing is left half published and
/// the retry finds every name free.
@Suite("A dead worker's publication of a single file and its companions is finished, or taken back")
struct CompanionRecoveryTests {
    /// What a worker had when it recorded the publication: OUT's temporary file and the temporary
    /// folder with the companions made in it, in a folder of the test's own.
    struct Attempt {
        let folder: URL
        let output: URL
        let job: Job
        let token: String
        let temporaryFile: URL
        let temporaryFolder: URL
        static let tag = "job7-1"
        static let contents = ["poster.jpg": "a poster", "storyboard.jpg": "a grid", "storyboard.vtt": "WEBVTT\n"]

        init() throws {
            folder = FileManager.default.temporaryDirectory.appendingPathComponent("recovery-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: false)
            output = folder.appendingPathComponent("out.mp4")
            var options = TranscodeOptions()
            options.poster = true
            options.storyboard = true
            let payload = try TranscodeJob(input: folder.appendingPathComponent("in.mp4").path, output: output.path,
                                           options: options, overwrite: false).encoded()
            job = Job(id: 7, kind: TranscodeJob.kind, payload: payload, queue: "default", priority: 0, state: .running,
                      attempts: 1, maxAttempts: 3, runAt: 0, submittedAt: 0)
            let opened = try OutputFolder(containing: output.path)
            let file = try TemporaryOutput(for: output.path, tag: Self.tag, in: opened)
            try Data("the video".utf8).write(to: URL(fileURLWithPath: "/proc/self/fd/\(file.descriptor)"))
            let companions = try TemporaryCompanions(for: output.path, tag: Self.tag,
                                                     companions: CompanionFile.all(for: output.path, options: options), in: opened)
            temporaryFile = folder.appendingPathComponent(file.name)
            temporaryFolder = folder.appendingPathComponent(companions.name)
            for (name, text) in Self.contents { try Data(text.utf8).write(to: temporaryFolder.appendingPathComponent(name)) }
            try companions.inventory()
            token = PublicationToken(file, companions: companions).text
        }

        /// What the dead worker had done: moved `name` beside OUT, as publishing does first.
        func moved(_ name: String) throws {
            try FileManager.default.moveItem(at: temporaryFolder.appendingPathComponent(name),
                                             to: folder.appendingPathComponent("out." + name))
        }

        var listing: [String] { ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).sorted() }

        func text(_ name: String) -> String? {
            (try? Data(contentsOf: folder.appendingPathComponent(name))).map { String(decoding: $0, as: UTF8.self) }
        }

        func remove() { try? FileManager.default.removeItem(at: folder) }
    }

    static let published = ["out.mp4", "out.poster.jpg", "out.storyboard.jpg", "out.storyboard.vtt"]

    let handler = TranscodeJobHandler(executable: "/bin/false", threadsPerJob: nil, allowed: nil,
                                      limits: TranscodeLimits(maxMemory: 1 << 30))

    @Test("killed after moving the poster: the publication is finished, OUT last, and no temporary file or folder is left")
    func finishesAHalfPublication() throws {
        let attempt = try Attempt()
        defer { attempt.remove() }
        try attempt.moved("poster.jpg")
        #expect(handler.recoverPublication(attempt.job, token: attempt.token))
        #expect(attempt.listing == Self.published, "\(attempt.listing)")
        #expect(attempt.text("out.mp4") == "the video" && attempt.text("out.storyboard.vtt") == "WEBVTT\n"
                && attempt.text("out.poster.jpg") == "a poster")
    }

    @Test("killed after OUT took its name: the publication stands, and the leftover temporary folder is removed")
    func removesTheFolderOfADonePublication() throws {
        let attempt = try Attempt()
        defer { attempt.remove() }
        for name in Attempt.contents.keys { try attempt.moved(name) }
        try FileManager.default.moveItem(at: attempt.temporaryFile, to: attempt.output)
        #expect(handler.recoverPublication(attempt.job, token: attempt.token))
        #expect(attempt.listing == Self.published, "\(attempt.listing)")
    }

    @Test("a publication that cannot be finished (OUT's temporary file is gone): the companions already moved are taken back, and discard leaves the folder empty for the retry")
    func takesBackALostPublication() throws {
        let attempt = try Attempt()
        defer { attempt.remove() }
        try attempt.moved("poster.jpg")
        try attempt.moved("storyboard.jpg")
        try FileManager.default.removeItem(at: attempt.temporaryFile)
        #expect(!handler.recoverPublication(attempt.job, token: attempt.token))
        #expect(!attempt.listing.contains { $0.hasPrefix("out.") }, "left published: \(attempt.listing)")
        handler.discard(attempt.job)
        #expect(attempt.listing.isEmpty, "left behind: \(attempt.listing)")
    }

    @Test("a companion someone else put in its place meanwhile is neither replaced nor taken back, and nothing is published")
    func leavesAnotherOnesCompanion() throws {
        let attempt = try Attempt()
        defer { attempt.remove() }
        try attempt.moved("poster.jpg")
        try Data("someone else's".utf8).write(to: attempt.folder.appendingPathComponent("out.storyboard.vtt"))
        #expect(!handler.recoverPublication(attempt.job, token: attempt.token))
        handler.discard(attempt.job)
        #expect(attempt.listing == ["out.storyboard.vtt"], "\(attempt.listing)")
        #expect(attempt.text("out.storyboard.vtt") == "someone else's")
    }

    @Test("a token without companions reads as workers of earlier releases wrote it")
    func earlierTokens() throws {
        let token = try #require(PublicationToken(text: "66306:1234 .out.mp4.job7-1.00112233445566ff.part"))
        #expect(token.identity == FileIdentity(device: 66306, inode: 1234) && token.companions == nil)
        #expect(token.name == ".out.mp4.job7-1.00112233445566ff.part" && token.text == "66306:1234 " + token.name)
    }
}
