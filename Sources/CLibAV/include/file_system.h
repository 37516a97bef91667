#ifndef VQUEUE_CLIBAV_FILE_SYSTEM_H
#define VQUEUE_CLIBAV_FILE_SYSTEM_H

// The few Linux file-system calls and flags Swift's Glibc overlay does not
// show (they sit behind _GNU_SOURCE), for opening inputs and publishing
// outputs through folder descriptors (Transcode's InputFile and
// TemporaryOutput).

#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

// Linux's values, for a libc whose headers hide them without _GNU_SOURCE.
#ifndef O_PATH
#define O_PATH 010000000
#endif

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

/// renameat2(2) by system call: glibc has had a wrapper since 2.28, but not
/// every overlay declares it. Returns -1 with errno set on failure (ENOSYS
/// or EINVAL where the kernel or file system cannot refuse to replace).
static inline int vq_renameat_noreplace(int olddirfd, const char *oldpath, int newdirfd, const char *newpath) {
#ifdef SYS_renameat2
    return (int)syscall(SYS_renameat2, olddirfd, oldpath, newdirfd, newpath, RENAME_NOREPLACE);
#else
    errno = ENOSYS;
    return -1;
#endif
}

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

/// renameat2(2) with RENAME_EXCHANGE: the two names swap what they point
/// to, atomically (how a folder output replaces an old folder, which a
/// rename cannot do when the old one is not empty).
static inline int vq_renameat_exchange(int olddirfd, const char *oldpath, int newdirfd, const char *newpath) {
#ifdef SYS_renameat2
    return (int)syscall(SYS_renameat2, olddirfd, oldpath, newdirfd, newpath, RENAME_EXCHANGE);
#else
    errno = ENOSYS;
    return -1;
#endif
}

static inline int vq_at_removedir(void) { return AT_REMOVEDIR; }

static inline int vq_o_path(void) { return O_PATH; }
static inline int vq_o_directory(void) { return O_DIRECTORY; }
static inline int vq_o_nofollow(void) { return O_NOFOLLOW; }
static inline int vq_o_cloexec(void) { return O_CLOEXEC; }
static inline int vq_at_symlink_nofollow(void) { return AT_SYMLINK_NOFOLLOW; }

/// setrlimit(RLIMIT_DATA) without the enum type Swift sees differently on
/// each libc.
static inline int vq_set_data_limit(unsigned long long bytes) {
    struct rlimit limit = { (rlim_t)bytes, (rlim_t)bytes };
    struct rlimit current;
    if (getrlimit(RLIMIT_DATA, &current) == 0 && current.rlim_max != RLIM_INFINITY && current.rlim_max < limit.rlim_max) {
        limit.rlim_max = current.rlim_max;
        if (limit.rlim_cur > limit.rlim_max) limit.rlim_cur = limit.rlim_max;
    }
    return setrlimit(RLIMIT_DATA, &limit);
}

static inline int vq_set_address_space_limit(unsigned long long bytes) {
    struct rlimit limit = { (rlim_t)bytes, (rlim_t)bytes };
    return setrlimit(RLIMIT_AS, &limit);
}

#endif
