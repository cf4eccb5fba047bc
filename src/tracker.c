/* SPDX-License-Identifier: MIT */
/* The tracker's main loop. Tracker, single-threaded, AS-safe: it may run in
 * a raw fork of a multithreaded host, so no malloc, stdio or locks. */

/* syscall(2) for rt_sigaction: Linux; elsewhere sigaction alone. */
#define _GNU_SOURCE
#include "tracker.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif

#include "alive.h"
#include "diag.h"
#include "fdio.h"
#include "launch.h" /* the ready record of the status pipe */
#include "registry.h"
#include "rtypes.h"
#include "wire.h"

/* Big reads keep the syscall count per message low when writers burst. */
#define READ_CHUNK 65536

/* The most names held at once: enough for any real program, small enough
 * that a runaway writer cannot exhaust the machine through us. */
#define MAX_NAMES ((size_t)1 << 24)

static unsigned char inbuf[READ_CHUNK];
static unsigned char scratch[RT_WIRE_SCRATCH(READ_CHUNK)];
static struct registry reg;
static unsigned bad_lines;

static void bad(void)
{
    bad_lines++;
    if (bad_lines == RT_DIAG_BAD_LINES_REPORTED + 1) {
        rt__diag_bad_lines_muted();
    }
}

static int reporting(void)
{
    return bad_lines < RT_DIAG_BAD_LINES_REPORTED;
}

static void bad_line(const char *what, const unsigned char *line, size_t len)
{
    if (reporting()) {
        rt__diag_bad_line(what, line, len);
    }
    bad();
}

static void apply(const struct rt_msg *m, int t)
{
    const struct rt_rtype *type = rt__rtypes_get((unsigned)t);
    if (m->cmd == RT_CMD_PROBE) {
        return;
    }
    if (type->flags & RT_RTYPE_PROBE_ONLY) {
        bad_line("the noop type is only for probes", m->name, m->name_len);
        return;
    }
    if ((type->flags & RT_RTYPE_ABSPATH) &&
        (m->name_len == 0 || m->name[0] != '/')) {
        bad_line("not an absolute path", m->name, m->name_len);
        return;
    }
    if (m->cmd == RT_CMD_REGISTER) {
        int r = rt__registry_add(&reg, (unsigned)t, m->name, m->name_len);
        if (r < 0) {
            if (reporting()) {
                rt__diag_cannot_store(m->name, m->name_len, r);
            }
            bad();
        }
        return;
    }
    if (rt__registry_remove(&reg, (unsigned)t, m->name, m->name_len) < 0) {
        if (reporting()) {
            rt__diag_not_registered(m->name, m->name_len, type->name);
        }
        bad();
    }
}

static void handle_line(const unsigned char *line, size_t len)
{
    if (len >= RT_LINE_MAX) {
        bad_line("message too long", line, len);
        return;
    }
    struct rt_msg m;
    int r = rt__wire_parse(line, len, scratch, &m);
    if (r == RT_WIRE_UNKNOWN_CMD) {
        bad_line("unrecognized command", m.cmd_text, m.cmd_len);
        return;
    }
    if (r < 0) {
        bad_line(rt__wire_strerror(r), line, len);
        return;
    }
    int t = rt__rtypes_find((const char *)m.rtype, m.rtype_len);
    if (t < 0) {
        if (reporting()) {
            rt__diag_unknown_rtype(m.name, m.name_len, m.rtype, m.rtype_len);
        }
        bad();
        return;
    }
    apply(&m, t);
}

/* After a read that did not fill the buffer, the tracker naps this long
 * before reading again. While it naps it is not waiting on the pipe, so a
 * writer's write(2) has no reader to wake: during a burst of messages the
 * writers pay no wake-up (nor, with one CPU for both, a context switch) per
 * message, and the tracker takes them in large reads. When the pipe is
 * empty the next read blocks as usual, so an idle tracker sleeps. */
#define BATCH_NAP_NS 100000

static void nap(void)
{
    struct timespec ts = {0, BATCH_NAP_NS};
    (void)nanosleep(&ts, NULL);
}

/* Reads until EOF, handing each complete line over. A line longer than
 * RT_LINE_MAX is reported once and skipped up to its newline. */
static void read_loop(int fd)
{
    size_t have = 0;
    int skipping = 0;
    for (;;) {
        ssize_t n = rt__fd_read(fd, inbuf + have, sizeof(inbuf) - have);
        if (n <= 0) {
            /* EOF, or an error no retry would cure: either way no writer
             * can reach us any more. */
            break;
        }
        int full = (size_t)n == sizeof(inbuf) - have;
        have += (size_t)n;
        size_t start = 0;
        for (;;) {
            unsigned char *nl = memchr(inbuf + start, '\n', have - start);
            if (nl == NULL) {
                break;
            }
            size_t len = (size_t)(nl - (inbuf + start));
            if (!skipping) {
                handle_line(inbuf + start, len);
            }
            skipping = 0;
            start += len + 1;
        }
        size_t rest = have - start;
        if (!skipping && rest >= RT_LINE_MAX) {
            bad_line("message too long", inbuf + start, rest);
            skipping = 1;
        }
        if (skipping) {
            rest = 0;
        }
        memmove(inbuf, inbuf + start, rest);
        have = rest;
        if (!full) {
            nap();
        }
    }
    if (have > 0 && !skipping) {
        handle_line(inbuf, have);
    }
}

/* Cleans up every type's leftovers, newest first (a folder registered after
 * the file inside it goes after that file). Returns the exit status. */
static int shutdown_report(void)
{
    int leaks = 0;
    int failed = 0;
    unsigned n = rt__rtypes_count();
    for (unsigned t = 0; t < n; t++) {
        size_t count = rt__registry_count(&reg, t);
        if (count == 0) {
            continue;
        }
        leaks = 1;
        rt__diag_leaks_begin(rt__rtypes_get(t)->name, count);
        for (const struct rt_entry *e = rt__registry_first(&reg, t); e != NULL;
             e = e->next) {
            rt__diag_leaks_name(e->name, e->len);
        }
        rt__diag_leaks_end();
        for (const struct rt_entry *e = rt__registry_last(&reg, t); e != NULL;
             e = e->prev) {
            int err = rt__rtypes_cleanup(t, (const char *)e->name);
            if (err != 0) {
                rt__diag_cleanup_failed(e->name, e->len, err);
                failed = 1;
            }
        }
    }
    if (failed) {
        return RT_EXIT_CLEANUP_FAILED;
    }
    if (leaks) {
        return RT_EXIT_LEAKS;
    }
    return bad_lines > 0 ? RT_EXIT_BAD_MESSAGE : RT_EXIT_CLEAN;
}

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
     * while writers fill its pipe. */
    struct sigaction ign;
    memset(&ign, 0, sizeof(ign));
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    for (int sig = 1; sig < 65; sig++) {
        if (ends_process(sig)) {
            /* Numbers the system does not have are refused: fine. */
            (void)sigaction(sig, &ign, NULL);
        }
    }
    /* The launcher blocked every signal across the spawn so that none could
     * arrive before the dispositions above were in place (bpo-33613). */
    sigset_t none;
    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
}

static uint64_t hash_seed(void)
{
    struct timespec ts = {0, 0};
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t local = (uint64_t)(uintptr_t)&ts;
    return ((uint64_t)ts.tv_nsec << 32) ^ (uint64_t)ts.tv_sec ^
           ((uint64_t)getpid() << 16) ^ local;
}

static void report_ready(int status_fd)
{
    struct rt_launch_report rep = {RT_REPORT_READY, 0};
    if (status_fd >= 0) {
        /* A launcher that is gone has nothing to learn. */
        (void)rt__fd_write_msg(status_fd, &rep, sizeof(rep));
    }
}

_Noreturn void rt__tracker_run(int fd, int alive_fd, int status_fd)
{
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
    if (alive_fd >= 0) {
        rt__alive_claim(alive_fd);
    }
    /* Everything but FD and the status pipe goes first: once the launcher
     * hears "ready", the tracker holds nothing of the host's. */
    int top = status_fd > fd ? status_fd : fd;
    for (int other = 3; other < top; other++) {
        if (other != fd && other != status_fd) {
            rt__fd_close(other);
        }
    }
    rt__fd_close_from(top + 1);
    report_ready(status_fd);
    if (status_fd != fd) {
        rt__fd_close(status_fd);
    }
    rt__registry_init(&reg, hash_seed(), MAX_NAMES, 0);
    read_loop(fd);
    rt__fd_close(fd);
    _exit(shutdown_report());
}
