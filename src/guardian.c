/* SPDX-License-Identifier: MIT */
/* The guardian. Runs in a raw fork of the tracker: AS-safe. */

/* syscall(2) for fork and prctl(2): Linux. */
#define _GNU_SOURCE
#include "guardian.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif

#include "diag.h"
#include "fdio.h"
#include "ledger.h"
#include "recorder.h"
#include "statedir.h"
#include "sweep.h"

#define G_DIR 3
#define G_NULL 4
#define G_JOURNAL 5
#define G_A 6    /* the tracker's read end of the private pipe */
#define G_B 7    /* ... of the public pipe, with its reader lock */
#define G_LIFE 8 /* the lifeline's read end */
#define G_LAST G_LIFE

/* Where descriptors wait while they are placed: above any the tracker
 * uses, so that none is overwritten before it has moved. */
#define G_HIGH 32

#define MAX_NAMES ((size_t)1 << 24)

/* The run's ledger while the guardian moves pipe data into the journal. */
static struct rt_ledger ledger;
static struct rt_runinfo info;

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

static pid_t raw_fork(void)
{
#if defined(SYS_fork)
    return (pid_t)syscall(SYS_fork);
#else
    return fork();
#endif
}

/* The other dead runs of the state directory are swept by a child: the
 * guardian itself must be free to act the moment the tracker dies. The
 * child holds nothing of the run. */
static pid_t sweep_others(const char *name)
{
    pid_t pid = raw_fork();
    if (pid != 0) {
        return pid > 0 ? pid : -1;
    }
#if defined(__linux__)
    (void)prctl(PR_SET_NAME, "resource_sweep", 0, 0, 0);
#endif
    rt__fd_close(G_A);
    rt__fd_close(G_B);
    rt__fd_close(G_LIFE);
    rt__fd_close(G_JOURNAL);
    struct rt_sweep_opts o = {0};
    struct rt_sweep_stats st = {0};
    o.skip = name;
    (void)rt__sweep_dir(G_DIR, &o, &st);
    _exit(0);
}

static void reap(pid_t pid, int flags)
{
    if (pid > 0) {
        (void)rt__fd_waitpid(pid, NULL, flags);
    }
}

/* How the tracker ended, read on the lifeline: 1 it died (end-of-file, no
 * word), 0 it finished its run, -1 no lifeline. */
static int tracker_died(void)
{
    for (;;) {
        char c;
        ssize_t n = read(G_LIFE, &c, 1);
        if (n < 0 && errno == EINTR) {
            continue; /* SIGUSR1: stderr dropped */
        }
        rt__fd_close(G_LIFE);
        return n == 0 ? 1 : n == 1 ? 0 : -1;
    }
}

/* Moves what the pipes still hold into the journal, as the tracker does
 * (splice: consumed and stored at once), after repairing a tail its death
 * left as a relaunched tracker would. B then A, the tracker's order. */
static void journal_pipes(void)
{
    rt__ledger_init(&ledger, (uint64_t)(uintptr_t)&ledger, MAX_NAMES, NULL);
    memset(&info, 0, sizeof(info));
    struct rt_recorder rec = {-1, 0, 0, 0, 0};
    if (rt__recorder_open(&rec, G_JOURNAL, 1, &ledger, &info) == 0) {
        while (rt__recorder_segment(&rec, G_B, RT_SRC_B, &ledger) > 0) {
        }
        while (rt__recorder_segment(&rec, G_A, RT_SRC_A, &ledger) > 0) {
        }
    }
    rt__ledger_free(&ledger);
}

static _Noreturn void guard(const char *name, int sweep)
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
    /* Other dead runs too, even when our own run is over already (its
     * journal gone): the program that started our tracker may live for a
     * millisecond, and the next tracker to start is the one that cleans
     * up after runs that died whole. */
    pid_t sweeper = sweep ? sweep_others(name) : -1;
    int died = jfd >= 0 ? tracker_died() : 0;
    if (died == 0) {
        /* Finished (or no journal to keep): nothing of ours to do. */
        reap(sweeper, 0);
        _exit(0);
    }
    if (died == 1) {
        /* What the pipes hold was written before the tracker died and
         * never read: a registration there is as good as one it read.
         * Into the journal, while we still hold the public pipe's reader
         * lock, so that no tracker relaunched meanwhile replays the
         * journal without it, or reads the pipes beside us. */
        journal_pipes();
    }
    /* Then we let go: the public pipe's writers get EPIPE now (CPython's
     * probe among them), a relaunch may take the pipes, and no guardian
     * counts as a process of the run for another one. */
    rt__fd_close(G_B);
    rt__fd_close(G_A);
    reap(sweeper, WNOHANG);
    lock_exclusive(G_JOURNAL);
    wait_for_holders(G_JOURNAL);
    struct stat st;
    if (fstat(G_JOURNAL, &st) < 0 || st.st_nlink == 0) {
        /* A tracker relaunched on the pipes finished the run. */
        reap(sweeper, 0);
        _exit(0);
    }
    struct rt_sweep_opts o = {0};
    struct rt_sweep_stats stats;
    memset(&stats, 0, sizeof(stats));
    (void)rt__sweep_one(G_DIR, name, G_JOURNAL, &o, &stats);
    reap(sweeper, 0);
    _exit(0);
}

pid_t rt__guardian_start(int dirfd, const char *name, int sweep, int a, int b,
                         int *ret_life)
{
    *ret_life = -1;
    char copy[RT_STATE_NAME_MAX];
    size_t n = strlen(name);
    if (n >= sizeof(copy)) {
        return -1;
    }
    memcpy(copy, name, n + 1);
    int life[2] = {-1, -1};
    if (rt__fd_pipe(life) < 0) {
        /* Without a lifeline the guardian cannot tell the tracker's death
         * as it happens: it must not hold the pipes then. */
        life[0] = life[1] = a = b = -1;
    }
    pid_t pid = raw_fork();
    if (pid != 0) {
        rt__fd_close(life[0]);
        if (pid < 0) {
            rt__fd_close(life[1]);
            return -1;
        }
        *ret_life = life[1];
        return pid;
    }
    /* Only what the guardian needs, each at its place. Every source goes
     * high first: one may sit on another's place. */
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    const int src[] = {dirfd, null, a, b, life[0]};
    const int dst[] = {G_DIR, G_NULL, G_A, G_B, G_LIFE};
    int high[5];
    for (int i = 0; i < 5; i++) {
        high[i] = src[i] >= 0 ? fcntl(src[i], F_DUPFD, G_HIGH) : -1;
        if (i < 2 && high[i] < 0) {
            _exit(0);
        }
    }
    for (int i = 0; i < 5; i++) {
        if (high[i] < 0) {
            (void)close(dst[i]); /* absent: no tracker descriptor there */
        } else if (dup2(high[i], dst[i]) < 0) {
            _exit(0);
        }
    }
    rt__fd_close_from(G_LAST + 1);
    guard(copy, sweep);
}

int rt__guardian_finished(int life)
{
    if (life >= 0) {
        /* A guardian already gone cannot be told: nothing to do then. */
        (void)rt__fd_write_plain(life, "F", 1);
    }
    return rt__fd_close(life);
}
