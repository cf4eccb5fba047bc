/* SPDX-License-Identifier: MIT */
/* Starting a tracker: a fresh run, or a new tracker for the pipes of a run
 * whose tracker died. Host side; called with the client mutex held. */
#ifndef RT_LAUNCH_H
#define RT_LAUNCH_H

#include <stdint.h>
#include <sys/types.h>

/* Every descriptor a start holds while it runs. They live in the client's
 * handle, so that a fork() in another thread can drop them in the child. */
enum {
    RT_L_A_R,
    RT_L_A_W,
    RT_L_B_R,
    RT_L_B_W,
    RT_L_STATUS_R,
    RT_L_STATUS_W,
    RT_L_IMAGE,
    RT_L_ALIVE,
    RT_L_JOURNAL,
    RT_L_DIR,
    RT_L_NFDS
};
struct rt_launch {
    int fds[RT_L_NFDS];
    void *stack;
    size_t stack_size;
    void *alive_page; /* the new tracker's liveness page */
};
#define RT_LAUNCH_INIT                                                         \
    {                                                                          \
        {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1}, NULL, 0, NULL                \
    }

/* What to start. */
struct rt_launch_args {
    /* Reattach: the write ends of the run's pipes that this process holds
     * (A may be -1). The new tracker reads new ends of the same pipes,
     * opened through /proc/self/fd, so that messages still in them reach it.
     * Both -1: a fresh run with new pipes. */
    int a_w, b_w;
    /* The run's journal held by this process (reattach), or -1. */
    int journal;
    unsigned flags; /* RT_TRACK_* for the tracker */
    int *exec_broken;
    /* Out: why the state directory was refused (empty when it was not, or
     * when there is none to refuse), for the caller's one warning. */
    char why[160];
};

/* A started tracker. Descriptors are close-on-exec and above 2. */
struct rt_started {
    pid_t pid;
    int a_w, a_spare; /* fresh run: the private pipe (-1 when not made) */
    int b_w;          /* fresh run: the public pipe's write end */
    int journal;      /* fresh run: the journal, holding LOCK_SH, or -1 */
    void *alive_page; /* its liveness page (see alive.h), or NULL */
    uint64_t b_dev, b_ino;
    int status; /* RT_TRACK_HOLD: the status pipe's read end, at whose
                   end-of-file the tracker has exited; else -1 */
};

/* Starts a tracker, ready to read when this returns (its signals set up,
 * holding none of the host's descriptors). Returns 0 or -errno; -EBUSY
 * when reattaching and another process is starting a tracker on the same
 * pipes, -ENOENT when /proc cannot give new read ends (no /proc). */
int rt__launch(struct rt_launch *inflight, struct rt_launch_args *args,
               struct rt_started *ret);

/* In a fork() child: closes and unmaps what a start in the parent held.
 * AS-safe. */
void rt__launch_abandon(struct rt_launch *inflight);

/* Reaps a dead tracker that became our child, which happens only when this
 * process is PID 1 or a child subreaper. Never blocks. */
void rt__launch_reap(pid_t pid);

#endif /* RT_LAUNCH_H */
