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
        let rate = av_guess_frame_rate(nil, video, nil)
        let encoded = zip(rungs, videoPipeline.branches).map { rung, branch in
            let encoder = branch.encoder.context.pointee
            return RungEncoding(name: rung.name, width: Int(branch.outputWidth), height: Int(branch.outputHeight),
                                frameDuration: branch.outputFrameDuration,
                                codecs: CodecName.h264(extradata: encoder.extradata, size: encoder.extradata_size))
        }
        let facts = try HLSLadderCheck(folder: folder, type: segmentType).checkAndIndex(
            rungs: encoded, videoDuration: videoPipeline.decodedEnd, audioDuration: audioPipeline?.decodedEnd,
            sourceFrameRate: rate.num > 0 && rate.den > 0 ? av_q2d(rate) : nil, extras: extras)
        var last = pumped.meter.final(frames: videoPipeline.frameCount, at: pumped.decoded)
        last.output = facts
        progress(last)
        return TranscodeSummary(frames: videoPipeline.frameCount, decodedDuration: pumped.decoded, claimedDuration: pumped.claimed,
                                corruptPackets: pipelines.map(\.corruptCount).reduce(0, +), wallSeconds: pumped.meter.elapsed,
                                output: facts)
    }

    /// The ladder's rungs for this source's upright picture (`--max-height`
    /// drops the rungs above it).
    private func chooseRungs() -> [HLSRung] { Self.rungs(media: media, video: video, options: options) }

    /// The rungs for `video` of `media` (a split transcode's chunks choose
    /// them alike: the same source, the same rungs).
    static func rungs(media: InputMedia, video: UnsafeMutablePointer<AVStream>, options: TranscodeOptions) -> [HLSRung] {
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
        try Self.muxer(in: folder, names: names, videoCount: videoCount, segmentSeconds: segmentSeconds, type: type)
    }

    /// The HLS muxer `ladderMuxer` describes, writing into `folder`.
    static func muxer(in folder: FolderWriter, names: [String], videoCount: Int, segmentSeconds: Double,
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
        return try Muxer(path: base + playlistName, format: "hls", describedAs: "HLS", options: options)
    }
}
