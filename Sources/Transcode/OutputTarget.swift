import Foundation

/// Where a transcode may write: checks made before any work starts, so a
/// refusal changes nothing on disk. `vqueue submit` makes the same checks
/// before it queues a job.
public enum OutputTarget {
    /// Throws if `output` cannot be written for `input`: same file as the
    /// input (by path, symlink or hard link), already there without
    /// `overwrite`, an unsupported extension (unless the container is given),
    /// or a folder that is missing or not writable.
    public static func validate(input: String, output: String, overwrite: Bool,
                                container: OutputContainer? = nil) throws(TranscodeError) {
        if container == nil { _ = try OutputContainer(path: output) }
        let outputURL = URL(fileURLWithPath: output)
        if isSameFile(input, output) { throw .outputIsInput }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: output, isDirectory: &isDirectory) {
            if isDirectory.boolValue { throw .outputFolder("\(output) is a folder, not a file name") }
            if !overwrite { throw .outputExists }
        }
        let folder = outputURL.deletingLastPathComponent().path
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw .outputFolder("\(folder) does not exist")
        }
        guard FileManager.default.isWritableFile(atPath: folder) else {
            throw .outputFolder("\(folder) is not writable")
        }
    }

    /// Same inode on the same device, which catches symlinks and hard links
    /// as well as two spellings of one path.
    static func isSameFile(_ a: String, _ b: String) -> Bool {
        var first = stat(), second = stat()
        guard stat(a, &first) == 0, stat(b, &second) == 0 else { return false }
        return first.st_dev == second.st_dev && first.st_ino == second.st_ino
    }
}
