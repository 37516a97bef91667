import Hummingbird
import JobQueue
import NIOCore
import ServiceLifecycle
import Synchronization

/// `GET /v1/events` with `Accept: text/event-stream`: every event after
/// `since`, then each new one as it is recorded, as Server-Sent Events
/// (`id:` the event id, `event:` job, worker or notification, `data:` the event's JSON).
/// A client that reconnects sends `Last-Event-ID` and misses nothing. A
/// comment line every 15 s keeps proxies from closing an idle stream and
/// tells the server when the client has gone. On SIGTERM the stream ends
/// (within 20 ms), so an open stream never holds the server up.
struct EventStream {
    let store: SQLJobStore
    let presentation: any FarmPresentation
    let since: Int64
    let job: Int64?

    static let keepAlive = Duration.seconds(15)

    var response: Response {
        let store = store, presentation = presentation, since = since, job = job
        let body = ResponseBody { writer in
            var follower = EventFollower(store: store, after: since, job: job)
            let ending = Ending()
            try await withGracefulShutdownHandler {
                try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
                while !Task.isCancelled && !ending.now {
                    let events = try await follower.next(waitingUpTo: Self.keepAlive) { ending.now }
                    if events.isEmpty {
                        if !ending.now { try await writer.write(ByteBuffer(string: ": keep-alive\n\n")) }
                        continue
                    }
                    var text = ""
                    for event in events {
                        text += "id: \(event.id)\nevent: \(event.kind)\ndata: \(presentation.event(event))\n\n"
                    }
                    try await writer.write(ByteBuffer(string: text))
                }
                try await writer.finish(nil)
            } onGracefulShutdown: {
                ending.set()
            }
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"], body: body)
    }
}

/// Set once the server is shutting down.
private final class Ending: Sendable {
    private let value = Atomic<Bool>(false)
    var now: Bool { value.load(ordering: .acquiring) }
    func set() { value.store(true, ordering: .releasing) }
}
