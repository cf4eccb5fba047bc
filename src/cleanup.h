/* SPDX-License-Identifier: MIT */
/* Removing what a run left registered, and saying so: the tracker's
 * shutdown and the sweep of a dead run share it, so that both report in
 * the same words. Tracker and command, single-threaded, AS-safe. */
#ifndef RT_CLEANUP_H
#define RT_CLEANUP_H

#include "ledger.h"

struct rt_cleanup_opts {
    /* Added at the end of each leak line (a swept run says which run it
     * was), or NULL. */
    const char *suffix;
    /* Whether to remove E now: RT_CLEANUP_GO yes, RT_CLEANUP_GO_CHECKED
     * yes, and the object was found to be the registered one just now (the
     * removal does not look again), 0 leave it for later (*WHY says why,
     * and is printed), -1 leave it for good (its object is gone or is not
     * the run's any more: *WHY says so). NULL removes everything. */
    int (*decide)(void *ctx, const struct rt_entry *e, const char **why);
    void *ctx;
    /* Say what would be done, do nothing. */
    int dry_run;
    /* Told of each entry's outcome (the command's listing), or NULL:
     * RT_CLEANUP_REMOVED, _FAILED (ERR), _LEFT or _DROPPED (WHY). */
    void (*outcome)(void *ctx, const struct rt_entry *e, int what, int err,
                    const char *why);
};

enum { RT_CLEANUP_GO = 1, RT_CLEANUP_GO_CHECKED = 2 };

enum {
    RT_CLEANUP_REMOVED,
    RT_CLEANUP_FAILED,
    RT_CLEANUP_LEFT,
    RT_CLEANUP_DROPPED,
};

struct rt_cleanup_result {
    unsigned cleaned; /* names whose cleanup ran and succeeded */
    unsigned failed;  /* cleanups that failed */
    unsigned left;    /* names left for a later sweep (decide said 0) */
    unsigned dropped; /* names left for good (decide said -1) */
};

/* Goes through every type's names, newest first: the decisions and
 * removals, then the leak line and what became of each name. Entries
 * removed or dropped are taken out of L; those left stay. An entry that
 * knows its object's identity is removed only while the name still refers
 * to that object. */
void rt__cleanup_run(struct rt_ledger *l, const struct rt_cleanup_opts *o,
                     struct rt_cleanup_result *ret);

#endif /* RT_CLEANUP_H */
