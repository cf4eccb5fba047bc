/* SPDX-License-Identifier: MIT */
/* The tracker's main loop. Tracker, single-threaded, AS-safe: it may run in
 * a raw fork of a multithreaded host, so no malloc, stdio or locks.
 *
 * It reads two pipes (handoff.h, client.c): the private one of the
 * processes that started it and the public one. Each wakeup moves what a
 * pipe holds into the run's journal (recorder.h) and applies it to the
 * ledger; the control socket (ctl.h) takes what needs credentials. When
 * no process holds a write end of either pipe, it cleans up what is left,
 * reports it, removes the journal and exits. */

/* syscall(2) for rt_sigaction, pidfd_open and fork; prctl(2): Linux. */
#define _GNU_SOURCE
#include "tracker.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif

#include "alive.h"
#include "cleanup.h"
#include "ctl.h"
#include "decimal.h"
#include "diag.h"
#include "fdio.h"
#include "guardian.h"
#include "journal.h"
#include "ledger.h"
#include "pathres.h"
#include "procscan.h"
#include "recorder.h"
#include "rtypes.h"
#include "statedir.h"
#include "wire.h"

/* The most names held at once: enough for any real program, small enough
 * that a runaway writer cannot exhaust the machine through us. */
#define MAX_NAMES ((size_t)1 << 24)

/* A pipe grows (F_SETPIPE_SZ) when a wakeup finds it full, up to this: a
 * burst of writers then rarely blocks. Idle trackers keep the default
 * size, so that a hundred of them stay within a user's pipe quota
 * (/proc/sys/fs/pipe-user-pages-soft). */
#define PIPE_GROWN (1 << 20)

/* After a wakeup that moved little, the tracker naps this long before it
 * waits again. While it naps it is not waiting on the pipes, so a writer's
 * write(2) has no reader to wake: during a burst of messages the writers
 * pay no wake-up (nor, with one CPU for both, a context switch) per
 * message, and the tracker takes them in large moves. An idle tracker
 * sleeps in poll(2). */
#define BATCH_NAP_NS 100000

static struct rt_tracker_args args;
static struct rt_ledger ledger;
static struct rt_recorder rec = {-1, 0, 0, 0, 0};
static struct rt_runinfo info;
static int src_fd[RT_SRC_N] = {-1, -1};
static int pipe_size[RT_SRC_N];
static int ctl_fd = -1;
static int lock_fd = -1; /* holds the run's LOCK_SH for the tracker */
static pid_t guardian = -1;
static int life = -1; /* the guardian's lifeline (guardian.h) */
static char journal_name[RT_STATE_NAME_MAX];
static unsigned char inbuf[65536];

/* ---- warnings, muted after many ---- */

static unsigned reported;

static int reporting(void)
{
    if (reported == RT_DIAG_BAD_LINES_REPORTED) {
        rt__diag_bad_lines_muted();
    }
    return reported++ < RT_DIAG_BAD_LINES_REPORTED;
}

static void on_bad_line(void *ctx, const char *what, const unsigned char *line,
                        size_t len)
{
    (void)ctx;
    if (reporting()) {
        rt__diag_bad_line(what, line, len);
    }
}

static void on_unknown_rtype(void *ctx, const unsigned char *name, size_t nlen,
                             const unsigned char *rtype, size_t rlen)
{
    (void)ctx;
    if (reporting()) {
        rt__diag_unknown_rtype(name, nlen, rtype, rlen);
    }
}

static void on_not_registered(void *ctx, const unsigned char *name, size_t nlen,
                              const char *rtype)
{
    (void)ctx;
    if (reporting()) {
        rt__diag_not_registered(name, nlen, rtype);
    }
}

static void on_cannot_store(void *ctx, const unsigned char *name, size_t nlen,
                            int err)
{
    (void)ctx;
    if (reporting()) {
        rt__diag_cannot_store(name, nlen, err);
    }
}

static const struct rt_ledger_report report = {
    NULL, on_bad_line, on_unknown_rtype, on_not_registered, on_cannot_store,
};

/* ---- setup ---- */

/* Every disposition back to SIG_DFL: in a raw fork the host's handlers are
 * still installed, and across exec the host's ignored signals stay ignored
 * (GNU make, for one, ignores signals 32 and 33 in its children). libc's
 * sigaction refuses the signals it reserves, so on Linux the system call is
 * made directly; an all-zero kernel sigaction is SIG_DFL with no flags and
 * an empty mask whatever the architecture's layout. */
static void reset_dispositions(void)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    for (int sig = 1; sig < 65; sig++) {
#if defined(__linux__) && defined(SYS_rt_sigaction)
        static const unsigned long zero[8];
        if (syscall(SYS_rt_sigaction, (long)sig, zero, NULL, 8L) == 0) {
            continue;
        }
#endif
        /* Numbers the system refuses (SIGKILL, SIGSTOP) are skipped. */
        (void)sigaction(sig, &dfl, NULL);
    }
}

/* Whether SIG's default action ends the process without it being a fault
 * of the tracker's own (those, like SIGSEGV, stay fatal: a crash is a
 * crash). */
static int ends_process(int sig)
{
    switch (sig) {
    case SIGSEGV:
    case SIGBUS:
    case SIGILL:
    case SIGFPE:
    case SIGABRT:
    case SIGTRAP:
    case SIGSYS:
    case SIGKILL:
    case SIGSTOP:
    case SIGCHLD:
    case SIGCONT:
    case SIGURG:
    case SIGWINCH:
        return 0;
    default:
        return 1;
    }
}

static void setup_signals(void)
{
    reset_dispositions();
    /* ^C, "kill", a closing terminal, a dead stderr pipe, and every other
     * signal that would end the process (SIGQUIT, SIGUSR1, SIGALRM, real-
     * time signals, ...) must not stop the cleanup: only SIGKILL, or a crash,
     * can. Stop signals are ignored too, so that nothing parks the tracker
     * while writers fill its pipes. The guardian, our only child, is reaped
     * by the kernel. */
    struct sigaction ign;
    memset(&ign, 0, sizeof(ign));
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    for (int sig = 1; sig < 65; sig++) {
        if (!ends_process(sig) && sig != SIGCHLD) {
            continue;
        }
        /* Numbers the system does not have are refused: fine. libc refuses
         * the ones it reserves for itself (glibc's 32 and 33), which would
         * stay fatal: those are set with the system call, whose structure
         * begins with the handler and, for SIG_IGN, needs nothing else on
         * the architectures where that layout holds. */
        if (sigaction(sig, &ign, NULL) == 0) {
            continue;
        }
#if defined(__linux__) && defined(SYS_rt_sigaction) &&                         \
    (defined(__x86_64__) || defined(__i386__) || defined(__aarch64__) ||       \
     defined(__arm__) || defined(__riscv) || defined(__powerpc__) ||           \
     defined(__s390__))
        static const unsigned long kign[8] = {(unsigned long)SIG_IGN};
        (void)syscall(SYS_rt_sigaction, (long)sig, kign, NULL, 8L);
#endif
    }
    /* The launcher blocked every signal across the spawn so that none could
     * arrive before the dispositions above were in place (bpo-33613). */
    sigset_t none;
    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
}

/* A tracker forked from its host (a program with types of its own) holds a
 * copy of the host's mappings, shared ones included: a file the host
 * mapped, unmapped and deleted would keep its memory (and its file system,
 * busy) for as long as the tracker runs. Shared mappings are let go; a
 * custom cleanup sees the host's private memory as it was, not them. */
static void release_shared(void)
{
    static char maps[262144];
    static struct {
        uintptr_t start, end;
    } drop[4096];
    size_t n = 0;
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return;
    }
    ssize_t len = rt__fd_read_full(fd, maps, sizeof(maps) - 1);
    rt__fd_close(fd);
    if (len <= 0) {
        return;
    }
    maps[len] = '\0';
    for (char *line = maps; *line != '\0' && n < 4096;) {
        char *nl = strchr(line, '\n');
        /* "start-end perms offset dev inode path" */
        char *p = line;
        uintptr_t start = 0;
        uintptr_t end = 0;
        for (; *p != '-' && *p != '\0'; p++) {
            start =
                start * 16 + (uintptr_t)(*p <= '9' ? *p - '0' : *p - 'a' + 10);
        }
        for (p++; *p != ' ' && *p != '\0'; p++) {
            end = end * 16 + (uintptr_t)(*p <= '9' ? *p - '0' : *p - 'a' + 10);
        }
        if (*p == ' ' && p[4] == 's' && end > start) {
            drop[n].start = start;
            drop[n].end = end;
            n++;
        }
        if (nl == NULL) {
            break;
        }
        line = nl + 1;
    }
    for (size_t i = 0; i < n; i++) {
        /* Addresses read from /proc/self/maps: an integer is all they are. */
        void *at =
            (void *)drop[i].start; /* NOLINT(performance-no-int-to-ptr) */
        (void)munmap(at, drop[i].end - drop[i].start);
    }
}

static uint64_t hash_seed(void)
{
    struct timespec ts = {0, 0};
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t local = (uint64_t)(uintptr_t)&ts;
    return ((uint64_t)ts.tv_nsec << 32) ^ (uint64_t)ts.tv_sec ^
           ((uint64_t)getpid() << 16) ^ local;
}

static double now(void)
{
    struct timespec ts = {0, 0};
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report_ready(void)
{
    struct rt_launch_report rep = {RT_REPORT_READY, 0};
    /* A launcher that is gone has nothing to learn. */
    (void)rt__fd_write_msg(args.status, &rep, sizeof(rep));
    if (!(args.flags & RT_TRACK_HOLD)) {
        args.status = rt__fd_close(args.status);
    }
}

/* Connections of the control socket count against the descriptor limit:
 * take all the system allows. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void set_nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) {
        (void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    }
}

static uint64_t wall_seconds(void)
{
    struct timespec ts = {0, 0};
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec;
}

static void fill_runinfo(void)
{
    struct stat st;
    info.have_run = 1;
    info.uid = geteuid();
    if (fstat(args.b, &st) == 0) {
        info.b_dev = st.st_dev;
        info.b_ino = st.st_ino;
    }
    if (args.a >= 0 && fstat(args.a, &st) == 0) {
        info.a_dev = st.st_dev;
        info.a_ino = st.st_ino;
    }
    info.pidns = rt__procscan_pidns();
    if (rt__procscan_boot_id(info.boot, sizeof(info.boot)) < 0) {
        info.boot[0] = '\0';
    }
    info.time = wall_seconds();
    info.starter = (uint64_t)args.starter;
}

/* The journal cannot take more (its file system is full, say): go on
 * without it. It is removed from the state directory at once: it no
 * longer says what the run holds (a withdrawal it misses would have a
 * sweep remove what its owner kept), so no sweep may ever go by it. A
 * tracker that dies from now on loses what it held, as without a journal.
 * The run's lock stays held. */
static void journal_failed(int err)
{
    if (rec.fd < 0) {
        return;
    }
    rt__diag_journal_failed(err);
    if (args.dir >= 0) {
        (void)unlinkat(args.dir, journal_name, 0);
    }
    if (rec.fd != lock_fd) {
        rt__fd_close(rec.fd);
    }
    rec.fd = -1;
}

/* Appends a meta line; a failure ends the journal (journal_failed). */
static void journal_meta(const char *line, size_t n)
{
    if (rec.fd < 0) {
        return;
    }
    int r = rt__recorder_meta(&rec, line, n);
    if (r < 0 && r != -ENAMETOOLONG) {
        journal_failed(-r);
    }
}

static void write_info(int run)
{
    static char line[512];
    ssize_t n;
    if (run) {
        n = rt__recorder_run_line(&info, line, sizeof(line));
        if (n > 0) {
            journal_meta(line, (size_t)n);
        }
    }
    info.tracker_pid = (uint64_t)getpid();
    info.tracker_start = rt__procscan_starttime(getpid());
    info.tracker_time = wall_seconds();
    n = rt__recorder_tracker_line(&info, line, sizeof(line));
    if (n > 0) {
        journal_meta(line, (size_t)n);
    }
}

/* The run's journal: the one the launcher passed (holding the run's lock
 * through the starter's open file), or, for a tracker started on the pipes
 * of a dead one by a process that had none, the run's journal by name. */
static void open_journal(void)
{
    struct stat st;
    if (args.b < 0 || fstat(args.b, &st) < 0) {
        return;
    }
    rt__state_journal_name(journal_name, sizeof(journal_name), st.st_dev,
                           st.st_ino);
    int fd = args.journal;
    if (fd < 0 && args.dir >= 0 && (args.flags & RT_TRACK_REATTACH)) {
        fd = rt__state_open_journal(args.dir, journal_name, O_RDWR);
        if (fd >= 0 && flock(fd, LOCK_SH | LOCK_NB) < 0) {
            fd = rt__fd_close(fd);
        } else if (fd == -ENOENT) {
            /* The run had no journal (its state directory could not be
             * used then): from now on it has one. */
            fd = rt__state_create_journal(args.dir, st.st_dev, st.st_ino);
        }
    }
    if (fd < 0) {
        return;
    }
    lock_fd = fd;
    int replay = (args.flags & RT_TRACK_REATTACH) ||
                 (fstat(fd, &st) == 0 && st.st_size > 0);
    if (rt__recorder_open(&rec, fd, replay, &ledger, &info) < 0) {
        rec.fd = -1;
        return;
    }
    int fresh = !info.have_run;
    if (fresh) {
        fill_runinfo();
    }
    write_info(fresh);
}

/* ---- reading the pipes ---- */

#if defined(F_SETPIPE_SZ)
/* Whether a wakeup that moved N bytes found the pipe of S full. Writers
 * write whole lines of up to PIPE_BUF bytes, each into the last page of
 * the pipe when it fits there, else into a page of its own: a pipe whose
 * pages are all taken, which blocks the next writer, holds all its size
 * only when the lines tile the pages exactly (65,520 bytes of 65,536 with
 * lines of 39 bytes), but always more than half of it. */
static int found_full(enum rt_src s, ssize_t n)
{
    return pipe_size[s] > 0 && n > pipe_size[s] / 2;
}
#endif

static void grow_if_full(enum rt_src s, ssize_t n)
{
#if defined(F_SETPIPE_SZ)
    if (found_full(s, n) && pipe_size[s] < PIPE_GROWN) {
        int want =
            pipe_size[s] * 4 < PIPE_GROWN ? pipe_size[s] * 4 : PIPE_GROWN;
        int got = fcntl(src_fd[s], F_SETPIPE_SZ, want);
        if (got > 0) {
            pipe_size[s] = got;
        }
    }
#else
    (void)s, (void)n;
#endif
}

static void close_source(enum rt_src s)
{
    src_fd[s] = rt__fd_close(src_fd[s]);
    rt__ledger_source_closed(&ledger, s);
}

/* Takes what the pipe of S holds. Returns the bytes taken, 0 when there
 * was nothing, -1 at end-of-file (the source is then closed). */
static ssize_t take(enum rt_src s)
{
    if (rec.fd >= 0) {
        ssize_t n = rt__recorder_segment(&rec, src_fd[s], s, &ledger);
        if (n > 0) {
            grow_if_full(s, n);
            return n;
        }
        if (n == 0) {
            close_source(s);
            return -1;
        }
        if (n == -EAGAIN) {
            return 0;
        }
        journal_failed((int)-n);
    }
    ssize_t n = rt__fd_read(src_fd[s], inbuf, sizeof(inbuf));
    if (n == -EAGAIN) {
        return 0;
    }
    if (n <= 0) {
        /* End-of-file, or an error no retry would cure: either way no
         * writer can reach us through it any more. */
        close_source(s);
        return -1;
    }
    rt__ledger_feed(&ledger, s, inbuf, (size_t)n);
    rt__ledger_segment_end(&ledger, s);
    grow_if_full(s, n);
    return n;
}

/* Withdrawals of S that matched nothing wait for the other pipe (ledger.h)
 * only while it holds something: what was written there before them is
 * there now, or never was. */
static void settle(enum rt_src s)
{
    enum rt_src other = (enum rt_src)(s ^ 1);
    if (ledger.pending[s].count == 0) {
        return;
    }
    int queued = 0;
    if (src_fd[other] >= 0 && ioctl(src_fd[other], FIONREAD, &queued) == 0 &&
        queued > 0) {
        return;
    }
    if (rec.fd >= 0) {
        int r = rt__recorder_empty_segment(&rec, other);
        if (r < 0) {
            journal_failed(-r);
        }
    }
    rt__ledger_segment_end(&ledger, other);
}

static int all_closed(void)
{
    return src_fd[RT_SRC_A] < 0 && src_fd[RT_SRC_B] < 0;
}

/* Everything still in the pipes, without waiting (a shutdown request). */
static void drain(void)
{
    for (int s = 0; s < RT_SRC_N; s++) {
        while (src_fd[s] >= 0 && take((enum rt_src)s) > 0) {
        }
    }
}

/* ---- shutdown ---- */

static int cleanup_and_report(void)
{
    rt__ledger_finish(&ledger);
    struct rt_cleanup_opts o = {0};
    struct rt_cleanup_result res;
    rt__cleanup_run(&ledger, &o, &res);
    if (res.failed > 0) {
        return RT_EXIT_CLEANUP_FAILED;
    }
    if (res.cleaned > 0 || res.dropped > 0) {
        return RT_EXIT_LEAKS;
    }
    return ledger.bad_lines > 0 ? RT_EXIT_BAD_MESSAGE : RT_EXIT_CLEAN;
}

/* The journal is no longer needed: done, removed, its lock released; then
 * the guardian, which was waiting for that lock, has nothing to do. */
static void retire(void)
{
    if (rec.fd >= 0) {
        static const char done[] = "done\n";
        (void)rt__recorder_meta(&rec, done, sizeof(done) - 1);
        if (args.dir >= 0) {
            (void)unlinkat(args.dir, journal_name, 0);
        }
    }
    if (rec.fd != lock_fd) {
        rt__fd_close(rec.fd);
    }
    rec.fd = -1;
    lock_fd = rt__fd_close(lock_fd);
    args.journal = -1;
    life = rt__guardian_finished(life);
    if (guardian > 0) {
        /* Told on its lifeline, it exits at once (after the sweep of
         * other runs it started, if that is still going). */
        for (int i = 0; i < 1000; i++) {
            if (rt__fd_waitpid(guardian, NULL, WNOHANG) != 0) {
                guardian = -1;
                break;
            }
            struct timespec ms = {0, 1000000L};
            (void)nanosleep(&ms, NULL);
        }
        if (guardian > 0) {
            (void)kill(guardian, SIGKILL);
            (void)rt__fd_waitpid(guardian, NULL, 0);
        }
    }
}

static _Noreturn void finish(struct rt_ctl_req *pending)
{
    for (int s = 0; s < RT_SRC_N; s++) {
        if (src_fd[s] >= 0) {
            close_source((enum rt_src)s);
        }
    }
    ctl_fd = rt__fd_close(ctl_fd);
    int status = cleanup_and_report();
    retire();
    if (pending != NULL) {
        static const char ok[] = "ok\n";
        rt__ctl_reply(pending, ok, sizeof(ok) - 1, -1);
    }
    _exit(status);
}

/* ---- control requests ---- */

static struct rt_ctl_req req;

static void answer(const char *line, int fd)
{
    rt__ctl_reply(&req, line, strlen(line), fd);
}

static void answer_err(int err)
{
    static struct rt_jline l;
    rt__jline_start(&l, "err");
    rt__jline_num(&l, "errno", (uint64_t)err);
    ssize_t n = rt__jline_end(&l);
    rt__ctl_reply(&req, l.buf, n > 0 ? (size_t)n : 0, -1);
}

static void serve_hello(void)
{
    static struct rt_jline l;
    rt__jline_start(&l, "ok");
    rt__jline_num(&l, "pid", (uint64_t)getpid());
    char reads[3] = "";
    size_t k = 0;
    if (src_fd[RT_SRC_A] >= 0) {
        reads[k++] = 'A';
    }
    if (src_fd[RT_SRC_B] >= 0) {
        reads[k++] = 'B';
    }
    reads[k] = '\0';
    rt__jline_str(&l, "reads", k > 0 ? reads : "-");
    /* The types this tracker can clean up, for an adopter that defined
     * its own: one unknown to us must not be reported as registered. */
    char types[RT_RTYPES_MAX * (RT_RTYPE_NAME_MAX + 1) + 1];
    size_t pos = 0;
    unsigned n = rt__rtypes_count();
    for (unsigned t = 0; t < n; t++) {
        const struct rt_rtype *ty = rt__rtypes_get(t);
        if (pos > 0) {
            types[pos++] = ',';
        }
        memcpy(types + pos, ty->name, ty->len);
        pos += ty->len;
    }
    types[pos] = '\0';
    rt__jline_str(&l, "types", types);
    ssize_t len = rt__jline_end(&l);
    rt__ctl_reply(&req, l.buf, len > 0 ? (size_t)len : 0, args.alive);
}

static void serve_attach(void)
{
    struct stat st;
    int fd = req.nfds > 0 ? req.fds[0] : -1;
    if (src_fd[RT_SRC_A] >= 0 || fd < 0) {
        answer_err(src_fd[RT_SRC_A] >= 0 ? EEXIST : EINVAL);
        return;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode) || fl < 0 ||
        (fl & O_ACCMODE) != O_RDONLY ||
        (info.a_ino != 0 &&
         (st.st_dev != info.a_dev || st.st_ino != info.a_ino))) {
        answer_err(EINVAL);
        return;
    }
    req.fds[0] = -1;
    set_nonblocking(fd);
    src_fd[RT_SRC_A] = fd;
    pipe_size[RT_SRC_A] = fcntl(fd, F_GETPIPE_SZ);
    answer("ok\n", -1);
}

static void journal_path(const char *op, unsigned type,
                         const unsigned char *name, size_t len,
                         const struct rt_entry_ext *x)
{
    static struct rt_jline l;
    rt__jline_start(&l, "path");
    rt__jline_str(&l, "op", op);
    rt__jline_str(&l, "rtype", rt__rtypes_get(type)->name);
    rt__jline_b64(&l, "name", name, len);
    if (x != NULL) {
        rt__jline_num(&l, "pdev", x->pdev);
        rt__jline_num(&l, "pino", x->pino);
        if (x->dev != 0 || x->ino != 0) {
            rt__jline_num(&l, "dev", x->dev);
            rt__jline_num(&l, "ino", x->ino);
        }
        rt__jline_num(&l, "pid", (uint64_t)x->pid);
    }
    ssize_t n = rt__jline_end(&l);
    if (n > 0) {
        journal_meta(l.buf, (size_t)n);
    }
}

/* A path registration: from a caller with our very credentials only (else
 * a process that gave up rights could have us remove what it may not).
 * The caller sends the path's folder as it sees it; the path must lead to
 * that very folder for us too, without following any link: a caller in a
 * chroot or a mount namespace of its own, where the path means another
 * file, is refused (EXDEV) rather than have us remove ours. The folder's
 * identity is recorded, and checked again before the removal. */
static void serve_path(void)
{
    static unsigned char name[RT_JOURNAL_LINE_MAX];
    const char *op;
    const char *tn;
    size_t on;
    size_t tl;
    ssize_t len =
        rt__jline_get_b64(req.line, req.len, "name", name, sizeof(name) - 1);
    if (rt__jline_get(req.line, req.len, "op", &op, &on) < 0 ||
        rt__jline_get(req.line, req.len, "rtype", &tn, &tl) < 0 || len <= 0) {
        answer_err(EINVAL);
        return;
    }
    name[len] = '\0';
    int t = rt__rtypes_find(tn, tl);
    int reg = on == 3 && memcmp(op, "reg", 3) == 0;
    if (t < 0 || !(rt__rtypes_get((unsigned)t)->flags & RT_RTYPE_ABSPATH) ||
        memchr(name, '\0', (size_t)len) != NULL ||
        !rt__path_valid((const char *)name, (size_t)len)) {
        answer_err(EINVAL);
        return;
    }
    if (!rt__ctl_same_creds(&req)) {
        answer_err(EPERM);
        return;
    }
    if (!reg) {
        if (rt__ledger_withdraw(&ledger, (unsigned)t, name, (size_t)len) < 0 &&
            reporting()) {
            ledger.bad_lines++;
            rt__diag_not_registered(name, (size_t)len,
                                    rt__rtypes_get((unsigned)t)->name);
        }
        journal_path("unreg", (unsigned)t, name, (size_t)len, NULL);
        answer("ok\n", -1);
        return;
    }
    struct stat theirs;
    struct stat ours;
    struct stat obj;
    size_t base;
    if (req.nfds < 1 || fstat(req.fds[0], &theirs) < 0) {
        answer_err(EINVAL);
        return;
    }
    int dir = rt__path_open_parent((const char *)name, (size_t)len, &base);
    if (dir < 0 || fstat(dir, &ours) < 0 || ours.st_dev != theirs.st_dev ||
        ours.st_ino != theirs.st_ino) {
        rt__fd_close(dir);
        answer_err(dir < 0 && dir != -ENOENT ? -dir : EXDEV);
        return;
    }
    const char *leaf = (const char *)name + base;
    int mounted = rt__path_is_mount(dir, leaf);
    struct rt_entry_ext x = {0, 0, ours.st_dev, ours.st_ino, (int32_t)req.pid,
                             -1};
    if (fstatat(dir, leaf, &obj, AT_SYMLINK_NOFOLLOW) == 0) {
        x.dev = obj.st_dev;
        x.ino = obj.st_ino;
    }
    rt__fd_close(dir);
    if (mounted == 1) {
        /* Never removed: better said now than at the end. */
        answer_err(EBUSY);
        return;
    }
    int r = rt__ledger_add(&ledger, (unsigned)t, name, (size_t)len, 1, &x);
    if (r < 0) {
        answer_err(-r);
        return;
    }
    journal_path("reg", (unsigned)t, name, (size_t)len, &x);
    answer("ok\n", -1);
}

static void serve(void)
{
    for (int k = 0; k < 16; k++) {
        int r = rt__ctl_accept(ctl_fd, &req);
        if (r == -EAGAIN) {
            return;
        }
        if (r < 0) {
            continue;
        }
        if (req.uid != geteuid()) {
            answer_err(EPERM);
        } else if (rt__jline_is(req.line, req.len, "hello")) {
            serve_hello();
        } else if (rt__jline_is(req.line, req.len, "attach")) {
            serve_attach();
        } else if (rt__jline_is(req.line, req.len, "path")) {
            serve_path();
        } else if (rt__jline_is(req.line, req.len, "shutdown") &&
                   (args.flags & RT_TRACK_PID1) && req.pid == args.starter) {
            /* PID 1 is exiting, and the kernel kills its namespace with
             * it, us included: clean up now, then let it go. */
            drain();
            finish(&req);
        } else {
            answer_err(EINVAL);
        }
    }
}

/* ---- whose stderr ---- */

/* The stderr this tracker was given is kept while it may still matter to
 * someone: for good when it is a file or /dev/null; when it is a terminal,
 * a pipe or a socket (a shell's $(...), ssh, a test harness), only while
 * the process that started the tracker lives, or some process of the run
 * still has it as its own stderr. Else a program that daemonized would
 * keep its caller waiting for as long as it runs. */
static int starter_pidfd = -1;
static int starter_polling;
static double next_check = -1;
static double check_every = 1;
static struct stat err_st;

static void watch_stderr(void)
{
    if (fstat(2, &err_st) < 0 || S_ISREG(err_st.st_mode) ||
        (S_ISCHR(err_st.st_mode) && err_st.st_rdev == makedev(1, 3))) {
        return;
    }
#if defined(__linux__) && defined(SYS_pidfd_open)
    int fd = (int)syscall(SYS_pidfd_open, (long)args.starter, 0L);
    if (fd >= 0) {
        starter_pidfd = rt__fd_lift(fd);
        return;
    }
#endif
    /* Before Linux 5.3: ask every second whether it is still there. */
    starter_polling = 1;
}

/* Without a pidfd: the starter is gone when kill(2) says so. */
static void poll_starter(void)
{
    if (starter_polling && kill(args.starter, 0) < 0 && errno == ESRCH) {
        starter_polling = 0;
        next_check = now() + 1;
    }
}

struct holder_scan {
    uint64_t dev[RT_SRC_N], ino[RT_SRC_N];
    int found;
};

/* A process of the run (it holds one of our pipes) whose stderr is ours. */
static int holder_visit(void *ctx, pid_t pid, int fd, uint64_t dev,
                        uint64_t ino, mode_t mode)
{
    struct holder_scan *h = ctx;
    (void)mode;
    if (fd < 0 || pid == getpid() || pid == guardian) {
        return 0;
    }
    for (int s = 0; s < RT_SRC_N; s++) {
        if (dev == h->dev[s] && ino == h->ino[s] && h->ino[s] != 0) {
            char path[48];
            struct stat st;
            char *o = path;
            memcpy(o, "/proc/", 6);
            o += 6;
            o = rt__put_decimal(o, (uint64_t)pid);
            memcpy(o, "/fd/2", 6);
            if (stat(path, &st) == 0 && st.st_dev == err_st.st_dev &&
                st.st_ino == err_st.st_ino) {
                h->found = 1;
                return 1;
            }
        }
    }
    return 0;
}

static void check_stderr(void)
{
    struct holder_scan h = {
        {info.a_dev, info.b_dev}, {info.a_ino, info.b_ino}, 0};
    struct rt_procscan_result res;
    int r = rt__procscan(RT_PROCSCAN_FDS | RT_PROCSCAN_SKIP_SELF, holder_visit,
                         &h, &res);
    if (r >= 0 && !h.found) {
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (null >= 0) {
            (void)dup2(null, 2);
            rt__fd_close(null);
        }
        if (guardian > 0) {
            (void)kill(guardian, SIGUSR1);
        }
        next_check = -1;
        return;
    }
    check_every = check_every * 2 < 60 ? check_every * 2 : 60;
    next_check = now() + check_every;
}

/* ---- the loop ---- */

static void nap(void)
{
    struct timespec ts = {0, BATCH_NAP_NS};
    (void)nanosleep(&ts, NULL);
}

static void loop(void)
{
    for (;;) {
        struct pollfd p[4];
        int n = 0;
        int at[RT_SRC_N] = {-1, -1};
        for (int s = 0; s < RT_SRC_N; s++) {
            if (src_fd[s] >= 0) {
                at[s] = n;
                p[n++] = (struct pollfd){src_fd[s], POLLIN, 0};
            }
        }
        int ctl_at = -1;
        if (ctl_fd >= 0) {
            ctl_at = n;
            p[n++] = (struct pollfd){ctl_fd, POLLIN, 0};
        }
        int pid_at = -1;
        if (starter_pidfd >= 0) {
            pid_at = n;
            p[n++] = (struct pollfd){starter_pidfd, POLLIN, 0};
        }
        int timeout = starter_polling ? 1000 : -1;
        if (next_check >= 0) {
            double wait = next_check - now();
            timeout = wait <= 0 ? 0 : (int)(wait * 1000) + 1;
        }
        int r = poll(p, (nfds_t)n, timeout);
        if (r < 0 && errno != EINTR) {
            /* Nothing sensible is left to wait on. */
            return;
        }
        /* The public pipe first: of two messages found at once, the one
         * written there by a process that then used the library (and so the
         * private pipe) is the older. Order holds within each pipe; across
         * them, the ledger pairs a withdrawal read before its registration
         * (ledger.h). */
        ssize_t moved = 0;
        for (int s = RT_SRC_N - 1; s >= 0 && r > 0; s--) {
            if (at[s] >= 0 && p[at[s]].revents != 0) {
                ssize_t got = take((enum rt_src)s);
                moved += got > 0 ? got : 0;
                settle((enum rt_src)s);
            }
        }
        if (all_closed()) {
            return;
        }
        if (r > 0 && ctl_at >= 0 && p[ctl_at].revents != 0) {
            serve();
        }
        if (r > 0 && pid_at >= 0 && p[pid_at].revents != 0) {
            starter_pidfd = rt__fd_close(starter_pidfd);
            next_check = now() + 1;
        }
        poll_starter();
        if (next_check >= 0 && now() >= next_check) {
            check_stderr();
        }
        rt__recorder_maybe_compact(&rec, &ledger, &info);
        if (moved > 0 && moved < (ssize_t)sizeof(inbuf)) {
            nap();
        }
    }
}

_Noreturn void rt__tracker_run(const struct rt_tracker_args *a)
{
    args = *a;
    setup_signals();
    /* A session of its own: a signal sent to the host's process group
     * (killpg, a terminal's ^C or ^\) does not reach the tracker, so it
     * outlives the group and cleans up after it. */
    (void)setsid();
    /* Do not pin the host's working directory (an unmount would fail);
     * staying where we are is harmless if "/" cannot be entered. */
    if (chdir("/") != 0) {
        errno = 0;
    }
#if defined(__linux__)
    (void)prctl(PR_SET_NAME, "resource_tracker", 0, 0, 0);
#endif
    if (args.flags & RT_TRACK_FORKED) {
        release_shared();
    }
    if (args.alive >= 0) {
        rt__alive_claim(args.alive);
    }
    /* The image (exec path) is not needed past exec. */
    rt__fd_close(RT_FD_IMAGE);
    rt__fd_close_from(RT_FD_LAST + 1);
    /* Listening before "ready": a path registered right after the start
     * finds the socket there. */
    struct stat bst;
    memset(&bst, 0, sizeof(bst));
    if (args.b >= 0 && fstat(args.b, &bst) == 0) {
        info.b_dev = bst.st_dev;
        info.b_ino = bst.st_ino;
        int c = rt__ctl_listen(info.b_dev, info.b_ino);
        ctl_fd = c >= 0 ? c : -1;
    }
    report_ready();
    raise_nofile();
    rt__ledger_init(&ledger, hash_seed(), MAX_NAMES, &report);
    for (int s = 0; s < RT_SRC_N; s++) {
        src_fd[s] = s == RT_SRC_A ? args.a : args.b;
        if (src_fd[s] >= 0) {
            set_nonblocking(src_fd[s]);
            pipe_size[s] = fcntl(src_fd[s], F_GETPIPE_SZ);
        }
    }
    open_journal();
    if (info.b_ino == 0) {
        info.b_dev = bst.st_dev;
        info.b_ino = bst.st_ino;
    }
    if (rec.fd >= 0 && args.dir >= 0) {
        guardian = rt__guardian_start(
            args.dir, journal_name, !(args.flags & RT_TRACK_NO_SWEEP),
            src_fd[RT_SRC_A], src_fd[RT_SRC_B], &life);
    }
    watch_stderr();
    loop();
    finish(NULL);
}
