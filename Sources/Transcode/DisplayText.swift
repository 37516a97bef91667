/// A file name as it may be shown on a terminal or in a one-line log: a name
/// is chosen by whoever uploaded the file, and printed raw its ESC, BEL or
/// newline would drive the reader's terminal or break a line-per-record
/// format. Bytes that are not UTF-8 (see `PathEncoding`) show as `\xNN`,
/// control characters as `\e`, `\a`, `\n`, `\t`, `\r` or `\xNN`, DEL and the
/// C1 controls and Unicode's line and paragraph separators as `\u{…}`, and
/// the backslash itself as `\\`, so a shown name is never ambiguous.
public enum DisplayText {
    public static func escaped(_ text: String) -> String {
        var shown = ""
        shown.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            if PathEncoding.isCarried(scalar) {
                shown += "\\x" + hex(scalar.value - PathEncoding.carriedBase)
                continue
            }
            switch scalar {
            case "\\": shown += "\\\\"
            case "\n": shown += "\\n"
            case "\r": shown += "\\r"
            case "\t": shown += "\\t"
            case "\u{1B}": shown += "\\e"
            case "\u{07}": shown += "\\a"
            case "\u{08}": shown += "\\b"
            default:
                if scalar.value < 0x20 {
                    shown += "\\x" + hex(scalar.value)
                } else if (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029 {
                    shown += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
                } else {
                    shown.unicodeScalars.append(scalar)
                }
            }
        }
        return shown
    }

    /// For JSON, whose encoder already escapes control characters: only the
    /// carried raw bytes are spelled `\xNN`, so a UTF-8 name is reported
    /// exactly and a name that is not UTF-8 is still readable.
    public static func jsonSafe(_ text: String) -> String {
        guard PathEncoding.carriesRawBytes(text) else { return text }
        var shown = ""
        for scalar in text.unicodeScalars {
            if PathEncoding.isCarried(scalar) {
                shown += "\\x" + hex(scalar.value - PathEncoding.carriedBase)
            } else {
                shown.unicodeScalars.append(scalar)
            }
        }
        return shown
    }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return digits.count == 1 ? "0" + digits : digits
    }
}
