/// Runs one step of a split transcode (`SplitStep`) in a worker's child:
/// a chunk or the audio from the input into the file the worker created in
/// the work folder, or the stitch of the work folder's parts into OUT's
/// temporary file. The worker opens everything; this reads and writes only
/// the descriptors it is given.
public struct SplitStepTranscode: Sendable {
    public let step: SplitStep
    /// The input (a chunk, the audio).
    public let source: TranscodeSource?
    /// The work folder, open for reading (the stitch).
    public let parts: Int32?
    public let options: TranscodeOptions
    public let container: OutputContainer
    /// What to write: the part's temporary file, or OUT's; taken.
    public let output: Int32
    /// A chunk's second file, for its share of the still pictures; the
    /// stitch's folder for a single file's companions. Taken.
    public let stills: Int32?
    /// OUT as named (a single file's companions are named after it).
    public let outputName: String

    public init(step: SplitStep, source: TranscodeSource?, parts: Int32?, options: TranscodeOptions, container: OutputContainer,
                output: Int32, stills: Int32? = nil, outputName: String = "") {
        self.step = step
        self.source = source
        self.parts = parts
        self.options = options
        self.container = container
        self.output = output
        self.stills = stills
        self.outputName = outputName
    }

    /// Runs the step: the stitch returns what the checked OUT holds.
    public func run(progress: (TranscodeProgress) -> Void, isCancelled: () -> Bool) throws(TranscodeError) -> OutputFacts? {
        switch step {
        case .chunk(let plan, let asked):
            guard let source else { throw .inputUnreadable("no input was given for \(step.description)") }
            if asked != nil && stills == nil { throw .outputFolder("no file was given for \(step.description)'s still pictures") }
            let summary = try ChunkEncode(source: source, chunk: plan, options: options, container: container, output: output,
                                          stills: asked.flatMap { plan in stills.map { (plan, $0) } })
                .run(progress: progress, isCancelled: isCancelled)
            progress(Self.done(frames: summary.frames))
            return nil
        case .audio:
            guard let source else { throw .inputUnreadable("no input was given for \(step.description)") }
            guard try AudioEncode(source: source, options: options, output: output).run(progress: progress, isCancelled: isCancelled)
                    != nil else { throw .outputCheckFailed("the input has no audio to encode, though it had when it was submitted") }
            progress(Self.done(frames: 0))
            return nil
        case .stitch(let chunks, let audio, let asked):
            guard let parts else { throw .outputFolder("no work folder was given to the stitch") }
            if asked != nil && !container.isFolder && stills == nil {
                throw .outputFolder("for the poster and the storyboard was not given to the stitch")
            }
            let storyboard = CompanionFile.all(for: outputName, options: options).first { $0.file == StillPictures.storyboardName }
            let facts = try Stitch(chunks: (0..<chunks).map { .inFolder(parts, name: SplitStep.chunkName($0)) },
                                   audio: audio ? .inFolder(parts, name: SplitStep.audioName) : nil, container: container,
                                   output: output, options: options, stills: asked.map { plan in
                                       Stitch.Stills(plan: plan, parts: (0..<chunks).map { .inFolder(parts, name: SplitStep.stillsName($0)) },
                                                     companions: container.isFolder ? nil : stills,
                                                     storyboardName: storyboard?.name ?? StillPictures.storyboardName)
                                   }).run(progress: progress, isCancelled: isCancelled)
            var last = Self.done(frames: facts.frames)
            last.output = facts
            progress(last)
            return facts
        }
    }

    private static func done(frames: Int) -> TranscodeProgress {
        TranscodeProgress(frames: frames, totalFrames: frames, percent: 100, fps: 0, speed: 0, eta: 0, done: true)
    }
}
