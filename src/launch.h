/* SPDX-License-Identifier: MIT */
/* Starting the tracker. Host side; called with the client mutex held. */
#ifndef RT_LAUNCH_H
#define RT_LAUNCH_H

#include <stdint.h>
#include <sys/types.h>

/* Descriptors as the middle process hands them to the tracker image. */
#define RT_LAUNCH_READ_FD 3   /* read end of the tracker pipe */
#define RT_LAUNCH_STATUS_FD 4 /* where the middle reports */
#define RT_LAUNCH_IMAGE_FD 5  /* the tracker image, until exec */

/* Records on the status pipe: the middle reports the tracker's pid (or the
 * errno of the step that failed), the tracker says it is ready. */
struct rt_launch_report {
    int32_t kind;
    int32_t value;
};
enum { RT_REPORT_PID = 1, RT_REPORT_ERROR = 2, RT_REPORT_READY = 3 };

/* Resources a start holds while it runs. They live in the client's handle so
 * that a fork() in another thread can drop them in the child. */
struct rt_launch {
    int fds[6]; /* pipe r/w, status pipe r/w, image memfd, liveness memfd */
    void *stack;
    size_t stack_size;
    void *alive_page; /* the new tracker's liveness page */
};
#define RT_LAUNCH_INIT                                                         \
    {                                                                          \
        {-1, -1, -1, -1, -1, -1}, NULL, 0, NULL                                \
    }

/* A started tracker. */
struct rt_started {
    int fd; /* the pipe's write end, close-on-exec, above 2 */
    pid_t pid;
    void *alive_page; /* its liveness page (see alive.h), or NULL */
    int spare_fd;     /* with a liveness page: a read end for the host */
};

/* Starts a tracker, ready to read when this returns (its signals set up).
 * *EXEC_BROKEN is set when exec'ing the image proved impossible here, so
 * that later starts go straight to the fork path. Returns 0 or -errno. */
int rt__launch(struct rt_launch *inflight, int *exec_broken,
               struct rt_started *ret);

/* In a fork() child: closes and unmaps what a start in the parent held.
 * AS-safe. */
void rt__launch_abandon(struct rt_launch *inflight);

/* Reaps a dead tracker that became our child, which happens only when this
 * process is PID 1 or a child subreaper. Never blocks. */
void rt__launch_reap(pid_t pid);

#endif /* RT_LAUNCH_H */
