import Foundation

/// A `multipart/form-data` body read as it streams in (RFC 7578): text
/// fields are collected (each at most 4 KiB, 64 parts at most), and the one
/// file part is handed on in pieces as they come, never held whole. Only
/// what the delimiter search needs is kept between chunks.
struct MultipartReader {
    enum Event {
        case field(name: String, value: String)
        /// The file part begins; `filename` as the client named it (used for nothing but its extension).
        case fileStart(filename: String)
        case fileBytes(ArraySlice<UInt8>)
    }

    static let maxField = 4096
    static let maxParts = 64
    static let maxHeaders = 16 << 10

    private enum State {
        case preamble, afterDelimiter, headers, field(name: String, value: [UInt8]), file, done
    }

    private let delimiter: [UInt8]
    /// The bytes not yet handed on. Starts with CRLF, so that the first
    /// delimiter (which may open the body) matches as every other does.
    private var buffer: [UInt8] = Array("\r\n".utf8)
    private var state = State.preamble
    private var parts = 0
    private(set) var sawFile = false

    init(boundary: String) {
        delimiter = Array("\r\n--\(boundary)".utf8)
    }

    /// The boundary of a `multipart/form-data` content type, if it is one.
    static func boundary(contentType: String) -> String? {
        let pieces = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard pieces.first?.lowercased() == "multipart/form-data" else { return nil }
        for piece in pieces.dropFirst() where piece.lowercased().hasPrefix("boundary=") {
            var value = String(piece.dropFirst("boundary=".count))
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            return (1...70).contains(value.utf8.count) ? value : nil
        }
        return nil
    }

    mutating func feed(_ bytes: some Sequence<UInt8>, _ handle: (Event) throws -> Void) throws {
        buffer.append(contentsOf: bytes)
        while true {
            switch state {
            case .done:
                buffer.removeAll()  // the epilogue: ignored
                return
            case .preamble:
                guard let found = find(delimiter) else { return keepTail() }
                buffer.removeSubrange(..<found.upperBound)
                state = .afterDelimiter
            case .afterDelimiter:
                guard buffer.count >= 2 else { return }
                if buffer[0] == UInt8(ascii: "-") && buffer[1] == UInt8(ascii: "-") {
                    state = .done
                    continue
                }
                // Transport padding (spaces, tabs) may precede the CRLF.
                guard let end = find(Array("\r\n".utf8)) else { return }
                guard buffer[..<end.lowerBound].allSatisfy({ $0 == 0x20 || $0 == 0x09 }) else { throw malformed("a delimiter") }
                buffer.removeSubrange(..<end.upperBound)
                state = .headers
            case .headers:
                guard let end = find(Array("\r\n\r\n".utf8)) else {
                    if buffer.count > Self.maxHeaders { throw malformed("a part's headers (over 16 KiB)") }
                    return
                }
                let headers = String(decoding: buffer[..<end.lowerBound], as: UTF8.self)
                buffer.removeSubrange(..<end.upperBound)
                parts += 1
                guard parts <= Self.maxParts else { throw APIError.badRequest("a form has at most \(Self.maxParts) parts") }
                let (name, filename) = try Self.disposition(headers)
                if let filename {
                    guard !sawFile else { throw APIError.badRequest("one file per upload") }
                    sawFile = true
                    try handle(.fileStart(filename: filename))
                    state = .file
                } else {
                    state = .field(name: name, value: [])
                }
            case .field(let name, var value):
                let found = find(delimiter)
                let end = found?.lowerBound ?? max(0, buffer.count - (delimiter.count - 1))
                value.append(contentsOf: buffer[..<end])
                guard value.count <= Self.maxField else { throw APIError.badRequest("the form field \(name.prefix(64)) is over 4 KiB") }
                buffer.removeSubrange(..<end)
                guard let found else {
                    state = .field(name: name, value: value)
                    return
                }
                buffer.removeSubrange(..<(found.upperBound - found.lowerBound))
                guard let text = String(validating: value, as: UTF8.self) else {
                    throw APIError.badRequest("the form field \(name.prefix(64)) is not UTF-8")
                }
                try handle(.field(name: name, value: text))
                state = .afterDelimiter
            case .file:
                let found = find(delimiter)
                let end = found?.lowerBound ?? max(0, buffer.count - (delimiter.count - 1))
                if end > 0 { try handle(.fileBytes(buffer[..<end])) }
                buffer.removeSubrange(..<(found?.upperBound ?? end))
                guard found != nil else { return }
                state = .afterDelimiter
            }
        }
    }

    /// The body has ended: it must have ended the form, with a file in it.
    func finish() throws {
        guard case .done = state else { throw malformed("the end (the body stopped inside the form)") }
        guard sawFile else { throw APIError.badRequest("the form has no file part (a part with a filename)") }
    }

    /// The part's field name, and its file name when it is a file.
    private static func disposition(_ headers: String) throws -> (name: String, filename: String?) {
        for line in headers.split(separator: "\r\n") {
            let pair = line.split(separator: ":", maxSplits: 1)
            guard pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces).lowercased() == "content-disposition" else { continue }
            var name: String?
            var filename: String?
            for parameter in pair[1].split(separator: ";").dropFirst() {
                let item = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard item.count == 2 else { continue }
                var value = item[1]
                if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
                switch item[0].lowercased() {
                case "name": name = value
                case "filename": filename = value
                default: break
                }
            }
            guard let name, !name.isEmpty else { throw APIError.badRequest("a form part has no name") }
            return (name, filename)
        }
        throw APIError.badRequest("a form part has no Content-Disposition")
    }

    /// Where `needle` first is in the buffer.
    private func find(_ needle: [UInt8]) -> Range<Int>? {
        buffer.withUnsafeBytes { haystack in
            needle.withUnsafeBytes { wanted -> Range<Int>? in
                guard let base = haystack.baseAddress, haystack.count >= wanted.count else { return nil }
                // memchr to each candidate first byte, then memcmp (glibc's memmem is not exported to Swift).
                var start = 0
                let last = haystack.count - wanted.count
                while start <= last {
                    guard let hit = memchr(base + start, Int32(wanted[0]), last - start + 1) else { return nil }
                    start = base.distance(to: UnsafeRawPointer(hit))
                    if memcmp(base + start, wanted.baseAddress!, wanted.count) == 0 { return start..<(start + wanted.count) }
                    start += 1
                }
                return nil
            }
        }
    }

    /// Keeps only what may be the start of a delimiter split across chunks.
    private mutating func keepTail() {
        if buffer.count > delimiter.count { buffer.removeSubrange(..<(buffer.count - delimiter.count)) }
    }

    private func malformed(_ what: String) -> APIError {
        APIError.badRequest("the multipart/form-data body is malformed at \(what)")
    }
}
