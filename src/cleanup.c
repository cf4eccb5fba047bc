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

/* Transient marks on entries while a cleanup runs: what became of each
 * (unmarked: removed), the details in its count, which means nothing any
 * more once its fate is settled. */
enum {
    MARK_LEAVE = 0x10,   /* left for a later sweep */
    MARK_DROP = 0x20,    /* left for good, as the decision said */
    MARK_FAILED = 0x40,  /* its removal failed: count is the errno */
    MARK_NOT_HERE = 0x80 /* left for good, as the removal found: count is
                            the index of the reason in not_here */
};
#define MARKS (MARK_LEAVE | MARK_DROP | MARK_FAILED | MARK_NOT_HERE)

/* Lines about single names a sweep prints: a run of millions of names,
 * swept into the stderr of some unrelated program, must not flood it. A
 * tracker's own shutdown says every one (API.md), on its own program's
 * stderr. */
#define NAME_LINES_MAX 1000

static unsigned name_lines; /* printed in this cleanup */
static unsigned name_lines_muted;
static int capped; /* a sweep (a cleanup that decides) */

/* Whether a line about one name may still be printed. */
static int may_say(void)
{
    if (!capped || name_lines < NAME_LINES_MAX) {
        name_lines++;
        return 1;
    }
    name_lines_muted++;
    return 0;
}

static const char *const not_here[] = {
    "not removed",
    ("not removed: the name now refers to another object than the one "
     "registered"),
    "not removed: its folder is not the one it was registered in",
};

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
        *why = not_here[1];
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
        *why = not_here[2];
        return -EXDEV;
    }
    return fd;
}

/* Runs the cleanup of E. Returns 0, a positive errno, or -1 when the entry
 * was dropped (*WHY says why). */
static int remove_one(unsigned t, const struct rt_entry *e, int checked,
                      const char **why)
{
    int ours = checked ? 1 : still_ours(t, e, why);
    if (ours == 0) {
        return -1;
    }
    if (ours == -ENOENT) {
        return ENOENT;
    }
    const struct rt_rtype *type = rt__rtypes_get(t);
    if (!(type->flags & RT_RTYPE_ABSPATH)) {
        int r = rt__object_unlink(t, (const char *)e->name);
        if (r != -ENOTSUP) {
            return -r;
        }
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

/* Decides E's fate and, unless it stays or this is a dry run, removes it
 * at once: a decision that looked at the object just now has made the
 * check the removal would make (a decision and its removal apart would
 * need it made twice). Returns 1 when E goes in the leak line. */
static int settle(unsigned t, struct rt_entry *e,
                  const struct rt_cleanup_opts *o)
{
    e->flags &= (uint8_t)~MARKS;
    const char *why = NULL;
    int d = o->decide != NULL ? o->decide(o->ctx, e, &why) : RT_CLEANUP_GO;
    if (d == 0) {
        e->flags |= MARK_LEAVE;
        if (may_say()) {
            rt__diag_left(e->name, e->len, why != NULL ? why : "in use");
        }
        if (o->outcome != NULL) {
            o->outcome(o->ctx, e, RT_CLEANUP_LEFT, 0, why);
        }
        return 0;
    }
    if (d < 0) {
        e->flags |= MARK_DROP;
        return 1;
    }
    if (o->dry_run) {
        return 1;
    }
    why = NULL;
    int err = remove_one(t, e, d == RT_CLEANUP_GO_CHECKED, &why);
    if (err < 0) {
        e->flags |= MARK_NOT_HERE;
        e->count = why == not_here[2] ? 2 : why == not_here[1] ? 1 : 0;
    } else if (err > 0) {
        e->flags |= MARK_FAILED;
        e->count = (uint32_t)err;
    }
    return 1;
}

/* What became of E, said and counted. */
static void report(const struct rt_entry *e, const struct rt_cleanup_opts *o,
                   struct rt_cleanup_result *res)
{
    const char *why = NULL;
    int what = RT_CLEANUP_REMOVED;
    int err = 0;
    if ((e->flags & MARK_DROP) && o->decide != NULL) {
        /* The reason is the decision's, asked again. */
        (void)o->decide(o->ctx, e, &why);
        what = RT_CLEANUP_DROPPED;
    } else if (e->flags & MARK_NOT_HERE) {
        why = not_here[e->count < 3 ? e->count : 0];
        what = RT_CLEANUP_DROPPED;
    } else if (e->flags & MARK_FAILED) {
        err = (int)e->count;
        what = RT_CLEANUP_FAILED;
    }
    if (what == RT_CLEANUP_DROPPED) {
        res->dropped++;
        why = why != NULL ? why : not_here[0];
        if (may_say()) {
            rt__diag_dropped(e->name, e->len, why);
        }
    } else if (what == RT_CLEANUP_FAILED) {
        res->failed++;
        if (may_say()) {
            rt__diag_cleanup_failed(e->name, e->len, err);
        }
    } else {
        res->cleaned++;
    }
    if (o->outcome != NULL) {
        o->outcome(o->ctx, e, what, err, why);
    }
}

/* The type's names, newest first: each decided and removed, then the leak
 * line, then what became of each. */
static void clean_type(unsigned t, struct rt_ledger *l,
                       const struct rt_cleanup_opts *o,
                       struct rt_cleanup_result *res)
{
    size_t out = 0;
    for (struct rt_entry *e = (struct rt_entry *)rt__registry_last(&l->reg, t);
         e != NULL; e = e->prev) {
        out += (size_t)settle(t, e, o);
    }
    /* A dry run removes nothing: no leak line says it cleans up. */
    if (out > 0 && !o->dry_run) {
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
        report(e, o, res);
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
    name_lines = 0;
    name_lines_muted = 0;
    capped = o->decide != NULL;
    /* Each removal from /dev/shm then walks one component, not three. */
    int held = rt__objects_hold_shm() == 0;
    unsigned n = rt__rtypes_count();
    for (unsigned t = 0; t < n; t++) {
        if (rt__ledger_count(l, t) > 0) {
            clean_type(t, l, o, &res);
        }
    }
    if (held) {
        rt__objects_release_shm();
    }
    if (name_lines_muted > 0) {
        rt__diag_names_muted(name_lines_muted);
    }
    *ret = res;
}
