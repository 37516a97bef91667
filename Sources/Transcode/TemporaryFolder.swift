import CLibAV
import Glibc

/// The hidden folder a folder output (an HLS ladder) is written in before it
/// takes its real name, so a player never sees a half-written ladder:
/// `.<OUT name>.<tag>.<16 random hex>.part/` in OUT's folder, created with
/// `mkdirat` (which never follows or reuses anything planted) and mode 0700
/// while it is written, so nobody else can put anything in it.
///
/// Publishing renames it to OUT atomically: without `overwrite`, only if
/// nothing is there (`RENAME_NOREPLACE`); with it, an old OUT folder is
/// swapped out in one step (`RENAME_EXCHANGE`) and then removed.
public final class TemporaryFolder {
    /// OUT, as given.
    public let outputPath: String
    /// OUT's name in its folder.
    public let outputName: String
    public let folder: OutputFolder
    /// The temporary folder's name in `folder`.
    public let name: String
    /// The temporary folder, open for reading (`O_DIRECTORY`); owned here.
    public let descriptor: Int32
    public let identity: FileIdentity

    /// A path libav can write under that is this very folder, whatever its
    /// name becomes.
    public var writingPath: String { "/proc/self/fd/\(descriptor)" }

    public convenience init(for output: String, tag: String) throws(TranscodeError) {
        try self.init(for: output, tag: tag, in: OutputFolder(containing: output))
    }

    public init(for output: String, tag: String, in folder: OutputFolder) throws(TranscodeError) {
        outputPath = output
        outputName = OutputFolder.name(of: output)
        self.folder = folder
        try OutputTarget.checkName(outputName, of: output, in: folder)
        let name = TemporaryOutput.temporaryName(for: outputName, tag: tag, suffix: TemporaryOutput.randomSuffix(),
                                                 limit: folder.maximumNameBytes)
        let made = PathEncoding.withCString(name) { mkdirat(folder.descriptor, $0, 0o700) }
        guard made == 0 else { throw TemporaryOutput.creationError(errno, output: output) }
        let fd = PathEncoding.withCString(name) { created in
            retryingInterrupted { openat(folder.descriptor, created, O_RDONLY | vq_o_directory() | vq_o_nofollow() | vq_o_cloexec()) }
        }
        guard fd >= 0, let identity = FileIdentity(descriptor: fd) else {
            let code = errno
            if fd >= 0 { close(fd) }
            _ = PathEncoding.withCString(name) { unlinkat(folder.descriptor, $0, vq_at_removedir()) }
            throw .ioError("creating the temporary output folder", systemMessage(code))
        }
        self.name = name
        descriptor = fd
        self.identity = identity
    }

    /// Takes over a temporary folder a process that died had recorded; nil
    /// unless `name` in OUT's folder is still that very folder.
    public init?(adopting name: String, identity: FileIdentity, for output: String) {
        guard let folder = try? OutputFolder(containing: output),
              let fd = folder.reopen(name, flags: O_RDONLY | vq_o_directory(), identity: identity) else { return nil }
        outputPath = output
        outputName = OutputFolder.name(of: output)
        self.folder = folder
        self.name = name
        descriptor = fd
        self.identity = identity
    }

    deinit {
        close(descriptor)
    }

    /// Writing into it while the output is made.
    var contents: FolderWriter { FolderWriter(descriptor: descriptor, owned: false) }

    /// Makes everything in it durable, gives it the mode a new folder gets
    /// under the umask, and gives it OUT's name (see the type's comment).
    /// Throws `outputAppeared` when something took OUT's name meanwhile and
    /// overwriting was not asked, or when what is there is not a folder.
    public func publish(overwrite: Bool) throws(TranscodeError) {
        // Only files and folders are published: a link would let whoever
        // serves the folder read what it points at, a FIFO would hang a
        // reader (a compromised transcoder is the only one that writes here).
        if let odd = FolderTree.firstIrregular(descriptor) {
            throw .outputCheckFailed("it holds \(DisplayText.escaped(odd)), which is not a plain file (of one name) or folder")
        }
        try folder.publish(name, descriptor: descriptor, flushed: FolderTree.sync(descriptor), mode: 0o777,
                           type: S_IFDIR, identity: identity) { () throws(TranscodeError) in
            try moveIntoPlace(overwrite: overwrite)
        }
    }

    /// Whether OUT is now the folder this object created.
    public var isPublished: Bool { isStillOurs(outputName) }

    /// Removes the temporary folder and everything in it, if its name is
    /// still this folder. Safe to call more than once.
    public func discard() {
        guard isStillOurs(name) else { return }
        FolderTree.remove(name, in: folder.descriptor)
    }

    private func isStillOurs(_ name: String) -> Bool {
        folder.holds(name, type: S_IFDIR, identity: identity)
    }

    private func moveIntoPlace(overwrite: Bool) throws(TranscodeError) {
        let dir = folder.descriptor
        var code = Renaming.onlyIfFree(name, in: dir, to: outputName, in: dir)
        if code == 0 { return }
        if code == EEXIST, overwrite {
            // Only a folder is swapped out (a file or a link at OUT is left
            // alone), and only a real one, never through a link.
            guard let status = folder.status(of: outputName), status.st_mode & S_IFMT == S_IFDIR else {
                throw .outputFolder("\(DisplayText.escaped(outputPath)) is there and is not a folder; it was left as it is")
            }
            code = Renaming.exchanging(name, in: dir, with: outputName, in: dir)
            if code == 0 {
                // The old ladder now has the temporary name: remove it.
                FolderTree.remove(name, in: dir)
                return
            }
        }
        switch code {
        case EEXIST, ENOTEMPTY: throw .outputAppeared
        case EINVAL, EILSEQ, ENAMETOOLONG:
            throw .outputName("its file system refuses the name (\(systemMessage(code)))")
        default: throw TemporaryOutput.writeError(code, "renaming the output into place")
        }
    }
}

/// Walking a folder tree through descriptors, never following a link.
enum FolderTree {
    /// Flushes every file and folder under the open folder `fd`, and the
    /// folder itself; returns 0 or the first error.
    static func sync(_ fd: Int32) -> Int32 {
        var failure: Int32 = 0
        for (entry, isFolder) in entries(of: fd) {
            // Never blocks, even on a FIFO (`firstIrregular` refuses one before publishing).
            let flags = O_RDONLY | O_NONBLOCK | vq_o_nofollow() | vq_o_cloexec() | (isFolder ? vq_o_directory() : 0)
            let child = PathEncoding.withCString(entry) { path in retryingInterrupted { openat(fd, path, flags) } }
            guard child >= 0 else { continue }
            let result = isFolder ? sync(child) : (fsync(child) == 0 ? 0 : errno)
            close(child)
            if failure == 0 { failure = result }
        }
        if fsync(fd) != 0, failure == 0 { failure = errno }
        return failure
    }

    /// The path (from `fd`) of the first thing under the open folder `fd`
    /// that is neither a folder nor a regular file of one name (a link, a
    /// hard link, a FIFO, a device, a socket), or nil.
    static func firstIrregular(_ fd: Int32) -> String? {
        for (entry, isFolder) in entries(of: fd) {
            var status = stat()
            let known = PathEncoding.withCString(entry) { fstatat(fd, $0, &status, vq_at_symlink_nofollow()) } == 0
            guard known else { return entry }
            if isFolder {
                let child = PathEncoding.withCString(entry) { path in
                    retryingInterrupted { openat(fd, path, O_RDONLY | vq_o_directory() | vq_o_nofollow() | vq_o_cloexec()) }
                }
                guard child >= 0 else { return entry }
                defer { close(child) }
                if let odd = firstIrregular(child) { return entry + "/" + odd }
            } else if status.st_mode & S_IFMT != S_IFREG || status.st_nlink != 1 {
                // A second name for a file elsewhere (a hard link) would publish that file.
                return entry
            }
        }
        return nil
    }

    /// Removes `name` in the folder `parent` and everything under it.
    static func remove(_ name: String, in parent: Int32) {
        let fd = PathEncoding.withCString(name) { path in
            retryingInterrupted { openat(parent, path, O_RDONLY | vq_o_directory() | vq_o_nofollow() | vq_o_cloexec()) }
        }
        if fd >= 0 {
            for (entry, isFolder) in entries(of: fd) {
                if isFolder {
                    remove(entry, in: fd)
                } else {
                    _ = PathEncoding.withCString(entry) { unlinkat(fd, $0, 0) }
                }
            }
            close(fd)
        }
        _ = PathEncoding.withCString(name) { unlinkat(parent, $0, vq_at_removedir()) }
    }

    /// The names in the open folder `fd`, each with whether it is a folder
    /// (not following links).
    static func entries(of fd: Int32) -> [(String, Bool)] {
        let copy = retryingInterrupted { openat(fd, ".", O_RDONLY | vq_o_directory() | vq_o_cloexec()) }
        guard copy >= 0, let listing = fdopendir(copy) else {
            if copy >= 0 { close(copy) }
            return []
        }
        defer { closedir(listing) }
        var found: [(String, Bool)] = []
        while let entry = readdir(listing) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in PathEncoding.string(fromBytes: raw.prefix { $0 != 0 }) }
            guard name != "." && name != ".." else { continue }
            var status = stat()
            let known = PathEncoding.withCString(name) { fstatat(fd, $0, &status, vq_at_symlink_nofollow()) } == 0
            found.append((name, known && status.st_mode & S_IFMT == S_IFDIR))
        }
        return found
    }
}
