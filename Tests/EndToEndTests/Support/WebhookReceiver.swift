import Foundation
import Testing

/// A webhook receiver on loopback (Tests/Support/webhook-receiver.py) that verifies each delivery
/// with the README's Python `verify_webhook`, as a site would, and logs what it got; with the
/// Standard Webhooks secret it and the workers share.
final class WebhookReceiver: Sendable {
    struct Request: Decodable {
        let n: Int
        let path: String
        let headers: [String: String]
        let body: String
        let valid: Bool
        /// The HTTP status it answered, or "hang".
        let answer: String
        /// Requests in progress at once, the most so far.
        let peak: Int
        /// When it arrived (seconds since 1970).
        let received: Double

        var id: String { headers["webhook-id"] ?? "" }
        /// The body's JSON object.
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:] }
        var event: String { json["event"] as? String ?? "" }
    }

    /// The README's section with the receivers' examples.
    static let readmeSection = "Webhooks: told when a job ends"

    let process: LoggedProcess
    let logFile: URL
    let secretFile: URL
    let port: Int
    /// Exists once the receiver is to take connections (`down` receivers).
    let upFile: URL

    /// Starts a receiver answering `answers` (HTTP statuses or "hang", one per request in order,
    /// the last repeating). With `down`, it refuses connections until `comeUp()`.
    static func start(in directory: URL, answers: String = "200", down: Bool = false) async throws -> WebhookReceiver {
        let secretFile = directory.appendingPathComponent("webhook-secret")
        if !FileManager.default.fileExists(atPath: secretFile.path) {
            let key = (0..<32).map { _ in UInt8.random(in: 0...255) }
            try ("whsec_" + Data(key).base64EncodedString() + "\n").write(to: secretFile, atomically: true, encoding: .utf8)
        }
        let verifyCode = directory.appendingPathComponent("verify_webhook.py")
        try ReadmeExamplesTests.example("python", section: WebhookReceiver.readmeSection, endingAt: "\n### ").write(to: verifyCode, atomically: true, encoding: .utf8)
        let name = "receiver-\(UUID().uuidString.prefix(8))"
        let logFile = directory.appendingPathComponent("\(name).jsonl")
        let portFile = directory.appendingPathComponent("\(name).port")
        let upFile = directory.appendingPathComponent("\(name).up")
        if !down { FileManager.default.createFile(atPath: upFile.path, contents: nil) }
        let script = Locations.packageRoot.appendingPathComponent("Tests/Support/webhook-receiver.py")
        let process = try LoggedProcess(Locations.python, [script.path, "--secret-file", secretFile.path, "--verify-code", verifyCode.path,
                                                          "--log", logFile.path, "--port-file", portFile.path, "--answers", answers,
                                                          "--up-file", upFile.path],
                                        logFile: directory.appendingPathComponent("\(name).stderr"))
        var port: Int?
        _ = await eventually(within: .seconds(60)) {
            port = (try? String(contentsOf: portFile, encoding: .utf8)).flatMap { Int($0) }
            return port != nil || !process.isRunning
        }
        guard let port else {
            await process.end()
            throw ReceiverFailure(description: "the webhook receiver did not start: \(process.log)")
        }
        return WebhookReceiver(process: process, logFile: logFile, secretFile: secretFile, port: port, upFile: upFile)
    }

    private init(process: LoggedProcess, logFile: URL, secretFile: URL, port: Int, upFile: URL) {
        self.process = process
        self.logFile = logFile
        self.secretFile = secretFile
        self.port = port
        self.upFile = upFile
    }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    /// Takes connections from now on.
    func comeUp() {
        FileManager.default.createFile(atPath: upFile.path, contents: nil)
    }

    /// Every request so far, in order.
    var requests: [Request] {
        let text = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONDecoder().decode(Request.self, from: Data($0.utf8)) }
    }

    /// The requests, once `condition` holds of them (within `timeout`), else as they are then.
    func requests(within timeout: Duration, until condition: ([Request]) -> Bool) async -> [Request] {
        var seen: [Request] = []
        _ = await eventually(within: timeout) {
            seen = requests
            return condition(seen)
        }
        return seen
    }

    func end() async {
        await process.end()
    }

    struct ReceiverFailure: Error, CustomStringConvertible {
        let description: String
    }
}
