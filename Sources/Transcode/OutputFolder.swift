import CLibAV
import Glibc

/// The folder an output is written in, held open (`O_PATH|O_DIRECTORY`) so
/// that everything done in it afterwards (creating the temporary file,
/// renaming it over OUT, removing it) happens in the folder that was
/// checked, by name relative to it, whatever is renamed or symlinked along
/// the path meanwhile.
public final class OutputFolder {
    /// The folder as given.
    public let path: String
    /// The open descriptor, owned by this object.
    public let descriptor: Int32
    /// Where the folder really is (symlinks and `..` resolved), from the
    /// descriptor: the path to check against allowed folders.
    public let realPath: String
    /// The longest name its file system takes, in bytes.
    public let maximumNameBytes: Int

    /// The folder's device and inode, as opened.
    public var identity: FileIdentity? { FileIdentity(descriptor: descriptor) }

    /// Opens `path`, which must be a folder. Throws `outputFolder` saying why
    /// not.
    public init(path: String) throws(TranscodeError) {
        let fd = PathEncoding.withCString(path.isEmpty ? "." : path) { name in
            retryingInterrupted { open(name, vq_o_path() | vq_o_directory() | vq_o_cloexec()) }
        }
        guard fd >= 0 else {
            let code = errno
            switch code {
            case ENOENT: throw .outputFolder("\(DisplayText.escaped(path)) does not exist")
            case ENOTDIR: throw .outputFolder("\(DisplayText.escaped(path)) is not a folder")
            case EACCES, EPERM: throw .outputFolder("\(DisplayText.escaped(path)) cannot be reached (permission denied)")
            default: throw .outputFolder("\(DisplayText.escaped(path)) cannot be opened (\(systemMessage(code)))")
            }
        }
        guard let real = InputFile.realPath(of: fd) else {
            close(fd)
            throw .outputFolder("\(DisplayText.escaped(path)): its location cannot be read")
        }
        self.path = path
        descriptor = fd
        realPath = real
        let limit = fpathconf(fd, Int32(_PC_NAME_MAX))
        maximumNameBytes = limit > 0 ? limit : 255
    }

    /// Opens the folder of `output` (its parent, or the current folder).
    public convenience init(containing output: String) throws(TranscodeError) {
        try self.init(path: Self.folder(of: output))
    }

    deinit {
        close(descriptor)
    }

    /// The folder part of `path` ("." when it has none, "/" for a name at
    /// the root).
    public static func folder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let folder = String(path[..<slash])
        return folder.isEmpty ? "/" : folder
    }

    /// The last part of `path`.
    public static func name(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    /// Whether the user could write here (the process's real ids, as
    /// `access(2)` checks them).
    var isWritable: Bool {
        faccessat(descriptor, ".", W_OK | X_OK, 0) == 0
    }

    /// What `name` is in this folder, not following a symlink: nil if
    /// nothing is there.
    func status(of name: String) -> stat? {
        var status = stat()
        let result = PathEncoding.withCString(name) { fstatat(descriptor, $0, &status, vq_at_symlink_nofollow()) }
        return result == 0 ? status : nil
    }

    /// Opens `name` here with `flags` (never through a link), if it is still
    /// the file or folder `identity`: how a temporary output a process that
    /// died had recorded is taken over.
    func reopen(_ name: String, flags: Int32, identity: FileIdentity) -> Int32? {
        let fd = PathEncoding.withCString(name) { existing in
            retryingInterrupted { openat(descriptor, existing, flags | vq_o_nofollow() | vq_o_cloexec()) }
        }
        guard fd >= 0 else { return nil }
        guard FileIdentity(descriptor: fd) == identity else {
            close(fd)
            return nil
        }
        return fd
    }

    /// Whether `name` here is, without following a link, a `type`
    /// (S_IFREG, S_IFDIR) with `identity`.
    func holds(_ name: String, type: mode_t, identity: FileIdentity) -> Bool {
        guard let status = status(of: name), status.st_mode & S_IFMT == type else { return false }
        return FileIdentity(status) == identity
    }

    /// The names in the folder (not "." and ".."), as `PathEncoding` strings.
    func names() -> [String] {
        let fd = retryingInterrupted { openat(descriptor, ".", O_RDONLY | vq_o_directory() | vq_o_cloexec()) }
        guard fd >= 0, let listing = fdopendir(fd) else {
            if fd >= 0 { close(fd) }
            return []
        }
        defer { closedir(listing) }
        var names: [String] = []
        while let entry = readdir(listing) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                PathEncoding.string(fromBytes: raw.prefix { $0 != 0 })
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Syncs the folder's entries to disk (an O_PATH descriptor cannot be
    /// synced, so the folder is opened for reading for it).
    func sync() -> Int32 {
        let fd = retryingInterrupted { openat(descriptor, ".", O_RDONLY | vq_o_directory() | vq_o_cloexec()) }
        guard fd >= 0 else { return errno }
        defer { close(fd) }
        return fsync(fd) == 0 ? 0 : errno
    }
}
