/// One step of a split transcode (`vqueue submit --split`): one chunk of
/// the video (`ChunkEncode`), the audio encoded whole (`AudioEncode`), or
/// the stitch that joins what they left in the work folder into OUT
/// (`Stitch`). The chunks and the audio may run anywhere in any order; the
/// stitch runs after all of them.
public enum SplitStep: Codable, Sendable, Equatable {
    case chunk(plan: ChunkPlan.Chunk)
    /// The audio of the whole input, `seconds` long.
    case audio(seconds: Double)
    case stitch(chunks: Int, audio: Bool)

    /// The name of the file the step leaves in the work folder (nil for
    /// the stitch, which writes OUT).
    public var partName: String? {
        switch self {
        case .chunk(let plan): Self.chunkName(plan.index)
        case .audio: Self.audioName
        case .stitch: nil
        }
    }

    /// `chunk-000007.nut`: in order when listed.
    public static func chunkName(_ index: Int) -> String {
        let digits = String(index)
        return "chunk-" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits + ".nut"
    }

    public static let audioName = "audio.mp4"

    /// In words, for logs and errors: "chunk 3", "the audio", "the stitch".
    public var description: String {
        switch self {
        case .chunk(let plan): "chunk \(plan.index)"
        case .audio: "the audio"
        case .stitch: "the stitch"
        }
    }
}
