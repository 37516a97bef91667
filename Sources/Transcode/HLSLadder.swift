import Foundation

/// The sizes an HLS output offers a player (`--ladder 240p,360p,720p`): one
/// rendition per rung, each named by the short side of its picture, so a
/// portrait phone video's 360p rung is 360x640 and stays portrait.
public struct HLSLadder: Sendable, Equatable {
    /// The rungs asked for, smallest first.
    public let presets: [WebPreset]

    /// 240p, 360p, 480p, 720p and 1080p: what a 1080p upload offers.
    public static let standard = HLSLadder(presets: WebPreset.allCases)

    public init(presets: [WebPreset]) {
        self.presets = Array(Set(presets)).sorted { $0.maxHeight < $1.maxHeight }
    }

    /// Parses `240p,360p,…`. Throws a one-line reason naming what is wrong.
    public init(parsing text: String) throws(HLSLadderError) {
        let names = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        var presets: [WebPreset] = []
        for name in names {
            guard let preset = WebPreset(rawValue: name.lowercased()) else {
                throw HLSLadderError(message: "'\(name)' is not a rung; choose from "
                                     + WebPreset.allCases.map(\.rawValue).joined(separator: ", "))
            }
            presets.append(preset)
        }
        guard !presets.isEmpty else { throw HLSLadderError(message: "the ladder names no rung") }
        self.init(presets: presets)
    }

    /// The text `init(parsing:)` reads back.
    public var text: String { presets.map(\.rawValue).joined(separator: ",") }

    /// The rungs for a source whose upright picture is `width`x`height`:
    /// rungs whose short side is larger than the source's are dropped (never
    /// upscale); when none is left, one rung at the source's own size. Each
    /// rung's bit rate is capped by its preset's (scaled to its pixel rate)
    /// and by what the source itself spends on a picture that size.
    func rungs(sourceWidth: Int, sourceHeight: Int, framesPerSecond: Double?, sourceBitrate: Int?) -> [HLSRung] {
        let portrait = sourceHeight > sourceWidth
        let shortSide = min(sourceWidth, sourceHeight)
        let longSide = max(sourceWidth, sourceHeight)
        func even(_ value: Double) -> Int { max(2, Int((value / 2).rounded()) * 2) }
        func rung(short: Int, preset: WebPreset?) -> HLSRung {
            let long = short == shortSide ? longSide : even(Double(longSide) * Double(short) / Double(shortSide))
            let (width, height) = portrait ? (short, long) : (long, short)
            var options = TranscodeOptions()
            let reference = preset ?? WebPreset.allCases.first { $0.maxHeight >= short } ?? .p1080
            options.videoBitrate = reference.videoBitrate
            options.videoBitratePixelRate = reference.pixelRate
            var cap = options.videoBitrate(width: width, height: height, framesPerSecond: framesPerSecond) ?? reference.videoBitrate
            if let sourceBitrate, sourceBitrate > 0 {
                // A rung never gets more than the source spends on the same
                // pixels: bits the source does not have cannot buy quality.
                let share = Double(width * height) / Double(sourceWidth * sourceHeight)
                cap = min(cap, max(TranscodeOptions.smallestScaledBitrate, Int(Double(sourceBitrate) * share)))
            }
            return HLSRung(name: preset?.rawValue ?? "\(short)p", width: width, height: height, maxBitrate: cap)
        }
        let fitting = presets.filter { $0.maxHeight <= shortSide }
        if fitting.isEmpty { return [rung(short: even(Double(shortSide)), preset: nil)] }
        return fitting.map { rung(short: $0.maxHeight, preset: $0) }
    }
}

/// One rendition of a ladder.
public struct HLSRung: Sendable, Equatable, Codable {
    /// Its folder's name: `360p`.
    public var name: String
    public var width: Int
    public var height: Int
    /// The encoder's ceiling, bits per second (x264's VBV maxrate).
    public var maxBitrate: Int

    enum CodingKeys: String, CodingKey {
        case name, width, height
        case maxBitrate = "max_bitrate"
    }
}

public struct HLSLadderError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
