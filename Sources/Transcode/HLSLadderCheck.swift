import Foundation

/// What a ladder's rung was encoded as: for its check and its line in the
/// master playlist.
struct RungEncoding {
    /// Its folder: `360p`.
    let name: String
    let width: Int
    let height: Int
    /// Seconds per picture at a constant rate, 0 for a variable one.
    let frameDuration: Double
    /// RFC 6381, the video's: `avc1.64001f`.
    let codecs: String
}

/// An HLS ladder's folder checked before it is published, and indexed:
/// every rendition's playlist and segments read back as a player reads
/// them, the rungs cut at the same instants, and the master playlist
/// written with bit rates measured from the segments. A transcode's ladder
/// (`LadderTranscode`) and a split transcode's stitch (`Stitch`) alike.
struct HLSLadderCheck {
    let folder: FolderWriter
    let type: HLSSegmentType

    private var audioFolder: String { LadderTranscode.audioFolder }

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
    /// at the same instants, then writes the master playlist (`extras`, the
    /// still pictures written beside it, are listed with what the folder
    /// holds). Returns what the folder holds.
    func checkAndIndex(rungs: [RungEncoding], videoDuration: Double, audioDuration: Double?, sourceFrameRate: Double?,
                       extras: [String]) throws(TranscodeError) -> OutputFacts {
        var renditions: [Rendition] = []
        for rung in rungs {
            renditions.append(try checkRendition(rung.name, expecting: OutputExpectation(
                width: rung.width, height: rung.height, hasAudio: false,
                duration: videoDuration, frameDuration: rung.frameDuration)))
        }
        let reference = renditions[0].playlist.segments.map(\.duration)
        for (rung, rendition) in zip(rungs, renditions).dropFirst() {
            let durations = rendition.playlist.segments.map(\.duration)
            guard durations.count == reference.count, zip(durations, reference).allSatisfy({ abs($0 - $1) < 0.0015 }) else {
                throw .outputCheckFailed("rung \(rung.name) was cut into segments at other instants than rung \(rungs[0].name)")
            }
        }
        let audioRendition = try audioDuration.map { (duration) throws(TranscodeError) in
            try checkRendition(audioFolder, expecting: OutputExpectation(
                width: 0, height: 0, hasAudio: true, duration: duration, frameDuration: 0, hasVideo: false))
        }
        let audioBandwidth = audioRendition?.bandwidth ?? (peak: 0, average: 0)
        var variants: [HLSMasterPlaylist.Variant] = []
        var facts: [RenditionFacts] = []
        for (rung, rendition) in zip(rungs, renditions) {
            let codecs = rung.codecs + (audioDuration == nil ? "" : "," + CodecName.aac)
            let own = rendition.bandwidth
            let peak = own.peak + audioBandwidth.peak, average = own.average + audioBandwidth.average
            let frameRate = rung.frameDuration > 0 ? 1 / rung.frameDuration : sourceFrameRate
            variants.append(.init(name: rung.name, width: rendition.facts.width, height: rendition.facts.height,
                                  framesPerSecond: frameRate, peak: peak, average: average, codecs: codecs))
            facts.append(RenditionFacts(name: rung.name, width: rendition.facts.width, height: rendition.facts.height,
                                        bandwidth: peak, averageBandwidth: average, segments: rendition.playlist.segments.count,
                                        bytes: rendition.sizes.values.reduce(0, +), codecs: codecs))
        }
        if let audioRendition {
            facts.append(RenditionFacts(name: audioFolder, width: nil, height: nil, bandwidth: audioBandwidth.peak,
                                        averageBandwidth: audioBandwidth.average, segments: audioRendition.playlist.segments.count,
                                        bytes: audioRendition.sizes.values.reduce(0, +), codecs: CodecName.aac))
        }
        let master = HLSMasterPlaylist(variants: variants, audio: audioDuration == nil ? nil : audioFolder,
                                       version: type == .fmp4 ? 7 : 3)
        try folder.create(LadderTranscode.masterName, holding: Array(master.text.utf8))

        let top = folder.listing(of: ".")
        var files = ([LadderTranscode.masterName] + extras).map { WrittenFile(path: $0, size: top[$0] ?? 0) }
        for name in rungs.map(\.name) + (audioDuration == nil ? [] : [audioFolder]) {
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
            playlist = try HLSMediaPlaylist(text: folder.text(of: name + "/" + LadderTranscode.playlistName))
        } catch .outputCheckFailed(let what) {
            throw .outputCheckFailed("rendition \(name): \(what)")
        }
        let sizes = folder.listing(of: name)
        let present = Set(sizes.keys).subtracting([LadderTranscode.playlistName])
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
        return Rendition(playlist: playlist, sizes: sizes.filter { $0.key != LadderTranscode.playlistName }, facts: facts)
    }
}
