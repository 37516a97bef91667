import Foundation
import Testing

/// A box that mounts the shared folder elsewhere than the submitting box reads and writes it there.
@Suite("worker --path-map: the shared folder under another name on this box")
struct WorkerPathMapTests {
    @Test("a job submitted under /shared runs under /mounted, and --allow-dir judges the mapped paths",
          .timeLimit(.minutes(30)), arguments: TestQueue.Store.allCases)
    func mapsInputAndOutput(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let queue = try await TestQueue.make(in: directory, store: store)
            // The submitting box's view: shared/in.mp4, output shared/out/clip.mp4.
            let shared = directory.appendingPathComponent("shared", isDirectory: true)
            let mounted = directory.appendingPathComponent("mounted", isDirectory: true)
            try FileManager.default.createDirectory(at: shared.appendingPathComponent("out"), withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: Locations.fixture("one_frame.mp4"), to: shared.appendingPathComponent("in.mp4"))
            let mapped = try await queue.submit(shared.appendingPathComponent("in.mp4"),
                                                shared.appendingPathComponent("out/clip.mp4"))
            // A job outside the mapped folder keeps its path, and --allow-dir refuses it.
            let unmapped = try await queue.submit(Locations.fixture("one_frame.mp4"), directory.appendingPathComponent("stray.mp4"))
            // This box sees the same folder as mounted/ (and shared/ no longer exists here).
            try FileManager.default.moveItem(at: shared, to: mounted)

            let worker = try await withProcessSlot {
                let process = try queue.startWorker(["--drain", "--path-map", "\(shared.path)=\(mounted.path)",
                                                     "--allow-dir", mounted.path])
                return await process.wait(timeout: .seconds(90))
            }
            #expect(worker.exitCode == 0, "\(worker)")

            let job = try await queue.job(mapped)
            #expect(job.state == "succeeded", "\(job)")
            #expect(job.output == shared.appendingPathComponent("out/clip.mp4").path, "the job keeps the submitter's name")
            let output = mounted.appendingPathComponent("out/clip.mp4")
            let info = try await probeMedia(output)
            #expect(info.videoStreams.first?.codecName == "h264", "\(info)")
            #expect(directoryListing(mounted.appendingPathComponent("out")) == ["clip.mp4"])
            #expect(!FileManager.default.fileExists(atPath: shared.path), "nothing may be written under the unmapped name")

            let stray = try await queue.job(unmapped)
            #expect(stray.state == "failed" && stray.error?.contains("allowed folders") == true, "\(stray)")
            #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("stray.mp4").path))
        }
    }

    @Test("a malformed --path-map is a usage error", .timeLimit(.minutes(30)))
    func refusesMalformedMaps() async throws {
        try await withTemporaryDirectory { directory in
            let queue = TestQueue(in: directory)
            for map in ["/srv/video", "srv=/mnt", "/srv=mnt"] {
                let result = try await queue.run("worker", ["--drain", "--path-map", map])
                #expect(result.exitCode == 64, "\(map): \(result)")
                #expect(result.stderrText.contains("--path-map"), "\(map): \(result)")
            }
        }
    }
}
