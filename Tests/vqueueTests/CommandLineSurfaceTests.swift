import ArgumentParser
import Testing
@testable import vqueue

/// What a person at a terminal meets before anything runs: help that fits 80 columns and states
/// each default once, closed sets of values the parser and the completions know, and a mistyped
/// subcommand named as such (issue 15).
@Suite struct CommandLineSurfaceTests {
    /// Every command and subcommand, with the words that reach it.
    static let commands: [(words: String, type: ParsableCommand.Type)] = {
        func walk(_ type: ParsableCommand.Type, _ words: String) -> [(String, ParsableCommand.Type)] {
            [(words, type)] + type.configuration.subcommands.flatMap { walk($0, "\(words) \($0._commandName)") }
        }
        return walk(VQueue.self, "vqueue")
    }()

    @Test("every help page fits 80 columns and no paragraph is broken by hand past 80 (which comes out ragged at 80)")
    func helpFitsEightyColumns() {
        for (words, type) in Self.commands {
            let narrow = VQueue.helpMessage(for: type, columns: 80)
            for line in narrow.split(separator: "\n") {
                #expect(line.count <= 80, "\(words) --help: \(line)")
            }
            // Wide, the parser wraps nothing: a paragraph's lines are as written. A line longer
            // than 80 may only end its paragraph (the parser wraps it cleanly); one followed by
            // more of the paragraph was broken by hand and leaves a short ragged line at 80.
            let written = VQueue.helpMessage(for: type, columns: 10_000)
                .components(separatedBy: "USAGE:")[0].split(separator: "\n", omittingEmptySubsequences: false)
            for (line, next) in zip(written, written.dropFirst()) where line.count > 80 {
                #expect(next.trimmingCharacters(in: .whitespaces).isEmpty, "\(words) --help: \(line)")
            }
        }
    }

    @Test("each default is stated once: never both our 'Default:' and the parser's '(default: …)'")
    func defaultsStatedOnce() {
        for (words, type) in Self.commands {
            for line in VQueue.helpMessage(for: type, columns: 10_000).split(separator: "\n") {
                #expect(!(line.contains("Default:") && line.contains("(default:")), "\(words) --help: \(line)")
            }
        }
    }

    @Test("help printed on one machine says nothing of it: the worker's concurrency default is words, not this box's core count")
    func helpIsTheSameOnEveryMachine() {
        let help = VQueue.helpMessage(for: WorkerRunCommand.self, columns: 10_000)
        let line = help.split(separator: "\n").first { $0.contains("Jobs to run at once") }
        #expect(line?.contains("Default: the number of cores.") == true && line?.contains("(default:") == false, "\(line ?? "")")
    }

    @Test("options with a closed set of values list them in help and in the bash, zsh and fish completions")
    func closedSetsAreKnownToTheCompletions() {
        let closedSets: [(option: String, values: [String])] = [
            ("--preset", ["240p", "360p", "480p", "720p", "1080p"]),
            ("--x264-preset", ["ultrafast", "veryfast", "veryslow"]),
            ("--format", ["flv", "mp4", "mkv"]),
            ("--state", ["queued", "running", "succeeded", "failed", "cancelled"]),
        ]
        for shell in [CompletionShell.bash, .zsh, .fish] {
            let script = VQueue.completionScript(for: shell)
            for (option, values) in closedSets {
                for value in values {
                    #expect(script.contains(value), "\(shell) completion of \(option) lacks \(value)")
                }
            }
        }
        let help = VQueue.helpMessage(for: TranscodeCommand.self, columns: 10_000)
        #expect(help.contains("(values: 240p, 360p, 480p, 720p, 1080p)"), "\(help)")
        #expect(help.contains("(values: ultrafast, superfast, veryfast, faster, fast, medium, slow, slower, veryslow)"), "\(help)")
    }

    @Test("IN and OUT complete as file names, --out-dir and --allow-dir as folders")
    func filesCompleteAsFiles() {
        let zsh = VQueue.completionScript(for: .zsh)
        for words in ["vqueue_submit", "vqueue_transcode", "vqueue_probe"] {
            guard let body = zsh.components(separatedBy: "\(words)() {").dropFirst().first?.components(separatedBy: "\n}")[0] else {
                Issue.record("no zsh function for \(words)"); continue
            }
            #expect(body.contains("_files"), "\(words): \(body)")
        }
        let bash = VQueue.completionScript(for: .bash)
        #expect(bash.contains("-d"), "bash completes folders with compgen -d")
    }

    @Test("a value outside a closed set is a usage error naming the values")
    func valueOutsideAClosedSet() {
        for (arguments, values) in [(["transcode", "in.mp4", "out.mp4", "--preset", "4k"], "240p"),
                                    (["list", "--state", "sleeping"], "queued"),
                                    (["submit", "--out-dir", "/tmp", "--format", "avi", "in.mp4"], "flv")] {
            do {
                _ = try VQueue.parseAsRoot(arguments)
                Issue.record("\(arguments) parsed")
            } catch {
                let message = VQueue.message(for: error)
                #expect(VQueue.exitCode(for: error) == .validationFailure, "\(arguments): \(message)")
                #expect(message.contains(values), "\(arguments): \(message)")
            }
        }
    }

    @Test("a mistyped subcommand is named, with the nearest one; a word that is near nothing lists them all",
          arguments: [
              (["sumbit", "in.avi", "out.flv"], "unknown command 'sumbit'; did you mean 'vqueue submit'?"),
              (["stauts", "3"], "unknown command 'stauts'; did you mean 'vqueue status'?"),
              (["wokrer"], "unknown command 'wokrer'; did you mean 'vqueue worker'?"),
              (["worker", "stpo"], "unknown command 'stpo'; did you mean 'vqueue worker stop'?"),
              (["frobnicate"], "unknown command 'frobnicate'; the commands are submit, worker, status, list, cancel, retry, workers, events, top, prune, serve, transcode, probe, help."),
          ])
    func mistypedSubcommand(_ arguments: [String], _ expected: String) {
        #expect(SubcommandSuggestion.error(for: arguments) == expected)
    }

    @Test("command lines that name real subcommands, options or arguments are left to the parser",
          arguments: [["status", "3"], ["worker"], ["worker", "--concurrency", "2"], ["worker", "stop", "--all"],
                      ["submit", "in.avi", "out.flv"], ["--help"], ["help", "submit"], [], ["--version"]])
    func rightCommandLinesPass(_ arguments: [String]) {
        #expect(SubcommandSuggestion.error(for: arguments) == nil)
    }
}
