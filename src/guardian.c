/* SPDX-License-Identifier: MIT */
/* The guardian. Runs in a raw fork of the tracker: AS-safe. */

/* syscall(2) for fork and prctl(2): Linux. */
#define _GNU_SOURCE
#include "guardian.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif

#include "diag.h"
#include "fdio.h"
#include "recorder.h"
#include "statedir.h"
#include "sweep.h"

#define G_DIR 3
#define G_NULL 4
#define G_JOURNAL 5

/* The tracker let go of its stderr (tracker.c, "whose stderr"): so do we.
 * Only a dup2 of a descriptor opened beforehand: AS-safe. */
static void drop_stderr(int sig)
{
    (void)sig;
    int saved = errno;
    (void)dup2(G_NULL, 2);
    errno = saved;
}

static void lock_exclusive(int fd)
{
    while (flock(fd, LOCK_EX) < 0 && errno == EINTR) {
    }
}

/* Processes that hold the run's pipe without its lock (a program exec'ed
 * with RESOURCE_TRACKER_FD, a CPython process given the pipe) keep the run
 * alive too: wait for them, a fifth of a second at a time, lock released
 * meanwhile so that a tracker they start can take the journal over. */
static void wait_for_holders(int jfd)
{
    struct rt_runinfo ri;
    if (rt__recorder_runinfo(jfd, &ri) < 0) {
        return;
    }
    for (;;) {
        struct stat st;
        if (fstat(jfd, &st) < 0 || st.st_nlink == 0) {
            /* A tracker one of them started took the run over, and ended
             * it. */
            _exit(0);
        }
        if (!rt__sweep_run_visible(&ri)) {
            return;
        }
        (void)flock(jfd, LOCK_UN);
        struct timespec ts = {0, 200000000L};
        (void)nanosleep(&ts, NULL);
        lock_exclusive(jfd);
    }
}

static _Noreturn void guard(const char *name, int sweep_others)
{
#if defined(__linux__)
    (void)prctl(PR_SET_NAME, "resource_guard", 0, 0, 0);
#endif
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = drop_stderr;
    sigemptyset(&sa.sa_mask);
    (void)sigaction(SIGUSR1, &sa, NULL);
    int jfd = rt__state_open_journal(G_DIR, name, O_RDWR);
    if (jfd >= 0 && jfd != G_JOURNAL) {
        if (dup2(jfd, G_JOURNAL) < 0) {
            _exit(0);
        }
        rt__fd_close(jfd);
    }
    /* Other dead runs first, even when our own run is over already (its
     * journal gone): the program that started our tracker may live for a
     * millisecond, and the next tracker to start is the one that cleans
     * up after runs that died whole. */
    if (sweep_others) {
        struct rt_sweep_opts o = {0};
        struct rt_sweep_stats st;
        o.skip = name;
        (void)rt__sweep_dir(G_DIR, &o, &st);
    }
    if (jfd < 0) {
        _exit(0);
    }
    lock_exclusive(G_JOURNAL);
    wait_for_holders(G_JOURNAL);
    struct stat st;
    if (fstat(G_JOURNAL, &st) < 0 || st.st_nlink == 0) {
        /* The tracker finished and removed it. */
        _exit(0);
    }
    struct rt_sweep_opts o = {0};
    struct rt_sweep_stats stats;
    memset(&stats, 0, sizeof(stats));
    (void)rt__sweep_one(G_DIR, name, G_JOURNAL, &o, &stats);
    _exit(0);
}

pid_t rt__guardian_start(int dirfd, const char *name, int sweep_others)
{
    char copy[RT_STATE_NAME_MAX];
    size_t n = strlen(name);
    if (n >= sizeof(copy)) {
        return -1;
    }
    memcpy(copy, name, n + 1);
#if defined(SYS_fork)
    pid_t pid = (pid_t)syscall(SYS_fork);
#else
    pid_t pid = fork();
#endif
    if (pid != 0) {
        return pid > 0 ? pid : -1;
    }
    /* Nothing of the tracker's: no pipe (it would hide the tracker's
     * death), no lock (it would wait for itself). */
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (dirfd != G_DIR && dup2(dirfd, G_DIR) < 0) {
        _exit(0);
    }
    if (null < 0 || (null != G_NULL && dup2(null, G_NULL) < 0)) {
        _exit(0);
    }
    rt__fd_close_from(G_NULL + 1);
    guard(copy, sweep_others);
}
