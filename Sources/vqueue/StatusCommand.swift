import ArgumentParser
import Foundation
import JobQueue

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show where a job (or a batch) stands.",
        usage: "vqueue status (<id> | --batch <id>) [--json] [--wait] [<options>]",
        discussion: """
        Exit status: 0 succeeded, 1 failed, 2 cancelled, 3 not finished yet (queued, retrying \
        or running), 4 no such job, 64 bad usage. For a batch: 0 only when every job \
        succeeded, 3 while any is unfinished, then 1 if any failed, else 2.

        Examples:
          vqueue status 42
          vqueue status 42 --json | jq -r .state
          vqueue status 42 --wait --timeout 10m && echo done
          vqueue status --batch 7 --wait
        """)

    @OptionGroup
    var target: JobOrBatch

    @Flag(help: "Print a JSON object (fields in the README).")
    var json = false

    @Flag(help: "Wait until it finishes (progress bar on a terminal).")
    var wait = false

    @Option(help: ArgumentHelp("With --wait: give up after this long (exit 3): 30s, 10m.", valueName: "duration"))
    var timeout: TimeSpan?

    @OptionGroup(title: "Queue")
    var queueOptions: QueueOptions

    func validate() throws {
        if timeout != nil && !wait { throw ValidationError("--timeout only applies with --wait.") }
    }

    func run() async throws {
        let store = try await queueOptions.openStore()
        if let batch = target.batch {
            try await Self.finish(waitingForBatch: batch, store: store, timeout: wait ? timeout?.seconds ?? .infinity : 0, json: json)
        } else if let id = target.id {
            try await Self.finish(waitingFor: id, store: store, timeout: wait ? timeout?.seconds ?? .infinity : 0, json: json)
        }
    }

    /// Waits for the job (for at most `timeout` seconds; nil: until it
    /// finishes), prints it and exits with its status code.
    static func finish(waitingFor id: Int64, store: any JobStore, timeout: Double?, json: Bool) async throws {
        let waiter = Waiter<JobReport>(fetch: {
                                           guard let job = try await store.job(id: id) else { return nil }
                                           return try await JobReport.load(job, store: store)
                                       },
                                       isFinished: { $0.job.state.isFinished },
                                       progress: { report in
                                           guard report.job.state == .running || report.fps != nil else { return nil }
                                           return .init(fraction: report.progress, fps: report.fps, eta: report.eta,
                                                        mediaDone: report.progress * report.job.weight)
                                       },
                                       unserved: { report in try await WorkerAvailability.whyUnserved(report.job, store: store) },
                                       timeout: timeout)
        guard let report = try await waiter.wait() else {
            throw CommandFailure.report("job \(id)", "no such job", exitCode: noSuchJobExitCode)
        }
        print(json ? try JobReport.json(report) : report.line)
        if report.exitCode != 0 { throw ExitCode(report.exitCode) }
    }

    /// Waits for the batch, polling only its counts (one aggregate query,
    /// cheap however many jobs it has), then prints it whole.
    static func finish(waitingForBatch id: Int64, store: any JobStore, timeout: Double?, json: Bool) async throws {
        let waiter = Waiter<BatchSummary>(fetch: { try await store.batchSummary(id: id) }, isFinished: \.isFinished,
                                          progress: { summary in
                                              .init(fraction: summary.progress, fps: summary.fps, eta: BatchReport.eta(summary),
                                                    mediaDone: summary.doneWeight, note: "\(summary.finished) of \(summary.total) done")
                                          },
                                          unserved: { summary in try await WorkerAvailability.whyUnserved(summary, store: store) },
                                          timeout: timeout)
        guard try await waiter.wait() != nil, let jobs = try await store.batch(id: id) else {
            throw CommandFailure.report("batch \(id)", "no such batch", exitCode: noSuchJobExitCode)
        }
        let report = BatchReport(id: id, jobs: jobs)
        if json {
            print(try JobReport.json(report))
        } else {
            report.lines.forEach { print($0) }
        }
        if report.exitCode != 0 { throw ExitCode(report.exitCode) }
    }
}
