import Foundation
import Hummingbird

/// What a browser could be tricked into: another site's page posting to the
/// farm on the operator's machine (a form or a fetch to 127.0.0.1:8080, which
/// the browser sends with an `Origin` header), or a name of the attacker's
/// made to resolve to 127.0.0.1 (DNS rebinding, which the `Host` header shows).
/// So a POST whose `Origin` is not the server itself is refused (403
/// `cross_origin`), and without a token only loopback names and addresses are
/// served (403 `bad_host`): with a token, a page elsewhere cannot send it.
struct BrowserGuard<Context: RequestContext>: RouterMiddleware {
    let tokenSet: Bool

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let host = request.head.authority ?? ""
        if !tokenSet && !Self.isLoopbackName(Self.split(host).name) {
            throw APIError(.forbidden, code: "bad_host",
                           "this server answers to 127.0.0.1, [::1] or localhost only (Host: \(host.prefix(80))); give it --token-file to be reached by name")
        }
        if request.method != .get && request.method != .head {
            if let origin = request.headers[.origin], !Self.sameOrigin(origin, host: host) {
                throw APIError(.forbidden, code: "cross_origin", "a page from \(origin.prefix(80)) may not make changes here")
            }
            if let site = request.headers.first(where: { $0.name.canonicalName == "sec-fetch-site" })?.value,
               site == "cross-site" || site == "same-site" {
                throw APIError(.forbidden, code: "cross_origin", "a page from another site may not make changes here")
            }
        }
        return try await next(request, context)
    }

    static func isLoopbackName(_ name: String) -> Bool {
        let name = name.lowercased()
        if name == "localhost" || name == "::1" { return true }
        var address = in_addr()
        return inet_pton(AF_INET, name, &address) == 1 && (UInt32(bigEndian: address.s_addr) >> 24) == 127
    }

    /// `host:port`, `[v6]:port` or `host` as its name and port (nil: none given).
    static func split(_ authority: String) -> (name: String, port: Int?) {
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            let name = String(authority[authority.index(after: authority.startIndex)..<close])
            let rest = authority[authority.index(after: close)...]
            return (name, rest.hasPrefix(":") ? Int(rest.dropFirst()) : nil)
        }
        let parts = authority.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        return (String(parts.first ?? ""), parts.count == 2 ? Int(parts[1]) : nil)
    }

    /// Whether an `Origin` (`http://host:port`) names the server the request came to.
    static func sameOrigin(_ origin: String, host: String) -> Bool {
        guard let components = URLComponents(string: origin), let scheme = components.scheme?.lowercased(),
              let originHost = components.host?.lowercased() else { return false }
        let defaultPort = scheme == "https" ? 443 : 80
        let (name, port) = split(host)
        let bare = name.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        return originHost.trimmingCharacters(in: CharacterSet(charactersIn: "[]")) == bare
            && (components.port ?? defaultPort) == (port ?? defaultPort)
    }
}
