/* SPDX-License-Identifier: MIT */
/* The state directory and its journal files. Host and tracker. */

/* secure_getenv(3) and getdents64 (syscall(2)): Linux, where the library
 * runs. */
#define _GNU_SOURCE
#include "statedir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sys/syscall.h>

#include "decimal.h"
#include "fdio.h"

static const char *env(const char *name)
{
#if defined(__GLIBC__) || defined(__linux__)
    return secure_getenv(name);
#else
    if (getuid() != geteuid() || getgid() != getegid()) {
        return NULL;
    }
    return getenv(name);
#endif
}

int rt__state_dir_path(char *buf, size_t len)
{
    const char *dir = env(RT_ENV_DIR);
    int n;
    if (dir != NULL && dir[0] != '\0') {
        n = snprintf(buf, len, "%s", dir);
    } else if ((dir = env("XDG_RUNTIME_DIR")) != NULL && dir[0] == '/') {
        n = snprintf(buf, len, "%s/resourcetracker", dir);
    } else {
        n = snprintf(buf, len, "/tmp/resourcetracker-%lu",
                     (unsigned long)geteuid());
    }
    return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

static void say(char *why, size_t whylen, const char *text)
{
    if (whylen > 0) {
        size_t n = strlen(text);
        n = n < whylen - 1 ? n : whylen - 1;
        memcpy(why, text, n);
        why[n] = '\0';
    }
}

static int open_nofollow_dir(const char *path)
{
    int fd;
    do {
        fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    return fd < 0 ? -errno : fd;
}

int rt__state_open_dir(const char *path, char *why, size_t whylen)
{
    int created = 0;
    int fd = open_nofollow_dir(path);
    if (fd == -ENOENT) {
        if (mkdir(path, 0700) < 0 && errno != EEXIST) {
            int err = errno;
            say(why, whylen, "cannot be created");
            return -err;
        }
        created = 1;
        fd = open_nofollow_dir(path);
    }
    if (fd == -ELOOP || fd == -ENOTDIR) {
        say(why, whylen, "is a symbolic link or not a folder");
        return -ENOTDIR;
    }
    if (fd < 0) {
        say(why, whylen, "cannot be opened");
        return fd;
    }
    struct stat st;
    int r = 0;
    if (fstat(fd, &st) < 0) {
        r = -errno;
        say(why, whylen, "cannot be examined");
    } else if (!S_ISDIR(st.st_mode)) {
        r = -ENOTDIR;
        say(why, whylen, "is not a folder");
    } else if (st.st_uid != geteuid()) {
        r = -EPERM;
        say(why, whylen, "belongs to another user");
    } else if ((st.st_mode & 07777) != 0700) {
        /* A folder we made ourselves only differs by the umask. */
        if (created && fchmod(fd, 0700) == 0) {
            r = 0;
        } else {
            r = -EACCES;
            say(why, whylen, "does not have mode 0700");
        }
    }
    if (r == 0) {
        r = rt__fd_lift(fd);
        if (r >= 0) {
            return r;
        }
        say(why, whylen, "cannot be opened");
        return r;
    }
    rt__fd_close(fd);
    return r;
}

static void make_name(char *buf, size_t len, const char *head, uint64_t dev,
                      uint64_t ino, const uint64_t *serial)
{
    char tmp[RT_STATE_NAME_MAX];
    char *o = tmp;
    memcpy(o, head, strlen(head));
    o += strlen(head);
    o = rt__put_decimal(o, dev);
    *o++ = '-';
    o = rt__put_decimal(o, ino);
    if (serial != NULL) {
        *o++ = '-';
        o = rt__put_decimal(o, *serial);
    }
    memcpy(o, ".journal", 9);
    size_t n = strlen(tmp);
    n = n < len - 1 ? n : len - 1;
    memcpy(buf, tmp, n);
    buf[n] = '\0';
}

void rt__state_journal_name(char *buf, size_t len, uint64_t dev, uint64_t ino)
{
    make_name(buf, len, "pipe-", dev, ino, NULL);
}

int rt__state_is_journal_name(const char *name)
{
    size_t n = strlen(name);
    return (strncmp(name, "pipe-", 5) == 0 || strncmp(name, "dead-", 5) == 0) &&
           n > 13 && strcmp(name + n - 8, ".journal") == 0;
}

/* Moves the file NAME aside under a "dead-" name nobody uses. */
static int set_aside(int dirfd, const char *name, uint64_t dev, uint64_t ino)
{
    struct timespec ts = {0, 0};
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t serial = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    for (int tries = 0; tries < 16; tries++, serial++) {
        char dead[RT_STATE_NAME_MAX];
        make_name(dead, sizeof(dead), "dead-", dev, ino, &serial);
        struct stat st;
        if (fstatat(dirfd, dead, &st, AT_SYMLINK_NOFOLLOW) == 0) {
            continue;
        }
        if (renameat(dirfd, name, dirfd, dead) == 0 || errno == ENOENT) {
            return 0;
        }
        return -errno;
    }
    return -EEXIST;
}

int rt__state_create_journal(int dirfd, uint64_t dev, uint64_t ino)
{
    char name[RT_STATE_NAME_MAX];
    rt__state_journal_name(name, sizeof(name), dev, ino);
    for (int tries = 0; tries < 3; tries++) {
        int fd =
            openat(dirfd, name,
                   O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno == EINTR) {
            continue;
        }
        if (fd < 0 && errno == EEXIST) {
            int r = set_aside(dirfd, name, dev, ino);
            if (r < 0) {
                return r;
            }
            continue;
        }
        if (fd < 0) {
            return -errno;
        }
        int r = rt__fd_lift(fd);
        if (r < 0) {
            (void)unlinkat(dirfd, name, 0);
            return r;
        }
        fd = r;
        /* Shared: every process of the run holds it through this one open
         * file, which fork and exec pass on; a sweeper's LOCK_EX succeeds
         * only once all of them are gone. */
        while (flock(fd, LOCK_SH) < 0) {
            if (errno != EINTR) {
                r = -errno;
                (void)unlinkat(dirfd, name, 0);
                rt__fd_close(fd);
                return r;
            }
        }
        return fd;
    }
    return -EEXIST;
}

int rt__state_open_journal(int dirfd, const char *name, int flags)
{
    int fd;
    do {
        fd = openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        return -errno;
    }
    struct stat st;
    int r = 0;
    if (fstat(fd, &st) < 0) {
        r = -errno;
    } else if (S_ISREG(st.st_mode) && st.st_nlink == 0) {
        /* Removed since it was named: its tracker finished. */
        r = -ENOENT;
    } else if (!S_ISREG(st.st_mode)) {
        /* A FIFO would block, a device would be anything. */
        r = -EINVAL;
    } else if (st.st_nlink != 1) {
        /* A second link could be someone else's name for it. */
        r = -EMLINK;
    } else if (st.st_uid != geteuid()) {
        r = -EPERM;
    }
    if (r == 0) {
        return rt__fd_lift(fd);
    }
    rt__fd_close(fd);
    return r;
}

int rt__state_list(int dirfd, void (*fn)(void *ctx, const char *name),
                   void *ctx)
{
    /* Our own open file, read from its start: DIRFD's offset is left. */
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    /* Names are collected first: FN may create and remove files here. */
    static char list[65536];
    size_t used = 0;
    _Alignas(8) static char dents[8192];
    for (;;) {
        long n = syscall(SYS_getdents64, (long)fd, dents, (long)sizeof(dents));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        for (long off = 0; off < n;) {
            unsigned short reclen;
            memcpy(&reclen, dents + off + 16, sizeof(reclen));
            const char *name = dents + off + 19;
            off += reclen;
            size_t len = strlen(name) + 1;
            if (rt__state_is_journal_name(name) && used + len < sizeof(list)) {
                memcpy(list + used, name, len);
                used += len;
            }
        }
    }
    rt__fd_close(fd);
    for (size_t pos = 0; pos < used; pos += strlen(list + pos) + 1) {
        fn(ctx, list + pos);
    }
    return 0;
}
