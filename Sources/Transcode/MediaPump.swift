import CLibAV

/// The read loop every transcode shares, whatever it makes: reads the
/// input's packets to the end, hands each to the stream transcoder that
/// decodes its stream, drains them all, and judges truncation. Enforces the
/// time limit and cancellation between packets, and reports progress.
struct MediaPump {
    let media: InputMedia
    let video: UnsafeMutablePointer<AVStream>
    let options: TranscodeOptions
    let clock: ContinuousClock
    let started: ContinuousClock.Instant

    /// What the pump saw, for the check and the summary.
    struct Pumped {
        /// Seconds of media decoded, the longest stream's.
        let decoded: Double
        let claimed: Double?
        let meter: ProgressMeter
    }

    func run(_ pipelines: [StreamTranscoder], video videoPipeline: StreamTranscoder,
             progress: (TranscodeProgress) -> Void, isCancelled: () -> Bool) throws(TranscodeError) -> Pumped {
        let claimed = claimedDuration()
        let meter = ProgressMeter(duration: claimed?.seconds, frameRate: av_guess_frame_rate(nil, video, nil),
                                  frameCount: video.pointee.nb_frames, clock: clock, started: started)
        let deadline = options.timeLimit.map { started + .milliseconds(Int64(min($0, TranscodeOptions.longestTimeLimit) * 1000)) }
        let startOffsets = media.streams.map { av_rescale_q(media.startTime, vq_time_base_q(), $0.pointee.time_base) }

        let packet = try OwnedPacket()
        while true {
            if isCancelled() { throw .cancelled }
            if let deadline, clock.now > deadline { throw .timeLimit(options.timeLimit!) }
            // A read error past the first packets is how a cut-off upload
            // ends; it is judged below by the truncation check. An I/O
            // error is not the upload's fault, and is worth another attempt.
            guard av_read_frame(media.context, packet.pointer) >= 0 else {
                try media.checkReadError()
                break
            }
            defer { av_packet_unref(packet.pointer) }
            let index = packet.pointer.pointee.stream_index
            guard let pipeline = pipelines.first(where: { $0.inputIndex == index }) else { continue }
            shift(packet.pointer, by: startOffsets[Int(index)])
            try pipeline.feed(packet.pointer)
            if pipeline === videoPipeline, let report = meter.tick(frames: videoPipeline.frameCount, at: videoPipeline.decodedEnd) {
                progress(report)
            }
        }
        for pipeline in pipelines { try pipeline.feed(nil) }

        if videoPipeline.frameCount == 0 { throw .nothingDecoded }
        let decoded = pipelines.map(\.decodedEnd).max() ?? 0
        if let claimed, claimed.reliable, !options.allowPartial,
           claimed.seconds - decoded > max(0.5, 0.05 * claimed.seconds) {
            throw .truncated(decoded: decoded, claimed: claimed.seconds)
        }
        return Pumped(decoded: decoded, claimed: claimed?.seconds, meter: meter)
    }

    /// The length the output should have: the container's claim, or the
    /// video stream's own when the audio is dropped (a soundtrack that
    /// outlasts the pictures is not a truncated video).
    private func claimedDuration() -> (seconds: Double, reliable: Bool)? {
        if !options.includeAudio, video.pointee.duration > 0, video.pointee.duration != vq_nopts_value() {
            let seconds = Double(video.pointee.duration) * av_q2d(video.pointee.time_base)
            return (seconds, media.claimedDuration?.reliable ?? true)
        }
        return media.claimedDuration
    }

    /// Moves a packet's timestamps so the output starts at zero.
    private func shift(_ packet: UnsafeMutablePointer<AVPacket>, by offset: Int64) {
        guard offset != 0 else { return }
        if packet.pointee.pts != vq_nopts_value() { packet.pointee.pts -= offset }
        if packet.pointee.dts != vq_nopts_value() { packet.pointee.dts -= offset }
    }
}
