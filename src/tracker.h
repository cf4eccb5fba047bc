/* SPDX-License-Identifier: MIT */
/* The tracker process: reads messages until the last writer is gone, then
 * cleans up what is still registered, reports it, and exits. Runs in the
 * exec'ed tracker image, or in a raw fork of the host when the program
 * defined its own types; AS-safe throughout either way. */
#ifndef RT_TRACKER_H
#define RT_TRACKER_H

/* Exit statuses, as CPython 3.13+'s tracker. */
enum {
    RT_EXIT_CLEAN = 0, /* nothing was left registered */
    RT_EXIT_LEAKS = 1, /* leftovers were cleaned up */
    RT_EXIT_CLEANUP_FAILED = 2,
    RT_EXIT_BAD_MESSAGE = 3, /* a line could not be used, nothing else */
};

/* Runs the tracker on the read end FD. Expects descriptors 0 and 1 on
 * /dev/null and 2 on the stderr to report to. Once its signals, session,
 * working directory and liveness word (the page at ALIVE_FD, if >= 0) are
 * set up, it closes every descriptor but FD, STATUS_FD and 0 to 2, writes a
 * ready record on STATUS_FD and closes it. Never returns. */
_Noreturn void rt__tracker_run(int fd, int alive_fd, int status_fd);

#endif /* RT_TRACKER_H */
