/* SPDX-License-Identifier: MIT */
/* Descriptor helpers: EINTR-safe I/O, SIGPIPE-free writes, close-on-exec.
 * Host and tracker; MT-safe; AS-safe except where a comment says not. */

/* pipe2(2), syscall(2) for pwritev2/close_range/getdents64: Linux calls, each
 * with a POSIX fallback below. */
#define _GNU_SOURCE
#include "fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/syscall.h>
#endif

#if defined(__linux__) && defined(SYS_pwritev2)
/* RWF_NOSIGNAL (Linux 6.18): the write fails with EPIPE instead of raising
 * SIGPIPE. Older kernels reject the unknown flag with EOPNOTSUPP before
 * writing anything, so trying it costs nothing but one failed call. */
#ifndef RWF_NOSIGNAL
#define RWF_NOSIGNAL 0x00000100
#endif
#define RT_HAVE_NOSIGNAL_WRITE 1
/* A cached kernel capability, not program state: set once, never reset. */
static atomic_int nosignal_unsupported;
#endif

ssize_t rt__fd_read(int fd, void *buf, size_t len)
{
    for (;;) {
        ssize_t n = read(fd, buf, len);
        if (n >= 0) {
            return n;
        }
        if (errno != EINTR) {
            return -errno;
        }
    }
}

ssize_t rt__fd_read_full(int fd, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = rt__fd_read(fd, (char *)buf + got, len - got);
        if (n < 0) {
            return n;
        }
        if (n == 0) {
            break;
        }
        got += (size_t)n;
    }
    return (ssize_t)got;
}

/* libpq's way of writing without SIGPIPE when the kernel cannot be asked:
 * block SIGPIPE in this thread only, write, and if the write raised a SIGPIPE
 * that was not already pending, consume it before restoring the mask. The
 * process-wide disposition, which belongs to the host, is never touched. */
int rt__fd_write_masked(int fd, const void *buf, size_t len)
{
    sigset_t pipe_set;
    sigset_t old;
    sigset_t pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    int r = pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    if (r != 0) {
        return -r;
    }
    int was_pending =
        sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE);
    ssize_t n;
    do {
        n = write(fd, buf, len);
    } while (n < 0 && errno == EINTR);
    int err = n < 0 ? errno : 0;
    if (err == EPIPE && !was_pending) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR) {
        }
    }
    (void)pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err != 0) {
        return -err;
    }
    return (size_t)n == len ? 0 : -EIO;
}

int rt__fd_write_plain(int fd, const void *buf, size_t len)
{
    /* The hot path of every message: a whole write leaves errno alone. */
    ssize_t n = write(fd, buf, len);
    if (n == (ssize_t)len) {
        return 0;
    }
    while (n < 0 && errno == EINTR) {
        n = write(fd, buf, len);
    }
    return n < 0 ? -errno : (size_t)n == len ? 0 : -EIO;
}

int rt__fd_write_msg(int fd, const void *buf, size_t len)
{
    int saved = errno;
    int r;
#ifdef RT_HAVE_NOSIGNAL_WRITE
    if (!atomic_load_explicit(&nosignal_unsupported, memory_order_relaxed)) {
        struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
        for (;;) {
            long n = syscall(SYS_pwritev2, (long)fd, &iov, 1L, -1L, -1L,
                             (long)RWF_NOSIGNAL);
            if (n >= 0) {
                errno = saved;
                return (size_t)n == len ? 0 : -EIO;
            }
            if (errno == EINTR) {
                continue;
            }
            if (errno == EOPNOTSUPP || errno == ENOSYS) {
                atomic_store_explicit(&nosignal_unsupported, 1,
                                      memory_order_relaxed);
                break;
            }
            r = -errno;
            errno = saved;
            return r;
        }
    }
#endif
    r = rt__fd_write_masked(fd, buf, len);
    errno = saved;
    return r;
}

int rt__fd_close(int fd)
{
    if (fd >= 0) {
        int saved = errno;
        (void)close(fd);
        errno = saved;
    }
    return -1;
}

int rt__fd_set_cloexec(int fd, int on)
{
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0) {
        return -errno;
    }
    int want = on ? (flags | FD_CLOEXEC) : (flags & ~FD_CLOEXEC);
    if (want != flags && fcntl(fd, F_SETFD, want) < 0) {
        return -errno;
    }
    return 0;
}

int rt__fd_lift(int fd)
{
    if (fd > 2) {
        return fd;
    }
    int high = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    int err = errno;
    rt__fd_close(fd);
    /* With too few descriptors the floor itself may be past the limit. */
    return high >= 0 ? high : err == EINVAL ? -EMFILE : -err;
}

/* Moves *FD above 2, close-on-exec: a host that closed stdin, stdout or
 * stderr must not find our pipe there (its printf would feed the tracker). */
static int lift(int *fd)
{
    int r = rt__fd_lift(*fd);
    if (r < 0) {
        *fd = -1;
        return r;
    }
    *fd = r;
    return 0;
}

int rt__fd_move_high(int fd)
{
    struct rlimit rl;
    long top = 1024;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur < (rlim_t)top) {
        top = (long)rl.rlim_cur;
    }
    /* Below the top, a few apart from what programs dup2 onto by habit
     * (255 for shells, 1023). */
    long base = top - 48;
    if (base <= fd || base < 16) {
        return fd;
    }
    int high = fcntl(fd, F_DUPFD_CLOEXEC, (int)base);
    if (high < 0) {
        return fd;
    }
    rt__fd_close(fd);
    return high;
}

int rt__fd_is(int fd, unsigned long long dev, unsigned long long ino)
{
    struct stat st;
    int saved = errno;
    int r = fd >= 0 && fstat(fd, &st) == 0 &&
            (unsigned long long)st.st_dev == dev &&
            (unsigned long long)st.st_ino == ino;
    errno = saved;
    return r;
}

static int pipe_cloexec(int p[2])
{
#if defined(__linux__)
    if (pipe2(p, O_CLOEXEC) == 0) {
        return 0;
    }
    if (errno != ENOSYS) {
        return -errno;
    }
#endif
    /* Without pipe2 a fork+exec in another thread may catch the pipe
     * before FD_CLOEXEC is set: the window POSIX 2008 leaves open. */
    if (pipe(p) < 0) {
        return -errno;
    }
    int r = rt__fd_set_cloexec(p[0], 1);
    if (r == 0) {
        r = rt__fd_set_cloexec(p[1], 1);
    }
    if (r < 0) {
        rt__fd_close(p[0]);
        rt__fd_close(p[1]);
    }
    return r;
}

int rt__fd_pipe(int fds[2])
{
    int p[2];
    int r = pipe_cloexec(p);
    if (r < 0) {
        return r;
    }
    r = lift(&p[0]);
    if (r == 0) {
        r = lift(&p[1]);
    }
    if (r < 0) {
        rt__fd_close(p[0]);
        rt__fd_close(p[1]);
        return r;
    }
    fds[0] = p[0];
    fds[1] = p[1];
    return 0;
}

#if defined(__linux__)
#define RAW_CLOSE(fd) ((void)syscall(SYS_close, (long)(fd)))
#else
#define RAW_CLOSE(fd) ((void)close(fd))
#endif

#if defined(__linux__) && defined(SYS_getdents64)
/* Reads /proc/self/fd with getdents64 into a stack buffer: no allocation, so
 * this works after fork in a multithreaded host. Returns -1 without /proc. */
RT_CHILD_SAFE static int close_listed(int lowfd)
{
    int dfd = (int)syscall(SYS_openat, (long)AT_FDCWD, "/proc/self/fd",
                           (long)(O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dfd < 0) {
        return -1;
    }
    _Alignas(8) char buf[4096];
    for (;;) {
        long n = syscall(SYS_getdents64, (long)dfd, buf, (long)sizeof(buf));
        if (n <= 0) {
            break;
        }
        for (long off = 0; off < n;) {
            /* struct linux_dirent64: u64 ino, s64 off, u16 reclen, u8 type,
             * char name[]. */
            unsigned short reclen;
            memcpy(&reclen, buf + off + 16, sizeof(reclen));
            const char *name = buf + off + 19;
            off += reclen;
            long fd = 0;
            if (*name < '0' || *name > '9') {
                continue;
            }
            for (; *name >= '0' && *name <= '9'; name++) {
                fd = fd * 10 + (*name - '0');
                if (fd > INT_MAX) {
                    break;
                }
            }
            if (fd >= lowfd && fd != dfd && fd <= INT_MAX) {
                RAW_CLOSE(fd);
            }
        }
    }
    RAW_CLOSE(dfd);
    return 0;
}
#endif

RT_CHILD_SAFE void rt__fd_close_from(int lowfd)
{
#if defined(__linux__) && defined(SYS_close_range)
    if (syscall(SYS_close_range, (long)lowfd, (long)UINT_MAX, 0L) == 0) {
        return;
    }
#endif
#if defined(__linux__) && defined(SYS_getdents64)
    if (close_listed(lowfd) == 0) {
        return;
    }
#endif
    /* Last resort: every number up to the soft limit, capped so that a huge
     * RLIMIT_NOFILE cannot stall us for seconds. */
    struct rlimit rl;
    long max = 65536;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur < (rlim_t)max) {
        max = (long)rl.rlim_cur;
    }
    for (long fd = lowfd; fd < max; fd++) {
        RAW_CLOSE(fd);
    }
}

pid_t rt__fd_waitpid(pid_t pid, int *ret_status, int flags)
{
    int status = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, flags);
        if (r >= 0) {
            if (r > 0 && ret_status != NULL) {
                *ret_status = status;
            }
            return r;
        }
        if (errno != EINTR) {
            return -errno;
        }
    }
}

int rt__fd_pipe_alive(int fd)
{
    int saved = errno;
    struct pollfd p = {.fd = fd, .events = 0, .revents = 0};
    int n;
    do {
        n = poll(&p, 1, 0);
    } while (n < 0 && errno == EINTR);
    int r = n < 0                               ? -errno
            : (p.revents & POLLNVAL)            ? -EBADF
            : (p.revents & (POLLERR | POLLHUP)) ? 0
                                                : 1;
    errno = saved;
    return r;
}

int rt__fd_move_onto(int src, int dst)
{
    int r;
#if defined(__linux__)
    do {
        r = dup3(src, dst, O_CLOEXEC);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        return -errno;
    }
#else
    do {
        r = dup2(src, dst);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        return -errno;
    }
    /* dup2 clears FD_CLOEXEC; an exec in another thread before the next
     * line would carry DST along: the window POSIX 2008 leaves open. */
    (void)rt__fd_set_cloexec(dst, 1);
#endif
    rt__fd_close(src);
    return 0;
}
