/* SPDX-License-Identifier: MIT */
/* Descriptor helpers: EINTR-safe I/O, SIGPIPE-free writes, close-on-exec.
 * Host and tracker; each function says whether it is AS-safe. */
#ifndef RT_FDIO_H
#define RT_FDIO_H

#include <stddef.h>
#include <sys/types.h>

/* Functions that may run in a child sharing the host's memory (a CLONE_VM
 * child before exec) must not be instrumented: a sanitizer would update the
 * suspended host thread's bookkeeping from another stack. */
#if defined(__clang__)
#define RT_CHILD_SAFE                                                          \
    __attribute__((no_sanitize("address", "thread", "undefined")))
#elif defined(__GNUC__)
#define RT_CHILD_SAFE                                                          \
    __attribute__((no_sanitize_address, no_sanitize_thread,                    \
                   no_sanitize_undefined))
#else
#define RT_CHILD_SAFE
#endif

/* read(2) retried on EINTR. Returns the count, 0 at EOF, or -errno.
 * AS-safe. */
ssize_t rt__fd_read(int fd, void *buf, size_t len);

/* Reads exactly LEN bytes unless EOF comes first. Returns the count read
 * (short only at EOF) or -errno. AS-safe. */
ssize_t rt__fd_read_full(int fd, void *buf, size_t len);

/* One write(2) of a whole message, retried on EINTR, never raising SIGPIPE
 * in the host. A short write is -EIO: finishing it with a second write would
 * break the atomicity a message relies on. Returns 0 or -errno. MT-safe and
 * AS-safe. */
int rt__fd_write_msg(int fd, const void *buf, size_t len);

/* One write(2) of a whole message, retried on EINTR, for a pipe that cannot
 * be without a reader (the host holds a spare read end): no SIGPIPE is
 * possible, so nothing is done to prevent one. 0 or -errno; short is -EIO.
 * errno is left alone by a write that succeeds at once (an EINTR retried
 * leaves EINTR there). MT-safe, AS-safe. */
int rt__fd_write_plain(int fd, const void *buf, size_t len);

/* The portable half of rt__fd_write_msg, used where the kernel has no
 * RWF_NOSIGNAL: SIGPIPE blocked in this thread around the write, and one it
 * raised consumed. Exposed for tests. */
int rt__fd_write_masked(int fd, const void *buf, size_t len);

/* close(2) that keeps errno and treats EINTR as done (the descriptor is gone
 * either way on Linux; retrying could close someone else's). Returns -1 so
 * that "fd = rt__fd_close(fd)" leaves fd invalid. AS-safe. */
int rt__fd_close(int fd);

/* A pipe whose both ends are close-on-exec and above 2. Returns 0 or
 * -errno (and then FDS is untouched). */
int rt__fd_pipe(int fds[2]);

/* Sets or clears FD_CLOEXEC. Returns 0 or -errno. AS-safe. */
int rt__fd_set_cloexec(int fd, int on);

/* Closes every descriptor >= LOWFD. AS-safe: no allocation. */
RT_CHILD_SAFE void rt__fd_close_from(int lowfd);

/* waitpid(2) on one exact pid, retried on EINTR. Returns the pid, 0 (with
 * WNOHANG) or -errno. */
pid_t rt__fd_waitpid(pid_t pid, int *ret_status, int flags);

/* Whether the pipe whose write end is FD still has a reader: 1 yes, 0 no
 * (its tracker is gone), -EBADF when FD is not open. One poll(2), nothing
 * written: Linux reports POLLERR on a write end without readers, the BSDs
 * POLLHUP. MT-safe, AS-safe. */
int rt__fd_pipe_alive(int fd);

/* A descriptor above 2 for FD: FD itself, or a close-on-exec copy of it
 * (FD is then closed), so that a host started with 0, 1 or 2 closed never
 * finds one of ours there. On failure FD is closed and -errno returned.
 * AS-safe. */
int rt__fd_lift(int fd);

/* Moves FD (close-on-exec) to a high number, near the top of the first
 * 1024: a program that closes descriptors and opens new files gets the
 * lowest free numbers, so it does not land on ours by chance. Returns the
 * new number (FD is closed), or FD itself when no high number is free. */
int rt__fd_move_high(int fd);

/* Whether FD is open and refers to the file (DEV, INO): 1, 0 (another file
 * or closed). */
int rt__fd_is(int fd, unsigned long long dev, unsigned long long ino);

/* Moves SRC onto the number DST (close-on-exec), closing SRC: racing users
 * of DST see the old file or the new one, never a closed or reused number.
 * Returns 0 or -errno. */
int rt__fd_move_onto(int src, int dst);
#endif /* RT_FDIO_H */
