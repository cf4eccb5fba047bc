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

static int stat_of(unsigned type, const char *name, struct stat *st)
{
    const char *tn = rt__rtypes_get(type)->name;
    char path[PATH_MAX];
    int r;
    if (strcmp(tn, "shared_memory") == 0) {
        r = rt__raw_shm_path(name, path, sizeof(path));
    } else if (strcmp(tn, "semaphore") == 0) {
        r = rt__raw_sem_path(name, path, sizeof(path));
    } else if (strcmp(tn, "mqueue") == 0) {
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
    } else {
        return -ENOTSUP;
    }
    if (r < 0) {
        return r;
    }
    return fstatat(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
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

int rt__object_mode(unsigned type, const char *name, unsigned *ret_mode)
{
    struct stat st;
    int r = stat_of(type, name, &st);
    if (r < 0) {
        return r;
    }
    *ret_mode = (unsigned)(st.st_mode & 07777);
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
                                   (unsigned)(st.st_mode & 07777), 1};
    return 0;
}
