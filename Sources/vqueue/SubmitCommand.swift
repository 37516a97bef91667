import ArgumentParser
import Foundation
import JobQueue
import Transcode

struct SubmitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Queue a transcode (or a batch of them) and print its id at once.",
        discussion: """
        Everything that can be checked before queueing is: IN exists and is readable, OUT's
        folder exists and is writable, OUT is not IN, OUT does not exist (unless --overwrite),
        OUT's extension is .flv, .mp4, .m4v or .mkv, and the options are valid. A refusal is
        one line on stderr and queues nothing. Paths are stored absolute.

        A batch (--out-dir DIR --format F IN...) queues one job per input, writing
        DIR/<input name without extension>.F; it prints the batch id, then one job id per
        line. Every input is checked before any job is queued: all or nothing. Two inputs
        that would write the same output are refused.

        Examples:
          id=$(vqueue submit upload.avi /srv/video/42.flv -b 200k)
          vqueue submit in.mov out.mp4 --preset 720p --priority 10 --queue fast
          vqueue submit in.mkv out.mp4 --wait        # exit status as for `vqueue status`
          vqueue submit --out-dir /srv/video --format mp4 uploads/*.mov
        """)

    @Argument(help: ArgumentHelp("IN OUT, or with --out-dir the inputs.", valueName: "file"))
    var files: [String] = []

    @Option(help: ArgumentHelp("Batch: write each input's output into this folder.", valueName: "dir"))
    var outDir: String?

    @Option(help: ArgumentHelp("Batch: the outputs' container: flv, mp4 or mkv.", valueName: "format"))
    var format: String?

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

    @Flag(help: "Wait for the job (or batch) to finish (progress bar on a terminal); exit as `vqueue status` does.")
    var wait = false

    @Flag(help: "Print the job (or batch) as a JSON object instead of ids.")
    var json = false

    @OptionGroup(title: "Queue")
    var queueOptions: QueueOptions

    func validate() throws {
        if !(1...100).contains(maxAttempts) { throw ValidationError("--max-attempts must be between 1 and 100.") }
        if queue.isEmpty { throw ValidationError("--queue needs a name.") }
        if outDir == nil {
            if format != nil { throw ValidationError("--format goes with --out-dir (a batch); a single job takes OUT's extension.") }
            if files.count != 2 { throw ValidationError("give IN and OUT, or --out-dir DIR --format F and the inputs.") }
        } else {
            guard let format, OutputContainer(rawValue: format) != nil else {
                throw ValidationError("a batch needs --format flv, mp4 or mkv.")
            }
            if files.isEmpty { throw ValidationError("give the inputs to transcode into --out-dir.") }
        }
    }

    func run() async throws {
        let options = transcodeOptions.options
        if let outDir, let format {
            try await submitBatch(outDir: outDir, format: format, options: options)
            return
        }
        let job = try SubmissionCheck.transcodeJob(input: files[0], output: files[1], options: options, overwrite: overwrite)
        let store = try await queueOptions.openStore()
        let submitted = try await queueing { try await store.submit([newJob(job, weight: 1)])[0] }
        print(json ? try JobReport.json(JobReport(submitted)) : String(submitted.id))
        guard wait else { return }
        try await StatusCommand.finish(waitingFor: submitted.id, store: store, timeout: nil, json: false)
    }

    private func submitBatch(outDir: String, format: String, options: TranscodeOptions) async throws {
        let jobs = try SubmissionCheck.batch(inputs: files, outDir: outDir, format: format, options: options, overwrite: overwrite)
        // Batch progress is weighted by media duration; an input libav cannot
        // read counts as one second (its job will fail with the reason).
        let weighted = try jobs.map { try newJob($0, weight: (try? MediaProbe.probe(path: $0.input).duration).flatMap { $0 } ?? 1) }
        // Longest first: workers take jobs in id order, and starting the long
        // ones early keeps every core busy to the end of the batch instead of
        // one core finishing a long job alone. Ids are still printed in the
        // order of the inputs.
        let longestFirst = weighted.indices.sorted { weighted[$0].weight > weighted[$1].weight }
        let store = try await queueOptions.openStore()
        let (batchID, queued) = try await queueing { try await store.submitBatch(longestFirst.map { weighted[$0] }) }
        var submitted = queued
        for (position, index) in longestFirst.enumerated() { submitted[index] = queued[position] }
        if json {
            print(try JobReport.json(BatchReport(id: batchID, jobs: queued)))
        } else {
            print(batchID)
            for job in submitted { print(job.id) }
        }
        guard wait else { return }
        try await StatusCommand.finish(waitingForBatch: batchID, store: store, timeout: nil, json: false)
    }

    private func newJob(_ job: TranscodeJob, weight: Double) throws -> NewJob {
        NewJob(kind: TranscodeJob.kind, payload: try job.encoded(), queue: queue, priority: priority,
               maxAttempts: maxAttempts, weight: max(weight, 0.001))
    }

    private func queueing<T>(_ work: () async throws -> T) async throws -> T {
        do {
            return try await work()
        } catch {
            throw CommandFailure.report(queueOptions.displayName, "could not queue: \(StoreErrorText.describe(error))")
        }
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

    /// One job per input into `outDir`, every input checked first and no two
    /// writing the same output.
    static func batch(inputs: [String], outDir: String, format: String, options: TranscodeOptions,
                      overwrite: Bool) throws -> [TranscodeJob] {
        var seen: [String: String] = [:]
        return try inputs.map { input in
            let name = URL(fileURLWithPath: input).deletingPathExtension().lastPathComponent
            let output = URL(fileURLWithPath: absolute(outDir)).appendingPathComponent("\(name).\(format)").path
            if let other = seen[output] {
                throw CommandFailure.report(input, "would write \(output), as \(other) would; rename one of them")
            }
            seen[output] = input
            return try transcodeJob(input: input, output: output, options: options, overwrite: overwrite)
        }
    }

    /// Relative to the current folder, `..` and `.` resolved (symlinks are
    /// kept: the worker resolves them when it opens the file).
    static func absolute(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }
}
