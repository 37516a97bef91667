#ifndef VQUEUE_CLIBAV_SHIM_H
#define VQUEUE_CLIBAV_SHIM_H

#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/avutil.h>
#include <libavutil/channel_layout.h>
#include <libavutil/display.h>
#include <libavutil/error.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
#include <libswresample/swresample.h>
#include <errno.h>

// Swift imports neither function-like macros nor macros built from other
// macros, so the handful the pipeline needs are wrapped as static inlines.

static inline int vq_averror(int posix_errno) { return AVERROR(posix_errno); }
static inline int vq_averror_eof(void) { return AVERROR_EOF; }
static inline int vq_averror_eagain(void) { return AVERROR(EAGAIN); }
static inline int vq_averror_invaliddata(void) { return AVERROR_INVALIDDATA; }
static inline int vq_averror_enomem(void) { return AVERROR(ENOMEM); }
static inline int vq_averror_exit(void) { return AVERROR_EXIT; }
static inline int vq_averror_decoder_not_found(void) { return AVERROR_DECODER_NOT_FOUND; }
static inline int vq_averror_demuxer_not_found(void) { return AVERROR_DEMUXER_NOT_FOUND; }
static inline int vq_averror_stream_not_found(void) { return AVERROR_STREAM_NOT_FOUND; }
static inline int vq_averror_patch_welcome(void) { return AVERROR_PATCHWELCOME; }
static inline int vq_averror_eio(void) { return AVERROR(EIO); }
static inline int vq_averror_enospc(void) { return AVERROR(ENOSPC); }

static inline int64_t vq_nopts_value(void) { return AV_NOPTS_VALUE; }
static inline int vq_time_base(void) { return AV_TIME_BASE; }
static inline AVRational vq_time_base_q(void) { return AV_TIME_BASE_Q; }

/// The text of a libav error code, without the av_err2str macro's
/// compound literal (which Swift cannot import).
static inline void vq_strerror(int code, char *buffer, size_t size) {
    if (av_strerror(code, buffer, size) < 0) {
        snprintf(buffer, size, "libav error %d", code);
    }
}

/// libav's own lines go nowhere unless `verbose`: vqueue reports failures
/// itself, in one line. A callback (not only the level) so that nothing a
/// library sets later brings them back.
static inline void vq_log_discard(void *context, int level, const char *format, va_list arguments) {
    (void)context; (void)level; (void)format; (void)arguments;
}

static inline void vq_configure_log(int verbose) {
    av_log_set_callback(verbose ? av_log_default_callback : vq_log_discard);
    av_log_set_level(verbose ? AV_LOG_WARNING : AV_LOG_QUIET);
}

static inline int vq_avseek_size(void) { return AVSEEK_SIZE; }
static inline int vq_avseek_force(void) { return AVSEEK_FORCE; }
static inline int vq_averror_eperm(void) { return AVERROR(EPERM); }
static inline int vq_averror_external(void) { return AVERROR_EXTERNAL; }

/// The stereo channel layout, built with the macro Swift cannot see.
static inline AVChannelLayout vq_stereo_layout(void) {
    AVChannelLayout layout = AV_CHANNEL_LAYOUT_STEREO;
    return layout;
}

#endif
