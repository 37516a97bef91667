import CLibAV

/// The still pictures a transcode makes beside its video, from the pictures
/// one encoding branch sends to its encoder (so at that branch's size): a
/// poster (`PosterPicker`) and a storyboard (`Storyboard`). An HLS ladder
/// writes them into its folder; a single file into the temporary folder of
/// its companions (`CompanionFile`), under the same names.
final class StillPictures {
    static let posterName = "poster.jpg"
    static let storyboardName = "storyboard.jpg"
    static let storyboardTrackName = "storyboard.vtt"

    private let poster: PosterPicker?
    private let storyboard: Storyboard?

    private init(poster: PosterPicker?, storyboard: Storyboard?) {
        self.poster = poster
        self.storyboard = storyboard
    }

    /// What `options` ask for, nil when nothing: a poster unless
    /// `--no-poster` when `posterByDefault` (a ladder's), else only with
    /// `--poster` (a single file's); a storyboard with `--storyboard`, its
    /// interval chosen for `claimedDuration`.
    static func asked(by options: TranscodeOptions, posterByDefault: Bool,
                      claimedDuration: Double?) throws(TranscodeError) -> StillPictures? {
        var poster: PosterPicker?
        if options.poster ?? posterByDefault { poster = try PosterPicker() }
        let storyboard = options.storyboard ?? false ? Storyboard(duration: claimedDuration) : nil
        return poster == nil && storyboard == nil ? nil : StillPictures(poster: poster, storyboard: storyboard)
    }

    /// A split transcode's stitch (`ChunkStills.gather`): given its
    /// chunks' poster candidates and thumbnails rather than every picture.
    static func gathered(_ stills: SplitStills) throws(TranscodeError) -> StillPictures {
        StillPictures(poster: stills.poster ? try PosterPicker() : nil,
                      storyboard: stills.storyboardInterval.map { Storyboard(interval: $0) })
    }

    /// A chunk's best candidate for the poster.
    func considerPoster(_ frame: UnsafeMutablePointer<AVFrame>, timeBase: AVRational) throws(TranscodeError) {
        try poster?.consider(frame, timeBase: timeBase)
    }

    /// The next of the chunks' thumbnails.
    func addThumbnail(_ frame: UnsafeMutablePointer<AVFrame>, timeBase: AVRational) throws(TranscodeError) {
        try storyboard?.observe(frame, timeBase: timeBase)
    }

    /// From now on, looks at every picture `branch` encodes.
    func watch(_ branch: EncodingBranch) {
        let observers: [(any FrameObserver)?] = [poster, storyboard]
        branch.observers = observers.compactMap { $0 }
    }

    /// Writes what was asked into `folder`, for a video lasting `duration`
    /// seconds, the storyboard's cues pointing at the grid by the name it
    /// will be published under. Returns the names written.
    func write(into folder: FolderWriter, duration: Double, storyboardPublishedAs gridName: String) throws(TranscodeError) -> [String] {
        var written: [String] = []
        if let jpeg = try poster?.jpeg() {
            try folder.create(Self.posterName, holding: jpeg)
            written.append(Self.posterName)
        }
        if let (jpeg, vtt) = try storyboard?.images(duration: duration, gridURL: Storyboard.reference(to: gridName)) {
            try folder.create(Self.storyboardName, holding: jpeg)
            try folder.create(Self.storyboardTrackName, holding: Array(vtt.utf8))
            written += [Self.storyboardName, Self.storyboardTrackName]
        }
        return written
    }
}
