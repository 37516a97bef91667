import Foundation

/// A URL webhooks may be sent to: http or https, with a host, at most 2 KiB,
/// no spaces or control characters (a header or request line could be
/// split with them).
public enum WebhookURL {
    public static let longest = 2048

    /// The URL as given, or why it is refused (one line).
    public static func check(_ text: String) throws(WebhookPostError) -> String {
        guard !text.isEmpty, text.utf8.count <= longest else {
            throw WebhookPostError("a notify URL is 1 to \(longest) bytes")
        }
        guard !text.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7f || $0.value > 0x7e }) else {
            throw WebhookPostError("a notify URL has no spaces, control or non-ASCII characters (percent-encode them)")
        }
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
              scheme == "http" || scheme == "https" else {
            throw WebhookPostError("a notify URL starts with http:// or https:// (\(text.prefix(80)))")
        }
        guard let host = components.host, !host.isEmpty else {
            throw WebhookPostError("a notify URL names a host (\(text.prefix(80)))")
        }
        return text
    }
}
