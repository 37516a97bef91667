import CLibAV
import Foundation

/// Runs one `EncodingBranch` on a thread of its own, fed through a short
/// queue: a ladder's rungs then scale and encode side by side instead of
/// taking turns on the thread that decodes. (That thread otherwise waits in
/// each x264 call for one of that encoder's frame threads to be free, while
/// the other rungs' encoders could be given work.) Frames go in as new
/// references to the decoded pictures, never copies. The branch's packets
/// are delivered from this thread (the muxer they go to locks).
///
/// The first error a branch meets ends its thread and is thrown by the next
/// call made to it; `stop()` ends the thread without finishing. (The thread
/// holds its `BranchThread` until it ends: whoever starts one stops it.)
final class BranchThread: @unchecked Sendable {
    private enum Work {
        case frame(UnsafeMutablePointer<AVFrame>)
        case reshape(FrameShape)
        case finish
    }

    let branch: EncodingBranch
    /// Frames waiting at most: enough that a rung whose encoder is busy for
    /// a moment does not hold up the others, few enough to cost little memory.
    static let depth = 4

    private let condition = NSCondition()
    private var queue: [Work] = []
    private var failure: TranscodeError?
    private var stopping = false
    private var ended = false

    init(_ branch: EncodingBranch, name: String) {
        self.branch = branch
        let thread = Thread { [self] in run() }
        thread.name = name
        // x264's and swscale's calls run on it: the stack a main thread has.
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// Queues a new reference to `frame`'s pictures (the caller keeps its own).
    func push(_ frame: UnsafeMutablePointer<AVFrame>) throws(TranscodeError) {
        guard let reference = av_frame_alloc() else { throw MemoryLimit.outOfMemory("sharing a decoded frame") }
        guard av_frame_ref(reference, frame) >= 0 else {
            Self.release(.frame(reference))
            throw MemoryLimit.outOfMemory("sharing a decoded frame")
        }
        try enqueue(.frame(reference))
    }

    /// The decoded frames change shape from the next one on.
    func reshape(to shape: FrameShape) throws(TranscodeError) {
        try enqueue(.reshape(shape))
    }

    /// Drains the branch to its end and waits for it; throws its error if it met one.
    func finish() throws(TranscodeError) {
        try enqueue(.finish)
        condition.lock()
        while !ended { condition.wait() }
        let failure = self.failure
        condition.unlock()
        if let failure { throw failure }
    }

    /// Ends the thread without finishing the branch, dropping what is queued;
    /// returns once the thread no longer touches the branch.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while !ended { condition.wait() }
        condition.unlock()
    }

    private func enqueue(_ work: Work) throws(TranscodeError) {
        condition.lock()
        while queue.count >= Self.depth && failure == nil && !ended { condition.wait() }
        if let failure {
            condition.unlock()
            Self.release(work)
            throw failure
        }
        guard !ended else {
            // Stopped (finished, its owner makes no more calls): the transcode is being abandoned.
            condition.unlock()
            Self.release(work)
            throw .cancelled
        }
        queue.append(work)
        condition.broadcast()
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            while queue.isEmpty && !stopping { condition.wait() }
            if stopping {
                condition.unlock()
                end()
                return
            }
            let work = queue.removeFirst()
            condition.broadcast()
            condition.unlock()

            var done = false
            do {
                switch work {
                case .frame(let frame):
                    defer { Self.release(work) }
                    try branch.push(frame)
                case .reshape(let shape):
                    try branch.reshape(to: shape)
                case .finish:
                    try branch.finish()
                    done = true
                }
            } catch {
                condition.lock()
                failure = error
                done = true
                condition.unlock()
            }
            if done {
                end()
                return
            }
        }
    }

    /// The thread's last act: drops what is queued and says it has ended.
    private func end() {
        condition.lock()
        let dropped = queue
        queue = []
        ended = true
        condition.broadcast()
        condition.unlock()
        dropped.forEach(Self.release)
    }

    private static func release(_ work: Work) {
        if case .frame(let frame) = work {
            var pointer: UnsafeMutablePointer<AVFrame>? = frame
            av_frame_free(&pointer)
        }
    }
}
