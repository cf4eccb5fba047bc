/* SPDX-License-Identifier: MIT */
/* Folder cleanup through openat/unlinkat, never following a link nor
 * crossing a mount point, in work linear in the number of entries. Tracker,
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
#include "pathres.h"

#if defined(__linux__) && defined(SYS_getdents64)
#define HAVE_GETDENTS64 1
#endif

/* How many times one folder may be listed. A second listing happens only
 * when the first removed every entry it saw and the folder still was not
 * empty: entries added while it ran, or a file system whose listing skips
 * entries after a removal. The bound is per folder, so the whole work stays
 * linear whatever racing processes do. */
#define LISTINGS 3

/* One folder being emptied: the open descriptor, where its listing is, and
 * whether something in it could not be removed. */
struct level {
    int fd;
    int listings;
    int failed;
    char name[256]; /* this folder's name in its parent */
#if HAVE_GETDENTS64
    _Alignas(8) char buf[2048];
    long len;
    long pos;
#else
    DIR *dir;
#endif
};

static struct level stack[RT_RMTREE_DEPTH];
static int top_parent; /* the folder holding stack[0] */
static int first_err;  /* -errno of the first failure, or 0 */

/* Something in the folder at L could not be removed: the rest of its
 * listing goes on, but it is not listed again, nor removed itself. */
static void fail(struct level *l, int err)
{
    if (first_err == 0) {
        first_err = -err;
    }
    l->failed = 1;
}

static int parent_fd(int depth)
{
    return depth == 0 ? top_parent : stack[depth - 1].fd;
}

/* Makes FD, the folder NAME, the level at DEPTH. 0 or -errno. */
static int enter(int depth, int fd, const char *name)
{
    struct level *l = &stack[depth];
    size_t n = strlen(name);
    if (n >= sizeof(l->name)) {
        return -ENAMETOOLONG;
    }
#if HAVE_GETDENTS64
    l->len = l->pos = 0;
#else
    l->dir = fdopendir(fd);
    if (l->dir == NULL) {
        return -errno;
    }
#endif
    memcpy(l->name, name, n + 1);
    l->fd = fd;
    l->listings = 1;
    l->failed = 0;
    return 0;
}

static void leave(struct level *l)
{
#if HAVE_GETDENTS64
    rt__fd_close(l->fd);
#else
    (void)closedir(l->dir);
#endif
    l->fd = -1;
}

static void rewind_level(struct level *l)
{
    l->listings++;
#if HAVE_GETDENTS64
    if (lseek(l->fd, 0, SEEK_SET) < 0) {
        fail(l, errno);
    }
    l->len = l->pos = 0;
#else
    rewinddir(l->dir);
#endif
}

/* The next entry's name (and its type, DT_UNKNOWN when the file system does
 * not say), or NULL at the end of the listing. */
static const char *next_name(struct level *l, unsigned char *ret_type)
{
#if HAVE_GETDENTS64
    if (l->pos >= l->len) {
        long n;
        do {
            n = syscall(SYS_getdents64, (long)l->fd, l->buf,
                        (long)sizeof(l->buf));
        } while (n < 0 && errno == EINTR);
        if (n <= 0) {
            if (n < 0) {
                fail(l, errno);
            }
            return NULL;
        }
        l->len = n;
        l->pos = 0;
    }
    /* struct linux_dirent64: u64 ino, s64 off, u16 reclen, u8 type, name. */
    unsigned short reclen;
    memcpy(&reclen, l->buf + l->pos + 16, sizeof(reclen));
    *ret_type = (unsigned char)l->buf[l->pos + 18];
    const char *name = l->buf + l->pos + 19;
    l->pos += reclen;
    return name;
#else
    errno = 0;
    struct dirent *e = readdir(l->dir);
    if (e == NULL && errno != 0) {
        fail(l, errno);
    }
    *ret_type = DT_UNKNOWN;
    return e != NULL ? e->d_name : NULL;
#endif
}

/* NAME in the folder at L is not a folder (any more): a file, or a link,
 * swapped in or not, which is removed and never entered. */
static void remove_other(struct level *l, const char *name)
{
    if (unlinkat(l->fd, name, 0) < 0 && errno != ENOENT) {
        fail(l, errno);
    }
}

/* Opens the folder NAME of the level at DEPTH and makes it the next level,
 * unless it is a link or no folder (then it is removed), a mount point, or
 * one level too deep. Returns the new depth. */
static int descend(int depth, const char *name)
{
    struct level *l = &stack[depth];
    int fd =
        openat(l->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        /* O_NOFOLLOW|O_DIRECTORY says ENOTDIR (or ELOOP) for a link. */
        if (errno == ENOTDIR || errno == ELOOP) {
            remove_other(l, name);
        } else if (errno != ENOENT) {
            fail(l, errno);
        }
        return depth;
    }
    /* Checked on the descriptor: what is entered is what was checked. */
    int r = rt__path_is_mount_fd(l->fd, fd);
    if (r == 0 && depth + 1 == RT_RMTREE_DEPTH) {
        r = -ELOOP;
    }
    if (r == 0) {
        r = enter(depth + 1, fd, name);
    }
    if (r != 0) {
        fail(l, r > 0 ? EXDEV : -r);
        rt__fd_close(fd);
        return depth;
    }
    return depth + 1;
}

/* Removes entry NAME of type TYPE of the folder at DEPTH, or descends into
 * it. Returns the new depth. */
static int visit(int depth, const char *name, unsigned char type)
{
    if (name[0] == '.' &&
        (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) {
        return depth;
    }
    struct level *l = &stack[depth];
    if (type != DT_DIR) {
        if (unlinkat(l->fd, name, 0) == 0 || errno == ENOENT) {
            return depth;
        }
        /* A folder (unknown type, or one swapped in since the listing):
         * Linux says EISDIR, POSIX EPERM. */
        if (errno != EISDIR && errno != EPERM) {
            fail(l, errno);
            return depth;
        }
    }
    return descend(depth, name);
}

/* The folder at DEPTH is listed to its end: remove it, or list it again if
 * every entry seen is gone and it is still not empty. Returns the new
 * depth. */
static int finish(int depth)
{
    struct level *l = &stack[depth];
    if (!l->failed) {
        if (unlinkat(parent_fd(depth), l->name, AT_REMOVEDIR) == 0 ||
            errno == ENOENT) {
            leave(l);
            return depth - 1;
        }
        if ((errno == ENOTEMPTY || errno == EEXIST) && l->listings < LISTINGS) {
            rewind_level(l);
            return depth;
        }
        fail(l, errno);
    }
    leave(l);
    if (depth > 0) {
        /* Its parent cannot be emptied now: no second listing of it. */
        stack[depth - 1].failed = 1;
    }
    return depth - 1;
}

/* NAME in DIRFD could not be opened as a folder (ERR): a link at the top
 * is removed, never followed; anything else is an error. */
static int top_not_folder(int dirfd, const char *name, int err)
{
    struct stat st;
    if (err != ENOTDIR && err != ELOOP) {
        return -err;
    }
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        return -errno;
    }
    if (!S_ISLNK(st.st_mode)) {
        return -ENOTDIR;
    }
    return unlinkat(dirfd, name, 0) == 0 ? 0 : -errno;
}

int rt__rmtree_at(int dirfd, const char *name)
{
    if (name[0] == '\0' || strchr(name, '/') != NULL ||
        (name[0] == '.' &&
         (name[1] == '\0' || (name[1] == '.' && name[2] == '\0')))) {
        return -EINVAL;
    }
    int fd =
        openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return top_not_folder(dirfd, name, errno);
    }
    int r = rt__path_is_mount_fd(dirfd, fd);
    if (r == 0) {
        r = enter(0, fd, name);
    }
    if (r != 0) {
        rt__fd_close(fd);
        return r > 0 ? -EBUSY : r;
    }
    top_parent = dirfd;
    first_err = 0;
    int depth = 0;
    while (depth >= 0) {
        unsigned char type = DT_UNKNOWN;
        const char *entry = next_name(&stack[depth], &type);
        depth = entry != NULL ? visit(depth, entry, type) : finish(depth);
    }
    return first_err;
}
