import Foundation
import Testing

/// The OpenAPI document `vqueue serve` publishes, checked against the running server by
/// schemathesis (from PyPI): every operation, called with data the document allows and data it
/// does not, must answer with a status the document lists, the content type it names, a body
/// its schema admits, and never a server error.
@Suite("vqueue serve: the OpenAPI document against the server")
struct ServeOpenAPITests {
    @Test("schemathesis: every operation answers as /v1/openapi.json says, for valid and invalid requests alike",
          .timeLimit(.minutes(30)), arguments: TestQueue.Store.allCases)
    func schemathesis(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let queue = try await TestQueue.make(in: directory, store: store)
            // Something to find: a job, a failed one, a batch.
            let input = Locations.fixture("one_frame.mp4")
            _ = try await queue.submit(input, directory.appendingPathComponent("a.mp4"), ["--meta", "upload=1"])
            let batch = try await queue.run("submit", ["--out-dir", directory.path, "--format", "flv", input.path])
            #expect(batch.exitCode == 0, "\(batch)")
            // Uploads on, with a small limit: generated bodies are written, refused and removed.
            let (served, uploads) = try await ServeUploadTests.servedWithUploads(queue, in: directory, arguments: ["--max-upload", "1M"])
            let document = try await served.client.get("/v1/openapi.json")
            #expect(document.status == 200 && (document.object["openapi"] as? String)?.hasPrefix("3.") == true)

            // runProcess holds a process slot while schemathesis runs (it keeps a core busy for a
            // minute or two); never take a second one around it: with every slot held by a test
            // waiting for another, a loaded run hung for 30 minutes. It runs in the test's folder,
            // where it leaves its cache (.schemathesis/), not in the checkout.
            let run = try await runProcess(URL(fileURLWithPath: "/usr/bin/env"), [
                "python3", "-m", "schemathesis.cli", "run", "http://127.0.0.1:\(served.client.port)/v1/openapi.json",
                "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            ] + SchemathesisOptions.arguments, currentDirectory: directory, timeout: .seconds(900))
            #expect(run.exitCode == 0, "schemathesis found the server and its document at odds:\n\(run.stdoutText.suffix(12_000))\n\(run.stderrText.suffix(4000))")
            #expect(await served.stop() == .exited(0), "\(served.process.log)")
            // Whatever was generated, no partial upload is left.
            let left = try FileManager.default.contentsOfDirectory(atPath: uploads.path).filter { $0.hasSuffix(".part") }
            #expect(left.isEmpty, "\(left)")
        }
    }
}

/// Example counts and a fixed seed, spelled as the installed schemathesis wants them.
enum SchemathesisOptions {
    static let arguments: [String] = ["--max-examples", "40", "--seed", "1", "--workers", "1"]
}
