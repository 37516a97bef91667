import Foundation
import Hummingbird
import JobQueue

/// `POST /v1/uploads`: a video in the request body (raw, or the file part of
/// a `multipart/form-data` form) written to the upload folder under a name
/// the server picks, then queued as `POST /v1/jobs` queues a job, with the
/// upload as its input: all or nothing (a refused job removes its upload).
/// The job's fields (`output`, `preset`, `meta.KEY`…) come from the query
/// string and, in a form, from its text fields.
extension FarmServer {
    /// The job fields that are flags: true or false (which a query or a
    /// form gives as "true" or "false"), never a value.
    public static let flagFields: Set<String> = ["overwrite", "no_audio", "allow_partial", "poster", "storyboard"]

    func upload(_ request: Request) async throws -> Response {
        guard let folder = settings.uploadFolder else {
            throw APIError(.notFound, code: "not_found", "uploads are off: serve was started without --upload-dir")
        }
        let declared = request.headers[.contentLength].flatMap { Int64($0) }
        if let declared, declared > settings.maxUpload {
            throw APIError(.contentTooLarge, code: "too_large", "the upload is over the server's limit of \(settings.maxUpload) bytes (--max-upload)")
        }
        var fields: [(String, String)] = request.uri.queryParameters.map { (String($0.key), String($0.value)) }
        let file = try UploadFile(folder: folder, limit: settings.maxUpload)
        defer { file.discard() }
        var filename: String?
        if let boundary = request.headers[.contentType].flatMap(MultipartReader.boundary(contentType:)) {
            var reader = MultipartReader(boundary: boundary)
            for try await chunk in request.body {
                try chunk.withUnsafeReadableBytes { bytes in
                    try reader.feed(bytes) { event in
                        switch event {
                        case .field(let name, let value): fields.append((name, value))
                        case .fileStart(let name): filename = name
                        case .fileBytes(let bytes): try file.write(bytes)
                        }
                    }
                }
            }
            try reader.finish()
        } else {
            for try await chunk in request.body { try file.write(chunk) }
            filename = request.uri.queryParameters.get("filename")
            // A body shorter than it said: the client went away.
            if let declared, declared != file.size { throw APIError.badRequest("the body ended after \(file.size) of \(declared) bytes") }
        }
        guard file.size > 0 else { throw APIError.badRequest("the upload is empty") }
        var body = try Self.jobFields(fields)
        let path = try file.keep(extension: UploadFile.safeExtension(of: filename))
        body["input"] = .string(path)
        do {
            let submitted = try await presentation.submit(body, to: store)
            return JSONText.response(try await presentation.job(submitted.job, in: store), status: .created)
        } catch {
            unlink(path)
            throw error
        }
    }

    /// A `POST /v1/jobs` body from an upload's text fields: `meta.KEY` into
    /// `meta`, "true" and "false" for flags, every other value a string
    /// (`submit` reads numbers from them as from its arguments). `input`
    /// and `key` are the server's to decide, `filename` only names the upload.
    static func jobFields(_ fields: [(String, String)]) throws -> [String: JSONValue] {
        var body: [String: JSONValue] = [:]
        var meta: [String: JSONValue] = [:]
        for (name, value) in fields where name != "filename" {
            if name.hasPrefix("meta.") {
                meta[String(name.dropFirst(5))] = .string(value)
                continue
            }
            guard name != "input" else { throw APIError.badRequest("an upload is its own input; give output and the options") }
            guard name != "key" else { throw APIError.badRequest("key goes with POST /v1/jobs, not an upload (each upload is new)") }
            guard body[name] == nil else { throw APIError.badRequest("\(name.prefix(64)) is given twice") }
            if flagFields.contains(name) {
                guard value == "true" || value == "false" else { throw APIError.badRequest("\(name) is true or false") }
                body[name] = .bool(value == "true")
            } else if name == "split" && value != "auto" {
                guard value == "true" || value == "false" else { throw APIError.badRequest("split is true, false or auto") }
                body[name] = .bool(value == "true")
            } else {
                body[name] = .string(value)
            }
        }
        if !meta.isEmpty { body["meta"] = .object(meta) }
        return body
    }
}
