import ArgumentParser
import Foundation
import Synchronization
import JobQueue
import Transcode
import TranscodeJobs
import Webhooks
import CBuildInfo

/// `vqueue worker …` runs a worker; `vqueue worker stop …` stops one.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run queued jobs, several at once, until stopped (or stop a worker).",
        subcommands: [WorkerRunCommand.self, WorkerStopCommand.self],
        defaultSubcommand: WorkerRunCommand.self)
}

struct WorkerRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run queued jobs, several at once, until stopped.",
        usage: "vqueue worker [run] [<options>]",
        discussion: """
        Each job runs in a child process of its own (`vqueue transcode`), so a crash on a \
        hostile file costs one attempt, not the worker. Children die with the worker.

        Defaults: --concurrency is the number of cores and --threads-per-job 0 (libav picks \
        per core): a batch keeps every core busy, and a lone long job still uses them all.

        SIGTERM or SIGINT: stop taking jobs and let running ones finish, then exit 0. A second \
        signal stops the running jobs and puts them back in the queue (attempt not counted). \
        `vqueue worker stop` does the same from any process using the same database.

        --allow-dir (repeatable; also $VQUEUE_ALLOW_DIRS, colon-separated): run only jobs \
        whose input and output, after resolving symlinks and `..`, lie inside one of these \
        folders; any other job fails saying so, and nothing outside is read or written.

        --path-map FROM=TO (repeatable): this box mounts the shared folder that submitters \
        call FROM at TO; a job's input and output under FROM are read and written under TO \
        here. The longest FROM that matches wins; --allow-dir applies to the mapped paths.

        Limits on every job (a job's own options can lower them, never raise them):
        --max-memory (default: 3/4 of this machine's memory divided by --concurrency, at \
        least 512M; the kernel's RLIMIT_DATA on the job's process), --timeout (default: 20x \
        the input's duration, at least 30m), --max-pixels, and --stall-timeout (a job that \
        reports no progress this long is stuck: stopped and retried; default 2m).

        A job whose input or output folder is missing on this box goes back to the queue \
        without spending an attempt, and the worker shows as unhealthy (vqueue workers) \
        until its folders are back.

        Webhooks: a worker given --notify-secret-file (a Standard Webhooks secret, whsec_...; \
        the same file on every worker) delivers the notifications of jobs that end: to the \
        URL each was submitted with (submit --notify) and to the farm's URL. --notify URL sets \
        the farm's URL, kept in the queue database for every worker and every way a job ends \
        (--notify off removes it). Deliveries are retried for 24 h; at most 4 at once per worker.

        Examples:
          vqueue worker --concurrency 8
          vqueue worker --queue fast --queue default
          vqueue worker --drain            # exit when nothing is queued or running
          vqueue worker --allow-dir /srv/uploads --allow-dir /srv/video
          vqueue worker --db postgres://vqueue@db.example:5432/vqueue --path-map /srv/video=/mnt/video
        """)

    @Option(name: .customLong("concurrency"), help: ArgumentHelp("Jobs to run at once. Default: the number of cores.", valueName: "n"))
    var concurrencyGiven: Int?

    /// Not the option's default value: help and man pages are printed on
    /// other machines than the one the worker runs on.
    var concurrency: Int { concurrencyGiven ?? ProcessInfo.processInfo.activeProcessorCount }

    @Option(name: .customLong("queue"), help: ArgumentHelp("Take jobs from this queue (repeatable). Default: every queue.",
                                                          valueName: "name"))
    var queues: [String] = []

    @Option(help: ArgumentHelp("Threads each job's transcoder uses; 0 = libav's choice. Default: the job's own (0).",
                               valueName: "n"))
    var threadsPerJob: Int?

    @Flag(help: "Exit once nothing is queued, retrying or running in its queues (all, without --queue).")
    var drain = false

    @Option(help: ArgumentHelp("Lease time: a worker silent this long loses its jobs to others.",
                               valueName: "duration"))
    var lease = TimeSpan(seconds: 30)

    @Option(help: ArgumentHelp("Memory ceiling of each job's process. Default: 3/4 of memory / concurrency.",
                               valueName: "size"))
    var maxMemory: ByteSize?

    @Option(help: ArgumentHelp("Time limit of each job. Default: 20x its input's duration, at least 30m.",
                               valueName: "duration"))
    var timeout: TimeSpan?

    @Option(help: ArgumentHelp("Largest picture any job may decode, in pixels (35389440 is 8192x4320).", valueName: "n"))
    var maxPixels: Int = TranscodeOptions.defaultMaxPixels

    @Option(help: ArgumentHelp("A job silent this long is stuck: stopped, retried.", valueName: "duration"))
    var stallTimeout = TimeSpan(seconds: TranscodeLimits.defaultStallLimit)

    @Option(name: .customLong("allow-dir"), help: ArgumentHelp(
        "Only run jobs whose input and output lie inside this folder (repeatable). Default: $VQUEUE_ALLOW_DIRS, else anywhere.",
        valueName: "dir"), completion: .directory)
    var allowDirs: [String] = []

    @Option(name: .customLong("path-map"), help: ArgumentHelp(
        "A shared folder's name on the submitting box = its name on this box (repeatable).", valueName: "from=to"))
    var pathMaps: [String] = []

    @Option(name: .customLong("notify"), help: ArgumentHelp(
        "The farm's URL told of every job's end (kept in the store; `off` removes it). Default: $VQUEUE_NOTIFY.",
        valueName: "url"))
    var notifyGiven: String?

    @Option(name: .customLong("notify-secret-file"), help: ArgumentHelp(
        "The whsec_ secret that signs webhooks; given it, this worker delivers them. Default: $VQUEUE_NOTIFY_SECRET_FILE.",
        valueName: "file"), completion: .file())
    var notifySecretFileGiven: String?

    @OptionGroup(title: "Queue")
    var queueOptions: QueueOptions

    static let allowDirsVariable = "VQUEUE_ALLOW_DIRS"
    static let notifyVariable = "VQUEUE_NOTIFY"
    static let notifySecretVariable = "VQUEUE_NOTIFY_SECRET_FILE"

    /// `--notify`, else $VQUEUE_NOTIFY (empty: none).
    var notify: String? {
        notifyGiven ?? ProcessInfo.processInfo.environment[Self.notifyVariable].flatMap { $0.isEmpty ? nil : $0 }
    }

    var notifySecretFile: String? {
        notifySecretFileGiven ?? ProcessInfo.processInfo.environment[Self.notifySecretVariable].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The secret, read and checked (a one-line refusal otherwise).
    func notifySecret() throws -> WebhookSecret? {
        guard let notifySecretFile else { return nil }
        do {
            return try WebhookSecret.read(path: notifySecretFile)
        } catch {
            throw ValidationError("--notify-secret-file: \(error.description).")
        }
    }

    /// The allowed folders; nil means anywhere. One that is missing now
    /// (a mount not there yet) keeps the worker unhealthy until it appears.
    func allowedFolders() -> AllowedFolders? {
        var dirs = allowDirs
        if dirs.isEmpty, let env = ProcessInfo.processInfo.environment[Self.allowDirsVariable] {
            dirs = env.split(separator: ":").map(String.init).filter { !$0.isEmpty }
        }
        return dirs.isEmpty ? nil : AllowedFolders(dirs)
    }

    func validate() throws {
        if !(1...256).contains(concurrency) { throw ValidationError("--concurrency must be between 1 and 256.") }
        if let threadsPerJob, !(0...64).contains(threadsPerJob) {
            throw ValidationError("--threads-per-job must be between 0 and 64.")
        }
        if lease.seconds < 0.3 { throw ValidationError("--lease must be at least 300ms.") }
        if !(4...TranscodeOptions.largestMaxPixels).contains(maxPixels) {
            throw ValidationError("--max-pixels must be between 4 and \(TranscodeOptions.largestMaxPixels).")
        }
        if stallTimeout.seconds < 1 { throw ValidationError("--stall-timeout must be at least 1s.") }
        if let notify, notify != "off" {
            do { _ = try WebhookURL.check(notify) } catch { throw ValidationError("--notify: \(error.description).") }
            if notifySecretFile == nil {
                throw ValidationError("--notify needs --notify-secret-file (the whsec_ secret that signs each webhook).")
            }
        }
        _ = try notifySecret()
        do {
            _ = try PathMap(pathMaps)
        } catch {
            throw ValidationError(error.description)
        }
    }

    func run() async throws {
        let shutdown = ShutdownRequest()
        let signals = SignalMonitor { _ in shutdown.escalate() }
        guard let store = try await openStore(shutdown: shutdown) else { return }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        let worker = Worker(
            store: store,
            handler: TranscodeJobHandler(executable: executable, threadsPerJob: threadsPerJob, allowed: allowedFolders(),
                                         pathMap: try PathMap(pathMaps), limits: limits),
            configuration: WorkerConfiguration(concurrency: concurrency, queues: queues, leaseSeconds: lease.seconds,
                                               drain: drain),
            identity: Worker.makeIdentity(concurrency: concurrency, queues: queues, leaseSeconds: lease.seconds),
            log: { StandardError.write("\(Timestamp.iso(Date().timeIntervalSince1970)) \($0)\n") })
        let deliverer = try await notificationDeliverer(store: store, worker: worker)
        let deliveries = deliverer.map { deliverer in Task { await deliverer.run() } }
        defer { deliveries?.cancel() }
        do {
            try await worker.run(shutdown: shutdown)
            // Drained: the ends just announced go out before the worker does.
            if shutdown.level == .none, let deliverer {
                deliveries?.cancel()
                await deliverer.deliverDue()
            }
        } catch {
            throw CommandFailure.report(queueOptions.displayName, "worker stopped: \(StoreErrorText.describe(error))",
                                        exitCode: StoreFailure.exitCode)
        }
        withExtendedLifetime(signals) {}
    }

    /// Records `--notify` as the farm's URL; the deliverer of notifications
    /// when this worker has the secret that signs them.
    private func notificationDeliverer(store: SQLJobStore, worker: Worker) async throws -> NotificationDeliverer? {
        let log = worker.log
        if let notify {
            do {
                try await store.setFarmNotifyURL(notify == "off" ? nil : notify)
            } catch {
                throw CommandFailure.report(queueOptions.displayName, "cannot record --notify: \(StoreErrorText.describe(error))",
                                            exitCode: StoreFailure.exitCode)
            }
            log(notify == "off" ? "notify: the farm's URL removed" : "notify: every job's end is told to \(notify) (the farm's URL)")
        }
        guard let secret = try notifySecret() else { return nil }
        var deliverer = NotificationDeliverer(
            store: store,
            sender: WebhookNotifier(secret: secret,
                                    poster: WebhookPoster(userAgent: "vqueue/\(String(cString: vq_build_version()))")),
            worker: worker.identity.id, log: log)
        // A delivery outlasts the post's 10 s limit; one whose worker died is sent again after this.
        deliverer.leaseSeconds = max(15, lease.seconds)
        return deliverer
    }

    /// Every job's ceilings.
    var limits: TranscodeLimits {
        TranscodeLimits(maxPixels: maxPixels, maxMemory: maxMemory?.bytes ?? TranscodeLimits.defaultMaxMemory(concurrency: concurrency),
                        timeLimit: timeout?.seconds, stallLimit: stallTimeout.seconds)
    }

    /// Opens the queue; a PostgreSQL server that cannot be reached yet is
    /// waited for (logged once), as a worker rides out any outage, until
    /// the worker is asked to stop (nil).
    private func openStore(shutdown: ShutdownRequest) async throws -> SQLJobStore? {
        let isPostgres = if case .postgres = try? QueueLocation(queueOptions.text) { true } else { false }
        guard isPostgres else { return try await queueOptions.openStore(createFolder: true) }
        var backoff = Duration.milliseconds(200)
        var logged = false
        while shutdown.level == .none {
            do {
                return try await open(QueueLocation(queueOptions.text), unless: shutdown)
            } catch let unavailable as StoreUnavailable {
                if !logged {
                    StandardError.write("\(Timestamp.iso(Date().timeIntervalSince1970)) worker: cannot reach the queue database "
                                        + "\(unavailable.location) (\(unavailable.reason)); retrying\n")
                    logged = true
                }
            }
            // In short steps: a stop request ends the wait at once.
            let retry = ContinuousClock.now + backoff
            while shutdown.level == .none && ContinuousClock.now < retry {
                try? await Task.sleep(for: .milliseconds(50))
            }
            backoff = min(backoff * 2, .seconds(5))
        }
        return nil
    }

    /// Opens the queue in a task of its own and waits for it or for a stop request: opening may
    /// wait out the whole deadline (15 s) on a server that accepts connections and never
    /// answers, and SIGTERM is answered within a second. Nil when asked to stop (the abandoned
    /// attempt ends with the process).
    private func open(_ location: QueueLocation, unless shutdown: ShutdownRequest) async throws -> SQLJobStore? {
        let finished = Finished()
        let attempt = Task {
            defer { finished.set() }
            return try await location.open(createFolder: true)
        }
        while !finished.isSet {
            if shutdown.level != .none { return nil }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return try await attempt.value
    }
}

/// Set once an opening attempt has ended, read by the waiting loop.
private final class Finished: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}
