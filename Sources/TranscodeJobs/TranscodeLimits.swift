import Foundation
import Transcode

/// The limits a worker puts on every job it runs: ceilings that a job's own
/// options (chosen by whoever submitted it, who may be hostile) can lower,
/// never raise.
public struct TranscodeLimits: Sendable, Equatable {
    /// The largest picture a job may decode, in pixels.
    public var maxPixels: Int
    /// The most memory a job's process may allocate (RLIMIT_DATA: heap,
    /// anonymous mappings and thread stacks), in bytes.
    public var maxMemory: Int
    /// The longest a job may run, in seconds; nil: `automaticTimeLimit`.
    public var timeLimit: Double?
    /// The longest a job's process may go without reporting progress before
    /// it is taken for stuck and stopped, in seconds.
    public var stallLimit: Double

    public init(maxPixels: Int = TranscodeOptions.defaultMaxPixels, maxMemory: Int, timeLimit: Double? = nil,
                stallLimit: Double = Self.defaultStallLimit) {
        self.maxPixels = maxPixels
        self.maxMemory = maxMemory
        self.timeLimit = timeLimit
        self.stallLimit = stallLimit
    }

    public static let defaultStallLimit: Double = 120

    /// The default memory ceiling: three quarters of the machine's memory
    /// shared among the jobs that run at once, and never under 512 MiB.
    public static func defaultMaxMemory(concurrency: Int) -> Int {
        let total = Int(ProcessInfo.processInfo.physicalMemory)
        return max(512 << 20, total / 4 * 3 / max(1, concurrency))
    }

    /// Without a time limit of its own: twenty times the input's duration,
    /// and at least half an hour (a slow preset on a shared core runs a few
    /// times slower than real time; a process stuck for good is caught
    /// sooner by the stall limit).
    public static func automaticTimeLimit(mediaSeconds: Double) -> Double {
        max(1800, 20 * mediaSeconds)
    }

    /// A job's options with these limits applied, and the time limit the
    /// worker enforces on its process.
    public func applied(to options: TranscodeOptions, mediaSeconds: Double) -> (options: TranscodeOptions, timeLimit: Double) {
        var limited = options
        limited.maxPixels = min(options.maxPixels, maxPixels)
        limited.maxMemory = min(options.maxMemory ?? maxMemory, maxMemory)
        let ceiling = timeLimit ?? Self.automaticTimeLimit(mediaSeconds: mediaSeconds)
        let time = min(options.timeLimit ?? ceiling, ceiling)
        limited.timeLimit = time
        return (limited, time)
    }
}
