import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `vqueue serve` as a site's code talks to it: plain HTTP on loopback, JSON in and out, the
/// same fields and the same refusals as the command line, errors as 4xx JSON with a stable code.
@Suite("vqueue serve: the JSON API, the event stream, and who may call it")
struct ServeAPITests {
    /// A running `vqueue serve` on a queue, on a port the kernel picked.
    final class Served: @unchecked Sendable {
        let process: LoggedProcess
        let client: HTTPTestClient

        init(_ queue: TestQueue, in directory: URL, arguments: [String] = [], token: String? = nil) async throws {
            process = try LoggedProcess(Locations.vqueue, queue.commandLine("serve", ["--listen", "127.0.0.1:0"] + arguments),
                                        logFile: directory.appendingPathComponent("serve-\(UUID().uuidString.prefix(6)).log"),
                                        environment: queue.environment)
            let line = await process.line(within: .seconds(60)) { $0.contains("serving http://") }
            guard let line, let port = line.firstMatch(of: /127\.0\.0\.1:(\d+)/).flatMap({ Int($0.1) }) else {
                await process.end()
                throw ServeNotStarted(log: process.log)
            }
            client = HTTPTestClient(port: port, token: token)
        }

        func stop() async -> Termination { await process.stop(timeout: .seconds(20)) }

        /// A test that failed before `stop()` leaves no server behind.
        deinit { process.send(signal: SIGKILL) }
    }

    struct ServeNotStarted: Error, CustomStringConvertible {
        let log: String
        var description: String { "vqueue serve did not start: \(log)" }
    }

    static func id(_ answer: HTTPTestClient.Answer) -> Int64? { (answer.object["id"] as? NSNumber)?.int64Value }

    @Test("jobs over HTTP: POST queues with submit's checks, GET shows what status --json shows, paging, cancel, retry, batches, workers, events",
          .timeLimit(.minutes(30)), arguments: TestQueue.Store.allCases)
    func jsonAPI(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let queue = try await TestQueue.make(in: directory, store: store)
            let served = try await Served(queue, in: directory)
            let api = served.client
            let input = Locations.fixture("one_frame.mp4").path

            // POST /v1/jobs: 201 and the job; the same key again: 200 and the same job.
            let created = try await api.post("/v1/jobs", ["input": input, "output": directory.appendingPathComponent("a.mp4").path,
                                                    "meta": ["upload": "7"], "priority": 5, "key": "upload-7", "crf": 30])
            #expect(created.status == 201 && created.headers["content-type"] == "application/json", "\(created)")
            let first = try #require(Self.id(created), "\(created)")
            #expect(created.object["state"] as? String == "queued" && created.object["priority"] as? Int == 5)
            #expect(created.object["meta"] as? [String: String] == ["upload": "7"])
            let again = try await api.post("/v1/jobs", ["input": input, "output": directory.appendingPathComponent("other.mp4").path,
                                                  "key": "upload-7"])
            #expect(again.status == 200 && Self.id(again) == first, "a retried POST with its key finds its job: \(again)")

            // GET /v1/jobs/ID is status --json, byte for byte.
            let shown = try await api.get("/v1/jobs/\(first)")
            let status = try await queue.run("status", [String(first), "--json"])
            #expect(shown.status == 200, "\(shown)")
            #expect(shown.text == status.stdoutText, "\(shown) against \(status)")

            // Refusals, each with its code and one line.
            let refusals: [(body: Any?, raw: String?, status: Int, code: String)] = [
                (["input": input], nil, 400, "bad_request"),
                (["input": "relative.mp4", "output": "/tmp/x.mp4"], nil, 400, "bad_request"),
                (["input": input, "output": directory.appendingPathComponent("b.mp4").path, "colour": "red"], nil, 400, "bad_request"),
                (["input": input, "output": directory.appendingPathComponent("b.mp4").path, "crf": 99], nil, 400, "bad_request"),
                (["input": input, "output": directory.appendingPathComponent("b.mp4").path, "meta": ["bad key": "1"]], nil, 400, "bad_request"),
                (["input": directory.appendingPathComponent("missing.avi").path, "output": directory.appendingPathComponent("b.mp4").path],
                 nil, 422, "input_missing"),
                (["input": Locations.fixture("text_file.avi").path, "output": directory.appendingPathComponent("b.mp4").path],
                 nil, 422, "not_media"),
                (["input": input, "output": directory.appendingPathComponent("a.mp4").path], nil, 409, "output_busy"),
                (nil, "{\"input\": ", 400, "bad_request"),
                (nil, "[1, 2]", 400, "bad_request"),
                (nil, String(repeating: "[", count: 5000), 400, "bad_request"),
                (nil, "{\"input\": \"" + String(repeating: "x", count: 70_000) + "\"}", 413, "too_large"),
            ]
            for refusal in refusals {
                let answer = try await api.request("POST", "/v1/jobs", json: refusal.body, raw: refusal.raw.map { Data($0.utf8) })
                let sent = refusal.raw.map { String($0.prefix(60)) } ?? String(describing: refusal.body)
                #expect(answer.status == refusal.status, "\(sent): \(answer)")
                #expect(answer.errorCode == refusal.code, "\(sent): \(answer)")
                let message = (answer.object["error"] as? [String: Any])?["message"] as? String ?? ""
                #expect(!message.isEmpty && !message.contains("\n"), "\(answer)")
            }

            // Paging, newest first, filtered by state and queue.
            var ids = [first]
            for index in 1...4 {
                let answer = try await api.post("/v1/jobs", ["input": input, "output": directory.appendingPathComponent("p\(index).mp4").path,
                                                       "queue": index.isMultiple(of: 2) ? "even" : "default"])
                ids.append(try #require(Self.id(answer), "\(answer)"))
            }
            let page1 = try await api.get("/v1/jobs?limit=2")
            let listed1 = (page1.object["jobs"] as? [[String: Any]] ?? []).compactMap { ($0["id"] as? NSNumber)?.int64Value }
            #expect(listed1 == [ids[4], ids[3]], "\(page1)")
            let next = try #require((page1.object["next_before"] as? NSNumber)?.int64Value, "\(page1)")
            let page2 = try await api.get("/v1/jobs?limit=2&before=\(next)")
            #expect((page2.object["jobs"] as? [[String: Any]] ?? []).compactMap { ($0["id"] as? NSNumber)?.int64Value } == [ids[2], ids[1]])
            let even = try await api.get("/v1/jobs?queue=even&state=queued")
            #expect((even.object["jobs"] as? [[String: Any]] ?? []).compactMap { ($0["id"] as? NSNumber)?.int64Value } == [ids[4], ids[2]])
            #expect(try await api.get("/v1/jobs?state=sleeping").errorCode == "bad_request")
            #expect(try await api.get("/v1/jobs?limit=0").errorCode == "bad_request")

            // Cancel and retry, and their refusals.
            let cancelled = try await api.post("/v1/jobs/\(ids[1])/cancel")
            #expect(cancelled.status == 200 && cancelled.object["state"] as? String == "cancelled", "\(cancelled)")
            #expect(try await api.post("/v1/jobs/\(ids[1])/cancel").errorCode == "not_cancellable")
            #expect(try await api.post("/v1/jobs/\(ids[2])/retry").errorCode == "not_retryable")
            let retried = try await api.post("/v1/jobs/\(ids[1])/retry")
            #expect(retried.status == 200 && retried.object["state"] as? String == "queued", "\(retried)")

            // Unknown things: JSON 404s and 400s, never a crash.
            #expect(try await api.get("/v1/jobs/999999").errorCode == "not_found")
            #expect(try await api.get("/v1/jobs/abc").errorCode == "bad_request")
            #expect(try await api.get("/v1/batches/999999").errorCode == "not_found")
            let nowhere = try await api.get("/nowhere")
            #expect(nowhere.status == 404 && nowhere.errorCode == "not_found", "\(nowhere)")
            #expect(try await api.request("DELETE", "/v1/jobs/\(first)").errorCode == "not_found", "no route for that method")
            #expect(try await api.get("/v1/jobs?queue=" + String(repeating: "q", count: 5000)).status == 414)
            #expect(try await api.post("/v1/workers/nobody/stop").errorCode == "not_found")

            // A batch: all or nothing, then read as status --batch --json shows it.
            let vfr = Locations.fixture("vfr.mkv").path
            let before = try await api.get("/v1/jobs?limit=1000")
            let refusedBatch = try await api.post("/v1/batches", ["inputs": [input, directory.appendingPathComponent("gone.avi").path],
                                                            "out_dir": directory.path, "format": "flv"])
            #expect(refusedBatch.status == 422 && refusedBatch.errorCode == "input_missing", "\(refusedBatch)")
            #expect(try await api.get("/v1/jobs?limit=1000").text == before.text, "a refused batch queues nothing")
            #expect(try await api.post("/v1/batches", ["inputs": [input], "format": "flv"]).errorCode == "bad_request", "no out_dir")
            let batch = try await api.post("/v1/batches", ["inputs": [input, vfr], "out_dir": directory.path, "format": "flv",
                                                     "meta": ["site": "a"], "crf": 30])
            #expect(batch.status == 201 && batch.object["jobs"] as? Int == 2, "\(batch)")
            let batchID = try #require((batch.object["id"] as? NSNumber)?.int64Value, "\(batch)")
            let cliBatch = try await queue.run("status", ["--batch", String(batchID), "--json"])
            let shownBatch = try await api.get("/v1/batches/\(batchID)")
            #expect(shownBatch.status == 200 && shownBatch.object["job_ids"] as? [Int] == batch.object["job_ids"] as? [Int], "\(shownBatch)")
            #expect(shownBatch.text == cliBatch.stdoutText, "the same JSON as status --batch --json: \(shownBatch) against \(cliBatch)")
            for id in batch.object["job_ids"] as? [Int] ?? [] {
                #expect(try await api.get("/v1/jobs/\(id)").object["meta"] as? [String: String] == ["site": "a"])
            }

            // Workers: the one that ran the queue dry is listed with the fields of workers --json.
            let worker = try await withProcessSlot { try await queue.startWorker(["--drain"]).wait(timeout: .seconds(200)) }
            #expect(worker.exitCode == 0, "\(worker)")
            let workers = try await api.get("/v1/workers")
            let listed = workers.json as? [[String: Any]] ?? []
            #expect(workers.status == 200 && listed.count == 1 && listed.first?["state"] as? String == "stopped", "\(workers)")
            let done = try await api.get("/v1/jobs/\(first)")
            #expect(done.object["state"] as? String == "succeeded" && done.object["result"] is [String: Any], "\(done)")

            // Events: the page form has what `events --json` prints.
            let events = try await api.get("/v1/events?since=0&limit=1000")
            let cli = try await queue.run("events", ["--json"])
            let pageIDs = (events.object["events"] as? [[String: Any]] ?? []).compactMap { ($0["id"] as? NSNumber)?.int64Value }
            #expect(!pageIDs.isEmpty && pageIDs.count == cli.stdoutLines.count, "\(events)")
            #expect((events.object["last"] as? NSNumber)?.int64Value == pageIDs.last)

            #expect(await served.stop() == .exited(0), "SIGTERM ends serve at once: \(served.process.log)")
        }
    }

    @Test("""
        a long video split over HTTP: "split": true with "chunk" queues a job made of parts, as submit --split does, and \
        an upload's split=true too; "split": "auto" with no worker is an ordinary job; a bad split or chunk is a 400
        """, .timeLimit(.minutes(30)))
    func splitOverHTTP() async throws {
        try await withTemporaryDirectory { directory in
            let queue = try await TestQueue.make(in: directory, store: .sqlite)
            let uploads = directory.appendingPathComponent("uploads")
            try FileManager.default.createDirectory(at: uploads, withIntermediateDirectories: true)
            let served = try await Served(queue, in: directory, arguments: ["--upload-dir", uploads.path])
            let api = served.client
            let input = try await makeLongSample(in: directory, seconds: 8, size: "320x240")
            let out = { (name: String) in directory.appendingPathComponent(name).path }

            // 8 s in 2 s chunks: four chunks and the audio.
            let split = try await api.post("/v1/jobs", ["input": input.path, "output": out("split.mp4"), "split": true, "chunk": 2])
            #expect(split.status == 201 && split.object["state"] as? String == "waiting", "\(split)")
            #expect((split.object["parts"] as? [String: Any])?["total"] as? Int == 5, "\(split)")
            let shown = try await queue.run("status", [String(try #require(Self.id(split))), "--json"])
            #expect(try await api.get("/v1/jobs/\(try #require(Self.id(split)))").text == shown.stdoutText)

            let uploaded = try await api.request("POST", "/v1/uploads?output=\(out("uploaded.mp4"))&split=true&chunk=2s",
                                                 raw: try Data(contentsOf: input), contentType: "application/octet-stream")
            #expect(uploaded.status == 201 && (uploaded.object["parts"] as? [String: Any])?["total"] as? Int == 5, "\(uploaded)")

            // No worker is alive: auto does not split.
            let auto = try await api.post("/v1/jobs", ["input": input.path, "output": out("auto.mp4"), "split": "auto", "chunk": 2])
            #expect(auto.status == 201 && auto.object["state"] as? String == "queued", "\(auto)")
            #expect(auto.object["parts"] is NSNull, "an ordinary job: \(auto)")

            for body: [String: Any] in [["split": "sometimes"], ["split": 1], ["chunk": 2], ["split": true, "chunk": 0.5],
                                        ["split": true, "chunk": "soon"]] {
                let answer = try await api.post("/v1/jobs", body.merging(["input": input.path, "output": out("refused.mp4")]) { a, _ in a })
                #expect(answer.status == 400 && answer.errorCode == "bad_request", "\(body): \(answer)")
            }
            let badUpload = try await api.request("POST", "/v1/uploads?output=\(out("bad.mp4"))&split=maybe",
                                                  raw: try Data(contentsOf: input), contentType: "application/octet-stream")
            #expect(badUpload.status == 400, "\(badUpload)")
            #expect(try await queue.query("SELECT count(*) FROM jobs WHERE parent_id IS NULL") == ["3"], "nothing refused was queued")
            _ = await served.stop()
        }
    }

    @Test("the event stream: events as they happen, each with its id; a client that reconnects with Last-Event-ID misses none and gets none twice",
          .timeLimit(.minutes(3)), arguments: TestQueue.Store.allCases)
    func eventStream(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let queue = try await TestQueue.make(in: directory, store: store)
            let served = try await Served(queue, in: directory)
            let api = served.client
            let input = Locations.fixture("one_frame.mp4").path
            let stream = try await api.openStream("/v1/events")
            let submitted = try await api.post("/v1/jobs", ["input": input, "output": directory.appendingPathComponent("a.mp4").path])
            let id = try #require(Self.id(submitted), "\(submitted)")
            let queued = try #require(await stream.next(), "the submit's event arrives")
            #expect(stream.status == 200)
            #expect(queued.name == "job" && (queued.object["job"] as? NSNumber)?.int64Value == id && queued.object["to"] as? String == "queued",
                    "\(queued)")
            let lastSeen = try #require(queued.id)

            // Two more events while nobody listens, then a reconnect from the last id seen.
            _ = try await api.post("/v1/jobs/\(id)/cancel")
            _ = try await api.post("/v1/jobs/\(id)/retry")
            let resumed = try await api.openStream("/v1/events", lastEventID: lastSeen)
            let missed = [await resumed.next(), await resumed.next()].compactMap { $0 }
            #expect(missed.map { $0.object["to"] as? String } == ["cancelled", "queued"], "\(missed.map(\.data))")
            #expect(missed.compactMap(\.id).allSatisfy { $0 > lastSeen })
            #expect(await resumed.next(timeout: .seconds(2)) == nil, "nothing twice")
            #expect(await served.stop() == .exited(0), "a stream open does not hold serve up: \(served.process.log)")
        }
    }

    @Test("who may call: loopback by default; another address needs --token-file; with a token every request needs it, compared whole")
    func access() async throws {
        try await withTemporaryDirectory { directory in
            let queue = try await TestQueue.make(in: directory, store: .sqlite)
            let open = try await queue.run("serve", ["--listen", "0.0.0.0:0"])
            #expect(open.exitCode == 64 && open.stderrLines.first?.contains("--token-file") == true, "\(open)")
            let short = directory.appendingPathComponent("short-token")
            try Data("abc\n".utf8).write(to: short)
            let refused = try await queue.run("serve", ["--token-file", short.path])
            #expect(refused.exitCode == 64 && refused.stderrLines.count == 1 && refused.stderrText.contains("16"), "\(refused)")

            let token = "s3cret-token-\(UUID().uuidString)"
            let file = directory.appendingPathComponent("token")
            try Data((token + "\n").utf8).write(to: file)
            let served = try await Served(queue, in: directory, arguments: ["--token-file", file.path], token: token)
            #expect(try await served.client.get("/v1/workers").status == 200)
            var anonymous = served.client
            anonymous.token = nil
            let none = try await anonymous.get("/v1/workers")
            #expect(none.status == 401 && none.errorCode == "unauthorized" && none.headers["www-authenticate"] == "Bearer", "\(none)")
            for guess in [String(token.dropLast()), token + "x", token.uppercased(), ""] {
                var guessing = served.client
                guessing.token = guess
                #expect(try await guessing.get("/v1/workers").status == 401, "\(guess)")
            }
            #expect(try await anonymous.post("/v1/jobs", ["input": "/x", "output": "/y"]).status == 401, "no job queued without the token")
            let metrics = try await anonymous.get("/metrics")
            #expect(metrics.status == 200 && metrics.text.contains("vqueue_jobs"), "a Prometheus scraper needs no token: \(metrics)")
            #expect(await served.stop() == .exited(0))
        }
    }

    @Test("what a browser can be tricked into: another site's POST (by its Origin or Sec-Fetch-Site) and a name rebound to 127.0.0.1 are refused; the farm's own page is not")
    func browsers() async throws {
        try await withTemporaryDirectory { directory in
            let queue = TestQueue(in: directory)
            let id = try await queue.submit(Locations.fixture("one_frame.mp4"), directory.appendingPathComponent("out.mp4"))
            let served = try await Served(queue, in: directory)
            let api = served.client
            for headers in [["Origin": "http://evil.example"], ["Origin": "http://127.0.0.1:1"], ["Origin": "null"],
                            ["Sec-Fetch-Site": "cross-site"]] {
                let forged = try await api.request("POST", "/v1/jobs/\(id)/cancel", headers: headers)
                #expect(forged.status == 403 && forged.errorCode == "cross_origin", "\(headers): \(forged)")
            }
            let posted = try await api.request("POST", "/v1/jobs", json: ["input": "/x", "output": "/y.mp4"], headers: ["Origin": "http://evil.example"])
            #expect(posted.status == 403, "\(posted)")
            #expect(try await queue.job(id).state == "queued", "nothing was cancelled")

            // DNS rebinding: the attacker's name, resolved to 127.0.0.1, is refused even for a read.
            let socket = try HTTPTestClient.connect(api.port)
            defer { close(socket) }
            try HTTPTestClient.send(socket, Data("GET /v1/jobs/\(id) HTTP/1.1\r\nHost: rebound.evil.example:\(api.port)\r\nConnection: close\r\n\r\n".utf8))
            let rebound = try await offThePool { try HTTPTestClient.readAnswer(socket) }
            #expect(rebound.status == 403 && rebound.errorCode == "bad_host", "\(rebound)")

            // The farm's own page, as a browser sends it (its own origin), may cancel.
            let own = try await api.request("POST", "/v1/jobs/\(id)/cancel", headers: ["Origin": "http://127.0.0.1:\(api.port)", "Sec-Fetch-Site": "same-origin"])
            #expect(own.status == 200 && own.object["state"] as? String == "cancelled", "\(own)")
            let local = try await api.request("GET", "/v1/jobs/\(id)", headers: [:])
            #expect(local.status == 200)
            #expect(await served.stop() == .exited(0))
        }
    }
}
