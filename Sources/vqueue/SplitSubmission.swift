import JobQueue
import Transcode
import TranscodeJobs

/// How `submit --split` makes one transcode a whole and its parts: the
/// input's pictures indexed (a read of its packets, no decoding), cut into
/// chunks (`ChunkPlan`), one part per chunk (every rung of a ladder, and
/// its share of the still pictures asked for) and one for the audio, and
/// the whole the stitch that runs when they have all succeeded. Each part is
/// weighed by the media seconds it encodes (the audio, encoded once and
/// far cheaper than pictures, by a fiftieth of them). The audio part is
/// queued first.
struct SplitSubmission {
    /// The chunks' length in seconds.
    let length: Double

    static let defaultLength = 30.0
    static let audioShare = 0.02

    /// The stitch step and its parts, for `job` (as `submit` checked it) of
    /// a `duration`-second input.
    func plan(_ job: TranscodeJob, duration: Double?) throws -> (stitch: TranscodeJob, parts: [(job: TranscodeJob, weight: Double)]) {
        let (plan, hasAudio) = try Self.read(job, length: length)
        let stills = SplitStills.asked(by: job.options, container: job.container, duration: duration)
        var parts: [(job: TranscodeJob, weight: Double)] = plan.chunks.map { chunk in
            var part = job
            part.split = .chunk(plan: chunk, stills: stills)
            let end = chunk.end ?? max(duration ?? chunk.start, chunk.start)
            return (part, max(end - chunk.start, 0.001))
        }
        if hasAudio {
            var audio = job
            let seconds = duration ?? parts.reduce(0) { $0 + $1.weight }
            audio.split = .audio(seconds: seconds)
            // First: parts are taken in id order, and the audio, one part for the whole
            // length, would otherwise start last and end after every chunk on a large farm.
            parts.insert((audio, max(seconds * Self.audioShare, 0.001)), at: 0)
        }
        var stitch = job
        stitch.split = .stitch(chunks: plan.chunks.count, audio: hasAudio, stills: stills)
        return (stitch, parts)
    }

    /// The input's chunk plan and whether it has audio to encode.
    private static func read(_ job: TranscodeJob, length: Double) throws -> (ChunkPlan, Bool) {
        do {
            let index = try FrameIndex(file: InputFile(path: job.input), maxPixels: job.options.maxPixels)
            let plan = try ChunkPlan(index: index, length: length)
            return (plan, try AudioEncode.hasAudio(InputFile(path: job.input), options: job.options))
        } catch {
            throw CommandFailure.report(DisplayText.escaped(job.input), "cannot be split: \(error.description)", code: error.code)
        }
    }

    /// Whether `--split auto` splits: the input lasts more than three
    /// chunks and the farm's live workers on `queue` have more than one slot
    /// (as of `now`, the store's clock).
    static func worthSplitting(duration: Double?, length: Double, queue: String, workers: [WorkerRecord], now: Double) -> Bool {
        guard let duration, duration > 3 * length else { return false }
        let slots = workers.filter { $0.state(at: now) == .alive && ($0.queues.isEmpty || $0.queues.contains(queue)) }
            .reduce(0) { $0 + $1.concurrency }
        return slots > 1
    }
}
