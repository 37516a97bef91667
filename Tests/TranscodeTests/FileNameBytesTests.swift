import Testing
@testable import Transcode

@Suite("File names are kept byte for byte and shown escaped")
struct FileNameBytesTests {
    @Test("bytes that are not UTF-8 survive the trip through a string",
          arguments: [[0x76, 0x69, 0x64, 0xE9, 0x6F], [0xFF, 0xFE], [0xC3], [0xE6, 0x97], [0xED, 0xA0, 0x80], [0xC0, 0xAF], [0x80]])
    func invalidBytesRoundTrip(bytes: [UInt8]) {
        let string = PathEncoding.string(fromBytes: bytes)
        #expect(!string.unicodeScalars.contains("\u{FFFD}"))
        #expect(PathEncoding.bytes(of: string) == bytes)
    }

    @Test("valid UTF-8 is the plain string it spells")
    func validUTF8IsUnchanged() {
        let name = "vidéo 日本 → web.mp4"
        #expect(PathEncoding.string(fromBytes: Array(name.utf8)) == name)
        #expect(PathEncoding.bytes(of: name) == Array(name.utf8))
        #expect(!PathEncoding.carriesRawBytes(name))
    }

    @Test("a name that really holds a scalar of the carrying range round-trips too")
    func carriedRangeScalarRoundTrips() {
        let bytes = Array("a\u{10FFE9}b".utf8)
        #expect(PathEncoding.bytes(of: PathEncoding.string(fromBytes: bytes)) == bytes)
    }

    @Test("the C string handed to the system is the original bytes")
    func cStringIsTheBytes() {
        let bytes: [UInt8] = [0x2F, 0x74, 0x6D, 0x70, 0x2F, 0xE9, 0x2E, 0x6D, 0x70, 0x34]
        let string = PathEncoding.string(fromBytes: bytes)
        let handed = PathEncoding.withCString(string) { pointer in
            (0..<bytes.count + 1).map { UInt8(bitPattern: pointer[$0]) }
        }
        #expect(handed == bytes + [0])
    }

    @Test("a cut keeps whole characters and fits the limit")
    func prefixKeepsWholeCharacters() {
        let name = Array("日本語".utf8)
        #expect(PathEncoding.prefix(name, maxBytes: 7) == Array("日本".utf8))
        #expect(PathEncoding.prefix(name, maxBytes: 9) == name)
        #expect(PathEncoding.prefix([0x61, 0xFF, 0x62], maxBytes: 2) == [0x61, 0xFF])
    }

    @Test("shown names escape control characters, raw bytes and the backslash", arguments: [
        ("a\u{1B}[31mred", "a\\e[31mred"),
        ("bell\u{07}", "bell\\a"),
        ("new\nline", "new\\nline"),
        ("tab\there", "tab\\there"),
        ("back\\slash", "back\\\\slash"),
        ("nul\u{01}", "nul\\x01"),
        ("c1\u{9B}", "c1\\u{9B}"),
        ("vidéo 日本", "vidéo 日本"),
    ])
    func displayEscapes(name: String, shown: String) {
        #expect(DisplayText.escaped(name) == shown)
    }

    @Test("a byte that is not UTF-8 shows as \\xNN")
    func rawBytesShowAsHex() {
        let name = PathEncoding.string(fromBytes: [0x76, 0xE9, 0x2E, 0x6D, 0x70, 0x34])
        #expect(DisplayText.escaped(name) == "v\\xE9.mp4")
        #expect(DisplayText.jsonSafe(name) == "v\\xE9.mp4")
        #expect(DisplayText.jsonSafe("new\nline") == "new\nline")
    }
}
