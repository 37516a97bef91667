import Foundation
import Testing

/// The README's "Calling vqueue from your site" examples, taken from README.md and run as written
/// (python3, php-cli and sh from Debian), with only the upload's and output's paths given and the
/// queue database's path pointed at a temporary one. The Python example once set `env={...}`,
/// which dropped PATH, so `vqueue` was not found (issue 15).
@Suite("README: the PHP, Python and shell examples run as written")
struct ReadmeExamplesTests {
    /// The first fenced block of `language` in a section of the README: by default "Calling vqueue
    /// from your site" (to the next `## ` heading); "Webhooks: told when a job ends" holds the
    /// receivers' `verify_webhook`.
    static func example(_ language: String, section heading: String = "Calling vqueue from your site",
                        endingAt end: String = "\n## ") throws -> String {
        let readme = try String(contentsOf: Locations.packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let section = try #require(readme.components(separatedBy: "### \(heading)").dropFirst().first)
            .components(separatedBy: end)[0]
        let block = try #require(section.components(separatedBy: "```\(language)\n").dropFirst().first,
                                 "no \(language) example in the README's section")
        return block.components(separatedBy: "\n```")[0]
            .replacingOccurrences(of: "/var/lib/vqueue/queue.db", with: "$VQUEUE_TEST_README_DB")
    }

    /// Runs `program` with the built vqueue first on PATH, as an installed one would be.
    static func runAsSite(_ program: URL, _ arguments: [String], in directory: URL,
                          environment: [String: String]) async throws -> ProcessResult {
        let path = Locations.vqueue.deletingLastPathComponent().path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        return try await runProcess(program, arguments, currentDirectory: directory,
                                    environment: environment.merging(["PATH": path]) { $1 }, timeout: .seconds(120))
    }

    /// An upload with a name a shell would mangle, the output beside it, and the queue database.
    static func site(in directory: URL) throws -> (upload: URL, output: URL, db: URL) {
        let upload = directory.appendingPathComponent("my upload; $(rm -rf ~) 'x'.avi")
        try FileManager.default.copyItem(at: Locations.fixture("old_camera.avi"), to: upload)
        return (upload, directory.appendingPathComponent("video 42.flv"), directory.appendingPathComponent("queue.db"))
    }

    /// A worker drains the queue; the output is then web video.
    static func expectTranscoded(_ site: (upload: URL, output: URL, db: URL), in directory: URL) async throws {
        let worker = try await vqueue(["worker", "--drain", "--db", site.db.path], in: directory, timeout: .seconds(300))
        #expect(worker.exitCode == 0, "\(worker)")
        let info = try await probeMedia(site.output)
        #expect(info.videoStreams.first?.codecName == "h264" && info.audioStreams.first?.codecName == "aac", "\(info)")
    }

    @Test("Python: submit prints the job id, status says it is pending; a worker then transcodes it; a missing upload raises vqueue's one line",
          .timeLimit(.minutes(30)))
    func python() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Locations.python.path), "python3 is missing (make deps-test)")
        try await withTemporaryDirectory { directory in
            let site = try Self.site(in: directory)
            // The README's DB path stands for the site's; here it is the test's.
            let code = try Self.example("python").replacingOccurrences(of: "\"$VQUEUE_TEST_README_DB\"",
                                                                       with: "os.environ[\"VQUEUE_TEST_README_DB\"]")
            let script = """
                import os
                upload_path, output_path = os.environ["UPLOAD"], os.environ["OUTPUT"]
                \(code)
                print(job_id, state)
                """
            let environment = ["UPLOAD": site.upload.path, "OUTPUT": site.output.path, "VQUEUE_TEST_README_DB": site.db.path]
            let run = try await Self.runAsSite(Locations.python, ["-c", script], in: directory, environment: environment)
            #expect(run.exitCode == 0 && run.stdoutLines == ["1 pending"], "\(run)")
            try await Self.expectTranscoded(site, in: directory)

            let missing = try await Self.runAsSite(Locations.python, ["-c", script], in: directory,
                                                   environment: environment.merging(["UPLOAD": directory.appendingPathComponent("gone.avi").path]) { $1 })
            #expect(missing.exitCode != 0 && missing.stderrText.contains("RuntimeError: ") && missing.stderrText.contains("gone.avi"), "\(missing)")
        }
    }

    @Test("PHP: proc_open with an argument list submits the upload and reads the job's id; a worker then transcodes it",
          .timeLimit(.minutes(30)))
    func php() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Locations.php.path), "php is missing (make deps-test installs php-cli)")
        try await withTemporaryDirectory { directory in
            let site = try Self.site(in: directory)
            let code = try Self.example("php").replacingOccurrences(of: "'$VQUEUE_TEST_README_DB'",
                                                                    with: "getenv('VQUEUE_TEST_README_DB')")
            let script = directory.appendingPathComponent("upload.php")
            try """
                <?php
                $uploadPath = getenv('UPLOAD');
                $outputPath = getenv('OUTPUT');
                \(code)
                echo $jobId, "\\n";
                """.write(to: script, atomically: true, encoding: .utf8)
            let run = try await Self.runAsSite(Locations.php, [script.path], in: directory,
                                               environment: ["UPLOAD": site.upload.path, "OUTPUT": site.output.path,
                                                             "VQUEUE_TEST_README_DB": site.db.path])
            #expect(run.exitCode == 0 && run.stdoutLines == ["1"], "\(run)")
            try await Self.expectTranscoded(site, in: directory)
        }
    }

    @Test("Shell: submit, then status --wait while a worker runs it, prints ok", .timeLimit(.minutes(30)))
    func shell() async throws {
        try await withTemporaryDirectory { directory in
            let site = try Self.site(in: directory)
            let script = try Self.example("sh")
            let worker = try startVqueue(["worker", "--db", site.db.path], in: directory)
            let ran = try? await Self.runAsSite(URL(fileURLWithPath: "/bin/sh"), ["-c", script], in: directory,
                                                environment: ["upload": site.upload.path, "output": site.output.path,
                                                              "VQUEUE_DB": site.db.path])
            worker.send(signal: SIGTERM)
            let stopped = await worker.wait(timeout: .seconds(60))
            #expect(stopped.exitCode == 0, "\(stopped)")
            let run = try #require(ran)
            #expect(run.exitCode == 0 && run.stdoutLines.last == "ok", "\(run)")
            let info = try await probeMedia(site.output)
            #expect(info.videoStreams.first?.codecName == "h264", "\(info)")
        }
    }
}
