import CLibAV
import Glibc

/// A single file's companions (`CompanionFile`: its poster, its storyboard)
/// while they are made and published. They are written under their plain
/// names (`poster.jpg` …) in a hidden folder beside OUT, a `TemporaryFolder`
/// for OUT tagged as OUT's temporary file is, so that whatever removes an
/// attempt's leftovers (`TemporaryOutput.removeStale`, a worker's `discard`)
/// removes it too.
///
/// Publishing puts them in place together with OUT, or none of them: each
/// is flushed, given the mode of a new file, and renamed to its name beside
/// OUT (`RENAME_NOREPLACE`, or with `overwrite` swapped with what is there,
/// `RENAME_EXCHANGE`, so the old file can be put back), and OUT is renamed
/// last, so a page that finds OUT finds its poster. If a companion's name
/// was taken meanwhile, or OUT's, or a rename fails, the companions already
/// moved go back (a swapped-out old one returns to its name) and nothing is
/// published. The temporary folder is removed at the end, with the old
/// files swapped out into it.
public final class TemporaryCompanions {
    /// One companion as made: the file that will be published.
    public struct Made: Sendable, Equatable {
        public let companion: CompanionFile
        public let identity: FileIdentity
        /// Bytes (0 for one taken over after a crash: not known then).
        public let size: Int64
    }

    public let temporary: TemporaryFolder
    public let companions: [CompanionFile]
    /// What was made, once `inventory()` has looked (or as recorded, when
    /// taken over): only these files are ever published.
    public private(set) var made: [Made] = []

    /// The temporary folder's name beside OUT, and its identity.
    public var name: String { temporary.name }
    public var identity: FileIdentity { temporary.identity }
    /// Open on the temporary folder: what a worker's child writes into.
    public var descriptor: Int32 { temporary.descriptor }

    /// Creates the temporary folder for `companions` of `output` in its
    /// (checked) `folder`.
    public init(for output: String, tag: String, companions: [CompanionFile], in folder: OutputFolder) throws(TranscodeError) {
        temporary = try TemporaryFolder(for: output, tag: tag, in: folder)
        self.companions = companions
    }

    /// Takes over the temporary folder of `companions` that a process that
    /// died had recorded, with the identities it had recorded of the files
    /// made in it (by their names there); nil unless `name` beside `output`
    /// is still that folder and every companion was recorded.
    public init?(adopting name: String, identity: FileIdentity, for output: String, companions: [CompanionFile],
                 recorded: [String: FileIdentity]) {
        guard let made = Self.made(companions, recorded: recorded),
              let temporary = TemporaryFolder(adopting: name, identity: identity, for: output) else { return nil }
        self.temporary = temporary
        self.companions = companions
        self.made = made
    }

    /// Writing into it while the output is made.
    var contents: FolderWriter { temporary.contents }

    /// Looks at what was made: every companion asked for must be there, a
    /// regular file (never a link). Remembers them (`made`) and returns them
    /// by their names beside OUT, with their sizes.
    @discardableResult
    public func inventory() throws(TranscodeError) -> [WrittenFile] {
        made = []
        for companion in companions {
            var status = stat()
            let found = PathEncoding.withCString(companion.file) { fstatat(descriptor, $0, &status, vq_at_symlink_nofollow()) } == 0
            // One name only: a hard link to a file elsewhere would publish that file.
            guard found, status.st_mode & S_IFMT == S_IFREG, status.st_nlink == 1 else {
                throw .outputCheckFailed("\(companion.file) was not made, or is not a file of its own")
            }
            made.append(Made(companion: companion, identity: FileIdentity(status), size: Int64(status.st_size)))
        }
        return made.map { WrittenFile(path: $0.companion.name, size: $0.size) }
    }

    /// Publishes the companions, then `main` (OUT's temporary file), as the
    /// type's comment says. Throws `companionAppeared` or `outputAppeared`
    /// when a name was taken meanwhile and `overwrite` was not asked.
    public func publish(with main: any TemporaryResult, overwrite: Bool) throws(TranscodeError) {
        if made.isEmpty { try inventory() }
        for file in made {
            guard let fd = reopen(file) else { continue }  // in place already (taken over after a crash), or gone: below
            defer { close(fd) }
            if fsync(fd) != 0 { throw TemporaryOutput.writeError(errno, "flushing \(file.companion.file) to disk") }
            if fchmod(fd, 0o666 & ~TemporaryOutput.processUmask) != 0 {
                throw TemporaryOutput.writeError(errno, "setting the permissions of \(file.companion.file)")
            }
        }
        var placed: [(file: Made, swapped: Bool)] = []
        do throws(TranscodeError) {
            for file in made { placed.append((file, try place(file, overwrite: overwrite))) }
            try main.publish(overwrite: overwrite)
        } catch {
            withdraw(placed)
            throw error
        }
        temporary.discard()
    }

    /// Removes the temporary folder and what is in it. Safe to call more
    /// than once.
    public func discard() {
        temporary.discard()
    }

    /// Removes the companions recorded as made (`recorded`, as for
    /// `init(adopting:)`) that hold their names beside `output`: a
    /// publication lost after some of them were moved, when their temporary
    /// folder is gone. Nothing else is touched.
    public static func withdraw(_ companions: [CompanionFile], recorded: [String: FileIdentity], for output: String) {
        guard let folder = try? OutputFolder(containing: output) else { return }
        for file in made(companions, recorded: recorded) ?? []
        where folder.holds(file.companion.name, type: S_IFREG, identity: file.identity) {
            _ = PathEncoding.withCString(file.companion.name) { unlinkat(folder.descriptor, $0, 0) }
        }
    }

    private static func made(_ companions: [CompanionFile], recorded: [String: FileIdentity]) -> [Made]? {
        var made: [Made] = []
        for companion in companions {
            guard let identity = recorded[companion.file] else { return nil }
            made.append(Made(companion: companion, identity: identity, size: 0))
        }
        return made
    }

    /// Moves one companion to its name beside OUT; returns whether an old
    /// file was swapped out into the temporary folder.
    private func place(_ file: Made, overwrite: Bool) throws(TranscodeError) -> Bool {
        let source = descriptor, target = temporary.folder.descriptor
        let (from, to) = (file.companion.file, file.companion.name)
        let path = file.companion.path(beside: temporary.outputPath)
        // Taken over after a crash: moved before it; what the temporary
        // folder holds under its name now is what was swapped out, if anything.
        if temporary.folder.holds(to, type: S_IFREG, identity: file.identity) { return entry(from) != nil }
        guard let fd = reopen(file) else {
            throw .ioError("publishing the output", "its temporary file \(DisplayText.escaped(from)) was replaced by another")
        }
        close(fd)
        var code = Renaming.withoutReplacing(from, in: source, to: to, in: target)
        if code == EEXIST, overwrite {
            // Only a file (or a link, itself) is replaced, never a folder.
            if let status = temporary.folder.status(of: to), status.st_mode & S_IFMT == S_IFDIR {
                throw .outputFolder("\(DisplayText.escaped(path)) is a folder, not a file name")
            }
            code = Renaming.exchanging(from, in: source, with: to, in: target)
            if code == 0 { return true }
            // Gone meanwhile: no longer in the way. No exchange on this file system: replaced.
            if code == ENOENT { code = Renaming.withoutReplacing(from, in: source, to: to, in: target) }
            if code == EINVAL || code == ENOSYS { code = Renaming.replacing(from, in: source, to: to, in: target) }
        }
        if code != 0 { throw TemporaryOutput.moveError(code, placing: path, appeared: .companionAppeared(path)) }
        return false
    }

    /// Puts back what `place` moved, latest first: a companion still at its
    /// name goes back into the temporary folder, swapped with the old file
    /// it had swapped out.
    private func withdraw(_ placed: [(file: Made, swapped: Bool)]) {
        let source = descriptor, target = temporary.folder.descriptor
        for (file, swapped) in placed.reversed() where temporary.folder.holds(file.companion.name, type: S_IFREG, identity: file.identity) {
            let (from, to) = (file.companion.file, file.companion.name)
            if swapped {
                _ = Renaming.exchanging(from, in: source, with: to, in: target)
            } else if Renaming.withoutReplacing(to, in: target, to: from, in: source) != 0 {
                _ = PathEncoding.withCString(to) { unlinkat(target, $0, 0) }
            }
        }
    }

    /// The companion's file in the temporary folder, opened (never through
    /// a link, never waiting on a FIFO) if it is still the one made.
    private func reopen(_ file: Made) -> Int32? {
        let fd = PathEncoding.withCString(file.companion.file) { path in
            retryingInterrupted { openat(descriptor, path, O_RDONLY | O_NONBLOCK | vq_o_nofollow() | vq_o_cloexec()) }
        }
        guard fd >= 0 else { return nil }
        guard FileIdentity(descriptor: fd) == file.identity else {
            close(fd)
            return nil
        }
        return fd
    }

    /// What `name` is in the temporary folder, not following a link.
    private func entry(_ name: String) -> stat? {
        var status = stat()
        return PathEncoding.withCString(name) { fstatat(descriptor, $0, &status, vq_at_symlink_nofollow()) } == 0 ? status : nil
    }
}
