/* SPDX-License-Identifier: MIT */
/* Stress: many processes and threads write to one tracker at once, then
 * every one of them is SIGKILLed; the tracker must clean up exactly the
 * objects they left registered, touch nothing else, and say nothing but the
 * two leak lines. Standalone program (no cmocka).
 *
 *   stress [PROCESSES] [NAMES_PER_PROCESS]      (defaults 64 and 2000)
 *
 * Three kinds of process. The runner (main) never calls the library, so it
 * never holds the tracker's pipe; it is a child subreaper, so the tracker,
 * orphaned at birth, becomes its child and its exit status can be read. The
 * host, forked by the runner, starts the tracker and forks the workers. Each
 * worker (every 4th with 4 threads) registers and unregisters fake names of
 * every shape, creates 5 segments and 2 semaphores through the wrappers and
 * one control segment the library never hears of, says "ready" on a pipe
 * and waits to be killed. Exit status 0 when every check passed. */

/* prctl(PR_SET_CHILD_SUBREAPER): Linux only; without it the tracker would be
 * init's child and its exit status could not be checked. */
#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
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

#define NSHM 5     /* segments each worker creates through the wrapper */
#define NSEM 2     /* semaphores each worker creates through the wrapper */
#define THREADED 4 /* every THREADED-th worker runs THREADS threads */
#define THREADS 4
#define MAX_PROCESSES 4096
#define MAX_NAMES 10000000L
#define NAME_CAP (PIPE_BUF + 1)
#define SHOWN PROC_SHOWN /* stderr lines printed in full */

/* Deadlines, in seconds before RT_TEST_TIMEOUT_MULTIPLIER. */
#define READY_SECONDS 100.0  /* every worker ready */
#define EXIT_SECONDS 60.0    /* host, then tracker, gone after the kill */
#define WORKER_SECONDS 600.0 /* a worker nobody kills gives up */

struct config {
    int processes;
    long names;
    char prefix[64]; /* "/rt-stress-PID" */
    char errpath[96];
};

/* ---- time, processes, lines --------------------------------------------- */

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* ---- the names ---------------------------------------------------------- */

static const char *const fake_rtypes[] = {RT_SHARED_MEMORY, RT_SEMAPHORE,
                                          RT_FILE};

/* The longest name whose UNREGISTER line still fits PIPE_BUF, in the colon
 * form (printable ASCII) or the JSON form (URL-safe base64 with padding),
 * per the protocol README.md describes. */
static size_t colon_max(const char *rtype)
{
    return PIPE_BUF - strlen("UNREGISTER::\n") - strlen(rtype);
}

static size_t json_max(const char *rtype)
{
    size_t b64 = PIPE_BUF -
                 strlen("{\"cmd\":\"UNREGISTER\",\"rtype\":\"\","
                        "\"base64_name\":\"\"}\n") -
                 strlen(rtype);
    return b64 / 4 * 3;
}

/* Appends COUNT filler bytes to NAME (length *LEN), cycling through TEXT. */
static void pad(char *name, size_t *len, size_t count, const char *text)
{
    size_t tl = strlen(text);
    for (size_t i = 0; i < count && *len < NAME_CAP - 1; i++) {
        name[(*len)++] = text[i % tl];
    }
    name[*len] = '\0';
}

/* Fake name I of worker W: every shape the protocol has to carry. Short
 * and long, ':' and the characters JSON and Python's repr quote, newline,
 * a lone byte that is not UTF-8, valid UTF-8, and names exactly as long as
 * an UNREGISTER line allows in each form. Returns the rtype. */
static const char *fake_name(char *name, const struct config *cfg, int w,
                             long i)
{
    const char *rtype = fake_rtypes[i % 3];
    /* A path's component holds NAME_MAX bytes at most, so the long shapes
     * are names of the other types. */
    if (strcmp(rtype, RT_FILE) == 0 && i % 16 >= 12) {
        rtype = RT_SEMAPHORE;
    }
    size_t len =
        (size_t)snprintf(name, NAME_CAP, "%s-w%d-n%ld-", cfg->prefix, w, i);
    switch (i % 16) {
    case 8:
        pad(name, &len, 1 + (size_t)i % 40, ":'\"\\{}a");
        break;
    case 9:
        pad(name, &len, 1 + (size_t)i % 40, "b\nc");
        break;
    case 10:
        pad(name, &len, 1 + (size_t)i % 40, "d\xff");
        break;
    case 11:
        pad(name, &len, 2 * (1 + (size_t)i % 20), "\xc3\xa9"); /* e acute */
        break;
    case 12:
        pad(name, &len, 200 + (size_t)(i * 37) % 3500, "long:plain-");
        break;
    case 13:
        pad(name, &len, 200 + (size_t)(i * 41) % 2600, "json\n\x80");
        break;
    case 14:
        if (i % 256 == 14) {
            pad(name, &len, colon_max(rtype) - len, "max:colon-");
        } else {
            pad(name, &len, 1, ":");
        }
        break;
    case 15:
        if (i % 256 == 15) {
            pad(name, &len, json_max(rtype) - len, "max\njson\xfe");
        } else {
            pad(name, &len, 3, ":\x7f\x01");
        }
        break;
    default:
        pad(name, &len, (size_t)(i * 7) % 64, "plain_name.");
        break;
    }
    return rtype;
}

static void shm_name(char *buf, size_t len, const struct config *cfg, int w,
                     int j)
{
    snprintf(buf, len, "%s-w%d-shm%d", cfg->prefix, w, j);
}

static void sem_name(char *buf, size_t len, const struct config *cfg, int w,
                     int j)
{
    snprintf(buf, len, "%s-w%d-sem%d", cfg->prefix, w, j);
}

static void control_name(char *buf, size_t len, const struct config *cfg, int w)
{
    snprintf(buf, len, "%s-w%d-control", cfg->prefix, w);
}

/* ---- worker ------------------------------------------------------------- */

struct job {
    const struct config *cfg;
    int worker;
    int thread;
    int nthreads;
    int failures;
    char what[200]; /* the first failure */
};

static void job_fail(struct job *j, const char *call, int err)
{
    if (j->failures++ == 0) {
        snprintf(j->what, sizeof(j->what), "thread %d: %s: %s", j->thread, call,
                 strerror(err));
    }
}

/* One thread's share: its slice of the fake pairs, then its share of the
 * real objects (object k goes to thread k % nthreads). */
static void *run_job(void *arg)
{
    struct job *j = arg;
    const struct config *cfg = j->cfg;
    long first = cfg->names * j->thread / j->nthreads;
    long end = cfg->names * (j->thread + 1) / j->nthreads;
    char name[NAME_CAP];
    for (long i = first; i < end; i++) {
        const char *rtype = fake_name(name, cfg, j->worker, i);
        if (rt_register(name, rtype) < 0) {
            job_fail(j, "rt_register", errno);
        } else if (rt_unregister(name, rtype) < 0) {
            job_fail(j, "rt_unregister", errno);
        }
    }
    for (int k = j->thread; k < NSHM + NSEM; k += j->nthreads) {
        if (k < NSHM) {
            shm_name(name, sizeof(name), cfg, j->worker, k);
            int fd = rt_shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
            if (fd < 0) {
                job_fail(j, "rt_shm_open", errno);
            } else {
                (void)close(fd);
            }
        } else {
            sem_name(name, sizeof(name), cfg, j->worker, k - NSHM);
            sem_t *s = rt_sem_open(name, O_CREAT | O_EXCL, 0600, 0);
            if (s == SEM_FAILED) {
                job_fail(j, "rt_sem_open", errno);
            } else {
                (void)sem_close(s);
            }
        }
    }
    return NULL;
}

/* Runs in a forked worker: does the work, reports, and waits to be killed
 * (or for the runner to vanish, seen as the lifeline's end-of-file).
 * Returns the exit code for the case it was not killed. */
static int worker(const struct config *cfg, int w, int report, int lifeline)
{
    int nthreads = w % THREADED == THREADED - 1 ? THREADS : 1;
    struct job jobs[THREADS];
    pthread_t th[THREADS];
    int started = 0;
    for (int t = 0; t < THREADS; t++) {
        jobs[t] = (struct job){cfg, w, t, nthreads, 0, ""};
    }
    for (int t = 1; t < nthreads; t++) {
        int r = pthread_create(&th[t], NULL, run_job, &jobs[t]);
        if (r != 0) {
            job_fail(&jobs[t], "pthread_create", r);
            break;
        }
        started = t;
    }
    run_job(&jobs[0]);
    int failures = jobs[0].failures;
    const char *what = jobs[0].what;
    for (int t = 1; t < nthreads; t++) {
        if (t <= started) {
            (void)pthread_join(th[t], NULL);
        }
        if (jobs[t].failures > 0 && failures == 0) {
            what = jobs[t].what;
        }
        failures += jobs[t].failures;
    }
    char name[128];
    control_name(name, sizeof(name), cfg, w);
    int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0 && failures++ == 0) {
        what = "control shm_open failed";
    }
    if (fd >= 0) {
        (void)close(fd);
    }
    if (failures > 0) {
        proc_say(report, "fail %ld %d failures, first: %s", (long)getpid(),
                 failures, what);
        return 1;
    }
    proc_say(report, "ready %ld", (long)getpid());
    double deadline = proc_now() + proc_scaled(WORKER_SECONDS);
    for (;;) {
        int left = (int)((deadline - proc_now()) * 1000);
        if (left <= 0) {
            return 2;
        }
        struct pollfd pf = {lifeline, POLLIN, 0};
        if (poll(&pf, 1, left) > 0) {
            return 3; /* the runner is gone */
        }
    }
}

/* ---- host --------------------------------------------------------------- */

/* Reaps the N workers in KIDS as they die, in any order, so that one that
 * ends early (a crash before it was ready) is reported at once rather than
 * when the runner gives up waiting for it. Returns how many did not die of
 * SIGKILL. */
static int reap_workers(pid_t *kids, int n, int report)
{
    double deadline = proc_now() + proc_scaled(WORKER_SECONDS + 60);
    int bad = 0;
    for (int left = n; left > 0;) {
        for (int i = 0; i < n; i++) {
            int st;
            if (kids[i] <= 0 || waitpid(kids[i], &st, WNOHANG) != kids[i]) {
                continue;
            }
            if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL) {
                proc_say(report, "fail worker %ld ended with status 0x%x",
                         (long)kids[i], (unsigned)st);
                bad++;
            }
            kids[i] = -1;
            left--;
        }
        if (left > 0 && proc_now() > deadline) {
            proc_say(report, "fail host: %d workers were never killed", left);
            for (int i = 0; i < n; i++) {
                if (kids[i] > 0) {
                    (void)kill(kids[i], SIGKILL);
                }
            }
            return bad + left;
        }
        if (left > 0) {
            proc_nap_us(5000);
        }
    }
    return bad;
}

/* Runs in the host: starts the tracker, forks the workers, reaps them once
 * the runner has killed them. Returns its exit code: 0 when every worker
 * was forked and died of SIGKILL. */
static int host(void *arg, int report, int lifeline)
{
    const struct config *cfg = arg;
    if (rt_ensure_running() < 0) {
        proc_say(report, "fail host rt_ensure_running: %s", strerror(errno));
        return 1;
    }
    proc_say(report, "tracker %ld", (long)rt_tracker_pid());
    pid_t *kids = calloc((size_t)cfg->processes, sizeof(*kids));
    if (kids == NULL) {
        proc_say(report, "fail host: out of memory");
        return 1;
    }
    int forked = 0;
    for (; forked < cfg->processes; forked++) {
        pid_t pid = fork();
        if (pid == 0) {
            _exit(worker(cfg, forked, report, lifeline));
        }
        if (pid < 0) {
            proc_say(report, "fail host fork: %s", strerror(errno));
            break;
        }
        kids[forked] = pid;
    }
    proc_say(report, "forked %d", forked);
    int bad = forked < cfg->processes;
    bad += reap_workers(kids, forked, report);
    free(kids);
    return bad != 0;
}

/* ---- runner ------------------------------------------------------------- */

/* Whether LINE is "resource_tracker: There appear to be COUNT leaked RTYPE
 * objects to clean up at shutdown: {...}" listing only names of KIND
 * ("shm" or "sem") from the known set (the list is cut after 32 names). */
static int is_leak_line(const struct config *cfg, const char *line,
                        const char *rtype, int count, const char *kind)
{
    char head[160];
    snprintf(head, sizeof(head),
             "resource_tracker: There appear to be %d leaked %s objects to "
             "clean up at shutdown: {",
             count, rtype);
    size_t hl = strlen(head);
    size_t ll = strlen(line);
    if (strncmp(line, head, hl) != 0 || ll < hl + 1 || line[ll - 1] != '}') {
        return 0;
    }
    char item_head[96];
    snprintf(item_head, sizeof(item_head), "'%s-w", cfg->prefix);
    size_t ih = strlen(item_head);
    const char *p = line + hl;
    for (;;) {
        if (strncmp(p, "...}", 4) == 0) {
            return 1;
        }
        if (strncmp(p, item_head, ih) != 0) {
            return 0;
        }
        char *end;
        long w = strtol(p + ih, &end, 10);
        if (w < 0 || w >= cfg->processes || strncmp(end, "-", 1) != 0 ||
            strncmp(end + 1, kind, 3) != 0) {
            return 0;
        }
        long j = strtol(end + 4, &end, 10);
        if (j < 0 || j >= (kind[1] == 'h' ? NSHM : NSEM) || *end != '\'') {
            return 0;
        }
        p = end + 1;
        if (strcmp(p, "}") == 0) {
            return 1;
        }
        if (strncmp(p, ", ", 2) != 0) {
            return 0;
        }
        p += 2;
    }
}

/* Checks the tracker's stderr: the two leak lines and nothing else. */
static void check_stderr(const struct config *cfg)
{
    size_t len;
    char *buf = proc_slurp(cfg->errpath, &len);
    if (buf == NULL) {
        proc_problem("cannot read %s: %s", cfg->errpath, strerror(errno));
        return;
    }
    int shm_lines = 0;
    int sem_lines = 0;
    int other = 0;
    for (char *line = buf; *line != '\0';) {
        char *nl = strchr(line, '\n');
        if (nl != NULL) {
            *nl = '\0';
        }
        if (is_leak_line(cfg, line, RT_SHARED_MEMORY, cfg->processes * NSHM,
                         "shm")) {
            shm_lines++;
        } else if (is_leak_line(cfg, line, RT_SEMAPHORE, cfg->processes * NSEM,
                                "sem")) {
            sem_lines++;
        } else if (other++ < SHOWN) {
            fputs("stress: unexpected stderr line: ", stdout);
            proc_print_escaped(line);
        }
        if (nl == NULL) {
            break;
        }
        line = nl + 1;
    }
    free(buf);
    printf("stress: stderr: %zu bytes, %d shared_memory leak line, "
           "%d semaphore leak line, %d other\n",
           len, shm_lines, sem_lines, other);
    if (shm_lines != 1 || sem_lines != 1 || other != 0) {
        proc_problem("stderr is not exactly the two expected leak lines");
    }
}

/* Checks that the known set is gone and every control survived (then
 * removes the controls). */
static void check_objects(const struct config *cfg)
{
    int shm_gone = 0;
    int sem_gone = 0;
    int controls = 0;
    for (int w = 0; w < cfg->processes; w++) {
        char name[128];
        char path[160];
        for (int j = 0; j < NSHM; j++) {
            shm_name(name, sizeof(name), cfg, w, j);
            snprintf(path, sizeof(path), "/dev/shm%s", name);
            shm_gone += !exists(path);
        }
        for (int j = 0; j < NSEM; j++) {
            sem_name(name, sizeof(name), cfg, w, j);
            snprintf(path, sizeof(path), "/dev/shm/sem.%s", name + 1);
            sem_gone += !exists(path);
        }
        control_name(name, sizeof(name), cfg, w);
        if (shm_unlink(name) == 0) {
            controls++;
        }
    }
    int stray = proc_scan_prefix("/dev/shm", cfg->prefix + 1, 1, 1);
    printf("stress: gone: %d/%d segments, %d/%d semaphores; controls kept: "
           "%d/%d; other entries in /dev/shm: %d\n",
           shm_gone, cfg->processes * NSHM, sem_gone, cfg->processes * NSEM,
           controls, cfg->processes, stray);
    if (shm_gone != cfg->processes * NSHM ||
        sem_gone != cfg->processes * NSEM) {
        proc_problem("the tracker left objects it held");
    }
    if (controls != cfg->processes) {
        proc_problem("control segments the tracker never knew have vanished");
    }
    if (stray != 0) {
        proc_problem("unexpected entries with the prefix in /dev/shm");
    }
}

/* Reads the host's and workers' reports until every forked worker is
 * ready or failed. Fills PIDS (the ready workers). Returns how many. */
static int collect_ready(const struct config *cfg, struct proc_reader *r,
                         pid_t *pids, pid_t *ret_tracker)
{
    double deadline = proc_now() + proc_scaled(READY_SECONDS);
    int ready = 0;
    int failed = 0;
    int forked = -1;
    while (forked < 0 || ready + failed < forked) {
        char line[512];
        if (proc_read_line(r, line, sizeof(line), deadline) < 0) {
            proc_problem("%s after %d ready, %d failed of %d",
                         errno == ETIMEDOUT ? "timeout" : "reports ended",
                         ready, failed, forked < 0 ? cfg->processes : forked);
            break;
        }
        long v;
        if (sscanf(line, "tracker %ld", &v) == 1) {
            *ret_tracker = (pid_t)v;
        } else if (sscanf(line, "forked %ld", &v) == 1) {
            forked = (int)v;
        } else if (sscanf(line, "ready %ld", &v) == 1 &&
                   ready < cfg->processes) {
            pids[ready++] = (pid_t)v;
        } else {
            failed += strncmp(line, "fail ", 5) == 0 &&
                      strncmp(line, "fail host", 9) != 0;
            proc_problem("%s", line);
        }
    }
    return ready;
}

/* After the host is gone: anything more it or a worker said is a failure
 * (the host reports workers that did not die of SIGKILL). */
static void drain(struct proc_reader *r)
{
    double deadline = proc_now() + proc_scaled(EXIT_SECONDS);
    char line[512];
    while (proc_read_line(r, line, sizeof(line), deadline) >= 0) {
        proc_problem("%s", line);
    }
    if (errno != 0) {
        proc_problem("report pipe still open: %s", strerror(errno));
    }
}

static int parse_args(int argc, char **argv, struct config *cfg)
{
    cfg->processes = 64;
    cfg->names = 2000;
    if (argc > 3) {
        return -1;
    }
    char *end;
    if (argc > 1) {
        long p = strtol(argv[1], &end, 10);
        if (*end != '\0' || p < 1 || p > MAX_PROCESSES) {
            return -1;
        }
        cfg->processes = (int)p;
    }
    if (argc > 2) {
        cfg->names = strtol(argv[2], &end, 10);
        if (*end != '\0' || end == argv[2] || cfg->names < 0 ||
            cfg->names > MAX_NAMES) {
            return -1;
        }
    }
    snprintf(cfg->prefix, sizeof(cfg->prefix), "/rt-stress-%ld",
             (long)getpid());
    snprintf(cfg->errpath, sizeof(cfg->errpath), "/tmp%s.stderr", cfg->prefix);
    return 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: stress [PROCESSES (1-%d)] [NAMES_PER_PROCESS "
            "(0-%ld)]\n",
            MAX_PROCESSES, MAX_NAMES);
}

/* Forks the host, kills the workers once all are ready, and follows the
 * run until the tracker is gone. Returns the tracker's exit status, or -1
 * (reported) on failure. *RET_HOST and *RET_TRACKER are the pids still to
 * be dealt with (-1 once reaped). */
static int run(const struct config *cfg, int fds[4], pid_t *pids,
               pid_t *ret_host, pid_t *ret_tracker)
{
    int report[2] = {fds[0], fds[1]};
    int lifeline[2] = {fds[2], fds[3]};
    int errfd = open(cfg->errpath,
                     O_CREAT | O_EXCL | O_WRONLY | O_APPEND | O_CLOEXEC, 0600);
    double t0 = proc_now();
    pid_t hpid =
        errfd < 0 ? -1
                  : proc_start_host(errfd, report, lifeline, host, (void *)cfg);
    int err = errno;
    (void)close(fds[1]);
    fds[1] = -1;
    (void)close(errfd);
    if (hpid < 0) {
        proc_problem("setup: %s", strerror(err));
        return -1;
    }
    *ret_host = hpid;
    struct proc_reader reports = {report[0], 0, ""};
    int ready = collect_ready(cfg, &reports, pids, ret_tracker);
    double t_ready = proc_now();
    for (int i = 0; i < ready; i++) {
        (void)kill(pids[i], SIGKILL);
    }
    if (proc_problems > 0 || *ret_tracker <= 0) {
        proc_problem("not every worker got ready (tracker %ld)",
                     (long)*ret_tracker);
        return -1;
    }
    int st;
    if (proc_wait_exact(hpid, proc_now() + proc_scaled(EXIT_SECONDS), &st) <
        0) {
        proc_problem("host did not exit: %s", strerror(errno));
        return -1;
    }
    *ret_host = -1;
    drain(&reports);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        proc_problem("host ended with status 0x%x", (unsigned)st);
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
    printf("stress: workers ready after %.3f s; tracker exited %.3f s after "
           "the kill, exit status %d\n",
           t_ready - t0, proc_now() - t_ready, WEXITSTATUS(st));
    return WEXITSTATUS(st);
}

int main(int argc, char **argv)
{
    proc_name = "stress";
    struct config cfg;
    if (parse_args(argc, argv, &cfg) < 0) {
        usage();
        return 2;
    }
    if (prctl(PR_SET_CHILD_SUBREAPER, 1L, 0L, 0L, 0L) < 0) {
        perror("stress: PR_SET_CHILD_SUBREAPER");
        return 1;
    }
    printf("stress: %d processes (%d with %d threads), %ld register+"
           "unregister pairs each (%ld in all), %d segments and %d "
           "semaphores each left to the tracker, prefix %s\n",
           cfg.processes, cfg.processes / THREADED, THREADS, cfg.names,
           cfg.names * cfg.processes, NSHM, NSEM, cfg.prefix);
    /* A previous run with this pid may have left something. */
    (void)proc_scan_prefix("/dev/shm", cfg.prefix + 1, 1, 1);
    (void)proc_scan_prefix("/tmp", cfg.prefix + 1, 0, 1);
    int fds[4] = {-1, -1, -1, -1};
    pid_t *pids = calloc((size_t)cfg.processes, sizeof(*pids));
    if (pids == NULL || pipe2(fds, O_CLOEXEC) < 0 ||
        pipe2(fds + 2, O_CLOEXEC) < 0) {
        perror("stress: setup");
        return 1;
    }
    double t0 = proc_now();
    pid_t hpid = -1;
    pid_t tracker = -1;
    int status = run(&cfg, fds, pids, &hpid, &tracker);
    if (status >= 0) {
        if (status != 1) {
            proc_problem("tracker exit status %d, expected 1", status);
        }
        check_objects(&cfg);
        check_stderr(&cfg);
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
    int left = proc_scan_prefix("/dev/shm", cfg.prefix + 1, 1, 1);
    (void)unlink(cfg.errpath);
    left += proc_scan_prefix("/tmp", cfg.prefix + 1, 0, 1);
    if (left > 0) {
        printf("stress: removed %d leftover entries\n", left);
    }
    free(pids);
    printf("stress: %s, %.3f s in all\n",
           proc_problems == 0 ? "PASS" : "FAILED", proc_now() - t0);
    return proc_problems == 0 ? 0 : 1;
}
