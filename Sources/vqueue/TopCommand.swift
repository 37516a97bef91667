import ArgumentParser
import Foundation
import JobQueue

struct TopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "top",
        abstract: "Watch the farm live: workers, running jobs, queues, failures.",
        discussion: """
        Refreshed about once a second. Keys: q quits; up/down select a running job; c cancels \
        the selected job (asks to confirm); ? shows help. Fits 80x24 and uses larger \
        terminals. --once prints one plain snapshot (no control characters) for scripts.

        Examples:
          vqueue top
          vqueue top --once
        """)

    @Flag(help: "Print one snapshot and exit.")
    var once = false

    @OptionGroup(title: "Queue")
    var queueOptions: QueueOptions

    func run() async throws {
        let store = try await queueOptions.openStore()
        if once {
            let snapshot = try await FarmSnapshot.read(from: store)
            snapshot.lines(width: 200, height: 1000, selected: nil, database: queueOptions.displayName).forEach { print($0) }
            return
        }
        let signals = SignalMonitor()
        let screen = try TerminalScreen()
        defer { screen.restore() }
        var selected = 0
        var prompt: String? = nil
        var confirming: Int64? = nil
        var showHelp = false
        var snapshot = try await FarmSnapshot.read(from: store)
        var nextRefresh = Date()
        while !signals.isSignalled {
            if Date() >= nextRefresh {
                snapshot = try await FarmSnapshot.read(from: store)
                nextRefresh = Date() + 1
            }
            selected = min(selected, max(0, snapshot.running.count - 1))
            let (width, height) = screen.size
            var lines = showHelp ? Self.help : snapshot.lines(width: width, height: height - 1,
                                                              selected: snapshot.running.isEmpty ? nil : selected,
                                                              database: queueOptions.displayName)
            lines.append(prompt ?? "q quit  up/down select  c cancel  ? help")
            screen.draw(lines)
            switch screen.key(timeout: 0.2) {
            case .character("q"), .character("Q"):
                return
            case .character("?"):
                showHelp.toggle()
            case .up:
                selected = max(0, selected - 1)
            case .down:
                selected += 1
            case .character("c") where !snapshot.running.isEmpty:
                let job = snapshot.running[selected]
                confirming = job.id
                prompt = "Cancel job \(job.id)? y/n"
            case .character("y") where confirming != nil:
                let job = try await store.cancel(id: confirming!)
                prompt = "job \(confirming!) \(job?.state.rawValue ?? "not found")"
                confirming = nil
                nextRefresh = Date()
            case .character:
                if confirming != nil { prompt = "not cancelled" }
                confirming = nil
            default:
                break
            }
        }
    }

    static let help = [
        "vqueue top: keys",
        "",
        "  q        quit",
        "  up/down  select a running job",
        "  c        cancel the selected job (asks y/n)",
        "  ?        this help (again to go back)",
        "",
        "Workers: state, busy slots, heartbeat age, jobs done/failed, total fps.",
        "Running: progress, fps, ETA and input of each job.",
    ]
}
