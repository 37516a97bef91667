import ArgumentParser
import JobQueue
import Transcode
import TranscodeJobs

struct RetryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry",
        abstract: "Queue a failed or cancelled job (or a batch's failed jobs) again, with fresh attempts.",
        discussion: """
        The input and OUT's folder are checked again as `submit` checks them, as this user: a \
        fixed upload put in place of a broken one is the file transcoded; one that cannot be \
        read, or is no video, refuses the retry with one line (a batch: all or nothing).

        Exit status: 0 queued again, 1 the job is not failed or cancelled (or its input is \
        refused), 4 no such job.

        Examples:
          vqueue retry 42
          vqueue retry --batch 7
        """)

    @OptionGroup
    var target: JobOrBatch

    @OptionGroup(title: "Queue")
    var queueOptions: QueueOptions

    func run() async throws {
        LibAVLogging.configure(verbose: false)
        let store = try await queueOptions.openStore()
        if let batch = target.batch {
            let failed = try await store.batch(id: batch)?.filter { $0.state == .failed } ?? []
            var payloads: [Int64: String] = [:]
            for job in failed { payloads[job.id] = try Self.checkedAgain(job) }
            try await JobOrBatch.printBatch(batch) { id in try await retrying(id) { try await store.retryBatch(id: id, payloads: payloads) } }
            return
        }
        guard let id = target.id else { return }
        guard let before = try await store.job(id: id) else {
            throw CommandFailure.report("job \(id)", "no such job", exitCode: noSuchJobExitCode)
        }
        guard before.state == .failed || before.state == .cancelled else {
            throw CommandFailure.report("job \(id)", "is \(before.state.rawValue); only failed or cancelled jobs can be retried")
        }
        let payload = try Self.checkedAgain(before)
        let job = try await retrying(id) { try await store.retry(id: id, payload: payload) }
        // A split job's whole waits for the parts retried with it.
        guard let job, job.state == .queued || job.state == .waiting else {
            throw CommandFailure.report("job \(id)", "changed state meanwhile; not retried")
        }
        print(try await JobReport.load(job, store: store).line)
    }

    /// A transcode's payload with its input and output folder checked again
    /// (what is recorded of them is what the worker will insist on); nil
    /// for another kind of job.
    static func checkedAgain(_ job: Job) throws -> String? {
        guard job.kind == TranscodeJob.kind, let transcode = TranscodeJob.decode(job.payload) else { return nil }
        var (checked, _) = try SubmissionCheck.transcodeJob(input: transcode.input, output: transcode.output,
                                                             options: transcode.options, overwrite: transcode.overwrite)
        // A split job's whole stays its stitch.
        checked.split = transcode.split
        return try checked.encoded()
    }

    private func retrying<T>(_ id: Int64, _ work: () async throws -> T) async throws -> T {
        do {
            return try await work()
        } catch let busy as JobStoreError {
            throw CommandFailure.report(target.batch.map { "batch \($0)" } ?? "job \(id)",
                                        "not retried: \(DisplayText.escaped(busy.description))")
        }
    }
}
