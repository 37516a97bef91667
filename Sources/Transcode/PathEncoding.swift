/// File names are bytes; Swift strings are Unicode. A name that is not valid
/// UTF-8 (an old Latin-1 upload, a name cut mid-character) must still name
/// its file byte for byte, so vqueue carries such bytes inside strings
/// reversibly: each byte that is not part of valid UTF-8 becomes the private
/// use scalar U+10FF00 + byte (only U+10FF80…U+10FFFF ever occur, as ASCII
/// is always valid). A name that really contains one of those scalars has
/// its UTF-8 bytes carried the same way, so the mapping never loses anything
/// in either direction. Every path that reaches a system call goes through
/// `withCString`, which turns carried bytes back into themselves.
public enum PathEncoding {
    /// The first scalar of the carried-byte range (its byte is 0x00).
    static let carriedBase: UInt32 = 0x10FF00

    /// The string that carries `bytes` (argv, readlink, a folder listing).
    public static func string(fromBytes bytes: some Collection<UInt8>) -> String {
        let bytes = Array(bytes)
        var scalars = String.UnicodeScalarView()
        var index = 0
        while index < bytes.count {
            if let (scalar, length) = decodeScalar(bytes, at: index), !isCarried(scalar) {
                scalars.append(scalar)
                index += length
            } else {
                let length = decodeScalar(bytes, at: index)?.1 ?? 1
                for byte in bytes[index..<index + length] {
                    scalars.append(Unicode.Scalar(carriedBase + UInt32(byte))!)
                }
                index += length
            }
        }
        return String(scalars)
    }

    /// The string for a NUL-terminated C string.
    public static func string(fromCString cString: UnsafePointer<CChar>) -> String {
        let length = strlenOf(cString)
        return cString.withMemoryRebound(to: UInt8.self, capacity: length) {
            string(fromBytes: UnsafeBufferPointer(start: $0, count: length))
        }
    }

    /// The bytes `string` stands for on disk.
    public static func bytes(of string: String) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(string.utf8.count)
        for scalar in string.unicodeScalars {
            if isCarried(scalar) {
                bytes.append(UInt8(scalar.value - carriedBase))
            } else {
                bytes.append(contentsOf: String(scalar).utf8)
            }
        }
        return bytes
    }

    /// Calls `body` with the path as the NUL-terminated bytes a system call
    /// takes.
    public static func withCString<Result, Failure: Error>(
        _ path: String, _ body: (UnsafePointer<CChar>) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        var raw = bytes(of: path).map { CChar(bitPattern: $0) }
        raw.append(0)
        return try raw.withUnsafeBufferPointer { (buffer) throws(Failure) -> Result in try body(buffer.baseAddress!) }
    }

    /// The longest start of `bytes` that fits `maxBytes` without cutting a
    /// UTF-8 character in two (raw bytes that are not UTF-8 count as one
    /// character each).
    static func prefix(_ bytes: [UInt8], maxBytes: Int) -> [UInt8] {
        guard bytes.count > maxBytes else { return bytes }
        var end = 0
        while end < bytes.count {
            let length = decodeScalar(bytes, at: end)?.1 ?? 1
            if end + length > maxBytes { break }
            end += length
        }
        return Array(bytes[..<end])
    }

    /// Whether `scalar` stands for one raw byte.
    static func isCarried(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value >= carriedBase + 0x80 && scalar.value <= carriedBase + 0xFF
    }

    /// Whether the string carries any byte that is not UTF-8.
    public static func carriesRawBytes(_ string: String) -> Bool {
        string.unicodeScalars.contains(where: isCarried)
    }

    /// One scalar of strict UTF-8 (no overlongs, no surrogates, at most
    /// U+10FFFF) starting at `index`, with its length; nil if the bytes there
    /// are not valid UTF-8.
    private static func decodeScalar(_ bytes: [UInt8], at index: Int) -> (Unicode.Scalar, Int)? {
        let first = bytes[index]
        if first < 0x80 { return (Unicode.Scalar(first), 1) }
        let length: Int
        let minimum: UInt32
        var value: UInt32
        switch first {
        case 0xC2...0xDF: length = 2; minimum = 0x80; value = UInt32(first & 0x1F)
        case 0xE0...0xEF: length = 3; minimum = 0x800; value = UInt32(first & 0x0F)
        case 0xF0...0xF4: length = 4; minimum = 0x10000; value = UInt32(first & 0x07)
        default: return nil
        }
        guard index + length <= bytes.count else { return nil }
        for offset in 1..<length {
            let byte = bytes[index + offset]
            guard byte & 0xC0 == 0x80 else { return nil }
            value = value << 6 | UInt32(byte & 0x3F)
        }
        guard value >= minimum, let scalar = Unicode.Scalar(value) else { return nil }
        return (scalar, length)
    }

    private static func strlenOf(_ cString: UnsafePointer<CChar>) -> Int {
        var length = 0
        while cString[length] != 0 { length += 1 }
        return length
    }
}
