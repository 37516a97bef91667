import Glibc

/// What an attempt writes before it is published: a temporary file
/// (`TemporaryOutput`) or, for a folder output, a temporary folder
/// (`TemporaryFolder`). Both are created under an unpredictable hidden name
/// beside OUT, known by their identity, and renamed over OUT at the end.
public protocol TemporaryResult: AnyObject {
    /// Its name in OUT's folder.
    var name: String { get }
    var identity: FileIdentity { get }
    /// Open on the file or folder: what a worker's child writes through.
    var descriptor: Int32 { get }
    func publish(overwrite: Bool) throws(TranscodeError)
    func discard()
    var isPublished: Bool { get }
}

extension TemporaryOutput: TemporaryResult {}
extension TemporaryFolder: TemporaryResult {}

public enum TemporaryResults {
    /// A temporary file, or folder for a folder container, for `output` in
    /// its (checked) `folder`.
    public static func create(for output: String, container: OutputContainer, tag: String,
                              in folder: OutputFolder) throws(TranscodeError) -> any TemporaryResult {
        container.isFolder ? try TemporaryFolder(for: output, tag: tag, in: folder)
            : try TemporaryOutput(for: output, tag: tag, in: folder)
    }

    /// Takes over what a process that died had created and recorded: nil
    /// unless `name` beside `output` is still that file or folder.
    public static func adopt(_ name: String, identity: FileIdentity, for output: String) -> (any TemporaryResult)? {
        if let file = TemporaryOutput(adopting: name, identity: identity, for: output) { return file }
        return TemporaryFolder(adopting: name, identity: identity, for: output)
    }

    /// Whether `output` is now the file or folder whose identity was recorded.
    public static func isPublished(output: String, identity: FileIdentity) -> Bool {
        guard let status = FileIdentity.status(path: output, followingSymlink: false),
              [S_IFREG, S_IFDIR].contains(status.st_mode & S_IFMT) else { return false }
        return FileIdentity(status) == identity
    }
}

extension OutputFolder {
    /// What publishing a temporary output (`name` here, open on
    /// `descriptor`, a `type` with `identity`) does, file or folder alike:
    /// make its contents durable (`flushed`: 0 or the error), give it
    /// `mode` under the umask, make the folder durable, check that the
    /// temporary name is still it, `move` it into place, and make the
    /// rename durable (OUT is in place whatever that last flush says).
    func publish(_ name: String, descriptor: Int32, flushed: Int32, mode: mode_t, type: mode_t, identity: FileIdentity,
                 move: () throws(TranscodeError) -> Void) throws(TranscodeError) {
        if flushed != 0 { throw TemporaryOutput.writeError(flushed, "flushing the output to disk") }
        if fchmod(descriptor, mode & ~TemporaryOutput.processUmask) != 0 {
            throw TemporaryOutput.writeError(errno, "setting the output's permissions")
        }
        let synced = sync()
        if synced != 0 { throw TemporaryOutput.writeError(synced, "flushing the output folder to disk") }
        guard holds(name, type: type, identity: identity) else {
            let what = type == S_IFDIR ? "folder" : "file"
            throw .ioError("publishing the output", "its temporary \(what) \(DisplayText.escaped(name)) was replaced by another")
        }
        try move()
        _ = sync()
    }
}
