/* SPDX-License-Identifier: MIT */
/* The resource types. Lookups: MT-safe and AS-safe (the count is published
 * with release order after the entry is written). */
#include "rtypes.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "fdio.h"
#include "pathres.h"
#include "rawipc.h"
#include "rmtree.h"

static int cleanup_noop(const char *name)
{
    (void)name;
    return 0;
}

/* The POSIX objects are removed by the raw calls, never by the libc
 * functions a preload shim may interpose in the tracker's host (on the fork
 * path the tracker is a copy of it). The table wants 0 or -1 with errno. */
static int errno_result(int r)
{
    if (r < 0) {
        errno = -r;
        return -1;
    }
    return 0;
}

static int cleanup_sem(const char *name)
{
    return errno_result(rt__raw_sem_unlink(name));
}

static int cleanup_shm(const char *name)
{
    return errno_result(rt__raw_shm_unlink(name));
}

static int cleanup_mq(const char *name)
{
    return errno_result(rt__raw_mq_unlink(name));
}

/* Runs REMOVAL on the last component of the absolute path NAME, in its
 * folder opened without following a link anywhere along the path: a
 * component swapped for a link after registration is ELOOP, never a way
 * out. "/" and paths that are not normalised ("//", ".", "..", a trailing
 * slash) are EINVAL. Returns 0, or -1 with errno. AS-safe. */
static int cleanup_path(const char *name, int (*removal)(int, const char *))
{
    size_t len = strlen(name);
    if (!rt__path_valid(name, len)) {
        errno = EINVAL;
        return -1;
    }
    size_t base = 0;
    int dirfd = rt__path_open_parent(name, len, &base);
    if (dirfd < 0) {
        errno = -dirfd;
        return -1;
    }
    int r = removal(dirfd, name + base);
    rt__fd_close(dirfd);
    return errno_result(r);
}

/* Unlinks a file or a link; a folder is EISDIR, a mount point EBUSY. */
static int cleanup_file(const char *name)
{
    return cleanup_path(name, rt__path_unlink_file);
}

/* Removes a tree (see rmtree.h); a mount point is EBUSY. */
static int cleanup_folder(const char *name)
{
    return cleanup_path(name, rt__rmtree_at);
}

/* The built-ins come first, in the order the tracker cleans them up: files
 * before folders, so that a registered file inside a registered folder is
 * unlinked by its own entry, not swept away (and then missed) by the
 * folder's. */
static struct rt_rtype types[RT_RTYPES_MAX] = {
    {"noop", 4, cleanup_noop, RT_RTYPE_PROBE_ONLY},
    {"semaphore", 9, cleanup_sem, 0},
    {"shared_memory", 13, cleanup_shm, 0},
    {"mqueue", 6, cleanup_mq, 0},
    {"file", 4, cleanup_file, RT_RTYPE_ABSPATH},
    {"folder", 6, cleanup_folder, RT_RTYPE_ABSPATH},
};
#define BUILTINS 6

static char custom_names[RT_RTYPES_MAX][RT_RTYPE_NAME_MAX + 1];
static atomic_uint count_ = BUILTINS;

int rt__rtypes_valid_name(const char *s, size_t *ret_len)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        char c = s[n];
        if (n == RT_RTYPE_NAME_MAX ||
            !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
            return 0;
        }
    }
    *ret_len = n;
    return n > 0;
}

int rt__rtypes_find(const char *s, size_t len)
{
    unsigned n = atomic_load_explicit(&count_, memory_order_acquire);
    for (unsigned i = 0; i < n; i++) {
        if (types[i].len == len && memcmp(types[i].name, s, len) == 0) {
            return (int)i;
        }
    }
    return -1;
}

int rt__rtypes_lookup(const char *s, size_t *ret_len, unsigned *ret_flags)
{
    /* Only names in the table are accepted, and every name in it is valid:
     * a match is all the validation needed. Lengths differ for most types,
     * so the bytes are compared for one or two of them at most. */
    size_t n = strnlen(s, RT_RTYPE_NAME_MAX + 1);
    unsigned count = atomic_load_explicit(&count_, memory_order_acquire);
    for (unsigned i = 0; i < count; i++) {
        if (types[i].len == n && memcmp(types[i].name, s, n) == 0) {
            *ret_len = n;
            *ret_flags = types[i].flags;
            return (int)i;
        }
    }
    return -1;
}

const struct rt_rtype *rt__rtypes_get(unsigned index)
{
    return &types[index];
}

unsigned rt__rtypes_count(void)
{
    return atomic_load_explicit(&count_, memory_order_acquire);
}

int rt__rtypes_have_custom(void)
{
    return rt__rtypes_count() > BUILTINS;
}

int rt__rtypes_define(const char *name, int (*cleanup)(const char *name))
{
    size_t len;
    if (name == NULL || cleanup == NULL || !rt__rtypes_valid_name(name, &len)) {
        return -EINVAL;
    }
    if (rt__rtypes_find(name, len) >= 0) {
        return -EEXIST;
    }
    unsigned n = atomic_load_explicit(&count_, memory_order_relaxed);
    if (n == RT_RTYPES_MAX) {
        return -ENOSPC;
    }
    memcpy(custom_names[n], name, len + 1);
    types[n] = (struct rt_rtype){custom_names[n], len, cleanup, 0};
    atomic_store_explicit(&count_, n + 1, memory_order_release);
    return (int)n;
}

int rt__rtypes_cleanup(unsigned index, const char *name)
{
    errno = 0;
    int r = types[index].cleanup(name);
    if (r == 0) {
        return 0;
    }
    if (r > 0) {
        return r;
    }
    return errno != 0 ? errno : EIO;
}
