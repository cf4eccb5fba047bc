/* SPDX-License-Identifier: MIT */
/* Named objects as they are now. Tracker and command; AS-safe. */

/* getdents64(2) and fstatfs(2) for the listing of /dev/shm: Linux. Without
 * them no listing is taken, and each name is looked up by itself. */
#define _GNU_SOURCE
#include "objects.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__linux__)
#include <linux/magic.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#endif

#include "fdio.h"
#include "pathres.h"
#include "rawipc.h"
#include "registry.h"
#include "rtypes.h"

/* Where shared-memory objects and semaphores are (rawipc.h). */
#define SHM_DIR "/dev/shm/"
#define SHM_DIR_LEN (sizeof(SHM_DIR) - 1)

/* The listing: each entry's name, with its identity in the extension. */
static struct {
    int fd; /* /dev/shm while a listing is held, else -1 */
    struct registry names;
} listing = {.fd = -1};

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
        const char *base = listing.fd >= 0 ? in_shm_dir(path) : NULL;
        int at = base != NULL ? listing.fd : AT_FDCWD;
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

/* ---- a listing of /dev/shm ---- */

/* tmpfs gives a directory a size of this many bytes per entry
 * (BOGO_DIRENT_SIZE in mm/shmem.c): its entries, told before listing. */
#define TMPFS_BYTES_PER_ENTRY 20

void rt__objects_unlist(void)
{
    if (listing.fd >= 0) {
        listing.fd = rt__fd_close(listing.fd);
        rt__registry_free(&listing.names);
    }
}

#if defined(__linux__) && defined(SYS_getdents64) && defined(TMPFS_MAGIC)
/* Every entry of FD into the listing, each with DEV and its inode number
 * (on tmpfs, d_ino is st_ino). 0 or -errno. */
static int read_entries(int fd, uint64_t dev)
{
    _Alignas(8) static char dents[32768];
    for (;;) {
        long n = syscall(SYS_getdents64, (long)fd, dents, (long)sizeof(dents));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -errno;
        }
        if (n == 0) {
            return 0;
        }
        for (long off = 0; off < n;) {
            uint64_t ino;
            unsigned short reclen;
            memcpy(&ino, dents + off, sizeof(ino));
            memcpy(&reclen, dents + off + 16, sizeof(reclen));
            const char *name = dents + off + 19;
            off += reclen;
            if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
                continue;
            }
            struct rt_entry *e;
            struct rt_entry_ext x = {dev, ino, 0, 0, 0, -1};
            int r =
                rt__registry_put(&listing.names, 0, (const unsigned char *)name,
                                 strlen(name), &e);
            if (r < 0) {
                return r;
            }
            if (rt__registry_set_ext(&listing.names, &e, &x) < 0) {
                return -ENOMEM;
            }
        }
    }
}
#endif

int rt__objects_list(size_t names)
{
    rt__objects_unlist();
#if defined(__linux__) && defined(SYS_getdents64) && defined(TMPFS_MAGIC)
    int fd = open("/dev/shm", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    struct statfs sf;
    struct stat st;
    if (fstatfs(fd, &sf) < 0 || fstat(fd, &st) < 0) {
        int err = -errno;
        rt__fd_close(fd);
        return err;
    }
    /* A stat() costs about what listing three or four entries does: a
     * listing for fewer names than half the entries would cost more than
     * it saves. */
    if (sf.f_type != TMPFS_MAGIC ||
        (uint64_t)names * 2 * TMPFS_BYTES_PER_ENTRY < (uint64_t)st.st_size) {
        rt__fd_close(fd);
        return -ENOTSUP;
    }
    uint64_t seed = (uint64_t)st.st_ino ^ ((uint64_t)(uintptr_t)&sf << 16);
    rt__registry_init(&listing.names, seed, (size_t)1 << 24, 0);
    int r = read_entries(fd, (uint64_t)st.st_dev);
    if (r < 0) {
        rt__registry_free(&listing.names);
        rt__fd_close(fd);
        return r;
    }
    listing.fd = fd;
    return 0;
#else
    (void)names;
    return -ENOTSUP;
#endif
}

int rt__object_seen(unsigned type, const char *name, struct rt_object_seen *ret)
{
    char path[PATH_MAX];
    const char *base = NULL;
    if (listing.fd >= 0 && object_path(type, name, path) == 1) {
        base = in_shm_dir(path);
    }
    if (base == NULL) {
        struct stat st;
        int r = stat_of(type, name, &st);
        if (r < 0) {
            return r;
        }
        *ret = (struct rt_object_seen){(uint64_t)st.st_dev, (uint64_t)st.st_ino,
                                       (unsigned)(st.st_mode & 07777), 1};
        return 0;
    }
    const struct rt_entry *e = rt__registry_get(
        &listing.names, 0, (const unsigned char *)base, strlen(base));
    const struct rt_entry_ext *x = e != NULL ? rt__registry_ext(e) : NULL;
    if (x == NULL) {
        return -ENOENT;
    }
    *ret = (struct rt_object_seen){x->dev, x->ino, 0, 0};
    return 0;
}
