import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension TestQueue {
    /// Starts `vqueue worker ARGUMENTS...` on this queue with its stderr in `logFile`, so a test can
    /// read what it has logged while it runs (`LoggedProcess`).
    func startLoggedWorker(_ arguments: [String], logFile: URL, environment extra: [String: String] = [:]) throws -> LoggedProcess {
        try #require(FileManager.default.isExecutableFile(atPath: Locations.vqueue.path),
                     "vqueue binary not found at \(Locations.vqueue.path); build it or set VQUEUE_BIN")
        return try LoggedProcess(Locations.vqueue, commandLine("worker", arguments), logFile: logFile,
                                 environment: environment.merging(extra) { $1 })
    }

    /// The `attempts` column as another tool reads it: the number of the job's latest attempt,
    /// which only ever grows (unlike `status --json`'s `attempts`, the attempts counted since the
    /// last retry), with the job's state.
    func attemptNumber(_ id: Int64, sourceLocation: SourceLocation = #_sourceLocation) async throws -> (state: String, attempt: Int) {
        let row = try await query("SELECT state, attempts FROM jobs WHERE id = \(id)", sourceLocation: sourceLocation)
        let parts = try #require(row.first, "job \(id) is not in the jobs table", sourceLocation: sourceLocation)
            .split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        try #require(parts.count == 2, "state|attempts: \(row)", sourceLocation: sourceLocation)
        return (parts[0], try #require(Int(parts[1]), "attempts: \(row)", sourceLocation: sourceLocation))
    }

    /// How many times the events table says job `id` succeeded.
    func successCount(_ id: Int64) async throws -> Int {
        Int(try await query("SELECT count(*) FROM events WHERE job_id = \(id) AND to_state = 'succeeded'").first ?? "") ?? -1
    }
}

extension ProcessTable {
    /// The arguments of a live process (nil once it is gone).
    static func arguments(of pid: pid_t) -> [String]? {
        guard let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"), !cmdline.isEmpty else { return nil }
        return cmdline.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The `vqueue transcode` children writing a temporary sibling of `output` (any attempt, however
    /// the temporary file is named: a hidden `.part` file in OUT's folder whose name starts with
    /// OUT's, handed to the child as its descriptor 4), each with the temporary path it writes.
    static func jobChildren(writing output: URL) -> [(pid: pid_t, temporary: String)] {
        let prefix = output.deletingLastPathComponent().path + "/." + output.lastPathComponent
        return pids(withArgumentContaining: output.path).compactMap { pid in
            guard isAlive(pid), let arguments = arguments(of: pid), arguments.contains("transcode"),
                  arguments.contains("--output-fd"),
                  let temporary = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/4"),
                  temporary.hasPrefix(prefix), temporary.hasSuffix(".part")
            else { return nil }
            return (pid, temporary)
        }
    }
}

/// Postgres's server processes of the cluster in `dataDirectory`: the postmaster (first line of
/// `postmaster.pid`) and every process whose parent it is (backends, checkpointer, walwriter...).
func postgresServerProcesses(dataDirectory: URL) -> [pid_t] {
    guard let text = try? String(contentsOf: dataDirectory.appendingPathComponent("postmaster.pid"), encoding: .utf8),
          let first = text.split(separator: "\n").first, let postmaster = pid_t(first.trimmingCharacters(in: .whitespaces))
    else { return [] }
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    let children = entries.compactMap { entry -> pid_t? in
        guard let pid = pid_t(entry),
              let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        // "pid (comm) S ppid ...": the parent follows the state letter.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 1 && pid_t(fields[1]) == postmaster ? pid : nil
    }
    return [postmaster] + children
}
