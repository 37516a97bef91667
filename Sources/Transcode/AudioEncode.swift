import CLibAV

/// The audio of a split transcode, encoded once and whole (so the AAC
/// encoder's priming and frames run on across what are, for the video,
/// chunk boundaries: no gap, no click), as the unsplit transcode would
/// encode it (`AudioProfile`, the input's start as zero). The stitch step
/// joins it with the chunks (`Stitch`). Written as MP4 (the encoder's
/// priming kept in an edit list, times exact in the sample rate) to a
/// descriptor the caller created; the encode takes it.
public struct AudioEncode: Sendable {
    public let source: TranscodeSource
    public let options: TranscodeOptions
    public let output: Int32

    public init(source: TranscodeSource, options: TranscodeOptions, output: Int32) {
        self.source = source
        self.options = options
        self.output = output
    }

    /// Whether the transcode of `file` would take an audio stream (what a
    /// split job's audio part encodes).
    public static func hasAudio(_ file: InputFile, options: TranscodeOptions) throws(TranscodeError) -> Bool {
        let media = try InputMedia(file: file, maxPixels: options.maxPixels)
        guard options.includeAudio, let video = media.bestStream(AVMEDIA_TYPE_VIDEO) else { return false }
        return media.bestStream(AVMEDIA_TYPE_AUDIO, relatedTo: video.pointee.index) != nil
    }

    /// Encodes the audio; returns the seconds decoded, or nil when the
    /// input has no audio stream the transcode would take (nothing is written).
    public func run(progress: (TranscodeProgress) -> Void = { _ in },
                    isCancelled: () -> Bool = { false }) throws(TranscodeError) -> Double? {
        LibAVLogging.ensureConfigured()
        let input = try source.open()
        let media = try InputMedia(file: input, maxPixels: options.maxPixels)
        guard let video = media.bestStream(AVMEDIA_TYPE_VIDEO) else { throw .noVideoStream }
        guard options.includeAudio, let audio = media.bestStream(AVMEDIA_TYPE_AUDIO, relatedTo: video.pointee.index) else {
            return nil
        }
        let file = try OutputFile(inheritedDescriptor: output)
        let muxer = try Muxer(path: file.writingPath, format: "mp4", describedAs: "audio part", options: [:])
        let pipeline = try StreamTranscoder(stream: audio, profile: AudioProfile(stream: audio, options: options),
                                            muxer: muxer, options: options)
        try muxer.writeHeader()
        let offset = av_rescale_q(media.startTime, vq_time_base_q(), audio.pointee.time_base)
        let clock = ContinuousClock()
        let meter = ProgressMeter(duration: media.claimedDuration?.seconds, frameRate: AVRational(num: 0, den: 1), frameCount: 0, clock: clock,
                                  started: clock.now)
        let packet = try OwnedPacket()
        while av_read_frame(media.context, packet.pointer) >= 0 {
            defer { av_packet_unref(packet.pointer) }
            if isCancelled() { throw .cancelled }
            if let report = meter.tick(frames: 0, at: pipeline.decodedEnd) { progress(report) }
            guard packet.pointer.pointee.stream_index == audio.pointee.index else { continue }
            if packet.pointer.pointee.pts != vq_nopts_value() { packet.pointer.pointee.pts -= offset }
            if packet.pointer.pointee.dts != vq_nopts_value() { packet.pointer.pointee.dts -= offset }
            try pipeline.feed(packet.pointer)
        }
        try media.checkReadError()
        try pipeline.feed(nil)
        try muxer.finish()
        return pipeline.decodedEnd
    }
}
