import ArgumentParser
import Transcode

/// A duration as users write it everywhere in vqueue: `500ms`, `5s`, `10m`,
/// `2h`, or several together (`1h30m`).
struct TimeSpan: ExpressibleByArgument, Equatable, CustomStringConvertible {
    let seconds: Double

    init(seconds: Double) { self.seconds = seconds }

    /// Ten years: longer is no limit at all, and past it a deadline overflows
    /// the clocks that would keep it.
    static let longest = TranscodeOptions.longestTimeLimit

    init?(argument: String) {
        let units: [(suffix: String, seconds: Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        var rest = Substring(argument.trimmingCharacters(in: .whitespaces).lowercased())
        var total = 0.0
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            let letters = rest.prefix { $0.isLetter }
            // "ms" must be tried before "m" and "s".
            guard let unit = units.first(where: { $0.suffix == letters }) else { return nil }
            rest = rest.dropFirst(letters.count)
            total += value * unit.seconds
        }
        guard total > 0, total <= Self.longest else { return nil }
        seconds = total
    }

    var description: String {
        if seconds < 1 { return "\(Int((seconds * 1000).rounded()))ms" }
        if seconds.truncatingRemainder(dividingBy: 3600) == 0 { return "\(Int(seconds / 3600))h" }
        if seconds.truncatingRemainder(dividingBy: 60) == 0 { return "\(Int(seconds / 60))m" }
        return seconds == seconds.rounded() ? "\(Int(seconds))s" : "\(seconds)s"
    }
}
