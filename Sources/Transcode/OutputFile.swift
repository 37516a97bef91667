import CLibAV
import Glibc

/// The file a transcode writes into, open for writing, in one of the three
/// ways a caller can want it:
/// - a `TemporaryOutput` this process created and publishes itself (a lone
///   `vqueue transcode`);
/// - a descriptor handed over by a parent that created, checked and will
///   publish the file (a worker's child, `--output-fd N`);
/// - a path written directly (`--write-in-place`, the older worker protocol),
///   created without following a symlink and only ever a regular file.
///
/// libav writes through `/proc/self/fd/N`, which is this very file whatever
/// its name, so no name is looked up again while the work runs.
final class OutputFile {
    enum Kind {
        case temporary(TemporaryOutput)
        case inherited
        case inPlace(path: String)
    }

    let kind: Kind
    let descriptor: Int32
    let identity: FileIdentity
    private let ownsDescriptor: Bool

    /// A temporary output for `output`, published by `publish`.
    init(temporary: TemporaryOutput) {
        kind = .temporary(temporary)
        descriptor = temporary.descriptor
        identity = temporary.identity
        ownsDescriptor = false
    }

    /// A descriptor the parent opened: must be a regular file open for
    /// writing.
    init(inheritedDescriptor fd: Int32) throws(TranscodeError) {
        let mode = fcntl(fd, F_GETFL)
        guard mode >= 0 else { throw .outputFolder("output descriptor \(fd) is not open") }
        guard mode & O_ACCMODE != O_RDONLY else {
            throw .outputFolder("output descriptor \(fd) is not open for writing")
        }
        var status = stat()
        guard fstat(fd, &status) == 0, status.st_mode & S_IFMT == S_IFREG else {
            throw .outputFolder("output descriptor \(fd) is not a regular file")
        }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        kind = .inherited
        descriptor = fd
        identity = FileIdentity(status)
        ownsDescriptor = true
    }

    /// `path` itself, created if missing, never through a symlink, and only
    /// if it is (or becomes) a regular file: a FIFO there fails at once
    /// instead of blocking.
    init(inPlace path: String) throws(TranscodeError) {
        let flags = O_WRONLY | O_CREAT | O_NONBLOCK | O_NOCTTY | vq_o_nofollow() | vq_o_cloexec()
        let fd = PathEncoding.withCString(path) { name in retryingInterrupted { open(name, flags, 0o666) } }
        guard fd >= 0 else {
            let code = errno
            switch code {
            case ELOOP: throw .outputFolder("\(DisplayText.escaped(path)) is a symbolic link; it is not followed")
            case ENXIO: throw .outputFolder("\(DisplayText.escaped(path)) is a FIFO or device, not a regular file")
            case ENOENT, ENOTDIR: throw .outputFolder("\(DisplayText.escaped(OutputFolder.folder(of: path))) does not exist")
            case EACCES, EPERM, EROFS:
                throw .outputFolder("\(DisplayText.escaped(OutputFolder.folder(of: path))) is not writable")
            case EISDIR: throw .outputFolder("\(DisplayText.escaped(path)) is a folder, not a file name")
            default: throw TemporaryOutput.writeError(code, "creating the output")
            }
        }
        var status = stat()
        guard fstat(fd, &status) == 0, status.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw .outputFolder("\(DisplayText.escaped(path)) is not a regular file")
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        kind = .inPlace(path: path)
        descriptor = fd
        identity = FileIdentity(status)
        ownsDescriptor = true
    }

    deinit {
        if ownsDescriptor { close(descriptor) }
    }

    /// The path libav opens (for writing, and to read back for MP4's
    /// faststart): this file, through its descriptor.
    var writingPath: String { "/proc/self/fd/\(descriptor)" }

    /// Undoes what was written after a failure: a temporary file is
    /// removed, an in-place file removed if its name is still this file,
    /// and a parent's file emptied (the parent owns its name and removes it).
    func abandon() {
        switch kind {
        case .temporary(let temporary):
            temporary.truncate()
            temporary.discard()
        case .inherited:
            _ = ftruncate(descriptor, 0)
        case .inPlace(let path):
            _ = ftruncate(descriptor, 0)
            if FileIdentity(path: path, followingSymlink: false) == identity {
                _ = PathEncoding.withCString(path) { unlink($0) }
            }
        }
    }
}
