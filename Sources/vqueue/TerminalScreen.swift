import Foundation

/// The terminal in full-screen mode for `vqueue top`: the alternate screen,
/// no echo, keys read one at a time. `restore()` puts everything back; it
/// is called on every way out (quit, SIGINT, SIGTERM, error).
final class TerminalScreen {
    private var saved = termios()
    private var active = false

    enum Key: Equatable { case up, down, character(Character), none }

    init() throws {
        guard isatty(STDIN_FILENO) == 1, isatty(STDOUT_FILENO) == 1 else {
            throw CommandFailure.report("top", "needs a terminal; use `vqueue top --once` in scripts")
        }
        tcgetattr(STDIN_FILENO, &saved)
        var raw = saved
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO)
        withUnsafeMutableBytes(of: &raw.c_cc) { bytes in
            bytes[Int(VMIN)] = 0
            bytes[Int(VTIME)] = 0
        }
        tcsetattr(STDIN_FILENO, TCSANOW, &raw)
        write("\u{1B}[?1049h\u{1B}[?25l")
        active = true
    }

    deinit { restore() }

    func restore() {
        guard active else { return }
        active = false
        write("\u{1B}[?25h\u{1B}[?1049l")
        tcsetattr(STDIN_FILENO, TCSANOW, &saved)
    }

    /// Columns and rows (80x24 when the terminal does not say).
    var size: (width: Int, height: Int) {
        var window = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &window) == 0, window.ws_col > 0, window.ws_row > 0 {
            return (Int(window.ws_col), Int(window.ws_row))
        }
        return (80, 24)
    }

    func draw(_ lines: [String]) {
        var frame = "\u{1B}[H"
        for line in lines { frame += line + "\u{1B}[K\r\n" }
        frame += "\u{1B}[J"
        write(frame)
    }

    /// Waits up to `timeout` seconds for a key.
    func key(timeout: Double) -> Key {
        var descriptor = pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)
        guard poll(&descriptor, 1, Int32(timeout * 1000)) > 0 else { return .none }
        var bytes = [UInt8](repeating: 0, count: 8)
        let count = read(STDIN_FILENO, &bytes, bytes.count)
        guard count > 0 else { return .none }
        if count >= 3 && bytes[0] == 0x1B && bytes[1] == UInt8(ascii: "[") {
            if bytes[2] == UInt8(ascii: "A") { return .up }
            if bytes[2] == UInt8(ascii: "B") { return .down }
            return .none
        }
        return .character(Character(UnicodeScalar(bytes[0])))
    }

    private func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}
