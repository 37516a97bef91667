import CLibAV

/// The presentation times of a video's pictures and which are keyframes,
/// read from its packets without decoding (a demux of the whole file: a
/// two-hour upload takes seconds, mostly reading). Times are seconds from
/// the input's start, as a transcode's output has them (`MediaPump`), in
/// presentation order. A packet without a presentation time is placed by
/// its decoding time.
public struct FrameIndex: Sendable, Equatable {
    /// Every picture's time, ascending. Two pictures may have the same time
    /// (a source's quirk): both are counted, as a decoder gives both.
    public private(set) var times: [Double]
    /// The keyframes' times, ascending.
    public private(set) var keyframes: [Double]

    public init(times: [Double], keyframes: [Double]) {
        self.times = times.sorted()
        self.keyframes = Array(Set(keyframes)).sorted()
    }

    /// Reads the index of the input's video stream (the one a transcode picks).
    public init(file: InputFile, maxPixels: Int = TranscodeOptions.defaultMaxPixels) throws(TranscodeError) {
        let media = try InputMedia(file: file, maxPixels: maxPixels)
        guard let video = media.bestStream(AVMEDIA_TYPE_VIDEO),
              video.pointee.disposition & AV_DISPOSITION_ATTACHED_PIC == 0 else { throw .noVideoStream }
        let stream = video.pointee.index
        let timeBase = av_q2d(video.pointee.time_base)
        let offset = av_rescale_q(media.startTime, vq_time_base_q(), video.pointee.time_base)
        let packet = try OwnedPacket()
        var times: [Double] = [], keyframes: [Double] = []
        while av_read_frame(media.context, packet.pointer) >= 0 {
            defer { av_packet_unref(packet.pointer) }
            let p = packet.pointer.pointee
            guard p.stream_index == stream else { continue }
            let stamp = p.pts != vq_nopts_value() ? p.pts : p.dts
            guard stamp != vq_nopts_value() else { continue }
            let time = Double(stamp - offset) * timeBase
            times.append(time)
            if p.flags & AV_PKT_FLAG_KEY != 0 { keyframes.append(time) }
        }
        try media.checkReadError()
        self.init(times: times, keyframes: keyframes)
    }

    /// The keyframe nearest `target`, no further than `reach` from it and
    /// later than `after`, that no other picture shares its time with (a cut
    /// there could not tell the two apart).
    func keyframe(nearest target: Double, within reach: Double, after: Double) -> Double? {
        keyframes.filter { $0 > after && abs($0 - target) <= reach && !isShared($0) }.min { abs($0 - target) < abs($1 - target) }
    }

    /// The last keyframe at or before `time`.
    func keyframe(atOrBefore time: Double) -> Double? {
        keyframes.last { $0 <= time }
    }

    /// The first picture at or after `time` whose time no other picture shares.
    func time(atOrAfter time: Double) -> Double? {
        var index = firstIndex(atOrAfter: time)
        while index < times.count, isShared(times[index]) { index += 1 }
        return index < times.count ? times[index] : nil
    }

    /// Whether two pictures or more have this time.
    func isShared(_ time: Double) -> Bool {
        let index = firstIndex(atOrAfter: time)
        return index + 1 < times.count && times[index] == time && times[index + 1] == time
    }

    private func firstIndex(atOrAfter time: Double) -> Int {
        var low = 0, high = times.count
        while low < high {
            let middle = (low + high) / 2
            if times[middle] < time { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
