import ArgumentParser
import Foundation
import JobQueue
import TranscodeJobs

struct PruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Delete finished jobs older than a given age, and their events.",
        usage: "vqueue prune --older-than <duration> [--state <states>] [<options>]",
        discussion: """
        Never touches queued or running jobs. Workers that stopped or went away before that \
        age go too. Deletes in short transactions, so running workers are never held up (no \
        healthy job is rescued because prune held the database). The freed space is then \
        given back to the file system a little at a time (SQLite: incremental vacuum; \
        PostgreSQL: VACUUM, which blocks nobody). Prints how many jobs were deleted. A failed \
        split job's work folder (its chunks, kept for a retry) is removed with the job, when it \
        is this user's: run prune as the workers' user, on a box that sees OUT's folder.

        An SQLite queue created before incremental compaction existed needs --compact once: \
        a full VACUUM that blocks writers while it runs (seconds on a big queue) and \
        switches the file to incremental compaction for every later prune.

        Examples:
          vqueue prune --older-than 7d
          vqueue prune --older-than 1d --state succeeded
        """)

    @Option(help: ArgumentHelp("Age of the jobs to delete, by when they finished: 12h, 7d.", valueName: "duration"))
    var olderThan: TimeSpan

    @Option(help: ArgumentHelp("States to delete, comma-separated.", valueName: "states"),
            completion: .list(JobState.allCases.filter(\.isFinished).map(\.rawValue)))
    var state = "succeeded,failed,cancelled"

    @Flag(help: "Compact the whole database file in one pass (blocks writers while it runs).")
    var compact = false

    @OptionGroup(title: "Queue")
    var queueOptions: QueueOptions

    var states: [JobState] {
        state.split(separator: ",").compactMap { JobState(rawValue: $0.trimmingCharacters(in: .whitespaces)) }
    }

    func validate() throws {
        for name in state.split(separator: ",") {
            let trimmed = name.trimmingCharacters(in: .whitespaces)
            guard let known = JobState(rawValue: trimmed) else {
                throw ValidationError("unknown state '\(trimmed)'; use succeeded, failed, cancelled.")
            }
            if !known.isFinished { throw ValidationError("prune never deletes \(trimmed) jobs; use succeeded, failed, cancelled.") }
        }
    }

    func run() async throws {
        let store = try await queueOptions.openStore()
        let cutoff = try await store.now() - olderThan.seconds
        // A failed split job's work folder, kept for its retry, goes with it.
        let count = try await store.prune(finishedBefore: cutoff, states: states) { wholes in
            for whole in wholes { TranscodeJobHandler.removeKeptParts(of: whole) }
        }
        if compact { try await store.compact(full: true) }
        print(count)
    }
}
