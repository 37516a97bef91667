import CLibAV
import Glibc

/// The file a transcode writes into, open for writing, in one of the two
/// ways a caller can want it:
/// - a `TemporaryOutput` this process created and publishes itself (a lone
///   `vqueue transcode`);
/// - a descriptor handed over by a parent that created, checked and will
///   publish the file (a worker's child, `--output-fd N`).
///
/// libav writes through `/proc/self/fd/N`, which is this very file whatever
/// its name, so no name is looked up again while the work runs.
final class OutputFile {
    enum Kind {
        case temporary(TemporaryOutput)
        case inherited
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

    deinit {
        if ownsDescriptor { close(descriptor) }
    }

    /// The path libav opens (for writing, and to read back for MP4's
    /// faststart): this file, through its descriptor.
    var writingPath: String { "/proc/self/fd/\(descriptor)" }

    /// Undoes what was written after a failure: a temporary file is
    /// removed, and a parent's file emptied (the parent owns its name and
    /// removes it).
    func abandon() {
        switch kind {
        case .temporary(let temporary):
            temporary.truncate()
            temporary.discard()
        case .inherited:
            _ = ftruncate(descriptor, 0)
        }
    }
}
