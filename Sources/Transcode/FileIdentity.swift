import Glibc

/// Which file a name or descriptor refers to: device and inode. Two names
/// for one file (a symlink, a hard link, `..` spellings) have one identity,
/// and a file renamed keeps its identity, which is how a publisher knows
/// that OUT is the file it wrote.
public struct FileIdentity: Hashable, Sendable, Codable, CustomStringConvertible {
    public let device: UInt64
    public let inode: UInt64

    public init(device: UInt64, inode: UInt64) {
        self.device = device
        self.inode = inode
    }

    init(_ status: stat) {
        self.init(device: UInt64(status.st_dev), inode: UInt64(status.st_ino))
    }

    /// The file open on `descriptor`.
    public init?(descriptor: Int32) {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { return nil }
        self.init(status)
    }

    /// The file `path` names, following a symlink at its end when
    /// `followingSymlink` (the file a reader would open) or not (what the
    /// name itself is: a symlink has an identity of its own).
    public init?(path: String, followingSymlink: Bool) {
        guard let status = Self.status(path: path, followingSymlink: followingSymlink) else { return nil }
        self.init(status)
    }

    /// `stat` or `lstat` of `path`, nil if it cannot be had.
    public static func status(path: String, followingSymlink: Bool) -> stat? {
        var status = stat()
        let result = PathEncoding.withCString(path) {
            followingSymlink ? stat($0, &status) : lstat($0, &status)
        }
        return result == 0 ? status : nil
    }

    public var description: String { "\(device):\(inode)" }
}
