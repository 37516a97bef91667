import Foundation
import Transcode

/// The worker's temporary output by name, as the worker has used it so far:
/// `.NAME.job<ID>-<ATTEMPT>.part` beside OUT, written by the child with
/// `--write-in-place`, flushed and renamed over OUT by the worker.
///
/// It shadows `Transcode.TemporaryOutput` in this module on purpose, until
/// the worker moves to it (create the file in the worker with
/// `Transcode.TemporaryOutput(for:tag:)`, hand its descriptor to the child
/// with `--output-fd`, publish with `publish(overwrite:)`); then this file
/// goes.
struct TemporaryOutput: Sendable {
    let finalPath: String
    let path: String

    init(for finalPath: String, tag: String) {
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
    func commit() throws(TranscodeError) {
        try flush()
        try moveIntoPlace()
    }

    /// Makes the file's bytes durable (done before the rename, so that a
    /// crash never leaves the final name on an incomplete file).
    func flush() throws(TranscodeError) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw errnoError("opening the finished output") }
        let synced = fsync(fd)
        close(fd)
        if synced != 0 { throw errnoError("flushing the output to disk") }
    }

    /// Renames the file over the final path (atomic on one file system).
    func moveIntoPlace() throws(TranscodeError) {
        if rename(path, finalPath) != 0 { throw errnoError("renaming the output into place") }
    }

    /// Removes the temporary file, if any (failure, cancellation).
    func discard() {
        unlink(path)
    }

    private func errnoError(_ doing: String) -> TranscodeError {
        let code = errno
        if code == ENOSPC || code == EDQUOT { return .diskFull(doing) }
        return .ioError(doing, String(cString: strerror(code)))
    }
}
