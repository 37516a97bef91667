import CLibAV
import Foundation

/// An opened input file: the demuxer context after stream probing, with the
/// picture-size limit enforced before any decoder allocates a frame.
final class InputMedia {
    let path: String
    private(set) var context: UnsafeMutablePointer<AVFormatContext>

    /// Opens `path` and probes its streams. A stream whose header claims more
    /// than `maxPixels` is refused twice: once from what the container header
    /// says, before probing decodes anything, and through the decoders'
    /// own `max_pixels` while probing, so a lying header never gets a huge
    /// frame allocated.
    init(path: String, maxPixels: Int) throws(TranscodeError) {
        self.path = path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw .inputMissing
        }
        if isDirectory.boolValue { throw .inputUnreadable("it is a folder") }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw .inputUnreadable("permission denied")
        }
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size == 0 {
            throw .notMedia("the file is empty")
        }

        var ctx: UnsafeMutablePointer<AVFormatContext>? = nil
        let opened = avformat_open_input(&ctx, path, nil, nil)
        guard opened >= 0, let ctx else {
            throw Self.openError(opened)
        }
        // From here on a throw runs deinit, which closes the input.
        context = ctx
        try Self.checkPictureSizes(ctx, maxPixels: maxPixels)
        try Self.findStreamInfo(ctx, maxPixels: maxPixels)
        try Self.checkPictureSizes(ctx, maxPixels: maxPixels)
    }

    deinit {
        var ctx: UnsafeMutablePointer<AVFormatContext>? = context
        avformat_close_input(&ctx)
    }

    var streams: [UnsafeMutablePointer<AVStream>] {
        (0..<Int(context.pointee.nb_streams)).compactMap { context.pointee.streams[$0] }
    }

    /// The stream libav would pick for `type` (for audio it prefers the
    /// default-flagged track), or nil.
    func bestStream(_ type: AVMediaType, relatedTo related: Int32 = -1) -> UnsafeMutablePointer<AVStream>? {
        let index = av_find_best_stream(context, type, -1, related, nil, 0)
        return index >= 0 ? context.pointee.streams[Int(index)] : nil
    }

    /// The container's claim of the media's length in seconds, and whether it
    /// is exact enough to judge truncation by (an estimate from the bitrate is
    /// not).
    var claimedDuration: (seconds: Double, reliable: Bool)? {
        let duration = context.pointee.duration
        guard duration != vq_nopts_value(), duration > 0 else { return nil }
        let reliable = context.pointee.duration_estimation_method != AVFMT_DURATION_FROM_BITRATE
        return (Double(duration) / Double(vq_time_base()), reliable)
    }

    /// Where the container's clock starts, in AV_TIME_BASE units; outputs
    /// start at zero, as the ffmpeg program's do.
    var startTime: Int64 {
        let start = context.pointee.start_time
        return start == vq_nopts_value() ? 0 : start
    }

    private static func openError(_ code: Int32) -> TranscodeError {
        if code == vq_averror_invaliddata() {
            return .notMedia("no known container format recognised")
        }
        if code == vq_averror(EACCES) { return .inputUnreadable("permission denied") }
        if code == vq_averror(ENOENT) { return .inputMissing }
        return .notMedia(libavMessage(code))
    }

    private static func findStreamInfo(_ ctx: UnsafeMutablePointer<AVFormatContext>, maxPixels: Int) throws(TranscodeError) {
        let count = Int(ctx.pointee.nb_streams)
        var perStream = [OpaquePointer?](repeating: nil, count: max(count, 1))
        for index in 0..<count {
            av_dict_set(&perStream[index], "max_pixels", String(maxPixels), 0)
        }
        let result = perStream.withUnsafeMutableBufferPointer { avformat_find_stream_info(ctx, $0.baseAddress) }
        for index in perStream.indices { av_dict_free(&perStream[index]) }
        if result < 0 {
            throw .notMedia("its streams could not be read: \(libavMessage(result))")
        }
    }

    private static func checkPictureSizes(_ ctx: UnsafeMutablePointer<AVFormatContext>, maxPixels: Int) throws(TranscodeError) {
        for index in 0..<Int(ctx.pointee.nb_streams) {
            guard let par = ctx.pointee.streams[index]?.pointee.codecpar!.pointee,
                  par.codec_type == AVMEDIA_TYPE_VIDEO else { continue }
            let width = Int(par.width), height = Int(par.height)
            if width * height > maxPixels || av_image_check_size(UInt32(max(width, 0)), UInt32(max(height, 0)), 0, nil) < 0 && width > 0 {
                throw .pictureTooLarge(width: width, height: height, limit: maxPixels)
            }
        }
    }
}
