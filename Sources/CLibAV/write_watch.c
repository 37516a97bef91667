// See write_watch.h. No libav function is called here: only the callbacks
// libav itself put in the context, so nothing needs loading.
#include <stdlib.h>

#include "write_watch.h"

typedef struct {
    int (*io_close2)(struct AVFormatContext *s, AVIOContext *pb);
    int first_error;
} vq_write_watch;

static int vq_write_watch_close(struct AVFormatContext *s, AVIOContext *pb) {
    vq_write_watch *watch = s->opaque;
    int result = watch->io_close2(s, pb);
    if (result < 0 && watch->first_error == 0) watch->first_error = result;
    return result;
}

int vq_write_watch_start(AVFormatContext *s) {
    if (!s->io_close2) return 0; // nothing to wrap: libav closes files itself
    vq_write_watch *watch = calloc(1, sizeof *watch);
    if (!watch) return AVERROR(ENOMEM);
    watch->io_close2 = s->io_close2;
    s->opaque = watch;
    s->io_close2 = vq_write_watch_close;
    return 0;
}

int vq_write_watch_error(const AVFormatContext *s) {
    const vq_write_watch *watch = s->opaque;
    return watch ? watch->first_error : 0;
}

void vq_write_watch_end(AVFormatContext *s) {
    vq_write_watch *watch = s->opaque;
    if (!watch) return;
    s->io_close2 = watch->io_close2;
    s->opaque = NULL;
    free(watch);
}
