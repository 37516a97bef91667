import CLibAV
import Foundation

/// An HLS ladder from one decode: the input is demuxed and decoded once;
/// each rung scales the decoded frames and has its own x264 encoder, with
/// IDR frames at the same timestamps in every rung (`KeyframeSchedule`), so
/// the HLS muxer cuts every rung's segments at the same instants; the audio
/// is encoded once, into a rendition all rungs share. Then every rendition
/// is checked, the master playlist written with bit rates measured from the
/// segments, and the folder is ready to publish.
struct LadderTranscode {
    let media: InputMedia
    let video: UnsafeMutablePointer<AVStream>
    let audio: UnsafeMutablePointer<AVStream>?
    let options: TranscodeOptions
    let folder: FolderWriter

    static let audioFolder = "audio"
    static let masterName = "master.m3u8"
    static let playlistName = "index.m3u8"

    func run(clock: ContinuousClock, started: ContinuousClock.Instant, progress: (TranscodeProgress) -> Void,
             isCancelled: () -> Bool) throws(TranscodeError) -> TranscodeSummary {
        let rungs = chooseRungs()
        let segmentSeconds = options.segmentSeconds ?? TranscodeOptions.defaultSegmentSeconds
        let segmentType = options.hlsSegmentType ?? .fmp4
        let names = rungs.map(\.name) + (audio == nil ? [] : [Self.audioFolder])
        for name in names { try folder.makeSubfolder(name) }
        // One muxer for every rendition, as the ffmpeg program's
        // -var_stream_map makes: the shift that keeps timestamps non-negative
        // (x264's B-frame delay, AAC's priming) is then one for all, and the
        // audio stays in sync with every rung.
        let muxer = try ladderMuxer(names: names, videoCount: rungs.count, segmentSeconds: segmentSeconds, type: segmentType)
        let profiles: [any StreamProfile] = rungs.map {
            VideoProfile(stream: video, options: options, width: $0.width, height: $0.height, maxBitrate: $0.maxBitrate,
                         keyframes: KeyframeSchedule(segmentSeconds: segmentSeconds))
        }
        let videoPipeline = try StreamTranscoder(stream: video, profiles: profiles, options: options,
                                                 globalHeader: muxer.wantsGlobalHeader) {
            (index, packet, timeBase) throws(TranscodeError) in
            try muxer.write(packet, stream: Int32(index), from: timeBase)
        }
        for branch in videoPipeline.branches { _ = try muxer.addStream(for: branch.encoder) }
        // The poster and the storyboard are made from the top rung's pictures.
        let stills = try StillPictures.asked(by: options, posterByDefault: true, claimedDuration: media.claimedDuration?.seconds)
        stills?.watch(videoPipeline.branches[videoPipeline.branches.count - 1])
        let audioPipeline = try audio.map { (stream) throws(TranscodeError) in
            try StreamTranscoder(stream: stream, profile: AudioProfile(stream: stream, options: options), muxer: muxer, options: options)
        }
        try muxer.writeHeader()

        let pipelines = [videoPipeline] + (audioPipeline.map { [$0] } ?? [])
        let pump = MediaPump(media: media, video: video, options: options, clock: clock, started: started)
        let pumped = try pump.run(pipelines, video: videoPipeline, progress: progress, isCancelled: isCancelled)
        try muxer.finish()

        let extras = try stills?.write(into: folder, duration: videoPipeline.decodedEnd,
                                       storyboardPublishedAs: StillPictures.storyboardName) ?? []
        let facts = try checkAndIndex(rungs: rungs, video: videoPipeline, audio: audioPipeline,
                                      segmentSeconds: segmentSeconds, type: segmentType, extras: extras)
        var last = pumped.meter.final(frames: videoPipeline.frameCount, at: pumped.decoded)
        last.output = facts
        progress(last)
        return TranscodeSummary(frames: videoPipeline.frameCount, decodedDuration: pumped.decoded, claimedDuration: pumped.claimed,
                                corruptPackets: pipelines.map(\.corruptCount).reduce(0, +), wallSeconds: pumped.meter.elapsed,
                                output: facts)
    }

    /// The ladder's rungs for this source's upright picture (`--max-height`
    /// drops the rungs above it).
    private func chooseRungs() -> [HLSRung] {
        let par = video.pointee.codecpar!.pointee
        let (width, height) = VideoProfile.outputSize(width: Int(par.width), height: Int(par.height), sampleAspect: par.sample_aspect_ratio,
                                                      rotation: DisplayRotation(stream: video), maxHeight: options.maxHeight)
        // The CLI and submit refuse a bad ladder; options from elsewhere get the standard one.
        let ladder = options.ladder.flatMap { try? HLSLadder(parsing: $0) } ?? .standard
        let rate = av_guess_frame_rate(nil, video, nil)
        let sourceBitrate = par.bit_rate > 0 ? Int(par.bit_rate) : (media.context.pointee.bit_rate > 0 ? Int(media.context.pointee.bit_rate) : nil)
        return ladder.rungs(sourceWidth: width, sourceHeight: height,
                            framesPerSecond: rate.num > 0 && rate.den > 0 ? av_q2d(rate) : nil, sourceBitrate: sourceBitrate)
    }

    /// libav's HLS muxer for every rendition: `<name>/index.m3u8` each (video
    /// streams first, then the audio, `names` in that order), VOD playlists,
    /// segments cut at the first keyframe at or after each multiple of
    /// `segmentSeconds`. The master playlist is written afterwards, from
    /// what the segments hold.
    private func ladderMuxer(names: [String], videoCount: Int, segmentSeconds: Double,
                             type: HLSSegmentType) throws(TranscodeError) -> Muxer {
        let base = folder.writingPath + "/%v/"
        let audioGroup = names.count > videoCount ? ",agroup:\(HLSMasterPlaylist.audioGroup)" : ""
        let map = names.enumerated().map { index, name in
            (index < videoCount ? "v:\(index)" : "a:0") + audioGroup + ",name:\(name)"
        }
        var options = [
            "hls_time": String(segmentSeconds),
            "hls_playlist_type": "vod",
            "hls_flags": "independent_segments",
            "hls_segment_type": type == .fmp4 ? "fmp4" : "mpegts",
            "hls_segment_filename": base + (type == .fmp4 ? "seg%d.m4s" : "seg%d.ts"),
            "var_stream_map": map.joined(separator: " "),
        ]
        // With several renditions libav puts each one's name for %v; with one, it is written out.
        if type == .fmp4 { options["hls_fmp4_init_filename"] = names.count > 1 ? "init_%v.mp4" : "init_\(names[0]).mp4" }
        return try Muxer(path: base + Self.playlistName, format: "hls", describedAs: "HLS", options: options)
    }

    /// What the check read from one rendition.
    private struct Rendition {
        let playlist: HLSMediaPlaylist
        let sizes: [String: Int64]
        let facts: OutputFacts

        /// Bits per second at the peak (RFC 8216's peak segment bit rate),
        /// and over all.
        var bandwidth: (peak: Int, average: Int) {
            let peak = playlist.peakBitrate(sizes: sizes)
            let bytes = playlist.files.reduce(Int64(0)) { $0 + (sizes[$1] ?? 0) }
            let average = playlist.duration > 0 ? Double(bytes) * 8 / playlist.duration : 0
            return (Int(max(peak, average).rounded(.up)), Int(average.rounded(.up)))
        }
    }

    /// Checks every rendition (see `checkRendition`), that all rungs were cut
    /// at the same instants, then writes the master playlist. Returns what
    /// the folder holds.
    private func checkAndIndex(rungs: [HLSRung], video: StreamTranscoder, audio: StreamTranscoder?, segmentSeconds: Double,
                               type: HLSSegmentType, extras: [String]) throws(TranscodeError) -> OutputFacts {
        var renditions: [Rendition] = []
        for (rung, branch) in zip(rungs, video.branches) {
            renditions.append(try checkRendition(rung.name, expecting: OutputExpectation(
                width: Int(branch.outputWidth), height: Int(branch.outputHeight), hasAudio: false,
                duration: video.decodedEnd, frameDuration: branch.outputFrameDuration)))
        }
        let reference = renditions[0].playlist.segments.map(\.duration)
        for (rung, rendition) in zip(rungs, renditions).dropFirst() {
            let durations = rendition.playlist.segments.map(\.duration)
            guard durations.count == reference.count, zip(durations, reference).allSatisfy({ abs($0 - $1) < 0.0015 }) else {
                throw .outputCheckFailed("rung \(rung.name) was cut into segments at other instants than rung \(rungs[0].name)")
            }
        }
        let audioRendition = try audio.map { (pipeline) throws(TranscodeError) in
            try checkRendition(Self.audioFolder, expecting: OutputExpectation(
                width: 0, height: 0, hasAudio: true, duration: pipeline.decodedEnd, frameDuration: 0, hasVideo: false))
        }
        let audioBandwidth = audioRendition?.bandwidth ?? (peak: 0, average: 0)
        let rate = av_guess_frame_rate(nil, self.video, nil)
        var variants: [HLSMasterPlaylist.Variant] = []
        var facts: [RenditionFacts] = []
        for (index, (rung, rendition)) in zip(rungs, renditions).enumerated() {
            let encoder = video.branches[index].encoder.context.pointee
            let codecs = CodecName.h264(extradata: encoder.extradata, size: encoder.extradata_size) + (audio == nil ? "" : "," + CodecName.aac)
            let own = rendition.bandwidth
            let peak = own.peak + audioBandwidth.peak, average = own.average + audioBandwidth.average
            let frameRate = video.branches[index].outputFrameDuration > 0 ? 1 / video.branches[index].outputFrameDuration
                : (rate.num > 0 && rate.den > 0 ? av_q2d(rate) : nil)
            variants.append(.init(name: rung.name, width: rendition.facts.width, height: rendition.facts.height,
                                  framesPerSecond: frameRate, peak: peak, average: average, codecs: codecs))
            facts.append(RenditionFacts(name: rung.name, width: rendition.facts.width, height: rendition.facts.height,
                                        bandwidth: peak, averageBandwidth: average, segments: rendition.playlist.segments.count,
                                        bytes: rendition.sizes.values.reduce(0, +), codecs: codecs))
        }
        if let audioRendition {
            facts.append(RenditionFacts(name: Self.audioFolder, width: nil, height: nil, bandwidth: audioBandwidth.peak,
                                        averageBandwidth: audioBandwidth.average, segments: audioRendition.playlist.segments.count,
                                        bytes: audioRendition.sizes.values.reduce(0, +), codecs: CodecName.aac))
        }
        let master = HLSMasterPlaylist(variants: variants, audio: audio == nil ? nil : Self.audioFolder,
                                       version: type == .fmp4 ? 7 : 3)
        try folder.create(Self.masterName, holding: Array(master.text.utf8))

        let top = folder.listing(of: ".")
        var files = ([Self.masterName] + extras).map { WrittenFile(path: $0, size: top[$0] ?? 0) }
        for name in rungs.map(\.name) + (audio == nil ? [] : [Self.audioFolder]) {
            files += folder.listing(of: name).sorted { $0.key < $1.key }.map { WrittenFile(path: name + "/" + $0.key, size: $0.value) }
        }
        let best = renditions[renditions.count - 1].facts
        return OutputFacts(size: files.reduce(0) { $0 + $1.size }, width: best.width, height: best.height, duration: best.duration,
                           frames: best.frames, videoBytes: renditions.reduce(0) { $0 + $1.facts.videoBytes },
                           audioBytes: audioRendition?.facts.audioBytes, files: files, renditions: facts)
    }

    /// One rendition, checked before anything is published: its playlist
    /// parses, is finished, and lists exactly the files in its folder; its
    /// init segment and segments, read one after another as a player reads
    /// them, demux as `expected` says (codec, size, duration).
    private func checkRendition(_ name: String, expecting expected: OutputExpectation) throws(TranscodeError) -> Rendition {
        let playlist: HLSMediaPlaylist
        do {
            playlist = try HLSMediaPlaylist(text: folder.text(of: name + "/" + Self.playlistName))
        } catch .outputCheckFailed(let what) {
            throw .outputCheckFailed("rendition \(name): \(what)")
        }
        let sizes = folder.listing(of: name)
        let present = Set(sizes.keys).subtracting([Self.playlistName])
        let listed = Set(playlist.files)
        if let missing = listed.subtracting(present).sorted().first {
            throw .outputCheckFailed("rendition \(name): its playlist lists \(missing), which is missing")
        }
        if let stray = present.subtracting(listed).sorted().first {
            throw .outputCheckFailed("rendition \(name): \(stray) is not in its playlist")
        }
        var files: [InputFile] = []
        for file in playlist.files { files.append(try folder.open(name + "/" + file)) }
        let facts: OutputFacts
        do {
            facts = try OutputCheck.verify(file: ConcatenatedFiles(files), expecting: expected)
        } catch .outputCheckFailed(let what) {
            throw .outputCheckFailed("rendition \(name): \(what)")
        }
        return Rendition(playlist: playlist, sizes: sizes.filter { $0.key != Self.playlistName }, facts: facts)
    }
}
