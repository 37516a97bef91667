import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A signal sent halfway through a transcode to one container.
struct InterruptionCase: Sendable, CustomTestStringConvertible {
    let signal: Int32
    let container: String
    /// Whether OUT already exists (and --overwrite is given): it must survive the interruption.
    var replacing = false
    var expectedExitCode: Int32 { 128 + signal }
    var testDescription: String {
        "\(signal == SIGINT ? "SIGINT" : "SIGTERM") during .\(container)\(replacing ? " --overwrite" : "")"
    }

    static let all = [
        InterruptionCase(signal: SIGTERM, container: "mp4"),
        InterruptionCase(signal: SIGINT, container: "mp4"),
        InterruptionCase(signal: SIGTERM, container: "flv"),
        InterruptionCase(signal: SIGINT, container: "mkv", replacing: true),
    ]
}

@Suite("An interrupted transcode leaves neither OUT nor a temporary file")
struct InterruptionTests {
    @Test("interrupted transcode", .timeLimit(.minutes(30)), arguments: InterruptionCase.all)
    func interrupted(_ testCase: InterruptionCase) async throws {
        try await withTemporaryDirectory { directory in
            let input = try await makeLongSample(in: directory, seconds: 20)
            let outputDirectory = directory.appendingPathComponent("out", isDirectory: true)
            try FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: false)
            let output = outputDirectory.appendingPathComponent("out.\(testCase.container)")
            let previous = Data("the previous good output\n".utf8)
            if testCase.replacing { try previous.write(to: output) }
            let existing = testCase.replacing ? [output.lastPathComponent] : []

            try await withProcessSlot {
                let process = try startVqueue(["transcode", input.path, output.path, "--x264-preset", "veryslow"]
                                              + (testCase.replacing ? ["--overwrite"] : []))
                // `.out.EXT.<pid>.<16 random hex>.part`: tagged by pid, not predictable.
                let partPrefix = ".out.\(testCase.container).\(process.pid)."
                let isPart = { (name: String) in name.hasPrefix(partPrefix) && name.hasSuffix(".part") }

                // Wait until the temporary file exists, so the signal lands mid-write.
                let deadline = ContinuousClock.now + .seconds(30)
                while process.isRunning, ContinuousClock.now < deadline,
                      !directoryListing(outputDirectory).contains(where: isPart) {
                    try await Task.sleep(for: .milliseconds(20))
                }
                let listingWhileRunning = directoryListing(outputDirectory)
                #expect(listingWhileRunning.filter { !isPart($0) } == existing && listingWhileRunning.filter(isPart).count == 1,
                        "while running, only \(partPrefix)….part should exist; saw \(listingWhileRunning)")
                guard process.isRunning else {
                    let early = await process.wait()
                    Issue.record("vqueue ended before it could be interrupted: \(early)")
                    return
                }
                try await Task.sleep(for: .milliseconds(300))

                let signalledAt = ContinuousClock.now
                process.send(signal: testCase.signal)
                let result = await process.wait(timeout: .seconds(20))
                let reaction = ContinuousClock.now - signalledAt

                #expect(result.termination == .exited(testCase.expectedExitCode), "\(result)")
                #expect(reaction < .seconds(5), "took \(reaction) to stop after the signal")
                #expect(result.stdout.isEmpty)
                expectNoControlCharacters(result.stderr)
            }
            #expect(directoryListing(outputDirectory) == existing,
                    "left behind after interruption: \(directoryListing(outputDirectory))")
            if testCase.replacing {
                #expect(try Data(contentsOf: output) == previous, "the previous OUT was damaged")
            }
        }
    }
}
