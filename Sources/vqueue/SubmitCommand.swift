import ArgumentParser
import Foundation
import JobQueue
import Transcode

struct SubmitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Queue a transcode and print its job id at once.",
        discussion: """
        Everything that can be checked before queueing is: IN exists and is readable, OUT's
        folder exists and is writable, OUT is not IN, OUT does not exist (unless --overwrite),
        OUT's extension is .flv, .mp4, .m4v or .mkv, and the options are valid. A refusal is
        one line on stderr and queues nothing. Paths are stored absolute.

        Examples:
          id=$(vqueue submit upload.avi /srv/video/42.flv -b 200k)
          vqueue submit in.mov out.mp4 --preset 720p --priority 10 --queue fast
          vqueue submit in.mkv out.mp4 --wait        # exit status as for `vqueue status`
        """)

    @Argument(help: ArgumentHelp("The file to transcode.", valueName: "in"))
    var input: String

    @Argument(help: ArgumentHelp("The file to write: .flv, .mp4, .m4v or .mkv.", valueName: "out"))
    var output: String

    @OptionGroup(title: "Output")
    var transcodeOptions: TranscodeOptionGroup

    @Flag(help: "Replace OUT if it exists when the job runs.")
    var overwrite = false

    @Option(help: ArgumentHelp("Queue name; workers take from the queues they are given. Default: default.", valueName: "name"))
    var queue = "default"

    @Option(help: ArgumentHelp("Higher runs first. Default: 0.", valueName: "n"))
    var priority = 0

    @Option(help: ArgumentHelp("Attempts before a transiently failing job fails for good. Default: 3.", valueName: "n"))
    var maxAttempts = 3

    @Flag(help: "Wait for the job to finish (progress bar on a terminal); exit as `vqueue status` does.")
    var wait = false

    @Flag(help: "Print the job as a JSON object instead of its id.")
    var json = false

    @OptionGroup(title: "Queue")
    var queueOptions: QueueOptions

    func validate() throws {
        if !(1...100).contains(maxAttempts) { throw ValidationError("--max-attempts must be between 1 and 100.") }
        if queue.isEmpty { throw ValidationError("--queue needs a name.") }
    }

    func run() async throws {
        let job = try SubmissionCheck.transcodeJob(input: input, output: output,
                                                   options: transcodeOptions.options, overwrite: overwrite)
        let store = try queueOptions.openStore()
        let submitted: Job
        do {
            submitted = try await store.submit([NewJob(kind: TranscodeJob.kind, payload: try job.encoded(), queue: queue,
                                                       priority: priority, maxAttempts: maxAttempts)], batchID: nil)[0]
        } catch {
            throw CommandFailure.report(queueOptions.location, "could not queue the job: \(QueueErrorText.describe(error))")
        }
        print(json ? try JobReport.json(JobReport(submitted)) : String(submitted.id))
        guard wait else { return }
        try await StatusCommand.finish(waitingFor: submitted.id, store: store, timeout: nil, json: false)
    }
}

/// The checks `submit` makes before anything is queued.
enum SubmissionCheck {
    static func transcodeJob(input: String, output: String, options: TranscodeOptions, overwrite: Bool) throws -> TranscodeJob {
        let inputPath = absolute(input)
        let outputPath = absolute(output)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: inputPath, isDirectory: &isDirectory) else {
            throw CommandFailure.report(input, "no such file")
        }
        guard !isDirectory.boolValue else { throw CommandFailure.report(input, "is a folder, not a video file") }
        guard FileManager.default.isReadableFile(atPath: inputPath) else {
            throw CommandFailure.report(input, "cannot be read (permission denied)")
        }
        do {
            try OutputTarget.validate(input: inputPath, output: outputPath, overwrite: overwrite)
        } catch {
            throw CommandFailure.report(output, error.description)
        }
        return TranscodeJob(input: inputPath, output: outputPath, options: options, overwrite: overwrite)
    }

    /// Relative to the current folder, `..` and `.` resolved (symlinks are
    /// kept: the worker resolves them when it opens the file).
    static func absolute(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }
}
