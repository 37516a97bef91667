import Foundation
import Hummingbird

/// A refused request, as every error of the API is answered: a 4xx (or 503)
/// status and `{"error": {"code": "...", "message": "..."}}`, where `code` is
/// stable (the README's table) and `message` is one line for people. Never
/// a stack trace, never a 500 for a bad request.
public struct APIError: Error, Sendable, Equatable {
    public let status: HTTPResponse.Status
    public let code: String
    public let message: String

    public init(_ status: HTTPResponse.Status, code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    public static func notFound(_ what: String) -> APIError { APIError(.notFound, code: "not_found", "\(what) does not exist") }
    public static func badRequest(_ message: String) -> APIError { APIError(.badRequest, code: "bad_request", message) }

    var response: Response {
        struct Body: Encodable {
            struct Detail: Encodable {
                let code: String
                let message: String
            }
            let error: Detail
        }
        return JSONText.response(JSONText.encode(Body(error: .init(code: code, message: message))) ?? "{}", status: status)
    }
}

/// JSON as the API writes it: sorted keys, slashes left alone (as the CLI's `--json`).
enum JSONText {
    static func encode<T: Encodable>(_ value: T) -> String? {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) }
    }

    static func response(_ json: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: json + "\n")))
    }
}
