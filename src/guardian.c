/* SPDX-License-Identifier: MIT */
/* The guardian. Runs in a raw fork of the tracker: AS-safe.
 *
 * Besides waiting for the run's lock, it rescues what the pipes still hold
 * when the tracker dies, so that a message written just before the death
 * is not lost with the pipes when no process of the run ever calls the
 * library again:
 *   - the private pipe: the guardian keeps a read end of it (its writers
 *     learn of the tracker's death from the liveness word, not from EPIPE,
 *     so one more reader hides nothing from them), and moves what it holds
 *     into the journal once every process of the run has gone;
 *   - the public pipe: it keeps no read end of it (that would hide the
 *     tracker's death from its writers), only an O_PATH reference; when the
 *     tracker dies (PR_SET_PDEATHSIG) it opens a read end for the moment it
 *     takes to move what the pipe holds into the journal, under the reader
 *     lock a new tracker would take, and closes it. */

/* syscall(2) for fork, prctl(2), O_PATH: Linux. */
#define _GNU_SOURCE
#include "guardian.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif

#include "fdio.h"
#include "ledger.h"
#include "recorder.h"
#include "statedir.h"
#include "sweep.h"

#define G_DIR 3
#define G_NULL 4
#define G_JOURNAL 5
#define G_A 6     /* a read end of the private pipe, or closed */
#define G_BPATH 7 /* an O_PATH reference to the public pipe, or closed */

static volatile sig_atomic_t tracker_gone;

/* The tracker let go of its stderr (tracker.c, "whose stderr"): so do we.
 * Only a dup2 of a descriptor opened beforehand: AS-safe. */
static void drop_stderr(int sig)
{
    (void)sig;
    int saved = errno;
    (void)dup2(G_NULL, 2);
    errno = saved;
}

/* The tracker died (PR_SET_PDEATHSIG): the wait for the lock is broken off
 * (EINTR) and the public pipe's content rescued. */
static void on_tracker_gone(int sig)
{
    (void)sig;
    tracker_gone = 1;
}

/* Moves what the pipe FD holds into the journal. */
static void move_out(int fd, enum rt_src src)
{
    struct rt_recorder rec;
    if (fd < 0 || rt__recorder_resume(&rec, G_JOURNAL) < 0) {
        return;
    }
    while (rt__recorder_segment(&rec, fd, src, NULL) > 0) {
    }
}

static void rescue_public(void)
{
    char path[32];
    (void)snprintf(path, sizeof(path), "/proc/self/fd/%d", G_BPATH);
    int b = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (b < 0) {
        return;
    }
    /* A process of the run taking over holds it, and reads the pipe. */
    if (flock(b, LOCK_EX | LOCK_NB) == 0) {
        move_out(b, RT_SRC_B);
    }
    rt__fd_close(b);
}

/* Waits for the run's lock; rescues the public pipe when the tracker dies
 * meanwhile. */
static void lock_exclusive(int fd)
{
    for (;;) {
        if (tracker_gone == 1) {
            tracker_gone = 2;
            rescue_public();
        }
        if (flock(fd, LOCK_EX) == 0 || errno != EINTR) {
            return;
        }
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

static void handle(int sig, void (*fn)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    (void)sigaction(sig, &sa, NULL);
}

static _Noreturn void guard(const char *name, int sweep_others, pid_t tracker)
{
#if defined(__linux__)
    (void)prctl(PR_SET_NAME, "resource_guard", 0, 0, 0);
#endif
    handle(SIGUSR1, drop_stderr);
    handle(SIGUSR2, on_tracker_gone);
#if defined(__linux__)
    (void)prctl(PR_SET_PDEATHSIG, SIGUSR2, 0, 0, 0);
#endif
    if (getppid() != tracker) {
        tracker_gone = 1; /* it died before the line above */
    }
    int jfd = rt__state_open_journal(G_DIR, name, O_RDWR);
    if (jfd < 0 || (jfd != G_JOURNAL && dup2(jfd, G_JOURNAL) < 0)) {
        _exit(0);
    }
    if (jfd != G_JOURNAL) {
        rt__fd_close(jfd);
    }
    if (sweep_others) {
        struct rt_sweep_opts o = {0};
        struct rt_sweep_stats st = {0};
        o.skip = name;
        (void)rt__sweep_dir(G_DIR, &o, &st);
    }
    lock_exclusive(G_JOURNAL);
    wait_for_holders(G_JOURNAL);
    struct stat st;
    if (fstat(G_JOURNAL, &st) < 0 || st.st_nlink == 0) {
        /* The tracker finished and removed it. */
        _exit(0);
    }
    /* Every process of the run is gone, the tracker first: what the
     * private pipe still holds was written after the tracker died. */
    move_out(G_A, RT_SRC_A);
    struct rt_sweep_opts o = {0};
    struct rt_sweep_stats stats;
    memset(&stats, 0, sizeof(stats));
    (void)rt__sweep_one(G_DIR, name, G_JOURNAL, &o, &stats);
    _exit(0);
}

/* FD moved to the number TO, or TO closed when FD is -1. */
static int place(int fd, int to)
{
    if (fd < 0) {
        rt__fd_close(to);
        return 0;
    }
    return dup2(fd, to) < 0 ? -1 : 0;
}

pid_t rt__guardian_start(int dirfd, const char *name, int sweep_others,
                         int a_fd, int b_fd)
{
    char copy[RT_STATE_NAME_MAX];
    size_t n = strlen(name);
    if (n >= sizeof(copy)) {
        return -1;
    }
    memcpy(copy, name, n + 1);
    pid_t tracker = getpid();
#if defined(SYS_fork)
    pid_t pid = (pid_t)syscall(SYS_fork);
#else
    pid_t pid = fork();
#endif
    if (pid != 0) {
        return pid > 0 ? pid : -1;
    }
    /* Nothing else of the tracker's: no read end of the public pipe (it
     * would hide the tracker's death), no lock (it would wait for itself).
     * What is kept goes high first, so that placing one cannot clobber
     * another. */
    char path[32];
    int bpath = -1;
    if (b_fd >= 0) {
        (void)snprintf(path, sizeof(path), "/proc/self/fd/%d", b_fd);
        bpath = open(path, O_PATH | O_CLOEXEC);
    }
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    int src[5] = {dirfd, null, -1, a_fd, bpath};
    int high[5];
    for (int i = 0; i < 5; i++) {
        high[i] = src[i] >= 0 ? fcntl(src[i], F_DUPFD_CLOEXEC, 32) : -1;
    }
    if (high[0] < 0 || high[1] < 0 || place(high[0], G_DIR) < 0 ||
        place(high[1], G_NULL) < 0 || place(high[3], G_A) < 0 ||
        place(high[4], G_BPATH) < 0) {
        _exit(0);
    }
    /* The number the journal takes may hold the tracker's control socket:
     * a guardian holding that would leave callers waiting on it. */
    rt__fd_close(G_JOURNAL);
    rt__fd_close_from(G_BPATH + 1);
    guard(copy, sweep_others, tracker);
}
