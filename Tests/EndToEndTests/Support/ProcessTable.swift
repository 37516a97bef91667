import Foundation

/// The live processes of this box, as /proc shows them: how tests find a worker's job child
/// (which they did not start themselves) and prove that no orphan is left behind.
enum ProcessTable {
    /// Pids of live processes one of whose arguments contains `fragment` (zombies have no
    /// arguments left, so they never match).
    static func pids(withArgumentContaining fragment: String) -> [pid_t] {
        let own = ProcessInfo.processInfo.processIdentifier
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> pid_t? in
            guard let pid = pid_t(entry), pid != own,
                  let cmdline = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"), !cmdline.isEmpty
            else { return nil }
            let arguments = cmdline.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            return arguments.contains { $0.contains(fragment) } ? pid : nil
        }
    }

    /// The `vqueue transcode` child writing attempt `attempt` of job `job` for `output`, if one is
    /// running: a child handed its temporary file as descriptor 4 (`--output-fd 4`).
    static func jobChild(for output: URL, job: Int64, attempt: Int) -> pid_t? {
        // Its companions' temporary folder has a name of the same form: descriptor 4 tells them apart.
        let temporaries = Set(temporaryOutputs(for: output, job: job, attempt: attempt).map(\.path))
        guard !temporaries.isEmpty else { return nil }
        return pids(withArgumentContaining: "--output-fd").first { pid in
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/4")).map(temporaries.contains) ?? false
        }
    }

    static func isAlive(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        // "pid (comm) S ...": the state letter follows the command name.
        let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first
        return state != nil && state != "Z" && state != "X"
    }

    /// What a process is doing, for a failure message: its command, and each thread's name,
    /// state and kernel wait channel (`vqueue/S/futex_wait_queue …`).
    static func describe(_ pid: pid_t) -> String {
        let task = "/proc/\(pid)/task"
        guard let threads = try? FileManager.default.contentsOfDirectory(atPath: task) else { return "pid \(pid): gone" }
        let command = ((try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? "")
            .split(separator: "\0").prefix(3).joined(separator: " ")
        let described = threads.sorted().map { thread -> String in
            let name = (try? String(contentsOfFile: "\(task)/\(thread)/comm", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
            let stat = (try? String(contentsOfFile: "\(task)/\(thread)/stat", encoding: .utf8)) ?? ""
            let state = stat.lastIndex(of: ")").map { String(stat[stat.index(after: $0)...].trimmingCharacters(in: .whitespaces).prefix(1)) } ?? "?"
            let channel = (try? String(contentsOfFile: "\(task)/\(thread)/wchan", encoding: .utf8)) ?? "?"
            return "\(name)/\(state)/\(channel)"
        }
        return "pid \(pid) (\(command)): " + described.joined(separator: " ")
    }
}
