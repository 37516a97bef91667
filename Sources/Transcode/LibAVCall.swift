import CLibAV

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
    if code < 0 {
        if code == vq_averror_enospc() { throw .diskFull(doing()) }
        if transientCodes.contains(code) { throw .ioError(doing(), libavMessage(code)) }
        throw .libav(doing(), libavMessage(code))
    }
    return code
}

/// Errors that say more about the machine than the file: worth a retry.
private let transientCodes: Set<Int32> = [EIO, ENOMEM, EAGAIN, EINTR, ETIMEDOUT, EMFILE, ENFILE].reduce(into: []) {
    $0.insert(vq_averror($1))
}
