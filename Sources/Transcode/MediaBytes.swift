import Glibc

/// Bytes a demuxer reads through `InputIOContext`: one file, or several
/// read as one.
protocol MediaBytes: AnyObject {
    /// Where the bytes are, for libav's messages and format guesses.
    var realPath: String { get }
    /// Their length when opened.
    var size: Int64 { get }
    /// Their length now (a file still being written may grow).
    var currentSize: Int64 { get }
    /// Up to `count` bytes at `offset`: the bytes read, 0 at the end, or -1
    /// with errno set.
    func read(into buffer: UnsafeMutableRawPointer, count: Int, at offset: Int64) -> Int
}

extension InputFile: MediaBytes {}

/// Files read one after another as one stream of bytes: an HLS rendition's
/// init segment and media segments, which together are one fragmented MP4
/// (or one MPEG-TS), so the check before publishing demuxes a rendition
/// whole, as a player would play it.
final class ConcatenatedFiles: MediaBytes {
    private let files: [InputFile]
    /// Where each file starts.
    private let starts: [Int64]
    let size: Int64
    let realPath: String

    init(_ files: [InputFile]) {
        self.files = files
        var starts: [Int64] = []
        var total: Int64 = 0
        for file in files {
            starts.append(total)
            total += file.size
        }
        self.starts = starts
        size = total
        realPath = files.first?.realPath ?? ""
    }

    var currentSize: Int64 { size }

    func read(into buffer: UnsafeMutableRawPointer, count: Int, at offset: Int64) -> Int {
        guard offset < size, let index = starts.lastIndex(where: { $0 <= offset }) else { return 0 }
        let within = offset - starts[index]
        let left = Int(min(Int64(count), files[index].size - within))
        guard left > 0 else { return 0 }
        return files[index].read(into: buffer, count: left, at: within)
    }
}
