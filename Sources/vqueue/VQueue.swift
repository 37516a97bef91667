import ArgumentParser

@main
struct VQueue: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vqueue",
        abstract: "A video transcoding farm in one binary: queue uploads, transcode them to web video.",
        discussion: """
        Examples:
          vqueue transcode upload.avi video.flv -b 200k
          vqueue probe upload.avi --json
        """,
        subcommands: [TranscodeCommand.self, ProbeCommand.self])
}
