import Foundation
import NIOCore

/// One upload on its way to disk: a hidden partial file in the upload folder,
/// under a name the server picks (`.upload-<random>.part`, created new,
/// never following a link), grown as the body streams in and refused past
/// the size limit; once whole, flushed and linked under its final name
/// (`<random>[.ext]`, never replacing a file). Whatever goes wrong (the
/// limit, a full disk, a client gone mid-body), `discard` removes it: a
/// request leaves one file on disk, or none.
final class UploadFile {
    let folder: URL
    let limit: Int64
    private(set) var size: Int64 = 0
    private var descriptor: Int32
    private var partial: String?

    init(folder: URL, limit: Int64) throws {
        self.folder = folder
        self.limit = limit
        let path = folder.appendingPathComponent(".upload-\(Self.randomName()).part").path
        descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o640)
        guard descriptor >= 0 else { throw Self.failure(errno, "cannot create a file in the upload folder \(folder.path)") }
        partial = path
    }

    deinit { discard() }

    func write(_ bytes: some Collection<UInt8>) throws {
        size += Int64(bytes.count)
        guard size <= limit else {
            throw APIError(.contentTooLarge, code: "too_large", "the upload is over the server's limit of \(limit) bytes (--max-upload)")
        }
        let written: Int? = bytes.withContiguousStorageIfAvailable { buffer in
            var offset = 0
            while offset < buffer.count {
                let count = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if count < 0 {
                    if errno == EINTR { continue }
                    return -Int(errno)
                }
                offset += count
            }
            return offset
        }
        guard let written else { return try write(Array(bytes)) }
        if written < 0 { throw Self.failure(-Int32(written), "cannot write the upload") }
    }

    func write(_ buffer: ByteBuffer) throws {
        try buffer.withUnsafeReadableBytes { try write($0) }
    }

    /// Flushes the file and gives it its final name; returns its path.
    func keep(extension given: String?) throws -> String {
        guard let partial else { throw APIError(.serviceUnavailable, code: "upload_failed", "the upload was discarded") }
        guard fsync(descriptor) == 0 else { throw Self.failure(errno, "cannot write the upload") }
        let suffix = given.map { ".\($0)" } ?? ""
        while true {
            let final = folder.appendingPathComponent("\(Self.randomName())\(suffix)").path
            // link, not rename: an existing name (however unlikely) is never replaced.
            if link(partial, final) == 0 {
                unlink(partial)
                self.partial = nil
                close(descriptor)
                descriptor = -1
                let directory = open(folder.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                if directory >= 0 {
                    fsync(directory)
                    close(directory)
                }
                return final
            }
            guard errno == EEXIST else { throw Self.failure(errno, "cannot name the upload") }
        }
    }

    /// Removes the partial file (idempotent).
    func discard() {
        if descriptor >= 0 {
            close(descriptor)
            descriptor = -1
        }
        if let partial {
            unlink(partial)
            self.partial = nil
        }
    }

    /// An extension worth keeping from a client's file name: 1 to 10 letters
    /// and digits, lower-cased; nothing else of the name is used.
    static func safeExtension(of filename: String?) -> String? {
        guard let filename, let dot = filename.lastIndex(of: "."), filename.index(after: dot) < filename.endIndex else { return nil }
        let ext = filename[filename.index(after: dot)...].lowercased()
        guard (1...10).contains(ext.count), ext.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else { return nil }
        return ext
    }

    private static func randomName() -> String {
        (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }

    private static func failure(_ code: Int32, _ what: String) -> APIError {
        let reason = String(cString: strerror(code))
        if code == ENOSPC || code == EDQUOT {
            return APIError(.init(code: 507, reasonPhrase: "Insufficient Storage"), code: "disk_full", "\(what): \(reason)")
        }
        return APIError(.serviceUnavailable, code: "upload_failed", "\(what): \(reason)")
    }
}
