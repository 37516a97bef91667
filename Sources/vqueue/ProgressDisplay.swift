import Foundation
import Transcode

/// Where progress goes: JSON lines on stdout for a supervising process, a
/// bar redrawn in place on a terminal, or nowhere (no control characters
/// ever reach a file or a pipe).
struct ProgressDisplay {
    enum Mode { case json, bar, silent }
    let mode: Mode

    init(json: Bool) {
        mode = json ? .json : (StandardError.isTerminal ? .bar : .silent)
    }

    /// `note`: words after the bar ("3 of 10 done").
    func show(_ progress: TranscodeProgress, note: String? = nil) {
        switch mode {
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            guard var line = try? encoder.encode(progress) else { return }
            line.append(UInt8(ascii: "\n"))
            FileHandle.standardOutput.write(line)
        case .bar:
            StandardError.write("\r\u{1B}[2K" + Self.bar(progress) + (note.map { "  \($0)" } ?? "") + (progress.done ? "\n" : ""))
        case .silent:
            break
        }
    }

    /// `[#########-----------]  45.0%  120 fps  ETA 0:12`
    static func bar(_ progress: TranscodeProgress, width: Int = 30) -> String {
        let filled = Int((progress.percent / 100 * Double(width)).rounded(.down))
        let bar = String(repeating: "#", count: max(0, min(width, filled))) + String(repeating: "-", count: max(0, width - filled))
        let eta = progress.eta.map { "ETA \(clock($0))" } ?? "ETA --:--"
        return String(format: "[%@] %5.1f%%  %4.0f fps  %.2fx  ", bar, progress.percent, progress.fps, progress.speed) + eta
    }

    static func clock(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        return total >= 3600
            ? String(format: "%d:%02d:%02d", total / 3600, total / 60 % 60, total % 60)
            : String(format: "%d:%02d", total / 60, total % 60)
    }
}
