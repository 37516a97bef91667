import Foundation

/// A few pixels of the first frame (gray, `size` x `size`), as ffmpeg decodes it, for comparing pictures.
/// ffmpeg applies any rotation metadata itself, so a rotated source gives the upright picture.
func thumbnail(_ file: URL, size: Int = 8) async throws -> [UInt8] {
    let result = try await runProcess(Locations.ffmpeg,
                                      ["-nostdin", "-v", "error", "-i", file.path,
                                       "-frames:v", "1", "-vf", "scale=\(size):\(size):flags=area",
                                       "-pix_fmt", "gray", "-f", "rawvideo", "-"],
                                      timeout: .seconds(60))
    guard result.exitCode == 0 else { throw ThumbnailError(result: result) }
    return Array(result.stdout)
}

struct ThumbnailError: Error, CustomStringConvertible {
    let result: ProcessResult
    var description: String { "could not decode a thumbnail: \(result)" }
}

/// Mean absolute difference of two gray thumbnails (0 = identical, 255 = opposite).
func meanDifference(_ a: [UInt8], _ b: [UInt8]) -> Double {
    guard a.count == b.count, !a.isEmpty else { return 255 }
    return Double(zip(a, b).map { abs(Int($0) - Int($1)) }.reduce(0, +)) / Double(a.count)
}
