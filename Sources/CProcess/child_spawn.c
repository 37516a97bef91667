// A job's child process, started by hand: fork, a few system calls, execve.
//
// Foundation's Process, which started children before, cost the worker two
// pipe descriptors per finished job (2,431 open after 1,200 jobs; under a soft
// limit of 1,024 job 492 failed with EBADF and the worker died) and could not
// set what a supervisor needs in the child between fork and exec. Nor can
// swift-subprocess 1.0.2: on Linux it has no hook there (no PDEATHSIG, no
// rlimit) and closes every descriptor above stderr, so a child cannot be
// handed its input and output files. So the child is set up here, in this
// order, with only async-signal-safe calls (the parent is multithreaded: any
// lock, malloc's included, may be held by a thread that does not exist in
// the child):
//
//   1. Every signal back to its default action, then unblocked. An ignored
//      signal stays ignored across execve: the worker ignores SIGTERM (it
//      reads it through a dispatch source), and a child that inherited that
//      could not be stopped by anything but SIGKILL. The parent blocks every
//      signal around fork, so none of its handlers runs in the child first.
//   2. PR_SET_PDEATHSIG = SIGKILL, then getppid() against the parent's pid:
//      if the parent died before prctl, the death signal will never come, so
//      the child gives up at once. (The "parent" is the thread that forked:
//      the caller must fork from a thread that lives as long as the process.)
//   3. A process group of its own, led by the child: one kill(-pid) reaches
//      whatever the child starts, and a terminal's ^C to the worker does not.
//   4. The memory ceiling, as RLIMIT_DATA or RLIMIT_AS (hard = soft, so the
//      child cannot raise it).
//   5. Descriptors: stdin from /dev/null, stdout and stderr to the pipes, the
//      caller's descriptors as 3, 4, ...; every other one closed. All sources
//      are first copied above the last target, so that placing one never
//      overwrites another that is still to be placed.
//   6. execve with an explicit environment; never a shell.
//
// A step that fails in the child writes the step and errno to a close-on-exec
// pipe and exits 127; the parent reads that pipe until it is closed (execve
// succeeded) or a report arrives, so a missing executable is an error the
// caller can print, not a child that exits 127.

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child_spawn.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

/// The exit status of a child whose set-up failed before execve.
enum { VQ_SETUP_FAILED = 127 };

/// 0, 1, 2 and the caller's descriptors.
enum { VQ_MOST_PLACED = 3 + VQ_SPAWN_MOST_INHERITED };

/// What a child that could not exec tells its parent.
struct vq_spawn_report {
    int step;
    int error;
};

/// The descriptors this file opens in the parent, -1 when not (or no longer) open.
struct vq_spawn_fds {
    int dev_null;
    int stdout_pipe[2];
    int stderr_pipe[2];
    int report_pipe[2];
};

static void vq_close_if_open(int *fd) {
    // close() is not retried: on Linux the descriptor is gone even when it
    // reports EINTR, and a retry could close a descriptor another thread
    // has just been given.
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

static void vq_close_all(struct vq_spawn_fds *fds) {
    vq_close_if_open(&fds->dev_null);
    for (int end = 0; end < 2; end++) {
        vq_close_if_open(&fds->stdout_pipe[end]);
        vq_close_if_open(&fds->stderr_pipe[end]);
        vq_close_if_open(&fds->report_pipe[end]);
    }
}

/// Resident memory from /proc/self/statm (its second field, in pages); 0 if
/// it cannot be read.
static int64_t vq_resident_bytes(void) {
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    char text[128];
    ssize_t length;
    do {
        length = read(fd, text, sizeof text - 1);
    } while (length < 0 && errno == EINTR);
    close(fd);
    if (length <= 0) return 0;
    text[length] = 0;
    char *field = strchr(text, ' ');
    if (field == NULL) return 0;
    long long pages = strtoll(field + 1, NULL, 10);
    long page_size = sysconf(_SC_PAGESIZE);
    return pages > 0 && page_size > 0 ? (int64_t)pages * page_size : 0;
}

static int vq_set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return -1;
    return fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

static int vq_reap_quietly(pid_t pid) {
    int status;
    pid_t reaped;
    do {
        reaped = waitpid(pid, &status, 0);
    } while (reaped < 0 && errno == EINTR);
    return reaped < 0 ? -1 : 0;
}

// MARK: - In the child (async-signal-safe only)

/// Reports the failed step and errno to the parent, and exits.
__attribute__((noreturn))
static void vq_child_fail(int report_fd, enum vq_spawn_step step) {
    struct vq_spawn_report report = { .step = step, .error = errno };
    ssize_t written;
    do {
        written = write(report_fd, &report, sizeof report);
    } while (written < 0 && errno == EINTR);
    _exit(VQ_SETUP_FAILED);
}

static int vq_child_reset_signals(void) {
    struct sigaction default_action;
    memset(&default_action, 0, sizeof default_action);
    default_action.sa_handler = SIG_DFL;
    sigemptyset(&default_action.sa_mask);
    for (int number = 1; number < NSIG; number++) {
        if (number == SIGKILL || number == SIGSTOP) continue;
        // glibc keeps two real-time signals for itself (EINVAL): skip them.
        if (sigaction(number, &default_action, NULL) != 0 && errno != EINVAL) return -1;
    }
    sigset_t none;
    sigemptyset(&none);
    return sigprocmask(SIG_SETMASK, &none, NULL);
}

static int vq_child_limit_memory(const struct vq_spawn_request *request) {
    if (request->memory_limit == 0) return 0;
    int resource = request->memory_limit_kind == VQ_MEMORY_LIMIT_ADDRESS_SPACE ? RLIMIT_AS : RLIMIT_DATA;
    struct rlimit current;
    if (getrlimit(resource, &current) != 0) return -1;
    rlim_t ceiling = (rlim_t)request->memory_limit;
    // An unprivileged process may only lower its hard limit.
    if (current.rlim_max != RLIM_INFINITY && current.rlim_max < ceiling) ceiling = current.rlim_max;
    struct rlimit limit = { .rlim_cur = ceiling, .rlim_max = ceiling };
    return setrlimit(resource, &limit);
}

struct vq_linux_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

/// Closes every descriptor from `first` up but `keep`, when close_range(2)
/// (Linux 5.9) is missing: the open ones are listed in /proc/self/fd, and
/// without /proc every number up to `highest` is tried.
static int vq_child_close_from_slowly(int first, int keep, int highest) {
    int directory = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (directory < 0) {
        for (int fd = first; fd <= highest; fd++) {
            if (fd != keep) close(fd);
        }
        return 0;
    }
    // getdents64 rather than readdir: readdir allocates.
    char entries[4096] __attribute__((aligned(8)));
    for (;;) {
        long length = syscall(SYS_getdents64, directory, entries, sizeof entries);
        if (length < 0 && errno == EINTR) continue;
        if (length < 0) {
            int error = errno;
            close(directory);
            errno = error;
            return -1;
        }
        if (length == 0) break;
        for (long offset = 0; offset < length;) {
            struct vq_linux_dirent64 *entry = (struct vq_linux_dirent64 *)(entries + offset);
            offset += entry->d_reclen;
            int fd = 0;
            const char *digit = entry->d_name;
            if (*digit < '0' || *digit > '9') continue;  // "." and ".."
            for (; *digit >= '0' && *digit <= '9'; digit++) fd = fd * 10 + (*digit - '0');
            if (fd >= first && fd != keep && fd != directory) close(fd);
        }
    }
    close(directory);
    return 0;
}

/// Closes every descriptor from `first` up but `keep`.
static int vq_child_close_from(int first, int keep, int highest) {
    int status = 0;
    if (keep > first) status = (int)syscall(SYS_close_range, (unsigned)first, (unsigned)(keep - 1), 0u);
    if (status == 0) status = (int)syscall(SYS_close_range, (unsigned)(keep + 1), ~0u, 0u);
    if (status == 0) return 0;
    if (errno != ENOSYS && errno != EINVAL) return -1;
    return vq_child_close_from_slowly(first, keep, highest);
}

/// Places /dev/null, the pipes and the caller's descriptors at 0, 1, 2, 3, ...
/// and closes everything else but the report pipe. Returns the report pipe's
/// new number, or -1 (then errno is set and the report pipe is still `report_fd`).
static int vq_child_place_descriptors(const struct vq_spawn_request *request, const struct vq_spawn_fds *fds,
                                      int report_fd, int highest) {
    int count = 3 + request->inherited_fd_count;
    int sources[VQ_MOST_PLACED] = { fds->dev_null, fds->stdout_pipe[1], fds->stderr_pipe[1] };
    for (int i = 0; i < request->inherited_fd_count; i++) sources[3 + i] = request->inherited_fds[i];

    // Copies above the targets first, the report pipe too: dup2 onto a target
    // must never close a source or the report pipe still needed.
    int report = fcntl(report_fd, F_DUPFD_CLOEXEC, count);
    if (report < 0) return -1;
    int copies[VQ_MOST_PLACED];
    for (int i = 0; i < count; i++) {
        copies[i] = fcntl(sources[i], F_DUPFD_CLOEXEC, count);
        if (copies[i] < 0) {
            int error = errno;
            // Keep reporting possible on the original number.
            close(report);
            errno = error;
            return -1;
        }
    }
    // From here the report goes through `report`, which the placing cannot touch.
    for (int i = 0; i < count; i++) {
        // dup2 leaves the new descriptor without FD_CLOEXEC: it survives execve.
        if (dup2(copies[i], i) < 0) vq_child_fail(report, VQ_SPAWN_DESCRIPTORS);
    }
    if (vq_child_close_from(count, report, highest) != 0) vq_child_fail(report, VQ_SPAWN_DESCRIPTORS);
    return report;
}

__attribute__((noreturn))
static void vq_child_run(const struct vq_spawn_request *request, const struct vq_spawn_fds *fds, pid_t parent,
                         int highest) {
    int report = fds->report_pipe[1];
    if (vq_child_reset_signals() != 0) vq_child_fail(report, VQ_SPAWN_SIGNALS);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) vq_child_fail(report, VQ_SPAWN_PARENT_DEATH_SIGNAL);
    if (getppid() != parent) {
        errno = ESRCH;
        vq_child_fail(report, VQ_SPAWN_PARENT_GONE);
    }
    if (setpgid(0, 0) != 0) vq_child_fail(report, VQ_SPAWN_PROCESS_GROUP);
    if (vq_child_limit_memory(request) != 0) vq_child_fail(report, VQ_SPAWN_MEMORY_LIMIT);
    report = vq_child_place_descriptors(request, fds, report, highest);
    if (report < 0) vq_child_fail(fds->report_pipe[1], VQ_SPAWN_DESCRIPTORS);
    execve(request->path, request->argv, request->envp);
    vq_child_fail(report, VQ_SPAWN_EXEC);
}

// MARK: - In the parent

/// Waits for the child's report: 0 when execve succeeded, else -1 with errno
/// and `*step` from the child (the child is then reaped).
static int vq_await_exec(pid_t pid, int report_fd, enum vq_spawn_step *step) {
    struct vq_spawn_report report;
    ssize_t length;
    do {
        length = read(report_fd, &report, sizeof report);
    } while (length < 0 && errno == EINTR);
    if (length == 0) return 0;
    int error = length < 0 ? errno : EIO;
    if (length == (ssize_t)sizeof report) {
        *step = (enum vq_spawn_step)report.step;
        error = report.error;
    } else {
        // Cannot tell what the child is doing: make sure it is not doing it.
        *step = VQ_SPAWN_EXEC;
        kill(pid, SIGKILL);
    }
    vq_reap_quietly(pid);
    errno = error;
    return -1;
}

int vq_spawn(const struct vq_spawn_request *request, struct vq_spawned_child *child,
             enum vq_spawn_step *failed_step) {
    struct vq_spawn_fds fds = { -1, { -1, -1 }, { -1, -1 }, { -1, -1 } };
    int error = 0;
    *failed_step = VQ_SPAWN_OK;
    child->pid = -1;
    child->pidfd = child->stdout_fd = child->stderr_fd = -1;

    if (request->inherited_fd_count < 0 || request->inherited_fd_count > VQ_SPAWN_MOST_INHERITED) {
        *failed_step = VQ_SPAWN_DESCRIPTORS;
        errno = EINVAL;
        return -1;
    }
    // The highest descriptor number the slow close loop would try (no /proc).
    struct rlimit files;
    int highest = 1023;
    if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY && files.rlim_cur < INT32_MAX) {
        highest = (int)files.rlim_cur - 1;
    }

    // Close-on-exec from birth: a child another thread starts at this moment
    // (Foundation's Process, say) must not inherit these.
    fds.dev_null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fds.dev_null < 0) {
        *failed_step = VQ_SPAWN_DEV_NULL;
        goto fail;
    }
    if (pipe2(fds.stdout_pipe, O_CLOEXEC) != 0 || pipe2(fds.stderr_pipe, O_CLOEXEC) != 0
        || pipe2(fds.report_pipe, O_CLOEXEC) != 0
        || vq_set_nonblocking(fds.stdout_pipe[0]) != 0 || vq_set_nonblocking(fds.stderr_pipe[0]) != 0) {
        *failed_step = VQ_SPAWN_PIPE;
        goto fail;
    }

    sigset_t all, previous;
    sigfillset(&all);
    error = pthread_sigmask(SIG_SETMASK, &all, &previous);
    if (error != 0) {
        errno = error;
        *failed_step = VQ_SPAWN_SIGNALS;
        goto fail;
    }
    pid_t parent = getpid();
    int64_t parent_rss = vq_resident_bytes();
    pid_t pid = fork();
    if (pid == 0) vq_child_run(request, &fds, parent, highest);
    int fork_error = errno;
    error = pthread_sigmask(SIG_SETMASK, &previous, NULL);
    if (pid < 0) {
        errno = fork_error;
        *failed_step = VQ_SPAWN_FORK;
        goto fail;
    }
    // The child's ends are the child's now.
    vq_close_if_open(&fds.dev_null);
    vq_close_if_open(&fds.stdout_pipe[1]);
    vq_close_if_open(&fds.stderr_pipe[1]);
    vq_close_if_open(&fds.report_pipe[1]);
    if (error != 0) {
        // This thread's signal mask is wrong and cannot be mended: give up the child.
        kill(pid, SIGKILL);
        vq_reap_quietly(pid);
        errno = error;
        *failed_step = VQ_SPAWN_SIGNALS;
        goto fail;
    }
    if (vq_await_exec(pid, fds.report_pipe[0], failed_step) != 0) goto fail;
    vq_close_if_open(&fds.report_pipe[0]);

    // Race-free: nobody else reaps this child, so its pid cannot be reused yet.
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0) {
        int pidfd_error = errno;
        kill(-pid, SIGKILL);
        vq_reap_quietly(pid);
        errno = pidfd_error;
        *failed_step = VQ_SPAWN_PIDFD;
        goto fail;
    }
    // pidfd_open sets close-on-exec itself.
    child->pid = pid;
    child->pidfd = pidfd;
    child->stdout_fd = fds.stdout_pipe[0];
    child->stderr_fd = fds.stderr_pipe[0];
    child->parent_rss_bytes = parent_rss;
    return 0;

fail:
    error = errno;
    vq_close_all(&fds);
    errno = error;
    return -1;
}

const char *vq_spawn_step_name(enum vq_spawn_step step) {
    switch (step) {
    case VQ_SPAWN_OK: return "none";
    case VQ_SPAWN_DEV_NULL: return "open /dev/null";
    case VQ_SPAWN_PIPE: return "pipe";
    case VQ_SPAWN_FORK: return "fork";
    case VQ_SPAWN_PIDFD: return "pidfd_open";
    case VQ_SPAWN_SIGNALS: return "resetting signals";
    case VQ_SPAWN_PARENT_DEATH_SIGNAL: return "prctl(PR_SET_PDEATHSIG)";
    case VQ_SPAWN_PARENT_GONE: return "parent exited during start";
    case VQ_SPAWN_PROCESS_GROUP: return "setpgid";
    case VQ_SPAWN_MEMORY_LIMIT: return "setrlimit";
    case VQ_SPAWN_DESCRIPTORS: return "placing descriptors";
    case VQ_SPAWN_EXEC: return "execve";
    }
    return "unknown step";
}

int vq_reap(pid_t pid, struct vq_child_exit *ending) {
    int status = 0;
    struct rusage usage;
    memset(&usage, 0, sizeof usage);
    pid_t reaped;
    do {
        reaped = wait4(pid, &status, 0, &usage);
    } while (reaped < 0 && errno == EINTR);
    if (reaped < 0) return -1;
    ending->exited = WIFEXITED(status) ? 1 : 0;
    ending->code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
    ending->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    // Linux reports ru_maxrss in kilobytes.
    ending->peak_rss_bytes = (int64_t)usage.ru_maxrss * 1024;
    return 0;
}

int vq_signal_group(pid_t pid, int signal) {
    return kill(-pid, signal);
}
