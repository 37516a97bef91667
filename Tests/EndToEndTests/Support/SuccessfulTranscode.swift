import Foundation
import Testing

/// A transcode that went as it should, for the checks particular to one test.
struct SuccessfulTranscode: Sendable {
    let result: ProcessResult
    let output: URL
    /// ffprobe's view of `output`.
    let info: MediaInfo
}

/// Runs `vqueue transcode INPUT DIRECTORY/out.CONTAINER ARGUMENTS...` and expects what every successful
/// run owes its user: exit 0, quiet stdout, clean stderr, and an output meeting the web profile.
@discardableResult
func transcodeExpectingSuccess(_ input: URL, to container: String, in directory: URL, arguments: [String] = [],
                               expectAudio: Bool? = nil, checkDuration: Bool = true,
                               sourceLocation: SourceLocation = #_sourceLocation) async throws -> SuccessfulTranscode {
    let output = directory.appendingPathComponent("out.\(container)")
    let result = try await vqueue(["transcode", input.path, output.path] + arguments)
    expectQuietSuccess(result, sourceLocation: sourceLocation)
    try #require(result.exitCode == 0, "\(result)", sourceLocation: sourceLocation)
    let info = try await expectWebProfile(output, from: input, expectAudio: expectAudio, checkDuration: checkDuration,
                                          sourceLocation: sourceLocation)
    return SuccessfulTranscode(result: result, output: output, info: info)
}
