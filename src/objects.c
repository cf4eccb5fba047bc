/* SPDX-License-Identifier: MIT */
/* Named objects as they are now. Tracker and command; AS-safe. */

#include "objects.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdio.h"
#include "pathres.h"
#include "rawipc.h"
#include "rtypes.h"

/* Where shared-memory objects and semaphores are (rawipc.h). */
#define SHM_DIR "/dev/shm/"
#define SHM_DIR_LEN (sizeof(SHM_DIR) - 1)

/* /dev/shm, while a caller with many names to look up holds it open:
 * names in it are then looked up (and unlinked) relative to it, without
 * walking "/dev/shm/" each time. */
static int shm_fd = -1;

/* The name of the file PATH in /dev/shm, or NULL when PATH is elsewhere. */
static const char *in_shm_dir(const char *path)
{
    if (strncmp(path, SHM_DIR, SHM_DIR_LEN) != 0 || path[SHM_DIR_LEN] == '\0' ||
        strchr(path + SHM_DIR_LEN, '/') != NULL) {
        return NULL;
    }
    return path + SHM_DIR_LEN;
}

/* The file of NAME of TYPE in PATH (PATH_MAX bytes): 1 for a shared-memory
 * object or a semaphore, 0 for another type, or -errno for a name its libc
 * refuses. */
static int object_path(unsigned type, const char *name, char *path)
{
    const char *tn = rt__rtypes_get(type)->name;
    int r;
    if (strcmp(tn, "shared_memory") == 0) {
        r = rt__raw_shm_path(name, path, PATH_MAX);
    } else if (strcmp(tn, "semaphore") == 0) {
        r = rt__raw_sem_path(name, path, PATH_MAX);
    } else {
        return 0;
    }
    return r < 0 ? r : 1;
}

static int stat_of(unsigned type, const char *name, struct stat *st)
{
    const char *tn = rt__rtypes_get(type)->name;
    char path[PATH_MAX];
    int r = object_path(type, name, path);
    if (r < 0) {
        return r;
    }
    if (r == 1) {
        const char *base = shm_fd >= 0 ? in_shm_dir(path) : NULL;
        int at = base != NULL ? shm_fd : AT_FDCWD;
        const char *p = base != NULL ? base : path;
        return fstatat(at, p, st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
    }
    if (strcmp(tn, "mqueue") == 0) {
        /* Only an open queue can be asked; opening one changes nothing. */
        int fd = rt__raw_mq_open(name, O_RDONLY | O_NONBLOCK, 0, NULL);
        if (fd < 0) {
            return fd;
        }
        r = fstat(fd, st) < 0 ? -errno : 0;
        rt__fd_close(fd);
        return r;
    } else if (rt__rtypes_get(type)->flags & RT_RTYPE_ABSPATH) {
        size_t base;
        int dir = rt__path_open_parent(name, strlen(name), &base);
        if (dir < 0) {
            return dir;
        }
        r = fstatat(dir, name + base, st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
        rt__fd_close(dir);
        return r;
    }
    return -ENOTSUP;
}

int rt__object_identity(unsigned type, const char *name, uint64_t *ret_dev,
                        uint64_t *ret_ino)
{
    struct stat st;
    int r = stat_of(type, name, &st);
    if (r < 0) {
        return r;
    }
    *ret_dev = (uint64_t)st.st_dev;
    *ret_ino = (uint64_t)st.st_ino;
    return 0;
}

int rt__object_seen(unsigned type, const char *name, struct rt_object_seen *ret)
{
    struct stat st;
    int r = stat_of(type, name, &st);
    if (r < 0) {
        return r;
    }
    *ret = (struct rt_object_seen){(uint64_t)st.st_dev, (uint64_t)st.st_ino,
                                   (unsigned)(st.st_mode & 07777)};
    return 0;
}

/* ---- /dev/shm held open ---- */

int rt__objects_hold_shm(void)
{
    rt__objects_release_shm();
    int fd = open("/dev/shm", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    shm_fd = fd;
    return 0;
}

void rt__objects_release_shm(void)
{
    if (shm_fd >= 0) {
        shm_fd = rt__fd_close(shm_fd);
    }
}

int rt__object_unlink(unsigned type, const char *name)
{
    char path[PATH_MAX];
    if (shm_fd < 0 || object_path(type, name, path) != 1) {
        return -ENOTSUP;
    }
    const char *base = in_shm_dir(path);
    if (base == NULL) {
        return -ENOTSUP;
    }
    return unlinkat(shm_fd, base, 0) < 0 ? -errno : 0;
}
