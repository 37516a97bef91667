import ArgumentParser
import Foundation

/// An amount of memory as users write it: `512M`, `2G`, `1.5G`, `768MiB`,
/// or plain bytes. Units are binary (M = 1024 × 1024), as memory is counted.
struct ByteSize: ExpressibleByArgument, Equatable, CustomStringConvertible {
    let bytes: Int

    /// Less than this and vqueue cannot even load libav.
    static let smallest = 32 << 20
    /// More than this is no limit at all (and overflows the arithmetic).
    static let largest = 1 << 50

    init(bytes: Int) { self.bytes = bytes }

    init?(argument: String) {
        guard let total = Self.parse(argument), total >= Double(Self.smallest), total <= Double(Self.largest) else { return nil }
        bytes = Int(total.rounded())
    }

    /// `512M`, `4G`, `1.5GiB`, `300000`: bytes (powers of 1024), any size above zero.
    static func parse(_ argument: String) -> Double? {
        var text = Substring(argument.trimmingCharacters(in: .whitespaces))
        for suffix in ["iB", "B"] where text.hasSuffix(suffix) && text.count > suffix.count {
            text = text.dropLast(suffix.count)
            break
        }
        let units: [Character: Double] = ["K": 0x1p10, "M": 0x1p20, "G": 0x1p30, "T": 0x1p40, "P": 0x1p50]
        var multiplier = 1.0
        if let last = text.last?.uppercased().first, let unit = units[last] {
            multiplier = unit
            text = text.dropLast()
        }
        guard let value = Double(text), value.isFinite, value > 0 else { return nil }
        return value * multiplier
    }

    var description: String {
        bytes % (1 << 30) == 0 ? "\(bytes >> 30)G" : bytes % (1 << 20) == 0 ? "\(bytes >> 20)M" : "\(bytes)"
    }

    static var defaultValueDescription: String { "512M" }
}
