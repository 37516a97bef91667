import Foundation

/// The folders a worker may read and write (`--allow-dir`). Paths are
/// compared after resolving symlinks and `..`, so neither a symlink inside
/// an allowed folder nor `../` in a name leads outside it. The folders are
/// resolved each time they are asked about: a mount that is missing now
/// (the box is unhealthy) may be back later.
public struct AllowedFolders: Sendable {
    /// As given, absolute.
    public let paths: [String]

    public init(_ paths: [String]) {
        self.paths = paths.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
    }

    /// The allowed folders that do not exist on this box now.
    public var missing: [String] {
        paths.filter { Self.resolve($0) == nil }
    }

    /// Whether a resolved path (symlinks and `..` gone, e.g. the real path
    /// of an opened file) lies inside one of the folders.
    public func contains(resolved path: String) -> Bool {
        paths.compactMap(Self.resolve).contains { folder in
            path == folder || path.hasPrefix(folder.hasSuffix("/") ? folder : folder + "/")
        }
    }

    /// The folders for messages.
    public var list: String { paths.joined(separator: ", ") }

    /// The real path (symlinks and `..` resolved), or nil if it does not exist.
    public static func resolve(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
