import Glibc
import Testing
@testable import Transcode

@Suite("Every failure has a stable error code")
struct ErrorCodeTests {
    static let everyKind: [TranscodeError] = [
        .inputMissing, .inputUnreadable("x"), .notMedia("x"), .notSingleFile("x"), .noVideoStream,
        .unsupportedCodec("x"), .pictureTooLarge(width: 1, height: 1, limit: 1), .truncated(decoded: 1, claimed: 2),
        .nothingDecoded, .timeLimit(1), .memoryLimit(1 << 29), .cancelled, .unsupportedOutput("x"), .outputIsInput,
        .outputExists, .outputAppeared, .companionExists("x"), .companionAppeared("x"), .outputFolder("x"), .outputName("x"), .diskFull("x"), .ioError("x", "y"),
        .outputCheckFailed("x"), .libav("x", "y"),
    ]

    @Test("codes are snake_case and all listed in the documented table")
    func codesAreDocumented() {
        for error in Self.everyKind {
            #expect(TranscodeError.codes.contains(error.code), "\(error.code) is not in the table")
            #expect(error.code.allSatisfy { $0.isLowercase || $0 == "_" }, "\(error.code)")
        }
        #expect(Set(Self.everyKind.map(\.code)) == Set(TranscodeError.codes))
    }

    @Test("a full disk and I/O errors are temporary; limits and bad inputs are not")
    func permanence() {
        #expect(!TranscodeError.diskFull("writing").isPermanent)
        #expect(!TranscodeError.ioError("reading", "Input/output error").isPermanent)
        #expect(TranscodeError.memoryLimit(1 << 29).isPermanent)
        #expect(TranscodeError.notSingleFile("a playlist").isPermanent)
        #expect(TranscodeError.outputAppeared.isPermanent)
    }

    @Test("libav's ENOSPC, EDQUOT and EIO are temporary failures with their codes")
    func libavWriteErrorsAreTemporary() {
        #expect(libavError(-ENOSPC, "writing the output").code == "disk_full")
        #expect(libavError(-EDQUOT, "writing the output").code == "disk_full")
        #expect(libavError(-EIO, "writing the output").code == "io_error")
        #expect(!libavError(-EIO, "writing the output").isPermanent)
    }

    @Test("the memory limit message names the limit")
    func memoryLimitMessage() {
        #expect(TranscodeError.memoryLimit(512 << 20).description.contains("exceeded the memory limit of 512 MiB"))
    }
}
