import ArgumentParser
import Foundation
import JobQueue
import Transcode
import TranscodeJobs
import Webhooks

struct SubmitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Queue a transcode (or a batch of them) and print its id at once.",
        discussion: """
        Everything that can be checked before queueing is: IN exists and is readable, libav \
        recognises it as one media file with a video stream within the picture-size limit, \
        OUT's folder exists and is writable, OUT is not IN, OUT does not exist (unless \
        --overwrite) and no unfinished job writes it, neither do the poster and storyboard \
        --poster and --storyboard write beside a single file (out.poster.jpg …), OUT's \
        extension is .flv, .mp4, .m4v or .mkv (or .hls), and the options are valid. A refusal is one line on stderr and queues nothing \
        (exit 1; 64 for bad usage; 75 when the queue database cannot be reached). Paths are \
        stored absolute.

        --meta KEY=VALUE attaches the site's own strings (an upload id, a user id) to the job; \
        `status --json`, `list --json` and `events --json` return them as "meta". Keys are 1 to \
        64 of A-Z a-z 0-9 _ . -; at most 32 pairs and 4 KiB in all.

        --notify URL: when the job ends (succeeded, failed for good, or cancelled), a worker \
        POSTs its JSON there (as `status --json` prints it), signed as Standard Webhooks say; \
        for a batch, once per job and once more when the whole batch has ended. See the \
        README, "Webhooks". Only http and https URLs.

        --key K makes a retried submit safe: when a job with that key exists, whatever its \
        state, its id is printed (exit 0) and nothing new is queued.

        --split makes one long video a job made of parts that any worker on any box takes: \
        one per --chunk of the video (30s by default; every rung of an HLS ladder, and the \
        chunk's share of the poster and storyboard), one for the audio, and the job itself \
        joins them into OUT without re-encoding when they have all succeeded. `--split auto` \
        splits only an input over three chunks long when the farm has more than one worker \
        slot. See the README, "One long video across the farm".

        A batch (--out-dir DIR --format F IN...) queues one job per input, writing \
        DIR/<input name without extension>.F; it prints the batch id, then one job id per \
        line. Every input is checked before any job is queued: all or nothing. Two inputs \
        that would write the same output are refused.

        Examples:
          id=$(vqueue submit upload.avi /srv/video/42.flv -b 200k)
          id=$(vqueue submit --key upload-42 upload.avi /srv/video/42.flv)
          vqueue submit upload.avi /srv/video/42.mp4 --meta upload=42 --meta user=7
          vqueue submit in.mov out.mp4 --preset 720p --priority 10 --queue fast
          vqueue submit in.mkv out.mp4 --wait       # exit status as for `vqueue status`
          vqueue submit lecture.mov lecture.mp4 --split --chunk 1m
          vqueue submit --out-dir /srv/video --format mp4 uploads/*.mov
        """)

    @Argument(help: ArgumentHelp("IN OUT, or with --out-dir the inputs.", valueName: "file"), completion: .file())
    var files: [String] = []

    @Option(help: ArgumentHelp("Batch: write each input's output into this folder.", valueName: "dir"),
            completion: .directory)
    var outDir: String?

    @Option(help: ArgumentHelp("Batch: the outputs' container.", valueName: "format"))
    var format: OutputContainer?

    @OptionGroup(title: "Output")
    var transcodeOptions: TranscodeOptionGroup

    @Flag(help: "Replace OUT if it exists when the job runs.")
    var overwrite = false

    @Flag(help: "Split the video into chunks any worker encodes, joined into OUT without re-encoding; `--split auto`: only when the input lasts over three chunks and the farm has more than one worker slot.")
    var split = false

    @Option(help: ArgumentHelp("With --split: the chunks' length (default 30s).", valueName: "time"))
    var chunk: TimeSpan?

    @Option(help: ArgumentHelp("Queue name; workers take from the queues they are given.", valueName: "name"))
    var queue = "default"

    // Unconditional, so that `--priority -1` reads -1 rather than an unknown option.
    @Option(parsing: .unconditional, help: ArgumentHelp("Higher runs first; may be negative.", valueName: "n"))
    var priority = 0

    @Option(help: ArgumentHelp("An idempotency key: if a job with this key exists, print its id instead of queueing another.",
                               valueName: "key"))
    var key: String?

    @Option(help: ArgumentHelp("Attempts before a transiently failing job fails for good.", valueName: "n"))
    var maxAttempts = 3

    @Option(name: .customLong("meta"), help: ArgumentHelp(
        "Attach KEY=VALUE to the job (repeatable; each job of a batch): returned in every JSON view of it.",
        valueName: "key=value"))
    var metaArguments: [String] = []

    @Option(help: ArgumentHelp("POST the job's JSON to this URL when it ends (a batch: also when all of it has ended).",
                               valueName: "url"))
    var notify: String?

    @Flag(help: "Wait for the job (or batch) to finish (progress bar on a terminal); exit as `vqueue status` does.")
    var wait = false

    @Flag(help: "Print the job (or batch) as a JSON object instead of ids.")
    var json = false

    @OptionGroup(title: "Queue")
    var queueOptions: QueueOptions

    func validate() throws {
        if !(1...100).contains(maxAttempts) { throw ValidationError("--max-attempts must be between 1 and 100.") }
        if queue.isEmpty { throw ValidationError("--queue needs a name.") }
        if let key, key.isEmpty || key.utf8.count > 255 { throw ValidationError("--key takes 1 to 255 bytes.") }
        _ = try meta()
        if let notify {
            do { _ = try WebhookURL.check(notify) } catch { throw ValidationError("--notify: \(error.description).") }
        }
        if key != nil && outDir != nil { throw ValidationError("--key goes with a single job, not a batch.") }
        if chunk != nil && !split { throw ValidationError("--chunk goes with --split.") }
        if let chunk, chunk.seconds < 1 { throw ValidationError("--chunk takes 1s or more.") }
        if split && outDir != nil { throw ValidationError("--split goes with a single job, not a batch.") }
        if outDir == nil {
            if format != nil { throw ValidationError("--format goes with --out-dir (a batch); a single job takes OUT's extension.") }
            guard let (_, output) = inputAndOutput else {
                throw ValidationError("give IN and OUT, or --out-dir DIR --format F and the inputs.")
            }
            if let container = try? OutputContainer(path: output) {
                try transcodeOptions.validate(for: container)
                if split && transcodeOptions.allowPartial {
                    throw ValidationError("--split does not take --allow-partial yet; submit without --split for it.")
                }
            }
        } else {
            guard let format else {
                throw ValidationError("a batch needs --format flv, mp4, mkv or hls.")
            }
            try transcodeOptions.validate(for: format)
            if files.isEmpty { throw ValidationError("give the inputs to transcode into --out-dir.") }
        }
    }

    func run() async throws {
        LibAVLogging.configure(verbose: false)
        let options = transcodeOptions.options
        if let outDir, let format {
            try await submitBatch(outDir: outDir, format: format, options: options)
            return
        }
        // A retried submit finds its job by key even if the upload has moved on since.
        if let key, let store = try await existingStore(), let existing = try await store.job(key: key) {
            try await report(existing, store: store)
            return
        }
        // Checked before the store is opened: a refusal leaves no database behind.
        let checked = try checkedJob(options: options)
        let store = try await queueOptions.openStore(createFolder: true)
        try await report(try await queue(checked, to: store).job, store: store)
    }

    /// One job into an open store (`vqueue serve`'s POST /v1/jobs): the job
    /// with this key if there is one, else checked and queued.
    func submitOne(to store: SQLJobStore) async throws -> Submitted {
        if let key, let existing = try await store.job(key: key) { return Submitted(job: existing, isNew: false) }
        return try await queue(try checkedJob(options: transcodeOptions.options), to: store)
    }

    /// IN and OUT of a single job: the two files, or with `--split auto` the
    /// two besides `auto`; nil when they are not so given.
    var inputAndOutput: (input: String, output: String)? {
        if files.count == 2 { return (files[0], files[1]) }
        guard split, files.count == 3 else { return nil }
        if files[0] == "auto" { return (files[1], files[2]) }
        if files[2] == "auto" { return (files[0], files[1]) }
        return nil
    }

    /// `--split auto` (rather than `--split`).
    private var splitsWhenWorthIt: Bool { split && files.count == 3 }

    private func checkedJob(options: TranscodeOptions) throws -> (job: TranscodeJob, duration: Double?) {
        guard let (input, output) = inputAndOutput else { throw ValidationError("give IN and OUT.") }
        return try SubmissionCheck.transcodeJob(input: input, output: output, options: options, overwrite: overwrite)
    }

    private func queue(_ checked: (job: TranscodeJob, duration: Double?), to store: SQLJobStore) async throws -> Submitted {
        var job = try newJob(checked.job, weight: checked.duration ?? 1, key: key)
        let length = chunk?.seconds ?? SplitSubmission.defaultLength
        var splitting = split
        if splitting && splitsWhenWorthIt {
            splitting = SplitSubmission.worthSplitting(duration: checked.duration, length: length, queue: queue,
                                                       workers: try await store.workers(), now: try await store.now())
        }
        if splitting {
            let (stitch, parts) = try SplitSubmission(length: length).plan(checked.job, duration: checked.duration)
            job.payload = try stitch.encoded()
            job.parts = try parts.map { part in
                NewJob(kind: TranscodeJob.kind, payload: try part.job.encoded(), queue: queue, priority: priority,
                       maxAttempts: maxAttempts, weight: part.weight)
            }
        }
        let split = job
        return try await queueing(output: checked.job.output) { try await store.submit([split])[0] }
    }

    /// The checked `--meta` pairs.
    private func meta() throws -> JobMeta {
        do {
            return try JobMeta(arguments: metaArguments)
        } catch {
            throw ValidationError("\(error).")
        }
    }

    /// The store, if its database exists already (an SQLite file that is
    /// not there yet holds no keys).
    private func existingStore() async throws -> SQLJobStore? {
        if case .sqlite(let path) = try? QueueLocation(queueOptions.text), !FileManager.default.fileExists(atPath: path) {
            return nil
        }
        return try await queueOptions.openStore(createFolder: true)
    }

    /// The job's id (or JSON), or with --wait the job as it ends.
    private func report(_ job: Job, store: SQLJobStore) async throws {
        if wait {
            try await StatusCommand.finish(waitingFor: job.id, store: store, timeout: nil, json: json)
        } else {
            print(json ? try JobReport.json(try await JobReport.load(job, store: store)) : String(job.id))
        }
    }

    private func submitBatch(outDir: String, format: OutputContainer, options: TranscodeOptions) async throws {
        // Checked before the store is opened: a refusal leaves no database behind.
        let jobs = try batchJobs(outDir: outDir, format: format, options: options)
        let store = try await queueOptions.openStore(createFolder: true)
        let (batchID, queued, submitted) = try await queueBatch(jobs, to: store)
        if wait {
            try await StatusCommand.finish(waitingForBatch: batchID, store: store, timeout: nil, json: json)
        } else if json {
            print(try JobReport.json(BatchReport(id: batchID, jobs: queued)))
        } else {
            print(batchID)
            for job in submitted { print(job.id) }
        }
    }

    /// A batch into an open store (`vqueue serve`'s POST /v1/batches): its id
    /// and its jobs in id order.
    func submitBatch(to store: SQLJobStore) async throws -> (batchID: Int64, jobs: [Job]) {
        guard let outDir, let format else { throw ValidationError("a batch needs --out-dir and --format.") }
        let queued = try await queueBatch(try batchJobs(outDir: outDir, format: format, options: transcodeOptions.options), to: store)
        return (queued.batchID, queued.inIDOrder)
    }

    /// Every input checked, as jobs weighted by media duration (batch progress is).
    private func batchJobs(outDir: String, format: OutputContainer, options: TranscodeOptions) throws -> [NewJob] {
        try SubmissionCheck.batch(inputs: files, outDir: outDir, format: format, options: options, overwrite: overwrite)
            .map { try newJob($0.job, weight: $0.duration ?? 1, key: nil) }
    }

    /// Queues a batch longest first: workers take jobs in id order, and
    /// starting the long ones early keeps every core busy to the end of the
    /// batch instead of one core finishing a long job alone. Returns the jobs
    /// in id order and in the order of the inputs (as ids are printed).
    private func queueBatch(_ jobs: [NewJob], to store: SQLJobStore) async throws
        -> (batchID: Int64, inIDOrder: [Job], inInputOrder: [Job]) {
        let longestFirst = jobs.indices.sorted { jobs[$0].weight > jobs[$1].weight }
        let (batchID, queued) = try await queueing(output: nil) { try await store.submitBatch(longestFirst.map { jobs[$0] }) }
        var inInputOrder = queued
        for (position, index) in longestFirst.enumerated() { inInputOrder[index] = queued[position] }
        return (batchID, queued, inInputOrder)
    }

    private func newJob(_ job: TranscodeJob, weight: Double, key: String?) throws -> NewJob {
        NewJob(kind: TranscodeJob.kind, payload: try job.encoded(), queue: queue, priority: priority,
               maxAttempts: maxAttempts, weight: max(weight, 0.001), target: job.output, key: key, meta: try meta(),
               notify: notify)
    }

    /// Runs the store's submit; another unfinished job writing the same OUT
    /// is a refusal naming that job.
    private func queueing<T>(output: String?, _ work: () async throws -> T) async throws -> T {
        do {
            return try await work()
        } catch let busy as JobStoreError {
            guard case .targetBusy(let target, let jobID) = busy else { throw busy }
            throw CommandFailure.report(DisplayText.escaped(output ?? target),
                                        "job \(jobID) is already queued or running to write this file; "
                                        + "wait for it or cancel it, or choose another output", code: "output_busy")
        }
    }
}

/// The checks `submit` makes before anything is queued.
enum SubmissionCheck {
    /// The job, and the input's duration (its weight in a batch), or a
    /// one-line refusal. The input is opened once and judged by what was
    /// opened (a regular file libav recognises as one media file with a
    /// video stream within the picture limit), as the worker will judge it.
    static func transcodeJob(input: String, output: String, options: TranscodeOptions,
                             overwrite: Bool) throws -> (job: TranscodeJob, duration: Double?) {
        let inputPath = absolute(input)
        let outputPath = absolute(output)
        let file: InputFile
        let media: MediaInfo
        do {
            file = try InputFile(path: inputPath)
        } catch {
            throw CommandFailure.report(DisplayText.escaped(input), error.description, code: error.code)
        }
        do {
            try OutputTarget.validate(input: file.identity, output: outputPath, overwrite: overwrite, options: options)
        } catch {
            throw CommandFailure.report(DisplayText.escaped(output), error.description, code: error.code)
        }
        let folder: OutputFolder
        do {
            folder = try OutputFolder(containing: outputPath)
        } catch {
            throw CommandFailure.report(DisplayText.escaped(output), error.description, code: error.code)
        }
        do {
            media = try MediaProbe.checkTranscodable(file: file, maxPixels: options.maxPixels)
        } catch {
            throw CommandFailure.report(DisplayText.escaped(input), error.description, code: error.code)
        }
        return (TranscodeJob(input: inputPath, output: outputPath, options: options, overwrite: overwrite,
                             inputFile: SubmittedFile(file), outputFolder: SubmittedFolder(folder)), media.duration)
    }

    /// One job per input into `outDir`, every input checked first and no two
    /// writing the same output.
    static func batch(inputs: [String], outDir: String, format: OutputContainer, options: TranscodeOptions,
                      overwrite: Bool) throws -> [(job: TranscodeJob, duration: Double?)] {
        var seen: [String: String] = [:]
        return try inputs.map { input in
            let name = URL(fileURLWithPath: input).deletingPathExtension().lastPathComponent
            let output = URL(fileURLWithPath: absolute(outDir)).appendingPathComponent("\(name).\(format.rawValue)").path
            if let other = seen[output] {
                throw CommandFailure.report(DisplayText.escaped(input), "would write \(DisplayText.escaped(output)), as "
                                            + "\(DisplayText.escaped(other)) would; rename one of them", code: "output_busy")
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
