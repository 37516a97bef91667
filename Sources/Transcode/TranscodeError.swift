import Foundation

/// Everything that can stop a transcode, in words a user can act on. The
/// `description` never starts with the file name: the caller puts the file
/// in front (`vqueue: error: in.avi: has no video stream`).
public enum TranscodeError: Error, Equatable, CustomStringConvertible, Sendable {
    case inputMissing
    case inputUnreadable(String)
    case notMedia(String)
    /// A playlist, a concat list, an image sequence: a file that would make
    /// libav read other files or URLs.
    case notSingleFile(String)
    case noVideoStream
    case unsupportedCodec(String)
    case pictureTooLarge(width: Int, height: Int, limit: Int)
    case truncated(decoded: Double, claimed: Double)
    case nothingDecoded
    case timeLimit(Double)
    /// Bytes: an allocation failed under `--max-memory`.
    case memoryLimit(Int)
    case cancelled
    case unsupportedOutput(String)
    case outputIsInput
    case outputExists
    /// OUT was not there when the work was checked and is now: someone else
    /// wrote it, and it is left as it is.
    case outputAppeared
    /// A companion of OUT (its poster, its storyboard; the path as given)
    /// exists, and overwriting was not asked.
    case companionExists(String)
    /// The same, found when the output was published: someone else wrote
    /// it meanwhile; it is left as it is, and nothing was published.
    case companionAppeared(String)
    case outputFolder(String)
    /// A name the output's file system cannot take (too long, refused).
    case outputName(String)
    case diskFull(String)
    /// An I/O error a second attempt may not meet (EIO, a lost mount…).
    case ioError(String, String)
    /// The finished file is not what was asked for; it is not published.
    case outputCheckFailed(String)
    case libav(String, String)

    /// Failures that a second attempt on the same input would repeat; the
    /// queue fails these at once instead of retrying.
    public var isPermanent: Bool {
        switch self {
        case .cancelled, .diskFull, .ioError: return false
        default: return true
        }
    }

    /// A stable, machine-readable name for the failure (`error_code` in
    /// JSON; the table is in the README). Never changes for a given kind of
    /// failure, whatever the message says.
    public var code: String {
        switch self {
        case .inputMissing: return "input_missing"
        case .inputUnreadable: return "input_unreadable"
        case .notMedia: return "not_media"
        case .notSingleFile: return "not_single_file"
        case .noVideoStream: return "no_video_stream"
        case .unsupportedCodec: return "unsupported_codec"
        case .pictureTooLarge: return "too_many_pixels"
        case .truncated: return "truncated"
        case .nothingDecoded: return "nothing_decoded"
        case .timeLimit: return "timeout"
        case .memoryLimit: return "memory_limit"
        case .memoryLimit(let bytes):
            return "exceeded the memory limit of \(Self.bytes(bytes)) (raise it with --max-memory)"
        case .cancelled: return "cancelled"
        case .unsupportedOutput: return "unsupported_output"
        case .outputIsInput: return "output_is_input"
        case .outputExists, .outputAppeared, .companionExists, .companionAppeared: return "output_exists"
        case .outputFolder: return "output_folder"
        case .outputName: return "output_name"
        case .diskFull: return "disk_full"
        case .ioError: return "io_error"
        case .outputCheckFailed: return "output_check_failed"
        case .libav: return "libav_error"
        }
    }

    /// Every code `code` can return, in the README's order.
    public static let codes = [
        "input_missing", "input_unreadable", "not_media", "not_single_file", "no_video_stream",
        "unsupported_codec", "too_many_pixels", "truncated", "nothing_decoded", "timeout", "memory_limit",
        "cancelled", "unsupported_output", "output_is_input", "output_exists", "output_folder", "output_name",
        "disk_full", "io_error", "output_check_failed", "libav_error",
    ]

    /// Whether the message is about the output file rather than the input,
    /// so an error line names the right one.
    public var isAboutOutput: Bool {
        switch self {
        case .outputExists, .outputAppeared, .companionExists, .companionAppeared, .outputFolder, .outputName,
             .unsupportedOutput, .outputIsInput, .diskFull, .outputCheckFailed:
            return true
        default:
            return false
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
        case .notSingleFile(let what):
            return "is not a single media file (\(what)); only files that hold their own media are transcoded"
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
        case .memoryLimit(let bytes):
            return "exceeded the memory limit of \(Self.bytes(bytes)) (raise it with --max-memory)"
        case .cancelled:
            return "transcode cancelled"
        case .unsupportedOutput(let ext):
            return "unsupported output extension '\(ext)' (use .flv, .mp4, .m4v, .mkv, or .hls for an HLS ladder)"
        case .outputIsInput:
            return "output is the input file itself; choose another output name"
        case .outputExists:
            return "output already exists (use --overwrite to replace it)"
        case .outputAppeared:
            return "output appeared after the transcode was queued or started; it was left untouched (use --overwrite to replace it)"
        case .companionExists(let path):
            return "\(DisplayText.escaped(path)), which it would write beside it, already exists (use --overwrite to replace it)"
        case .companionAppeared(let path):
            return "\(DisplayText.escaped(path)), which it writes beside it, appeared after the transcode was queued or started; "
                + "it was left untouched and nothing was published (use --overwrite to replace it)"
        case .outputFolder(let why):
            return "output folder \(why)"
        case .outputName(let why):
            return "cannot be an output name: \(why)"
        case .diskFull(let doing):
            return "no space left on device while \(doing); free some space and retry"
        case .outputCheckFailed(let what):
            return "the finished output failed its check (\(what)); nothing was published"
        case .ioError(let doing, let message), .libav(let doing, let message):
            return "\(doing) failed: \(message)"
        }
    }

    static func seconds(_ value: Double) -> String {
        String(format: "%.2f s", value)
    }

    /// 536870912 -> "512 MiB", 1610612736 -> "1.5 GiB".
    static func bytes(_ value: Int) -> String {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var amount = Double(value)
        var unit = 0
        while amount >= 1024 && unit < units.count - 1 {
            amount /= 1024
            unit += 1
        }
        return amount == amount.rounded() ? "\(Int(amount)) \(units[unit])" : String(format: "%.1f %@", amount, units[unit])
    }
}
