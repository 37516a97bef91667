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

        Exit status: 0 read, 1 not a readable media file (one line on stderr says why).
        """)

    @Argument(help: ArgumentHelp("The file to inspect.", valueName: "in"))
    var input: String

    @Flag(help: "Print a JSON object (field names in the README).")
    var json = false

    @Option(help: ArgumentHelp("Refuse pictures larger than this many pixels.", valueName: "n"))
    var maxPixels: Int = TranscodeOptions.defaultMaxPixels

    func run() throws {
        LibAVLogging.configure(verbose: false)
        let info: MediaInfo
        do {
            info = try MediaProbe.probe(path: input, maxPixels: maxPixels)
        } catch {
            throw CommandFailure.report(input, error.description)
        }
        if json {
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
        var head = "\(info.path): \(info.container)"
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
