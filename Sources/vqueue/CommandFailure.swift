import ArgumentParser
import Foundation

/// Prints a command's failure the one way vqueue does (one line on stderr:
/// `vqueue: error: SUBJECT: what is wrong`) and gives the exit code to end with.
enum CommandFailure {
    static func report(_ subject: String, _ message: String, exitCode: Int32 = 1) -> ExitCode {
        StandardError.write("vqueue: error: \(subject): \(message)\n")
        return ExitCode(exitCode)
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
