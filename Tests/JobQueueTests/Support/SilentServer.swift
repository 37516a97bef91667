import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A loopback TCP listener that accepts connections and never answers: what a client meets
/// behind a hung server, a half-dead load balancer or a firewall that swallows packets. The
/// connections are kept open (no FIN, no RST): only a deadline gets a client out.
///
/// Given an upstream port it is instead a relay to that server, which the test can silence at
/// any moment (`goSilent`): from then on nothing is read or passed on in either direction, and
/// new connections are accepted and held, until `resume`. A store opened through the relay while
/// it passes bytes on meets a server that goes silent under it, mid-call. A relay can also cut
/// the next connection that sends COMMIT (`cut`), before the server has it or after the server
/// has answered it: the client cannot tell which.
final class SilentServer: @unchecked Sendable {
    /// Where `cut` drops the connection that sends COMMIT.
    enum Cut: Int {
        case none = 0
        /// COMMIT never reaches the server: the transaction is rolled back when it sees the end.
        case beforeCommit
        /// COMMIT reaches the server, which commits and answers; the answer is dropped.
        case afterCommit
        /// As `afterCommit`, and then the relay goes silent (`goSilent`).
        case afterCommitThenSilence
    }

    let port: Int
    private let upstream: Int?
    private let listener: Int32
    private let silent: Atomic<Bool>
    private let stopped = Atomic<Bool>(false)
    private let accepted = Atomic<Int>(0)
    private let armed = Atomic<Int>(Cut.none.rawValue)
    private let cuts = Atomic<Int>(0)

    /// A silent listener (no upstream), or a relay to `upstream` on 127.0.0.1.
    init(relayingTo upstream: Int? = nil) throws {
        self.upstream = upstream
        silent = Atomic(upstream == nil)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw DaemonCommand.CommandError("socket: \(String(cString: strerror(errno)))") }
        var address = Self.loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(fd, generic, length) == 0 && getsockname(fd, generic, &length) == 0
            }
        }
        guard bound, Glibc.listen(fd, 128) == 0 else {
            Glibc.close(fd)
            throw DaemonCommand.CommandError("cannot listen on a loopback port: \(String(cString: strerror(errno)))")
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        start { [self] in acceptLoop() }
    }

    /// `postgres://vqueue@127.0.0.1:PORT/DATABASE` through this listener.
    func url(database: String) -> String { "postgres://vqueue@127.0.0.1:\(port)/\(database)" }

    /// Connections accepted so far.
    var acceptedCount: Int { accepted.load(ordering: .acquiring) }

    /// From now on nothing passes, either way, and new connections get no answer.
    func goSilent() { silent.store(true, ordering: .releasing) }

    /// Bytes pass again (a relay only).
    func resume() {
        precondition(upstream != nil, "a silent listener has nothing to resume")
        silent.store(false, ordering: .releasing)
    }

    /// The next connection to send COMMIT is cut there, as `where` says (a relay only).
    func cut(_ where: Cut) {
        precondition(upstream != nil, "a silent listener has nothing to cut")
        armed.store(`where`.rawValue, ordering: .releasing)
    }

    /// Connections cut at COMMIT so far.
    var cutCount: Int { cuts.load(ordering: .acquiring) }

    /// Closes the listener and every connection it holds (its threads, which keep it alive until
    /// then, end within a tenth of a second). Call it when done.
    func stop() {
        stopped.store(true, ordering: .releasing)
    }

    private func start(_ body: @escaping @Sendable () -> Void) {
        let thread = Thread(block: body)
        thread.name = "test.silent-server"
        thread.start()
    }

    private func acceptLoop() {
        defer { Glibc.close(listener) }
        var held: [Int32] = []
        defer { held.forEach { Glibc.close($0) } }
        while !stopped.load(ordering: .acquiring) {
            var descriptor = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 50) > 0 else { continue }
            let client = accept(listener, nil, nil)
            guard client >= 0 else { continue }
            accepted.add(1, ordering: .acquiringAndReleasing)
            guard let upstream, let server = Self.connect(port: upstream) else {
                held.append(client)  // kept open, never read
                continue
            }
            start { [self] in relay(client, server) }
        }
    }

    /// Passes bytes both ways while not silent; ends when either side closes, or on `stop`.
    private func relay(_ client: Int32, _ server: Int32) {
        defer {
            Glibc.close(client)
            Glibc.close(server)
        }
        var buffer = [UInt8](repeating: 0, count: 65536)
        var cutting = Cut.none
        while !stopped.load(ordering: .acquiring) {
            if silent.load(ordering: .acquiring) {
                usleep(20_000)
                continue
            }
            var descriptors = [pollfd(fd: client, events: Int16(POLLIN), revents: 0), pollfd(fd: server, events: Int16(POLLIN), revents: 0)]
            guard poll(&descriptors, 2, 20) > 0 else { continue }
            // Silenced while waiting: what arrived stays unread.
            if silent.load(ordering: .acquiring) { continue }
            for (from, to) in [(0, server), (1, client)] where descriptors[from].revents != 0 {
                let count = read(descriptors[from].fd, &buffer, buffer.count)
                guard count > 0 else { return }
                if from == 1, cutting != .none {  // the server's answer to COMMIT
                    if cutting == .afterCommitThenSilence { goSilent() }
                    return
                }
                if from == 0, cutting == .none, Self.sendsCommit(buffer[..<count]) {
                    let armedCut = Cut(rawValue: armed.exchange(Cut.none.rawValue, ordering: .acquiringAndReleasing)) ?? .none
                    if armedCut != .none {
                        cuts.add(1, ordering: .acquiringAndReleasing)
                        cutting = armedCut
                        if armedCut == .beforeCommit { return }
                    }
                }
                var sent = 0
                while sent < count {
                    let written = buffer[sent..<count].withUnsafeBytes { write(to, $0.baseAddress, $0.count) }
                    guard written > 0 else { return }
                    sent += written
                }
            }
        }
    }

    private static func sendsCommit(_ bytes: ArraySlice<UInt8>) -> Bool {
        let commit = Array("COMMIT".utf8)
        guard bytes.count >= commit.count else { return false }
        return (bytes.startIndex...(bytes.endIndex - commit.count)).contains { bytes[$0..<($0 + commit.count)].elementsEqual(commit) }
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return address
    }

    private static func connect(port: Int) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = loopback(port: port)
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        if !connected {
            Glibc.close(fd)
            return nil
        }
        return fd
    }

    /// A TCP port on 127.0.0.1 that nothing listens on right now.
    static func freeLoopbackPort() -> Int? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        var address = loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(fd, generic, length) == 0 && getsockname(fd, generic, &length) == 0
            }
        }
        return bound ? Int(UInt16(bigEndian: address.sin_port)) : nil
    }
}
