import CLibAV
import Foundation

/// Where a transcode reads from.
public enum TranscodeSource: Sendable, Equatable {
    /// A path, opened once (`InputFile`).
    case path(String)
    /// A descriptor the parent opened and checked (`--input-fd N`).
    case descriptor(Int32)
}

/// Where a transcode writes to.
public enum TranscodeDestination: Sendable, Equatable {
    /// A temporary file beside OUT, checked and then published over OUT by
    /// this process (`TemporaryOutput`), tagged `tag`.
    case publish(output: String, overwrite: Bool, tag: String)
    /// A file the parent created and will publish (`--output-fd N`).
    case descriptor(Int32)
}

/// Turns one input file into web video (DESIGN.md §4), in this process:
/// demux, decode, filter, encode, mux into a temporary sibling of the
/// output, check it, then publish it. Knows nothing of queues.
public struct Transcoder: Sendable {
    public let source: TranscodeSource
    public let destination: TranscodeDestination
    public let options: TranscodeOptions
    /// The container; nil takes it from the output's extension.
    public let container: OutputContainer?

    public init(source: TranscodeSource, destination: TranscodeDestination, options: TranscodeOptions,
                container: OutputContainer? = nil) {
        self.source = source
        self.destination = destination
        self.options = options
        self.container = container
    }

    /// A transcode from path to path, published beside `output`.
    public init(input: String, output: String, options: TranscodeOptions, overwrite: Bool = false,
                container: OutputContainer? = nil) {
        self.init(source: .path(input), destination: .publish(output: output, overwrite: overwrite, tag: String(getpid())),
                  options: options, container: container)
    }

    /// Runs the transcode. `progress` is called about twice a second and
    /// once at the end; `isCancelled` is polled between packets, and a true
    /// answer stops the work and removes the temporary file.
    public func run(progress: (TranscodeProgress) -> Void = { _ in },
                    isCancelled: () -> Bool = { false }) throws(TranscodeError) -> TranscodeSummary {
        let clock = ContinuousClock()
        let started = clock.now
        LibAVLogging.ensureConfigured()
        let container = try chosenContainer()
        let input: InputFile
        switch source {
        case .path(let path): input = try InputFile(path: path)
        case .descriptor(let fd): input = try InputFile(inheritedDescriptor: fd)
        }
        if case .publish(let output, let overwrite, _) = destination {
            try OutputTarget.validate(input: input.identity, output: output, overwrite: overwrite, container: container)
        }
        let media = try InputMedia(file: input, maxPixels: options.maxPixels)
        guard let videoStream = media.bestStream(AVMEDIA_TYPE_VIDEO),
              videoStream.pointee.disposition & AV_DISPOSITION_ATTACHED_PIC == 0 else {
            throw .noVideoStream
        }
        let audioStream = options.includeAudio ? media.bestStream(AVMEDIA_TYPE_AUDIO, relatedTo: videoStream.pointee.index) : nil

        let output = try openOutput()
        if output.identity == input.identity { throw .outputIsInput }
        do throws(TranscodeError) {
            let summary = try transcode(media: media, video: videoStream, audio: audioStream, into: output,
                                        container: container, clock: clock, started: started,
                                        progress: progress, isCancelled: isCancelled)
            if isCancelled() { throw TranscodeError.cancelled }
            if case .temporary(let temporary) = output.kind, case .publish(_, let overwrite, _) = destination {
                try temporary.publish(overwrite: overwrite)
            }
            return summary
        } catch {
            output.abandon()
            throw error
        }
    }

    private func chosenContainer() throws(TranscodeError) -> OutputContainer {
        if let container { return container }
        switch destination {
        case .publish(let output, _, _): return try OutputContainer(path: output)
        case .descriptor: return .mp4
        }
    }

    private func openOutput() throws(TranscodeError) -> OutputFile {
        switch destination {
        case .publish(let output, _, let tag): return OutputFile(temporary: try TemporaryOutput(for: output, tag: tag))
        case .descriptor(let fd): return try OutputFile(inheritedDescriptor: fd)
        }
    }

    private func transcode(media: InputMedia, video: UnsafeMutablePointer<AVStream>, audio: UnsafeMutablePointer<AVStream>?,
                           into output: OutputFile, container: OutputContainer,
                           clock: ContinuousClock, started: ContinuousClock.Instant,
                           progress: (TranscodeProgress) -> Void, isCancelled: () -> Bool) throws(TranscodeError) -> TranscodeSummary {
        let muxer = try Muxer(path: output.writingPath, container: container)
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
        try muxer.finish()
        let facts = try OutputCheck.verify(descriptor: output.descriptor, expecting: OutputExpectation(
            width: Int(videoPipeline.outputWidth), height: Int(videoPipeline.outputHeight),
            hasAudio: audioPipeline != nil, duration: decoded, frameDuration: videoPipeline.outputFrameDuration))
        var last = meter.final(frames: videoPipeline.frameCount, at: decoded)
        last.output = facts
        progress(last)
        return TranscodeSummary(frames: videoPipeline.frameCount, decodedDuration: decoded,
                                claimedDuration: claimed?.seconds,
                                corruptPackets: pipelines.map(\.corruptCount).reduce(0, +),
                                wallSeconds: meter.elapsed, output: facts)
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
