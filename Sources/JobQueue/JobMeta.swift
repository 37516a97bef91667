import Foundation

/// Opaque strings a submitter attaches to a job (the site's upload id, its
/// user id), returned with the job wherever it is shown as JSON, so a site
/// needs no map of its own from job to upload. The queue never reads them.
///
/// Bounded, so that a hostile submitter cannot bloat every row and event:
/// keys of 1 to 64 characters from `[A-Za-z0-9_.-]`, at most 32 pairs, 4 KiB
/// of keys and values in all (UTF-8 bytes). A value is any text but NUL
/// (which PostgreSQL cannot store).
public struct JobMeta: Sendable, Equatable {
    public private(set) var pairs: [String: String]

    public static let maxPairs = 32
    public static let maxKeyLength = 64
    public static let maxBytes = 4096
    public static let none = JobMeta(checked: [:])

    /// Checks the pairs; the error is one line saying what is wrong.
    public init(_ pairs: [String: String]) throws(JobMetaError) {
        if pairs.count > Self.maxPairs {
            throw JobMetaError("at most \(Self.maxPairs) meta pairs are kept (\(pairs.count) given)")
        }
        for (key, value) in pairs.sorted(by: { $0.key < $1.key }) {
            try Self.check(key: key)
            if value.utf8.contains(0) { throw JobMetaError("meta \(key)'s value holds a NUL character") }
        }
        let bytes = pairs.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count }
        if bytes > Self.maxBytes {
            throw JobMetaError("meta takes \(Self.maxBytes) bytes of keys and values at most (\(bytes) given)")
        }
        self.pairs = pairs
    }

    /// From `KEY=VALUE` arguments (`submit --meta`); a key given twice is refused.
    public init(arguments: [String]) throws(JobMetaError) {
        var pairs: [String: String] = [:]
        for argument in arguments {
            guard let equals = argument.firstIndex(of: "=") else {
                throw JobMetaError("--meta takes KEY=VALUE (\"\(argument.prefix(80))\" has no '=')")
            }
            let key = String(argument[..<equals])
            try Self.check(key: key)
            if pairs[key] != nil { throw JobMetaError("meta \(key) is given twice") }
            pairs[key] = String(argument[argument.index(after: equals)...])
        }
        try self.init(pairs)
    }

    private init(checked pairs: [String: String]) {
        self.pairs = pairs
    }

    private static func check(key: String) throws(JobMetaError) {
        let allowed = key.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x5F || byte == 0x2E || byte == 0x2D
        }
        guard allowed, (1...maxKeyLength).contains(key.utf8.count) else {
            throw JobMetaError("a meta key is 1 to \(maxKeyLength) letters, digits, '_', '.' or '-' (not \"\(key.prefix(80))\")")
        }
    }

    public var isEmpty: Bool { pairs.isEmpty }

    /// As stored: a JSON object with sorted keys, or nil for none.
    public var json: String? {
        guard !pairs.isEmpty else { return nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(pairs)).map { String(decoding: $0, as: UTF8.self) }
    }

    /// From what was stored (none for nothing, or for text that is not a
    /// JSON object of strings).
    public init(json: String?) {
        guard let json, let pairs = try? JSONDecoder().decode([String: String].self, from: Data(json.utf8)) else {
            self.init(checked: [:])
            return
        }
        self.init(checked: pairs)
    }
}

/// Why meta was refused, in one line.
public struct JobMetaError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
