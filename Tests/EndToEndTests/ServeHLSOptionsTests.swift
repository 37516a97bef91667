import Foundation
import Testing

/// The HLS ladder's options over HTTP, as a site's code asks for them: `submit`'s `--ladder`,
/// `--segment`, `--hls-segment-type`, `--[no-]poster` and `--storyboard` under their JSON names in
/// `POST /v1/jobs`, `/v1/batches` and `/v1/uploads`, giving the folder they give on the command
/// line; options that do not fit the output refused as 4xx JSON that names them.
@Suite("vqueue serve: the HLS ladder's options")
struct ServeHLSOptionsTests {
    @Test("ladder, segment, hls_segment_type, poster and storyboard over POST /v1/jobs, /v1/batches and /v1/uploads: a worker publishes the ladder asked for",
          .timeLimit(.minutes(30)))
    func optionsGiveTheLadder() async throws {
        try await withTemporaryDirectory { directory in
            let scene = try await QueueScene(in: directory, store: .sqlite)
            let (served, _) = try await ServeUploadTests.servedWithUploads(scene.queue, in: directory)
            let api = served.client

            // A job: two rungs of TS segments, a storyboard, no poster (false must say --no-poster,
            // not fall back to the default).
            let input = Locations.fixture(Fixture.plain)
            let output = scene.output("clip.hls")
            let created = try await api.post("/v1/jobs", [
                "input": input.path, "output": output.path, "ladder": "240p,360p", "segment": 1,
                "hls_segment_type": "ts", "poster": false, "storyboard": true,
            ])
            #expect(created.status == 201, "\(created)")
            let id = try #require(ServeAPITests.id(created), "\(created)")

            // An upload: the options from the query string, a segment as a bare number of seconds.
            let uploaded = Locations.fixture("old_camera.avi")
            let uploadOutput = scene.output("upload.hls")
            let upload = try await api.request(
                "POST", "/v1/uploads?output=\(uploadOutput.path)&ladder=240p&segment=1&hls_segment_type=fmp4&poster=false&storyboard=true",
                raw: try Data(contentsOf: uploaded), contentType: "application/octet-stream")
            #expect(upload.status == 201, "\(upload)")
            let uploadID = try #require(ServeAPITests.id(upload), "\(upload)")

            // A batch: TS segments of 2 s and a poster, asked for explicitly; a time limit in seconds.
            let batchInput = Locations.fixture("video_only.mp4")
            let batch = try await api.post("/v1/batches", [
                "inputs": [batchInput.path], "out_dir": scene.outputs.path, "format": "hls", "ladder": "240p",
                "segment": "2s", "hls_segment_type": "ts", "poster": true, "timeout": 600,
            ])
            #expect(batch.status == 201, "\(batch)")
            let batchJob = try #require((batch.object["job_ids"] as? [NSNumber])?.first?.int64Value, "\(batch)")

            let worker = try await withProcessSlot {
                try await scene.queue.startWorker(["--drain", "--concurrency", "2"]).wait(timeout: .seconds(300))
            }
            #expect(worker.exitCode == 0, "\(worker)")
            expectCleanWorkerLog(worker)
            for job in [id, uploadID, batchJob] {
                let shown = try await api.get("/v1/jobs/\(job)")
                #expect(shown.object["state"] as? String == "succeeded", "job \(job): \(shown)")
            }

            // What the job asked for, spelled out: exactly its rungs, .ts segments, the storyboard, no poster.
            #expect(directoryListing(output) == ["240p", "360p", "audio", "master.m3u8", "storyboard.jpg", "storyboard.vtt"],
                    "\(directoryListing(output))")
            #expect(!FileManager.default.fileExists(atPath: output.appendingPathComponent("poster.jpg").path), "poster: false")
            for rung in ["240p", "360p"] {
                let segments = directoryListing(output.appendingPathComponent(rung)).filter { $0 != "index.m3u8" }
                #expect(!segments.isEmpty && segments.allSatisfy { $0.hasSuffix(".ts") }, "\(rung): \(segments)")
            }
            try await expectHLSLadder(output, from: input, request: HLSLadderRequest(
                rungs: [240, 360], format: .ts, segmentSeconds: 1, poster: false, storyboard: true))

            // The upload's: 2 s cut every second.
            let uploadLadder = try await expectHLSLadder(uploadOutput, from: uploaded, request: HLSLadderRequest(
                rungs: [240], segmentSeconds: 1, poster: false, storyboard: true))
            #expect(uploadLadder.rungs.map { $0.playlist.segments.count } == [2], "segment=1 on a 2 s upload")

            // The batch's: one rung, TS, a poster, no storyboard.
            let batchOutput = scene.output("video_only.hls")
            #expect(directoryListing(batchOutput) == ["240p", "master.m3u8", "poster.jpg"], "\(directoryListing(batchOutput))")
            try await expectHLSLadder(batchOutput, from: batchInput, request: HLSLadderRequest(rungs: [240], format: .ts, segmentSeconds: 2))

            #expect(directoryListing(scene.outputs) == ["clip.hls", "upload.hls", "video_only.hls"], "\(directoryListing(scene.outputs))")
            #expect(await served.stop() == .exited(0), "\(served.process.log)")
        }
    }

    @Test("options that do not fit the output, and bad values, are 4xx JSON naming the problem; nothing is queued or kept",
          .timeLimit(.minutes(30)))
    func misfitOptionsAreRefused() async throws {
        try await withTemporaryDirectory { directory in
            let queue = TestQueue(in: directory)
            let (served, uploads) = try await ServeUploadTests.servedWithUploads(queue, in: directory)
            let api = served.client
            let input = Locations.fixture(Fixture.small).path
            let single = directory.appendingPathComponent("out.mp4").path
            let ladder = directory.appendingPathComponent("out.hls").path

            let refusals: [(path: String, body: [String: Any], mentions: String)] = [
                ("/v1/jobs", ["input": input, "output": single, "ladder": "240p,360p"], "--ladder"),
                ("/v1/jobs", ["input": input, "output": single, "segment": "2s"], "--segment"),
                ("/v1/jobs", ["input": input, "output": single, "hls_segment_type": "ts"], "--hls-segment-type"),
                ("/v1/jobs", ["input": input, "output": ladder, "hls_segment_type": "webm"], "--hls-segment-type"),
                ("/v1/jobs", ["input": input, "output": ladder, "video_bitrate": "1M"], "--video-bitrate"),
                ("/v1/jobs", ["input": input, "output": ladder, "preset": "720p"], "--preset"),
                ("/v1/jobs", ["input": input, "output": ladder, "ladder": "999p"], "999p"),
                ("/v1/jobs", ["input": input, "output": ladder, "segment": 61], "--segment"),
                ("/v1/jobs", ["input": input, "output": ladder, "segment": ["4s"]], "segment"),
                ("/v1/batches", ["inputs": [input], "out_dir": directory.path, "format": "mp4", "segment": "2s"], "--segment"),
                ("/v1/batches", ["inputs": [input], "out_dir": directory.path, "format": "hls", "preset": "720p"], "--preset"),
                // A flag given a value: once an extra argument, so an extra input in a batch.
                ("/v1/jobs", ["input": input, "output": single, "overwrite": "x"], "overwrite is true or false"),
                ("/v1/batches", ["inputs": [input], "out_dir": directory.path, "format": "hls", "storyboard": input],
                 "storyboard is true or false"),
            ]
            for refusal in refusals {
                let answer = try await api.post(refusal.path, refusal.body)
                let message = (answer.object["error"] as? [String: Any])?["message"] as? String ?? ""
                #expect(answer.status == 400 && answer.errorCode == "bad_request", "\(refusal.body): \(answer)")
                #expect(message.contains(refusal.mentions) && !message.contains("\n"), "\(refusal.body): \(answer)")
            }

            // An upload's options are refused as a job's, and the upload goes with its job.
            for query in ["ladder=240p", "poster=maybe"] {
                let answer = try await api.request("POST", "/v1/uploads?output=\(single)&\(query)",
                                                   raw: try Data(contentsOf: Locations.fixture(Fixture.small)),
                                                   contentType: "application/octet-stream")
                #expect(answer.status == 400 && answer.errorCode == "bad_request", "\(query): \(answer)")
                #expect(answer.text.contains(query.prefix { $0 != "=" }), "\(query): \(answer)")
            }
            #expect(directoryListing(uploads).isEmpty, "\(directoryListing(uploads))")
            #expect(try await queue.list().isEmpty)
            #expect(await served.stop() == .exited(0), "\(served.process.log)")
        }
    }
}
