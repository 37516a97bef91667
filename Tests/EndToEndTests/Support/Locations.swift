import Foundation

/// Where the things the tests use live.
enum Locations {
    /// The package root: this file is Tests/EndToEndTests/Support/Locations.swift.
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // Support
        .deletingLastPathComponent()  // EndToEndTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()

    /// `VQUEUE_FIXTURES`, or the package's Fixtures folder.
    static let fixtures: URL = {
        if let override = ProcessInfo.processInfo.environment["VQUEUE_FIXTURES"], !override.isEmpty {
            return URL(fileURLWithPath: override, isDirectory: true)
        }
        return packageRoot.appendingPathComponent("Fixtures", isDirectory: true)
    }()

    static func fixture(_ name: String) -> URL { fixtures.appendingPathComponent(name) }

    /// The binary under test: `VQUEUE_BIN`, else the `vqueue` next to the test bundle
    /// (`swift test` runs `.build/<config>/vqueuePackageTests.xctest`), else `.build/debug/vqueue`.
    static let vqueue: URL = {
        if let override = ProcessInfo.processInfo.environment["VQUEUE_BIN"], !override.isEmpty {
            return URL(fileURLWithPath: override)
        }
        var candidates: [URL] = []
        if let first = CommandLine.arguments.first {
            candidates.append(URL(fileURLWithPath: first).deletingLastPathComponent().appendingPathComponent("vqueue"))
        }
        if let executable = Bundle.main.executableURL {
            candidates.append(executable.deletingLastPathComponent().appendingPathComponent("vqueue"))
        }
        candidates.append(packageRoot.appendingPathComponent(".build/debug/vqueue"))
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates.last!
    }()

    static let ffmpeg = tool("ffmpeg")
    static let ffprobe = tool("ffprobe")
    static let python = tool("python3")
    static let php = tool("php")
    static let chromium = tool("chromium")

    private static func tool(_ name: String) -> URL {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
            .split(separator: ":")
            .map { URL(fileURLWithPath: String($0)).appendingPathComponent(name) }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
        return path ?? URL(fileURLWithPath: "/usr/bin/\(name)")
    }
}
