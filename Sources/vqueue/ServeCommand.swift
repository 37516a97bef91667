import ArgumentParser
import Foundation
import JobQueue
import Serve
import Transcode

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the farm over HTTP: a JSON API under /v1 with a live event stream.",
        usage: "vqueue serve [--listen <host:port>] [--token-file <file>] [<options>]",
        discussion: """
        GET / is a dashboard for a browser (workers, running jobs with progress, queues, \
        failures, batches; cancel and retry), live through the event stream.

        One process, any number of clients, on the same queue database as every other command. \
        The API answers with the same JSON as --json; every error is a 4xx (503 when the queue \
        database is unreachable) with {"error": {"code", "message"}}.

        It listens on loopback unless told otherwise; any other address is refused without \
        --token-file, and with a token every request needs "Authorization: Bearer <token>".

        --upload-dir DIR turns on POST /v1/uploads: a video in the body (raw, or a \
        multipart/form-data file part) is written to DIR under a name the server picks, then \
        queued as POST /v1/jobs queues a job, with output and the options in the query string \
        (or the form's fields). Bodies over --max-upload (default 4G) are refused as they stream \
        in (413); an upload that fails leaves no file and no job.

        Examples:
          vqueue serve
          vqueue serve --listen 0.0.0.0:8080 --token-file /etc/vqueue/token
          curl -s localhost:8080/v1/jobs/42
          curl -s localhost:8080/v1/jobs -d '{"input":"/up/a.mov","output":"/v/a.mp4"}'
          curl -s 'localhost:8080/v1/uploads?output=/v/b.mp4' --data-binary @b.mov
          curl -sN -H 'Accept: text/event-stream' localhost:8080/v1/events
          curl -s localhost:8080/metrics
        """)

    @Option(help: ArgumentHelp("Address and port to listen on (an IPv6 address in brackets).",
                               valueName: "host:port"))
    var listen = "127.0.0.1:8080"

    @Option(help: ArgumentHelp("A file holding the bearer token every request must carry; needed to listen beyond loopback.",
                               valueName: "file"), completion: .file())
    var tokenFile: String?

    @Option(help: ArgumentHelp("Take uploads (POST /v1/uploads) into this folder.", valueName: "dir"), completion: .directory)
    var uploadDir: String?

    @Option(help: ArgumentHelp("The largest upload taken (bytes, or with K, M, G, T).", valueName: "size"))
    var maxUpload = "4G"

    @OptionGroup(title: "Queue")
    var queueOptions: QueueOptions

    /// `--max-upload` in bytes.
    var maxUploadBytes: Int64? {
        ByteSize.parse(maxUpload).flatMap { $0 >= 1 && $0 <= Double(ByteSize.largest) ? Int64($0.rounded()) : nil }
    }

    func validate() throws {
        if maxUploadBytes == nil { throw ValidationError("--max-upload takes a size such as 500M or 4G, not \(maxUpload).") }
        if let uploadDir {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: uploadDir, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ValidationError("--upload-dir \(uploadDir) is not a folder.")
            }
            guard access(uploadDir, W_OK | X_OK) == 0 else { throw ValidationError("--upload-dir \(uploadDir) is not writable.") }
        }
        let address: ListenAddress
        do {
            address = try ListenAddress(listen)
        } catch {
            throw ValidationError("--listen \(listen): \(error).")
        }
        if !address.isLoopback && tokenFile == nil {
            throw ValidationError("--listen \(listen) is reachable from other machines; give --token-file too "
                                  + "(or listen on 127.0.0.1).")
        }
    }

    func run() async throws {
        LibAVLogging.configure(verbose: false)
        let token = try tokenFile.map(Self.readToken)
        let address = try ListenAddress(listen)
        let store = try await queueOptions.openStore(createFolder: true)
        let server = FarmServer(store: store, presentation: ServePresentation(),
                                settings: FarmServer.Settings(listen: address, token: token,
                                                              uploadFolder: uploadDir.map { URL(fileURLWithPath: $0).standardizedFileURL },
                                                              maxUpload: maxUploadBytes ?? 4 << 30))
        do {
            try await server.run { bound in
                StandardError.write("vqueue: serving http://\(bound) (queue database: \(store.displayName))\n")
            }
        } catch let error as CommandRefusal {
            throw error
        } catch {
            throw CommandFailure.report("--listen \(listen)", "cannot serve: \(error)", exitCode: 1)
        }
        await store.close()
    }

    /// The token: the file's first line, at least 16 characters.
    static func readToken(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CommandFailure.report(DisplayText.escaped(path), "cannot read the token file", exitCode: 64)
        }
        let token = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).first
            .map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        guard token.utf8.count >= 16 else {
            throw CommandFailure.report(DisplayText.escaped(path), "the token must be at least 16 characters", exitCode: 64)
        }
        return token
    }
}
