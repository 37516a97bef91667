import Foundation
import Transcode

/// The payload of a queued transcode: what `vqueue submit` checked and the
/// worker's child will do. Paths are absolute.
public struct TranscodeJob: Codable, Equatable, Sendable {
    public static let kind = "transcode"

    public var input: String
    public var output: String
    public var options: TranscodeOptions
    public var overwrite: Bool
    /// The input as `submit` checked it, so the worker transcodes that very
    /// file and not one swapped in since (nil for jobs of earlier releases).
    public var inputFile: SubmittedFile?
    /// OUT's folder as `submit` checked it (writable by the submitter), so
    /// the worker writes into that very folder and not one a symlink swapped
    /// in since points to.
    public var outputFolder: SubmittedFolder?
    /// A step of a split transcode (`submit --split`): a part's chunk or
    /// audio, or the whole's stitch; nil for a transcode in one piece.
    public var split: SplitStep?

    public init(input: String, output: String, options: TranscodeOptions, overwrite: Bool, inputFile: SubmittedFile? = nil,
                outputFolder: SubmittedFolder? = nil, split: SplitStep? = nil) {
        self.input = input
        self.output = output
        self.options = options
        self.overwrite = overwrite
        self.inputFile = inputFile
        self.outputFolder = outputFolder
        self.split = split
    }

    enum CodingKeys: String, CodingKey {
        case input, output, options, overwrite, split
        case inputFile = "input_file"
        case outputFolder = "output_folder"
    }

    public func encoded() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// Whether the worker's opened input is still the file that was
    /// submitted: same inode and size. The device is not compared, since
    /// another box sees a shared file system under a device number of its own.
    public func isSubmittedInput(_ file: InputFile) -> Bool {
        guard let inputFile else { return true }
        return inputFile.inode == file.identity.inode && inputFile.size == file.size
    }

    /// Whether the worker's opened output folder is the one that was
    /// submitted (same inode).
    public func isSubmittedFolder(_ folder: OutputFolder) -> Bool {
        guard let outputFolder else { return true }
        return folder.identity?.inode == outputFolder.inode
    }

    public static func decode(_ payload: String) -> TranscodeJob? {
        try? JSONDecoder().decode(TranscodeJob.self, from: Data(payload.utf8))
    }

    /// The name of the split transcode's work folder beside OUT, after the
    /// whole's id: `.<OUT name>.split-<id>` (shortened to
    /// `.vqueue.split-<id>` where OUT's name is too long for it).
    public func workFolderName(wholeID: Int64, limit: Int = 255) -> String {
        let name = ".\(OutputFolder.name(of: output)).split-\(wholeID)"
        return name.utf8.count <= limit ? name : ".vqueue.split-\(wholeID)"
    }

    /// The container: the output's extension, checked at submit.
    public var container: OutputContainer {
        (try? OutputContainer(path: output)) ?? .mp4
    }
}

/// What identifies an uploaded file across boxes: its inode number and size.
public struct SubmittedFile: Codable, Equatable, Sendable {
    public var inode: UInt64
    public var size: Int64

    public init(_ file: InputFile) {
        inode = file.identity.inode
        size = file.size
    }
}

/// What identifies OUT's folder across boxes: its inode number.
public struct SubmittedFolder: Codable, Equatable, Sendable {
    public var inode: UInt64

    public init?(_ folder: OutputFolder) {
        guard let identity = folder.identity else { return nil }
        inode = identity.inode
    }
}
