import Foundation
import Testing

// What an HLS ladder folder (`OUT.hls/`) owes a player, judged from the files and ffprobe alone:
// the playlists as a player parses them, each rung web video of the size the short-side rule
// gives, every rung cut at the same instants with a keyframe first in every segment, the audio
// rendition in sync, and a master playlist that tells the truth about each rung.

/// The segment formats `--hls-segment-type` chooses.
enum HLSSegmentFormat: String, Sendable {
    case fmp4, ts

    /// Segment names: `seg0.m4s…` (with `init_<rendition>.mp4`) or `seg0.ts…` (no init section).
    var segmentExtension: String { self == .fmp4 ? "m4s" : "ts" }
}

/// What the command line asked for, so the expected folder can be worked out from the source.
struct HLSLadderRequest: Sendable {
    /// `--ladder`: the short sides asked for (default: all five).
    var rungs = HLSLadderRequest.standardRungs
    var format = HLSSegmentFormat.fmp4
    /// `--segment` (default 4 s).
    var segmentSeconds = 4.0
    /// `--max-height`.
    var maxHeight: Int?
    /// False for `--no-audio`.
    var audio = true
    /// False for `--no-poster`: `poster.jpg` beside the master playlist.
    var poster = true
    /// `--storyboard`: `storyboard.jpg` and `storyboard.vtt` beside it.
    var storyboard = false

    /// The files beside the master playlist (the poster and storyboard suite judges their contents).
    var extras: [String] { (poster ? ["poster.jpg"] : []) + (storyboard ? ["storyboard.jpg", "storyboard.vtt"] : []) }

    static let standardRungs = [240, 360, 480, 720, 1080]
}

/// An HLS media playlist (`index.m3u8`) as a player reads it.
struct HLSMediaPlaylist: Sendable {
    struct Segment: Sendable {
        /// `#EXTINF`, seconds.
        let duration: Double
        let uri: String
    }

    let targetDuration: Int?
    /// `#EXT-X-MAP`'s URI: fMP4's initialisation section.
    let initSection: String?
    let segments: [Segment]
    /// `#EXT-X-ENDLIST`: the whole video is there (VOD).
    let isComplete: Bool

    /// Every file the playlist names, init section first.
    var files: [String] { (initSection.map { [$0] } ?? []) + segments.map(\.uri) }
    var duration: Double { segments.reduce(0) { $0 + $1.duration } }

    init(reading file: URL, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let lines = try String(contentsOf: file, encoding: .utf8).split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        #expect(lines.first == "#EXTM3U", "\(file.path) does not start with #EXTM3U", sourceLocation: sourceLocation)
        var target: Int?, initSection: String?, segments: [Segment] = [], pending: Double?, complete = false
        for line in lines {
            if line.hasPrefix("#EXT-X-TARGETDURATION:") {
                target = Int(line.dropFirst("#EXT-X-TARGETDURATION:".count))
            } else if line.hasPrefix("#EXT-X-MAP:") {
                initSection = hlsAttributes(line.dropFirst("#EXT-X-MAP:".count))["URI"]
            } else if line.hasPrefix("#EXTINF:") {
                pending = Double(line.dropFirst("#EXTINF:".count).prefix { $0 != "," })
                #expect(pending != nil, "\(file.path): unreadable \(line)", sourceLocation: sourceLocation)
            } else if line == "#EXT-X-ENDLIST" {
                complete = true
            } else if !line.hasPrefix("#") {
                #expect(pending != nil, "\(file.path): \(line) has no #EXTINF", sourceLocation: sourceLocation)
                segments.append(Segment(duration: pending ?? 0, uri: line))
                pending = nil
            }
        }
        targetDuration = target
        self.initSection = initSection
        self.segments = segments
        isComplete = complete
    }
}

/// A master playlist (`master.m3u8`): the variants (one per rung) and the renditions they share.
struct HLSMasterPlaylist: Sendable {
    struct Variant: Sendable {
        /// `#EXT-X-STREAM-INF`'s attributes, quotes removed.
        let attributes: [String: String]
        let uri: String
    }

    let variants: [Variant]
    /// Every `#EXT-X-MEDIA`'s attributes.
    let media: [[String: String]]

    init(reading file: URL, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let lines = try String(contentsOf: file, encoding: .utf8).split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        #expect(lines.first == "#EXTM3U", "\(file.path) does not start with #EXTM3U", sourceLocation: sourceLocation)
        var variants: [Variant] = [], media: [[String: String]] = [], pending: [String: String]?
        for line in lines {
            if line.hasPrefix("#EXT-X-STREAM-INF:") {
                pending = hlsAttributes(line.dropFirst("#EXT-X-STREAM-INF:".count))
            } else if line.hasPrefix("#EXT-X-MEDIA:") {
                media.append(hlsAttributes(line.dropFirst("#EXT-X-MEDIA:".count)))
            } else if !line.hasPrefix("#") {
                #expect(pending != nil, "\(file.path): \(line) has no #EXT-X-STREAM-INF", sourceLocation: sourceLocation)
                variants.append(Variant(attributes: pending ?? [:], uri: line))
                pending = nil
            }
        }
        self.variants = variants
        self.media = media
    }
}

/// `KEY=VALUE,KEY="a,b",…` as a dictionary, quotes removed (RFC 8216, 4.2).
func hlsAttributes(_ text: Substring) -> [String: String] {
    var attributes: [String: String] = [:]
    var rest = text[...]
    while !rest.isEmpty {
        guard let equals = rest.firstIndex(of: "=") else { break }
        let key = String(rest[..<equals])
        rest = rest[rest.index(after: equals)...]
        let value: Substring
        if rest.first == "\"" {
            let body = rest.dropFirst()
            let close = body.firstIndex(of: "\"") ?? body.endIndex
            value = body[..<close]
            rest = close < body.endIndex ? body[body.index(after: close)...] : body[body.endIndex...]
        } else {
            let comma = rest.firstIndex(of: ",") ?? rest.endIndex
            value = rest[..<comma]
            rest = rest[comma...]
        }
        if rest.first == "," { rest = rest.dropFirst() }
        attributes[key] = String(value)
    }
    return attributes
}

/// A rung the short-side rule gives a source.
struct ExpectedRung: Sendable {
    /// Its folder: `360p`.
    let name: String
    /// The short side of its picture.
    let shortSide: Int
    /// The source's upright long side over its short side.
    let aspect: Double
    let portrait: Bool
}

/// The rungs the short-side rule gives a source: the rungs asked for whose short side fits the
/// short side of the source's upright picture (rotation and pixel aspect applied, `--max-height`
/// applied, made even as a single-file transcode makes it), never one larger; when none fits, one
/// rung at the source's own size, named for its short side (`180p`).
func expectedRungs(for source: MediaInfo.Stream, request: HLSLadderRequest) throws -> [ExpectedRung] {
    var width = Double(try #require(source.width)), height = Double(try #require(source.height))
    if let sar = source.sampleAspectRatio.flatMap(parseRatio), sar > 0 { width *= sar }
    if let rotation = source.rotation, Int(abs(rotation).rounded()) % 180 == 90 { swap(&width, &height) }
    if let maxHeight = request.maxHeight, height > Double(maxHeight) {
        width *= Double(maxHeight) / height
        height = Double(maxHeight)
    }
    func even(_ value: Double) -> Int { max(2, Int((value / 2).rounded()) * 2) }
    let shortSide = min(even(width), even(height))
    let aspect = max(width, height) / min(width, height)
    let portrait = height > width
    let fitting = request.rungs.filter { $0 <= shortSide }.sorted()
    if fitting.isEmpty {
        return [ExpectedRung(name: "\(shortSide)p", shortSide: shortSide, aspect: aspect, portrait: portrait)]
    }
    return fitting.map { ExpectedRung(name: "\($0)p", shortSide: $0, aspect: aspect, portrait: portrait) }
}

/// One rung of a published ladder as the checks found it.
struct HLSRungReading: Sendable {
    let name: String
    let playlist: HLSMediaPlaylist
    /// ffprobe's view of `NAME/index.m3u8`.
    let info: MediaInfo
    let variant: HLSMasterPlaylist.Variant?
    /// Bytes of the init section and segments.
    let bytes: Int64

    var width: Int { info.videoStreams.first?.width ?? 0 }
    var height: Int { info.videoStreams.first?.height ?? 0 }
}

/// A published ladder as the checks found it, for checks particular to one test.
struct HLSLadderReading: Sendable {
    let master: HLSMasterPlaylist
    /// Smallest first.
    let rungs: [HLSRungReading]
    let audio: HLSMediaPlaylist?
    /// Bytes of the audio rendition's init section and segments.
    let audioBytes: Int64
}

/// Checks the HLS folder `folder` made from `input` as `request` asked, the way a player and the
/// person serving it would (see the comment at the top of this file). Every rung must meet the web
/// profile (`expectWebProfile`, duration within a frame or 50 ms).
@discardableResult
func expectHLSLadder(_ folder: URL, from input: URL, request: HLSLadderRequest = HLSLadderRequest(),
                     sourceLocation: SourceLocation = #_sourceLocation) async throws -> HLSLadderReading {
    let source = try await probeMedia(input)
    let sourceVideo = try #require(source.videoStreams.first, "source has no video", sourceLocation: sourceLocation)
    let sourceAudio = source.audioStreams.first { $0.isDefault } ?? source.audioStreams.first
    let expectAudio = request.audio && sourceAudio != nil
    let expected = try expectedRungs(for: sourceVideo, request: request)
    let frame = 1 / (sourceVideo.framesPerSecond ?? 25)
    let tolerance = max(frame, 0.050) + 0.002
    let name = folder.lastPathComponent

    let expectedListing = ["master.m3u8"] + expected.map(\.name) + (expectAudio ? ["audio"] : []) + request.extras
    #expect(directoryListing(folder) == expectedListing.sorted(),
            "\(name) holds \(directoryListing(folder)); expected \(expectedListing.sorted()) (rungs by the short-side rule)",
            sourceLocation: sourceLocation)
    expectServable(folder, sourceLocation: sourceLocation)
    let master = try HLSMasterPlaylist(reading: folder.appendingPathComponent("master.m3u8"), sourceLocation: sourceLocation)
    #expect(master.variants.map(\.uri).sorted() == expected.map { "\($0.name)/index.m3u8" }.sorted(),
            "master.m3u8 lists \(master.variants.map(\.uri)), expected one variant per rung \(expected.map(\.name))",
            sourceLocation: sourceLocation)

    // The audio rendition first: every variant's bandwidth includes it.
    var audio: HLSMediaPlaylist?
    var audioBytes: Int64 = 0
    let audioFolder = folder.appendingPathComponent("audio")
    if expectAudio {
        let playlist = try expectRenditionFolder(audioFolder, format: request.format, segmentSeconds: request.segmentSeconds,
                                                 tolerance: tolerance, sourceLocation: sourceLocation)
        audio = playlist
        audioBytes = fileBytes(audioFolder, playlist.files)
        #expect(master.media.count == 1, "one EXT-X-MEDIA: \(master.media)", sourceLocation: sourceLocation)
        let media = master.media.first ?? [:]
        #expect(media["TYPE"] == "AUDIO" && media["GROUP-ID"] == "audio" && media["URI"] == "audio/index.m3u8",
                "EXT-X-MEDIA: \(media)", sourceLocation: sourceLocation)
    } else {
        #expect(!FileManager.default.fileExists(atPath: audioFolder.path), "no audio rendition expected",
                sourceLocation: sourceLocation)
        #expect(master.media.isEmpty, "no EXT-X-MEDIA expected without audio: \(master.media)", sourceLocation: sourceLocation)
    }

    var rungs: [HLSRungReading] = []
    var cuts: [(rung: String, starts: [Double], durations: [Double])] = []
    for rung in expected {
        let rungFolder = folder.appendingPathComponent(rung.name)
        guard FileManager.default.fileExists(atPath: rungFolder.path) else { continue }  // reported above
        let playlistFile = rungFolder.appendingPathComponent("index.m3u8")
        let playlist = try expectRenditionFolder(rungFolder, format: request.format, segmentSeconds: request.segmentSeconds,
                                                 tolerance: tolerance, sourceLocation: sourceLocation)
        // A rung holds only the video: it must last as long as the source's video (the source's
        // whole length may be its audio's, which the audio rendition is held to).
        let info = try await expectWebProfile(playlistFile, from: input, expectAudio: false, checkDuration: false,
                                              sourceLocation: sourceLocation)
        let video = try #require(info.videoStreams.first, "\(rung.name): no video", sourceLocation: sourceLocation)
        let sourceInfo = try await probeMedia(input)
        if let sourceVideo = sourceInfo.videoStreams.first,
           let sourceSpan = try await streamSpans(input, info: sourceInfo)[sourceVideo.index],
           let rungSpan = try await streamSpans(playlistFile, info: info)[video.index] {
            #expect(abs(rungSpan.length - sourceSpan.length) <= tolerance,
                    "\(rung.name): video plays \(rungSpan.length) s vs the source's \(sourceSpan.length) s (tolerance \(tolerance) s)",
                    sourceLocation: sourceLocation)
        }
        let width = video.width ?? 0, height = video.height ?? 0

        // The short-side rule, portrait kept portrait, the aspect ratio kept (to the even pixel).
        let (short, long) = (min(width, height), max(width, height))
        #expect(short == rung.shortSide, "\(rung.name) is \(width)x\(height): short side \(short)",
                sourceLocation: sourceLocation)
        #expect((height > width) == rung.portrait, "\(rung.name) is \(width)x\(height): \(rung.portrait ? "portrait" : "landscape") expected",
                sourceLocation: sourceLocation)
        #expect(abs(Double(long) - Double(short) * rung.aspect) <= 2,
                "\(rung.name) is \(width)x\(height); the source's aspect \(rung.aspect) gives a long side of \(Double(short) * rung.aspect)",
                sourceLocation: sourceLocation)

        // Every segment, read alone (with its init section), starts with a keyframe that decodes
        // to an I picture: a player can start or switch rungs at any segment.
        var starts: [Double] = []
        for (index, segment) in playlist.segments.enumerated() {
            #expect(segment.uri == "seg\(index).\(request.format.segmentExtension)", "\(rung.name): segment \(index) is \(segment.uri)",
                    sourceLocation: sourceLocation)
            let start = try await segmentStart(rungFolder.appendingPathComponent(segment.uri),
                                               initSection: playlist.initSection.map { rungFolder.appendingPathComponent($0) },
                                               sourceLocation: sourceLocation)
            #expect(start.packetIsKey && start.pictureIsKey && start.pictureType == "I",
                    "\(rung.name)/\(segment.uri) does not start with a keyframe: \(start)", sourceLocation: sourceLocation)
            starts.append(start.time)
        }
        cuts.append((rung.name, starts, playlist.segments.map(\.duration)))

        // The master playlist tells the truth about this rung.
        let variant = master.variants.first { $0.uri == "\(rung.name)/index.m3u8" }
        let bytes = fileBytes(rungFolder, playlist.files)
        if let variant {
            try expectVariant(variant, describes: rung.name, video: video, playlist: playlist, bytes: bytes,
                              initSection: playlist.initSection.map { rungFolder.appendingPathComponent($0) },
                              segmentSizes: playlist.segments.map { fileBytes(rungFolder, [$0.uri]) },
                              audio: audio, audioBytes: audioBytes,
                              audioSegmentSizes: audio?.segments.map { fileBytes(audioFolder, [$0.uri]) } ?? [],
                              sourceLocation: sourceLocation)
        }
        rungs.append(HLSRungReading(name: rung.name, playlist: playlist, info: info, variant: variant, bytes: bytes))
    }

    // Every rung cut at the same instants: same segment lengths, same first picture time.
    if let reference = cuts.first {
        for other in cuts.dropFirst() {
            #expect(other.durations.count == reference.durations.count
                    && zip(other.durations, reference.durations).allSatisfy { abs($0 - $1) <= 0.0015 },
                    "\(other.rung)'s segments last \(other.durations), \(reference.rung)'s \(reference.durations)",
                    sourceLocation: sourceLocation)
            #expect(other.starts.count == reference.starts.count
                    && zip(other.starts, reference.starts).allSatisfy { abs($0 - $1) <= 0.0015 },
                    "\(other.rung)'s segments start at \(other.starts), \(reference.rung)'s at \(reference.starts)",
                    sourceLocation: sourceLocation)
        }
    }

    if expectAudio, let sourceAudio, let firstRung = rungs.first {
        try await expectAudioRendition(audioFolder.appendingPathComponent("index.m3u8"), videoPlaylist: firstRung,
                                       rungFolder: folder.appendingPathComponent(firstRung.name),
                                       source: source, input: input, sourceVideo: sourceVideo, sourceAudio: sourceAudio,
                                       tolerance: tolerance, sourceLocation: sourceLocation)
    }
    return HLSLadderReading(master: master, rungs: rungs, audio: audio, audioBytes: audioBytes)
}

/// A rendition's folder holds its playlist and exactly the files the playlist names: the init
/// section (fMP4 only) and `seg0…` segments of the asked length (the last may be shorter), each no
/// longer than the target duration, and the playlist is complete.
private func expectRenditionFolder(_ folder: URL, format: HLSSegmentFormat, segmentSeconds: Double, tolerance: Double,
                                   sourceLocation: SourceLocation) throws -> HLSMediaPlaylist {
    let rendition = "\(folder.deletingLastPathComponent().lastPathComponent)/\(folder.lastPathComponent)"
    let playlist = try HLSMediaPlaylist(reading: folder.appendingPathComponent("index.m3u8"), sourceLocation: sourceLocation)
    #expect(Set(directoryListing(folder)) == Set(["index.m3u8"] + playlist.files) && Set(playlist.files).count == playlist.files.count,
            "\(rendition) holds \(directoryListing(folder)); its playlist names \(playlist.files)", sourceLocation: sourceLocation)
    #expect(playlist.isComplete, "\(rendition)/index.m3u8 has no #EXT-X-ENDLIST", sourceLocation: sourceLocation)
    #expect(!playlist.segments.isEmpty, "\(rendition) has no segment", sourceLocation: sourceLocation)
    switch format {
    case .fmp4: #expect(playlist.initSection == "init_\(folder.lastPathComponent).mp4", "\(rendition): EXT-X-MAP \(playlist.initSection ?? "missing")",
                        sourceLocation: sourceLocation)
    case .ts: #expect(playlist.initSection == nil, "\(rendition): a TS rendition has no EXT-X-MAP", sourceLocation: sourceLocation)
    }
    for segment in playlist.segments {
        #expect(segment.uri.hasSuffix(".\(format.segmentExtension)"), "\(rendition): \(segment.uri)", sourceLocation: sourceLocation)
    }
    let target = try #require(playlist.targetDuration, "\(rendition): no #EXT-X-TARGETDURATION", sourceLocation: sourceLocation)
    let durations = playlist.segments.map(\.duration)
    // RFC 8216: each EXTINF, rounded to the nearest integer, is at most the target duration.
    #expect(durations.allSatisfy { Int($0.rounded()) <= target && $0 > 0 }, "\(rendition): target \(target) s, segments \(durations)",
            sourceLocation: sourceLocation)
    // Audio is cut at its nearest frame boundary (an AAC frame is ~21 ms), video at the instant.
    #expect(durations.dropLast().allSatisfy { abs($0 - segmentSeconds) <= tolerance }
            && (durations.last ?? 0) <= segmentSeconds + tolerance,
            "\(rendition): segments of \(segmentSeconds) s asked, got \(durations)", sourceLocation: sourceLocation)
    return playlist
}

/// One variant line of the master playlist against what is on disk and what ffprobe reads.
private func expectVariant(_ variant: HLSMasterPlaylist.Variant, describes rung: String, video: MediaInfo.Stream,
                           playlist: HLSMediaPlaylist, bytes: Int64, initSection: URL?, segmentSizes: [Int64],
                           audio: HLSMediaPlaylist?, audioBytes: Int64, audioSegmentSizes: [Int64],
                           sourceLocation: SourceLocation) throws {
    let attributes = variant.attributes
    #expect(attributes["RESOLUTION"] == "\(video.width ?? 0)x\(video.height ?? 0)",
            "\(rung): RESOLUTION \(attributes["RESOLUTION"] ?? "missing"), ffprobe reads \(video.width ?? 0)x\(video.height ?? 0)",
            sourceLocation: sourceLocation)

    // CODECS: avc1.PPCCLL from the rung's own SPS (profile, constraints, level), then AAC-LC if audio.
    let codecs = (attributes["CODECS"] ?? "").split(separator: ",").map(String.init)
    #expect(codecs.count == (audio == nil ? 1 : 2) && (audio == nil || codecs.last == "mp4a.40.2"),
            "\(rung): CODECS \(attributes["CODECS"] ?? "missing")", sourceLocation: sourceLocation)
    let avc1 = codecs.first ?? ""
    let profile = ["High": "64", "Main": "4d"][video.profile ?? ""] ?? "?"
    let level = video.level.map { String(format: "%02x", $0) } ?? "?"
    #expect(avc1.lowercased().wholeMatch(of: /avc1\.[0-9a-f]{6}/) != nil && avc1.lowercased().hasPrefix("avc1.\(profile)")
            && avc1.lowercased().hasSuffix(level),
            "\(rung): \(avc1) does not say \(video.profile ?? "?") profile (\(profile)) level \(video.level ?? 0) (\(level))",
            sourceLocation: sourceLocation)
    if let initSection, let configuration = avcConfiguration(initSection) {
        #expect(avc1.lowercased() == "avc1.\(configuration)", "\(rung): \(avc1), the init section's avcC says \(configuration)",
                sourceLocation: sourceLocation)
    }
    #expect(audio == nil ? attributes["AUDIO"] == nil : attributes["AUDIO"] == "audio",
            "\(rung): AUDIO \(attributes["AUDIO"] ?? "missing")", sourceLocation: sourceLocation)

    // Bit rates: AVERAGE-BANDWIDTH is what the rung and its audio spend over the video; BANDWIDTH
    // at least the peak segment bit rate of each (RFC 8216, 4.3.4.2), summed.
    let bandwidth = try #require(attributes["BANDWIDTH"].flatMap(Int.init), "\(rung): BANDWIDTH", sourceLocation: sourceLocation)
    let average = try #require(attributes["AVERAGE-BANDWIDTH"].flatMap(Int.init), "\(rung): AVERAGE-BANDWIDTH",
                               sourceLocation: sourceLocation)
    #expect(bandwidth >= average && average > 0, "\(rung): BANDWIDTH \(bandwidth), AVERAGE-BANDWIDTH \(average)",
            sourceLocation: sourceLocation)
    let spent = Double(bytes) * 8 / playlist.duration + (audio.map { Double(audioBytes) * 8 / $0.duration } ?? 0)
    #expect(abs(Double(average) - spent) <= 0.1 * spent,
            "\(rung): AVERAGE-BANDWIDTH \(average), the files hold \(Int(spent)) b/s", sourceLocation: sourceLocation)
    let peak = peakSegmentBitrate(playlist, sizes: segmentSizes)
        + (audio.map { peakSegmentBitrate($0, sizes: audioSegmentSizes) } ?? 0)
    #expect(Double(bandwidth) >= peak.rounded(.down), "\(rung): BANDWIDTH \(bandwidth) is below the peak segment bit rate \(Int(peak))",
            sourceLocation: sourceLocation)
    if let frameRate = attributes["FRAME-RATE"] {
        #expect((Double(frameRate) ?? 0) > 0, "\(rung): FRAME-RATE \(frameRate)", sourceLocation: sourceLocation)
    }
}

/// RFC 8216's peak segment bit rate: the largest bit rate of any run of consecutive segments
/// lasting between half and one and a half target durations (0 if no run does).
private func peakSegmentBitrate(_ playlist: HLSMediaPlaylist, sizes: [Int64]) -> Double {
    let target = Double(playlist.targetDuration ?? 0)
    var peak = 0.0
    for first in playlist.segments.indices {
        var seconds = 0.0, bits = 0.0
        for index in first..<playlist.segments.count {
            seconds += playlist.segments[index].duration
            bits += Double(sizes[index]) * 8
            if seconds > 1.5 * target { break }
            if seconds >= 0.5 * target { peak = max(peak, bits / seconds) }
        }
    }
    return peak
}

/// The audio rendition: one AAC-LC stereo 44.1/48 kHz stream, as long as the source's audio, in
/// sync with the pictures as the source was, decoding cleanly.
private func expectAudioRendition(_ playlist: URL, videoPlaylist rung: HLSRungReading, rungFolder: URL, source: MediaInfo,
                                  input: URL, sourceVideo: MediaInfo.Stream, sourceAudio: MediaInfo.Stream,
                                  tolerance: Double, sourceLocation: SourceLocation) async throws {
    let info = try await probeMedia(playlist)
    #expect(info.streams.count == 1 && info.audioStreams.count == 1,
            "audio/index.m3u8 holds \(info.streams.map { $0.codecType ?? "?" })", sourceLocation: sourceLocation)
    let audio = try #require(info.audioStreams.first, "no audio stream in audio/index.m3u8", sourceLocation: sourceLocation)
    #expect(audio.codecName == "aac" && audio.profile == "LC", "audio: \(audio.codecName ?? "?") \(audio.profile ?? "?")",
            sourceLocation: sourceLocation)
    #expect(audio.channels == 2, "audio: \(audio.channels ?? 0) channels", sourceLocation: sourceLocation)
    #expect(["44100", "48000"].contains(audio.sampleRate ?? ""), "audio: \(audio.sampleRate ?? "?") Hz", sourceLocation: sourceLocation)

    let sourceSpans = try await streamSpans(input, info: source)
    let audioSpans = try await streamSpans(playlist, info: info)
    let videoSpans = try await streamSpans(rungFolder.appendingPathComponent("index.m3u8"), info: rung.info)
    guard let sv = sourceSpans[sourceVideo.index], let sa = sourceSpans[sourceAudio.index], let oa = audioSpans[audio.index],
          let videoStream = rung.info.videoStreams.first, let ov = videoSpans[videoStream.index] else {
        Issue.record("no packets to time: source \(sourceSpans), audio \(audioSpans), video \(videoSpans)",
                     sourceLocation: sourceLocation)
        return
    }
    #expect(abs(oa.length - sa.length) <= tolerance,
            "audio plays \(oa.length) s vs source \(sa.length) s (tolerance \(tolerance) s)", sourceLocation: sourceLocation)
    // Lip sync across renditions: a player lines them up by their timestamps, so audio must start
    // where it started relative to the pictures (45 ms is where viewers begin to notice).
    let shift = (ov.start - oa.start) - (sv.start - sa.start)
    #expect(abs(shift) <= 0.045,
            "audio moved \(Int((shift * 1000).rounded())) ms against the video (\(rung.name) starts at \(ov.start) s, audio at \(oa.start) s; source: \(sv.start) s and \(sa.start) s)",
            sourceLocation: sourceLocation)
    let complaints = try await decodeComplaints(playlist)
    #expect(complaints.isEmpty, "audio/index.m3u8 does not decode cleanly: \(complaints)", sourceLocation: sourceLocation)
}

/// How one segment starts, read from the segment alone (behind its init section for fMP4).
struct SegmentStart: Sendable, CustomStringConvertible {
    /// Presentation time of its first video packet, seconds.
    let time: Double
    /// The container marks the first packet as a keyframe.
    let packetIsKey: Bool
    /// The decoder calls the first picture a keyframe.
    let pictureIsKey: Bool
    let pictureType: String?

    var description: String {
        "first packet at \(time) s, \(packetIsKey ? "key" : "not key"); first picture \(pictureType ?? "?"), \(pictureIsKey ? "key" : "not key")"
    }
}

/// Reads the first video packet of `segment` and the picture it decodes to, with nothing before
/// it but `initSection` (ffmpeg's `concat:` protocol joins the two as a player does).
func segmentStart(_ segment: URL, initSection: URL?,
                  sourceLocation: SourceLocation = #_sourceLocation) async throws -> SegmentStart {
    let target = initSection.map { "concat:\($0.path)|\(segment.path)" } ?? segment.path
    let result = try await runProcess(Locations.ffprobe,
                                      ["-v", "error", "-select_streams", "v:0", "-read_intervals", "%+#1",
                                       "-show_entries", "packet=pts_time,flags:frame=key_frame,pict_type,pts_time",
                                       "-of", "json", target], timeout: .seconds(60))
    try #require(result.exitCode == 0, "ffprobe failed on \(segment.lastPathComponent): \(result)", sourceLocation: sourceLocation)
    struct Entries: Decodable {
        struct Entry: Decodable {
            let type: String
            let ptsTime: String?
            let flags: String?
            let keyFrame: Int?
            let pictType: String?
        }
        let packetsAndFrames: [Entry]
    }
    let entries = try JSONDecoder.snakeCase.decode(Entries.self, from: result.stdout).packetsAndFrames
    let packet = try #require(entries.first { $0.type == "packet" }, "\(segment.lastPathComponent): no video packet: \(result)",
                              sourceLocation: sourceLocation)
    let picture = entries.first { $0.type == "frame" }
    return SegmentStart(time: packet.ptsTime.flatMap(Double.init) ?? .nan, packetIsKey: packet.flags?.hasPrefix("K") == true,
                        pictureIsKey: picture?.keyFrame == 1, pictureType: picture?.pictType)
}

/// The avcC box's profile, constraint flags and level in an fMP4 init section, as the six hex
/// digits of an `avc1.` codec string (nil if there is no avcC).
func avcConfiguration(_ initSection: URL) -> String? {
    guard let data = try? Data(contentsOf: initSection), let box = data.firstRange(of: Data("avcC".utf8)),
          box.upperBound + 4 <= data.count else { return nil }
    // configurationVersion, AVCProfileIndication, profile_compatibility, AVCLevelIndication
    let start = box.upperBound + 1
    return data[start..<start + 3].map { String(format: "%02x", $0) }.joined()
}

/// The total size of `names` in `folder` (0 for a missing file).
func fileBytes(_ folder: URL, _ names: [String]) -> Int64 {
    names.reduce(0) { total, name in
        let size = (try? FileManager.default.attributesOfItem(atPath: folder.appendingPathComponent(name).path)[.size]) as? NSNumber
        return total + (size?.int64Value ?? 0)
    }
}

/// Every regular file under `folder`, as absolute paths with their sizes.
func filesUnder(_ folder: URL) -> [String: Int64] {
    var files: [String: Int64] = [:]
    let enumerator = FileManager.default.enumerator(atPath: folder.path)
    while let relative = enumerator?.nextObject() as? String {
        let path = folder.path + "/" + relative
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        if attributes?[.type] as? FileAttributeType == .typeRegular {
            files[path] = (attributes?[.size] as? NSNumber)?.int64Value ?? -1
        }
    }
    return files
}

/// A web server running as another user can read the published folder: every folder and file has
/// the mode a new one gets under the current umask (the 0700 of the hidden folder it was written
/// under must not survive publishing).
func expectServable(_ folder: URL, sourceLocation: SourceLocation = #_sourceLocation) {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    let umaskText = status.split(separator: "\n").first { $0.hasPrefix("Umask:") }?
        .dropFirst("Umask:".count).trimmingCharacters(in: .whitespaces)
    guard let umaskText, let umask = Int(umaskText, radix: 8) else { return }
    var entries = [""]
    let enumerator = FileManager.default.enumerator(atPath: folder.path)
    while let relative = enumerator?.nextObject() as? String { entries.append(relative) }
    for relative in entries {
        let path = relative.isEmpty ? folder.path : folder.path + "/" + relative
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue else { continue }
        let isFolder = attributes[.type] as? FileAttributeType == .typeDirectory
        let expected = (isFolder ? 0o777 : 0o666) & ~umask
        #expect(mode == expected, "\(folder.lastPathComponent)/\(relative): mode \(String(mode, radix: 8)), a new \(isFolder ? "folder" : "file") gets \(String(expected, radix: 8))",
                sourceLocation: sourceLocation)
    }
}
