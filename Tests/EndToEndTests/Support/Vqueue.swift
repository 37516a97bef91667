import Foundation
import Testing

/// Runs the vqueue binary as a user would, with no terminal attached.
func vqueue(_ arguments: [String], in directory: URL? = nil,
            timeout: Duration = .seconds(180)) async throws -> ProcessResult {
    try #require(FileManager.default.isExecutableFile(atPath: Locations.vqueue.path),
                 "vqueue binary not found at \(Locations.vqueue.path); build it or set VQUEUE_BIN")
    return try await runProcess(Locations.vqueue, arguments, currentDirectory: directory, timeout: timeout)
}

/// Starts the vqueue binary and returns at once, for tests that act while it runs.
/// `environment` is added to (and overrides) the test's own.
func startVqueue(_ arguments: [String], in directory: URL? = nil,
                 environment: [String: String] = [:]) throws -> RunningProcess {
    try #require(FileManager.default.isExecutableFile(atPath: Locations.vqueue.path),
                 "vqueue binary not found at \(Locations.vqueue.path); build it or set VQUEUE_BIN")
    return try RunningProcess(Locations.vqueue, arguments, currentDirectory: directory, environment: environment)
}
