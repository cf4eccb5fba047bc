/* SPDX-License-Identifier: MIT */
/* Removing what a run left registered. Tracker and command,
 * single-threaded, AS-safe. */
#include "cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diag.h"
#include "fdio.h"
#include "objects.h"
#include "pathres.h"
#include "rmtree.h"
#include "rtypes.h"

/* Transient marks on entries while a cleanup runs. */
enum { MARK_LEAVE = 0x10, MARK_DROP = 0x20 };

/* Whether the object still is the one that was registered, where that is
 * known: 1 yes (or unknown), 0 no (*WHY says so), -errno when it is gone. */
static int still_ours(unsigned t, const struct rt_entry *e, const char **why)
{
    const struct rt_entry_ext *x = rt__registry_ext(e);
    if (x == NULL || (x->dev == 0 && x->ino == 0)) {
        return 1;
    }
    uint64_t dev;
    uint64_t ino;
    int r;
    if (x->dirfd >= 0) {
        struct stat st;
        const char *base = strrchr((const char *)e->name, '/');
        base = base != NULL ? base + 1 : (const char *)e->name;
        r = fstatat(x->dirfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
        dev = st.st_dev;
        ino = st.st_ino;
    } else {
        r = rt__object_identity(t, (const char *)e->name, &dev, &ino);
    }
    if (r == -ENOENT) {
        return r;
    }
    if (r < 0) {
        /* Cannot be told: the name is all there is to go by. */
        return 1;
    }
    if (dev != x->dev || ino != x->ino) {
        *why = "not removed: the name now refers to another object than "
               "the one registered";
        return 0;
    }
    return 1;
}

/* A path registered through the library, without its folder held open (a
 * journal's): the folder found again by name must be the one registered. */
static int open_parent(const struct rt_entry *e, size_t *ret_base,
                       const char **why)
{
    const struct rt_entry_ext *x = rt__registry_ext(e);
    if (x != NULL && x->dirfd >= 0) {
        const char *slash = strrchr((const char *)e->name, '/');
        *ret_base = (size_t)(slash + 1 - (const char *)e->name);
        int fd = fcntl(x->dirfd, F_DUPFD_CLOEXEC, 3);
        return fd < 0 ? -errno : fd;
    }
    int fd = rt__path_open_parent((const char *)e->name, e->len, ret_base);
    if (fd < 0) {
        return fd;
    }
    struct stat st;
    if (x != NULL && x->pino != 0 &&
        (fstat(fd, &st) < 0 || (uint64_t)st.st_dev != x->pdev ||
         (uint64_t)st.st_ino != x->pino)) {
        rt__fd_close(fd);
        *why = "not removed: its folder is not the one it was registered in";
        return -EXDEV;
    }
    return fd;
}

/* Runs the cleanup of E. Returns 0, a positive errno, or -1 when the entry
 * was dropped (*WHY says why). */
static int remove_one(unsigned t, const struct rt_entry *e, const char **why)
{
    int ours = still_ours(t, e, why);
    if (ours == 0) {
        return -1;
    }
    if (ours == -ENOENT) {
        return ENOENT;
    }
    const struct rt_rtype *type = rt__rtypes_get(t);
    if (!(type->flags & RT_RTYPE_ABSPATH)) {
        return rt__rtypes_cleanup(t, (const char *)e->name);
    }
    size_t base;
    int dir = open_parent(e, &base, why);
    if (dir == -EXDEV) {
        return -1;
    }
    if (dir < 0) {
        return -dir;
    }
    const char *leaf = (const char *)e->name + base;
    int r = strcmp(type->name, "folder") == 0 ? rt__rmtree_at(dir, leaf)
                                              : rt__path_unlink_file(dir, leaf);
    rt__fd_close(dir);
    return -r;
}

static void decide_all(unsigned t, struct rt_ledger *l,
                       const struct rt_cleanup_opts *o, size_t *ret_out)
{
    size_t out = 0;
    for (struct rt_entry *e = (struct rt_entry *)rt__registry_first(&l->reg, t);
         e != NULL; e = e->next) {
        e->flags &= (uint8_t) ~(MARK_LEAVE | MARK_DROP);
        if (o->decide == NULL) {
            out++;
            continue;
        }
        const char *why = NULL;
        int d = o->decide(o->ctx, e, &why);
        if (d == 0) {
            e->flags |= MARK_LEAVE;
            rt__diag_left(e->name, e->len, why != NULL ? why : "in use");
            if (o->outcome != NULL) {
                o->outcome(o->ctx, e, RT_CLEANUP_LEFT, 0, why);
            }
        } else {
            if (d < 0) {
                e->flags |= MARK_DROP;
            }
            out++;
        }
    }
    *ret_out = out;
}

static void clean_type(unsigned t, struct rt_ledger *l,
                       const struct rt_cleanup_opts *o,
                       struct rt_cleanup_result *res)
{
    size_t out;
    decide_all(t, l, o, &out);
    if (out > 0) {
        rt__diag_leaks_begin(rt__rtypes_get(t)->name, out);
        for (const struct rt_entry *e = rt__registry_first(&l->reg, t);
             e != NULL; e = e->next) {
            if (!(e->flags & MARK_LEAVE)) {
                rt__diag_leaks_name(e->name, e->len);
            }
        }
        rt__diag_leaks_end(o->suffix);
    }
    struct rt_entry *prev;
    for (struct rt_entry *e = (struct rt_entry *)rt__registry_last(&l->reg, t);
         e != NULL; e = prev) {
        prev = e->prev;
        if (e->flags & MARK_LEAVE) {
            res->left++;
            continue;
        }
        const char *why = NULL;
        int err = -1;
        if (e->flags & MARK_DROP) {
            (void)o->decide(o->ctx, e, &why);
        } else if (o->dry_run) {
            err = 0;
        } else {
            err = remove_one(t, e, &why);
        }
        if (err < 0) {
            res->dropped++;
            why = why != NULL ? why : "not removed";
            rt__diag_dropped(e->name, e->len, why);
        } else if (err > 0) {
            res->failed++;
            rt__diag_cleanup_failed(e->name, e->len, err);
        } else {
            res->cleaned++;
        }
        if (o->outcome != NULL) {
            o->outcome(o->ctx, e,
                       err < 0   ? RT_CLEANUP_DROPPED
                       : err > 0 ? RT_CLEANUP_FAILED
                                 : RT_CLEANUP_REMOVED,
                       err > 0 ? err : 0, why);
        }
        if (!o->dry_run) {
            e->count = 1;
            (void)rt__ledger_withdraw(l, t, e->name, e->len);
        }
    }
}

void rt__cleanup_run(struct rt_ledger *l, const struct rt_cleanup_opts *o,
                     struct rt_cleanup_result *ret)
{
    struct rt_cleanup_result res = {0, 0, 0, 0};
    unsigned n = rt__rtypes_count();
    for (unsigned t = 0; t < n; t++) {
        if (rt__ledger_count(l, t) > 0) {
            clean_type(t, l, o, &res);
        }
    }
    *ret = res;
}
