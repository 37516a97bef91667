import Foundation

/// `--path-map FROM=TO`: where this box sees a shared folder that the
/// submitting box named differently (`/mnt/video` here for `/srv/video`
/// there). The longest FROM that is a whole-component prefix of a path
/// wins; paths under no FROM are left as they are.
public struct PathMap: Sendable, Equatable {
    public struct Rule: Sendable, Equatable {
        public let from: String
        public let to: String
    }

    public let rules: [Rule]

    /// Reads `FROM=TO` items; both sides absolute. Throws the item's problem in words.
    public init(_ items: [String]) throws(PathMapError) {
        rules = try items.map { (item) throws(PathMapError) -> Rule in
            guard let equals = item.firstIndex(of: "=") else {
                throw PathMapError("--path-map takes FROM=TO, not '\(item)'")
            }
            let from = Self.trimmed(String(item[..<equals])), to = Self.trimmed(String(item[item.index(after: equals)...]))
            guard from.hasPrefix("/"), to.hasPrefix("/") else {
                throw PathMapError("--path-map needs absolute folders on both sides: '\(item)'")
            }
            return Rule(from: from, to: to)
        }.sorted { $0.from.count > $1.from.count }
    }

    public static let none = try! PathMap([])

    public func map(_ path: String) -> String {
        for rule in rules {
            if path == rule.from { return rule.to }
            let prefix = rule.from == "/" ? "/" : rule.from + "/"
            if path.hasPrefix(prefix) {
                let rest = path.dropFirst(prefix.count)
                return rule.to == "/" ? "/" + rest : rule.to + "/" + rest
            }
        }
        return path
    }

    /// A folder without trailing slashes (but `/` stays `/`).
    private static func trimmed(_ folder: String) -> String {
        var folder = folder
        while folder.count > 1 && folder.hasSuffix("/") { folder.removeLast() }
        return folder
    }
}

extension TranscodeJob {
    /// The job with its paths as this box sees them.
    public func mapped(by map: PathMap) -> TranscodeJob {
        var job = self
        job.input = map.map(input)
        job.output = map.map(output)
        return job
    }
}

/// A `--path-map` item that is not two absolute folders.
public struct PathMapError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
