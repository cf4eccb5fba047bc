/* SPDX-License-Identifier: MIT */
/* The tracker's side of the journal: taking over a run's journal (replay),
 * moving pipe data into it, meta records, compaction. A ledger built by
 * replaying a journal is the one its tracker held, whatever instant the
 * tracker was killed at. Tracker, single-threaded, AS-safe. */
#ifndef RT_RECORDER_H
#define RT_RECORDER_H

#include <stdint.h>
#include <sys/types.h>

#include "ledger.h"

/* What a journal says of its run, besides what it holds. */
struct rt_runinfo {
    int have_run; /* a "run" record was seen */
    uint64_t uid;
    uint64_t b_dev, b_ino;  /* the public pipe: the run's name */
    uint64_t a_dev, a_ino;  /* the private pipe, 0 when none */
    uint64_t pidns;         /* the pid namespace it started in */
    char boot[40];          /* the boot it ran in */
    uint64_t time;          /* when it started (seconds since 1970) */
    uint64_t starter;       /* the process that started it */
    uint64_t tracker_pid;   /* its latest tracker */
    uint64_t tracker_start; /* that tracker's start, clock ticks */
    uint64_t tracker_time;  /* ... in seconds since 1970 */
    int done;               /* its tracker finished the cleanup */
};

/* Replays the journal FD into L (which must be empty) and INFO, quietly.
 * *RET_END is the offset where the next record goes; the journal's cut
 * tail, if any, is noted in *RET_TORN (the reader never changes the file).
 * Returns 0 or -errno. */
int rt__recorder_replay(int fd, struct rt_ledger *l, struct rt_runinfo *info,
                        uint64_t *ret_end, int *ret_torn);

/* Only what the journal FD says of its run (no names): for a caller that
 * needs the run's pipes or tracker. Returns 0 or -errno. */
int rt__recorder_runinfo(int fd, struct rt_runinfo *info);

/* The tracker's journal. */
struct rt_recorder {
    int fd;             /* -1: no journal (failed, or none) */
    uint64_t pos;       /* where the next record goes */
    uint64_t snap_last; /* size of the last snapshot written */
    uint64_t since;     /* bytes written since then */
    int broken;         /* a write failed: stop after the current record */
};

/* Takes over FD as the tracker's journal: replays it into L and INFO
 * (when REPLAY), repairs its tail so that new records follow complete
 * ones. Returns 0 or -errno (then R->fd is -1: go without). */
int rt__recorder_open(struct rt_recorder *r, int fd, int replay,
                      struct rt_ledger *l, struct rt_runinfo *info);

/* Takes over FD to append to it, without replaying it: only its cut tail
 * is repaired (see rt__recorder_open). Returns 0 or -errno. */
int rt__recorder_resume(struct rt_recorder *r, int fd);

/* Appends one meta line (newline included). 0 or -errno. */
int rt__recorder_meta(struct rt_recorder *r, const char *line, size_t len);

/* Moves what pipe FD holds (source SRC) into the journal and feeds it to
 * L (unless L is NULL). Returns the number of bytes, 0 at end-of-file, -EAGAIN
 * when there was nothing, or another -errno when nothing was moved because the
 * journal failed (the caller then goes on without it, reading the pipe itself).
 */
ssize_t rt__recorder_segment(struct rt_recorder *r, int fd, enum rt_src src,
                             struct rt_ledger *l);

/* Records that the pipe of SRC was found empty, which settles the other
 * source's pending withdrawals (rt__ledger_segment_end) in the replay as it
 * did live. 0 or -errno. */
int rt__recorder_empty_segment(struct rt_recorder *r, enum rt_src src);

/* Writes a snapshot of L and INFO and frees the space before it, when the
 * journal has grown well past what L holds. */
void rt__recorder_maybe_compact(struct rt_recorder *r,
                                const struct rt_ledger *l,
                                const struct rt_runinfo *info);

/* Writes a snapshot of L and INFO now and frees the space before it.
 * Returns 0 or -errno. */
int rt__recorder_snapshot(struct rt_recorder *r, const struct rt_ledger *l,
                          const struct rt_runinfo *info);

/* The meta lines for INFO ("run", then "tracker" when known). */
ssize_t rt__recorder_run_line(const struct rt_runinfo *info, char *buf,
                              size_t cap);
ssize_t rt__recorder_tracker_line(const struct rt_runinfo *info, char *buf,
                                  size_t cap);

#endif /* RT_RECORDER_H */
