import Foundation

/// Decodes every stream of `file` with the ffmpeg program and returns what it complained about
/// (empty when the file decodes cleanly). Pictures go to the null muxer with their own times
/// (`-fps_mode passthrough`) on a fine clock (`-enc_time_base:v 1/90000`): on the frame rate's
/// clock, a variable-rate file's pictures 1 ms apart would draw the null muxer's own complaints
/// about equal timestamps, which say nothing of the decode (seen: on vqueue's unsplit output too).
func decodeComplaints(_ file: URL) async throws -> String {
    let result = try await runProcess(Locations.ffmpeg,
                                      ["-nostdin", "-v", "error", "-i", file.path, "-map", "0", "-fps_mode", "passthrough", "-enc_time_base:v", "1/90000", "-f", "null", "-"],
                                      timeout: .seconds(180))
    var complaints = result.stderrText.trimmingCharacters(in: .whitespacesAndNewlines)
    if result.exitCode != 0 { complaints += "\n(ffmpeg \(result.termination))" }
    return complaints
}
