/* SPDX-License-Identifier: MIT */
/* The named-object calls of libc, done without calling them (see
 * rawipc.h). Host and tracker; MT-safe, AS-safe.
 *
 * The rules, read in the sources and checked against the real calls by
 * tests/test-wrappers.c:
 *   glibc (posix/shm-directory.c, rt/shm_open.c, sem_open.c): leading
 *     slashes are skipped; the rest must be non-empty, hold no '/', and fit
 *     "/dev/shm/" + ("sem." for a semaphore) + NAME + NUL in 269 bytes.
 *     shm_open says EINVAL for a name it refuses, the unlinks ENOENT,
 *     sem_open EINVAL (2.36, checked) or, in the sources from 2023 on
 *     (taken here as 2.37 on, not checked), ENAMETOOLONG past NAME_MAX.
 *     "." and ".." are not special: they reach the kernel. shm_open turns
 *     EISDIR into EINVAL; the unlinks turn EPERM into EACCES. mq_open and
 *     mq_unlink want a leading '/', strip it and leave the rest to the
 *     kernel; mq_unlink turns EPERM into EACCES.
 *   musl (src/mman/shm_open.c, __shm_mapname): leading slashes are
 *     skipped; a '/' left, an empty name, "." or ".." is EINVAL, more than
 *     NAME_MAX bytes ENAMETOOLONG, for every call; sem_unlink is
 *     shm_unlink, a semaphore's file /dev/shm/NAME; no errno is translated
 *     but mq_unlink's EPERM. mq_open and mq_unlink strip one leading '/'
 *     if there is one (1.2.3). */

/* syscall(2), for mq_open and mq_unlink: Linux calls; elsewhere the mq
 * functions call libc's. */
#define _GNU_SOURCE
#include "rawipc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/syscall.h>
#endif

_Static_assert(NAME_MAX == 255, "RT_RAW_PATH_MAX assumes NAME_MAX 255");

#define SHM_DIR "/dev/shm/"
#define SHM_DIR_LEN (sizeof(SHM_DIR) - 1)

#ifdef RT_RAW_IPC

#ifdef RT_MUSL
#define SEM_PREFIX ""
/* musl's shm_open adds O_NONBLOCK besides O_NOFOLLOW and O_CLOEXEC. */
#define SHM_FLAGS (O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
#else
#define SEM_PREFIX "sem."
#define SHM_FLAGS (O_NOFOLLOW | O_CLOEXEC)
#endif

/* Writes the file name of object NAME, with PREFIX ("" or "sem."), into
 * BUF (RT_RAW_PATH_MAX bytes). 0, or the error libc's name check gives. */
static int map_name(const char *name, const char *prefix, char *buf)
{
    while (*name == '/') {
        name++;
    }
    size_t n = strlen(name);
    size_t plen = strlen(prefix);
#ifdef RT_MUSL
    size_t first = strcspn(name, "/");
    if (first != n || n == 0 ||
        (n <= 2 && name[0] == '.' && name[n - 1] == '.')) {
        return -EINVAL;
    }
    if (n > NAME_MAX) {
        return -ENAMETOOLONG;
    }
#else
    if (n == 0 || memchr(name, '/', n) != NULL) {
        return -EINVAL;
    }
    if (SHM_DIR_LEN + plen + n + 1 > RT_RAW_PATH_MAX) {
#if __GLIBC_PREREQ(2, 37)
        return n > NAME_MAX ? -ENAMETOOLONG : -EINVAL;
#else
        return -EINVAL;
#endif
    }
#endif
    memcpy(buf, SHM_DIR, SHM_DIR_LEN);
    memcpy(buf + SHM_DIR_LEN, prefix, plen + 1);
    memcpy(buf + SHM_DIR_LEN + plen, name, n + 1);
    return 0;
}

/* The result of unlink(2) of PATH, as the libc unlink calls give it. */
static int unlink_path(const char *path)
{
    if (unlink(path) == 0) {
        return 0;
    }
#ifdef RT_MUSL
    return -errno;
#else
    return errno == EPERM ? -EACCES : -errno;
#endif
}

int rt__raw_shm_open(const char *name, int oflag, mode_t mode)
{
    char path[RT_RAW_PATH_MAX];
    int r = map_name(name, "", path);
    if (r < 0) {
#ifdef RT_MUSL
        return r;
#else
        return -EINVAL;
#endif
    }
    int fd = open(path, oflag | SHM_FLAGS, mode);
    if (fd >= 0) {
        return fd;
    }
#ifndef RT_MUSL
    /* glibc: a directory is one more name that is no shared memory. */
    if (errno == EISDIR) {
        return -EINVAL;
    }
#endif
    return -errno;
}

/* glibc says ENOENT for a name the unlinks refuse; musl its name error. */
static int unlink_name(const char *name, const char *prefix)
{
    char path[RT_RAW_PATH_MAX];
    int r = map_name(name, prefix, path);
    if (r < 0) {
#ifdef RT_MUSL
        return r;
#else
        return -ENOENT;
#endif
    }
    return unlink_path(path);
}

int rt__raw_shm_unlink(const char *name)
{
    return unlink_name(name, "");
}

int rt__raw_sem_unlink(const char *name)
{
    return unlink_name(name, SEM_PREFIX);
}

static int object_path(const char *name, const char *prefix, char *buf,
                       size_t len)
{
    char path[RT_RAW_PATH_MAX];
    int r = map_name(name, prefix, path);
    if (r < 0) {
        return r;
    }
    size_t n = strlen(path) + 1;
    if (n > len) {
        return -ENAMETOOLONG;
    }
    memcpy(buf, path, n);
    return 0;
}

int rt__raw_sem_path(const char *name, char *buf, size_t len)
{
    return object_path(name, SEM_PREFIX, buf, len);
}

int rt__raw_shm_path(const char *name, char *buf, size_t len)
{
    return object_path(name, "", buf, len);
}

#else /* !RT_RAW_IPC: libc's own calls; no preload shim runs here. */

#include <semaphore.h>
#include <sys/mman.h>

int rt__raw_shm_open(const char *name, int oflag, mode_t mode)
{
    int fd = shm_open(name, oflag, mode);
    return fd < 0 ? -errno : fd;
}

int rt__raw_shm_unlink(const char *name)
{
    return shm_unlink(name) < 0 ? -errno : 0;
}

int rt__raw_sem_unlink(const char *name)
{
    return sem_unlink(name) < 0 ? -errno : 0;
}

int rt__raw_sem_path(const char *name, char *buf, size_t len)
{
    (void)name;
    (void)buf;
    (void)len;
    return -ENOSYS;
}

int rt__raw_shm_path(const char *name, char *buf, size_t len)
{
    (void)name;
    (void)buf;
    (void)len;
    return -ENOSYS;
}

#endif /* RT_RAW_IPC */

#if defined(__linux__)

#ifdef RT_MUSL
#define MQ_NAME(name) ((name)[0] == '/' ? (name) + 1 : (name))
#else
/* glibc refuses a name without its leading '/'. */
#define MQ_NAME(name) ((name)[0] == '/' ? (name) + 1 : NULL)
#endif

int rt__raw_mq_open(const char *name, int oflag, mode_t mode,
                    struct mq_attr *attr)
{
    const char *kname = MQ_NAME(name);
    if (kname == NULL) {
        return -EINVAL;
    }
    if (!(oflag & O_CREAT)) {
        mode = 0;
        attr = NULL;
    }
    long fd = syscall(SYS_mq_open, kname, (long)oflag, (long)mode, attr);
    return fd < 0 ? -errno : (int)fd;
}

int rt__raw_mq_unlink(const char *name)
{
    const char *kname = MQ_NAME(name);
    if (kname == NULL) {
        return -EINVAL;
    }
    if (syscall(SYS_mq_unlink, kname) == 0) {
        return 0;
    }
    /* Both libcs: the kernel's EPERM (a sticky directory) is EACCES. */
    return errno == EPERM ? -EACCES : -errno;
}

#else

#include <mqueue.h>

int rt__raw_mq_unlink(const char *name)
{
    return mq_unlink(name) < 0 ? -errno : 0;
}

#endif /* __linux__ */
