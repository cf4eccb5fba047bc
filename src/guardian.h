/* SPDX-License-Identifier: MIT */
/* The guardian: a small process the tracker leaves behind it, so that what
 * a run registered is cleaned up even when its tracker is SIGKILLed and no
 * process of the run ever calls the library again. It waits, in flock(2),
 * for the run's lock, which every process of the run holds shared: when it
 * gets it, either the tracker finished (the journal is gone, nothing to
 * do) or every process of the run has exited after the tracker died, and
 * it sweeps the journal at that moment, as the tracker would have. At
 * start it also sweeps the journals of other runs that died whole. It
 * holds no read end of the public pipe, so it never hides the tracker's
 * death from those who learn of it by EPIPE.
 * Tracker, AS-safe. */
#ifndef RT_GUARDIAN_H
#define RT_GUARDIAN_H

#include <sys/types.h>

/* Forks the guardian of the run whose journal is NAME in the state
 * directory DIRFD; SWEEP_OTHERS: first sweep the other dead runs there.
 * A_FD and B_FD are the tracker's read ends of the run's pipes (-1 when
 * absent): see guardian.c for what the guardian keeps of them. Returns its
 * pid, or -1. */
pid_t rt__guardian_start(int dirfd, const char *name, int sweep_others,
                         int a_fd, int b_fd);

#endif /* RT_GUARDIAN_H */
