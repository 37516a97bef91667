import CLibAV
import Glibc

/// Where a transcode may write: checks made before any work starts, so a
/// refusal changes nothing on disk. `vqueue submit` makes the same checks
/// before it queues a job. (The checks that matter against a race, that OUT
/// is not replaced and no planted file is written, are made again when the
/// output is created and published: see `TemporaryOutput`.)
public enum OutputTarget {
    /// Throws if `output` cannot be written for `input`: same file as the
    /// input (by path, symlink or hard link), already there without
    /// `overwrite`, an unsupported extension (unless the container is given),
    /// a folder that is missing or not writable, or a name its file system
    /// cannot take.
    public static func validate(input: String, output: String, overwrite: Bool,
                                container: OutputContainer? = nil, options: TranscodeOptions? = nil) throws(TranscodeError) {
        try validate(input: FileIdentity(path: input, followingSymlink: true), output: output, overwrite: overwrite,
                     container: container, options: options)
    }

    /// The same checks for an input known by its identity (an opened
    /// `InputFile`). With `options`, a single file's companions that they
    /// ask for (`CompanionFile`: its poster, its storyboard) are checked as
    /// OUT is.
    public static func validate(input: FileIdentity?, output: String, overwrite: Bool,
                                container: OutputContainer? = nil, options: TranscodeOptions? = nil) throws(TranscodeError) {
        let chosen: OutputContainer
        if let container { chosen = container } else { chosen = try OutputContainer(path: output) }
        var companions: [CompanionFile] = []
        if chosen.isFolder {
            if let input, FileIdentity(path: output, followingSymlink: true) == input { throw .outputIsInput }
            // A folder output replaces only a real folder (never a file, or
            // anything through a link), and only with overwrite.
            if let status = FileIdentity.status(path: output, followingSymlink: false) {
                guard status.st_mode & S_IFMT == S_IFDIR else {
                    throw .outputFolder("\(DisplayText.escaped(output)) is there and is not a folder; it is left as it is")
                }
                if !overwrite { throw .outputExists }
            }
        } else {
            try checkFileName(output, input: input, overwrite: overwrite, exists: .outputExists)
            companions = options.map { CompanionFile.all(for: output, options: $0) } ?? []
            for companion in companions {
                let path = companion.path(beside: output)
                try checkFileName(path, input: input, overwrite: overwrite, exists: .companionExists(path))
            }
        }
        let folder = try OutputFolder(containing: output)
        guard folder.isWritable else {
            throw .outputFolder("\(DisplayText.escaped(folder.path)) is not writable")
        }
        try checkName(OutputFolder.name(of: output), of: output, in: folder)
        for companion in companions {
            try checkName(companion.name, of: companion.path(beside: output), in: folder)
        }
        try probeName(of: output, in: folder)
    }

    /// Throws if the file `path` (OUT, or a companion of it) is the input,
    /// a folder, or there (a dangling link counts) without `overwrite`.
    private static func checkFileName(_ path: String, input: FileIdentity?, overwrite: Bool,
                                      exists: TranscodeError) throws(TranscodeError) {
        if let input, FileIdentity(path: path, followingSymlink: true) == input { throw .outputIsInput }
        if let status = FileIdentity.status(path: path, followingSymlink: true) {
            if status.st_mode & S_IFMT == S_IFDIR {
                throw .outputFolder("\(DisplayText.escaped(path)) is a folder, not a file name")
            }
            if !overwrite { throw exists }
        } else if FileIdentity.status(path: path, followingSymlink: false) != nil, !overwrite {
            // A dangling symlink: something is there all the same.
            throw exists
        }
    }

    /// Throws `outputName` if `name` cannot name a file in `folder`: empty,
    /// "." or "..", longer than the folder's file system allows, or making
    /// a path longer than PATH_MAX.
    static func checkName(_ name: String, of output: String, in folder: OutputFolder) throws(TranscodeError) {
        let length = PathEncoding.bytes(of: name).count
        if length == 0 || name == "." || name == ".." {
            throw .outputName("it names a folder, not a file")
        }
        if length > folder.maximumNameBytes {
            throw .outputName("its name is \(length) bytes long, more than the \(folder.maximumNameBytes) its file system allows")
        }
        let pathLength = PathEncoding.bytes(of: folder.realPath).count + 1 + length
        if pathLength >= Int(PATH_MAX) {
            throw .outputName("its path is \(pathLength) bytes long, more than the \(PATH_MAX - 1) Linux allows")
        }
    }

    /// Creates and removes a file named as the output's temporary file will
    /// be, so a name the file system refuses (characters it cannot store, a
    /// name too long for it) is refused now rather than after the work.
    static func probeName(of output: String, in folder: OutputFolder) throws(TranscodeError) {
        let probe = TemporaryOutput.temporaryName(for: OutputFolder.name(of: output), tag: "check",
                                                  suffix: TemporaryOutput.randomSuffix(), limit: folder.maximumNameBytes)
        let flags = O_WRONLY | O_CREAT | O_EXCL | vq_o_nofollow() | vq_o_cloexec()
        let fd = PathEncoding.withCString(probe) { name in retryingInterrupted { openat(folder.descriptor, name, flags, 0o600) } }
        guard fd >= 0 else {
            let code = errno
            switch code {
            case EINVAL, EILSEQ, ENAMETOOLONG:
                throw .outputName("its file system refuses the name (\(systemMessage(code)))")
            case EACCES, EPERM, EROFS:
                throw .outputFolder("\(DisplayText.escaped(folder.path)) is not writable")
            default:
                throw TemporaryOutput.writeError(code, "checking the output name")
            }
        }
        close(fd)
        _ = PathEncoding.withCString(probe) { unlinkat(folder.descriptor, $0, 0) }
    }

    /// Same inode on the same device, which catches symlinks and hard links
    /// as well as two spellings of one path.
    static func isSameFile(_ a: String, _ b: String) -> Bool {
        guard let first = FileIdentity(path: a, followingSymlink: true) else { return false }
        return FileIdentity(path: b, followingSymlink: true) == first
    }
}
