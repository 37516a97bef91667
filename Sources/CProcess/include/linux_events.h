// epoll and eventfd for ChildProcessMonitor: the Glibc module Swift imports
// leaves <sys/epoll.h> and <sys/eventfd.h> out.
#ifndef VQ_LINUX_EVENTS_H
#define VQ_LINUX_EVENTS_H

#include <sys/epoll.h>
#include <sys/eventfd.h>

#endif
