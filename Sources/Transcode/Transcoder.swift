import CLibAV
import Foundation

/// Where a transcode reads from.
public enum TranscodeSource: Sendable, Equatable {
    /// A path, opened once (`InputFile`).
    case path(String)
    /// A descriptor the parent opened and checked (`--input-fd N`).
    case descriptor(Int32)
    /// A file in an open folder (a split transcode's part in its work
    /// folder), opened anew, never through a link, each time it is asked for.
    case inFolder(Int32, name: String)

    /// Opens the input (a descriptor: once).
    func open() throws(TranscodeError) -> InputFile {
        switch self {
        case .path(let path): return try InputFile(path: path)
        case .descriptor(let fd): return try InputFile(inheritedDescriptor: fd)
        case .inFolder(let folder, let name): return try InputFile(named: name, in: folder)
        }
    }

    /// The input in words, for messages.
    var name: String {
        switch self {
        case .path(let path): return DisplayText.escaped(path)
        case .descriptor(let fd): return "descriptor \(fd)"
        case .inFolder(_, let name): return DisplayText.escaped(name)
        }
    }
}

/// Where a transcode writes to.
public enum TranscodeDestination: Sendable, Equatable {
    /// A temporary file beside OUT, checked and then published over OUT by
    /// this process (`TemporaryOutput`), tagged `tag`.
    case publish(output: String, overwrite: Bool, tag: String)
    /// A file the parent created and will publish (`--output-fd N`) and,
    /// when the options ask for a single file's companions (a poster, a
    /// storyboard), the folder it created for them (`--companions-fd N`);
    /// `output` is OUT as named, which the companions are named after.
    case descriptor(Int32, companions: Int32?, output: String)
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
        let input = try source.open()
        if case .publish(let output, let overwrite, _) = destination {
            try OutputTarget.validate(input: input.identity, output: output, overwrite: overwrite, container: container,
                                      options: options)
        }
        let media = try InputMedia(file: input, maxPixels: options.maxPixels)
        guard let videoStream = media.bestStream(AVMEDIA_TYPE_VIDEO),
              videoStream.pointee.disposition & AV_DISPOSITION_ATTACHED_PIC == 0 else {
            throw .noVideoStream
        }
        let audioStream = options.includeAudio ? media.bestStream(AVMEDIA_TYPE_AUDIO, relatedTo: videoStream.pointee.index) : nil

        if container.isFolder {
            return try ladder(media: media, video: videoStream, audio: audioStream, clock: clock, started: started,
                              progress: progress, isCancelled: isCancelled)
        }
        let output = try openOutput()
        if output.identity == input.identity { throw .outputIsInput }
        var companions: Companions?
        do throws(TranscodeError) {
            companions = try openCompanions(beside: output)
            let summary = try transcode(media: media, video: videoStream, audio: audioStream, into: output,
                                        companions: companions, container: container, clock: clock, started: started,
                                        progress: progress, isCancelled: isCancelled)
            if isCancelled() { throw TranscodeError.cancelled }
            if case .temporary(let temporary) = output.kind, case .publish(_, let overwrite, _) = destination {
                if let own = companions?.temporary {
                    try own.publish(with: temporary, overwrite: overwrite)
                } else {
                    try temporary.publish(overwrite: overwrite)
                }
            }
            return summary
        } catch {
            output.abandon()
            companions?.temporary?.discard()
            throw error
        }
    }

    /// Where a single file's companions are written while it is made.
    private struct Companions {
        let files: [CompanionFile]
        let writer: FolderWriter
        /// The temporary folder this process publishes (a lone transcode);
        /// nil for a worker's child, whose worker publishes the folder it
        /// handed over.
        let temporary: TemporaryCompanions?
    }

    /// The folder for the companions the options ask for, nil when none:
    /// a temporary folder beside OUT (in the folder OUT's temporary file
    /// was created in), or the one a worker handed over.
    private func openCompanions(beside output: OutputFile) throws(TranscodeError) -> Companions? {
        switch destination {
        case .publish(let path, _, let tag):
            let files = CompanionFile.all(for: path, options: options)
            guard !files.isEmpty, case .temporary(let file) = output.kind else { return nil }
            let temporary = try TemporaryCompanions(for: path, tag: tag, companions: files, in: file.folder)
            return Companions(files: files, writer: temporary.contents, temporary: temporary)
        case .descriptor(_, let fd, let path):
            let files = CompanionFile.all(for: path, options: options)
            if files.isEmpty { return nil }
            guard let fd else {
                throw .outputFolder("for the poster and the storyboard was not given (--companions-fd)")
            }
            return Companions(files: files, writer: try FolderWriter(inheritedDescriptor: fd), temporary: nil)
        }
    }

    /// An HLS ladder, written in a temporary folder published over OUT, or
    /// in the folder a worker handed over.
    private func ladder(media: InputMedia, video: UnsafeMutablePointer<AVStream>, audio: UnsafeMutablePointer<AVStream>?,
                        clock: ContinuousClock, started: ContinuousClock.Instant,
                        progress: (TranscodeProgress) -> Void, isCancelled: () -> Bool) throws(TranscodeError) -> TranscodeSummary {
        switch destination {
        case .publish(let output, let overwrite, let tag):
            let temporary = try TemporaryFolder(for: output, tag: tag)
            do throws(TranscodeError) {
                let summary = try LadderTranscode(media: media, video: video, audio: audio, options: options, folder: temporary.contents)
                    .run(clock: clock, started: started, progress: progress, isCancelled: isCancelled)
                if isCancelled() { throw TranscodeError.cancelled }
                try temporary.publish(overwrite: overwrite)
                return summary
            } catch {
                temporary.discard()
                throw error
            }
        case .descriptor(let fd, _, _):
            return try LadderTranscode(media: media, video: video, audio: audio, options: options,
                                       folder: FolderWriter(inheritedDescriptor: fd))
                .run(clock: clock, started: started, progress: progress, isCancelled: isCancelled)
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
        case .descriptor(let fd, _, _): return try OutputFile(inheritedDescriptor: fd)
        }
    }

    private func transcode(media: InputMedia, video: UnsafeMutablePointer<AVStream>, audio: UnsafeMutablePointer<AVStream>?,
                           into output: OutputFile, companions: Companions?, container: OutputContainer,
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
        // The companions are made from the pictures as encoded, at the output's size.
        let stills = companions == nil ? nil
            : try StillPictures.asked(by: options, posterByDefault: false, claimedDuration: media.claimedDuration?.seconds)
        stills?.watch(videoPipeline.primary)
        try muxer.writeHeader()

        let pump = MediaPump(media: media, video: video, options: options, clock: clock, started: started)
        let pumped = try pump.run(pipelines, video: videoPipeline, progress: progress, isCancelled: isCancelled)
        try muxer.finish()
        var facts = try OutputCheck.verify(descriptor: output.descriptor, expecting: OutputExpectation(
            width: Int(videoPipeline.primary.outputWidth), height: Int(videoPipeline.primary.outputHeight),
            hasAudio: audioPipeline != nil, duration: pumped.decoded, frameDuration: videoPipeline.primary.outputFrameDuration))
        if let stills, let companions {
            // The storyboard covers the output's whole timeline, to where a player's clock gets.
            let storyboard = companions.files.first { $0.file == StillPictures.storyboardName }?.name ?? StillPictures.storyboardName
            _ = try stills.write(into: companions.writer, duration: facts.end ?? facts.duration, storyboardPublishedAs: storyboard)
            let sizes = companions.writer.listing(of: ".")
            facts.companions = companions.files.map { WrittenFile(path: $0.name, size: sizes[$0.file] ?? 0) }
        }
        var last = pumped.meter.final(frames: videoPipeline.frameCount, at: pumped.decoded)
        last.output = facts
        progress(last)
        return TranscodeSummary(frames: videoPipeline.frameCount, decodedDuration: pumped.decoded,
                                claimedDuration: pumped.claimed,
                                corruptPackets: pipelines.map(\.corruptCount).reduce(0, +),
                                wallSeconds: pumped.meter.elapsed, output: facts)
    }
}
