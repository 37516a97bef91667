import Foundation
import JobQueue

/// `GET /`: the farm on one page, served by the binary with nothing from
/// elsewhere (no CDN, no font, no script but its own): workers with their
/// heartbeat's age, running jobs with progress bars, fps and ETA, queued
/// jobs per queue, recent failures with their errors, recent batches with
/// their progress; cancel and retry buttons. Without JavaScript it is plain
/// tables (and the buttons post to the API); with it, the page follows the
/// event stream and refreshes its tables (`GET /?part=tables`) on each
/// event, and every second while jobs run.
struct Dashboard {
    let store: SQLJobStore
    let presentation: any FarmPresentation

    /// The whole page, or only its tables.
    func render(tablesOnly: Bool) async throws -> String {
        let tables = try await self.tables()
        return tablesOnly ? tables : Self.page(tables)
    }

    private func tables() async throws -> String {
        let census = try await store.census()
        let now = census.now
        let workers = try await store.workers().filter { $0.state(at: now) != .stopped || now - ($0.stoppedAt ?? 0) < 3600 }
        let running = try await fields(store.jobs(state: .running, queue: nil, before: nil, limit: 200))
        let failed = try await fields(store.jobs(state: .failed, queue: nil, before: nil, limit: 20))
        var batchIDs: [Int64] = []
        for job in try await store.jobs(state: nil, limit: 500) {
            if let id = job.batchID, !batchIDs.contains(id), batchIDs.count < 10 { batchIDs.append(id) }
        }
        var batches: [BatchSummary] = []
        for id in batchIDs { if let summary = try await store.batchSummary(id: id) { batches.append(summary) } }

        var html = "<section id=\"workers\"><h2>Workers</h2>"
        html += table(["Worker", "State", "Heartbeat", "Running", "Done", "Failed"], workers.map { worker in
            let state = worker.state(at: now)
            return [code(worker.id), badge(state.rawValue) + (worker.unhealthyReason.map { " " + escape($0) } ?? ""),
                    state == .stopped ? "" : "\(max(0, Int(now - worker.heartbeatAt))) s ago",
                    "\(worker.runningJobs)/\(worker.concurrency)", "\(worker.jobsDone)", "\(worker.jobsFailed)"]
        }, empty: "No worker has run on this queue database yet.")
        html += "</section><section id=\"running\"><h2>Running</h2>"
        html += table(["Job", "File", "Progress", "fps", "ETA", ""], running.map { job in
            let progress = job.number("progress") ?? 0
            return ["\(job.id)", files(job),
                    "<progress data-job=\"\(job.id)\" max=\"1\" value=\"\(String(format: "%.4f", progress))\">\(Int(progress * 100)) %</progress> "
                        + "<span class=\"percent\">\(Int(progress * 100)) %</span>",
                    job.number("fps").map { String(format: "%.0f", $0) } ?? "",
                    job.number("eta").map(clock) ?? "",
                    button("cancel", job.id)]
        }, empty: "Nothing is running.")
        html += "</section><section id=\"queued\"><h2>Queued</h2>"
        let queues = Set(census.jobs.map(\.queue)).sorted()
        let waiting: [[String]] = queues.compactMap { queue in
            let count = census.jobs.filter { $0.queue == queue && $0.state == .queued }.reduce(0) { $0 + $1.count }
            guard count > 0 else { return nil }
            return [escape(queue), "\(count)", census.oldestQueued[queue].map { clock(max(0, now - $0)) } ?? ""]
        }
        html += table(["Queue", "Jobs", "Oldest waits"], waiting, empty: "Nothing is waiting.")
        html += "</section><section id=\"failures\"><h2>Recent failures</h2>"
        html += table(["Job", "File", "Error", ""], failed.map { job in
            ["\(job.id)", files(job), escape(job.string("error") ?? "") + (job.string("error_code").map { " " + code($0) } ?? ""),
             button("retry", job.id)]
        }, empty: "No job has failed.")
        html += "</section><section id=\"batches\"><h2>Batches</h2>"
        html += table(["Batch", "Jobs", "Progress"], batches.map { batch in
            let states = JobState.allCases.compactMap { state in batch.counts[state].flatMap { $0 > 0 ? "\($0) \(state.rawValue)" : nil } }
            return ["\(batch.id)", escape(states.joined(separator: ", ")),
                    "<progress max=\"1\" value=\"\(String(format: "%.4f", batch.progress))\"></progress> \(Int(batch.progress * 100)) %"]
        }, empty: "No batch yet.")
        return html + "</section><p class=\"stamp\">As of event \(census.lastEventID).</p>"
    }

    /// A job as its JSON says (the same contract as `status --json`).
    struct Fields {
        let id: Int64
        let values: [String: JSONValue]
        func string(_ name: String) -> String? { if case .string(let text) = values[name] { return text }; return nil }
        func number(_ name: String) -> Double? { if case .number(let value) = values[name] { return value }; return nil }
    }

    private func fields(_ jobs: [Job]) async throws -> [Fields] {
        var all: [Fields] = []
        for job in jobs {
            all.append(Fields(id: job.id, values: (try? JSONValue.object(from: Data(try await presentation.job(job, in: store).utf8))) ?? [:]))
        }
        return all
    }

    private func files(_ job: Fields) -> String {
        let name = { (path: String?) in escape(path.map { ($0 as NSString).lastPathComponent } ?? "?") }
        return "<span title=\"\(escape(job.string("input") ?? "")) → \(escape(job.string("output") ?? ""))\">"
            + "\(name(job.string("input"))) → \(name(job.string("output")))</span>"
    }

    private func button(_ action: String, _ id: Int64) -> String {
        "<form method=\"post\" action=\"/v1/jobs/\(id)/\(action)\"><button type=\"submit\" data-action=\"\(action)\" data-job=\"\(id)\">\(action.capitalized)</button></form>"
    }

    private func table(_ headings: [String], _ rows: [[String]], empty: String) -> String {
        guard !rows.isEmpty else { return "<p class=\"empty\">\(escape(empty))</p>" }
        return "<div class=\"scroll\"><table><thead><tr>" + headings.map { "<th>\(escape($0))</th>" }.joined() + "</tr></thead><tbody>"
            + rows.map { "<tr>" + $0.map { "<td>\($0)</td>" }.joined() + "</tr>" }.joined() + "</tbody></table></div>"
    }

    private func badge(_ state: String) -> String { "<span class=\"badge \(state)\">\(state)</span>" }
    private func code(_ text: String) -> String { "<code>\(escape(text))</code>" }

    private func clock(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        return total >= 3600 ? String(format: "%d:%02d:%02d", total / 3600, total / 60 % 60, total % 60)
            : String(format: "%d:%02d", total / 60, total % 60)
    }

    /// Text as HTML: a file name or an error never becomes markup.
    func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text.unicodeScalars {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }

    private static func page(_ tables: String) -> String {
        """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>vqueue</title>
        <style>
        body{font:15px/1.4 system-ui,sans-serif;margin:0 auto;max-width:72rem;padding:0 .75rem;color:#222}
        h1{font-size:1.3rem}h2{font-size:1.05rem;margin:1.2rem 0 .4rem}
        .scroll{overflow-x:auto}table{border-collapse:collapse;width:100%}
        th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #ddd;vertical-align:top}
        td span[title]{word-break:break-all}progress{width:8rem}
        .badge{padding:0 .35rem;border-radius:.3rem;background:#eee}.alive{background:#cfc}.unhealthy,.gone{background:#fcc}
        .stopping{background:#ffd}.empty,.stamp{color:#777}form{margin:0}button{font:inherit}
        @media (max-width:40rem){th:nth-child(4),td:nth-child(4){display:none}progress{width:5rem}}
        </style></head><body>
        <h1>vqueue</h1>
        <main id="tables">
        """ + tables + """
        </main>
        <script>
        (function () {
          var tables = document.getElementById('tables'), busy = false, again = false;
          function refresh() {
            if (busy) { again = true; return; }
            busy = true;
            fetch('/?part=tables', {cache: 'no-store'}).then(function (r) { return r.ok ? r.text() : null; })
              .then(function (html) { if (html !== null) tables.innerHTML = html; })
              .catch(function () {}).then(function () { busy = false; if (again) { again = false; refresh(); } });
          }
          document.addEventListener('submit', function (e) {
            var b = e.target.querySelector('button[data-action]');
            if (!b) return;
            e.preventDefault();
            b.disabled = true;
            fetch(e.target.action, {method: 'POST'}).then(refresh, refresh);
          });
          if (window.EventSource) {
            var events = new EventSource('/v1/events?since=' + (document.querySelector('.stamp') || {textContent: ''}).textContent.replace(/\\D/g, ''));
            ['job', 'worker', 'notification'].forEach(function (kind) { events.addEventListener(kind, refresh); });
          }
          setInterval(function () { if (tables.querySelector('progress[data-job]')) refresh(); }, 1000);
        })();
        </script>
        </body></html>
        """
    }
}
