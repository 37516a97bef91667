import Glibc

/// Cuts a child's output stream into trimmed, non-empty lines, holding at
/// most `maximumLineLength` bytes whatever the child writes: a child that
/// writes megabytes without a newline gets its line cut at that length and
/// the rest of it dropped, instead of growing the supervisor.
struct LineSplitter {
    let maximumLineLength: Int
    /// The current line so far.
    private var pending: [UInt8] = []
    /// The current line was cut: drop bytes up to its newline.
    private var dropping = false

    init(maximumLineLength: Int) {
        self.maximumLineLength = maximumLineLength
        pending.reserveCapacity(256)
    }

    /// Calls `emit` with each line `bytes` completes.
    mutating func append(_ bytes: UnsafeRawBufferPointer, emit: (String) -> Void) {
        guard let base = bytes.baseAddress else { return }
        var start = 0
        while start < bytes.count {
            // memchr: a flooding child is read at memory speed, not byte by byte.
            let found = memchr(base + start, Int32(UInt8(ascii: "\n")), bytes.count - start)
            let end = found.map { base.distance(to: UnsafeRawPointer($0)) } ?? bytes.count
            if !dropping {
                let room = maximumLineLength - pending.count
                pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<min(end, start + room)]))
                if found == nil && end - start > room {
                    // Over the limit without a newline: keep the cut line.
                    flush(emit: emit)
                    dropping = true
                }
            }
            guard found != nil else { return }
            if dropping {
                dropping = false
            } else {
                flush(emit: emit)
            }
            start = end + 1
        }
    }

    /// Calls `emit` with the unterminated last line, if any.
    mutating func finish(emit: (String) -> Void) {
        if !dropping { flush(emit: emit) }
        dropping = false
        pending = []
    }

    private mutating func flush(emit: (String) -> Void) {
        defer { pending.removeAll(keepingCapacity: pending.capacity <= 4096) }
        guard let first = pending.firstIndex(where: { !Self.isSpace($0) }),
              let last = pending.lastIndex(where: { !Self.isSpace($0) }) else { return }
        emit(String(decoding: pending[first...last], as: UTF8.self))
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (0x09...0x0D).contains(byte)
    }
}

/// The last lines a child wrote to stderr, for the error message: at most
/// `capacity` lines of at most `maximumLineLength` bytes each.
struct ErrorTail {
    let capacity: Int
    private var splitter: LineSplitter
    private(set) var lines: [String] = []

    init(capacity: Int, maximumLineLength: Int) {
        self.capacity = capacity
        splitter = LineSplitter(maximumLineLength: maximumLineLength)
    }

    /// Keeps the lines `bytes` completes; `each` sees every one of them.
    mutating func append(_ bytes: UnsafeRawBufferPointer, each: (String) -> Void) {
        var complete: [String] = []
        splitter.append(bytes) { complete.append($0) }
        complete.forEach { each($0); keep($0) }
    }

    /// Keeps the unterminated last line, if any.
    mutating func finish(each: (String) -> Void) {
        var rest: [String] = []
        splitter.finish { rest.append($0) }
        rest.forEach { each($0); keep($0) }
    }

    private mutating func keep(_ line: String) {
        if lines.count == capacity { lines.removeFirst() }
        lines.append(line)
    }
}
