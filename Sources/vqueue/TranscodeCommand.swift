import ArgumentParser
import Foundation
import Transcode

struct TranscodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transcode",
        abstract: "Transcode one file to web video now, in this process (no queue).",
        discussion: """
        The output is H.264 (High profile, 8-bit 4:2:0) with AAC-LC stereo audio, in the \
        container OUT's extension names: .flv, .mp4/.m4v (index at the front) or .mkv. \
        Whatever came in comes out upright, progressive, with square pixels and even \
        dimensions; surround sound is downmixed.

        OUT is written under a temporary name beside it and renamed when complete, so it \
        never holds a partial file; on failure or Ctrl-C nothing is left behind.

        --poster and --storyboard write, beside a single file out.mp4, out.poster.jpg, \
        out.storyboard.jpg and out.storyboard.vtt: made in a hidden folder beside OUT, \
        they take their names just before OUT takes its own, or none of them does. An \
        existing one is refused without --overwrite, as OUT is.

        Examples:
          vqueue transcode upload.avi video.flv -b 200k
          vqueue transcode phone.mov phone.mp4 --preset 720p
          vqueue transcode in.mkv out.mp4 --crf 20 --x264-preset medium --max-height 480
          vqueue transcode in.mp4 out.flv --no-audio --timeout 10m
          vqueue transcode talk.mov talk.mp4 --poster --storyboard

        IN is opened once and read only as a single media file: a playlist, a list of other \
        files or an image sequence is refused, and libav opens nothing else. OUT is never \
        replaced without --overwrite, even if it appears while the transcode runs. Before OUT \
        takes its name the finished file is checked: it opens, holds H.264 of the expected \
        size (and AAC when there is audio), and lasts as long as the source decoded to.

        With --max-memory the process's private memory (RLIMIT_DATA) is capped; a transcode \
        that needs more fails with "exceeded the memory limit".

        Exit status: 0 done, 1 the transcode failed (one line on stderr says why), \
        75 a temporary failure worth retrying (disk full, I/O error), 64 bad usage. \
        Interrupted by SIGINT or SIGTERM: 130 or 143. With --progress-json a failure also \
        ends stdout with {"error": ..., "error_code": ..., "permanent": ...}.
        """)

    @Argument(help: ArgumentHelp("The file to read.", valueName: "in"), completion: .file())
    var input: String

    @Argument(help: ArgumentHelp("The file to write: .flv, .mp4, .m4v or .mkv; or the folder of an HLS ladder: .hls.",
                                 valueName: "out"), completion: .file())
    var output: String

    @OptionGroup(title: "Output")
    var output_: TranscodeOptionGroup

    @Flag(help: "Replace OUT if it exists.")
    var overwrite = false

    @Option(help: ArgumentHelp("Container to write whatever OUT's extension.", valueName: "name"))
    var format: OutputContainer?

    /// A worker's child reads IN from this descriptor, which the worker
    /// opened and checked; IN is then only the name for messages.
    @Option(help: .hidden)
    var inputFd: Int32?

    /// A worker's child writes into this descriptor, a temporary file the
    /// worker created and will publish; OUT is then only the name for
    /// messages (and the container, unless --format).
    @Option(help: .hidden)
    var outputFd: Int32?

    /// A worker's child writes a single file's companions (its poster, its
    /// storyboard) into this descriptor, a temporary folder the worker
    /// created and will publish with OUT.
    @Option(help: .hidden)
    var companionsFd: Int32?

    @Option(help: .hidden)
    var optionsJson: String?

    /// A worker's child runs one step of a split job (`SplitStep` as JSON):
    /// a chunk or the audio from --input-fd into --output-fd, or the stitch
    /// of the parts in the work folder --parts-fd into --output-fd.
    @Option(help: .hidden)
    var splitStep: String?

    @Option(help: .hidden)
    var partsFd: Int32?

    /// A split job's still pictures: a chunk's file for its share of them,
    /// or the stitch's folder for a single file's companions.
    @Option(help: .hidden)
    var stillsFd: Int32?

    @Flag(help: "Print progress as one JSON object per line on stdout (for a supervising process); a failure ends with one {\"error\", \"error_code\", \"permanent\"} line.")
    var progressJson = false

    @Flag(help: "Let libav print its own warnings on stderr.")
    var verbose = false

    func validate() throws {
        for (name, fd) in [("--input-fd", inputFd), ("--output-fd", outputFd), ("--companions-fd", companionsFd), ("--parts-fd", partsFd),
                          ("--stills-fd", stillsFd)] {
            if let fd, fd < 3 { throw ValidationError("\(name) must be a descriptor above 2 (not stdin, stdout or stderr).") }
        }
        if splitStep != nil && outputFd == nil { throw ValidationError("--split-step goes with --output-fd.") }
        if let format {
            try output_.validate(for: format)
            return
        }
        do {
            try output_.validate(for: try OutputContainer(path: output))
        } catch let error as TranscodeError {
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
        let options = try transcodeOptions()
        let signals = SignalMonitor()
        let display = ProgressDisplay(json: progressJson)
        if let splitStep, let outputFd {
            return try runSplitStep(splitStep, output: outputFd, options: options, signals: signals, display: display)
        }
        let transcoder = Transcoder(source: inputFd.map { .descriptor($0) } ?? .path(input),
                                    destination: destination, options: options,
                                    container: format ?? (try? OutputContainer(path: output)))
        do {
            // Before anything is opened, so every allocation counts.
            if let bytes = options.maxMemory { try MemoryLimit.apply(bytes: bytes) }
            let summary = try transcoder.run(progress: { display.show($0) },
                                             isCancelled: { signals.isSignalled })
            if summary.corruptPackets > 0 {
                CommandFailure.warn(DisplayText.escaped(input),
                                    "concealed \(summary.corruptPackets) corrupt packet\(summary.corruptPackets == 1 ? "" : "s")")
            }
        } catch .cancelled {
            throw fail(TranscodeError.cancelled, subject: input, message: "interrupted; \(DisplayText.escaped(output)) was not written",
                       exitCode: signals.isSignalled ? signals.exitCode : 75)
        } catch {
            throw fail(error, subject: error.isAboutOutput ? output : input, message: error.description,
                       exitCode: error.isPermanent ? 1 : 75)
        }
    }

    /// One step of a split job, as a worker's child.
    private func runSplitStep(_ json: String, output: Int32, options: TranscodeOptions, signals: SignalMonitor,
                              display: ProgressDisplay) throws {
        guard let step = try? JSONDecoder().decode(SplitStep.self, from: Data(json.utf8)) else {
            throw ValidationError("--split-step is not valid.")
        }
        let container = format ?? (try? OutputContainer(path: self.output)) ?? .mp4
        do {
            if let bytes = options.maxMemory { try MemoryLimit.apply(bytes: bytes) }
            _ = try SplitStepTranscode(step: step, source: inputFd.map { .descriptor($0) }, parts: partsFd, options: options,
                                       container: container, output: output, stills: stillsFd, outputName: self.output)
                .run(progress: { display.show($0) }, isCancelled: { signals.isSignalled })
        } catch .cancelled {
            throw fail(TranscodeError.cancelled, subject: input, message: "interrupted; \(step.description) was not written",
                       exitCode: signals.isSignalled ? signals.exitCode : 75)
        } catch {
            throw fail(error, subject: error.isAboutOutput ? self.output : input, message: "\(step.description): \(error.description)",
                       exitCode: error.isPermanent ? 1 : 75)
        }
    }

    /// Where the output goes: the worker's descriptor, the path itself
    /// (older workers), or a temporary file published over OUT.
    private var destination: TranscodeDestination {
        if let outputFd { return .descriptor(outputFd, companions: companionsFd, output: output) }
        return .publish(output: output, overwrite: overwrite, tag: String(getpid()))
    }

    /// Reports a failure: one line on stderr and, for a supervising
    /// process, one JSON line on stdout with the stable code.
    private func fail(_ error: TranscodeError, subject: String, message: String, exitCode: Int32) -> CommandRefusal {
        let line = "\(DisplayText.escaped(subject)): \(message)"
        if progressJson {
            TranscodeFailureLine(error: line, errorCode: error.code, permanent: error.isPermanent).print()
        }
        return CommandFailure.report(DisplayText.escaped(subject), message, exitCode: exitCode, code: error.code)
    }
}
