import ArgumentParser
import Foundation
import Transcode

struct ProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Show what libav sees in a file: container, duration and streams.",
        discussion: """
        Examples:
          vqueue probe upload.avi
          vqueue probe upload.avi --json | jq '.streams[0].rotation'

        Only a single self-contained media file is read: a playlist, a list of other files or \
        an image sequence is refused, and libav reads nothing but the file itself.

        Exit status: 0 read, 1 not a readable media file (one line on stderr says why), \
        75 a temporary failure (an I/O error).
        """)

    @Argument(help: ArgumentHelp("The file to inspect.", valueName: "in"), completion: .file())
    var input: String

    @Flag(help: "Print a JSON object (field names in the README).")
    var json = false

    @Option(help: ArgumentHelp("Refuse pictures larger than this many pixels.", valueName: "n"))
    var maxPixels: Int = TranscodeOptions.defaultMaxPixels

    @Flag(help: "Let libav print its own warnings on stderr.")
    var verbose = false

    func validate() throws {
        if maxPixels < 4 || maxPixels > TranscodeOptions.largestMaxPixels {
            throw ValidationError("--max-pixels must be between 4 and \(TranscodeOptions.largestMaxPixels) pixels.")
        }
    }

    func run() throws {
        LibAVLogging.configure(verbose: verbose)
        var info: MediaInfo
        do {
            info = try MediaProbe.probe(path: input, maxPixels: maxPixels)
        } catch {
            throw CommandFailure.report(DisplayText.escaped(input), error.description, exitCode: error.isPermanent ? 1 : 75)
        }
        if json {
            info.path = DisplayText.jsonSafe(info.path)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            var data = try encoder.encode(info)
            data.append(UInt8(ascii: "\n"))
            FileHandle.standardOutput.write(data)
        } else {
            print(Self.describe(info))
        }
    }

    static func describe(_ info: MediaInfo) -> String {
        var head = "\(DisplayText.escaped(info.path)): \(info.container)"
        if let duration = info.duration { head += String(format: ", %.2f s", duration) }
        if let rate = info.bitRate { head += ", \(rate / 1000) kb/s" }
        let lines = info.streams.map { stream -> String in
            var parts = ["  #\(stream.index) \(stream.type): \(stream.codec)"]
            if let width = stream.width, let height = stream.height { parts.append("\(width)x\(height)") }
            if let format = stream.pixelFormat { parts.append(format) }
            if let rate = stream.frameRate { parts.append(String(format: "%g fps", rate)) }
            if let rotation = stream.rotation, rotation != 0 { parts.append("rotate \(rotation)°") }
            if let order = stream.fieldOrder, order != "progressive" { parts.append("field order \(order)") }
            if let rate = stream.sampleRate { parts.append("\(rate) Hz") }
            if let channels = stream.channels {
                parts.append("\(channels) channel\(channels == 1 ? "" : "s")" + (stream.channelLayout.map { " (\($0))" } ?? ""))
            }
            if stream.isDefault { parts.append("default") }
            return parts.joined(separator: " ")
        }
        return ([head] + lines).joined(separator: "\n")
    }
}
