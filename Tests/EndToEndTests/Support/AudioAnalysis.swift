import Foundation
import Testing

/// A file's first audio stream as ffmpeg decodes it, mixed to mono 16-bit at 48 kHz.
func decodedMonoSamples(_ file: URL, sampleRate: Int = 48000) async throws -> [Int16] {
    let result = try await runProcess(Locations.ffmpeg,
                                      ["-nostdin", "-v", "error", "-i", file.path, "-map", "0:a:0", "-ac", "1",
                                       "-ar", String(sampleRate), "-f", "s16le", "-"],
                                      timeout: .seconds(60))
    try #require(result.exitCode == 0, "could not decode audio: \(result)")
    return result.stdout.withUnsafeBytes { raw in
        stride(from: 0, to: raw.count - 1, by: 2).map { Int16(bitPattern: UInt16(raw[$0]) | UInt16(raw[$0 + 1]) << 8) }
    }
}

/// Pitch (Hz) of a file's first audio stream, estimated from zero crossings.
/// Good enough to tell the 440 Hz track of a fixture from its 880 Hz one.
func toneFrequency(_ file: URL) async throws -> Double {
    let sampleRate = 48000
    let samples = try await decodedMonoSamples(file, sampleRate: sampleRate)
    try #require(samples.count > sampleRate / 4, "less than 0.25 s of audio")
    // Skip the encoder's fade-in and ignore near-silent samples so noise does not count as crossings.
    var crossings = 0
    var previousSign = 0
    for sample in samples.dropFirst(sampleRate / 20) where abs(Int(sample)) > 200 {
        let sign = sample > 0 ? 1 : -1
        if previousSign != 0 && sign != previousSign { crossings += 1 }
        previousSign = sign
    }
    let seconds = Double(samples.count - sampleRate / 20) / Double(sampleRate)
    return Double(crossings) / seconds / 2
}

/// Root-mean-square level of a file's first audio stream, relative to full scale (0 = silence, ~0.7 = a
/// full-scale sine).
func audioLevel(_ file: URL) async throws -> Double {
    let samples = try await decodedMonoSamples(file)
    try #require(!samples.isEmpty, "no audio decoded")
    let meanSquare = samples.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(samples.count)
    return meanSquare.squareRoot() / 32768
}
