/* SPDX-License-Identifier: MIT */
/* The sweep: cleaning up after runs that died whole (the tracker with
 * them), from their journals. It removes an object only when (1) no
 * process of its run is alive: the run's lock is free, its tracker is gone
 * and no process we can see holds its pipes; (2) the name still refers to
 * the object the run created, where the run recorded its identity; (3) no
 * process we can see has it open or mapped, and none we cannot see could
 * have. Anything uncertain is left, with its journal entry, for a later
 * sweep, and said. Tracker (its guardian), and the command; single-threaded,
 * AS-safe (mmap'd memory, static buffers). */
#ifndef RT_SWEEP_H
#define RT_SWEEP_H

#include "cleanup.h"
#include "ledger.h"
#include "recorder.h"

/* What became of a journal. */
enum rt_sweep_run {
    RT_SWEEP_ALIVE,  /* its run is alive: not touched */
    RT_SWEEP_DONE,   /* swept completely: journal removed */
    RT_SWEEP_PARTLY, /* something was left for later: journal kept */
    RT_SWEEP_BAD,    /* not a journal we may use (a link, not ours, ...) */
};

struct rt_sweep_opts {
    int dry_run;
    const char *skip; /* a journal not to look at (the sweeper's run) */
    void *ctx;
    /* Each journal's fate, with its run (NULL when unreadable) and why. */
    void (*run)(void *ctx, const char *journal, const struct rt_runinfo *info,
                enum rt_sweep_run what, const char *why);
    /* Each name's fate (cleanup.h's outcomes). */
    void (*name)(void *ctx, const char *journal, const struct rt_entry *e,
                 int what, int err, const char *why);
};

struct rt_sweep_stats {
    unsigned alive, done, partly, bad;
    unsigned removed, failed, left, dropped;
};

/* Sweeps every journal in the state directory DIRFD whose run is over.
 * Returns 0, or -errno when the directory cannot be read. */
int rt__sweep_dir(int dirfd, const struct rt_sweep_opts *o,
                  struct rt_sweep_stats *st);

/* Sweeps the journal NAME of DIRFD, open as JFD with LOCK_EX held (the
 * caller knows no process of the run holds the run's lock). */
enum rt_sweep_run rt__sweep_one(int dirfd, const char *name, int jfd,
                                const struct rt_sweep_opts *o,
                                struct rt_sweep_stats *st);

/* Whether a process we can see holds one of INFO's pipes: 1 yes, 0 no. */
int rt__sweep_run_visible(const struct rt_runinfo *info);

#endif /* RT_SWEEP_H */
