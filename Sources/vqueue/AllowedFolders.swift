import Foundation

/// The folders a worker may read and write (`--allow-dir`). Paths are
/// compared after resolving symlinks and `..`, so neither a symlink inside
/// an allowed folder nor `../` in a name leads outside it.
struct AllowedFolders: Sendable {
    struct Missing: Error { let path: String }

    let folders: [String]

    init(_ paths: [String]) throws {
        folders = try paths.map { path in
            guard let resolved = Self.resolve(path) else { throw Missing(path: path) }
            return resolved
        }
    }

    /// Why `input` or `output` is not allowed, or nil when both are.
    func refusal(input: String, output: String) -> String? {
        guard let inputPath = Self.resolve(input) else { return "\(input): cannot be resolved" }
        // The output need not exist yet: its folder must.
        let folder = URL(fileURLWithPath: output).deletingLastPathComponent().path
        guard let outputFolder = Self.resolve(folder) else { return "\(output): its folder cannot be resolved" }
        if !contains(inputPath) { return "\(input) is outside the allowed folders (\(folders.joined(separator: ", ")))" }
        if !contains(outputFolder) { return "\(output) is outside the allowed folders (\(folders.joined(separator: ", ")))" }
        let outputPath = URL(fileURLWithPath: outputFolder).appendingPathComponent(URL(fileURLWithPath: output).lastPathComponent).path
        if let target = Self.resolve(outputPath), !contains(target) {
            return "\(output) is a link to \(target), outside the allowed folders"
        }
        return nil
    }

    private func contains(_ path: String) -> Bool {
        folders.contains { path == $0 || path.hasPrefix($0.hasSuffix("/") ? $0 : $0 + "/") }
    }

    /// The real path (symlinks and `..` resolved), or nil if it does not exist.
    static func resolve(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
