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
        One process, any number of clients, on the same queue database as every other command. \
        The API answers with the same JSON as --json; every error is a 4xx (503 when the queue \
        database is unreachable) with {"error": {"code", "message"}}.

        It listens on loopback unless told otherwise; any other address is refused without \
        --token-file, and with a token every request needs "Authorization: Bearer <token>".

        Examples:
          vqueue serve
          vqueue serve --listen 0.0.0.0:8080 --token-file /etc/vqueue/token
          curl -s localhost:8080/v1/jobs/42
          curl -s localhost:8080/v1/jobs -d '{"input":"/up/a.mov","output":"/v/a.mp4"}'
          curl -sN -H 'Accept: text/event-stream' localhost:8080/v1/events
          curl -s localhost:8080/metrics
        """)

    @Option(help: ArgumentHelp("Address and port to listen on (an IPv6 address in brackets).",
                               valueName: "host:port"))
    var listen = "127.0.0.1:8080"

    @Option(help: ArgumentHelp("A file holding the bearer token every request must carry; needed to listen beyond loopback.",
                               valueName: "file"), completion: .file())
    var tokenFile: String?

    @OptionGroup(title: "Queue")
    var queueOptions: QueueOptions

    func validate() throws {
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
                                settings: FarmServer.Settings(listen: address, token: token))
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
