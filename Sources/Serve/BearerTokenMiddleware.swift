import Hummingbird

/// With `--token-file`, every request but `/metrics` needs
/// `Authorization: Bearer TOKEN`. The token is compared in constant time
/// (its length aside), so timing tells an attacker nothing about how much
/// of a guess was right.
struct BearerTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: [UInt8]
    /// Paths served without the token.
    let open: Set<String>

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if open.contains(request.uri.path) { return try await next(request, context) }
        let given = request.headers[.authorization].map { Array($0.utf8) } ?? []
        let prefix = Array("Bearer ".utf8)
        guard given.count > prefix.count, Array(given.prefix(prefix.count)) == prefix,
              Self.same(Array(given.dropFirst(prefix.count)), token) else {
            var response = APIError(.unauthorized, code: "unauthorized", "this server needs Authorization: Bearer <token>").response
            response.headers[.wwwAuthenticate] = "Bearer"
            return response
        }
        return try await next(request, context)
    }

    /// Whether two byte strings are equal, looking at every byte either way.
    static func same(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0 && a.count == b.count
    }
}
