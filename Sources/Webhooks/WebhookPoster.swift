import CWebhook
import Foundation

/// POSTs a webhook with libcurl (see webhook_loader.c for why curl): http
/// and https only, redirects not followed, TLS certificates checked against
/// the system's CA store, one time limit for the whole exchange. Each post
/// runs on a thread of its own, off Swift's shared pool, since curl blocks.
public struct WebhookPoster: Sendable {
    public var timeout: Duration
    public var userAgent: String

    public init(timeout: Duration = .seconds(10), userAgent: String) {
        self.timeout = timeout
        self.userAgent = userAgent
    }

    /// The HTTP status of the answer, or the error (no answer within the
    /// time limit, refused connection, bad certificate…).
    public func post(url: String, headers: [String], body: [UInt8]) async -> Result<Int, WebhookPostError> {
        let milliseconds = Int(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        let agent = userAgent
        return await withCheckedContinuation { continuation in
            let thread = Thread {
                continuation.resume(returning: Self.postNow(url: url, headers: headers, body: body,
                                                            timeoutMilliseconds: milliseconds, userAgent: agent))
            }
            thread.name = "vqueue-webhook"
            thread.start()
        }
    }

    private static func postNow(url: String, headers: [String], body: [UInt8], timeoutMilliseconds: Int,
                                userAgent: String) -> Result<Int, WebhookPostError> {
        var status = 0
        var error = [CChar](repeating: 0, count: 512)
        let capacity = error.count
        // Never empty, so that it has an address (its length is what counts).
        let bytes = body.isEmpty ? [0] : body
        let lines = headers.map { strdup($0) }
        defer { lines.forEach { free($0) } }
        let code = lines.map { UnsafePointer($0) }.withUnsafeBufferPointer { pointers in
            bytes.withUnsafeBufferPointer { buffer in
                buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) { text in
                    vq_http_post(url, pointers.baseAddress, Int32(pointers.count), text, body.count,
                                 timeoutMilliseconds, userAgent, &status, &error, capacity)
                }
            }
        }
        if code == 0 { return .success(status) }
        return .failure(WebhookPostError(String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) },
                                                as: UTF8.self)))
    }
}

/// Why a webhook could not be signed or sent, or a URL is refused (one line).
public struct WebhookPostError: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
