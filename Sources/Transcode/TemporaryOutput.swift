import Foundation

/// The hidden sibling an output is written to before it takes its real name,
/// so a reader of OUT never sees a partial file: `.NAME.PID.part` in OUT's
/// folder (the same file system, so the final rename is atomic).
public struct TemporaryOutput: Sendable {
    public let finalPath: String
    public let path: String

    public init(for finalPath: String, tag: String = String(getpid())) {
        let url = URL(fileURLWithPath: finalPath)
        self.finalPath = finalPath
        let suffix = ".\(tag).part"
        path = url.deletingLastPathComponent()
            .appendingPathComponent("." + Self.truncated(url.lastPathComponent, toBytes: Self.maximumNameBytes - 1 - suffix.utf8.count) + suffix)
            .path
    }

    /// The longest file name most file systems take.
    static let maximumNameBytes = 255

    /// `name` cut to at most `limit` bytes of UTF-8, on a character boundary,
    /// so a long (but valid) output name still has a valid temporary name.
    static func truncated(_ name: String, toBytes limit: Int) -> String {
        guard name.utf8.count > limit else { return name }
        var result = ""
        for character in name {
            if result.utf8.count + character.utf8.count > limit { break }
            result.append(character)
        }
        return result
    }

    /// Flushes the file to disk and renames it over the final path.
    public func commit() throws(TranscodeError) {
        try flush()
        try moveIntoPlace()
    }

    /// Makes the file's bytes durable (done before the rename, so that a
    /// crash never leaves the final name on an incomplete file).
    public func flush() throws(TranscodeError) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw errnoError("opening the finished output") }
        let synced = fsync(fd)
        close(fd)
        if synced != 0 { throw errnoError("flushing the output to disk") }
    }

    /// Renames the file over the final path (atomic on one file system).
    public func moveIntoPlace() throws(TranscodeError) {
        if rename(path, finalPath) != 0 { throw errnoError("renaming the output into place") }
    }

    /// Removes the temporary file, if any (failure, cancellation).
    public func discard() {
        unlink(path)
    }

    private func errnoError(_ doing: String) -> TranscodeError {
        let code = errno
        if code == ENOSPC { return .diskFull(doing) }
        return .libav(doing, String(cString: strerror(code)))
    }
}
