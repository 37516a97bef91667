import Foundation
import Testing

/// A loopback TCP listener that accepts connections and never answers, as a hung server, a
/// half-dead load balancer or a packet-swallowing firewall does: a small Python program, the
/// connections it accepts kept open (no FIN, no RST) until it is ended. It prints the wall-clock
/// time of every connection it accepts, so a test can time a client's wait from its first one.
struct SilentListener: Sendable {
    let process: LoggedProcess
    let port: Int

    private static let program = """
        import socket, time
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        print(listener.getsockname()[1], flush=True)
        held = []
        while True:
            connection, _ = listener.accept()
            print("accepted", time.time(), flush=True)
            held.append(connection)
        """

    /// Starts one; its log files go in `directory`.
    static func start(in directory: URL, sourceLocation: SourceLocation = #_sourceLocation) async throws -> SilentListener {
        let process = try LoggedProcess(URL(fileURLWithPath: "/usr/bin/python3"), ["-c", program],
                                        logFile: directory.appendingPathComponent("silent-listener.log"))
        var port: Int?
        _ = await eventually(within: .seconds(10)) {
            port = process.stdout.split(whereSeparator: \.isNewline).first.flatMap { Int($0) }
            return port != nil
        }
        guard let port else {
            await process.end()
            throw ThrowawayPostgres.SetupFailure(description: "the silent listener did not start: \(process.log)")
        }
        return SilentListener(process: process, port: port)
    }

    /// `postgres://vqueue@127.0.0.1:PORT/DATABASE`.
    func url(database: String) -> String { "postgres://vqueue@127.0.0.1:\(port)/\(database)" }

    /// When it accepted its first connection (wall clock), if it has.
    var firstAccepted: Date? {
        process.stdout.split(whereSeparator: \.isNewline)
            .first { $0.hasPrefix("accepted ") }
            .flatMap { Double($0.dropFirst("accepted ".count)) }
            .map { Date(timeIntervalSince1970: $0) }
    }

    func end() async { await process.end() }
}
