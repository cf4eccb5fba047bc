/* SPDX-License-Identifier: MIT */
/* Folder cleanup through openat/unlinkat, never following a link. Tracker,
 * single-threaded; AS-safe on Linux (getdents64 into static buffers). */

/* syscall(2) for getdents64: Linux; elsewhere fdopendir(3), which
 * allocates (so off Linux this is not AS-safe in a forked tracker). */
#define _GNU_SOURCE
#include "rmtree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/syscall.h>
#endif

#include "fdio.h"

/* How often one folder is listed again when entries appeared (or were
 * skipped) while it was being emptied. */
#define PASSES 8

struct level {
    int fd;
    int passes;
    char name[256]; /* this folder's name in its parent */
#if defined(__linux__) && defined(SYS_getdents64)
    _Alignas(8) char buf[2048];
    long len, pos;
#else
    DIR *dir;
#endif
};

static struct level stack[RT_RMTREE_DEPTH];
static int first_err;

static void note(int err)
{
    if (first_err == 0 && err != 0) {
        first_err = err;
    }
}

static int open_level(struct level *l, int fd)
{
    l->fd = fd;
    l->passes = 0;
#if defined(__linux__) && defined(SYS_getdents64)
    l->len = l->pos = 0;
    return 0;
#else
    l->dir = fdopendir(fd);
    return l->dir != NULL ? 0 : -1;
#endif
}

static void close_level(struct level *l)
{
#if defined(__linux__) && defined(SYS_getdents64)
    rt__fd_close(l->fd);
#else
    (void)closedir(l->dir);
#endif
    l->fd = -1;
}

static void rewind_level(struct level *l)
{
#if defined(__linux__) && defined(SYS_getdents64)
    (void)lseek(l->fd, 0, SEEK_SET);
    l->len = l->pos = 0;
#else
    rewinddir(l->dir);
#endif
}

/* The next entry's name, or NULL at the end of a listing. */
static const char *next_name(struct level *l)
{
#if defined(__linux__) && defined(SYS_getdents64)
    if (l->pos >= l->len) {
        long n;
        do {
            n = syscall(SYS_getdents64, (long)l->fd, l->buf,
                        (long)sizeof(l->buf));
        } while (n < 0 && errno == EINTR);
        if (n <= 0) {
            if (n < 0) {
                note(errno);
            }
            return NULL;
        }
        l->len = n;
        l->pos = 0;
    }
    /* struct linux_dirent64: u64 ino, s64 off, u16 reclen, u8 type, name. */
    unsigned short reclen;
    memcpy(&reclen, l->buf + l->pos + 16, sizeof(reclen));
    const char *name = l->buf + l->pos + 19;
    l->pos += reclen;
    return name;
#else
    struct dirent *e = readdir(l->dir);
    return e != NULL ? e->d_name : NULL;
#endif
}

/* Removes entry NAME of the folder at level DEPTH, or descends into it.
 * Returns the new depth. */
static int remove_entry(int depth, const char *name, dev_t dev)
{
    struct level *l = &stack[depth];
    if (unlinkat(l->fd, name, 0) == 0 || errno == ENOENT) {
        return depth;
    }
    /* Linux says EISDIR for a folder, POSIX EPERM. */
    if (errno != EISDIR && errno != EPERM) {
        note(errno);
        return depth;
    }
    int fd =
        openat(l->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        /* ELOOP or ENOTDIR: not a folder (any more); a link swapped in
         * while we work is removed, never entered. */
        if (errno == ELOOP || errno == ENOTDIR) {
            if (unlinkat(l->fd, name, 0) < 0 && errno != ENOENT) {
                note(errno);
            }
        } else if (errno != ENOENT) {
            note(errno);
        }
        return depth;
    }
    struct stat st;
    int err = fstat(fd, &st) < 0                ? errno
              : st.st_dev != dev                ? EXDEV
              : depth + 1 == RT_RMTREE_DEPTH    ? ELOOP
              : strlen(name) >= sizeof(l->name) ? ENAMETOOLONG
                                                : 0;
    if (err != 0) {
        note(err);
        rt__fd_close(fd);
        return depth;
    }
    struct level *child = &stack[depth + 1];
    if (open_level(child, fd) < 0) {
        note(errno);
        rt__fd_close(fd);
        return depth;
    }
    memcpy(child->name, name, strlen(name) + 1);
    return depth + 1;
}

/* The folder at DEPTH is listed to its end: remove it, or list it again if
 * it is not empty yet. Returns the new depth. */
static int finish_level(int depth, const char *path)
{
    struct level *l = &stack[depth];
    int r = depth == 0 ? rmdir(path)
                       : unlinkat(stack[depth - 1].fd, l->name, AT_REMOVEDIR);
    if (r < 0 && (errno == ENOTEMPTY || errno == EEXIST) &&
        l->passes + 1 < PASSES) {
        l->passes++;
        rewind_level(l);
        return depth;
    }
    if (r < 0 && errno != ENOENT) {
        note(errno);
    }
    close_level(l);
    return depth - 1;
}

int rt__rmtree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0) {
        return -1;
    }
    if (S_ISLNK(st.st_mode)) {
        return unlink(path);
    }
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    int top = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (top < 0 || open_level(&stack[0], top) < 0) {
        rt__fd_close(top);
        return -1;
    }
    first_err = 0;
    int depth = 0;
    while (depth >= 0) {
        const char *name = next_name(&stack[depth]);
        if (name == NULL) {
            depth = finish_level(depth, path);
        } else if (strcmp(name, ".") != 0 && strcmp(name, "..") != 0) {
            depth = remove_entry(depth, name, st.st_dev);
        }
    }
    if (first_err != 0) {
        errno = first_err;
        return -1;
    }
    return 0;
}
