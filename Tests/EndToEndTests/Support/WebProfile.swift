import Foundation
import Testing

/// The profile every successful transcode must meet so the result plays everywhere:
/// one H.264 (Main/High, 8-bit 4:2:0, even size, square pixels, upright) video stream, at most one
/// AAC-LC stereo 44.1/48 kHz audio stream, the source's duration within one frame or 50 ms, and a
/// clean decode.
///
/// - Parameters:
///   - output: the transcoded file.
///   - input: the file it was made from.
///   - expectAudio: whether an audio stream must be there (`false`: there must be none); by default,
///     whether the input has one.
///   - checkDuration: compare durations (off for deliberately shortened outputs).
/// - Returns: ffprobe's view of the output, for further checks.
@discardableResult
func expectWebProfile(_ output: URL, from input: URL, expectAudio: Bool? = nil, checkDuration: Bool = true,
                      sourceLocation: SourceLocation = #_sourceLocation) async throws -> MediaInfo {
    let source = try await probeMedia(input)
    let expectAudio = expectAudio ?? !source.audioStreams.isEmpty
    let info = try await probeMedia(output)
    let name = output.lastPathComponent

    #expect(info.videoStreams.count == 1, "\(name): video streams", sourceLocation: sourceLocation)
    #expect(info.streams.count == info.videoStreams.count + info.audioStreams.count,
            "\(name): only audio and video streams expected, got \(info.streams.map { $0.codecType ?? "?" })",
            sourceLocation: sourceLocation)
    if let video = info.videoStreams.first {
        #expect(video.codecName == "h264", "\(name): video codec", sourceLocation: sourceLocation)
        #expect(["Main", "High"].contains(video.profile ?? ""), "\(name): H.264 profile \(video.profile ?? "nil")",
                sourceLocation: sourceLocation)
        #expect(video.pixFmt == "yuv420p", "\(name): pixel format", sourceLocation: sourceLocation)
        let width = video.width ?? 0, height = video.height ?? 0
        #expect(width > 0 && width % 2 == 0 && height > 0 && height % 2 == 0,
                "\(name): size \(width)x\(height) must be even", sourceLocation: sourceLocation)
        #expect([nil, "0:1", "1:1"].contains(video.sampleAspectRatio),
                "\(name): square pixels expected, SAR \(video.sampleAspectRatio ?? "nil")",
                sourceLocation: sourceLocation)
        #expect((video.rotation ?? 0) == 0, "\(name): rotation metadata left: \(video.rotation ?? 0)",
                sourceLocation: sourceLocation)
    }

    if expectAudio {
        #expect(info.audioStreams.count == 1, "\(name): audio streams", sourceLocation: sourceLocation)
        if let audio = info.audioStreams.first {
            #expect(audio.codecName == "aac", "\(name): audio codec", sourceLocation: sourceLocation)
            #expect(audio.profile == "LC", "\(name): AAC profile \(audio.profile ?? "nil")",
                    sourceLocation: sourceLocation)
            #expect(audio.channels == 2, "\(name): channels", sourceLocation: sourceLocation)
            #expect(["44100", "48000"].contains(audio.sampleRate ?? ""),
                    "\(name): sample rate \(audio.sampleRate ?? "nil")", sourceLocation: sourceLocation)
        }
    } else {
        #expect(info.audioStreams.isEmpty, "\(name): no audio stream expected", sourceLocation: sourceLocation)
    }

    if checkDuration {
        let frame = 1 / (source.videoStreams.first?.framesPerSecond ?? 25)
        let tolerance = max(frame, 0.050) + 0.002  // container time bases round to the millisecond
        // What a player shows. Not for FLV: its writer adds the B-frame delay to the recorded duration
        // (the ffmpeg program's FLV files show the same +80 ms), so there the spans below must do.
        if info.format.formatName != "flv" {
            let sourceDuration = try #require(source.duration, "source has no duration", sourceLocation: sourceLocation)
            let outputDuration = try #require(info.duration, "\(name) has no duration", sourceLocation: sourceLocation)
            #expect(abs(outputDuration - sourceDuration) <= tolerance,
                    "\(name): duration \(outputDuration) s vs source \(sourceDuration) s (tolerance \(tolerance) s)",
                    sourceLocation: sourceLocation)
        }
        // What is really in there: no frames or samples lost or added, per stream kind.
        let sourceSpans = try await streamSpans(input, info: source)
        let outputSpans = try await streamSpans(output, info: info)
        let pairs = [("video", source.videoStreams.first, info.videoStreams.first),
                     ("audio", source.audioStreams.first { $0.isDefault } ?? source.audioStreams.first,
                      expectAudio ? info.audioStreams.first : nil)]
        for (kind, sourceStream, outputStream) in pairs {
            guard let sourceStream, let outputStream,
                  let sourceSpan = sourceSpans[sourceStream.index], let outputSpan = outputSpans[outputStream.index]
            else { continue }
            #expect(abs(outputSpan.length - sourceSpan.length) <= tolerance,
                    "\(name): \(kind) plays \(outputSpan.length) s vs source \(sourceSpan.length) s (tolerance \(tolerance) s)",
                    sourceLocation: sourceLocation)
        }
        // Lip sync: audio must start where it started relative to the pictures (45 ms is where
        // viewers begin to notice sound running ahead).
        if expectAudio, let sourceVideo = source.videoStreams.first,
           let sourceAudio = source.audioStreams.first(where: { $0.isDefault }) ?? source.audioStreams.first,
           let outputVideo = info.videoStreams.first, let outputAudio = info.audioStreams.first,
           let sv = sourceSpans[sourceVideo.index], let sa = sourceSpans[sourceAudio.index],
           let ov = outputSpans[outputVideo.index], let oa = outputSpans[outputAudio.index] {
            let shift = (ov.start - oa.start) - (sv.start - sa.start)
            #expect(abs(shift) <= 0.045, "\(name): audio moved \(Int((shift * 1000).rounded())) ms against the video",
                    sourceLocation: sourceLocation)
        }
    }

    let complaints = try await decodeComplaints(output)
    #expect(complaints.isEmpty, "\(name) does not decode cleanly: \(complaints)", sourceLocation: sourceLocation)
    return info
}
