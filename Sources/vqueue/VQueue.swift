import ArgumentParser
import CBuildInfo

@main
struct VQueue: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vqueue",
        abstract: "A video transcoding farm in one binary: queue uploads, transcode them to web video.",
        discussion: """
        Examples:
          id=$(vqueue submit upload.avi video.flv -b 200k)
          vqueue worker --concurrency 8
          vqueue status "$id"
          vqueue transcode upload.avi video.flv -b 200k
          vqueue probe upload.avi --json

        The queue database: --db PATH, else $VQUEUE_DB, else ~/.local/share/vqueue/queue.db.
        """,
        version: VQueue.version,
        subcommands: [SubmitCommand.self, WorkerCommand.self, StatusCommand.self, ListCommand.self,
                      CancelCommand.self, RetryCommand.self, WorkersCommand.self, EventsCommand.self,
                      TopCommand.self, PruneCommand.self, ServeCommand.self, TranscodeCommand.self, ProbeCommand.self])

    /// `vqueue --version`: "vqueue 0.3.0 (commit 359c40c1a2b3)"; the commit
    /// when built from a git checkout ("+changes" when it had some).
    static var version: String {
        let commit = String(cString: vq_build_commit())
        return "vqueue \(String(cString: vq_build_version()))" + (commit.isEmpty ? "" : " (commit \(commit))")
    }

    /// ArgumentParser's entry point, given the arguments byte for byte
    /// (`CommandLine.arguments` would replace bytes that are not UTF-8 in a
    /// file name with U+FFFD and the file would never be found again), and
    /// with one difference: an error of the queue database, whichever
    /// command meets it, is one line and exit 75 rather than ArgumentParser's
    /// "Error: …" and exit 1.
    static func main() async {
        await main(CommandLineBytes.arguments())
    }

    static func main(_ arguments: [String]) async {
        if let mistyped = SubcommandSuggestion.error(for: arguments) {
            exit(withError: ValidationError(mistyped))
        }
        do {
            var command = try parseAsRoot(arguments)
            if var asynchronous = command as? AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try command.run()
            }
        } catch {
            if let refusal = error as? CommandRefusal ?? StoreFailure.report(error) {
                StandardError.write(refusal.line)
                exit(withError: ExitCode(refusal.exitCode))
            }
            exit(withError: error)
        }
    }
}
