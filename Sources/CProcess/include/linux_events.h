// epoll and eventfd for ChildProcessMonitor and WorkerTicker, inotify for
// SQLiteFileWatch: the Glibc module Swift imports leaves <sys/epoll.h>,
// <sys/eventfd.h> and <sys/inotify.h> out.
#ifndef VQ_LINUX_EVENTS_H
#define VQ_LINUX_EVENTS_H

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <string.h>

/// Whether any of the inotify events in `buffer` (`length` bytes, as read
/// from an inotify descriptor watching a folder) names a file whose name
/// begins with `prefix`.
static inline int vq_inotify_names_prefix(const char *buffer, long length, const char *prefix) {
    size_t prefix_length = strlen(prefix);
    long offset = 0;
    while (offset + (long)sizeof(struct inotify_event) <= length) {
        const struct inotify_event *event = (const struct inotify_event *)(buffer + offset);
        if (event->len > 0 && strncmp(event->name, prefix, prefix_length) == 0) return 1;
        offset += (long)sizeof(struct inotify_event) + event->len;
    }
    return 0;
}

#endif
