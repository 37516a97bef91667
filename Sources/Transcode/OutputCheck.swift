import CLibAV
import Foundation
import Glibc

/// What a finished output must be, from what the transcode set out to make.
public struct OutputExpectation: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var hasAudio: Bool
    /// False for an HLS ladder's audio rendition, the one output without video.
    public var hasVideo: Bool
    /// Seconds of media decoded from the source.
    public var duration: Double
    /// Seconds one video frame lasts (the tolerance, with 50 ms at least).
    public var frameDuration: Double

    public init(width: Int, height: Int, hasAudio: Bool, duration: Double, frameDuration: Double, hasVideo: Bool = true) {
        self.width = width
        self.height = height
        self.hasAudio = hasAudio
        self.hasVideo = hasVideo
        self.duration = duration
        self.frameDuration = frameDuration
    }

    /// How far the output's length may be from `duration`: one frame or
    /// 50 ms, whichever is larger.
    public var tolerance: Double { max(frameDuration, 0.05) }
}

/// The check before publishing (DESIGN.md §4, "Everything published is
/// checked first"): the finished file is opened the way any input is
/// (`InputFile`, `InputMedia`) and demuxed to its end, never decoded
/// (the check costs a read of the file, not a second transcode). It must
/// open, hold H.264 video of the expected size, AAC audio exactly when
/// audio was expected, and last as long as the source decoded to.
public enum OutputCheck {
    /// Checks the file open on `descriptor` (read through a new descriptor
    /// of its own) and returns what it holds. Throws `outputCheckFailed`
    /// saying what is wrong.
    @discardableResult
    public static func verify(descriptor: Int32, expecting expected: OutputExpectation) throws(TranscodeError) -> OutputFacts {
        let file: InputFile
        do {
            file = try InputFile(path: "/proc/self/fd/\(descriptor)")
        } catch {
            throw .outputCheckFailed("it cannot be opened again: \(error)")
        }
        return try verify(file: file, expecting: expected)
    }

    /// Checks an output already opened for reading and returns what it holds.
    @discardableResult
    static func verify(file: any MediaBytes, expecting expected: OutputExpectation) throws(TranscodeError) -> OutputFacts {
        let media: InputMedia
        do {
            media = try InputMedia(file: file, maxPixels: Int(Int32.max))
        } catch .ioError(let doing, let message) {
            throw .ioError(doing, message)
        } catch {
            throw .outputCheckFailed("it does not open as media: \(error)")
        }
        try checkStreams(media, expected)
        let read = try demux(media, expected: expected)
        let seconds = read.end - read.start
        if abs(seconds - expected.duration) > expected.tolerance {
            throw .outputCheckFailed(String(format: "it lasts %.3f s where the source decoded to %.3f s", seconds, expected.duration))
        }
        return OutputFacts(size: file.size, width: expected.width, height: expected.height, duration: seconds,
                           frames: read.videoPackets, videoBytes: read.videoBytes, audioBytes: expected.hasAudio ? read.audioBytes : nil,
                           end: read.end)
    }

    /// What reading every packet found.
    private struct Demuxed {
        var start = Double.infinity
        var end = -Double.infinity
        var videoPackets = 0
        var videoBytes: Int64 = 0
        var audioBytes: Int64 = 0
    }

    private static func checkStreams(_ media: InputMedia, _ expected: OutputExpectation) throws(TranscodeError) {
        let videos = media.streams.filter { $0.pointee.codecpar.pointee.codec_type == AVMEDIA_TYPE_VIDEO }
        let audios = media.streams.filter { $0.pointee.codecpar.pointee.codec_type == AVMEDIA_TYPE_AUDIO }
        if expected.hasVideo {
            guard videos.count == 1, let video = videos.first?.pointee.codecpar.pointee else {
                throw .outputCheckFailed("it has \(videos.count) video streams instead of one")
            }
            guard video.codec_id == AV_CODEC_ID_H264 else {
                throw .outputCheckFailed("its video is \(String(cString: avcodec_get_name(video.codec_id))), not H.264")
            }
            guard Int(video.width) == expected.width, Int(video.height) == expected.height else {
                throw .outputCheckFailed("its video is \(video.width)x\(video.height), not \(expected.width)x\(expected.height)")
            }
        } else if !videos.isEmpty {
            throw .outputCheckFailed("it has video where only audio was expected")
        }
        if expected.hasAudio {
            guard audios.count == 1, let audio = audios.first?.pointee.codecpar.pointee else {
                throw .outputCheckFailed("it has \(audios.count) audio streams instead of one")
            }
            guard audio.codec_id == AV_CODEC_ID_AAC else {
                throw .outputCheckFailed("its audio is \(String(cString: avcodec_get_name(audio.codec_id))), not AAC")
            }
        } else if !audios.isEmpty {
            throw .outputCheckFailed("it has audio where none was asked for")
        }
    }

    /// Reads every packet: the span from the earliest start to the latest
    /// end, in seconds, and the packets and bytes per stream; a file that
    /// stops demuxing before its end fails.
    private static func demux(_ media: InputMedia, expected: OutputExpectation) throws(TranscodeError) -> Demuxed {
        let frameDuration = expected.frameDuration
        let packet = try OwnedPacket()
        var read = Demuxed()
        while true {
            let result = av_read_frame(media.context, packet.pointer)
            if result == vq_averror_eof() { break }
            if result < 0 {
                try media.checkReadError()
                throw .outputCheckFailed("it stops demuxing before its end (\(libavMessage(result)))")
            }
            defer { av_packet_unref(packet.pointer) }
            let pts = packet.pointer.pointee.pts
            guard let stream = media.context.pointee.streams[Int(packet.pointer.pointee.stream_index)], pts != vq_nopts_value() else {
                continue
            }
            let timeBase = av_q2d(stream.pointee.time_base)
            var length = Double(max(packet.pointer.pointee.duration, 0)) * timeBase
            let bytes = Int64(max(packet.pointer.pointee.size, 0))
            if stream.pointee.codecpar.pointee.codec_type == AVMEDIA_TYPE_VIDEO {
                read.videoPackets += 1
                read.videoBytes += bytes
                // FLV stores no packet durations: a picture lasts a frame.
                if length == 0 { length = frameDuration }
            } else {
                read.audioBytes += bytes
            }
            read.start = min(read.start, Double(pts) * timeBase)
            read.end = max(read.end, Double(pts) * timeBase + length)
        }
        guard read.videoPackets > 0 || !expected.hasVideo else { throw .outputCheckFailed("it holds no video") }
        return read
    }
}
