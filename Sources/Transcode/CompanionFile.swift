/// A file published beside a single-file OUT, named after OUT's stem (its
/// name without the extension): `out.mp4` gets `out.poster.jpg` (`--poster`),
/// `out.storyboard.jpg` and `out.storyboard.vtt` (`--storyboard`). It is made
/// under its plain name (`poster.jpg`, as in an HLS folder) in a temporary
/// folder beside OUT (`TemporaryCompanions`), and takes its own name just
/// before OUT takes OUT's.
public struct CompanionFile: Sendable, Equatable {
    /// Its name while it is made, in the temporary folder: `poster.jpg`.
    public let file: String
    /// Its name beside OUT: `out.poster.jpg`.
    public let name: String

    /// The companions `options` ask of the single file `output`: none
    /// unless `--poster` or `--storyboard` (a single file has no poster by
    /// default).
    public static func all(for output: String, options: TranscodeOptions) -> [CompanionFile] {
        var files: [String] = []
        if options.poster ?? false { files.append(StillPictures.posterName) }
        if options.storyboard ?? false { files += [StillPictures.storyboardName, StillPictures.storyboardTrackName] }
        let stem = stem(of: OutputFolder.name(of: output))
        return files.map { CompanionFile(file: $0, name: stem + "." + $0) }
    }

    /// Its path beside `output`, spelled as `output` is.
    public func path(beside output: String) -> String {
        Self.path(of: name, beside: output)
    }

    /// The path of the file `name` in `output`'s folder, spelled as `output` is.
    public static func path(of name: String, beside output: String) -> String {
        guard let slash = output.lastIndex(of: "/") else { return name }
        return String(output[...slash]) + name
    }

    /// `out.mp4` -> `out`; a name without an extension (or a hidden one's
    /// leading dot) is its own stem.
    static func stem(of name: String) -> String {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return name }
        return String(name[..<dot])
    }
}
