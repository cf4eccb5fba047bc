/* SPDX-License-Identifier: MIT */
/* The guardian: a small process the tracker leaves behind it, so that what
 * a run registered is cleaned up even when its tracker is SIGKILLed and no
 * process of the run ever calls the library again.
 *
 * It holds the tracker's read ends of the run's pipes (the very open files,
 * so the public pipe's reader lock too) and a lifeline pipe whose other end
 * only the tracker holds. A tracker that finishes says so on the lifeline
 * first; one that dies closes it without a word. Then the guardian moves
 * what the pipes still hold (written before the death, never read) into
 * the journal, and lets go of both: from then on the public pipe's writers
 * get EPIPE, and a process may relaunch a tracker on the pipes (the reader
 * lock kept it waiting meanwhile), which replays the journal with those
 * lines.
 *
 * Then it waits, in flock(2), for the run's lock, which every process of
 * the run holds shared: when it gets it, either a tracker finished the run
 * (the journal is gone, nothing to do) or every process of the run has
 * exited, and it sweeps the journal at that moment, as the tracker would
 * have. At start, a child of it sweeps the journals of other runs that died
 * whole. Tracker, AS-safe. */
#ifndef RT_GUARDIAN_H
#define RT_GUARDIAN_H

#include <sys/types.h>

/* Forks the guardian of the run whose journal is NAME in the state
 * directory DIRFD, giving it the tracker's read ends of the private pipe A
 * and the public pipe B (-1 when absent); SWEEP_OTHERS: also sweep the
 * other dead runs there. Returns its pid, or -1; *RET_LIFE is the write
 * end of the lifeline (or -1), which the tracker keeps for as long as it
 * runs and hands to rt__guardian_finished at its end. */
pid_t rt__guardian_start(int dirfd, const char *name, int sweep_others, int a,
                         int b, int *ret_life);

/* The tracker finished its run: tells the guardian so through LIFE, and
 * closes it. Returns -1. */
int rt__guardian_finished(int life);

#endif /* RT_GUARDIAN_H */
