import CLibAV

/// `vqueue probe`, and `vqueue submit`'s look before queueing: what libav
/// sees in a file, without decoding it all. The file is opened and read the
/// way a transcode reads it (`InputFile`, `InputMedia`), so what probes well
/// is what a transcode accepts, and libav is silent unless asked.
public enum MediaProbe {
    public static func probe(path: String, maxPixels: Int = TranscodeOptions.defaultMaxPixels) throws(TranscodeError) -> MediaInfo {
        try probe(file: InputFile(path: path), maxPixels: maxPixels)
    }

    /// Probes an input already opened (and perhaps checked against allowed
    /// folders by its real path).
    public static func probe(file: InputFile, maxPixels: Int = TranscodeOptions.defaultMaxPixels) throws(TranscodeError) -> MediaInfo {
        info(try InputMedia(file: file, maxPixels: maxPixels), path: file.path)
    }

    private static func info(_ input: InputMedia, path: String) -> MediaInfo {
        let ctx = input.context.pointee
        let bitRate = ctx.bit_rate > 0 ? Int(ctx.bit_rate) : nil
        return MediaInfo(
            path: path,
            container: ctx.iformat.map { String(cString: $0.pointee.name) } ?? "unknown",
            duration: input.claimedDuration?.seconds,
            bitRate: bitRate,
            streams: input.streams.map(streamInfo)
        )
    }

    /// What `vqueue submit` can know before queueing: the file opens as a
    /// single media file, its pictures are within `maxPixels`, and it has a
    /// video stream. Throws the error the transcode would end with
    /// (`notMedia`, `notSingleFile`, `pictureTooLarge`, `noVideoStream`…).
    public static func checkTranscodable(file: InputFile,
                                         maxPixels: Int = TranscodeOptions.defaultMaxPixels) throws(TranscodeError) -> MediaInfo {
        let input = try InputMedia(file: file, maxPixels: maxPixels)
        guard let video = input.bestStream(AVMEDIA_TYPE_VIDEO),
              video.pointee.disposition & AV_DISPOSITION_ATTACHED_PIC == 0 else {
            throw .noVideoStream
        }
        return info(input, path: file.path)
    }

    static func streamInfo(_ stream: UnsafeMutablePointer<AVStream>) -> StreamInfo {
        let par = stream.pointee.codecpar!.pointee
        let type = av_get_media_type_string(par.codec_type).map { String(cString: $0) } ?? "unknown"
        let timeBase = stream.pointee.time_base
        var info = StreamInfo(
            index: Int(stream.pointee.index),
            type: type,
            codec: String(cString: avcodec_get_name(par.codec_id)),
            isDefault: stream.pointee.disposition & AV_DISPOSITION_DEFAULT != 0,
            duration: stream.pointee.duration > 0 && stream.pointee.duration != vq_nopts_value()
                ? Double(stream.pointee.duration) * av_q2d(timeBase) : nil,
            bitRate: par.bit_rate > 0 ? Int(par.bit_rate) : nil
        )
        switch par.codec_type {
        case AVMEDIA_TYPE_VIDEO:
            info.width = Int(par.width)
            info.height = Int(par.height)
            info.pixelFormat = av_get_pix_fmt_name(AVPixelFormat(par.format)).map { String(cString: $0) }
            let rate = av_guess_frame_rate(nil, stream, nil)
            info.frameRate = rate.num > 0 && rate.den > 0 ? (av_q2d(rate) * 1000).rounded() / 1000 : nil
            info.rotation = DisplayRotation(stream: stream).degrees
            info.fieldOrder = fieldOrderName(par.field_order)
        case AVMEDIA_TYPE_AUDIO:
            info.sampleRate = Int(par.sample_rate)
            info.channels = Int(par.ch_layout.nb_channels)
            var layout = par.ch_layout
            var buffer = [CChar](repeating: 0, count: 64)
            if av_channel_layout_describe(&layout, &buffer, buffer.count) > 0 {
                info.channelLayout = String(cBuffer: buffer)
            }
        default:
            break
        }
        return info
    }

    static func fieldOrderName(_ order: AVFieldOrder) -> String {
        switch order {
        case AV_FIELD_PROGRESSIVE: return "progressive"
        case AV_FIELD_TT: return "tt"
        case AV_FIELD_BB: return "bb"
        case AV_FIELD_TB: return "tb"
        case AV_FIELD_BT: return "bt"
        default: return "unknown"
        }
    }
}
