import CLibAV
import Synchronization

/// libav prints its own diagnostics to stderr unless told otherwise; vqueue
/// reports failures itself, in one line, so libav stays quiet unless asked.
/// Every entry point that can reach libav (`InputMedia`, so probing and
/// transcoding, and `Muxer`) calls `ensureConfigured()` first, so a caller
/// that never thought of logging (the submit path's probe) gets silence.
public enum LibAVLogging {
    private static let configured = Atomic<Bool>(false)

    /// Quiet, or libav's own warnings on stderr when `verbose`.
    public static func configure(verbose: Bool) {
        vq_configure_log(verbose ? 1 : 0)
        configured.store(true, ordering: .releasing)
    }

    /// Quiet, unless `configure` chose already.
    static func ensureConfigured() {
        guard !configured.load(ordering: .acquiring) else { return }
        configure(verbose: false)
    }
}
