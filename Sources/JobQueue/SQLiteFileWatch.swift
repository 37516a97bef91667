import CProcess
import Foundation
import Synchronization

/// Tells an idle worker at once that another process wrote the SQLite queue
/// (a submit, a retry, a cancel, `worker stop`), so it can sleep between
/// slow polls instead of reading `PRAGMA data_version` every 10 ms: inotify
/// on the database's folder, for writes to the database file and its `-wal`
/// and `-journal` files, read by a thread of its own. Its own process's
/// writes wake it too, which costs one look.
final class SQLiteFileWatch: Sendable {
    private let descriptor: Int32
    private let stopped = Atomic<Bool>(false)

    /// nil when inotify cannot watch the folder (out of watches, a file
    /// system without it): the worker then polls as before.
    init?(databasePath: String, wake: @escaping @Sendable () -> Void) {
        let url = URL(fileURLWithPath: databasePath)
        let folder = url.deletingLastPathComponent().path
        let name = url.lastPathComponent
        descriptor = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        guard descriptor >= 0 else { return nil }
        let mask = UInt32(IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE)
        guard inotify_add_watch(descriptor, folder, mask) >= 0 else {
            close(descriptor)
            return nil
        }
        let thread = Thread { [self] in watch(name: name, wake: wake) }
        thread.name = "vqueue.sqlite.watch"
        thread.start()
    }

    /// Ends the watching thread within a quarter of a second; it closes the
    /// descriptor on its way out.
    func stop() {
        stopped.store(true, ordering: .releasing)
    }

    private func watch(name: String, wake: @Sendable () -> Void) {
        defer { close(descriptor) }
        var buffer = [CChar](repeating: 0, count: 4096)
        var ready = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        while !stopped.load(ordering: .acquiring) {
            guard poll(&ready, 1, 250) > 0 else { continue }
            var named = false
            while true {
                let length = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                guard length > 0 else { break }
                if buffer.withUnsafeBufferPointer({ vq_inotify_names_prefix($0.baseAddress, length, name) }) != 0 { named = true }
            }
            if named { wake() }
        }
    }
}
