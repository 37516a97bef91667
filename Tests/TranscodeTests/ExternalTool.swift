import Foundation
import Testing

/// ffmpeg and ffprobe, run as a user would, to make sources and to judge what was written.
enum ExternalTool {
    /// Runs `program`; its standard output (or, with `errorsToo`, its standard error). A failure is the test's.
    @discardableResult
    static func run(_ program: String, _ arguments: [String], errorsToo: Bool = false) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "\(program) failed: \(message)")
        return errorsToo ? message : text
    }

    /// A new folder of the test's own, removed after `body`.
    static func inFolder<T>(_ body: (URL) throws -> T) throws -> T {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vqueue-transcode-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        return try body(folder)
    }
}
