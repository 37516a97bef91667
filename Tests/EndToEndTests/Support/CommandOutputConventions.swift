import Foundation
import Testing

// What vqueue may print, as the contract has it: results on stdout, messages on stderr, no terminal
// control characters when there is no terminal.

/// What a successful run may print: nothing on stdout, on stderr only `vqueue: warning:` lines and no
/// terminal control characters (there is no terminal).
func expectQuietSuccess(_ result: ProcessResult, allowWarnings: Bool = true,
                        sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(result.exitCode == 0, "\(result)", sourceLocation: sourceLocation)
    #expect(result.stdout.isEmpty, "stdout must stay empty: \(result)", sourceLocation: sourceLocation)
    expectNoControlCharacters(result.stderr, sourceLocation: sourceLocation)
    let stray = result.stderrLines.filter { !(allowWarnings && $0.hasPrefix("vqueue: warning: ")) }
    #expect(stray.isEmpty, "unexpected stderr lines: \(stray)", sourceLocation: sourceLocation)
}

/// No ESC or carriage return: a progress bar must not be drawn into a pipe or log file.
func expectNoControlCharacters(_ bytes: Data, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(!bytes.contains(0x1b), "ESC found in output not going to a terminal", sourceLocation: sourceLocation)
    #expect(!bytes.contains(0x0d), "carriage return found in output not going to a terminal",
            sourceLocation: sourceLocation)
}

/// How every refusal must look to a script: exit 1, nothing on stdout, exactly one
/// `vqueue: error: ...` line on stderr that names the file.
func expectOneLineError(_ result: ProcessResult, naming fileName: String,
                        sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(result.exitCode == 1, "\(result)", sourceLocation: sourceLocation)
    #expect(result.stdout.isEmpty, "stdout must stay empty on failure: \(result)", sourceLocation: sourceLocation)
    #expect(result.stderrLines.count == 1, "exactly one stderr line expected: \(result)", sourceLocation: sourceLocation)
    if let line = result.stderrLines.first {
        #expect(line.hasPrefix("vqueue: error: "), "error line format: \(line)", sourceLocation: sourceLocation)
        #expect(line.contains(fileName), "error must name \(fileName): \(line)", sourceLocation: sourceLocation)
    }
    expectNoControlCharacters(result.stderr, sourceLocation: sourceLocation)
}
