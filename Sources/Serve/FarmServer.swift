import Foundation
import Hummingbird
import JobQueue
import Logging
import NIOCore

/// `vqueue serve`: the farm over HTTP, on one store, for any number of
/// clients. The JSON API under `/v1` answers with the command line's JSON
/// (`FarmPresentation`); errors are `APIError`s.
public struct FarmServer: Sendable {
    public struct Settings: Sendable {
        public var listen: ListenAddress
        /// With a token, every request but `/metrics` needs it.
        public var token: String?
        /// The largest JSON request body (a batch's: 10,000 paths).
        public var maxJSONBody: Int
        public var maxBatchBody: Int
        /// Where `POST /v1/uploads` writes; nil: uploads are off.
        public var uploadFolder: URL?
        /// The largest upload taken (refused while it streams in).
        public var maxUpload: Int64

        public init(listen: ListenAddress = .loopback, token: String? = nil, maxJSONBody: Int = 64 << 10,
                    maxBatchBody: Int = 16 << 20, uploadFolder: URL? = nil, maxUpload: Int64 = 4 << 30) {
            self.listen = listen
            self.token = token
            self.maxJSONBody = maxJSONBody
            self.maxBatchBody = maxBatchBody
            self.uploadFolder = uploadFolder
            self.maxUpload = maxUpload
        }
    }

    /// The longest request target (path and query) taken.
    static let maxTarget = 4096
    /// The most jobs or events one page holds.
    static let maxPage = 1000

    let store: SQLJobStore
    let presentation: any FarmPresentation
    let settings: Settings
    let metrics: FarmMetrics

    public init(store: SQLJobStore, presentation: any FarmPresentation, settings: Settings) {
        self.store = store
        self.presentation = presentation
        self.settings = settings
        metrics = FarmMetrics(store: store)
    }

    /// Serves until SIGTERM or SIGINT; `started` is told the address bound
    /// (with the port chosen, for port 0).
    public func run(started: @escaping @Sendable (String) -> Void) async throws {
        var logger = Logger(label: "vqueue.serve")
        logger.logLevel = .warning
        let application = Application(
            router: router(),
            configuration: ApplicationConfiguration(address: .hostname(settings.listen.host, port: settings.listen.port),
                                                    serverName: nil),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? settings.listen.port
                started(ListenAddress(host: settings.listen.host, port: port).description)
            },
            logger: logger)
        let counting = Task { await metrics.follow() }
        defer { counting.cancel() }
        try await application.runService()
    }

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: APIErrorMiddleware())
        router.add(middleware: RequestBounds())
        router.add(middleware: BrowserGuard(tokenSet: settings.token != nil))
        if let token = settings.token {
            router.add(middleware: BearerTokenMiddleware(token: Array(token.utf8), open: ["/metrics"]))
        }
        router.get("metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: try await self.metrics.render())))
        }
        router.get("/") { request, _ in
            let html = try await Dashboard(store: self.store, presentation: self.presentation)
                .render(tablesOnly: request.uri.queryParameters.get("part") == "tables")
            return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
        }
        let v1 = router.group("v1")
        v1.get("openapi.json") { _, _ in JSONText.response(OpenAPIDocument.json) }
        v1.get("jobs/:id") { _, context in try await self.job(context) }
        v1.get("jobs") { request, _ in try await self.jobs(request) }
        v1.post("jobs") { request, context in try await self.submit(request, context) }
        v1.post("jobs/:id/cancel") { _, context in try await self.cancel(context) }
        v1.post("jobs/:id/retry") { _, context in try await self.retry(context) }
        v1.get("batches/:id") { _, context in try await self.batch(context) }
        v1.post("batches") { request, _ in try await self.submitBatch(request) }
        v1.post("uploads") { request, _ in try await self.upload(request) }
        v1.get("workers") { _, _ in try await self.workers() }
        v1.post("workers/:id/stop") { request, context in try await self.stopWorker(request, context) }
        v1.get("events") { request, _ in try await self.events(request) }
        return router
    }

    // MARK: Jobs

    private func job(_ context: BasicRequestContext) async throws -> Response {
        let id = try Self.id(context)
        guard let job = try await store.job(id: id) else { throw APIError.notFound("job \(id)") }
        return JSONText.response(try await presentation.job(job, in: store))
    }

    private func jobs(_ request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        let state = try query.get("state").map { text throws(APIError) -> JobState in
            guard let state = JobState(rawValue: text) else {
                throw APIError.badRequest("state must be one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return state
        }
        let queue = query.get("queue")
        if let queue, queue.isEmpty || queue.utf8.count > 255 { throw APIError.badRequest("queue takes 1 to 255 bytes") }
        let limit = try Self.number(query.get("limit"), "limit", in: 1...Int64(Self.maxPage)) ?? 50
        let before = try Self.number(query.get("before"), "before", in: 1...Int64.max)
        let page = try await store.jobs(state: state, queue: queue, before: before, limit: Int(limit))
        let next = page.count == Int(limit) ? page.last.map { String($0.id) } ?? "null" : "null"
        var shown: [String] = []
        for job in page { shown.append(try await presentation.job(job, in: store)) }
        return JSONText.response("{\"jobs\":[\(shown.joined(separator: ","))],\"next_before\":\(next)}")
    }

    private func submit(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: settings.maxJSONBody)
        let object = try JSONValue.object(from: Data(buffer: body))
        let submitted = try await presentation.submit(object, to: store)
        return JSONText.response(try await presentation.job(submitted.job, in: store), status: submitted.isNew ? .created : .ok)
    }

    private func submitBatch(_ request: Request) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: settings.maxBatchBody)
        let (id, jobs) = try await presentation.submitBatch(try JSONValue.object(from: Data(buffer: body)), to: store)
        return JSONText.response(presentation.batch(id: id, jobs: jobs), status: .created)
    }

    private func cancel(_ context: BasicRequestContext) async throws -> Response {
        let id = try Self.id(context)
        guard let before = try await store.job(id: id) else { throw APIError.notFound("job \(id)") }
        guard !before.state.isFinished, let job = try await store.cancel(id: id) else {
            throw APIError(.conflict, code: "not_cancellable", "job \(id) is already \(before.state.rawValue); nothing to cancel")
        }
        guard job.state == .cancelled else {
            if job.state == .running && job.publishing != nil {
                throw APIError(.conflict, code: "not_cancellable", "job \(id) is putting its finished output in place; too late to cancel")
            }
            throw APIError(.conflict, code: "not_cancellable", "job \(id) is already \(job.state.rawValue); nothing to cancel")
        }
        return JSONText.response(try await presentation.job(job, in: store))
    }

    private func retry(_ context: BasicRequestContext) async throws -> Response {
        let id = try Self.id(context)
        guard let before = try await store.job(id: id) else { throw APIError.notFound("job \(id)") }
        guard before.state == .failed || before.state == .cancelled else {
            throw APIError(.conflict, code: "not_retryable", "job \(id) is \(before.state.rawValue); only failed or cancelled jobs can be retried")
        }
        return JSONText.response(try await presentation.job(try await presentation.retry(before, in: store), in: store))
    }

    private func batch(_ context: BasicRequestContext) async throws -> Response {
        let id = try Self.id(context)
        guard let jobs = try await store.batch(id: id) else { throw APIError.notFound("batch \(id)") }
        return JSONText.response(presentation.batch(id: id, jobs: jobs))
    }

    // MARK: Workers

    private func workers() async throws -> Response {
        let now = try await store.now()
        return JSONText.response(presentation.workers(try await store.workers(), now: now))
    }

    private func stopWorker(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        let now = request.uri.queryParameters.get("now")
        guard now == nil || now == "true" || now == "false" else { throw APIError.badRequest("now is true or false") }
        let asked = try await store.requestStop(worker: id, level: now == "true" ? .immediate : .graceful)
        guard !asked.isEmpty else { throw APIError.notFound("a live worker \(id)") }
        return JSONText.response(JSONText.encode(["stopping": asked]) ?? "{}")
    }

    // MARK: Events

    /// A page of events after `since` (JSON), or with `Accept:
    /// text/event-stream` the stream of them as they happen (Server-Sent
    /// Events, each with its event id, resumable with `Last-Event-ID`).
    private func events(_ request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        let job = try Self.number(query.get("job"), "job", in: 1...Int64.max)
        let resumed = try Self.number(request.headers.first { $0.name.canonicalName == "last-event-id" }?.value, "Last-Event-ID", in: 0...Int64.max)
        let since = try resumed ?? Self.number(query.get("since"), "since", in: 0...Int64.max) ?? 0
        if request.headers[.accept]?.contains("text/event-stream") == true {
            return EventStream(store: store, presentation: presentation, since: since, job: job).response
        }
        let limit = try Self.number(query.get("limit"), "limit", in: 1...Int64(Self.maxPage)) ?? 100
        let events = try await store.events(after: since, job: job, limit: Int(limit))
        let last = events.last?.id ?? since
        return JSONText.response("{\"events\":[\(events.map(presentation.event).joined(separator: ","))],\"last\":\(last)}")
    }

    // MARK: Parameters

    private static func id(_ context: BasicRequestContext) throws -> Int64 {
        let text = try context.parameters.require("id")
        guard let id = Int64(text), id > 0 else { throw APIError.badRequest("an id is a positive whole number, not \(text.prefix(40))") }
        return id
    }

    private static func number(_ text: String?, _ name: String, in range: ClosedRange<Int64>) throws(APIError) -> Int64? {
        guard let text else { return nil }
        guard let value = Int64(text), range.contains(value) else {
            throw APIError.badRequest("\(name) is a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }
}

/// Refuses request targets (path and query) longer than
/// `FarmServer.maxTarget`, and any that spells a NUL character (which no
/// name holds, and PostgreSQL cannot store).
struct RequestBounds<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let target = request.uri.string
        guard target.utf8.count <= FarmServer.maxTarget else {
            throw APIError(.uriTooLong, code: "too_large", "the request's path and query take \(FarmServer.maxTarget) bytes at most")
        }
        guard !target.utf8.contains(0), target.range(of: "%00") == nil else {
            throw APIError.badRequest("the request's path or query holds a NUL character")
        }
        return try await next(request, context)
    }
}
