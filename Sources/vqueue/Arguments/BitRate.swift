import Foundation
import ArgumentParser

/// A bitrate as users write it: `200000`, `200k`, `1.5M` (bits per second).
struct BitRate: ExpressibleByArgument, Equatable {
    let bitsPerSecond: Int

    init(bitsPerSecond: Int) { self.bitsPerSecond = bitsPerSecond }

    init?(argument: String) {
        var text = argument.trimmingCharacters(in: .whitespaces)
        var multiplier = 1.0
        switch text.last {
        case "k", "K": multiplier = 1e3
        case "m", "M": multiplier = 1e6
        case "g", "G": multiplier = 1e9
        default: break
        }
        if multiplier != 1 { text.removeLast() }
        guard let value = Double(text), value.isFinite, value > 0 else { return nil }
        let bits = value * multiplier
        guard bits >= 1000, bits <= 1e9 else { return nil }
        bitsPerSecond = Int(bits.rounded())
    }

    static var defaultValueDescription: String { "200k" }
}
