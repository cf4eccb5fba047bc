/* SPDX-License-Identifier: MIT */
/* The tracker process: reads messages until the last writer is gone, then
 * cleans up what is still registered, reports it, and exits. Runs in the
 * exec'ed tracker image, or in a raw fork of the host when the program
 * defined its own types; AS-safe throughout either way. */
#ifndef RT_TRACKER_H
#define RT_TRACKER_H

#include "handoff.h"

/* Exit statuses. As CPython 3.13+'s tracker they say 0 (all clean), 1
 * (leftovers were cleaned up), 2 (a cleanup failed), 3 (a line could not be
 * used); where several hold, ours reports the highest in the order 2, 1, 3
 * (CPython's main, looping over types, may end on another). */
enum {
    RT_EXIT_CLEAN = 0,
    RT_EXIT_LEAKS = 1,
    RT_EXIT_CLEANUP_FAILED = 2,
    RT_EXIT_BAD_MESSAGE = 3,
};

/* Runs the tracker with the descriptors and settings of ARGS. Expects
 * descriptors 0 and 1 on /dev/null and 2 on the stderr to report to, and
 * no other descriptor than those of ARGS (the launcher closed them). Once
 * its signals, session, working directory and liveness word are set up, it
 * writes a ready record on ARGS->status and closes it (unless
 * RT_TRACK_HOLD: then it keeps it open until it exits). Never returns. */
_Noreturn void rt__tracker_run(const struct rt_tracker_args *args);

#endif /* RT_TRACKER_H */
