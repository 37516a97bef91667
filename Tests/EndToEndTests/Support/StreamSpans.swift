import Foundation
import Testing

/// When a stream starts and how long it plays, in seconds.
struct StreamSpan: Sendable {
    let start: Double
    let length: Double
}

/// How long each stream of a file really plays, from its packets: first presentation time to the end
/// of the last packet. Unlike the container's duration field this does not depend on how a muxer
/// accounts for start offsets (FLV's writer, for one, adds its B-frame delay to the duration it records).
///
/// - Returns: per stream index, when it starts and how long it plays, in seconds.
func streamSpans(_ file: URL, info: MediaInfo) async throws -> [Int: StreamSpan] {
    let result = try await runProcess(Locations.ffprobe,
                                      ["-v", "error", "-show_entries", "packet=stream_index,pts_time,duration_time",
                                       "-of", "json", file.path],
                                      timeout: .seconds(60))
    try #require(result.exitCode == 0, "ffprobe failed on \(file.lastPathComponent): \(result)")
    struct Packets: Decodable {
        struct Packet: Decodable {
            let streamIndex: Int
            let ptsTime: String?
            let durationTime: String?
        }
        let packets: [Packet]
    }
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    let packets = try decoder.decode(Packets.self, from: result.stdout).packets

    var spans: [Int: StreamSpan] = [:]
    for (index, streamPackets) in Dictionary(grouping: packets, by: \.streamIndex) {
        let timed = streamPackets.compactMap { packet in
            packet.ptsTime.flatMap(Double.init).map { (pts: $0, duration: packet.durationTime.flatMap(Double.init)) }
        }
        guard let first = timed.map(\.pts).min(), let last = timed.max(by: { $0.pts < $1.pts }) else { continue }
        let fallback = info.streams.first { $0.index == index }?.framesPerSecond.map { 1 / $0 } ?? 0
        spans[index] = StreamSpan(start: first, length: last.pts + (last.duration ?? fallback) - first)
    }
    return spans
}
