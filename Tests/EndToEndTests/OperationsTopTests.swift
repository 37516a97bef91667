import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `vqueue top` in a real terminal (tmux): it draws, quits on `q`, and leaves the terminal as it
/// found it, also when stopped by SIGTERM. Nothing is transcoded: a queued job is enough to draw.
@Suite("top in a terminal", .serialized, .enabled(if: TmuxSession.isAvailable, TmuxSession.unavailable))
struct OperationsTopTerminalTests {
    private static let enterAlternate = "\u{1B}[?1049h"
    private static let leaveAlternate = "\u{1B}[?1049l"

    /// A queue with one job waiting and one that failed, so every section has something to show.
    private func populatedQueue(in directory: URL, store: TestQueue.Store) async throws -> TestQueue {
        let queue = try await TestQueue.make(in: directory, store: store)
        _ = try await queue.submit(Locations.fixture("truncated_30pct.mp4"), directory.appendingPathComponent("bad.mp4"))
        let worker = try await vqueue(queue.commandLine("worker", ["--drain"]))
        try #require(worker.exitCode == 0, "\(worker)")
        _ = try await queue.submit(Locations.fixture("one_frame.mp4"), directory.appendingPathComponent("later.mp4"))
        return queue
    }

    /// Waits until the pane shows the monitor's sections.
    private func drawn(_ session: TmuxSession) async throws -> String {
        var screen = ""
        _ = try await eventually(within: .seconds(15)) {
            screen = try await session.screen()
            return screen.contains("WORKERS") && screen.contains("RUNNING")
        }
        return screen
    }

    /// `vqueue top` in a tmux pane, run by a shell that afterwards records top's exit status and
    /// the terminal modes it left behind (`stty -a`) in `record`. (tmux's own `pane_dead_status` is
    /// not reliable: tmux 3.3 sometimes marks a pane dead before it reaps the process, and then
    /// never records the status.) The paths reach the shell as arguments, never pasted into it.
    private struct TopInTerminal {
        let session: TmuxSession
        let record: URL
        /// The queue's `--db` (a file's path or a database's URL): only this test's top has it.
        let location: String

        init(queue: TestQueue, in directory: URL) async throws {
            record = directory.appendingPathComponent("after-top.txt")
            location = queue.location
            let script = #""$0" top --db "$1"; echo "exit=$?" > "$2"; stty -a >> "$2""#
            session = try await TmuxSession.start(["/bin/sh", "-c", script, Locations.vqueue.path,
                                                   queue.location, record.path], in: directory)
        }

        /// What the shell recorded once top ended and `stty` ran; nil if top has not ended in time.
        func ended(within timeout: Duration = .seconds(5)) async -> String? {
            var text = ""
            let done = await eventually(within: timeout) {
                text = (try? String(contentsOf: record, encoding: .utf8)) ?? ""
                return text.hasPrefix("exit=") && text.contains("icanon")
            }
            return done ? text : nil
        }

        /// The `vqueue top` process itself (the pane's process is the shell).
        var topPID: pid_t? {
            ProcessTable.pids(withArgumentContaining: location).first { pid in
                let arguments = (FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") ?? Data())
                    .split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
                return arguments.first == Locations.vqueue.path && arguments.dropFirst().first == "top"
            }
        }
    }

    /// Echo and line editing are on again (`stty -a` lists `echo`, `icanon`, not `-echo`, `-icanon`).
    private func expectCookedModes(_ record: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let modes = record.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == ";" })
        #expect(modes.contains("echo") && modes.contains("icanon") && !modes.contains("-echo") && !modes.contains("-icanon"),
                "echo and line editing are back: \(record)", sourceLocation: sourceLocation)
    }

    @Test("draws full screen, quits on q with exit 0, and restores the terminal", .timeLimit(.minutes(30)),
          arguments: TestQueue.Store.allCases)
    func quitsOnQ(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let queue = try await populatedQueue(in: directory, store: store)
            let top = try await TopInTerminal(queue: queue, in: directory)
            defer { top.session.kill() }

            let screen = try await drawn(top.session)
            #expect(screen.contains("WORKERS") && screen.contains("RUNNING") && screen.contains("QUEUED"), "\(screen)")
            #expect(screen.contains("default/p0: 1"), "queue depth shown: \(screen)")
            #expect(screen.contains("truncated"), "latest failure shown: \(screen)")
            #expect(try await top.session.format("#{alternate_on}") == "1", "top uses the alternate screen")

            try await top.session.sendKeys("q")
            let record = await top.ended()
            let screenAfterQ = try await top.session.screen()
            try #require(record != nil, "top did not quit on q: \(screenAfterQ)")
            #expect(record!.hasPrefix("exit=0\n"), "top's exit status: \(record!)")
            #expect(try await top.session.format("#{alternate_on}") == "0", "the alternate screen is left")
            expectCookedModes(record!)
            let raw = top.session.raw
            #expect(raw.containsText(Self.leaveAlternate), "ESC[?1049l written on the way out")
            #expect(raw.containsText("\u{1B}[?25h"), "the cursor is shown again")
        }
    }

    @Test("SIGTERM or SIGINT ends top with exit 0 and the terminal restored", .timeLimit(.minutes(30)),
          arguments: TestQueue.Store.allCases, [SIGTERM, SIGINT])
    func signalRestores(_ store: TestQueue.Store, _ signal: Int32) async throws {
        try await withTemporaryDirectory { directory in
            let queue = try await populatedQueue(in: directory, store: store)
            let top = try await TopInTerminal(queue: queue, in: directory)
            defer { top.session.kill() }
            _ = try await drawn(top.session)
            #expect(try await top.session.format("#{alternate_on}") == "1")
            let pid = try #require(top.topPID, "vqueue top's process not found")

            kill(pid, signal)
            let record = await top.ended()
            try #require(record != nil, "top did not end on signal \(signal)")
            #expect(record!.hasPrefix("exit=0\n"), "top exits 0 on signal \(signal): \(record!)")
            #expect(try await top.session.format("#{alternate_on}") == "0", "the alternate screen is left on signal \(signal)")
            #expect(top.session.raw.containsText(Self.leaveAlternate), "ESC[?1049l written on signal \(signal)")
            expectCookedModes(record!)
        }
    }

    @Test("without a terminal, top refuses in one line and points to --once", arguments: TestQueue.Store.allCases)
    func needsTerminal(_ store: TestQueue.Store) async throws {
        try await withTemporaryDirectory { directory in
            let queue = try await TestQueue.make(in: directory, store: store)
            let result = try await queue.run("top")
            #expect(result.exitCode == 1, "\(result)")
            #expect(result.stdout.isEmpty, "\(result)")
            #expect(result.stderrLines.count == 1 && result.stderrLines.first?.contains("--once") == true, "\(result)")
        }
    }
}
