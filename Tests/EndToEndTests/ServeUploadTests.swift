import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `POST /v1/uploads` as a site's upload handler uses it: a raw body or a form, written under a
/// name the server picks, queued all or nothing, refused past the size limit while it streams in,
/// and leaving nothing behind when the client goes away.
@Suite("serve: uploads")
struct ServeUploadTests {
    typealias Served = ServeAPITests.Served

    /// The files in the upload folder, hidden partial ones included.
    static func files(_ folder: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).sorted()
    }

    /// `vqueue serve --upload-dir DIR ARGUMENTS...` on the queue, DIR a new folder in `directory`.
    static func servedWithUploads(_ queue: TestQueue, in directory: URL,
                                  arguments: [String] = []) async throws -> (served: Served, uploads: URL) {
        let uploads = directory.appendingPathComponent("uploads")
        try FileManager.default.createDirectory(at: uploads, withIntermediateDirectories: true)
        return (try await Served(queue, in: directory, arguments: ["--upload-dir", uploads.path] + arguments), uploads)
    }

    static func form(boundary: String, fields: [(String, String)], filename: String, file: Data) -> Data {
        var body = Data()
        for (name, value) in fields {
            body += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8)
        }
        body += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(filename)\"\r\nContent-Type: video/mp4\r\n\r\n".utf8)
        body += file
        body += Data("\r\n--\(boundary)--\r\n".utf8)
        return body
    }

    @Test("a raw body and a form's file are written under names the server picks, queued with their fields, and transcoded",
          .timeLimit(.minutes(30)), arguments: TestQueue.Store.allCases)
    func uploadsAreQueued(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let queue = try await TestQueue.make(in: directory, store: store)
            let (served, uploads) = try await Self.servedWithUploads(queue, in: directory)
            let video = try Data(contentsOf: Locations.fixture("old_camera.avi"))
            let rawOutput = directory.appendingPathComponent("raw.mp4")
            let raw = try await served.client.request(
                "POST", "/v1/uploads?output=\(rawOutput.path)&meta.upload=42&crf=30&filename=..%2F..%2Fevil.AVI",
                raw: video, contentType: "application/octet-stream")
            #expect(raw.status == 201, "\(raw)")
            let rawInput = try #require(raw.object["input"] as? String)
            #expect(rawInput.hasPrefix(uploads.path + "/") && rawInput.hasSuffix(".avi") && !rawInput.contains(".."), "\(rawInput)")
            #expect(raw.object["meta"] as? [String: String] == ["upload": "42"])
            #expect(try Data(contentsOf: URL(fileURLWithPath: rawInput)) == video, "the upload is the body, byte for byte")

            // A form: its fields are the job's; a hostile file name gives nothing but an extension.
            let boundary = "vqueue-test-\(UUID().uuidString)"
            let formOutput = directory.appendingPathComponent("form.flv")
            let formBody = Self.form(boundary: boundary, fields: [("output", formOutput.path), ("meta.user", "7"), ("no_audio", "true")],
                                     filename: "../../../etc/cron.d/x;$(reboot).mp4\u{0}", file: try Data(contentsOf: Locations.fixture("one_frame.mp4")))
            let form = try await served.client.request("POST", "/v1/uploads", raw: formBody,
                                                       contentType: "multipart/form-data; boundary=\(boundary)")
            #expect(form.status == 201, "\(form)")
            let formInput = try #require(form.object["input"] as? String)
            #expect(formInput.hasPrefix(uploads.path + "/") && URL(fileURLWithPath: formInput).deletingLastPathComponent().path == uploads.path)
            #expect(form.object["meta"] as? [String: String] == ["user": "7"])
            #expect(Self.files(uploads).count == 2 && Self.files(uploads).allSatisfy { $0.range(of: #"^[0-9a-f]{32}(\.[a-z0-9]+)?$"#, options: .regularExpression) != nil },
                    "\(Self.files(uploads))")

            let worker = try await withProcessSlot { try await queue.startWorker(["--drain"]).wait(timeout: .seconds(300)) }
            #expect(worker.exitCode == 0, "\(worker)")
            let rawInfo = try await probeMedia(rawOutput)
            #expect(rawInfo.videoStreams.first?.codecName == "h264" && rawInfo.audioStreams.first?.codecName == "aac", "\(rawInfo)")
            let formInfo = try await probeMedia(formOutput)
            #expect(formInfo.videoStreams.first?.codecName == "h264" && formInfo.audioStreams.isEmpty, "no_audio was taken: \(formInfo)")
            _ = await served.stop()
        }
    }

    @Test("over --max-upload: refused from its Content-Length, or while a chunked body streams in (413); a refused job; uploads off: nothing left behind",
          .timeLimit(.minutes(30)))
    func refusalsLeaveNothing() async throws {
        try await withTemporaryDirectory { directory in
            let queue = TestQueue(in: directory)
            let (served, uploads) = try await Self.servedWithUploads(queue, in: directory, arguments: ["--max-upload", "100K"])
            let big = Data(repeating: 7, count: 300_000)
            let output = directory.appendingPathComponent("out.mp4").path
            let declared = try await served.client.request("POST", "/v1/uploads?output=\(output)", raw: big, contentType: "video/mp4")
            #expect(declared.status == 413 && declared.errorCode == "too_large", "\(declared)")

            // Chunked: no length to judge by; stopped once past 100 KiB.
            let socket = try HTTPTestClient.connect(served.client.port)
            defer { close(socket) }
            let head = "POST /v1/uploads?output=\(output) HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            var chunked = Data(head.utf8)
            for _ in 0..<10 { chunked += Data("7530\r\n".utf8) + Data(repeating: 1, count: 0x7530) + Data("\r\n".utf8) }
            chunked += Data("0\r\n\r\n".utf8)
            try? HTTPTestClient.send(socket, chunked)
            let streamed = try await offThePool { try HTTPTestClient.readAnswer(socket) }
            #expect(streamed.status == 413 && streamed.errorCode == "too_large", "\(streamed)")

            // A job submit refuses (not a video): its upload goes too.
            let notVideo = try await served.client.request("POST", "/v1/uploads?output=\(output)", raw: Data("hello".utf8),
                                                           contentType: "application/octet-stream")
            #expect(notVideo.status == 422 && notVideo.errorCode == "not_media", "\(notVideo)")
            let keyed = try await served.client.request("POST", "/v1/uploads?output=\(output)&key=k", raw: Data("x".utf8),
                                                        contentType: "application/octet-stream")
            #expect(keyed.status == 400, "\(keyed)")
            #expect(Self.files(uploads).isEmpty, "\(Self.files(uploads))")
            #expect(try await queue.list().isEmpty)
            _ = await served.stop()

            let off = try await Served(queue, in: directory)
            let refused = try await off.client.request("POST", "/v1/uploads?output=\(output)", raw: Data("x".utf8), contentType: "video/mp4")
            #expect(refused.status == 404 && refused.text.contains("--upload-dir"), "\(refused)")
            _ = await off.stop()
        }
    }

    @Test("a client that goes away mid-upload leaves no file and no job; one partial file at most while it sends",
          .timeLimit(.minutes(30)))
    func disconnectLeavesNothing() async throws {
        try await withTemporaryDirectory { directory in
            let queue = TestQueue(in: directory)
            let (served, uploads) = try await Self.servedWithUploads(queue, in: directory)
            let output = directory.appendingPathComponent("out.mp4").path
            let socket = try HTTPTestClient.connect(served.client.port)
            let head = "POST /v1/uploads?output=\(output) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: video/mp4\r\nContent-Length: 50000000\r\n\r\n"
            try HTTPTestClient.send(socket, Data(head.utf8) + (try Data(contentsOf: Locations.fixture("old_camera.avi"))))
            let partial = await eventually(within: .seconds(60)) { Self.files(uploads).count == 1 }
            #expect(partial && Self.files(uploads).first?.hasSuffix(".part") == true, "\(Self.files(uploads))")
            close(socket)
            let gone = await eventually(within: .seconds(60)) { Self.files(uploads).isEmpty }
            #expect(gone, "\(Self.files(uploads))")
            #expect(try await queue.list().isEmpty)
            // The server carries on.
            let after = try await served.client.get("/v1/jobs")
            #expect(after.status == 200, "\(after)")
            _ = await served.stop()
        }
    }
}
