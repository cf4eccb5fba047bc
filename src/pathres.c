/* SPDX-License-Identifier: MIT */
/* Resolving a registered path without links, and mount points. Tracker,
 * AS-safe: no allocation, raw system calls, stack buffers. The capability
 * caches are atomics, so the pure and read-only parts are MT-safe too. */

/* openat2(2) and statx(2) by syscall(2), O_PATH, AT_EMPTY_PATH,
 * AT_NO_AUTOMOUNT and name_to_handle_at(2): Linux. Each has a fallback for
 * older kernels below (a walk from "/" with O_NOFOLLOW; mount ids from
 * name_to_handle_at or /proc/self/fdinfo); elsewhere the walk and a st_dev
 * comparison, which cannot see a bind mount of the same file system. */
#define _GNU_SOURCE
#include "pathres.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/syscall.h>
#endif

#include "decimal.h"
#include "fdio.h"

#ifndef NAME_MAX
#define NAME_MAX 255
#endif
#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

/* Intermediate folders of the walk need only be searchable, as they are
 * for open(2) and openat2(2): O_PATH asks for no read permission. */
#if defined(O_PATH)
#define WALK_FLAGS (O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
#else
#define WALK_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
#endif
#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

/* "Cannot tell": the caller takes the next way. */
#define UNKNOWN 2

static unsigned forced;

void rt__path_force_fallback(unsigned bits)
{
    forced = bits;
}

/* ---- the form of a path ---- */

int rt__path_valid(const char *path, size_t len)
{
    if (path == NULL || len < 2 || len >= PATH_MAX || path[0] != '/' ||
        path[len - 1] == '/') {
        return 0;
    }
    size_t start = 1;
    for (size_t i = 1; i <= len; i++) {
        if (i < len && path[i] == '\0') {
            return 0;
        }
        if (i < len && path[i] != '/') {
            continue;
        }
        size_t n = i - start;
        if (n == 0 || n > NAME_MAX ||
            (path[start] == '.' &&
             (n == 1 || (n == 2 && path[i - 1] == '.')))) {
            return 0;
        }
        start = i + 1;
    }
    return 1;
}

/* ---- opening the parent ---- */

/* FD moved above 2, so that it can never be taken for a standard stream (a
 * tracker whose stderr was closed would write its report into the tree). */
static int above_stdio(int fd)
{
    if (fd > 2) {
        return fd;
    }
    int high = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    int err = errno;
    rt__fd_close(fd);
    return high >= 0 ? high : -err;
}

#if defined(__linux__) && defined(SYS_openat2)
/* struct open_how of <linux/openat2.h> (Linux 5.6), declared here: not
 * every libc's headers have it. */
struct open_how_ {
    uint64_t flags;
    uint64_t mode;
    uint64_t resolve;
};
#define RESOLVE_NO_SYMLINKS_ 0x04
/* A cached kernel capability, set once, never reset. */
static atomic_int no_openat2;
#endif

/* The folder DIR (NUL-terminated, absolute) by openat2 with no link
 * followed anywhere: the kernel checks every component at once, so no
 * rename during the lookup can slip a link in. -ENOSYS where there is no
 * openat2 (or a seccomp filter refuses it). */
static int open_by_openat2(const char *dir)
{
#if defined(__linux__) && defined(SYS_openat2)
    if ((forced & RT_PATH_NO_OPENAT2) ||
        atomic_load_explicit(&no_openat2, memory_order_relaxed)) {
        return -ENOSYS;
    }
    struct open_how_ how = {O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0,
                            RESOLVE_NO_SYMLINKS_};
    for (;;) {
        long fd = syscall(SYS_openat2, (long)AT_FDCWD, dir, &how, sizeof(how));
        if (fd >= 0) {
            return (int)fd;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == ENOSYS) {
            atomic_store_explicit(&no_openat2, 1, memory_order_relaxed);
        }
        /* Container runtimes' filters say EPERM for calls they do not
         * know; a real EPERM comes back from the walk as well. */
        return errno == EPERM ? -ENOSYS : -errno;
    }
#else
    (void)dir;
    return -ENOSYS;
#endif
}

/* Why NAME in DIRFD could not be opened as a folder without following a
 * link: O_NOFOLLOW|O_DIRECTORY says ENOTDIR for a link, so look. */
static int open_error(int dirfd, const char *name, int err)
{
    struct stat st;
    if (err == ENOTDIR && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISLNK(st.st_mode)) {
        return -ELOOP;
    }
    return -err;
}

/* The folder PATH[0, END) (END is past its last component, or 1 for "/")
 * by a walk from "/", one component at a time, each opened relative to the
 * one before with O_NOFOLLOW: as safe against links as openat2, at one
 * system call per component. */
static int open_by_walk(const char *path, size_t end)
{
    int fd = open("/", end > 1 ? WALK_FLAGS : DIR_FLAGS);
    if (fd < 0) {
        return -errno;
    }
    size_t start = 1;
    while (start < end) {
        size_t stop = start;
        while (stop < end && path[stop] != '/') {
            stop++;
        }
        char name[NAME_MAX + 1];
        memcpy(name, path + start, stop - start);
        name[stop - start] = '\0';
        int next = openat(fd, name, stop == end ? DIR_FLAGS : WALK_FLAGS);
        int r = next >= 0 ? next : open_error(fd, name, errno);
        rt__fd_close(fd);
        if (r < 0) {
            return r;
        }
        fd = next;
        start = stop + 1;
    }
    return fd;
}

int rt__path_open_parent(const char *path, size_t len, size_t *ret_base)
{
    if (!rt__path_valid(path, len)) {
        return -EINVAL;
    }
    size_t base = len;
    while (path[base - 1] != '/') {
        base--;
    }
    /* The parent's path: "/" for a name at the top, else without the
     * slash before the last component. */
    size_t end = base > 1 ? base - 1 : 1;
    char dir[PATH_MAX];
    memcpy(dir, path, end);
    dir[end] = '\0';
    int fd = open_by_openat2(dir);
    if (fd == -ENOSYS) {
        fd = open_by_walk(path, end);
    }
    if (fd < 0) {
        return fd;
    }
    fd = above_stdio(fd);
    if (fd >= 0) {
        *ret_base = base;
    }
    return fd;
}

/* ---- mount points ----
 *
 * A mount point is told in the first of these ways the kernel has:
 * 1. statx's STATX_ATTR_MOUNT_ROOT (Linux 5.8): the kernel says whether the
 *    file is the root of a mount, bind mounts included. One call.
 * 2. Otherwise the file and the folder holding it are compared: a
 *    different st_dev is another file system; the same st_dev with a
 *    different mount id is a bind mount of the same one. The mount id comes
 *    from name_to_handle_at (2.6.39), or, for a file system that makes no
 *    handles, from the "mnt_id:" line of /proc/self/fdinfo (3.15).
 * 3. When neither can say (no /proc, on a kernel before 5.8, on such a file
 *    system), the answer is an error (EOPNOTSUPP), never a guess: the
 *    folder is then left, not entered. Off Linux only st_dev is compared.
 * Each check is made on an open descriptor where one is at hand, so that a
 * mount made between the check and the use cannot slip through. */

#if defined(__linux__) && defined(SYS_statx)
/* struct statx of <linux/stat.h> (Linux 4.11) up to stx_attributes_mask,
 * padded to its full 256 bytes; declared here because libcs differ in
 * whether and where they declare it. */
struct statx_ {
    uint32_t mask;
    uint32_t blksize;
    uint64_t attributes;
    uint32_t nlink;
    uint32_t uid;
    uint32_t gid;
    uint16_t mode;
    uint16_t spare0;
    uint64_t ino;
    uint64_t size;
    uint64_t blocks;
    uint64_t attributes_mask;
    uint64_t rest[24];
};
_Static_assert(sizeof(struct statx_) == 256, "struct statx is 256 bytes");
#define STATX_TYPE_ 0x1U
#define STATX_ATTR_MOUNT_ROOT_ 0x2000U
/* Set once statx is seen to lack STATX_ATTR_MOUNT_ROOT (before 5.8). */
static atomic_int no_mount_root;
#endif

/* Whether NAME in DIRFD (FLAGS: AT_SYMLINK_NOFOLLOW, or AT_EMPTY_PATH for
 * DIRFD itself) is the root of a mount, by statx's STATX_ATTR_MOUNT_ROOT
 * (Linux 5.8), which sees bind mounts too. 1, 0, UNKNOWN, or -errno. */
static int statx_mount_root(int dirfd, const char *name, int flags)
{
#if defined(__linux__) && defined(SYS_statx)
    if ((forced & RT_PATH_NO_STATX) ||
        atomic_load_explicit(&no_mount_root, memory_order_relaxed)) {
        return UNKNOWN;
    }
    struct statx_ sx;
    memset(&sx, 0, sizeof(sx));
    /* An automount point is looked at, not mounted. */
    if (syscall(SYS_statx, (long)dirfd, name, (long)(flags | AT_NO_AUTOMOUNT),
                (long)STATX_TYPE_, &sx) < 0) {
        if (errno == ENOSYS) {
            atomic_store_explicit(&no_mount_root, 1, memory_order_relaxed);
        }
        /* EPERM: a seccomp filter that does not know statx, as above. */
        return errno == ENOSYS || errno == EPERM ? UNKNOWN : -errno;
    }
    if ((sx.attributes_mask & STATX_ATTR_MOUNT_ROOT_) == 0) {
        atomic_store_explicit(&no_mount_root, 1, memory_order_relaxed);
        return UNKNOWN;
    }
    return (sx.attributes & STATX_ATTR_MOUNT_ROOT_) != 0;
#else
    (void)dirfd;
    (void)name;
    (void)flags;
    return UNKNOWN;
#endif
}

#if defined(__linux__)
/* The id of the mount FD is on, by name_to_handle_at (Linux 2.6.39), which
 * tells it along with the handle. UNKNOWN for a file system that makes no
 * handles (overlayfs without nfs_export, procfs, many FUSE ones). */
static int handle_mount_id(int fd, int *ret_id)
{
    if (forced & RT_PATH_NO_HANDLE) {
        return UNKNOWN;
    }
    union {
        struct file_handle fh;
        unsigned char space[sizeof(struct file_handle) + MAX_HANDLE_SZ];
    } h;
    h.fh.handle_bytes = MAX_HANDLE_SZ;
    int id = -1;
    if (name_to_handle_at(fd, "", &h.fh, &id, AT_EMPTY_PATH) == 0 ||
        errno == EOVERFLOW) {
        /* On EOVERFLOW too the kernel has written the mount id. */
        *ret_id = id;
        return 0;
    }
    return errno == EOPNOTSUPP || errno == ENOSYS || errno == EPERM ? UNKNOWN
                                                                    : -errno;
}

/* The id of the mount FD is on, from the "mnt_id:" line of
 * /proc/self/fdinfo/FD (Linux 3.15): every file system has one.
 * -EOPNOTSUPP when /proc cannot tell. */
static int fdinfo_mount_id(int fd, int *ret_id)
{
    static const char head[] = "/proc/self/fdinfo/";
    char path[40];
    memcpy(path, head, sizeof(head) - 1);
    *rt__put_decimal(path + sizeof(head) - 1, (uint32_t)fd) = '\0';
    int info = open(path, O_RDONLY | O_CLOEXEC);
    if (info < 0) {
        return -EOPNOTSUPP;
    }
    char buf[1024];
    ssize_t got = rt__fd_read_full(info, buf, sizeof(buf) - 1);
    rt__fd_close(info);
    if (got < 0) {
        return -EOPNOTSUPP;
    }
    buf[got] = '\0';
    const char *line = strstr(buf, "\nmnt_id:");
    if (line == NULL) {
        return -EOPNOTSUPP;
    }
    const char *p = line + strlen("\nmnt_id:");
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    if (*p < '0' || *p > '9') {
        return -EOPNOTSUPP;
    }
    int id = 0;
    for (; *p >= '0' && *p <= '9' && id < INT_MAX / 10 - 1; p++) {
        id = id * 10 + (*p - '0');
    }
    *ret_id = id;
    return 0;
}

/* Whether A and B are on different mounts of one file system, by their
 * mount ids, both taken the same way. 1, 0 or -errno. */
static int other_mount(int a, int b)
{
    int ida = -1;
    int idb = -1;
    int r = handle_mount_id(a, &ida);
    if (r == 0) {
        r = handle_mount_id(b, &idb);
    }
    if (r == UNKNOWN) {
        r = fdinfo_mount_id(a, &ida);
        if (r == 0) {
            r = fdinfo_mount_id(b, &idb);
        }
    }
    return r < 0 ? r : ida != idb;
}
#endif

/* Whether FD is on another mount than the folder DIRFD: another file
 * system (st_dev), or, on Linux, another mount of the same one. */
static int compare_mounts(int dirfd, int fd)
{
    struct stat a;
    struct stat b;
    if (fstat(dirfd, &a) < 0 || fstat(fd, &b) < 0) {
        return -errno;
    }
    if (a.st_dev != b.st_dev) {
        return 1;
    }
#if defined(__linux__)
    return other_mount(dirfd, fd);
#else
    return 0;
#endif
}

int rt__path_is_mount_fd(int dirfd, int fd)
{
    int r = statx_mount_root(fd, "", AT_EMPTY_PATH);
    return r != UNKNOWN ? r : compare_mounts(dirfd, fd);
}

int rt__path_is_mount(int dirfd, const char *name)
{
    int r = statx_mount_root(dirfd, name, AT_SYMLINK_NOFOLLOW);
    if (r != UNKNOWN) {
        return r;
    }
#if defined(O_PATH)
    /* O_PATH opens a link itself, and anything else without reading it. */
    int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    r = compare_mounts(dirfd, fd);
    rt__fd_close(fd);
    return r;
#else
    struct stat a;
    struct stat b;
    if (fstat(dirfd, &a) < 0 || fstatat(dirfd, name, &b, AT_SYMLINK_NOFOLLOW)) {
        return -errno;
    }
    return a.st_dev != b.st_dev;
#endif
}

/* ---- the `file` cleanup ---- */

int rt__path_unlink_file(int dirfd, const char *name)
{
    /* Linux refuses to unlink a mount point of this mount namespace too
     * (EBUSY); asking first says so the same way on every system, and
     * before anything is tried. */
    int r = rt__path_is_mount(dirfd, name);
    if (r != 0) {
        return r > 0 ? -EBUSY : r;
    }
    if (unlinkat(dirfd, name, 0) == 0) {
        return 0;
    }
    /* Linux says EISDIR for a folder, POSIX allows EPERM. */
    int err = errno;
    struct stat st;
    if (err == EPERM && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISDIR(st.st_mode)) {
        err = EISDIR;
    }
    return -err;
}
