import Transcode

/// The process's arguments as `PathEncoding` strings: valid UTF-8 as it is,
/// any other byte carried so that a file name reaches the file system again
/// exactly as it was typed.
enum CommandLineBytes {
    /// The arguments after the program name.
    static func arguments() -> [String] {
        (1..<Int(CommandLine.argc)).compactMap { index in
            CommandLine.unsafeArgv[index].map { PathEncoding.string(fromCString: $0) }
        }
    }
}
