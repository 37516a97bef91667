import CLibAV
import Glibc

/// Writing and reading back files in a folder output while it is made,
/// through the folder's descriptor (never by a path that could be swapped):
/// a `TemporaryFolder` this process publishes, or a folder a worker created
/// and handed over (`--output-fd N`).
final class FolderWriter {
    /// The folder, open for reading (`O_DIRECTORY`).
    let descriptor: Int32
    private let ownsDescriptor: Bool

    init(descriptor: Int32, owned: Bool) {
        self.descriptor = descriptor
        ownsDescriptor = owned
    }

    /// A descriptor the parent opened: must be a folder.
    convenience init(inheritedDescriptor fd: Int32) throws(TranscodeError) {
        var status = stat()
        guard fstat(fd, &status) == 0, status.st_mode & S_IFMT == S_IFDIR else {
            throw .outputFolder("output descriptor \(fd) is not a folder")
        }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        self.init(descriptor: fd, owned: true)
    }

    deinit {
        if ownsDescriptor { close(descriptor) }
    }

    /// The folder as a path libav can write under.
    var writingPath: String { "/proc/self/fd/\(descriptor)" }

    func makeSubfolder(_ name: String) throws(TranscodeError) {
        let made = PathEncoding.withCString(name) { mkdirat(descriptor, $0, 0o777 & ~TemporaryOutput.processUmask) }
        guard made == 0 else { throw TemporaryOutput.writeError(errno, "creating the folder \(name) of the output") }
    }

    /// Creates `name` (never over anything) holding `bytes`.
    func create(_ name: String, holding bytes: [UInt8]) throws(TranscodeError) {
        let fd = PathEncoding.withCString(name) { path in
            retryingInterrupted {
                openat(descriptor, path, O_WRONLY | O_CREAT | O_EXCL | vq_o_nofollow() | vq_o_cloexec(), 0o666 & ~TemporaryOutput.processUmask)
            }
        }
        guard fd >= 0 else { throw TemporaryOutput.writeError(errno, "creating \(name) in the output") }
        defer { close(fd) }
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw TemporaryOutput.writeError(errno, "writing \(name) in the output")
            }
            written += count
        }
    }

    /// Opens `path` (relative, e.g. `360p/seg0.m4s`) for reading.
    func open(_ path: String) throws(TranscodeError) -> InputFile {
        do {
            return try InputFile(path: writingPath + "/" + path)
        } catch {
            throw .outputCheckFailed("\(path) cannot be opened: \(error)")
        }
    }

    /// The whole of a small file (a playlist).
    func text(of path: String) throws(TranscodeError) -> String {
        let file = try open(path)
        var bytes = [UInt8](repeating: 0, count: Int(file.size))
        let count = bytes.withUnsafeMutableBytes { file.read(into: $0.baseAddress!, count: $0.count, at: 0) }
        guard count == bytes.count else { throw .outputCheckFailed("\(path) cannot be read") }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The names in the subfolder `name`, each with its size (0 for a folder).
    func listing(of name: String) -> [String: Int64] {
        let fd = PathEncoding.withCString(name) { path in
            retryingInterrupted { openat(descriptor, path, O_RDONLY | vq_o_directory() | vq_o_nofollow() | vq_o_cloexec()) }
        }
        guard fd >= 0 else { return [:] }
        defer { close(fd) }
        var sizes: [String: Int64] = [:]
        for (entry, isFolder) in FolderTree.entries(of: fd) {
            var status = stat()
            let known = PathEncoding.withCString(entry) { fstatat(fd, $0, &status, vq_at_symlink_nofollow()) } == 0
            sizes[entry] = isFolder || !known ? 0 : Int64(status.st_size)
        }
        return sizes
    }
}
