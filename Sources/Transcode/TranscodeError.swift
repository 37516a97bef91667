import Foundation

/// Everything that can stop a transcode, in words a user can act on. The
/// `description` never starts with the file name: the caller puts the file
/// in front (`vqueue: error: in.avi: has no video stream`).
public enum TranscodeError: Error, Equatable, CustomStringConvertible, Sendable {
    case inputMissing
    case inputUnreadable(String)
    case notMedia(String)
    case noVideoStream
    case unsupportedCodec(String)
    case pictureTooLarge(width: Int, height: Int, limit: Int)
    case truncated(decoded: Double, claimed: Double)
    case nothingDecoded
    case timeLimit(Double)
    case cancelled
    case unsupportedOutput(String)
    case outputIsInput
    case outputExists
    case outputFolder(String)
    case diskFull(String)
    case outputNotCreated(String)
    /// An I/O error a second attempt may not meet (EIO, ENOMEM…).
    case ioError(String, String)
    case libav(String, String)

    /// Failures that a second attempt on the same input would repeat; the
    /// queue fails these at once instead of retrying.
    public var isPermanent: Bool {
        switch self {
        case .cancelled, .diskFull, .ioError: return false
        default: return true
        }
    }

    public var description: String {
        switch self {
        case .inputMissing:
            return "no such file"
        case .inputUnreadable(let why):
            return "cannot be read (\(why))"
        case .notMedia(let why):
            return "is not a video file libav can read (\(why))"
        case .noVideoStream:
            return "has no video stream (audio-only files cannot become web video)"
        case .unsupportedCodec(let codec):
            return "uses a codec this build of libav cannot decode (\(codec))"
        case .pictureTooLarge(let width, let height, let limit):
            return "claims a \(width)x\(height) picture, more than the limit of \(limit) pixels (raise it with --max-pixels)"
        case .truncated(let decoded, let claimed):
            return "looks truncated: only \(Self.seconds(decoded)) of the \(Self.seconds(claimed)) the container claims could be decoded (use --allow-partial to accept it)"
        case .nothingDecoded:
            return "contains no decodable video frame"
        case .timeLimit(let limit):
            return "exceeded the time limit of \(Self.seconds(limit)) (raise it with --timeout)"
        case .cancelled:
            return "transcode cancelled"
        case .unsupportedOutput(let ext):
            return "unsupported output extension '\(ext)' (use .flv, .mp4, .m4v or .mkv)"
        case .outputIsInput:
            return "output is the input file itself; choose another output name"
        case .outputExists:
            return "output already exists (use --overwrite to replace it)"
        case .outputFolder(let why):
            return "output folder \(why)"
        case .diskFull(let doing):
            return "no space left on device while \(doing); free some space and retry"
        case .outputNotCreated(let why):
            return "cannot create the output file (\(why))"
        case .ioError(let doing, let message), .libav(let doing, let message):
            return "\(doing) failed: \(message)"
        }
    }

    static func seconds(_ value: Double) -> String {
        String(format: "%.2f s", value)
    }
}
