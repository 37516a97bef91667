import CLibAV
import Glibc

/// The folder beside OUT where a split transcode's chunks and audio wait
/// to be joined (`SplitStep`), on the storage every box shares. The first
/// step to run creates it (`mkdirat`, mode 0700: never through anything
/// planted, nobody else can put anything in it); later steps, on any box,
/// accept it only if it is a folder, reached without following a link,
/// owned by this user and closed to others. Everything in it is done by
/// name relative to its descriptor.
///
/// A step writes its part under a temporary name tagged with its attempt
/// and renames it to the part's name when it has succeeded, so that the
/// stitch never reads a half-written part and a part redone after its
/// worker died replaces nothing but what that attempt left.
public final class SplitWorkFolder {
    /// Its name in OUT's folder.
    public let name: String
    /// Open for reading (`O_DIRECTORY`), owned here.
    public let descriptor: Int32

    /// Opens the work folder `name` in `folder`, creating it first when
    /// `creating` and it is not there. Throws `outputFolder` for a work
    /// folder that is missing (not `creating`) or not this user's own.
    public init(named name: String, in folder: OutputFolder, creating: Bool) throws(TranscodeError) {
        if creating {
            let made = PathEncoding.withCString(name) { mkdirat(folder.descriptor, $0, 0o700) }
            if made != 0 && errno != EEXIST { throw TemporaryOutput.creationError(errno, output: folder.path + "/" + name) }
        }
        let fd = PathEncoding.withCString(name) { path in
            retryingInterrupted { openat(folder.descriptor, path, O_RDONLY | vq_o_directory() | vq_o_nofollow() | vq_o_cloexec()) }
        }
        guard fd >= 0 else {
            let code = errno
            switch code {
            case ENOENT: throw .outputFolder("the work folder \(DisplayText.escaped(name)) of the split job is gone (removed by hand?)")
            case ELOOP, ENOTDIR:
                throw .outputFolder("\(DisplayText.escaped(name)) in \(DisplayText.escaped(folder.path)) is not a folder "
                                    + "(a link or a file took the split job's work folder's name); refusing to use it")
            default: throw .ioError("opening the work folder \(DisplayText.escaped(name))", systemMessage(code))
            }
        }
        var status = stat()
        guard fstat(fd, &status) == 0, status.st_uid == geteuid(), status.st_mode & 0o077 == 0 else {
            close(fd)
            throw .outputFolder("\(DisplayText.escaped(name)) in \(DisplayText.escaped(folder.path)) is not a work folder vqueue made "
                                + "(another owner, or open to others); refusing to use it")
        }
        self.name = name
        descriptor = fd
    }

    deinit {
        close(descriptor)
    }

    /// The temporary name of `part` written by the attempt `tag`.
    public static func temporaryName(_ part: String, tag: String) -> String { ".\(part).\(tag)" }

    /// Creates the attempt's temporary file for `part` (anything an earlier
    /// run of the same attempt left is replaced); returns it open for writing.
    public func create(_ part: String, tag: String) throws(TranscodeError) -> Int32 {
        let temporary = Self.temporaryName(part, tag: tag)
        _ = PathEncoding.withCString(temporary) { unlinkat(descriptor, $0, 0) }
        let fd = PathEncoding.withCString(temporary) { path in
            retryingInterrupted { openat(descriptor, path, O_WRONLY | O_CREAT | O_EXCL | vq_o_nofollow() | vq_o_cloexec(), 0o600) }
        }
        guard fd >= 0 else { throw TemporaryOutput.writeError(errno, "creating \(part) in the work folder") }
        return fd
    }

    /// Gives the attempt's file the part's name (replacing an earlier
    /// attempt's part), durably.
    public func publish(_ part: String, tag: String) throws(TranscodeError) {
        let temporary = Self.temporaryName(part, tag: tag)
        let file = PathEncoding.withCString(temporary) { path in
            retryingInterrupted { openat(descriptor, path, O_RDONLY | vq_o_nofollow() | vq_o_cloexec()) }
        }
        guard file >= 0 else { throw TemporaryOutput.writeError(errno, "reopening \(part) in the work folder") }
        let synced = fsync(file)
        close(file)
        guard synced == 0 else { throw TemporaryOutput.writeError(errno, "writing \(part) to disk") }
        let moved = PathEncoding.withCString(temporary) { from in
            PathEncoding.withCString(part) { to in renameat(descriptor, from, descriptor, to) }
        }
        guard moved == 0 else { throw TemporaryOutput.writeError(errno, "naming \(part) in the work folder") }
        _ = fsync(descriptor)
    }

    /// Removes what the attempt `tag` left of `part`, if anything.
    public func discard(_ part: String, tag: String) {
        _ = PathEncoding.withCString(Self.temporaryName(part, tag: tag)) { unlinkat(descriptor, $0, 0) }
    }

    /// Whether `part` is there, as a regular file.
    public func holds(_ part: String) -> Bool {
        var status = stat()
        return PathEncoding.withCString(part) { fstatat(descriptor, $0, &status, vq_at_symlink_nofollow()) } == 0
            && status.st_mode & S_IFMT == S_IFREG
    }

    /// Removes the work folder `name` in `folder` and everything in it, if
    /// it is there (never following a link).
    public static func remove(named name: String, in folder: OutputFolder) {
        FolderTree.remove(name, in: folder.descriptor)
    }
}
