import CLibAV
import Glibc

/// The words libav has for an error code (`av_strerror`), e.g. "Invalid data
/// found when processing input".
func libavMessage(_ code: Int32) -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    vq_strerror(code, &buffer, buffer.count)
    return String(cBuffer: buffer)
}

extension String {
    /// The text in a NUL-terminated buffer libav filled in.
    init(cBuffer buffer: [CChar]) {
        self.init(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Runs a libav call that returns a negative error code on failure, and turns
/// the failure into a `TranscodeError` that says what we were doing.
@discardableResult
func check(_ code: Int32, _ doing: @autoclosure () -> String) throws(TranscodeError) -> Int32 {
    if code < 0 { throw libavError(code, doing()) }
    return code
}

/// The `TranscodeError` for a libav error code met while `doing`: the disk
/// filling up, memory running out and I/O errors are the machine's, not the
/// file's (see `isPermanent`).
func libavError(_ code: Int32, _ doing: String) -> TranscodeError {
    if diskFullCodes.contains(code) { return .diskFull(doing) }
    if code == vq_averror_enomem() { return MemoryLimit.outOfMemory(doing) }
    // libx264 reports a failed allocation as a failure of the "external
    // library"; under a memory limit that is what it is.
    if code == vq_averror_external(), let bytes = MemoryLimit.bytes { return .memoryLimit(bytes) }
    if transientCodes.contains(code) { return .ioError(doing, libavMessage(code)) }
    return .libav(doing, libavMessage(code))
}

/// The errno values for a full disk or a used-up quota.
let diskFullErrors: Set<Int32> = [ENOSPC, EDQUOT]
private let diskFullCodes = Set(diskFullErrors.map(vq_averror))

/// Errors that say more about the machine than the file: worth a retry.
let transientErrors: Set<Int32> = [EIO, EAGAIN, EINTR, ETIMEDOUT, EMFILE, ENFILE, ESTALE, ENOLCK, EBUSY, ENETDOWN,
                                   ENETUNREACH, ECONNRESET, EHOSTUNREACH, ENXIO]
private let transientCodes = Set(transientErrors.map(vq_averror))
