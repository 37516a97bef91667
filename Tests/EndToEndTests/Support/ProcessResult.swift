import Foundation

/// How a child process ended.
enum Termination: Equatable, Sendable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    var description: String {
        switch self {
        case .exited(let code): "exit \(code)"
        case .signaled(let signal): "killed by signal \(signal)"
        }
    }
}

/// Everything a finished child process left behind.
struct ProcessResult: Sendable, CustomStringConvertible {
    let command: [String]
    let termination: Termination
    let stdout: Data
    let stderr: Data
    let elapsed: Duration
    let timedOut: Bool
    /// When it ended on the wall clock, where known.
    var ended: Date? = nil

    var exitCode: Int32? {
        if case .exited(let code) = termination { code } else { nil }
    }
    var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    var stderrText: String { String(decoding: stderr, as: UTF8.self) }
    var stdoutLines: [String] { Self.nonEmptyLines(stdoutText) }
    /// Lines of stderr that hold something besides white space.
    var stderrLines: [String] { Self.nonEmptyLines(stderrText) }

    var description: String {
        let shown = command.map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " ")
        return """
            $ \(shown)
            -> \(termination)\(timedOut ? " (timed out)" : "") after \(elapsed)
            stdout: \(stdoutText.prefix(2000))
            stderr: \(stderrText.prefix(2000))
            """
    }

    private static func nonEmptyLines(_ text: String) -> [String] {
        text.split(whereSeparator: \.isNewline)
            .map(String.init)
            .filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
    }
}
