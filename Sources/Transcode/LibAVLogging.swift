import CLibAV

/// libav prints its own diagnostics to stderr unless told otherwise; vqueue
/// reports failures itself, in one line, so libav stays quiet unless asked.
public enum LibAVLogging {
    public static func configure(verbose: Bool) {
        av_log_set_level(verbose ? AV_LOG_WARNING : AV_LOG_QUIET)
    }
}
