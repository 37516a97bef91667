import CWebhook
import Foundation

/// The Standard Webhooks headers of one delivery: `webhook-id` (the same on
/// every attempt, so a receiver can drop duplicates), `webhook-timestamp`
/// (seconds since 1970, this attempt's) and `webhook-signature`:
/// `v1,` then the base64 HMAC-SHA256 of "id.timestamp.body" under the
/// secret's key (OpenSSL's HMAC).
public struct WebhookSignature: Sendable {
    public let id: String
    public let timestamp: Int
    public let signature: String

    public init(id: String, timestamp: Int, body: [UInt8], secret: WebhookSecret) throws(WebhookPostError) {
        self.id = id
        self.timestamp = timestamp
        let signed = Array("\(id).\(timestamp).".utf8) + body
        var mac = [UInt8](repeating: 0, count: 32)
        guard vq_hmac_sha256(secret.key, secret.key.count, signed, signed.count, &mac) == 0 else {
            var reason: UnsafePointer<CChar>?
            _ = vq_webhook_available(&reason)
            throw WebhookPostError(reason.map { "cannot sign: \(String(cString: $0)); install libssl3" } ?? "cannot sign (HMAC failed)")
        }
        signature = "v1," + Data(mac).base64EncodedString()
    }

    /// The header lines.
    public var headers: [String] {
        ["webhook-id: \(id)", "webhook-timestamp: \(timestamp)", "webhook-signature: \(signature)"]
    }
}
