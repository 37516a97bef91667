import Foundation
import Testing

/// `GET /` in a real browser: Debian's headless Chromium, driven over the DevTools protocol
/// (Tests/Support/dashboard-browser.py), loads the dashboard of a farm with running, queued,
/// failed and succeeded jobs; the test reads the rendered page, watches a progress bar advance,
/// clicks a cancel button, and keeps screenshots (desktop and phone width) in
/// .build/test-artifacts/.
@Suite("serve: the dashboard in a browser")
struct ServeDashboardTests {
    struct Snapshot: Decodable {
        let text: String
        let progress: [String: Double]
    }

    struct BrowserRun: Decodable {
        let snapshots: [Snapshot]
        let clicked: Bool
    }

    @Test("the rendered page shows workers, running jobs with a live progress bar, queued, failed and batch counts; cancel works; no asset from elsewhere; plain tables without JavaScript",
          .timeLimit(.minutes(30)))
    func dashboard() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Locations.chromium.path), "chromium is missing (make deps-test)")
        try await withTemporaryDirectory { directory in
            let queue = TestQueue(in: directory)
            // Slow to transcode on one thread: it runs while the page is watched.
            let long = try await makeLongSample(in: directory, named: "long-running.mp4", seconds: 60, size: "1280x720", noisy: true)
            let failing = try await queue.submit(Locations.fixture("truncated_30pct.mp4"), directory.appendingPathComponent("failing.mp4"))
            let batchDirectory = directory.appendingPathComponent("batch")
            try FileManager.default.createDirectory(at: batchDirectory, withIntermediateDirectories: true)
            let batch = try await queue.run("submit", ["--out-dir", batchDirectory.path, "--format", "mp4", Locations.fixture("one_frame.mp4").path])
            #expect(batch.exitCode == 0, "\(batch)")
            let running = try await queue.submit(long, directory.appendingPathComponent("long-output.mp4"))
            _ = try await queue.submit(Locations.fixture("one_frame.mp4"), directory.appendingPathComponent("later.mp4"), ["--queue", "later"])

            try await withProcessSlot {
                let served = try await ServeAPITests.Served(queue, in: directory)
                let worker = try queue.startLoggedWorker(["--queue", "default", "--concurrency", "2", "--threads-per-job", "1"],
                                                         logFile: directory.appendingPathComponent("worker.log"))
                defer { Task { await worker.end() } }
                let ready = await eventually(within: .seconds(300)) {
                    guard let job = try? await queue.job(running), job.state == "running", job.progress > 0.01 else { return false }
                    return (try? await queue.job(failing).state) == "failed"
                }
                try #require(ready, "\(worker.log)")

                // Without JavaScript: the page is plain tables, with nothing fetched from elsewhere.
                let page = try await served.client.get("/")
                #expect(page.status == 200 && page.headers["content-type"]?.hasPrefix("text/html") == true, "\(page)")
                #expect(page.text.contains("<table>") && page.text.contains("long-running.mp4") && page.text.contains("truncated_30pct.mp4"))
                #expect(!page.text.contains("src=") && !page.text.contains("<link") && !page.text.contains("http:")
                            && !page.text.contains("https:") && !page.text.contains("url("), "the page loads nothing from elsewhere")

                let artifacts = Locations.packageRoot.appendingPathComponent(".build/test-artifacts", isDirectory: true)
                try FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
                let script = Locations.packageRoot.appendingPathComponent("Tests/Support/dashboard-browser.py")
                let browser = try await runProcess(Locations.python, [script.path, "http://127.0.0.1:\(served.client.port)/", String(running), "4",
                                                                      artifacts.appendingPathComponent("dashboard").path],
                                                   timeout: .seconds(300))
                #expect(browser.exitCode == 0, "\(browser)")
                let run = try JSONDecoder().decode(BrowserRun.self, from: browser.stdout)
                try #require(run.snapshots.count == 3)
                let first = run.snapshots[0]
                for expected in ["alive", "long-running.mp4", "later", "truncated_30pct.mp4", "1 succeeded"] {
                    #expect(first.text.contains(expected), "the rendered page lacks \(expected): \(first.text)")
                }
                // The bar advances by itself (the page follows the job), then the job is gone once cancelled.
                let before = try #require(first.progress[String(running)], "\(first)")
                let after = try #require(run.snapshots[1].progress[String(running)], "\(run.snapshots[1])")
                #expect(after > before, "progress \(before) -> \(after)")
                #expect(run.clicked)
                let cancelled = await eventually(within: .seconds(60)) { (try? await queue.job(running).state) == "cancelled" }
                #expect(cancelled, "\(worker.log)")
                #expect(run.snapshots[2].progress[String(running)] == nil, "\(run.snapshots[2].text)")
                #expect(FileManager.default.fileExists(atPath: artifacts.appendingPathComponent("dashboard-phone.png").path))
                #expect(await worker.stop(timeout: .seconds(120)) == .exited(0))
                _ = await served.stop()
            }
        }
    }
}
