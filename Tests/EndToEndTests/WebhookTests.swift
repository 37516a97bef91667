import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Webhooks as a site receives them: a receiver on loopback verifies each delivery with the
/// README's own code, and is down, failing, hanging or gone while workers deliver, are killed, and
/// stop.
@Suite("Webhooks: signed, durable notifications when jobs and batches end")
struct WebhookTests {
    @Test("each job's end and a batch's end reach the job's URL and the farm's, signed (verified by the README's Python and PHP), with the job's JSON",
          .timeLimit(.minutes(30)), arguments: TestQueue.Store.allCases)
    func signedDeliveries(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let queue = try await TestQueue.make(in: directory, store: store)
            let receiver = try await WebhookReceiver.start(in: directory)
            defer { Task { await receiver.end() } }
            let single = try await queue.submit(Locations.fixture("one_frame.mp4"), directory.appendingPathComponent("single.mp4"),
                                                ["--notify", receiver.url("/job"), "--meta", "upload=42"])
            let batchDirectory = directory.appendingPathComponent("batch")
            try FileManager.default.createDirectory(at: batchDirectory, withIntermediateDirectories: true)
            let batch = try await queue.run("submit", ["--out-dir", batchDirectory.path, "--format", "flv", "--notify", receiver.url("/batch"),
                                                       "--", Locations.fixture("one_frame.mp4").path, Locations.fixture("old_camera.avi").path])
            #expect(batch.exitCode == 0, "\(batch)")
            let batchIDs = batch.stdoutLines.compactMap { Int64($0) }
            try #require(batchIDs.count == 3, "\(batch)")
            // Cancelled before any worker set the farm's URL: told to its own URL only.
            let cancelled = try await queue.submit(Locations.fixture("one_frame.mp4"), directory.appendingPathComponent("cancelled.mp4"),
                                                   ["--notify", receiver.url("/job")])
            #expect(try await queue.run("cancel", [String(cancelled)]).exitCode == 0)

            let worker = try await withProcessSlot {
                try await queue.startWorker(["--drain", "--notify-secret-file", receiver.secretFile.path, "--notify", receiver.url("/farm")])
                    .wait(timeout: .seconds(300))
            }
            #expect(worker.exitCode == 0, "\(worker)")
            #expect(worker.stderrText.contains("(the farm's URL)"), "\(worker)")

            // A draining worker delivers what is due before it exits.
            let requests = receiver.requests
            #expect(requests.count == 9, "\(requests.map { "\($0.path) \($0.event)" })")
            #expect(requests.allSatisfy { $0.valid }, "every signature verifies with the README's Python")
            #expect(Set(requests.map(\.id)).count == requests.count, "one webhook-id per notification")
            #expect(requests.allSatisfy { $0.headers["content-type"] == "application/json" && $0.answer == "200" })
            func told(_ path: String, _ event: String, id: Int64) -> [WebhookReceiver.Request] {
                requests.filter { $0.path == path && $0.event == event && ($0.json["id"] as? NSNumber)?.int64Value == id }
            }
            for (id, path) in [(single, "/job"), (batchIDs[1], "/batch"), (batchIDs[2], "/batch")] {
                #expect(told(path, "job.succeeded", id: id).count == 1, "job \(id) to \(path)")
                #expect(told("/farm", "job.succeeded", id: id).count == 1, "job \(id) to the farm")
            }
            #expect(told("/job", "job.cancelled", id: cancelled).count == 1)
            #expect(told("/farm", "job.cancelled", id: cancelled).isEmpty, "cancelled before the farm had a URL")
            let batchEnds = told("/batch", "batch.ended", id: batchIDs[0]) + told("/farm", "batch.ended", id: batchIDs[0])
            #expect(batchEnds.count == 2 && batchEnds.allSatisfy { $0.json["finished"] as? Bool == true }, "\(batchEnds.map(\.body))")

            // The body is the job's JSON as status --json prints it, with the event.
            let delivered = try #require(told("/job", "job.succeeded", id: single).first)
            var body = delivered.json
            #expect(body.removeValue(forKey: "event") as? String == "job.succeeded")
            let status = try await queue.run("status", [String(single), "--json"])
            let printed = try #require(try JSONSerialization.jsonObject(with: status.stdout) as? [String: Any])
            func canonical(_ object: [String: Any]) throws -> String {
                String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
            }
            #expect(try canonical(body) == canonical(printed), "\(delivered.body)\n\(status.stdoutText)")
            #expect((body["meta"] as? [String: String]) == ["upload": "42"] && (body["result"] as? [String: Any])?["frames"] != nil)

            // The README's PHP verifies the same delivery as it arrived, and refuses it with one byte of
            // the body changed. Its clock is set back to the arrival (libfaketime): the example rightly
            // refuses a delivery signed more than 5 minutes ago, and on a busy machine this check has
            // come more than 5 minutes after the first job's delivery.
            try #require(FileManager.default.isExecutableFile(atPath: Locations.php.path), "php is missing (make deps-test)")
            let php = try ReadmeExamplesTests.example("php", section: WebhookReceiver.readmeSection, endingAt: "\n### ")
            let request = directory.appendingPathComponent("request.json")
            try JSONSerialization.data(withJSONObject: ["headers": delivered.headers, "body": delivered.body]).write(to: request)
            let script = "<?php\n\(php)\n$r = json_decode(file_get_contents($argv[1]), true);\n"
                + "$secret = trim(file_get_contents($argv[2]));\n"
                + "echo verify_webhook($secret, $r['headers'], $r['body']) ? 'valid' : 'invalid', ' ';\n"
                + "echo verify_webhook($secret, $r['headers'], str_replace('42', '43', $r['body'])) ? 'valid' : 'invalid', \"\\n\";\n"
            let libfaketime = try #require(MultiHostTests.libfaketime, "libfaketime is missing (make deps-test)")
            let arrival = DateFormatter()
            arrival.locale = Locale(identifier: "en_US_POSIX")
            arrival.timeZone = TimeZone(identifier: "UTC")
            arrival.dateFormat = "yyyy-MM-dd HH:mm:ss"
            let phpRun = try await runProcess(Locations.php, ["-r", String(script.dropFirst(6)), request.path, receiver.secretFile.path],
                                              environment: ["LD_PRELOAD": libfaketime, "TZ": "UTC",
                                                            "FAKETIME": "@" + arrival.string(from: Date(timeIntervalSince1970: delivered.received)),
                                                            "FAKETIME_DONT_FAKE_MONOTONIC": "1"],
                                              timeout: .seconds(60))
            #expect(phpRun.stdoutText == "valid invalid\n", "\(phpRun)")

            // Each delivery's end is an event.
            let events = try await queue.run("events", ["--json"])
            let notificationEvents = events.stdoutLines.filter { $0.contains(#""kind":"notification""#) }
            #expect(notificationEvents.count == 9 && notificationEvents.allSatisfy { $0.contains(#""to":"delivered""#) },
                    "\(events.stdoutText)")
        }
    }

    @Test("a receiver that refuses connections, then answers 503, gets the delivery later with the same webhook-id",
          .timeLimit(.minutes(30)))
    func receiverDownThenBack() async throws {
        try await withTemporaryDirectory { directory in
            let queue = TestQueue(in: directory)
            let receiver = try await WebhookReceiver.start(in: directory, answers: "503,200", down: true)
            defer { Task { await receiver.end() } }
            let id = try await queue.submit(Locations.fixture("one_frame.mp4"), directory.appendingPathComponent("out.mp4"),
                                            ["--notify", receiver.url("/hook")])
            try await withProcessSlot {
                let worker = try queue.startLoggedWorker(["--notify-secret-file", receiver.secretFile.path],
                                                         logFile: directory.appendingPathComponent("worker.log"))
                defer { Task { await worker.end() } }
                let refused = await worker.line(within: .seconds(300)) { $0.contains("notification") && $0.contains("attempt 1 failed") }
                #expect(refused != nil, "\(worker.log)")
                #expect(receiver.requests.isEmpty, "the receiver was down")
                receiver.comeUp()
                let requests = await receiver.requests(within: .seconds(120)) { $0.contains { $0.answer == "200" } }
                #expect(requests.map(\.answer) == ["503", "200"], "\(requests.map(\.answer)) \(worker.log)")
                #expect(Set(requests.map(\.id)) == ["msg_1"] && requests.allSatisfy { $0.valid }, "\(requests.map(\.id))")
                #expect(requests.allSatisfy { ($0.json["id"] as? NSNumber)?.int64Value == id })
                let row = await eventually(within: .seconds(30)) {
                    ((try? await queue.query("SELECT state FROM notifications")) ?? []) == ["delivered"]
                }
                let rows = try await queue.query("SELECT state, attempts, last_error FROM notifications")
                #expect(row, "\(rows)")
                #expect(worker.log.contains("the receiver answered HTTP 503"), "\(worker.log)")
                #expect(await worker.stop(timeout: .seconds(60)) == .exited(0))
            }
        }
    }

    @Test("a worker killed with kill -9 while delivering: another worker delivers it, with the same webhook-id; the job succeeded once",
          .timeLimit(.minutes(30)))
    func killedDelivererIsTakenOver() async throws {
        try await withTemporaryDirectory { directory in
            let queue = TestQueue(in: directory)
            // The first delivery is never answered: the worker is killed in the middle of it.
            let receiver = try await WebhookReceiver.start(in: directory, answers: "hang,200")
            defer { Task { await receiver.end() } }
            let id = try await queue.submit(Locations.fixture("one_frame.mp4"), directory.appendingPathComponent("out.mp4"),
                                            ["--notify", receiver.url("/hook")])
            try await withProcessSlot {
                let first = try queue.startLoggedWorker(["--notify-secret-file", receiver.secretFile.path, "--lease", "2s"],
                                                        logFile: directory.appendingPathComponent("first.log"))
                defer { Task { await first.end() } }
                let hanging = await receiver.requests(within: .seconds(300)) { !$0.isEmpty }
                try #require(hanging.count == 1, "\(first.log)")
                first.send(signal: SIGKILL)
                #expect(await first.wait(timeout: .seconds(30)) == .signaled(SIGKILL))
                #expect(try await queue.job(id).state == "succeeded")

                let second = try queue.startLoggedWorker(["--notify-secret-file", receiver.secretFile.path, "--lease", "2s"],
                                                         logFile: directory.appendingPathComponent("second.log"))
                defer { Task { await second.end() } }
                let requests = await receiver.requests(within: .seconds(180)) { $0.count >= 2 }
                #expect(requests.map(\.answer) == ["hang", "200"], "\(second.log)")
                #expect(Set(requests.map(\.id)).count == 1 && requests.allSatisfy { $0.valid })
                #expect(try await queue.successCount(id) == 1)
                // The receiver counts the request when it answers; the worker logs it once it has the answer.
                let delivered = await second.line(within: .seconds(60)) { $0.contains("delivered, HTTP 200") }
                #expect(delivered != nil, "\(second.log)")
                #expect(await second.stop(timeout: .seconds(60)) == .exited(0))
            }
        }
    }

    @Test("a receiver that never answers: every job still finishes, at most 4 deliveries wait at once, each gives up after 10 s, and SIGTERM is answered at once",
          .timeLimit(.minutes(30)))
    func hangingReceiverDoesNotSlowTheFarm() async throws {
        try await withTemporaryDirectory { directory in
            let queue = TestQueue(in: directory)
            let receiver = try await WebhookReceiver.start(in: directory, answers: "hang")
            defer { Task { await receiver.end() } }
            var ids: [Int64] = []
            for index in 0..<6 {
                ids.append(try await queue.submit(Locations.fixture("one_frame.mp4"), directory.appendingPathComponent("out\(index).mp4"),
                                                  ["--notify", receiver.url("/hook")]))
            }
            try await withProcessSlot {
                let worker = try queue.startLoggedWorker(["--notify-secret-file", receiver.secretFile.path, "--concurrency", "2"],
                                                         logFile: directory.appendingPathComponent("worker.log"))
                defer { Task { await worker.end() } }
                let allDone = await eventually(within: .seconds(300)) {
                    (try? await queue.list(state: "succeeded").count) == ids.count
                }
                #expect(allDone, "\(worker.log)")
                let requests = await receiver.requests(within: .seconds(60)) { $0.count >= 4 }
                #expect(requests.count >= 4 && requests.allSatisfy { $0.answer == "hang" })
                #expect(requests.map(\.peak).max() ?? 0 <= 4, "at most 4 deliveries at once: \(requests.map(\.peak))")
                let timedOut = await worker.line(within: .seconds(60)) { $0.contains("notification") && $0.contains("timed out") }
                #expect(timedOut != nil, "\(worker.log)")
                // Deliveries still hang; the worker stops at once all the same.
                let asked = ContinuousClock.now
                #expect(await worker.stop(timeout: .seconds(60)) == .exited(0))
                #expect(ContinuousClock.now - asked < .seconds(8), "stopping waited for the hanging deliveries: \(ContinuousClock.now - asked)")
            }
        }
    }

    @Test("410 Gone stops the retries: failed after one attempt, and the event says so", .timeLimit(.minutes(30)))
    func goneStopsRetries() async throws {
        try await withTemporaryDirectory { directory in
            let queue = TestQueue(in: directory)
            let receiver = try await WebhookReceiver.start(in: directory, answers: "410")
            defer { Task { await receiver.end() } }
            let id = try await queue.submit(Locations.fixture("one_frame.mp4"), directory.appendingPathComponent("out.mp4"),
                                            ["--notify", receiver.url("/hook")])
            let worker = try await withProcessSlot {
                try await queue.startWorker(["--drain", "--notify-secret-file", receiver.secretFile.path]).wait(timeout: .seconds(300))
            }
            #expect(worker.exitCode == 0, "\(worker)")
            #expect(receiver.requests.count == 1)
            #expect(try await queue.query("SELECT state, attempts, last_status FROM notifications") == ["failed|1|410"])
            let events = try await queue.run("events", ["--job", String(id)])
            #expect(events.stdoutLines.last?.contains("notification failed (job \(id))") == true
                        && events.stdoutText.contains("HTTP 410: not sent again"), "\(events.stdoutText)")
        }
    }

    @Test("refused with one line saying why, nothing queued: a notify URL that is not http(s), has no host or has a space; --notify without a secret; a bad secret")
    func refusals() async throws {
        try await withTemporaryDirectory { directory in
            let queue = TestQueue(in: directory)
            for url in ["ftp://example.com/hook", "http://", "http://example.com/a b", "file:///etc/passwd", "javascript:alert(1)"] {
                let result = try await queue.run("submit", ["--notify", url, "--", Locations.fixture("one_frame.mp4").path,
                                                            directory.appendingPathComponent("out.mp4").path])
                #expect(result.exitCode == 64 && result.stderrLines.first?.contains("--notify: a notify URL") == true, "\(url): \(result)")
            }
            #expect(!FileManager.default.fileExists(atPath: queue.database.path), "nothing was queued")
            let noSecret = try await queue.run("worker", ["--drain", "--notify", "http://127.0.0.1:9/hook"])
            #expect(noSecret.exitCode == 64 && noSecret.stderrText.contains("--notify-secret-file"), "\(noSecret)")
            let missing = try await queue.run("worker", ["--drain", "--notify-secret-file", directory.appendingPathComponent("none").path])
            #expect(missing.exitCode == 64 && missing.stderrLines.first?.contains("cannot read the webhook secret file") == true, "\(missing)")
            let short = directory.appendingPathComponent("short")
            try "whsec_c2hvcnQ=\n".write(to: short, atomically: true, encoding: .utf8)
            let weak = try await queue.run("worker", ["--drain", "--notify-secret-file", short.path])
            #expect(weak.exitCode == 64 && weak.stderrText.contains("24 to 64"), "\(weak)")
        }
    }
}
