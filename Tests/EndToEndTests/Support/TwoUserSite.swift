import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The README's "Several users, one database" set-up, built for real on this machine with two
/// local users of a test's own: a web user that uploads and submits (www-data), a worker user that
/// transcodes (vqueue), both in one shared group. Everything lives in a folder of the test's own:
///
///     ROOT/bin/vqueue            a copy of the binary under test, 0755 (a checkout may sit where
///                                these users cannot reach it)
///     ROOT/lib/                  install -d -o WORKER -g GROUP -m 2775 (the database's folder);
///                                VQUEUE_DB=ROOT/lib/queue.db on both sides
///     ROOT/uploads/              the web user's uploads: owner WEB, group GROUP, 2775
///     ROOT/video/                the outputs: owner WORKER, group GROUP, 2775 (submit checks that
///                                the submitter may write there, so the web user can)
///     ROOT/home-worker/          the worker user's home, 0700: files only the worker may read and
///                                write, which nothing a web user does may reach
///     ROOT/home-web/             the web user's home
///     ROOT/logs/                 the workers' logs (root's)
///
/// Both sides run with umask 002, as the README says. The worker runs with `--allow-dir` over
/// uploads/ and video/. Users are made with groupadd/useradd and removed (userdel, groupdel) when
/// the test ends, whatever happens; their names are unique per run (`vqt<8 hex>-web`,
/// `vqt<8 hex>-wk`, group `vqt<8 hex>`), and users left by a test process that died are removed by
/// the next run.
final class TwoUserSite: @unchecked Sendable {
    /// One of the site's two users.
    enum Role: String, Sendable, CustomStringConvertible {
        case web, worker
        var description: String { rawValue }
    }

    let tag: String
    /// The shared group (`vqueue` in the README).
    let group: String
    let webUser: String
    let workerUser: String
    let webUID: uid_t
    let workerUID: uid_t
    let groupID: gid_t

    let root: URL
    let binary: URL
    let databaseFolder: URL
    let uploads: URL
    let video: URL
    let workerHome: URL
    let webHome: URL
    let logs: URL

    /// What VQUEUE_DB says on both sides.
    var database: URL { databaseFolder.appendingPathComponent("queue.db") }

    /// The queue the commands use: VQUEUE_DB (the SQLite file) unless a test points them elsewhere.
    var queueLocation: String

    private let lock = NSLock()
    private var started: [LoggedProcess] = []

    private init(tag: String, root: URL, ids: (web: uid_t, worker: uid_t, group: gid_t)) {
        self.tag = tag
        group = "vqt\(tag)"
        webUser = "vqt\(tag)-web"
        workerUser = "vqt\(tag)-wk"
        (webUID, workerUID, groupID) = ids
        self.root = root
        binary = root.appendingPathComponent("bin/vqueue")
        databaseFolder = root.appendingPathComponent("lib", isDirectory: true)
        uploads = root.appendingPathComponent("uploads", isDirectory: true)
        video = root.appendingPathComponent("video", isDirectory: true)
        workerHome = root.appendingPathComponent("home-worker", isDirectory: true)
        webHome = root.appendingPathComponent("home-web", isDirectory: true)
        logs = root.appendingPathComponent("logs", isDirectory: true)
        queueLocation = root.appendingPathComponent("lib/queue.db").path
    }

    func user(_ role: Role) -> String { role == .web ? webUser : workerUser }
    func uid(_ role: Role) -> uid_t { role == .web ? webUID : workerUID }
    func home(_ role: Role) -> URL { role == .web ? webHome : workerHome }

    // MARK: Making and removing the site

    /// Builds the site, runs `body`, then stops every process it started as the site's users,
    /// removes the users and groups and the folder, whether `body` threw or not.
    static func with<T>(sourceLocation: SourceLocation = #_sourceLocation,
                        _ body: (TwoUserSite) async throws -> T) async throws -> T {
        try #require(getuid() == 0, "the two-user tests make local users: run them as root", sourceLocation: sourceLocation)
        await LocalUsers.shared.removeAbandoned()
        let tag = String(UUID().uuidString.lowercased().filter(\.isHexDigit).prefix(8))
        let root = FileManager.default.temporaryDirectory
            .appendingPathComponent("vqueue-two-users-\(tag)", isDirectory: true).resolvingSymlinksInPath()
        var created: [String] = []
        do {
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
            chmod(root.path, 0o755)
            created = try await LocalUsers.shared.create(tag: tag, root: root)
            let ids = try LocalUsers.ids(tag: tag)
            let site = TwoUserSite(tag: tag, root: root, ids: ids)
            try await site.layOut()
            let value: T
            do {
                value = try await body(site)
            } catch {
                await site.tearDown(created)
                throw error
            }
            await site.tearDown(created)
            return value
        } catch {
            await LocalUsers.shared.remove(created)
            try? FileManager.default.removeItem(at: root)
            throw error
        }
    }

    private func tearDown(_ created: [String]) async {
        for process in lock.withLock({ started }) { await process.end() }
        await LocalUsers.shared.remove(created)
        try? FileManager.default.removeItem(at: root)
    }

    /// The README's recipe, folder by folder, with `install` as an administrator would run it.
    private func layOut() async throws {
        let folder = root.appendingPathComponent("bin", isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: false)
        chmod(folder.path, 0o755)
        // By cp, not in this process: a child another test spawns while this process holds the copy
        // open for writing would inherit the descriptor ("Text file busy").
        try await administer("/bin/cp", [Locations.vqueue.path, binary.path])
        chmod(binary.path, 0o755)
        try await administer("/usr/bin/install", ["-d", "-o", workerUser, "-g", group, "-m", "2775", databaseFolder.path])
        try await administer("/usr/bin/install", ["-d", "-o", webUser, "-g", group, "-m", "2775", uploads.path])
        try await administer("/usr/bin/install", ["-d", "-o", workerUser, "-g", group, "-m", "2775", video.path])
        try await administer("/usr/bin/install", ["-d", "-o", workerUser, "-g", group, "-m", "0700", workerHome.path])
        try await administer("/usr/bin/install", ["-d", "-o", webUser, "-m", "0700", webHome.path])
        try await administer("/usr/bin/install", ["-d", "-m", "0700", logs.path])
    }

    /// Runs an administrator's command (as root) that must succeed.
    @discardableResult
    func administer(_ program: String, _ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation)
        async throws -> ProcessResult {
        let result = await (try RunningProcess(URL(fileURLWithPath: program), arguments)).wait(timeout: .seconds(60))
        try #require(result.exitCode == 0, "\(result)", sourceLocation: sourceLocation)
        return result
    }

    /// `install -o OWNER -g GROUP -m MODE SOURCE DESTINATION`: a file put in place by root for `role`.
    func install(_ source: URL, at destination: URL, owner role: Role, mode: String = "0664",
                 sourceLocation: SourceLocation = #_sourceLocation) async throws {
        try await administer("/usr/bin/install", ["-o", user(role), "-g", group, "-m", mode, source.path, destination.path],
                             sourceLocation: sourceLocation)
    }

    // MARK: Running things as the users

    /// The command line that runs `program arguments...` as `role`: `setpriv` (which execs in place,
    /// so the pid is the program's) with the user's ids and groups (initgroups, as a login gives
    /// them), `env -i` with exactly the user's environment, then `umask 002` as the README's recipe
    /// has it (or `umask`), then the program. Every step execs the next: one pid throughout.
    func commandLine(as role: Role, umask: String = "002", environment extra: [String: String] = [:],
                     _ program: String, _ arguments: [String]) -> (URL, [String]) {
        let primary = role == .web ? webUser : group
        let assignments = environment(role, extra).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        return (URL(fileURLWithPath: "/usr/bin/setpriv"),
                ["--reuid=\(user(role))", "--regid=\(primary)", "--init-groups", "--",
                 "/usr/bin/env", "-i"] + assignments
                + ["/bin/sh", "-c", "umask \(umask) && exec \"$0\" \"$@\"", program] + arguments)
    }

    /// The environment a user's processes get: their own HOME, a plain PATH, and VQUEUE_DB (both
    /// sides of the README's recipe set it), plus `extra`.
    func environment(_ role: Role, _ extra: [String: String] = [:]) -> [String: String] {
        ["HOME": home(role).path, "USER": user(role), "LOGNAME": user(role), "VQUEUE_DB": queueLocation,
         "PATH": "/usr/local/bin:/usr/bin:/bin"].merging(extra) { $1 }
    }

    /// Runs `program arguments...` as `role` to its end.
    func run(as role: Role, umask: String = "002", _ program: String, _ arguments: [String],
             environment extra: [String: String] = [:], timeout: Duration = .seconds(60)) async throws -> ProcessResult {
        let (executable, line) = commandLine(as: role, umask: umask, environment: extra, program, arguments)
        let process = try RunningProcess(executable, line, currentDirectory: root)
        return await process.wait(timeout: timeout)
    }

    /// `vqueue ARGUMENTS...` as `role` (the site's copy of the binary).
    func vqueue(as role: Role, _ arguments: [String], environment extra: [String: String] = [:],
                timeout: Duration = .seconds(60)) async throws -> ProcessResult {
        try await run(as: role, binary.path, arguments, environment: extra, timeout: timeout)
    }

    /// `/bin/sh -c SCRIPT sh ARGUMENTS...` as `role`: for what a hostile user does with ln, mkfifo,
    /// mv and printf. The script is a constant; names reach it as positional parameters.
    func shell(as role: Role, _ script: String, _ arguments: [String] = []) async throws -> ProcessResult {
        try await run(as: role, "/bin/sh", ["-c", script, "sh"] + arguments)
    }

    /// The same, expecting success.
    @discardableResult
    func mustShell(as role: Role, _ script: String, _ arguments: [String] = [],
                   sourceLocation: SourceLocation = #_sourceLocation) async throws -> ProcessResult {
        let result = try await shell(as: role, script, arguments)
        try #require(result.exitCode == 0, "as \(role): \(result)", sourceLocation: sourceLocation)
        return result
    }

    /// Starts `vqueue worker --allow-dir UPLOADS --allow-dir VIDEO ARGUMENTS...` as the worker user
    /// (umask 002, VQUEUE_DB), its stderr in a log file. Ended with the site if still running.
    func startWorker(_ arguments: [String], allowDirs: Bool = true, environment extra: [String: String] = [:])
        throws -> LoggedProcess {
        let allow = allowDirs ? ["--allow-dir", uploads.path, "--allow-dir", video.path] : []
        let (executable, line) = commandLine(as: .worker, environment: extra, binary.path, ["worker"] + allow + arguments)
        let log = logs.appendingPathComponent("worker-\(UUID().uuidString.prefix(8)).log")
        let process = try LoggedProcess(executable, line, logFile: log)
        lock.withLock { started.append(process) }
        return process
    }

    /// A worker with `--drain --concurrency 1`, run until it exits (it does once nothing is left
    /// to run); how it ended and its log.
    func drain(_ arguments: [String] = [], timeout: Duration = .seconds(240)) async throws -> (Termination, String) {
        let worker = try startWorker(["--drain", "--concurrency", "1"] + arguments)
        let ended = await worker.wait(timeout: timeout)
        return (ended, worker.log)
    }

    // MARK: The queue, as the web user sees it

    /// `vqueue submit OPTIONS -- IN OUT` as the web user; the job id, or nil with the result.
    func submit(_ input: String, _ output: String, _ options: [String] = []) async throws -> (Int64?, ProcessResult) {
        let result = try await vqueue(as: .web, ["submit"] + options + ["--", input, output])
        return (result.exitCode == 0 ? TestQueue.jobID(result) : nil, result)
    }

    /// The same, expecting a job id.
    func mustSubmit(_ input: URL, _ output: URL, _ options: [String] = [],
                    sourceLocation: SourceLocation = #_sourceLocation) async throws -> Int64 {
        let (id, result) = try await submit(input.path, output.path, options)
        return try #require(id, "submit as the web user failed: \(result)", sourceLocation: sourceLocation)
    }

    /// `vqueue status ID --json` as the web user, decoded.
    func status(_ id: Int64, sourceLocation: SourceLocation = #_sourceLocation) async throws -> JobStatus {
        let result = try await vqueue(as: .web, ["status", String(id), "--json"])
        try #require([0, 1, 2, 3].contains(result.exitCode), "status as the web user: \(result)", sourceLocation: sourceLocation)
        return try JobStatus.decode(result.stdout)
    }

    /// Polls the job (as the web user) until it has finished.
    func finished(_ id: Int64, timeout: Duration = .seconds(180),
                  sourceLocation: SourceLocation = #_sourceLocation) async throws -> JobStatus {
        let deadline = ContinuousClock.now + timeout
        let pacing = PollPacing(first: .milliseconds(100))
        while true {
            let job = try await status(id, sourceLocation: sourceLocation)
            if ["succeeded", "failed", "cancelled"].contains(job.state) || ContinuousClock.now >= deadline { return job }
            try await pacing.pause()
        }
    }
}

/// Making and removing the tests' local users. useradd and groupadd lock /etc/passwd and
/// /etc/group and give up when another holds the lock, so this process runs them one at a time
/// and tries again when another process held it.
actor LocalUsers {
    static let shared = LocalUsers()

    /// In each user's GECOS field: which test process made it, so that a later run can remove the
    /// users of a process that died before removing its own.
    private static let marker = "vqueue two-user test pid "

    /// The shared group, then the worker user (primary group: the shared one), then the web user
    /// (a group of its own, and the shared one as a supplementary group, as `usermod -aG vqueue
    /// www-data` leaves it). Returns what was made, in the order to remove it.
    func create(tag: String, root: URL) async throws -> [String] {
        var made: [String] = []
        let group = "vqt\(tag)"
        let comment = "\(Self.marker)\(getpid())"
        do {
            try await tool("/usr/sbin/groupadd", [group])
            made.insert("group:\(group)", at: 0)
            try await tool("/usr/sbin/useradd", ["--no-create-home", "--home-dir", root.appendingPathComponent("home-worker").path,
                                                 "--gid", group, "--shell", "/usr/sbin/nologin", "--comment", comment,
                                                 "\(group)-wk"])
            made.insert("user:\(group)-wk", at: 0)
            try await tool("/usr/sbin/useradd", ["--no-create-home", "--home-dir", root.appendingPathComponent("home-web").path,
                                                 "--user-group", "--groups", group, "--shell", "/usr/sbin/nologin",
                                                 "--comment", comment, "\(group)-web"])
            made.insert("user:\(group)-web", at: 0)
            made.append("group:\(group)-web")  // its own group, if userdel leaves it
        } catch {
            await remove(made)
            throw error
        }
        return made
    }

    /// userdel and groupdel, in order; a missing one is no failure.
    func remove(_ made: [String]) async {
        for entry in made {
            let parts = entry.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { continue }
            if parts[0] == "user" {
                try? await tool("/usr/sbin/userdel", [parts[1]], allowing: [6])
            } else {
                try? await tool("/usr/sbin/groupdel", [parts[1]], allowing: [6])
            }
        }
    }

    /// Users (and their groups) made by test processes that no longer run.
    func removeAbandoned() async {
        guard let passwd = try? String(contentsOfFile: "/etc/passwd", encoding: .utf8) else { return }
        for line in passwd.split(separator: "\n") {
            let fields = line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 5, fields[0].hasPrefix("vqt"), fields[4].hasPrefix(Self.marker),
                  let pid = pid_t(fields[4].dropFirst(Self.marker.count)), pid != getpid(),
                  kill(pid, 0) != 0, errno == ESRCH else { continue }
            let user = fields[0]
            let group = String(user.prefix { $0 != "-" })
            await remove(["user:\(user)", "group:\(user)", "group:\(group)"])
        }
    }

    /// The users' and group's ids.
    nonisolated static func ids(tag: String) throws -> (web: uid_t, worker: uid_t, group: gid_t) {
        // getpwnam and getgrnam return the same static buffer each time: read each id at once.
        guard let web = getpwnam("vqt\(tag)-web")?.pointee.pw_uid, let worker = getpwnam("vqt\(tag)-wk")?.pointee.pw_uid,
              let group = getgrnam("vqt\(tag)")?.pointee.gr_gid else {
            throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "the test users vqt\(tag)-* are missing"])
        }
        return (web, worker, group)
    }

    /// Runs one of shadow's tools; exit 10 (cannot lock the password or group file) is tried again.
    private func tool(_ program: String, _ arguments: [String], allowing: Set<Int32> = []) async throws {
        var last: ProcessResult?
        for _ in 0..<50 {
            let result = await (try RunningProcess(URL(fileURLWithPath: program), arguments)).wait(timeout: .seconds(60))
            if result.exitCode == 0 || result.exitCode.map(allowing.contains) == true { return }
            last = result
            guard result.exitCode == 10 || result.stderrText.contains("lock") else { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "\(last.map(\.description) ?? program)"])
    }
}

// MARK: Looking at files as bytes

/// A file's metadata without following a symlink (nil if nothing is there), by the name's bytes.
func fileStatus(_ path: [UInt8]) -> stat? {
    var status = stat()
    let result = (path + [0]).withUnsafeBufferPointer { buffer in
        buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) { lstat($0, &status) }
    }
    return result == 0 ? status : nil
}

func fileStatus(_ url: URL) -> stat? { fileStatus(Array(url.path.utf8)) }

func isSymbolicLink(_ status: stat?) -> Bool { status.map { $0.st_mode & S_IFMT == S_IFLNK } ?? false }
func isRegularFile(_ status: stat?) -> Bool { status.map { $0.st_mode & S_IFMT == S_IFREG } ?? false }

/// The names in a folder as raw bytes (a name that is not UTF-8 included, as it is).
func rawDirectoryListing(_ directory: URL) -> [[UInt8]] {
    guard let listing = opendir(directory.path) else { return [] }
    defer { closedir(listing) }
    var names: [[UInt8]] = []
    while let entry = readdir(listing) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
        if name != Array(".".utf8) && name != Array("..".utf8) { names.append(name) }
    }
    return names.sorted { $0.lexicographicallyPrecedes($1) }
}

/// What a file is now, to tell later that nothing touched it: its bytes, inode, size, mode and
/// modification time (not following a symlink).
struct FileFingerprint: Equatable, CustomStringConvertible {
    let contents: Data?
    let inode: UInt64
    let mode: UInt32
    let size: Int64
    let modified: Int
    let modifiedNanoseconds: Int

    init?(_ url: URL) {
        guard let status = fileStatus(url) else { return nil }
        contents = isRegularFile(status) ? try? Data(contentsOf: url) : nil
        inode = UInt64(status.st_ino)
        mode = UInt32(status.st_mode)
        size = Int64(status.st_size)
        modified = status.st_mtim.tv_sec
        modifiedNanoseconds = status.st_mtim.tv_nsec
    }

    var description: String {
        "inode \(inode), mode \(String(mode, radix: 8)), \(size) bytes, mtime \(modified).\(modifiedNanoseconds)"
    }
}
