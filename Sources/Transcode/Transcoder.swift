import CLibAV
import Foundation

/// Turns one input file into web video (DESIGN.md §4), in this process:
/// demux, decode, filter, encode, mux into a temporary sibling of the
/// output, then rename. Knows nothing of queues.
public struct Transcoder: Sendable {
    public let input: String
    public let output: String
    public let options: TranscodeOptions
    public let overwrite: Bool
    /// The container; nil takes it from the output's extension.
    public let container: OutputContainer?
    /// Write the output path itself rather than a temporary sibling: for a
    /// caller that owns the final rename (the worker). A failure still
    /// removes what was written.
    public let inPlace: Bool

    public init(input: String, output: String, options: TranscodeOptions, overwrite: Bool = false,
                container: OutputContainer? = nil, inPlace: Bool = false) {
        self.input = input
        self.output = output
        self.options = options
        self.overwrite = overwrite
        self.container = container
        self.inPlace = inPlace
    }

    /// Where the bytes go while the transcode runs.
    public var workingPath: String {
        inPlace ? output : TemporaryOutput(for: output).path
    }

    /// Runs the transcode. `progress` is called about twice a second and
    /// once at the end; `isCancelled` is polled between packets, and a true
    /// answer stops the work and removes the temporary file.
    public func run(progress: (TranscodeProgress) -> Void = { _ in },
                    isCancelled: () -> Bool = { false }) throws(TranscodeError) -> TranscodeSummary {
        let clock = ContinuousClock()
        let started = clock.now
        try OutputTarget.validate(input: input, output: output, overwrite: overwrite || inPlace, container: container)
        let container: OutputContainer
        if let chosen = self.container { container = chosen } else { container = try OutputContainer(path: output) }
        let media = try InputMedia(path: input, maxPixels: options.maxPixels)
        guard let videoStream = media.bestStream(AVMEDIA_TYPE_VIDEO),
              videoStream.pointee.disposition & AV_DISPOSITION_ATTACHED_PIC == 0 else {
            throw .noVideoStream
        }
        let audioStream = options.includeAudio ? media.bestStream(AVMEDIA_TYPE_AUDIO, relatedTo: videoStream.pointee.index) : nil

        let temporary = TemporaryOutput(for: output)
        let path = workingPath
        do {
            let summary = try transcode(media: media, video: videoStream, audio: audioStream, into: path,
                                        container: container, clock: clock, started: started,
                                        progress: progress, isCancelled: isCancelled)
            if !inPlace { try temporary.commit() }
            return summary
        } catch {
            unlink(path)
            throw error
        }
    }

    private func transcode(media: InputMedia, video: UnsafeMutablePointer<AVStream>, audio: UnsafeMutablePointer<AVStream>?,
                           into path: String, container: OutputContainer,
                           clock: ContinuousClock, started: ContinuousClock.Instant,
                           progress: (TranscodeProgress) -> Void, isCancelled: () -> Bool) throws(TranscodeError) -> TranscodeSummary {
        let muxer = try Muxer(path: path, container: container)
        let videoPipeline = try StreamTranscoder(stream: video, profile: VideoProfile(stream: video, options: options),
                                                 muxer: muxer, options: options)
        let audioPipeline = try audio.map { (stream) throws(TranscodeError) in
            try StreamTranscoder(stream: stream, profile: AudioProfile(stream: stream, options: options),
                                 muxer: muxer, options: options)
        }
        let pipelines = [videoPipeline] + (audioPipeline.map { [$0] } ?? [])
        try muxer.writeHeader()

        let claimed = claimedDuration(media: media, video: video)
        let meter = ProgressMeter(duration: claimed?.seconds, frameRate: av_guess_frame_rate(nil, video, nil),
                                  frameCount: video.pointee.nb_frames, clock: clock, started: started)
        let deadline = options.timeLimit.map { started + .milliseconds(Int64($0 * 1000)) }
        let startOffsets = media.streams.map { av_rescale_q(media.startTime, vq_time_base_q(), $0.pointee.time_base) }

        let packet = OwnedPacket()
        while true {
            if isCancelled() { throw .cancelled }
            if let deadline, clock.now > deadline { throw .timeLimit(options.timeLimit!) }
            // A read error past the first packets is how a cut-off upload
            // ends; it is judged below by the truncation check.
            guard av_read_frame(media.context, packet.pointer) >= 0 else { break }
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
        try muxer.finish()
        progress(meter.final(frames: videoPipeline.frameCount, at: decoded))
        return TranscodeSummary(frames: videoPipeline.frameCount, decodedDuration: decoded,
                                claimedDuration: claimed?.seconds,
                                corruptPackets: pipelines.map(\.corruptCount).reduce(0, +),
                                wallSeconds: meter.elapsed)
    }

    /// The length the output should have: the container's claim, or the
    /// video stream's own when the audio is dropped (a soundtrack that
    /// outlasts the pictures is not a truncated video).
    private func claimedDuration(media: InputMedia, video: UnsafeMutablePointer<AVStream>) -> (seconds: Double, reliable: Bool)? {
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
