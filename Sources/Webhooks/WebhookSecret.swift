import Foundation

/// The key that signs webhooks, in the Standard Webhooks form: `whsec_`
/// then the key's bytes in base64 (24 to 64 bytes, as the specification
/// advises; at least 16 taken). Every worker of a farm reads the same file,
/// and receivers verify with the same string.
public struct WebhookSecret: Sendable {
    public let key: [UInt8]

    public static let prefix = "whsec_"

    public init(_ text: String) throws(WebhookSecretError) {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.hasPrefix(Self.prefix) else { throw .malformed("does not start with \(Self.prefix)") }
        guard let key = Data(base64Encoded: String(trimmed.dropFirst(Self.prefix.count))) else {
            throw .malformed("is not \(Self.prefix) followed by base64")
        }
        guard (16...128).contains(key.count) else {
            throw .malformed("holds a key of \(key.count) bytes; use 24 to 64 random bytes")
        }
        self.key = Array(key)
    }

    /// Reads a secret file (its first line; at most 4 KiB read).
    public static func read(path: String) throws(WebhookSecretError) -> WebhookSecret {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw .unreadable("cannot read the webhook secret file \(path): \(String(cString: strerror(errno)))")
        }
        defer { try? handle.close() }
        let data = (try? handle.read(upToCount: 4096)) ?? Data()
        do {
            return try WebhookSecret(String(decoding: data, as: UTF8.self))
        } catch {
            throw .malformed("the webhook secret file \(path) \(error.reason)")
        }
    }
}

public enum WebhookSecretError: Error, CustomStringConvertible {
    case unreadable(String)
    /// What is wrong with the text, said of it ("does not start with …").
    case malformed(String)

    var reason: String {
        switch self {
        case .unreadable(let text), .malformed(let text): return text
        }
    }

    public var description: String { reason }
}
