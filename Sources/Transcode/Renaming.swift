import CLibAV
import Glibc

/// Moving a name into place through folder descriptors (never by a path
/// that could be swapped, never following a link): the three renames that
/// publishing an output needs. Each returns 0 or the `errno` of the failure.
enum Renaming {
    /// Without replacing anything at `to` (`RENAME_NOREPLACE`; where the
    /// file system lacks it, `linkat`, which never replaces either, then
    /// the old name removed).
    static func withoutReplacing(_ from: String, in source: Int32, to: String, in target: Int32) -> Int32 {
        let code = onlyIfFree(from, in: source, to: to, in: target)
        guard code == EINVAL || code == ENOSYS else { return code }
        guard call(from, source, to, target, { linkat($0, $1, $2, $3, 0) }) == 0 else { return errno }
        _ = PathEncoding.withCString(from) { unlinkat(source, $0, 0) }
        return 0
    }

    /// `RENAME_NOREPLACE` alone (a folder, which cannot be linked).
    static func onlyIfFree(_ from: String, in source: Int32, to: String, in target: Int32) -> Int32 {
        call(from, source, to, target, vq_renameat_noreplace) == 0 ? 0 : errno
    }

    /// Replacing what is at `to` (`renameat`: a link there is replaced
    /// itself, never what it points to).
    static func replacing(_ from: String, in source: Int32, to: String, in target: Int32) -> Int32 {
        call(from, source, to, target, renameat) == 0 ? 0 : errno
    }

    /// Swapping the two names in one step (`RENAME_EXCHANGE`): both must exist.
    static func exchanging(_ from: String, in source: Int32, with to: String, in target: Int32) -> Int32 {
        call(from, source, to, target, vq_renameat_exchange) == 0 ? 0 : errno
    }

    private static func call(_ from: String, _ source: Int32, _ to: String, _ target: Int32,
                             _ rename: (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>) -> Int32) -> Int32 {
        PathEncoding.withCString(from) { old in PathEncoding.withCString(to) { new in rename(source, old, target, new) } }
    }
}
