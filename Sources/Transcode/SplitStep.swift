/// One step of a split transcode (`vqueue submit --split`): one chunk of
/// the video (`ChunkEncode`), the audio encoded whole (`AudioEncode`), or
/// the stitch that joins what they left in the work folder into OUT
/// (`Stitch`). The chunks and the audio may run anywhere in any order; the
/// stitch runs after all of them.
public enum SplitStep: Codable, Sendable, Equatable {
    /// A chunk, and the still pictures (`SplitStills`) among its pictures.
    case chunk(plan: ChunkPlan.Chunk, stills: SplitStills? = nil)
    /// The audio of the whole input, `seconds` long.
    case audio(seconds: Double)
    case stitch(chunks: Int, audio: Bool, stills: SplitStills? = nil)

    /// The name of the file the step leaves in the work folder (nil for
    /// the stitch, which writes OUT).
    public var partName: String? {
        switch self {
        case .chunk(let plan, _): Self.chunkName(plan.index)
        case .audio: Self.audioName
        case .stitch: nil
        }
    }

    /// Every file the step leaves in the work folder, the part last: a
    /// chunk's still pictures (`stills-000007.nut`) first.
    public var partNames: [String] {
        switch self {
        case .chunk(let plan, let stills): (stills == nil ? [] : [Self.stillsName(plan.index)]) + [Self.chunkName(plan.index)]
        case .audio: [Self.audioName]
        case .stitch: []
        }
    }

    /// `chunk-000007.nut`: in order when listed.
    public static func chunkName(_ index: Int) -> String {
        let digits = String(index)
        return "chunk-" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits + ".nut"
    }

    /// `stills-000007.nut`: chunk 7's candidates for the poster and its
    /// storyboard thumbnails (`ChunkStills`).
    public static func stillsName(_ index: Int) -> String {
        "stills-" + chunkName(index).dropFirst("chunk-".count)
    }

    public static let audioName = "audio.mp4"

    /// In words, for logs and errors: "chunk 3", "the audio", "the stitch".
    public var description: String {
        switch self {
        case .chunk(let plan, _): "chunk \(plan.index)"
        case .audio: "the audio"
        case .stitch: "the stitch"
        }
    }
}

/// The still pictures a split transcode makes (a poster, a storyboard), as
/// its chunks and its stitch are told: each chunk keeps its candidates for
/// the poster and the storyboard's thumbnails that fall among its pictures
/// (`ChunkStills`); the stitch makes the pictures from them all, as one
/// encoder watching every picture would have.
public struct SplitStills: Codable, Sendable, Equatable {
    public var poster: Bool
    /// Seconds between the storyboard's thumbnails (`Storyboard`), nil for
    /// no storyboard.
    public var storyboardInterval: Double?

    public init(poster: Bool, storyboardInterval: Double?) {
        self.poster = poster
        self.storyboardInterval = storyboardInterval
    }

    /// What `options` ask of a video lasting about `duration` seconds (an
    /// HLS ladder has a poster unless `--no-poster`), nil for nothing.
    public static func asked(by options: TranscodeOptions, container: OutputContainer, duration: Double?) -> SplitStills? {
        let poster = options.poster ?? container.isFolder
        let interval = options.storyboard ?? false ? Storyboard.interval(forDuration: duration) : nil
        return poster || interval != nil ? SplitStills(poster: poster, storyboardInterval: interval) : nil
    }
}
