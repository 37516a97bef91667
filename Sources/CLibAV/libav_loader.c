// FFmpeg's libraries, loaded when first used rather than when vqueue starts.
//
// Debian's libavcodec pulls in about 180 shared libraries (every codec it was
// built with); loading them costs ~80 ms, which `vqueue submit` and
// `vqueue status` (a web request waits for them) must not pay. So the binary
// does not link libav: each libav function the Transcode module calls is
// defined here as a forwarder that opens the library on first use and calls
// the real function. The prototypes come from libav's own headers, so a
// forwarder that does not match its function does not compile.
//
// Everything here is hidden: the forwarders are not exported, so the real
// libraries never resolve their own calls to them.

// The C library's own declarations first, outside the hidden region: a
// hidden reference to, say, exit() would hide it from the whole link.
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#pragma GCC visibility push(hidden)
#include "shim.h"

#define VQ_STR2(x) #x
#define VQ_STR(x) VQ_STR2(x)

enum vq_library { FORMAT, CODEC, FILTER, UTIL, VQ_LIBRARY_COUNT };

static const char *const vq_library_names[VQ_LIBRARY_COUNT] = {
    "libavformat.so." VQ_STR(LIBAVFORMAT_VERSION_MAJOR),
    "libavcodec.so." VQ_STR(LIBAVCODEC_VERSION_MAJOR),
    "libavfilter.so." VQ_STR(LIBAVFILTER_VERSION_MAJOR),
    "libavutil.so." VQ_STR(LIBAVUTIL_VERSION_MAJOR),
};

static void *vq_library_handles[VQ_LIBRARY_COUNT];
static pthread_mutex_t vq_library_lock = PTHREAD_MUTEX_INITIALIZER;

/// The address of `name` in `library`, opening the library the first time.
/// A missing library is a broken installation: say which, and stop.
static void *vq_libav_symbol(enum vq_library library, const char *name) {
    pthread_mutex_lock(&vq_library_lock);
    if (!vq_library_handles[library]) {
        vq_library_handles[library] = dlopen(vq_library_names[library], RTLD_NOW | RTLD_LOCAL);
    }
    void *handle = vq_library_handles[library];
    pthread_mutex_unlock(&vq_library_lock);
    void *symbol = handle ? dlsym(handle, name) : NULL;
    if (!symbol) {
        fprintf(stderr, "vqueue: error: cannot load %s from %s (%s); install FFmpeg's libraries (make deps)\n",
                name, vq_library_names[library], dlerror());
        exit(70);
    }
    return symbol;
}

#define VQ_FORWARD(library, ret, name, params, args)                                   \
    ret name params {                                                                  \
        static ret (*volatile real) params;                                            \
        if (!real) real = (ret (*) params)vq_libav_symbol(library, #name);             \
        return real args;                                                              \
    }

#define VQ_FORWARD_VOID(library, name, params, args)                                   \
    void name params {                                                                 \
        static void (*volatile real) params;                                           \
        if (!real) real = (void (*) params)vq_libav_symbol(library, #name);            \
        real args;                                                                     \
    }

VQ_FORWARD(FILTER, int, av_buffersink_get_frame, (AVFilterContext *ctx, AVFrame *frame), (ctx, frame))
VQ_FORWARD(FILTER, AVRational, av_buffersink_get_frame_rate, (const AVFilterContext *ctx), (ctx))
VQ_FORWARD(FILTER, int, av_buffersink_get_h, (const AVFilterContext *ctx), (ctx))
VQ_FORWARD(FILTER, int, av_buffersink_get_sample_rate, (const AVFilterContext *ctx), (ctx))
VQ_FORWARD(FILTER, AVRational, av_buffersink_get_time_base, (const AVFilterContext *ctx), (ctx))
VQ_FORWARD(FILTER, int, av_buffersink_get_w, (const AVFilterContext *ctx), (ctx))
VQ_FORWARD_VOID(FILTER, av_buffersink_set_frame_size, (AVFilterContext *ctx, unsigned frame_size), (ctx, frame_size))
VQ_FORWARD(FILTER, int, av_buffersrc_add_frame_flags, (AVFilterContext *buffer_src, AVFrame *frame, int flags), (buffer_src, frame, flags))
VQ_FORWARD_VOID(UTIL, av_channel_layout_default, (AVChannelLayout *ch_layout, int nb_channels), (ch_layout, nb_channels))
VQ_FORWARD(UTIL, int, av_channel_layout_describe, (const AVChannelLayout *channel_layout, char *buf, size_t buf_size), (channel_layout, buf, buf_size))
VQ_FORWARD(UTIL, int, av_channel_layout_from_mask, (AVChannelLayout *channel_layout, uint64_t mask), (channel_layout, mask))
VQ_FORWARD_VOID(UTIL, av_dict_free, (AVDictionary **m), (m))
VQ_FORWARD(UTIL, int, av_dict_set, (AVDictionary **pm, const char *key, const char *value, int flags), (pm, key, value, flags))
VQ_FORWARD(UTIL, AVDictionaryEntry *, av_dict_get, (const AVDictionary *m, const char *key, const AVDictionaryEntry *prev, int flags), (m, key, prev, flags))
VQ_FORWARD(UTIL, double, av_display_rotation_get, (const int32_t matrix[9]), (matrix))
VQ_FORWARD(FORMAT, int, av_find_best_stream, (AVFormatContext *ic, enum AVMediaType type, int wanted_stream_nb, int related_stream, const AVCodec **decoder_ret, int flags), (ic, type, wanted_stream_nb, related_stream, decoder_ret, flags))
VQ_FORWARD(UTIL, AVFrame *, av_frame_alloc, (void), ())
VQ_FORWARD(UTIL, int, av_frame_ref, (AVFrame *dst, const AVFrame *src), (dst, src))
VQ_FORWARD_VOID(UTIL, av_frame_free, (AVFrame **frame), (frame))
VQ_FORWARD_VOID(UTIL, av_frame_unref, (AVFrame *frame), (frame))
VQ_FORWARD(UTIL, const char *, av_get_media_type_string, (enum AVMediaType media_type), (media_type))
VQ_FORWARD(UTIL, const char *, av_get_pix_fmt_name, (enum AVPixelFormat pix_fmt), (pix_fmt))
VQ_FORWARD(UTIL, const char *, av_get_sample_fmt_name, (enum AVSampleFormat sample_fmt), (sample_fmt))
VQ_FORWARD(FORMAT, AVRational, av_guess_frame_rate, (AVFormatContext *ctx, AVStream *stream, AVFrame *frame), (ctx, stream, frame))
VQ_FORWARD(UTIL, int, av_image_check_size, (unsigned int w, unsigned int h, int log_offset, void *log_ctx), (w, h, log_offset, log_ctx))
VQ_FORWARD(FORMAT, int, av_interleaved_write_frame, (AVFormatContext *s, AVPacket *pkt), (s, pkt))
VQ_FORWARD_VOID(UTIL, av_log_set_level, (int level), (level))
VQ_FORWARD(CODEC, AVPacket *, av_packet_alloc, (void), ())
VQ_FORWARD_VOID(CODEC, av_packet_free, (AVPacket **pkt), (pkt))
VQ_FORWARD_VOID(CODEC, av_packet_rescale_ts, (AVPacket *pkt, AVRational tb_src, AVRational tb_dst), (pkt, tb_src, tb_dst))
VQ_FORWARD_VOID(CODEC, av_packet_unref, (AVPacket *pkt), (pkt))
VQ_FORWARD(FORMAT, int, av_read_frame, (AVFormatContext *s, AVPacket *pkt), (s, pkt))
VQ_FORWARD(FORMAT, int, avformat_seek_file, (AVFormatContext *s, int stream_index, int64_t min_ts, int64_t ts, int64_t max_ts, int flags), (s, stream_index, min_ts, ts, max_ts, flags))
VQ_FORWARD(UTIL, int64_t, av_rescale_q, (int64_t a, AVRational bq, AVRational cq), (a, bq, cq))
VQ_FORWARD(UTIL, char *, av_strdup, (const char *s), (s))
VQ_FORWARD(FORMAT, uint8_t *, av_stream_get_side_data, (const AVStream *stream, enum AVPacketSideDataType type, size_t *size), (stream, type, size))
VQ_FORWARD(UTIL, int, av_strerror, (int errnum, char *errbuf, size_t errbuf_size), (errnum, errbuf, errbuf_size))
VQ_FORWARD(FORMAT, int, av_write_trailer, (AVFormatContext *s), (s))
VQ_FORWARD(CODEC, AVCodecContext *, avcodec_alloc_context3, (const AVCodec *codec), (codec))
VQ_FORWARD(CODEC, const AVCodec *, avcodec_find_decoder, (enum AVCodecID id), (id))
VQ_FORWARD(CODEC, const AVCodec *, avcodec_find_encoder_by_name, (const char *name), (name))
VQ_FORWARD_VOID(CODEC, avcodec_free_context, (AVCodecContext **avctx), (avctx))
VQ_FORWARD(CODEC, const char *, avcodec_get_name, (enum AVCodecID id), (id))
VQ_FORWARD(CODEC, int, avcodec_open2, (AVCodecContext *avctx, const AVCodec *codec, AVDictionary **options), (avctx, codec, options))
VQ_FORWARD(CODEC, int, avcodec_parameters_from_context, (AVCodecParameters *par, const AVCodecContext *codec), (par, codec))
VQ_FORWARD(CODEC, int, avcodec_parameters_copy, (AVCodecParameters *dst, const AVCodecParameters *src), (dst, src))
VQ_FORWARD(CODEC, int, avcodec_parameters_to_context, (AVCodecContext *codec, const AVCodecParameters *par), (codec, par))
VQ_FORWARD(CODEC, int, avcodec_receive_frame, (AVCodecContext *avctx, AVFrame *frame), (avctx, frame))
VQ_FORWARD(CODEC, int, avcodec_receive_packet, (AVCodecContext *avctx, AVPacket *avpkt), (avctx, avpkt))
VQ_FORWARD(CODEC, int, avcodec_send_frame, (AVCodecContext *avctx, const AVFrame *frame), (avctx, frame))
VQ_FORWARD(CODEC, int, avcodec_send_packet, (AVCodecContext *avctx, const AVPacket *avpkt), (avctx, avpkt))
VQ_FORWARD(FILTER, const AVFilter *, avfilter_get_by_name, (const char *name), (name))
VQ_FORWARD(FILTER, AVFilterGraph *, avfilter_graph_alloc, (void), ())
VQ_FORWARD(FILTER, int, avfilter_graph_config, (AVFilterGraph *graphctx, void *log_ctx), (graphctx, log_ctx))
VQ_FORWARD(FILTER, int, avfilter_graph_create_filter, (AVFilterContext **filt_ctx, const AVFilter *filt, const char *name, const char *args, void *opaque, AVFilterGraph *graph_ctx), (filt_ctx, filt, name, args, opaque, graph_ctx))
VQ_FORWARD_VOID(FILTER, avfilter_graph_free, (AVFilterGraph **graph), (graph))
VQ_FORWARD(FILTER, int, avfilter_graph_parse_ptr, (AVFilterGraph *graph, const char *filters, AVFilterInOut **inputs, AVFilterInOut **outputs, void *log_ctx), (graph, filters, inputs, outputs, log_ctx))
VQ_FORWARD(FILTER, AVFilterInOut *, avfilter_inout_alloc, (void), ())
VQ_FORWARD_VOID(FILTER, avfilter_inout_free, (AVFilterInOut **inout), (inout))
VQ_FORWARD(FORMAT, int, avformat_alloc_output_context2, (AVFormatContext **ctx, const AVOutputFormat *oformat, const char *format_name, const char *filename), (ctx, oformat, format_name, filename))
VQ_FORWARD_VOID(FORMAT, avformat_close_input, (AVFormatContext **s), (s))
VQ_FORWARD(FORMAT, int, avformat_find_stream_info, (AVFormatContext *ic, AVDictionary **options), (ic, options))
VQ_FORWARD_VOID(FORMAT, avformat_free_context, (AVFormatContext *s), (s))
VQ_FORWARD(FORMAT, AVStream *, avformat_new_stream, (AVFormatContext *s, const AVCodec *c), (s, c))
VQ_FORWARD(FORMAT, int, avformat_open_input, (AVFormatContext **ps, const char *url, const AVInputFormat *fmt, AVDictionary **options), (ps, url, fmt, options))
VQ_FORWARD(FORMAT, int, avformat_write_header, (AVFormatContext *s, AVDictionary **options), (s, options))
VQ_FORWARD(FORMAT, int, avio_closep, (AVIOContext **s), (s))
VQ_FORWARD(FORMAT, int, avio_open, (AVIOContext **s, const char *url, int flags), (s, url, flags))

VQ_FORWARD_VOID(UTIL, av_free, (void *ptr), (ptr))
VQ_FORWARD_VOID(UTIL, av_log_default_callback, (void *avcl, int level, const char *fmt, va_list vl), (avcl, level, fmt, vl))
VQ_FORWARD_VOID(UTIL, av_log_set_callback, (void (*callback)(void *, int, const char *, va_list)), (callback))
VQ_FORWARD(UTIL, void *, av_malloc, (size_t size), (size))
VQ_FORWARD(FORMAT, int, av_probe_input_buffer2, (AVIOContext *pb, const AVInputFormat **fmt, const char *url, void *logctx, unsigned int offset, unsigned int max_probe_size), (pb, fmt, url, logctx, offset, max_probe_size))
VQ_FORWARD(FORMAT, AVFormatContext *, avformat_alloc_context, (void), ())
VQ_FORWARD(FORMAT, AVIOContext *, avio_alloc_context, (unsigned char *buffer, int buffer_size, int write_flag, void *opaque, int (*read_packet)(void *opaque, uint8_t *buf, int buf_size), int (*write_packet)(void *opaque, uint8_t *buf, int buf_size), int64_t (*seek)(void *opaque, int64_t offset, int whence)), (buffer, buffer_size, write_flag, opaque, read_packet, write_packet, seek))
VQ_FORWARD_VOID(FORMAT, avio_context_free, (AVIOContext **s), (s))

#pragma GCC visibility pop
