import CLibAV
import Glibc

/// The hidden file an output is written to before it takes its real name, so
/// a reader of OUT never sees a partial file, and nobody else's file is ever
/// written: `.<OUT name>.<tag>.<16 random hex>.part` in OUT's folder (the same
/// file system, so the final rename is atomic).
///
/// It is created through the folder's descriptor with `O_CREAT|O_EXCL|
/// O_NOFOLLOW` under a name nobody can predict, so a symlink, FIFO or file
/// planted in advance makes creation fail rather than being followed or
/// written. The descriptor is kept: the transcode writes through it (or
/// through `/proc/self/fd/N`, the same file), and the file is known by its
/// identity (device, inode) from then on.
///
/// Publishing renames it over OUT without replacing anything that appeared
/// there meanwhile (`RENAME_NOREPLACE`), unless overwriting was asked.
public final class TemporaryOutput {
    /// OUT, as given.
    public let outputPath: String
    /// OUT's name in its folder.
    public let outputName: String
    public let folder: OutputFolder
    /// The temporary file's name in `folder`.
    public let name: String
    /// The temporary file, open for writing; owned by this object.
    public let descriptor: Int32
    /// The temporary file's device and inode: OUT is this file once published.
    public let identity: FileIdentity

    /// The temporary file's path, for messages.
    public var path: String { folder.path == "/" ? "/" + name : folder.path + "/" + name }

    /// A path libav can open that is this very file, whatever its name
    /// becomes (`/proc/self/fd/N`; also what the MP4 muxer re-opens to move
    /// its index to the front).
    public var writingPath: String { "/proc/self/fd/\(descriptor)" }

    /// Creates the temporary file for `output` in its folder, tagged `tag`
    /// (a worker passes `job<ID>-<ATTEMPT>`, a lone transcode its pid) so
    /// that a crashed attempt's leftovers can be found (`removeStale`).
    public convenience init(for output: String, tag: String) throws(TranscodeError) {
        try self.init(for: output, tag: tag, in: OutputFolder(containing: output))
    }

    /// Creates the temporary file in an already opened (and perhaps checked)
    /// `folder`, which must be OUT's.
    public init(for output: String, tag: String, in folder: OutputFolder) throws(TranscodeError) {
        outputPath = output
        outputName = OutputFolder.name(of: output)
        self.folder = folder
        try OutputTarget.checkName(outputName, of: output, in: folder)
        let name = Self.temporaryName(for: outputName, tag: tag, suffix: Self.randomSuffix(), limit: folder.maximumNameBytes)
        let flags = O_WRONLY | O_CREAT | O_EXCL | vq_o_nofollow() | vq_o_cloexec()
        let fd = PathEncoding.withCString(name) { created in
            retryingInterrupted { openat(folder.descriptor, created, flags, 0o600) }
        }
        guard fd >= 0 else { throw Self.creationError(errno, output: output) }
        guard let identity = FileIdentity(descriptor: fd) else {
            let code = errno
            close(fd)
            throw .ioError("creating the temporary output", systemMessage(code))
        }
        self.name = name
        descriptor = fd
        self.identity = identity
    }

    /// Takes over a temporary file another process created and recorded
    /// (`name`, `identity`) but did not get to publish (it died): nil
    /// unless `name` in OUT's folder is still that very file.
    public init?(adopting name: String, identity: FileIdentity, for output: String) {
        guard let folder = try? OutputFolder(containing: output),
              let fd = folder.reopen(name, flags: O_WRONLY, identity: identity) else { return nil }
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

    /// Makes the file durable and gives it OUT's name: flush it, give it the
    /// mode any new file gets under the umask, flush the folder, check that
    /// the temporary name is still this file (a regular file), then rename.
    /// Without `overwrite`, an OUT that appeared meanwhile is left untouched
    /// and `outputAppeared` thrown.
    public func publish(overwrite: Bool) throws(TranscodeError) {
        try folder.publish(name, descriptor: descriptor, flushed: fsync(descriptor) == 0 ? 0 : errno, mode: 0o666,
                           type: S_IFREG, identity: identity) { () throws(TranscodeError) in
            try moveIntoPlace(overwrite: overwrite)
        }
    }

    /// Whether OUT is now the file this object created: true once published
    /// (by this process or, before a crash, by another holding this object).
    public var isPublished: Bool { isStillOurs(outputName) }

    /// Whether `output` is the file whose identity was recorded when it was
    /// created: how a worker that restarted after a crash tells that a
    /// publication it had started did happen.
    public static func isPublished(output: String, identity: FileIdentity) -> Bool {
        guard let status = FileIdentity.status(path: output, followingSymlink: false), status.st_mode & S_IFMT == S_IFREG else { return false }
        return FileIdentity(status) == identity
    }

    /// Removes the temporary file if its name is still this file (never
    /// anything put in its place). Safe to call more than once.
    public func discard() {
        guard isStillOurs(name) else { return }
        _ = PathEncoding.withCString(name) { unlinkat(folder.descriptor, $0, 0) }
    }

    /// Empties the file (on failure, so a full disk gets its space back
    /// before the owner of the name removes it).
    public func truncate() {
        _ = ftruncate(descriptor, 0)
    }

    /// Removes the temporary files that attempts tagged `tag` left for
    /// `output` (a crashed attempt's, whose random part is unknown): regular
    /// files, and a folder output's folders, named `.<OUT name>.<tag>.<16
    /// hex>.part` in OUT's folder, nothing else. Returns the names removed.
    @discardableResult
    public static func removeStale(for output: String, tag: String) -> [String] {
        guard let folder = try? OutputFolder(containing: output) else { return [] }
        let outputName = OutputFolder.name(of: output)
        let model = temporaryName(for: outputName, tag: tag, suffix: String(repeating: "0", count: 16),
                                  limit: folder.maximumNameBytes)
        let prefix = PathEncoding.bytes(of: model).dropLast(16 + ".part".utf8.count)
        var removed: [String] = []
        for name in folder.names() {
            let bytes = PathEncoding.bytes(of: name)
            guard bytes.count == prefix.count + 16 + 5, bytes.starts(with: prefix),
                  bytes.suffix(5).elementsEqual(".part".utf8),
                  bytes.dropFirst(prefix.count).prefix(16).allSatisfy(isLowerHexDigit),
                  let status = folder.status(of: name) else { continue }
            switch status.st_mode & S_IFMT {
            case S_IFREG:
                if PathEncoding.withCString(name, { unlinkat(folder.descriptor, $0, 0) }) == 0 { removed.append(name) }
            case S_IFDIR:
                // A folder output's (`TemporaryFolder`), with what is in it.
                FolderTree.remove(name, in: folder.descriptor)
                if folder.status(of: name) == nil { removed.append(name) }
            default:
                continue
            }
        }
        return removed
    }

    /// `.<OUT name>.<tag>.<suffix>.part`, OUT's name cut (on a character
    /// boundary) so the whole fits in `limit` bytes.
    static func temporaryName(for outputName: String, tag: String, suffix: String, limit: Int) -> String {
        let tail = Array(".\(tag).\(suffix).part".utf8)
        let room = max(0, limit - 1 - tail.count)
        let name = PathEncoding.bytes(of: outputName)
        return PathEncoding.string(fromBytes: [UInt8(ascii: ".")] + PathEncoding.prefix(name, maxBytes: room) + tail)
    }

    /// 16 random hex digits (64 bits from the kernel's generator).
    static func randomSuffix() -> String {
        var generator = SystemRandomNumberGenerator()
        let digits = String(generator.next(), radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// Whether `name` in the folder is, without following a symlink, the
    /// regular file this object created.
    private func isStillOurs(_ name: String) -> Bool {
        folder.holds(name, type: S_IFREG, identity: identity)
    }

    /// The rename: replacing (overwrite: `renameat`, which replaces a
    /// symlink at OUT itself, never what it points to) or not (`Renaming`).
    private func moveIntoPlace(overwrite: Bool) throws(TranscodeError) {
        let dir = folder.descriptor
        let code = overwrite ? Renaming.replacing(name, in: dir, to: outputName, in: dir)
            : Renaming.withoutReplacing(name, in: dir, to: outputName, in: dir)
        if code != 0 { throw Self.moveError(code, placing: outputPath) }
    }

    /// What a failed rename of a finished file to `path` means (`EEXIST`:
    /// something took the name meanwhile).
    static func moveError(_ code: Int32, placing path: String, appeared: TranscodeError = .outputAppeared) -> TranscodeError {
        switch code {
        case EEXIST, ENOTEMPTY: return appeared
        case EISDIR: return .outputFolder("\(DisplayText.escaped(path)) is a folder, not a file name")
        case EINVAL, EILSEQ, ENAMETOOLONG:
            return .outputName("its file system refuses the name (\(systemMessage(code)))")
        default: return writeError(code, "renaming the output into place")
        }
    }

    static func creationError(_ code: Int32, output: String) -> TranscodeError {
        switch code {
        case EACCES, EPERM, EROFS:
            return .outputFolder("\(DisplayText.escaped(OutputFolder.folder(of: output))) is not writable")
        case EINVAL, EILSEQ, ENAMETOOLONG:
            return .outputName("its file system refuses the name (\(systemMessage(code)))")
        case EEXIST:
            return .ioError("creating the temporary output", "a file already has its name")
        default:
            return writeError(code, "creating the temporary output")
        }
    }

    /// A failed write's error: the disk or quota full, or an I/O error (both
    /// worth another attempt).
    static func writeError(_ code: Int32, _ doing: String) -> TranscodeError {
        if diskFullErrors.contains(code) { return .diskFull(doing) }
        return .ioError(doing, systemMessage(code))
    }

    /// The process's umask, read without changing it (`/proc/self/status`,
    /// since setting and restoring it races with other threads creating
    /// files); 022 if it cannot be read.
    static var processUmask: mode_t {
        guard let file = fopen("/proc/self/status", "r") else { return 0o022 }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>? = nil
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0 {
            let text = String(cString: line!)
            if text.hasPrefix("Umask:") {
                let digits = text.dropFirst(6).filter { $0.isHexDigit }
                return mode_t(digits, radix: 8) ?? 0o022
            }
        }
        return 0o022
    }

    private static func isLowerHexDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
    }
}
