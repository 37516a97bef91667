// Starting a job's child process without leaking anything into it or out of
// it; see child_spawn.c for the reasons.
#ifndef VQ_CHILD_SPAWN_H
#define VQ_CHILD_SPAWN_H

#include <stdint.h>
#include <sys/types.h>

/// Which kernel limit a memory ceiling is applied as (setrlimit in the child).
enum vq_memory_limit_kind {
    /// RLIMIT_DATA: private writable memory (heap, anonymous mmaps, thread stacks).
    VQ_MEMORY_LIMIT_DATA = 0,
    /// RLIMIT_AS: the whole address space, reserved or not.
    VQ_MEMORY_LIMIT_ADDRESS_SPACE = 1,
};

/// How many descriptors a child can be handed beside stdin, stdout and stderr.
#define VQ_SPAWN_MOST_INHERITED 64

/// Everything the child needs, prepared by the caller: nothing is allocated
/// between fork and exec.
struct vq_spawn_request {
    /// Run as is: no PATH search, no shell.
    const char *path;
    /// NULL-terminated; argv[0] included.
    char *const *argv;
    /// NULL-terminated; the child's whole environment.
    char *const *envp;
    /// Descriptors of this process that the child gets as 3, 4, ... in this
    /// order. They stay open here (the caller owns them).
    const int *inherited_fds;
    int inherited_fd_count;
    /// In bytes; 0 for no ceiling.
    uint64_t memory_limit;
    enum vq_memory_limit_kind memory_limit_kind;
};

/// A started child. The three descriptors are this process's, close-on-exec;
/// the pipes are non-blocking. The caller closes each of them once.
struct vq_spawned_child {
    pid_t pid;
    /// pidfd_open(pid): readable once the child has exited.
    int pidfd;
    int stdout_fd;
    int stderr_fd;
    /// This process's resident memory just before the fork, in bytes (0 if
    /// unknown). Linux counts the pages a forked child shares with its parent
    /// until exec in the child's ru_maxrss: a peak no higher than this may be
    /// this process's size rather than the child's.
    int64_t parent_rss_bytes;
};

/// The step that failed, for the error message.
enum vq_spawn_step {
    VQ_SPAWN_OK = 0,
    VQ_SPAWN_DEV_NULL,
    VQ_SPAWN_PIPE,
    VQ_SPAWN_FORK,
    VQ_SPAWN_PIDFD,
    VQ_SPAWN_SIGNALS,
    VQ_SPAWN_PARENT_DEATH_SIGNAL,
    VQ_SPAWN_PARENT_GONE,
    VQ_SPAWN_PROCESS_GROUP,
    VQ_SPAWN_MEMORY_LIMIT,
    VQ_SPAWN_DESCRIPTORS,
    VQ_SPAWN_EXEC,
};

/// Starts `request->path` as described in child_spawn.c. Returns 0 and fills
/// `child`, or returns -1 with errno set and `*failed_step` saying where; on
/// failure nothing is left open and no child is left behind.
int vq_spawn(const struct vq_spawn_request *request, struct vq_spawned_child *child,
             enum vq_spawn_step *failed_step);

/// What a step is called in an error message ("execve", "setrlimit", ...).
const char *vq_spawn_step_name(enum vq_spawn_step step);

/// How a reaped child ended, and what it used.
struct vq_child_exit {
    /// 1 if it exited (then `code`), 0 if a signal ended it (then `signal`).
    int exited;
    int code;
    int signal;
    /// ru_maxrss, in bytes: the child's peak resident memory, or its
    /// parent's size at the fork if that was larger (see parent_rss_bytes).
    int64_t peak_rss_bytes;
};

/// Reaps `pid` with wait4 (retrying EINTR). Returns 0, or -1 with errno set.
int vq_reap(pid_t pid, struct vq_child_exit *ending);

/// kill(2) on the child's whole process group (its pid: the child leads it).
/// Returns 0, or -1 with errno set.
int vq_signal_group(pid_t pid, int signal);

#endif
