import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A plain HTTP/1.1 client over a TCP socket, as a site's code would talk to `vqueue serve`:
/// one request per connection (`Connection: close`), the answer read to the end; or, for an
/// event stream, read as it comes. No library between the test and the bytes on the wire.
/// The socket calls block, so they run on a thread of their own, never on the few threads
/// Swift's concurrency shares among every test of the run.
struct HTTPTestClient: Sendable {
    let port: Int
    var token: String?

    struct Answer: CustomStringConvertible, Sendable {
        let status: Int
        let headers: [String: String]
        let body: Data
        var text: String { String(decoding: body, as: UTF8.self) }
        var json: Any? { try? JSONSerialization.jsonObject(with: body) }
        var object: [String: Any] { json as? [String: Any] ?? [:] }
        /// The `code` of an API error.
        var errorCode: String? { (object["error"] as? [String: Any])?["code"] as? String }
        var description: String { "HTTP \(status) \(text.prefix(2000))" }
    }

    func request(_ method: String, _ path: String, json body: Any? = nil, raw: Data? = nil,
                 contentType: String = "application/json", headers: [String: String] = [:]) async throws -> Answer {
        let payload = try raw ?? body.map { try JSONSerialization.data(withJSONObject: $0) }
        return try await offThePool { try exchange(method, path, payload: payload, contentType: contentType, headers: headers) }
    }

    private func exchange(_ method: String, _ path: String, payload: Data?, contentType: String,
                          headers: [String: String]) throws -> Answer {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        if let token { head += "Authorization: Bearer \(token)\r\n" }
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if let payload { head += "Content-Type: \(contentType)\r\nContent-Length: \(payload.count)\r\n" }
        let socket = try Self.connect(port)
        defer { close(socket) }
        // A server may answer (413) and close before the whole body is sent: read its answer all the same.
        try? Self.send(socket, Data((head + "\r\n").utf8) + (payload ?? Data()))
        return try Self.readAnswer(socket)
    }

    /// Reads an answer to its end (the server closes the connection).
    static func readAnswer(_ socket: Int32) throws -> Answer {
        var received = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(socket, &buffer, buffer.count, 0)
            if count <= 0 { break }
            received.append(contentsOf: buffer[0..<count])
        }
        return try parse(received)
    }

    func get(_ path: String) async throws -> Answer { try await request("GET", path) }
    func post(_ path: String, _ body: Any? = nil) async throws -> Answer { try await request("POST", path, json: body) }

    /// Opens an event stream and returns the socket, the request sent.
    func openStream(_ path: String, lastEventID: Int64? = nil) async throws -> EventStreamReader {
        try await offThePool { try openStreamBlocking(path, lastEventID: lastEventID) }
    }

    private func openStreamBlocking(_ path: String, lastEventID: Int64?) throws -> EventStreamReader {
        var head = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nAccept: text/event-stream\r\n"
        if let token { head += "Authorization: Bearer \(token)\r\n" }
        if let lastEventID { head += "Last-Event-ID: \(lastEventID)\r\n" }
        let socket = try Self.connect(port)
        try Self.send(socket, Data((head + "\r\n").utf8))
        return EventStreamReader(socket: socket)
    }

    static func connect(_ port: Int) throws -> Int32 {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw POSIXError(.EMFILE) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var timeout = timeval(tv_sec: 60, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(socket)
            throw POSIXError(.ECONNREFUSED)
        }
        return socket
    }

    static func send(_ socket: Int32, _ data: Data) throws {
        try data.withUnsafeBytes { bytes in
            var sent = 0
            while sent < bytes.count {
                let count = Glibc.send(socket, bytes.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL))
                if count <= 0 { throw POSIXError(.EPIPE) }
                sent += count
            }
        }
    }

    /// Status line, headers, and the body (chunked transfer decoded).
    static func parse(_ data: Data) throws -> Answer {
        guard let end = data.range(of: Data("\r\n\r\n".utf8)) else { throw POSIXError(.EBADMSG) }
        let lines = String(decoding: data[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let status = Int(lines.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Data(data[end.upperBound...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" { body = dechunked(body) }
        return Answer(status: status, headers: headers, body: body)
    }

    static func dechunked(_ data: Data) -> Data {
        var result = Data()
        var rest = data[...]
        while let lineEnd = rest.range(of: Data("\r\n".utf8)) {
            let size = Int(String(decoding: rest[..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";").first ?? "", radix: 16) ?? 0
            if size == 0 { break }
            let start = lineEnd.upperBound
            guard rest.distance(from: start, to: rest.endIndex) >= size else { break }
            result.append(rest[start..<rest.index(start, offsetBy: size)])
            rest = rest[rest.index(start, offsetBy: size + 2)...]
        }
        return result
    }
}

/// Server-Sent Events as they arrive on an open stream.
final class EventStreamReader: @unchecked Sendable {
    struct Event: @unchecked Sendable {
        let id: Int64?
        let name: String?
        let data: String
        var object: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(data.utf8))) as? [String: Any] ?? [:] }
    }

    private let socket: Int32
    private var pending = ""
    private var headerDone = false
    private(set) var status = 0

    init(socket: Int32) { self.socket = socket }
    deinit { close(socket) }

    /// The next event (comments and the `retry:` field skipped); nil when the stream ended or
    /// nothing came within `timeout`.
    func next(timeout: Duration = .seconds(30)) async -> Event? {
        (try? await offThePool { [self] in self.nextBlocking(timeout: timeout) }) ?? nil
    }

    private func nextBlocking(timeout: Duration) -> Event? {
        let ends = ContinuousClock.now + timeout
        while ContinuousClock.now < ends {
            if headerDone, let event = takeEvent() { return event }
            var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 200) > 0 else { continue }
            var buffer = [UInt8](repeating: 0, count: 65536)
            let count = recv(socket, &buffer, buffer.count, 0)
            if count <= 0 { return nil }
            pending += String(decoding: buffer[0..<count], as: UTF8.self)
            if !headerDone, let end = pending.range(of: "\r\n\r\n") {
                status = Int(pending.split(separator: " ").dropFirst().first ?? "") ?? 0
                pending = String(pending[end.upperBound...])
                headerDone = true
            }
            // Lines end in LF from here on ("\r\n" is one Character to Swift, and would hide the LF).
            if headerDone { pending = pending.replacingOccurrences(of: "\r\n", with: "\n") }
        }
        return nil
    }

    /// One whole event from what was read (chunk-size lines of chunked encoding are skipped:
    /// they hold no colon and are not blank).
    private func takeEvent() -> Event? {
        while let end = pending.range(of: "\n\n") {
            let block = pending[..<end.lowerBound]
            pending = String(pending[end.upperBound...])
            var id: Int64?
            var name: String?
            var data: [String] = []
            for line in block.split(separator: "\n") {
                let text = String(line)
                if text.hasPrefix("id: ") { id = Int64(text.dropFirst(4)) }
                else if text.hasPrefix("event: ") { name = String(text.dropFirst(7)) }
                else if text.hasPrefix("data: ") { data.append(String(text.dropFirst(6))) }
            }
            if !data.isEmpty { return Event(id: id, name: name, data: data.joined(separator: "\n")) }
        }
        return nil
    }
}

/// Runs blocking work on a thread of its own and awaits its result.
func offThePool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
    }
}
