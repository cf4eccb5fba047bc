/* SPDX-License-Identifier: MIT */
/* Crossing exec: RESOURCE_TRACKER_FD and descriptor checks. Host, MT-safe.
 * The library never writes into a descriptor it is not sure of: a stale
 * variable could name a number that now holds a file or a socket. */

/* secure_getenv(3): glibc and musl; elsewhere a set-id check stands in. */
#define _GNU_SOURCE
#include "inherit.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdio.h"
#include "resourcetracker.h"

static int check(int fd, struct stat *st)
{
    if (fd < 0 || fstat(fd, st) < 0) {
        return -EBADF;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) {
        return -EBADF;
    }
    int mode = fl & O_ACCMODE;
    if (!S_ISFIFO(st->st_mode) || (mode != O_WRONLY && mode != O_RDWR)) {
        return -EINVAL;
    }
    return 0;
}

int rt__inherit_check(int fd)
{
    struct stat st;
    return check(fd, &st);
}

static const char *env_value(void)
{
#if defined(__GLIBC__) || defined(__linux__)
    return secure_getenv(RT_ENV_FD);
#else
    if (getuid() != geteuid() || getgid() != getegid()) {
        return NULL;
    }
    return getenv(RT_ENV_FD);
#endif
}

/* Parses a decimal number with no sign, space or trailing byte before END
 * (':' or NUL). Returns the position after it, or NULL. */
static const char *parse_num(const char *s, char end, uintmax_t max,
                             uintmax_t *ret)
{
    uintmax_t v = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (max - d) / 10) {
            return NULL;
        }
        v = v * 10 + d;
    }
    if (p == s || *p != end) {
        return NULL;
    }
    *ret = v;
    return p;
}

int rt__inherit_from_env(void)
{
    const char *v = env_value();
    if (v == NULL) {
        return -1;
    }
    uintmax_t fd;
    uintmax_t dev = 0;
    uintmax_t ino = 0;
    int exact = 0;
    const char *p = parse_num(v, '\0', INT_MAX, &fd);
    if (p == NULL) {
        p = parse_num(v, ':', INT_MAX, &fd);
        p = p != NULL ? parse_num(p + 1, ':', UINTMAX_MAX, &dev) : NULL;
        p = p != NULL ? parse_num(p + 1, '\0', UINTMAX_MAX, &ino) : NULL;
        if (p == NULL) {
            return -1;
        }
        exact = 1;
    }
    /* A standard stream is never a tracker pipe, however it looks: with
     * "prog | less", fd 1 is a FIFO open for writing. */
    struct stat st;
    if (fd <= 2 || check((int)fd, &st) < 0) {
        return -1;
    }
    if (exact && ((uintmax_t)st.st_dev != dev || (uintmax_t)st.st_ino != ino)) {
        return -1;
    }
    if (rt__fd_pipe_alive((int)fd) != 1) {
        return -1;
    }
    return (int)fd;
}
