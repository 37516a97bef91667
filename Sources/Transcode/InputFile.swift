import CLibAV
import Glibc

/// An input opened once, as a regular file, and read only through its
/// descriptor from then on: what is checked (its real path, against the
/// allowed folders) is what is transcoded, whatever is renamed or swapped
/// under the name meanwhile.
///
/// It is opened non-blocking (a FIFO planted at the name would otherwise
/// block the open until someone writes to it), checked to be a regular
/// file, and made blocking again for reading.
public final class InputFile {
    /// The open descriptor, owned by this object (closed with it).
    public let descriptor: Int32
    /// The path the file was asked for by, as given.
    public let path: String
    /// Where the file really is, symlinks and `..` resolved, from the
    /// descriptor (`/proc/self/fd/N`): the name to check against allowed
    /// folders, after opening.
    public let realPath: String
    /// Its size in bytes when opened.
    public let size: Int64
    public let identity: FileIdentity
    private let ownsDescriptor: Bool

    /// Opens `path` for reading. Throws `inputMissing`, or `inputUnreadable`
    /// saying why (permission, a folder, a FIFO or device).
    public init(path: String) throws(TranscodeError) {
        let flags = O_RDONLY | O_NOCTTY | O_NONBLOCK | vq_o_cloexec()
        let fd = PathEncoding.withCString(path) { name in retryingInterrupted { open(name, flags) } }
        guard fd >= 0 else { throw Self.openError(errno) }
        do {
            (realPath, size, identity) = try Self.checkRegularFile(fd)
        } catch {
            close(fd)
            throw error
        }
        descriptor = fd
        self.path = path
        ownsDescriptor = true
    }

    /// Opens `name` in the open folder `folder` (a split transcode's work
    /// folder), never through a symbolic link.
    public convenience init(named name: String, in folder: Int32) throws(TranscodeError) {
        let flags = O_RDONLY | O_NOCTTY | O_NONBLOCK | vq_o_nofollow() | vq_o_cloexec()
        let fd = PathEncoding.withCString(name) { path in retryingInterrupted { openat(folder, path, flags) } }
        guard fd >= 0 else { throw Self.openError(errno) }
        try self.init(inheritedDescriptor: fd)
    }

    /// Takes an already open, already checked descriptor (a worker's child
    /// is handed its input this way: `--input-fd N`). It is checked again
    /// here, and closed with this object.
    public init(inheritedDescriptor fd: Int32) throws(TranscodeError) {
        let mode = fcntl(fd, F_GETFL)
        guard mode >= 0 else {
            throw .inputUnreadable("descriptor \(fd) is not open")
        }
        guard mode & O_ACCMODE != O_WRONLY else {
            throw .inputUnreadable("descriptor \(fd) is not open for reading")
        }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        (realPath, size, identity) = try Self.checkRegularFile(fd)
        descriptor = fd
        path = realPath
        ownsDescriptor = true
    }

    deinit {
        if ownsDescriptor { close(descriptor) }
    }

    /// Reads up to `count` bytes at `offset` without moving any shared file
    /// position (an inherited descriptor shares it with the parent).
    /// Returns the bytes read, 0 at the end, or -1 with errno set.
    func read(into buffer: UnsafeMutableRawPointer, count: Int, at offset: Int64) -> Int {
        while true {
            let result = pread(descriptor, buffer, count, off_t(offset))
            if result >= 0 || errno != EINTR { return result }
        }
    }

    /// The current size (a file still being written may grow).
    var currentSize: Int64 {
        var status = stat()
        return fstat(descriptor, &status) == 0 ? Int64(status.st_size) : size
    }

    /// Checks that `fd` is a regular file, makes it blocking, and returns its
    /// real path, size and identity.
    private static func checkRegularFile(_ fd: Int32) throws(TranscodeError) -> (String, Int64, FileIdentity) {
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw .inputUnreadable(systemMessage(errno)) }
        let type = status.st_mode & S_IFMT
        guard type == S_IFREG else { throw .inputUnreadable("it is \(describe(fileType: type)), not a regular file") }
        let flags = fcntl(fd, F_GETFL)
        if flags >= 0 && flags & O_NONBLOCK != 0 { _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) }
        guard let real = realPath(of: fd) else { throw .inputUnreadable("its location cannot be read") }
        return (real, Int64(status.st_size), FileIdentity(status))
    }

    /// What the kernel says `fd` names now (`readlink /proc/self/fd/N`).
    public static func realPath(of fd: Int32) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/fd/\(fd)", &buffer, buffer.count - 1)
        guard length > 0 else { return nil }
        return buffer.withUnsafeBufferPointer {
            $0.baseAddress!.withMemoryRebound(to: UInt8.self, capacity: length) {
                PathEncoding.string(fromBytes: UnsafeBufferPointer(start: $0, count: length))
            }
        }
    }

    static func describe(fileType type: mode_t) -> String {
        switch type {
        case S_IFDIR: return "a folder"
        case S_IFIFO: return "a FIFO"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFSOCK: return "a socket"
        case S_IFLNK: return "a symbolic link"
        default: return "not a file"
        }
    }

    private static func openError(_ code: Int32) -> TranscodeError {
        switch code {
        case ENOENT: return .inputMissing
        case ENOTDIR: return .inputMissing
        case EACCES, EPERM: return .inputUnreadable("permission denied")
        case ENXIO, ENODEV: return .inputUnreadable("it is a device or socket, not a regular file")
        case ELOOP: return .inputUnreadable("too many levels of symbolic links")
        default:
            if transientErrors.contains(code) || code == EMFILE || code == ENFILE || code == ENOMEM {
                return .ioError("opening the input", systemMessage(code))
            }
            return .inputUnreadable(systemMessage(code))
        }
    }
}
