import Foundation
import Testing

/// `GET /metrics` read by Prometheus's own parser (prometheus-client, from PyPI), as a
/// Prometheus server would scrape it.
@Suite("vqueue serve: /metrics in Prometheus's text format")
struct ServeMetricsTests {
    /// Samples by family, as prometheus_client.parser reads them: name, labels, value.
    struct Sample: Decodable {
        let name: String
        let labels: [String: String]
        let value: Double
    }

    static let parser = """
        import json, sys
        from prometheus_client.parser import text_string_to_metric_families
        families = {}
        for family in text_string_to_metric_families(sys.stdin.read()):
            families[family.name] = {"type": family.type, "samples": [
                {"name": s.name, "labels": s.labels, "value": s.value} for s in family.samples]}
        print(json.dumps(families))
        """

    struct Family: Decodable {
        let type: String
        let samples: [Sample]
    }

    static func parse(_ text: String) async throws -> [String: Family] {
        let input = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID().uuidString).txt")
        try Data(text.utf8).write(to: input)
        defer { try? FileManager.default.removeItem(at: input) }
        let run = try await runProcess(URL(fileURLWithPath: "/bin/sh"), ["-c", "exec python3 -c \"$0\" < \"$1\"", parser, input.path],
                                       timeout: .seconds(60))
        try #require(run.exitCode == 0, "prometheus_client refused the metrics: \(run)\n\(text)")
        return try JSONDecoder().decode([String: Family].self, from: Data(run.stdoutText.utf8))
    }

    static func value(_ families: [String: Family], _ family: String, _ sample: String? = nil, _ labels: [String: String] = [:]) -> Double? {
        families[family]?.samples.first { found in
            found.name == (sample ?? family) && labels.allSatisfy { found.labels[$0.key] == $0.value }
        }?.value
    }

    @Test("jobs by state and queue, queue depth and age, workers by state; attempts, failures by code, finished jobs and the wait and run histograms from the events",
          .timeLimit(.minutes(30)), arguments: TestQueue.Store.allCases)
    func metrics(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let queue = try await TestQueue.make(in: directory, store: store)
            let served = try await ServeAPITests.Served(queue, in: directory)
            let good = try await queue.submit(Locations.fixture("one_frame.mp4"), directory.appendingPathComponent("good.mp4"))
            let bad = try await queue.submit(Locations.fixture("truncated_30pct.mp4"), directory.appendingPathComponent("bad.mp4"))
            _ = try await queue.submit(Locations.fixture("one_frame.mp4"), directory.appendingPathComponent("later.mp4"), ["--queue", "hd \"x\""])

            let before = try await Self.parse(try await served.client.get("/metrics").text)
            #expect(Self.value(before, "vqueue_jobs", nil, ["state": "queued", "queue": "default"]) == 2)
            #expect(Self.value(before, "vqueue_queue_depth", nil, ["queue": "hd \"x\""]) == 1, "label values escaped and read back")
            #expect((Self.value(before, "vqueue_queue_oldest_seconds", nil, ["queue": "default"]) ?? -1) >= 0)
            #expect(before["vqueue_job_run_seconds"]?.type == "histogram")

            // The worker leaves the other queue's job alone.
            let worker = try await withProcessSlot {
                try await queue.startWorker(["--drain", "--queue", "default"]).wait(timeout: .seconds(200))
            }
            #expect(worker.exitCode == 0, "\(worker)")
            let goodState = try await queue.job(good).state
            let badState = try await queue.job(bad).state
            #expect(goodState == "succeeded" && badState == "failed")

            var after: [String: Family] = [:]
            let counted = try await eventually(within: .seconds(30)) {
                after = try await Self.parse(try await served.client.get("/metrics").text)
                return Self.value(after, "vqueue_jobs_finished", "vqueue_jobs_finished_total", ["state": "failed"]) == 1
                    && Self.value(after, "vqueue_jobs_finished", "vqueue_jobs_finished_total", ["state": "succeeded"]) == 1
            }
            #expect(counted, "\(after.keys.sorted())")
            #expect(Self.value(after, "vqueue_jobs", nil, ["state": "succeeded", "queue": "default"]) == 1)
            #expect(Self.value(after, "vqueue_jobs", nil, ["state": "failed", "queue": "default"]) == 1)
            #expect(Self.value(after, "vqueue_queue_depth", nil, ["queue": "default"]) == 0)
            #expect(Self.value(after, "vqueue_job_failures", "vqueue_job_failures_total", ["error_code": "truncated"]) == 1)
            #expect(Self.value(after, "vqueue_job_attempts", "vqueue_job_attempts_total") == 2)
            #expect(Self.value(after, "vqueue_job_retries", "vqueue_job_retries_total") == 0, "a permanent failure is not retried")
            #expect(Self.value(after, "vqueue_job_wait_seconds", "vqueue_job_wait_seconds_count") == 2)
            #expect(Self.value(after, "vqueue_job_run_seconds", "vqueue_job_run_seconds_count") == 2)
            #expect(Self.value(after, "vqueue_job_run_seconds", "vqueue_job_run_seconds_bucket", ["le": "+Inf"]) == 2)
            #expect(Self.value(after, "vqueue_workers", nil, ["state": "stopped"]) == 1)
            #expect(Self.value(after, "vqueue_workers", nil, ["state": "alive"]) == 0)
            #expect(await served.stop() == .exited(0))
        }
    }
}
