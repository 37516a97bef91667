import Foundation
import Testing

/// What ffmpeg's `idet` filter makes of a file's pictures: how many frames look woven from two
/// fields (combing) and how many look progressive.
struct InterlaceVerdict: Sendable, CustomStringConvertible {
    let interlaced: Int
    let progressive: Int
    var description: String { "\(interlaced) interlaced-looking, \(progressive) progressive frames" }
}

func detectInterlacing(_ file: URL) async throws -> InterlaceVerdict {
    let result = try await runProcess(Locations.ffmpeg,
                                      ["-nostdin", "-v", "info", "-i", file.path, "-map", "0:v:0", "-vf", "idet",
                                       "-f", "null", "-"],
                                      timeout: .seconds(120))
    try #require(result.exitCode == 0, "idet failed: \(result)")
    let line = try #require(result.stderrLines.first { $0.contains("Multi frame detection:") },
                            "no idet summary: \(result)")
    func count(_ label: String) -> Int {
        guard let range = line.range(of: "\(label):") else { return 0 }
        return Int(line[range.upperBound...].drop { $0 == " " }.prefix { $0.isNumber }) ?? 0
    }
    return InterlaceVerdict(interlaced: count("TFF") + count("BFF"), progressive: count("Progressive"))
}
