import ArgumentParser
import Foundation
import Transcode

struct TranscodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transcode",
        abstract: "Transcode one file to web video now, in this process (no queue).",
        discussion: """
        The output is H.264 (High profile, 8-bit 4:2:0) with AAC-LC stereo audio, in the
        container OUT's extension names: .flv, .mp4/.m4v (index at the front) or .mkv.
        Whatever came in comes out upright, progressive, with square pixels and even
        dimensions; surround sound is downmixed.

        OUT is written under a temporary name beside it and renamed when complete, so it
        never holds a partial file; on failure or Ctrl-C nothing is left behind.

        Examples:
          vqueue transcode upload.avi video.flv -b 200k
          vqueue transcode phone.mov phone.mp4 --preset 720p
          vqueue transcode in.mkv out.mp4 --crf 20 --x264-preset medium --max-height 480
          vqueue transcode in.mp4 out.flv --no-audio --timeout 10m

        Exit status: 0 done, 1 the transcode failed (one line on stderr says why),
        75 a temporary failure worth retrying (disk full, I/O error), 64 bad usage.
        Interrupted by SIGINT or SIGTERM: 130 or 143.
        """)

    @Argument(help: ArgumentHelp("The file to read.", valueName: "in"))
    var input: String

    @Argument(help: ArgumentHelp("The file to write: .flv, .mp4, .m4v or .mkv.", valueName: "out"))
    var output: String

    @OptionGroup(title: "Output")
    var output_: TranscodeOptionGroup

    @Flag(help: "Replace OUT if it exists.")
    var overwrite = false

    @Option(help: ArgumentHelp("Container to write (flv, mp4, mkv) whatever OUT's extension.", valueName: "name"))
    var format: String?

    @Flag(help: .hidden)
    var writeInPlace = false

    @Option(help: .hidden)
    var optionsJson: String?

    @Flag(help: "Print progress as one JSON object per line on stdout (for a supervising process).")
    var progressJson = false

    @Flag(help: "Let libav print its own warnings on stderr.")
    var verbose = false

    func validate() throws {
        if let format {
            guard OutputContainer(rawValue: format) != nil else {
                throw ValidationError("unknown --format '\(format)'; use flv, mp4 or mkv.")
            }
            return
        }
        do {
            _ = try OutputContainer(path: output)
        } catch {
            throw ValidationError("\(output): \(error)")
        }
    }

    /// The options: as given on the command line, or as a worker passes a
    /// queued job's options to its child.
    func transcodeOptions() throws -> TranscodeOptions {
        guard let optionsJson else { return output_.options }
        do {
            return try JSONDecoder().decode(TranscodeOptions.self, from: Data(optionsJson.utf8))
        } catch {
            throw ValidationError("--options-json is not valid: \(error)")
        }
    }

    func run() throws {
        LibAVLogging.configure(verbose: verbose)
        let signals = SignalMonitor()
        let supervisor = SupervisorWatch()
        let display = ProgressDisplay(json: progressJson)
        let transcoder = Transcoder(input: input, output: output, options: try transcodeOptions(), overwrite: overwrite,
                                    container: format.flatMap(OutputContainer.init(rawValue:)), inPlace: writeInPlace)
        let workingPath = transcoder.workingPath
        supervisor.startWatchdog { unlink(workingPath) }
        do {
            let summary = try transcoder.run(progress: display.show,
                                             isCancelled: { signals.isSignalled || supervisor.supervisorIsGone })
            if summary.corruptPackets > 0 {
                CommandFailure.warn(input, "concealed \(summary.corruptPackets) corrupt packet\(summary.corruptPackets == 1 ? "" : "s")")
            }
        } catch .cancelled {
            let why = supervisor.supervisorIsGone ? "its worker is gone" : "interrupted"
            throw CommandFailure.report(input, "\(why); \(output) was not written",
                                        exitCode: signals.isSignalled ? signals.exitCode : 75)
        } catch let error where error.isAboutOutput {
            throw CommandFailure.report(output, error.description)
        } catch {
            throw CommandFailure.report(input, error.description, exitCode: error.isPermanent ? 1 : 75)
        }
    }
}

extension TranscodeError {
    /// Whether the message is about the output file rather than the input,
    /// so the error line names the right one.
    var isAboutOutput: Bool {
        switch self {
        case .outputExists, .outputFolder, .unsupportedOutput, .outputIsInput, .outputNotCreated, .diskFull: return true
        default: return false
        }
    }
}
