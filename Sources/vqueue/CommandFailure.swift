import ArgumentParser
import Foundation

/// A command's refusal or failure as a value: what it is about, what is
/// wrong, the exit code, and, where there is one, a stable code
/// (`input_unreadable`…). The command line prints it the one way vqueue does
/// (`vqueue: error: SUBJECT: what is wrong`, one line on stderr, `VQueue.main`);
/// `vqueue serve` answers it as a JSON error.
struct CommandRefusal: Error, CustomStringConvertible {
    let subject: String
    let message: String
    let exitCode: Int32
    let code: String?

    var description: String { "\(subject): \(message)" }
    var line: String { "vqueue: error: \(description)\n" }
}

enum CommandFailure {
    static func report(_ subject: String, _ message: String, exitCode: Int32 = 1, code: String? = nil) -> CommandRefusal {
        CommandRefusal(subject: subject, message: message, exitCode: exitCode, code: code)
    }

    static func warn(_ subject: String, _ message: String) {
        StandardError.write("vqueue: warning: \(subject): \(message)\n")
    }
}

/// Unbuffered writes to stderr.
enum StandardError {
    static func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }

    static var isTerminal: Bool { isatty(STDERR_FILENO) == 1 }
}
