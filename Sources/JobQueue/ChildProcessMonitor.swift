import CProcess
import Foundation
import Synchronization

/// The one thread that starts, reads, times and reaps every child of this
/// process, whatever the number of children: an epoll loop over each child's
/// pidfd and two pipes, woken by an eventfd when a run starts or is
/// cancelled, with a timeout at the nearest deadline.
///
/// Why one long-lived thread:
/// - PR_SET_PDEATHSIG fires when the *thread* that forked the child exits,
///   not the process. A child forked from a task's thread would be killed
///   when Dispatch retires that thread after a few idle seconds; this thread
///   lives as long as the process, so children die with the process only.
/// - A worker may run 256 children: a thread or two per child (what
///   Foundation's Process with readability handlers costs) is not needed
///   when the kernel can say which of 768 descriptors is ready.
/// - All of a child's state is owned by this thread, so there are no locks
///   but the inbox's, and "closed exactly once" is easy to see.
final class ChildProcessMonitor: Sendable {
    typealias Outcome = Swift.Result<ChildProcess.Result, ChildProcessError>
    typealias Continuation = CheckedContinuation<Outcome, Never>

    fileprivate enum Request: Sendable {
        case start(ChildLaunch, Continuation)
        case stop(ChildLaunch, ChildProcess.StopReason)
    }

    private static let instance = Mutex<ChildProcessMonitor?>(nil)

    /// The process's monitor, started on first use. A failure to start it
    /// (no descriptor left) is retried on the next call.
    static func shared(for executable: String) throws(ChildProcessError) -> ChildProcessMonitor {
        try instance.withLock { (monitor: inout ChildProcessMonitor?) throws(ChildProcessError) -> ChildProcessMonitor in
            if let monitor { return monitor }
            let made = try ChildProcessMonitor(executable: executable)
            monitor = made
            return made
        }
    }

    private let inbox = Mutex<[Request]>([])
    private let epollFD: Int32
    private let wakeFD: Int32

    private init(executable: String) throws(ChildProcessError) {
        epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epollFD >= 0 else {
            throw .cannotStart(executable: executable, step: "epoll_create1", errno: errno)
        }
        wakeFD = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        guard wakeFD >= 0 else {
            let error = errno
            close(epollFD)
            throw .cannotStart(executable: executable, step: "eventfd", errno: error)
        }
        var event = epoll_event(events: EPOLLIN.rawValue, data: epoll_data(u64: ChildEventLoop.wakeTag))
        guard epoll_ctl(epollFD, EPOLL_CTL_ADD, wakeFD, &event) == 0 else {
            let error = errno
            close(wakeFD)
            close(epollFD)
            throw .cannotStart(executable: executable, step: "epoll_ctl", errno: error)
        }
        let thread = Thread { [self] in
            ChildEventLoop(monitor: self).run()
        }
        thread.name = "vqueue child monitor"
        thread.start()
    }

    /// Hands a run to the monitoring thread; `continuation` is resumed when
    /// the child has been reaped (or could not be started).
    func start(_ launch: ChildLaunch, continuation: Continuation) {
        send(.start(launch, continuation))
    }

    /// Stops the launch's child (SIGTERM, then SIGKILL after its grace
    /// period), or keeps it from starting.
    func stop(_ launch: ChildLaunch, reason: ChildProcess.StopReason) {
        launch.isCancelled.store(true, ordering: .sequentiallyConsistent)
        send(.stop(launch, reason))
    }

    private func send(_ request: Request) {
        inbox.withLock { $0.append(request) }
        var one: UInt64 = 1
        // Cannot fail but with EAGAIN, when the counter is already huge:
        // the thread is woken anyway.
        _ = write(wakeFD, &one, MemoryLayout<UInt64>.size)
    }

    fileprivate func takeRequests() -> [Request] {
        var counter: UInt64 = 0
        _ = read(wakeFD, &counter, MemoryLayout<UInt64>.size)
        return inbox.withLock { requests in
            defer { requests.removeAll(keepingCapacity: true) }
            return requests
        }
    }

    fileprivate var epollDescriptor: Int32 { epollFD }
}

/// The monitoring thread's loop and everything it owns. Never shared.
private final class ChildEventLoop {
    /// epoll's user data for the eventfd; a child's descriptors are tagged
    /// `serial << 2 | stream`, and serials start at 1.
    static let wakeTag: UInt64 = 0
    /// Reads per stream when draining a child that has exited: a descendant
    /// that escaped its process group could otherwise keep the pipe busy.
    private static let drainReads = 64

    private let monitor: ChildProcessMonitor
    private let epollFD: Int32
    private var children: [UInt64: RunningChild] = [:]
    private var nextSerial: UInt64 = 1
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)

    init(monitor: ChildProcessMonitor) {
        self.monitor = monitor
        epollFD = monitor.epollDescriptor
    }

    func run() -> Never {
        var events = [epoll_event](repeating: epoll_event(), count: 64)
        while true {
            let nearest = children.values.lazy.compactMap(\.nextDeadline).min()
            let count = epoll_wait(epollFD, &events, Int32(events.count), milliseconds(until: nearest))
            if count < 0 {
                // EINTR; anything else (EBADF, EINVAL) would be a bug here.
                precondition(errno == EINTR, "epoll_wait: \(String(cString: strerror(errno)))")
                continue
            }
            for event in events.prefix(Int(count)) {
                handle(tag: event.data.u64)
            }
            let now = ContinuousClock.now
            // Deadlines only move later (a line pushes the stall deadline
            // back), so none has passed before the nearest one.
            if let nearest, now >= nearest {
                for child in children.values { child.checkDeadlines(now: now) }
            }
        }
    }

    /// epoll_wait's timeout for `deadline`: -1 for none.
    private func milliseconds(until deadline: ContinuousClock.Instant?) -> Int32 {
        guard let deadline else { return -1 }
        let (seconds, attoseconds) = (deadline - .now).components
        if seconds < 0 || (seconds == 0 && attoseconds <= 0) { return 0 }
        let milliseconds = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: milliseconds)
    }

    private func handle(tag: UInt64) {
        if tag == Self.wakeTag {
            for request in monitor.takeRequests() {
                switch request {
                case let .start(launch, continuation):
                    start(launch, continuation: continuation)
                case let .stop(launch, reason):
                    // Unknown: finished already, or refused by the flag in start().
                    children.values.first { $0.launch === launch }?.beginStopping(reason, now: .now)
                }
            }
            return
        }
        // An event for a child or stream already closed in this batch is stale.
        guard let child = children[tag >> 2], let stream = RunningChild.Stream(rawValue: tag & 3),
              let fd = child.descriptors[stream] else { return }
        if stream == .exit {
            finish(child)
        } else {
            read(fd, of: child, stream: stream, reads: 1)
        }
    }

    // MARK: Starting

    private func start(_ launch: ChildLaunch, continuation: ChildProcessMonitor.Continuation) {
        guard !launch.isCancelled.load(ordering: .sequentiallyConsistent) else {
            continuation.resume(returning: .failure(.cancelledBeforeStart))
            return
        }
        var spawned = vq_spawned_child()
        var step = VQ_SPAWN_OK
        let status = launch.inheritedDescriptors.withUnsafeBufferPointer { inherited in
            launch.executable.withCString { path in
                var request = vq_spawn_request(
                    path: path, argv: launch.argv.pointers, envp: launch.envp.pointers,
                    inherited_fds: inherited.baseAddress, inherited_fd_count: Int32(inherited.count),
                    memory_limit: UInt64(launch.memoryLimit?.bytes ?? 0),
                    memory_limit_kind: launch.memoryLimit?.cKind ?? VQ_MEMORY_LIMIT_DATA)
                return vq_spawn(&request, &spawned, &step)
            }
        }
        guard status == 0 else {
            let error = errno
            let failure = ChildProcessError.cannotStart(
                executable: launch.executable, step: String(cString: vq_spawn_step_name(step)), errno: error)
            continuation.resume(returning: .failure(failure))
            return
        }
        let serial = nextSerial
        nextSerial += 1
        let child = RunningChild(serial: serial, launch: launch, continuation: continuation,
                                 spawned: spawned, now: .now)
        for stream in RunningChild.Stream.allCases {
            var event = epoll_event(events: EPOLLIN.rawValue, data: epoll_data(u64: serial << 2 | stream.rawValue))
            guard epoll_ctl(epollFD, EPOLL_CTL_ADD, child.descriptors[stream]!, &event) == 0 else {
                let error = errno
                _ = vq_signal_group(child.pid, SIGKILL)
                var ending = vq_child_exit()
                _ = vq_reap(child.pid, &ending)
                closeAll(child)
                let failure = ChildProcessError.cannotStart(executable: launch.executable, step: "epoll_ctl",
                                                            errno: error)
                continuation.resume(returning: .failure(failure))
                return
            }
        }
        children[serial] = child
        // Cancelled while it was being started: the stop request was ignored.
        if launch.isCancelled.load(ordering: .sequentiallyConsistent) {
            child.beginStopping(.cancelled, now: .now)
        }
    }

    // MARK: Reading

    /// Reads up to `reads` times; closes the stream at its end.
    private func read(_ fd: Int32, of child: RunningChild, stream: RunningChild.Stream, reads: Int) {
        for _ in 0..<reads {
            let length = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if length > 0 {
                child.take(UnsafeRawBufferPointer(rebasing: buffer[..<length]), from: stream, now: .now)
                continue
            }
            if length < 0 && errno == EINTR { continue }
            if length == 0 || errno != EAGAIN {
                // End of file, or an error no retry mends.
                close(stream, of: child)
            }
            return
        }
    }

    // MARK: The end

    /// The child has exited: kills what is left of its process group, reaps
    /// it, drains its pipes, closes everything and resumes its run.
    private func finish(_ child: RunningChild) {
        // The child is a zombie until reaped, so its pid (the group's id)
        // cannot have been reused: a job's processes do not outlive it.
        _ = vq_signal_group(child.pid, SIGKILL)
        var ending = vq_child_exit()
        if vq_reap(child.pid, &ending) != 0 {
            // Someone else reaped it (waitpid(-1) elsewhere in the process).
            ending = vq_child_exit(exited: 0, code: 0, signal: SIGKILL, peak_rss_bytes: 0)
        }
        for stream in [RunningChild.Stream.stdout, .stderr] {
            if let fd = child.descriptors[stream] { read(fd, of: child, stream: stream, reads: Self.drainReads) }
        }
        closeAll(child)
        children[child.serial] = nil
        child.continuation.resume(returning: .success(child.result(ending: ending, now: .now)))
    }

    private func closeAll(_ child: RunningChild) {
        for stream in RunningChild.Stream.allCases { close(stream, of: child) }
    }

    /// Removes the descriptor from epoll before closing it: a copy of it in
    /// a child another thread is forking would keep it registered otherwise.
    private func close(_ stream: RunningChild.Stream, of child: RunningChild) {
        guard let fd = child.descriptors[stream] else { return }
        _ = epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, nil)
        Glibc.close(fd)
        child.closed(stream)
    }
}
