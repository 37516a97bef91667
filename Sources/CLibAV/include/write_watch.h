#ifndef VQUEUE_CLIBAV_WRITE_WATCH_H
#define VQUEUE_CLIBAV_WRITE_WATCH_H

#include <libavformat/avformat.h>

// A muxer that writes files of its own (HLS: playlists, init segments,
// segments) opens and closes them through its context's io_open/io_close2,
// and libav's HLS muxer ignores what closing one returns: a segment cut
// short by a full disk went unnoticed until the check found a broken
// playlist, a permanent failure where a full disk is a temporary one. The
// watch wraps io_close2 and keeps the first error a close returned
// (closing flushes the last bytes; a write that failed before leaves its
// error in the file's context, which closing returns).

/// Watches `s`'s files from now on (it takes `s->opaque`). Returns 0, or
/// AVERROR(ENOMEM).
int vq_write_watch_start(AVFormatContext *s);

/// The first error closing one of `s`'s files returned, or 0.
int vq_write_watch_error(const AVFormatContext *s);

/// Stops watching and frees the watch (before `s` is freed).
void vq_write_watch_end(AVFormatContext *s);

#endif
