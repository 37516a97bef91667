import ArgumentParser
import Foundation
import JobQueue
import Serve
import TranscodeJobs

/// What `vqueue serve` shows and takes, as the command line does: the same
/// JSON as `--json`, and a `POST /v1/jobs` body turned into `submit`'s
/// arguments and parsed by `submit` itself, so the API refuses exactly
/// what `submit` refuses, with the same words.
struct ServePresentation: FarmPresentation {
    func job(_ job: Job, in store: SQLJobStore) async throws -> String { Self.json(try await JobReport.load(job, store: store)) }

    func batch(id: Int64, jobs: [Job]) -> String { Self.json(BatchReport(id: id, jobs: jobs)) }

    func workers(_ workers: [WorkerRecord], now: Double) -> String {
        Self.json(workers.map { WorkerReport(worker: $0, now: now) })
    }

    func event(_ event: JobEvent) -> String { Self.json(EventReport(event)) }

    func submit(_ body: [String: JSONValue], to store: SQLJobStore) async throws -> Submitted {
        let command = try Self.parsed(SubmitBody.arguments(body, batch: false))
        return try await Self.answering { try await command.submitOne(to: store) }
    }

    func submitBatch(_ body: [String: JSONValue], to store: SQLJobStore) async throws -> (batchID: Int64, jobs: [Job]) {
        let command = try Self.parsed(SubmitBody.arguments(body, batch: true))
        return try await Self.answering { try await command.submitBatch(to: store) }
    }

    /// `submit` parsed (and validated) from arguments; a usage error is a 400.
    private static func parsed(_ arguments: [String]) throws -> SubmitCommand {
        do {
            return try SubmitCommand.parse(arguments)
        } catch {
            throw APIError(.badRequest, code: "bad_request", SubmitBody.plain(SubmitCommand.message(for: error)))
        }
    }

    /// Runs a command's work, its refusals answered as API errors.
    private static func answering<T>(_ work: () async throws -> T) async throws -> T {
        do {
            return try await work()
        } catch let refusal as CommandRefusal {
            throw apiError(refusal)
        } catch let usage as ValidationError {
            throw APIError(.badRequest, code: "bad_request", usage.message)
        }
    }

    func retry(_ job: Job, in store: SQLJobStore) async throws -> Job {
        do {
            let payload = try RetryCommand.checkedAgain(job)
            guard let queued = try await store.retry(id: job.id, payload: payload), queued.state == .queued else {
                throw APIError(.conflict, code: "not_retryable", "job \(job.id) changed state meanwhile; not retried")
            }
            return queued
        } catch let refusal as CommandRefusal {
            throw Self.apiError(refusal)
        } catch let busy as JobStoreError {
            throw APIError(.conflict, code: "output_busy", "job \(job.id) not retried: \(busy.description)")
        }
    }

    /// A command's refusal as the API answers it.
    static func apiError(_ refusal: CommandRefusal) -> APIError {
        if refusal.exitCode == noSuchJobExitCode { return APIError(.notFound, code: "not_found", refusal.description) }
        if refusal.exitCode == StoreFailure.exitCode {
            return APIError(.serviceUnavailable, code: "store_unavailable", refusal.description)
        }
        switch refusal.code {
        case "output_busy", "output_exists": return APIError(.conflict, code: refusal.code!, refusal.description)
        default: return APIError(.unprocessableContent, code: refusal.code ?? "refused", refusal.description)
        }
    }

    private static func json<T: Encodable>(_ value: T) -> String {
        (try? JobReport.json(value)) ?? "null"
    }
}

/// A `POST /v1/jobs` body as `submit`'s arguments: `input` and `output`
/// (absolute paths), `meta` (an object of strings), and every other field
/// an option of `submit` under its JSON name (`max_attempts`,
/// `video_bitrate`…): a string or number is its value (a duration's bare
/// number is seconds: `"segment": 4` is `--segment 4s`), `true` gives a
/// flag, `false` nothing, or `--no-NAME` for a flag on by default (`poster`);
/// `"split": "auto"` is `--split auto`.
/// A `POST /v1/batches` body has `inputs` (absolute paths), `out_dir` and
/// `format` instead of `input` and `output`.
enum SubmitBody {
    static let options: Set<String> = [
        "queue", "priority", "key", "max_attempts", "overwrite", "video_bitrate", "crf", "x264_preset", "max_height",
        "audio_bitrate", "no_audio", "threads", "max_pixels", "timeout", "max_memory", "preset", "allow_partial", "notify",
        "ladder", "segment", "hls_segment_type", "poster", "storyboard", "split", "chunk",
    ]

    /// Flags whose `false` is said (`--no-poster`): they are on by default
    /// for some outputs.
    static let negatable: Set<String> = ["poster"]

    /// Durations whose bare number (4, or "4" from an upload's fields) is
    /// seconds.
    static let durations: Set<String> = ["segment", "timeout", "chunk"]

    static func arguments(_ body: [String: JSONValue], batch: Bool) throws -> [String] {
        var arguments: [String] = []
        let named: Set<String> = batch ? ["inputs", "out_dir", "format"] : ["input", "output"]
        // `"split": "auto"` is `--split auto`: auto comes with the files.
        var auto: [String] = []
        for (name, value) in body.sorted(by: { $0.key < $1.key }) where !named.contains(name) {
            if name == "split" {
                switch value {
                case .bool, .null: break
                case .string("auto"):
                    arguments.append("--split")
                    auto = ["auto"]
                    continue
                default: throw APIError.badRequest("split is true, false or \"auto\"")
                }
            }
            if name == "meta" {
                guard case .object(let pairs) = value else { throw APIError.badRequest("meta is an object of strings") }
                for (key, value) in pairs.sorted(by: { $0.key < $1.key }) {
                    guard case .string(let text) = value else { throw APIError.badRequest("meta \(key.prefix(64)) is not a string") }
                    arguments += ["--meta", "\(key)=\(text)"]
                }
                continue
            }
            guard options.contains(name) else {
                throw APIError.badRequest("unknown field \"\(name.prefix(64))\" (fields: \(named.sorted().joined(separator: ", ")), meta, "
                                          + options.sorted().joined(separator: ", ") + ")")
            }
            let flag = name.replacingOccurrences(of: "_", with: "-")
            let option = "--" + flag
            let seconds = durations.contains(name) ? "s" : ""
            if FarmServer.flagFields.contains(name) {
                // A flag's value would become one more argument: an extra input file.
                guard case .bool = value else { throw APIError.badRequest("\(name) is true or false") }
            }
            switch value {
            case .bool(true): arguments.append(option)
            case .bool(false) where negatable.contains(name): arguments.append("--no-" + flag)
            case .bool(false), .null: break
            case .string(let text): arguments += [option, Double(text) == nil ? text : text + seconds]
            case .number(let number):
                let text = number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : String(number)
                arguments += [option, text + seconds]
            case .array, .object: throw APIError.badRequest("\(name) takes a string, a number or a boolean")
            }
        }
        if let nul = arguments.first(where: { $0.utf8.contains(0) }) {
            throw APIError.badRequest("\(nul.prefix(40).replacingOccurrences(of: "\0", with: "\\0")) holds a NUL character")
        }
        if batch {
            guard case .array(let list) = body["inputs"] ?? .null, !list.isEmpty, list.count <= maxBatch else {
                throw APIError.badRequest("inputs is required: an array of 1 to \(maxBatch) absolute paths")
            }
            let inputs = try list.map { try absolute($0, "each of inputs") }
            guard case .string(let format) = body["format"] ?? .null else {
                throw APIError.badRequest("format is required: flv, mp4, mkv or hls")
            }
            return arguments + ["--out-dir", try absolute(body["out_dir"] ?? .null, "out_dir"), "--format", format, "--"] + inputs
        }
        return arguments + ["--"] + auto + [try absolute(body["input"] ?? .null, "input"), try absolute(body["output"] ?? .null, "output")]
    }

    /// The most inputs one batch request takes.
    static let maxBatch = 10_000

    private static func absolute(_ value: JSONValue, _ name: String) throws -> String {
        guard case .string(let path) = value, path.hasPrefix("/"), !path.utf8.contains(0) else {
            throw APIError.badRequest("\(name) is required: an absolute path, as the workers see it")
        }
        return path
    }

    /// ArgumentParser's message without its "Error: " and usage lines.
    static func plain(_ message: String) -> String {
        let first = message.split(separator: "\n").first.map(String.init) ?? message
        return first.hasPrefix("Error: ") ? String(first.dropFirst(7)) : first
    }
}
