import Foundation

/// Decodes every stream of `file` with the ffmpeg program and returns what it complained about
/// (empty when the file decodes cleanly).
func decodeComplaints(_ file: URL) async throws -> String {
    let result = try await runProcess(Locations.ffmpeg,
                                      ["-nostdin", "-v", "error", "-i", file.path, "-map", "0", "-f", "null", "-"],
                                      timeout: .seconds(180))
    var complaints = result.stderrText.trimmingCharacters(in: .whitespacesAndNewlines)
    if result.exitCode != 0 { complaints += "\n(ffmpeg \(result.termination))" }
    return complaints
}
