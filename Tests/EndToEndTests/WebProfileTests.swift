import Foundation
import Testing

/// One input fixture written to one output container.
struct TranscodeCase: Sendable, CustomTestStringConvertible {
    let fixture: String
    let container: String
    var testDescription: String { "\(fixture) -> .\(container)" }

    static let all: [TranscodeCase] = Fixture.transcodable.flatMap { fixture in
        Fixture.containers.map { TranscodeCase(fixture: fixture, container: $0) }
    }
}

@Suite("Every accepted input becomes web video in every container")
struct WebProfileTests {
    @Test("transcode meets the web profile", .timeLimit(.minutes(30)), arguments: TranscodeCase.all)
    func meetsWebProfile(_ testCase: TranscodeCase) async throws {
        try await withTemporaryDirectory { directory in
            try await transcodeExpectingSuccess(Locations.fixture(testCase.fixture), to: testCase.container,
                                                in: directory)
            #expect(directoryListing(directory) == ["out.\(testCase.container)"], "only OUT may be left")
        }
    }
}
