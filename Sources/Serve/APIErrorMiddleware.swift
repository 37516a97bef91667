import Hummingbird
import JobQueue
import Logging

/// Turns whatever a route throws into the API's JSON error: an `APIError`
/// as it is, Hummingbird's own refusals (no such route 404, wrong method
/// 405, body too large 413) with a code of ours, a store outage 503; and
/// anything unforeseen a 500 that says only that (logged, never shown).
struct APIErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return error.response
        } catch let error as any HTTPResponseError {
            return Self.apiError(status: error.status, message: (error as? HTTPError)?.body).response
        } catch let unavailable as StoreUnavailable {
            return APIError(.serviceUnavailable, code: "store_unavailable", "the queue database: \(unavailable.reason)").response
        } catch {
            context.logger.error("\(request.method) \(request.uri.path): \(String(describing: error))")
            return APIError(.internalServerError, code: "internal", "the request failed; the server's log says why").response
        }
    }

    static func apiError(status: HTTPResponse.Status, message: String?) -> APIError {
        switch status {
        case .notFound: return APIError(.notFound, code: "not_found", "no such path (or not with this method)")
        case .contentTooLarge: return APIError(.contentTooLarge, code: "too_large", "the request body is too large")
        default:
            return APIError(status, code: status.code < 500 ? "bad_request" : "internal", message ?? status.reasonPhrase)
        }
    }
}
