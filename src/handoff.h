/* SPDX-License-Identifier: MIT */
/* What the launcher hands the tracker, and what the tracker reports back:
 * the one interface between launch.c (host) and tracker.c. */
#ifndef RT_HANDOFF_H
#define RT_HANDOFF_H

#include <stdint.h>
#include <sys/types.h>

/* Descriptors as the tracker image finds them at exec (absent ones are
 * closed). */
#define RT_FD_A 3       /* read end of the private pipe */
#define RT_FD_STATUS 4  /* where the middle process and the tracker report */
#define RT_FD_IMAGE 5   /* the tracker image, until exec */
#define RT_FD_ALIVE 6   /* the liveness page (alive.h) */
#define RT_FD_B 7       /* read end of the public pipe, holding LOCK_EX */
#define RT_FD_JOURNAL 8 /* the run's journal, holding the run's LOCK_SH */
#define RT_FD_DIR 9     /* the state directory */
#define RT_FD_LAST RT_FD_DIR

enum {
    RT_TRACK_REATTACH = 1, /* the pipes had a tracker before: replay */
    RT_TRACK_PID1 = 2,     /* the starter is PID 1: honour its shutdown */
    RT_TRACK_HOLD = 4,     /* keep the status pipe open until exit */
    RT_TRACK_NO_SWEEP = 8, /* do not sweep dead runs at start */
    RT_TRACK_FORKED = 16,  /* a raw fork of the host, not an exec'ed image */
};

struct rt_tracker_args {
    int a, b, status, alive, journal, dir; /* -1 when absent */
    pid_t starter;                         /* the process that started it */
    unsigned flags;
};

/* Records on the status pipe: the middle reports the tracker's pid (or the
 * errno of the step that failed), the tracker says it is ready. */
struct rt_launch_report {
    int32_t kind;
    int32_t value;
};
enum { RT_REPORT_PID = 1, RT_REPORT_ERROR = 2, RT_REPORT_READY = 3 };

/* argv[1] of the tracker image: "STARTER:FLAGS" in decimal. */
#define RT_ARG_MAX 32

#endif /* RT_HANDOFF_H */
