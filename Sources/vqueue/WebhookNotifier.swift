import Foundation
import JobQueue
import Webhooks

/// Notifications sent as webhooks: the body is the job's JSON as
/// `status --json` prints it (or the batch's, as `status --batch --json`),
/// with `"event"` added (`job.succeeded`, `job.failed`, `job.cancelled`,
/// `batch.ended`); signed as Standard Webhooks say, with `webhook-id`
/// `msg_<notification id>`, the same on every attempt.
///
/// 2xx is delivered; 410 Gone stops the retries; any other answer, no
/// answer within the time limit, or no connection is tried again later.
struct WebhookNotifier: NotificationSender {
    let secret: WebhookSecret
    let poster: WebhookPoster

    func send(_ notification: JobNotification, about subject: NotificationSubject) async -> NotificationAttempt {
        let body: String
        do {
            body = switch subject {
            case .job(let job): try JobReport.json(WebhookBody(event: notification.event, report: JobReport(job)))
            case .batch(let id, let jobs): try JobReport.json(WebhookBody(event: notification.event, report: BatchReport(id: id, jobs: jobs)))
            }
        } catch {
            return .retry(status: nil, reason: "cannot write its JSON: \(error)")
        }
        let bytes = Array(body.utf8)
        let signature: WebhookSignature
        do {
            signature = try WebhookSignature(id: "msg_\(notification.id)", timestamp: Int(Date().timeIntervalSince1970),
                                             body: bytes, secret: secret)
        } catch {
            return .retry(status: nil, reason: "\(error)")
        }
        let headers = ["Content-Type: application/json"] + signature.headers
        switch await poster.post(url: notification.url, headers: headers, body: bytes) {
        case .success(let status) where (200...299).contains(status): return .delivered(status: status)
        case .success(410): return .refused(status: 410)
        case .success(let status): return .retry(status: status, reason: "the receiver answered HTTP \(status)")
        case .failure(let error): return .retry(status: nil, reason: "\(error)")
        }
    }
}

/// A report with the notification's event beside its own fields.
private struct WebhookBody<Report: Encodable>: Encodable {
    let event: String
    let report: Report

    enum CodingKeys: String, CodingKey {
        case event
    }

    func encode(to encoder: Encoder) throws {
        try report.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(event, forKey: .event)
    }
}
