import Foundation

/// Types of the top-level boxes of an MP4/QuickTime file, in file order (e.g. ftyp, moov, mdat).
/// A web player can start before the download ends only when moov comes before mdat.
func topLevelBoxTypes(_ file: URL) throws -> [String] {
    let handle = try FileHandle(forReadingFrom: file)
    defer { try? handle.close() }
    let fileSize = try handle.seekToEnd()
    var offset: UInt64 = 0
    var types: [String] = []
    while offset + 8 <= fileSize {
        try handle.seek(toOffset: offset)
        let header = try handle.read(upToCount: 16) ?? Data()
        guard header.count >= 8 else { break }
        let bytes = [UInt8](header)
        var size = bytes[0..<4].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        types.append(String(decoding: bytes[4..<8], as: UTF8.self))
        if size == 1, bytes.count >= 16 {  // 64-bit size follows the type
            size = bytes[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        } else if size == 0 {  // box runs to the end of the file
            size = fileSize - offset
        }
        guard size >= 8 else { break }
        offset += size
    }
    return types
}
