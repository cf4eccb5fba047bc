/* SPDX-License-Identifier: MIT */
/* Random kill: workers create and destroy objects through the wrappers in
 * a loop and are SIGKILLed at a random instant; whatever instant it was,
 * nothing they created may outlive the tracker. Standalone program (no
 * cmocka).
 *
 *   random-kill [--kill-tracker] [ITERATIONS] [SEED]
 *                                  (default 1000 iterations, random seed)
 *
 * The runner (main) never calls the library: it is a child subreaper, so
 * the tracker becomes its child and its exit status can be read. The host,
 * forked by the runner, starts the tracker, then for each iteration forks
 * a worker and SIGKILLs it 0 to 3 ms later (a few at a time), the delays
 * drawn from a PRNG seeded with SEED. Before creating an object a worker
 * appends its name to a log (one O_APPEND write per line), so the runner
 * can look for every name ever used once the tracker is gone: message
 * queues cannot be listed where /dev/mqueue is not mounted. Exit status 0
 * when nothing leaked and the tracker said nothing unexpected.
 *
 * With --kill-tracker the host also SIGKILLs the tracker at random
 * iterations (about one in KILL_EVERY), and its guardian with it one time
 * in three: the workers (and the host) relaunch it or join the one another
 * relaunched, each relaunch warning once. Nothing may be left either; the
 * tracker checked at the end is the last one.
 *
 * The run has a state directory of its own (RESOURCE_TRACKER_DIR), removed
 * at the end: the journals of other programs' runs are none of its
 * business, nor are the lines their sweeps would print. */

/* prctl(PR_SET_CHILD_SUBREAPER): Linux only; without it the tracker would be
 * init's child and its exit status could not be read. */
#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <mqueue.h>
#include <poll.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"
#include "resourcetracker.h"

#define PARALLEL 4        /* workers alive at once */
#define MAX_DELAY_US 3000 /* a worker is killed 0 to this long after fork */
#define MAX_ITERATIONS 10000000L
#define KILL_EVERY 40    /* --kill-tracker: a kill every 40 iterations or so */
#define SHOWN PROC_SHOWN /* leaked names and lines printed in full */

/* Deadlines, in seconds before RT_TEST_TIMEOUT_MULTIPLIER. */
#define ITER_SECONDS 0.05 /* per iteration, on top of RUN_SECONDS */
#define RUN_SECONDS 60.0
#define EXIT_SECONDS 60.0   /* the tracker gone after the host */
#define WORKER_SECONDS 60.0 /* a worker nobody kills gives up */

enum kind { SHM, SEM, MQ, FILE_, KINDS };

static const char *const kind_tag[KINDS] = {"shm", "sem", "mq", "file"};

struct config {
    long iterations;
    uint64_t seed;
    int kill_tracker; /* --kill-tracker */
    char prefix[64];  /* "/rt-rk-PID" */
    char errpath[96];
    char logpath[96];
    char statedir[96];
};

/* ---- time, processes, lines --------------------------------------------- */

/* Sleeps until the CLOCK_MONOTONIC instant AT (as proc_now() counts). */
static void sleep_until(double at)
{
    struct timespec ts;
    ts.tv_sec = (time_t)at;
    ts.tv_nsec = (long)((at - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_nsec = 999999999L;
    }
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
           EINTR) {
    }
}

/* The entries of /dev/shm when the run started: anything new at the end
 * that does not carry the prefix is a leak no prefix scan would see, such
 * as the temporary file a libc's sem_open writes before linking it into
 * place ("sem.XXXXXX"). */
#define SNAPSHOT_MAX 4096
static char *snapshot[SNAPSHOT_MAX];
static int nsnapshot;

static void take_snapshot(void)
{
    DIR *d = opendir("/dev/shm");
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL && nsnapshot < SNAPSHOT_MAX) {
        snapshot[nsnapshot++] = strdup(e->d_name);
    }
    if (d != NULL) {
        (void)closedir(d);
    }
}

static int in_snapshot(const char *name)
{
    for (int i = 0; i < nsnapshot; i++) {
        if (snapshot[i] != NULL && strcmp(snapshot[i], name) == 0) {
            return 1;
        }
    }
    return 0;
}

/* New entries of /dev/shm since the snapshot, printed; those shaped like a
 * libc semaphore temporary are removed (nothing else of the machine's is
 * touched). */
static long new_entries(void)
{
    DIR *d = opendir("/dev/shm");
    long count = 0;
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (in_snapshot(e->d_name)) {
            continue;
        }
        if (count++ < SHOWN) {
            printf("random-kill: new in /dev/shm: %s\n", e->d_name);
        }
        if (strncmp(e->d_name, "sem.", 4) == 0 && strlen(e->d_name) == 10) {
            char path[PATH_MAX];
            snprintf(path, sizeof(path), "/dev/shm/%s", e->d_name);
            (void)unlink(path);
        }
    }
    if (d != NULL) {
        (void)closedir(d);
    }
    return count;
}

/* splitmix64: small, and the same sequence everywhere for one seed. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* ---- worker ------------------------------------------------------------- */

/* Appends "TAG NAME\n" to the log in one write: O_APPEND keeps concurrent
 * lines whole. */
static int log_name(int logfd, enum kind k, const char *name)
{
    char line[256];
    int n = snprintf(line, sizeof(line), "%s %s\n", kind_tag[k], name);
    if (n < 0 || (size_t)n >= sizeof(line)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    ssize_t w;
    do {
        w = write(logfd, line, (size_t)n);
    } while (w < 0 && errno == EINTR);
    if (w != n) {
        errno = w < 0 ? errno : EIO;
        return -1;
    }
    return 0;
}

/* A file done as the wrappers do: register before create, unlink before
 * unregister, and withdraw the registration if the creation fails.
 *
 * A path goes through the tracker's control socket. If the tracker dies
 * after taking the request and before answering (only with
 * --kill-tracker), the call fails with EPIPE: the request may or may not
 * have been acted on, and the API allows that. The worker then does what
 * a program should: it does not create a file whose registration it is not
 * sure of; after an unlink, the name may stay registered (the tracker's
 * later cleanup finds it gone, "[Errno 2]"). *UNSURE counts them. */
static const char *file_cycle(const char *name, int *unsure)
{
    if (rt_register(name, RT_FILE) < 0) {
        if (errno == EPIPE && unsure != NULL) {
            ++*unsure;
            return NULL;
        }
        return "rt_register";
    }
    int fd = open(name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0) {
        int err = errno;
        (void)rt_unregister(name, RT_FILE);
        errno = err;
        return "open";
    }
    (void)close(fd);
    if (unlink(name) < 0) {
        return "unlink";
    }
    if (rt_unregister(name, RT_FILE) < 0) {
        if (errno == EPIPE && unsure != NULL) {
            ++*unsure;
            return NULL;
        }
        return "rt_unregister";
    }
    return NULL;
}

/* Creates NAME of kind K and destroys it again. Returns NULL, or the name
 * of the call that failed (errno set). */
static const char *cycle(enum kind k, const char *name, int *unsure)
{
    switch (k) {
    case SHM: {
        int fd = rt_shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
        if (fd < 0) {
            return "rt_shm_open";
        }
        (void)close(fd);
        return rt_shm_unlink(name) < 0 ? "rt_shm_unlink" : NULL;
    }
    case SEM: {
        sem_t *s = rt_sem_open(name, O_CREAT | O_EXCL, 0600, 0);
        if (s == SEM_FAILED) {
            return "rt_sem_open";
        }
        (void)sem_close(s);
        return rt_sem_unlink(name) < 0 ? "rt_sem_unlink" : NULL;
    }
    case MQ: {
        struct mq_attr attr = {.mq_maxmsg = 1, .mq_msgsize = 16};
        mqd_t q = rt_mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
        if (q == (mqd_t)-1) {
            return "rt_mq_open";
        }
        (void)mq_close(q);
        return rt_mq_unlink(name) < 0 ? "rt_mq_unlink" : NULL;
    }
    case FILE_:
    case KINDS:
        break;
    }
    return file_cycle(name, unsure);
}

static void object_name(char *buf, size_t len, const struct config *cfg,
                        enum kind k, long pid, unsigned long n)
{
    snprintf(buf, len, "%s%s-%ld-%lu-%s", k == FILE_ ? "/tmp" : "", cfg->prefix,
             pid, n, kind_tag[k]);
}

/* Runs in a forked worker until it is killed. Returns the exit code for
 * the case it was not: 1 a call failed (reported), 2 nobody killed it. */
static int worker(const struct config *cfg, int logfd, int report)
{
    long pid = (long)getpid();
    double deadline = proc_now() + proc_scaled(WORKER_SECONDS);
    for (unsigned long n = 0;; n++) {
        if (n % 16 == 0 && proc_now() > deadline) {
            return 2;
        }
        enum kind k = (enum kind)(n % KINDS);
        char name[128];
        object_name(name, sizeof(name), cfg, k, pid, n);
        int unsure = 0;
        const char *failed =
            log_name(logfd, k, name) < 0
                ? "log write"
                : cycle(k, name, cfg->kill_tracker ? &unsure : NULL);
        if (unsure > 0) {
            proc_say(report, "unsure %s", name);
        }
        if (failed != NULL) {
            proc_say(report, "fail worker %ld: %s %s: %s", pid, failed, name,
                     strerror(errno));
            return 1;
        }
    }
}

/* ---- host --------------------------------------------------------------- */

struct slot {
    pid_t pid;
    double kill_at;
};

struct tally {
    long started;
    long killed;              /* died of our SIGKILL, as they should */
    long other;               /* ended some other way: a failure */
    long trackers, guardians; /* --kill-tracker: how many we killed */
    long unsure; /* path calls that failed with EPIPE (see file_cycle) */
};

/* Whether the runner is gone (its lifeline reads as end-of-file). */
static int runner_gone(int lifeline)
{
    struct pollfd pf = {lifeline, POLLIN, 0};
    return poll(&pf, 1, 0) > 0;
}

/* Kills the worker of slot S at its instant and reaps it. */
static void kill_one(const struct slot *s, struct tally *t, int report)
{
    sleep_until(s->kill_at);
    (void)kill(s->pid, SIGKILL);
    int st;
    if (proc_wait_exact(s->pid, proc_now() + proc_scaled(10), &st) < 0) {
        proc_say(report, "fail host: worker %ld not reaped: %s", (long)s->pid,
                 strerror(errno));
        t->other++;
    } else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) {
        t->killed++;
    } else {
        proc_say(report, "fail host: worker %ld ended with status 0x%x",
                 (long)s->pid, (unsigned)st);
        t->other++;
    }
}

/* The guardian of TRACKER (its child named resource_guard), or -1. */
static pid_t guardian_of(pid_t tracker)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    pid_t found = -1;
    while (d != NULL && found < 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9') {
            continue;
        }
        char path[300];
        snprintf(path, sizeof(path), "/proc/%s/status", e->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            continue;
        }
        /* /proc files have no size to go by: one read of the start. */
        char text[512];
        ssize_t n = read(fd, text, sizeof(text) - 1);
        (void)close(fd);
        text[n > 0 ? n : 0] = '\0';
        const char *ppid = strstr(text, "\nPPid:\t");
        if (strncmp(text, "Name:\tresource_guard\n", 21) == 0 && ppid != NULL &&
            atol(ppid + 7) == (long)tracker) {
            found = (pid_t)atol(e->d_name);
        }
    }
    if (d != NULL) {
        (void)closedir(d);
    }
    return found;
}

/* --kill-tracker: SIGKILLs the run's tracker as it is now (after joining
 * the one a worker may have relaunched), and one time in three its
 * guardian first. */
static void kill_tracker(uint64_t *rng, struct tally *t, int report)
{
    if (rt_ensure_running() < 0) {
        proc_say(report, "fail host rt_ensure_running: %s", strerror(errno));
        t->other++;
        return;
    }
    pid_t tracker = rt_tracker_pid();
    if (tracker <= 0) {
        proc_say(report, "fail host: no tracker pid");
        t->other++;
        return;
    }
    if (next_random(rng) % 3 == 0) {
        pid_t guardian = guardian_of(tracker);
        if (guardian > 0 && kill(guardian, SIGKILL) == 0) {
            t->guardians++;
        }
    }
    if (kill(tracker, SIGKILL) == 0) {
        t->trackers++;
    }
}

/* Runs in the host: starts the tracker, then keeps PARALLEL workers going,
 * each killed at its random instant, until ITERATIONS were started.
 * Returns its exit code: 0 when every worker died of our SIGKILL. */
/* What the host runs with: the run's settings and the log of names. */
struct host_args {
    const struct config *cfg;
    int logfd;
};

static int host(void *arg, int report, int lifeline)
{
    const struct config *cfg = ((const struct host_args *)arg)->cfg;
    int logfd = ((const struct host_args *)arg)->logfd;
    if (rt_ensure_running() < 0) {
        proc_say(report, "fail host rt_ensure_running: %s", strerror(errno));
        return 1;
    }
    proc_say(report, "tracker %ld", (long)rt_tracker_pid());
    uint64_t rng = cfg->seed;
    /* The kills have a sequence of their own: the workers' delays stay
     * what the seed gives without --kill-tracker. */
    uint64_t kill_rng = cfg->seed ^ 0x6b696c6c74726b72ULL;
    struct slot slots[PARALLEL];
    int active = 0;
    int stop = 0;
    struct tally t = {0, 0, 0, 0, 0, 0};
    for (;;) {
        if (cfg->kill_tracker && !stop &&
            next_random(&kill_rng) % KILL_EVERY == 0) {
            kill_tracker(&kill_rng, &t, report);
        }
        while (!stop && active < PARALLEL && t.started < cfg->iterations) {
            double delay = (double)(next_random(&rng) % (MAX_DELAY_US + 1));
            pid_t pid = fork();
            if (pid == 0) {
                _exit(worker(cfg, logfd, report));
            }
            if (pid < 0) {
                proc_say(report, "fail host fork: %s", strerror(errno));
                stop = 1;
                break;
            }
            slots[active++] = (struct slot){pid, proc_now() + delay / 1e6};
            t.started++;
            stop = runner_gone(lifeline);
        }
        if (active == 0) {
            break;
        }
        int first = 0;
        for (int i = 1; i < active; i++) {
            if (slots[i].kill_at < slots[first].kill_at) {
                first = i;
            }
        }
        kill_one(&slots[first], &t, report);
        slots[first] = slots[--active];
    }
    if (cfg->kill_tracker) {
        /* The tracker that ends the run: whichever runs now (relaunched
         * here if the last kill found no taker). */
        if (rt_ensure_running() < 0) {
            proc_say(report, "fail host rt_ensure_running: %s",
                     strerror(errno));
            t.other++;
        }
        proc_say(report, "tracker %ld", (long)rt_tracker_pid());
        proc_say(report, "kills %ld %ld", t.trackers, t.guardians);
    }
    proc_say(report, "done %ld %ld %ld", t.started, t.killed, t.other);
    return t.started == cfg->iterations && t.other == 0 ? 0 : 1;
}

/* ---- runner ------------------------------------------------------------- */

/* Whether the object NAME of kind K still exists; a leftover is removed. */
static int still_there(enum kind k, const char *name)
{
    char path[PATH_MAX];
    struct stat st;
    switch (k) {
    case SHM:
        snprintf(path, sizeof(path), "/dev/shm%s", name);
        return lstat(path, &st) == 0 && shm_unlink(name) == 0;
    case SEM:
        snprintf(path, sizeof(path), "/dev/shm/sem.%s", name + 1);
        return lstat(path, &st) == 0 && sem_unlink(name) == 0;
    case MQ: {
        mqd_t q = mq_open(name, O_RDONLY);
        if (q == (mqd_t)-1) {
            if (errno != ENOENT) {
                proc_problem("mq_open %s: %s", name, strerror(errno));
            }
            return 0;
        }
        (void)mq_close(q);
        (void)mq_unlink(name);
        return 1;
    }
    case FILE_:
    case KINDS:
        break;
    }
    return lstat(name, &st) == 0 && unlink(name) == 0;
}

/* Looks for every logged name. Returns how many still existed; fills
 * COUNTS (names logged per kind). */
static long check_log(const struct config *cfg, long counts[KINDS])
{
    size_t len;
    char *text = proc_slurp(cfg->logpath, &len);
    if (text == NULL) {
        proc_problem("cannot read %s: %s", cfg->logpath, strerror(errno));
        return 0;
    }
    long leaked = 0;
    for (char *line = text; *line != '\0';) {
        char *nl = strchr(line, '\n');
        if (nl == NULL) {
            proc_problem("log ends in a partial line");
            break;
        }
        *nl = '\0';
        char *space = strchr(line, ' ');
        int k = 0;
        while (space != NULL && k < KINDS &&
               (strncmp(line, kind_tag[k], (size_t)(space - line)) != 0 ||
                kind_tag[k][space - line] != '\0')) {
            k++;
        }
        if (space == NULL || k == KINDS) {
            proc_problem("bad log line '%s'", line);
        } else {
            counts[k]++;
            if (still_there((enum kind)k, space + 1)) {
                if (leaked++ < SHOWN) {
                    printf("random-kill: leaked %s %s\n", kind_tag[k],
                           space + 1);
                }
            }
        }
        line = nl + 1;
    }
    free(text);
    return leaked;
}

static int known_rtype(const char *rtype)
{
    return strcmp(rtype, RT_SHARED_MEMORY) == 0 ||
           strcmp(rtype, RT_SEMAPHORE) == 0 || strcmp(rtype, RT_MQUEUE) == 0 ||
           strcmp(rtype, RT_FILE) == 0;
}

/* Whether LINE begins as the leak line for COUNT names of RTYPE does. */
static int is_leak_head(const char *line, long count, const char *rtype)
{
    char head[160];
    int n = snprintf(head, sizeof(head),
                     "resource_tracker: There appear to be %ld leaked %s "
                     "objects to clean up at shutdown: {",
                     count, rtype);
    return n > 0 && strncmp(line, head, (size_t)n) == 0;
}

struct tracker_report {
    long left;       /* names it held at the end (the leak lines' counts) */
    long gone;       /* of those, already gone ([Errno 2]) */
    long relaunches; /* --kill-tracker: relaunch warnings */
    long other;      /* any other line */
};

/* Reads the tracker's stderr: leak lines and "[Errno 2]" lines are what a
 * kill at any instant can cause; anything else is a failure. */
static void check_stderr(const struct config *cfg, struct tracker_report *r)
{
    size_t len;
    char *buf = proc_slurp(cfg->errpath, &len);
    if (buf == NULL) {
        proc_problem("cannot read %s: %s", cfg->errpath, strerror(errno));
        return;
    }
    static const char leak[] = "resource_tracker: There appear to be ";
    static const char gone[] = ": [Errno 2] No such file or directory";
    static const char relaunch[] =
        "resource_tracker: process died unexpectedly, relaunching.  The new "
        "tracker took over what it held.";
    for (char *line = buf; *line != '\0';) {
        char *nl = strchr(line, '\n');
        if (nl != NULL) {
            *nl = '\0';
        }
        size_t ll = strlen(line);
        long n;
        char rtype[32];
        if (strncmp(line, leak, sizeof(leak) - 1) == 0 &&
            sscanf(line + sizeof(leak) - 1, "%ld leaked %31s", &n, rtype) ==
                2 &&
            known_rtype(rtype) && is_leak_head(line, n, rtype) &&
            line[ll - 1] == '}') {
            r->left += n;
        } else if (strncmp(line, "resource_tracker: '", 19) == 0 &&
                   ll > sizeof(gone) &&
                   strcmp(line + ll - (sizeof(gone) - 1), gone) == 0) {
            r->gone++;
        } else if (cfg->kill_tracker && strcmp(line, relaunch) == 0) {
            r->relaunches++;
        } else {
            if (r->other++ < SHOWN) {
                fputs("random-kill: unexpected stderr line: ", stdout);
                proc_print_escaped(line);
            }
        }
        if (nl == NULL) {
            break;
        }
        line = nl + 1;
    }
    free(buf);
}

/* Reads what the host and the workers report until the last of them has
 * closed the pipe. Fills *RET_TRACKER and, from the host's last line, T.
 * Returns 0, or -1 at the deadline. */
static int collect_reports(struct proc_reader *r, double deadline,
                           pid_t *ret_tracker, struct tally *t)
{
    char line[512];
    long kills[2] = {0, 0};
    long unsure = 0;
    while (proc_read_line(r, line, sizeof(line), deadline) >= 0) {
        long a;
        long b;
        long c;
        if (sscanf(line, "tracker %ld", &a) == 1) {
            /* The last one said is the one that ends the run. */
            *ret_tracker = (pid_t)a;
        } else if (sscanf(line, "kills %ld %ld", &a, &b) == 2) {
            kills[0] = a;
            kills[1] = b;
        } else if (strncmp(line, "unsure ", 7) == 0) {
            unsure++;
        } else if (sscanf(line, "done %ld %ld %ld", &a, &b, &c) == 3) {
            *t = (struct tally){a, b, c, kills[0], kills[1], 0};
        } else {
            proc_problem("%s", line);
        }
    }
    if (errno != 0) {
        proc_problem("reports: %s", strerror(errno));
        return -1;
    }
    t->unsure = unsure;
    return 0;
}

static int parse_args(int argc, char **argv, struct config *cfg)
{
    cfg->kill_tracker = 0;
    if (argc > 1 && strcmp(argv[1], "--kill-tracker") == 0) {
        cfg->kill_tracker = 1;
        argc--;
        argv++;
    }
    cfg->iterations = 1000;
    struct timespec ts;
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    cfg->seed = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^
                ((uint64_t)getpid() << 40);
    if (argc > 3) {
        return -1;
    }
    char *end;
    if (argc > 1) {
        cfg->iterations = strtol(argv[1], &end, 10);
        if (*end != '\0' || cfg->iterations < 1 ||
            cfg->iterations > MAX_ITERATIONS) {
            return -1;
        }
    }
    if (argc > 2) {
        errno = 0;
        cfg->seed = (uint64_t)strtoull(argv[2], &end, 0);
        if (*end != '\0' || argv[2][0] == '\0' || errno != 0) {
            return -1;
        }
    }
    snprintf(cfg->prefix, sizeof(cfg->prefix), "/rt-rk-%ld", (long)getpid());
    snprintf(cfg->errpath, sizeof(cfg->errpath), "/tmp%s.stderr", cfg->prefix);
    snprintf(cfg->logpath, sizeof(cfg->logpath), "/tmp%s.log", cfg->prefix);
    snprintf(cfg->statedir, sizeof(cfg->statedir), "/tmp%s.state", cfg->prefix);
    return 0;
}

/* Removes the run's state directory and what is in it. Returns how many
 * files were in it (a run that ended cleanly leaves none). */
static int remove_statedir(const struct config *cfg)
{
    DIR *d = opendir(cfg->statedir);
    int n = 0;
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            char path[PATH_MAX];
            snprintf(path, sizeof(path), "%s/%s", cfg->statedir, e->d_name);
            if (n++ < SHOWN) {
                printf("random-kill: left in the state directory: %s\n",
                       e->d_name);
            }
            (void)unlink(path);
        }
    }
    if (d != NULL) {
        (void)closedir(d);
    }
    (void)rmdir(cfg->statedir);
    return n;
}

/* Everything the runner checks once the tracker is gone. */
static void check_all(const struct config *cfg, int status,
                      const struct tally *t, double elapsed)
{
    long counts[KINDS] = {0, 0, 0, 0};
    long leaked = check_log(cfg, counts);
    char objects[80];
    snprintf(objects, sizeof(objects), "%s-", cfg->prefix + 1);
    long stray = proc_scan_prefix("/dev/shm", objects, 1, 1) +
                 proc_scan_prefix("/tmp", objects, 0, 1);
    stray += new_entries();
    struct tracker_report r = {0, 0, 0, 0};
    check_stderr(cfg, &r);
    long created = counts[SHM] + counts[SEM] + counts[MQ] + counts[FILE_];
    printf("random-kill: %ld iterations (%ld killed), %ld objects created "
           "(%ld shm, %ld sem, %ld mq, %ld file), leaked %ld (and %ld "
           "other new entries)\n",
           t->started, t->killed, created, counts[SHM], counts[SEM], counts[MQ],
           counts[FILE_], leaked, stray);
    printf("random-kill: tracker exit status %d; it held %ld names at the "
           "end, %ld of them already gone; %ld unexpected stderr lines; "
           "%.3f s\n",
           status, r.left, r.gone, r.other, elapsed);
    if (leaked != 0 || stray != 0) {
        proc_problem("objects outlived the tracker");
    }
    if (r.other != 0) {
        proc_problem("unexpected lines on the tracker's stderr");
    }
    if (cfg->kill_tracker) {
        printf("random-kill: %ld trackers killed (%ld with their guardian), "
               "%ld relaunches, %ld path calls unanswered (EPIPE)\n",
               t->trackers, t->guardians, r.relaunches, t->unsure);
        /* Each kill is followed by one relaunch at most (a kill can also
         * find a tracker a worker relaunched and nobody used yet). */
        if (r.relaunches > t->trackers ||
            (t->trackers > 0 && r.relaunches == 0)) {
            proc_problem("%ld relaunch warnings for %ld kills", r.relaunches,
                         t->trackers);
        }
    }
    int want = r.gone > 0 ? 2 : r.left > 0 ? 1 : 0;
    if (status != want) {
        proc_problem("tracker exit status %d, its report implies %d", status,
                     want);
    }
    if (t->started != cfg->iterations || t->killed != t->started) {
        proc_problem("%ld of %ld workers started, %ld killed", t->started,
                     cfg->iterations, t->killed);
    }
}

/* Forks the host and follows the run until the tracker is gone. Returns
 * the tracker's exit status, or -1 (reported) on failure. *RET_HOST and
 * *RET_TRACKER are the pids still to be dealt with (-1 once reaped). */
static int run(const struct config *cfg, int fds[4], struct tally *t,
               pid_t *ret_host, pid_t *ret_tracker)
{
    int report[2] = {fds[0], fds[1]};
    int lifeline[2] = {fds[2], fds[3]};
    int errfd = open(cfg->errpath,
                     O_CREAT | O_EXCL | O_WRONLY | O_APPEND | O_CLOEXEC, 0600);
    int logfd = open(cfg->logpath,
                     O_CREAT | O_EXCL | O_WRONLY | O_APPEND | O_CLOEXEC, 0600);
    struct host_args args = {cfg, logfd};
    pid_t hpid = errfd < 0 || logfd < 0
                     ? -1
                     : proc_start_host(errfd, report, lifeline, host, &args);
    int err = errno;
    (void)close(fds[1]);
    fds[1] = -1;
    (void)close(errfd);
    (void)close(logfd);
    if (hpid < 0) {
        proc_problem("setup: %s", strerror(err));
        return -1;
    }
    *ret_host = hpid;
    struct proc_reader r = {report[0], 0, ""};
    double deadline =
        proc_now() +
        proc_scaled(RUN_SECONDS + ITER_SECONDS * (double)cfg->iterations);
    if (collect_reports(&r, deadline, ret_tracker, t) < 0) {
        return -1;
    }
    int st;
    if (proc_wait_exact(hpid, proc_now() + proc_scaled(EXIT_SECONDS), &st) <
        0) {
        proc_problem("host did not exit: %s", strerror(errno));
        return -1;
    }
    *ret_host = -1;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        proc_problem("host ended with status 0x%x", (unsigned)st);
    }
    if (*ret_tracker <= 0) {
        proc_problem("the host never reported its tracker");
        return -1;
    }
    if (proc_wait_exact(*ret_tracker, proc_now() + proc_scaled(EXIT_SECONDS),
                        &st) < 0) {
        proc_problem("tracker %ld did not exit: %s", (long)*ret_tracker,
                     strerror(errno));
        return -1;
    }
    *ret_tracker = -1;
    if (!WIFEXITED(st)) {
        proc_problem("tracker ended with status 0x%x", (unsigned)st);
        return -1;
    }
    return WEXITSTATUS(st);
}

int main(int argc, char **argv)
{
    proc_name = "random-kill";
    struct config cfg;
    if (parse_args(argc, argv, &cfg) < 0) {
        fprintf(stderr,
                "usage: random-kill [--kill-tracker] [ITERATIONS (1-%ld)] "
                "[SEED]\n",
                MAX_ITERATIONS);
        return 2;
    }
    if (prctl(PR_SET_CHILD_SUBREAPER, 1L, 0L, 0L, 0L) < 0) {
        perror("random-kill: PR_SET_CHILD_SUBREAPER");
        return 1;
    }
    const char *mode = cfg.kill_tracker ? "--kill-tracker " : "";
    printf("random-kill: %s%ld iterations, seed %" PRIu64 " (to reproduce: "
           "random-kill %s%ld %" PRIu64 "), %d workers at a time, each killed "
           "0-%d us after fork, prefix %s\n",
           mode, cfg.iterations, cfg.seed, mode, cfg.iterations, cfg.seed,
           PARALLEL, MAX_DELAY_US, cfg.prefix);
    /* A previous run with this pid may have left something. */
    (void)proc_scan_prefix("/dev/shm", cfg.prefix + 1, 1, 1);
    (void)proc_scan_prefix("/tmp", cfg.prefix + 1, 0, 1);
    remove_statedir(&cfg);
    if (mkdir(cfg.statedir, 0700) < 0 ||
        setenv("RESOURCE_TRACKER_DIR", cfg.statedir, 1) < 0) {
        perror("random-kill: state directory");
        return 1;
    }
    take_snapshot();
    int fds[4] = {-1, -1, -1, -1};
    if (pipe2(fds, O_CLOEXEC) < 0 || pipe2(fds + 2, O_CLOEXEC) < 0) {
        perror("random-kill: pipe");
        return 1;
    }
    double t0 = proc_now();
    struct tally t = {0, 0, 0, 0, 0, 0};
    pid_t hpid = -1;
    pid_t tracker = -1;
    int status = run(&cfg, fds, &t, &hpid, &tracker);
    if (status >= 0) {
        check_all(&cfg, status, &t, proc_now() - t0);
    }
    /* Whatever went wrong: no worker, host or tracker outlives the run,
     * and nothing with the prefix stays behind. */
    if (hpid > 0) {
        (void)kill(-hpid, SIGKILL);
    }
    if (tracker > 0) {
        int st;
        if (proc_wait_exact(tracker, proc_now() + proc_scaled(EXIT_SECONDS),
                            &st) < 0) {
            (void)kill(tracker, SIGKILL);
        }
    }
    for (int i = 0; i < 4; i++) {
        (void)close(fds[i]);
    }
    proc_reap_all(proc_now() + proc_scaled(EXIT_SECONDS));
    if (status < 0) {
        /* The log names the message queues, which cannot be listed. */
        long counts[KINDS] = {0, 0, 0, 0};
        (void)check_log(&cfg, counts);
    }
    (void)proc_scan_prefix("/dev/shm", cfg.prefix + 1, 1, 1);
    (void)proc_scan_prefix("/tmp", cfg.prefix + 1, 0, 1);
    if (remove_statedir(&cfg) > 0) {
        proc_problem("journals left in %s", cfg.statedir);
    }
    if (proc_problems == 0) {
        printf("random-kill: PASS\n");
    } else {
        printf("random-kill: FAILED (%d problems, at most %d shown)\n",
               proc_problems, SHOWN);
    }
    return proc_problems == 0 ? 0 : 1;
}
