/* SPDX-License-Identifier: MIT */
/* make bench: libresourcetracker measured beside the kernel's floor for the
 * same work and beside CPython's multiprocessing.resource_tracker (when
 * python3 is here), in one run. Prints a table and, as its last line, one
 * JSON object with every figure. Each figure is the median of several
 * repetitions, with min and max; ours and the floor are measured
 * alternately, side by side.
 *
 * Usage: bench [--quick] [--image PATH] [--driver PATH] [--python PATH]
 *   --image   the tracker executable (build/resource_tracker), run directly
 *             on a file of lines for the drain figure
 *   --driver  bench/cpython_tracker.py
 *   --quick   fewer and smaller repetitions (a smoke test, not figures)
 *   --only    one group of figures: register, live, drain, cold, memory,
 *             cleanup */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "resourcetracker.h"

extern char **environ;

static int quick;
static const char *only; /* run one group: register, live, drain, cold,
                            memory, cleanup */
static const char *image_path = "build/resource_tracker";
static const char *driver_path = "bench/cpython_tracker.py";
static const char *python = "python3";
static int have_python;

/* ---- statistics and the result table ---- */

struct stat3 {
    double med, min, max;
    int n;
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static struct stat3 stats(double *v, int n)
{
    struct stat3 s = {0, 0, 0, n};
    if (n <= 0) {
        return s;
    }
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    s.min = v[0];
    s.max = v[n - 1];
    s.med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    return s;
}

struct figure {
    const char *key;
    const char *label;
    const char *unit;
    struct stat3 ours, floor, cpython;
};

static struct figure figures[32];
static int nfigures;

static struct figure *figure(const char *key, const char *label,
                             const char *unit)
{
    struct figure *f = &figures[nfigures++];
    memset(f, 0, sizeof(*f));
    f->key = key;
    f->label = label;
    f->unit = unit;
    return f;
}

struct target {
    const char *text;
    double value;
    double limit;
    int at_least; /* value >= limit passes, else value <= limit */
};

static struct target targets[32];
static int ntargets;

static void target(const char *text, double value, double limit, int at_least)
{
    targets[ntargets++] = (struct target){text, value, limit, at_least};
}

static int passed(const struct target *t)
{
    return t->at_least ? t->value >= t->limit : t->value <= t->limit;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "  ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

/* ---- processes ---- */

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void nap_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* Orphaned trackers come to us (we are a subreaper): reap those done. */
static void reap_orphans(void)
{
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

static int wait_exact(pid_t pid, double timeout_s)
{
    double end = now_ns() + timeout_s * 1e9;
    for (;;) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            return st;
        }
        if (r < 0 && errno != EINTR) {
            return -1;
        }
        if (now_ns() > end) {
            return -1;
        }
        nap_us(200);
    }
}

static void put_double(int fd, double v)
{
    if (write(fd, &v, sizeof(v)) != (ssize_t)sizeof(v)) {
        _exit(3);
    }
}

/* Runs FN in a fresh process (with a fresh library state: no tracker) and
 * collects the doubles it writes. Returns how many. */
static int in_child(void (*fn)(int, void *), void *arg, double *out, int max)
{
    int p[2];
    if (pipe(p) < 0) {
        die("pipe: %s", strerror(errno));
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        die("fork: %s", strerror(errno));
    }
    if (pid == 0) {
        close(p[0]);
        fn(p[1], arg);
        _exit(0);
    }
    close(p[1]);
    int n = 0;
    double v;
    while (n < max && read(p[0], &v, sizeof(v)) == (ssize_t)sizeof(v)) {
        out[n++] = v;
    }
    close(p[0]);
    int st = wait_exact(pid, 300);
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        die("a measurement process failed (status 0x%x)", st);
    }
    reap_orphans();
    return n;
}

/* A pipe whose read end a child drains as fast as it can: the floor for a
 * message. Returns the write end. */
static int drained_pipe(pid_t *ret_pid)
{
    int p[2];
    if (pipe(p) < 0) {
        die("pipe: %s", strerror(errno));
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(p[1]);
        char buf[65536];
        while (read(p[0], buf, sizeof(buf)) > 0) {
        }
        _exit(0);
    }
    close(p[0]);
    *ret_pid = pid;
    return p[1];
}

static int pending(int fd)
{
    int n = 0;
    return ioctl(fd, FIONREAD, &n) == 0 ? n : 0;
}

/* Until the tracker has read everything written to FD. */
static void wait_drained(int fd)
{
    double end = now_ns() + 60e9;
    while (pending(fd) > 0 && now_ns() < end) {
        nap_us(50);
    }
}

/* Until PID sleeps (in read: done with what it read). */
static void wait_sleeping(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    double end = now_ns() + 10e9;
    while (now_ns() < end) {
        char buf[512] = "";
        int fd = open(path, O_RDONLY);
        ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
        if (fd >= 0) {
            close(fd);
        }
        const char *paren = n > 0 ? strrchr(buf, ')') : NULL;
        if (paren == NULL || paren[2] == 'S') {
            return;
        }
        nap_us(100);
    }
}

/* Field KEY of /proc/PID/smaps_rollup, in KiB. */
static double smaps_kib(pid_t pid, const char *key)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%ld/smaps_rollup", (long)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    char line[256];
    double kib = -1;
    size_t k = strlen(key);
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, key, k) == 0 && line[k] == ':') {
            kib = atof(line + k + 1);
        }
    }
    fclose(f);
    return kib;
}

/* ---- the python driver ---- */

struct py {
    pid_t pid;
    FILE *out;
    int in;
};

static int py_start(struct py *p, char *const args[])
{
    int out[2];
    int in[2];
    if (pipe(out) < 0 || pipe(in) < 0) {
        return -1;
    }
    char *argv[16];
    int n = 0;
    argv[n++] = (char *)python;
    argv[n++] = (char *)driver_path;
    for (int i = 0; args[i] != NULL && n < 15; i++) {
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    posix_spawn_file_actions_addclose(&fa, in[1]);
    int r = posix_spawnp(&p->pid, python, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    close(in[0]);
    if (r != 0) {
        close(out[0]);
        close(in[1]);
        return -1;
    }
    p->out = fdopen(out[0], "r");
    p->in = in[1];
    return 0;
}

/* The next "KEY VALUE" line; returns VALUE or -1. */
static double py_value(struct py *p, const char *key)
{
    char line[256];
    if (fgets(line, sizeof(line), p->out) == NULL) {
        return -1;
    }
    size_t k = strlen(key);
    if (strncmp(line, key, k) != 0 || line[k] != ' ') {
        return -1;
    }
    return atof(line + k + 1);
}

static void py_step(struct py *p)
{
    if (write(p->in, "\n", 1) != 1) {
        die("python driver gone");
    }
}

static void py_end(struct py *p)
{
    fclose(p->out);
    close(p->in);
    wait_exact(p->pid, 120);
    reap_orphans();
}

/* Runs the driver with ARGS and collects up to MAX values of KEY. */
static int py_values(char *const args[], const char *key, double *out, int max)
{
    struct py p;
    if (!have_python || py_start(&p, args) < 0) {
        return 0;
    }
    int n = 0;
    double v;
    while (n < max && (v = py_value(&p, key)) >= 0) {
        out[n++] = v;
    }
    py_end(&p);
    return n;
}

static void check_python(void)
{
    char *args[] = {(char *)"-c",
                    (char *)"import multiprocessing.resource_tracker, "
                            "_posixshmem",
                    NULL};
    char *argv[] = {(char *)python, args[0], args[1], NULL};
    pid_t pid;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    if (posix_spawnp(&pid, python, &fa, NULL, argv, environ) == 0) {
        int st = wait_exact(pid, 60);
        have_python = st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
    }
    posix_spawn_file_actions_destroy(&fa);
    if (have_python && access(driver_path, R_OK) != 0) {
        have_python = 0;
    }
}

/* ---- 1. register+unregister per call, and the warm probe ---- */

#define NAME "/rt-bench-name-000001"
#define REG_LINE "REGISTER:" NAME ":shared_memory\n"
#define UNREG_LINE "UNREGISTER:" NAME ":shared_memory\n"

static int reps(int full, int small)
{
    return quick ? small : full;
}

static void m_register(int w, void *arg)
{
    (void)arg;
    int n = quick ? 10000 : 30000;
    if (rt_ensure_running() < 0) {
        _exit(2);
    }
    pid_t drainer;
    int fd = drained_pipe(&drainer);
    for (int r = 0; r < reps(21, 3); r++) {
        double t0 = now_ns();
        for (int i = 0; i < n; i++) {
            if (write(fd, REG_LINE, sizeof(REG_LINE) - 1) < 0 ||
                write(fd, UNREG_LINE, sizeof(UNREG_LINE) - 1) < 0) {
                _exit(2);
            }
        }
        double t1 = now_ns();
        for (int i = 0; i < n; i++) {
            if (rt_register(NAME, RT_SHARED_MEMORY) < 0 ||
                rt_unregister(NAME, RT_SHARED_MEMORY) < 0) {
                _exit(2);
            }
        }
        double t2 = now_ns();
        for (int i = 0; i < n; i++) {
            (void)rt_ensure_running();
        }
        double t3 = now_ns();
        put_double(w, (t1 - t0) / (2.0 * n));
        put_double(w, (t2 - t1) / (2.0 * n));
        put_double(w, (t3 - t2) / n);
    }
    close(fd);
    waitpid(drainer, NULL, 0);
    wait_drained(rt_getfd());
}

static void bench_register(void)
{
    double v[96];
    int n = in_child(m_register, NULL, v, 96) / 3;
    double fl[32];
    double ours[32];
    double warm[32];
    double ratio[32];
    double warm_ratio[32];
    for (int i = 0; i < n; i++) {
        fl[i] = v[3 * i];
        ours[i] = v[3 * i + 1];
        warm[i] = v[3 * i + 2];
        ratio[i] = ours[i] / fl[i];
        warm_ratio[i] = warm[i] / fl[i];
    }
    struct figure *f =
        figure("register_ns", "register+unregister, per call", "ns");
    f->ours = stats(ours, n);
    f->floor = stats(fl, n);
    char reps_s[16];
    char n_s[16];
    snprintf(reps_s, sizeof(reps_s), "%d", reps(7, 2));
    snprintf(n_s, sizeof(n_s), "%d", quick ? 2000 : 20000);
    char *args[] = {(char *)"register", reps_s, n_s, NULL};
    double py[32] = {0};
    f->cpython = stats(py, py_values(args, "ns", py, 32));
    /* Each repetition measures the floor and ours back to back: the median
     * of those paired ratios holds up when the machine's speed drifts
     * during the run, which a ratio of medians would not. */
    target("register+unregister <= 1.15 x raw pipe write", stats(ratio, n).med,
           1.15, 0);
    if (f->cpython.n > 0) {
        target("register+unregister >= 4 x faster than CPython",
               f->cpython.med / f->ours.med, 4, 1);
    }
    struct figure *g = figure("warm_ensure_ns", "warm rt_ensure_running", "ns");
    g->ours = stats(warm, n);
    g->floor = f->floor;
    char *wargs[] = {(char *)"warm", reps_s, n_s, NULL};
    g->cpython = stats(py, py_values(wargs, "ns", py, 32));
    target("warm rt_ensure_running <= 1 x raw pipe write",
           stats(warm_ratio, n).med, 1, 0);
}

/* ---- 2. register cost with many names live ---- */

static void m_live(int w, void *arg)
{
    (void)arg;
    static const int live[] = {0, 100000, 1000000};
    int n = quick ? 10000 : 30000;
    if (rt_ensure_running() < 0) {
        _exit(2);
    }
    int fd = rt_getfd();
    pid_t drainer;
    int floor_fd = drained_pipe(&drainer);
    char name[64];
    int held = 0;
    int levels = quick ? 2 : 3;
    for (int l = 0; l < levels; l++) {
        for (; held < live[l]; held++) {
            snprintf(name, sizeof(name), "/rt-bench-live-%07d", held);
            if (rt_register(name, RT_SHARED_MEMORY) < 0) {
                _exit(2);
            }
        }
        wait_drained(fd);
        for (int r = 0; r < reps(11, 2); r++) {
            double t0 = now_ns();
            for (int i = 0; i < n; i++) {
                if (write(floor_fd, REG_LINE, sizeof(REG_LINE) - 1) < 0 ||
                    write(floor_fd, UNREG_LINE, sizeof(UNREG_LINE) - 1) < 0) {
                    _exit(2);
                }
            }
            double t1 = now_ns();
            for (int i = 0; i < n; i++) {
                if (rt_register(NAME, RT_SHARED_MEMORY) < 0 ||
                    rt_unregister(NAME, RT_SHARED_MEMORY) < 0) {
                    _exit(2);
                }
            }
            put_double(w, (double)l);
            put_double(w, (t1 - t0) / (2.0 * n));
            put_double(w, (now_ns() - t1) / (2.0 * n));
        }
    }
    close(floor_fd);
    waitpid(drainer, NULL, 0);
    /* Leave nothing for the tracker to "clean up". */
    for (int i = 0; i < held; i++) {
        snprintf(name, sizeof(name), "/rt-bench-live-%07d", i);
        (void)rt_unregister(name, RT_SHARED_MEMORY);
    }
    wait_drained(fd);
}

static void bench_live(void)
{
    static double v[512];
    int n = in_child(m_live, NULL, v, 512) / 3;
    static const char *const keys[] = {
        "register_ns_0_live", "register_ns_100k_live", "register_ns_1m_live"};
    static const char *const labels[] = {
        "register+unregister, 0 names live",
        "register+unregister, 100,000 names live",
        "register+unregister, 1,000,000 names live"};
    double paired[3] = {0, 0, 0};
    for (int l = 0; l < 3; l++) {
        double ours[64];
        double fl[64];
        double ratio[64];
        int k = 0;
        for (int i = 0; i < n; i++) {
            if ((int)v[3 * i] == l) {
                fl[k] = v[3 * i + 1];
                ours[k] = v[3 * i + 2];
                ratio[k] = ours[k] / fl[k];
                k++;
            }
        }
        if (k == 0) {
            continue;
        }
        struct figure *f = figure(keys[l], labels[l], "ns");
        f->ours = stats(ours, k);
        f->floor = stats(fl, k);
        paired[l] = stats(ratio, k).med;
    }
    if (!quick) {
        /* Each level against the floor measured beside it, then the levels
         * against each other: the tracker's load, not the machine's mood. */
        target("register with 1,000,000 live <= 1.2 x with none",
               paired[2] / paired[0], 1.2, 0);
    }
}

/* ---- 3. tracker CPU per line ---- */

/* A file of N lines: register and unregister pairs of distinct names. */
static char *make_lines(int n)
{
    static char path[] = "/tmp/rt-bench-lines-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        die("mkstemp: %s", strerror(errno));
    }
    FILE *f = fdopen(fd, "w");
    for (int i = 0; i < n / 2; i++) {
        fprintf(f, "REGISTER:/rt-bench-drain-%07d:shared_memory\n", i);
        fprintf(f, "UNREGISTER:/rt-bench-drain-%07d:shared_memory\n", i);
    }
    if (fclose(f) != 0) {
        die("writing %s: %s", path, strerror(errno));
    }
    return path;
}

/* Runs ARGV with descriptor 3 on FILE (and 0-2 on /dev/null); returns its
 * CPU time (user + system) in ns. */
static double cpu_of(char *const argv[], const char *file)
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(file, O_RDONLY);
        int null = open("/dev/null", O_RDWR);
        if (fd < 0 || null < 0 || dup2(fd, 3) < 0 || dup2(null, 0) < 0 ||
            dup2(null, 1) < 0 || dup2(null, 2) < 0) {
            _exit(127);
        }
        for (int i = 4; i < 1024; i++) {
            close(i);
        }
        if (strcmp(argv[0], "drain") == 0) {
            /* The floor: read it all and find every newline. */
            char buf[65536];
            ssize_t n;
            long lines = 0;
            while ((n = read(3, buf, sizeof(buf))) > 0) {
                for (char *p = buf;
                     (p = memchr(p, '\n', (size_t)(buf + n - p))); p++) {
                    lines++;
                }
            }
            _exit(lines >= 0 ? 0 : 1);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    int st;
    struct rusage ru;
    if (wait4(pid, &st, 0, &ru) != pid || !WIFEXITED(st) ||
        WEXITSTATUS(st) == 127) {
        return -1;
    }
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e9 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e3;
}

static struct stat3 per_line(char *const argv[], const char *full,
                             const char *empty, int lines, int nreps)
{
    double v[16];
    int n = 0;
    double base = 1e30;
    for (int r = 0; r < 3; r++) {
        double b = cpu_of(argv, empty);
        if (b >= 0 && b < base) {
            base = b;
        }
    }
    for (int r = 0; r < nreps; r++) {
        double c = cpu_of(argv, full);
        if (c >= 0) {
            v[n++] = (c - base) / lines;
        }
    }
    return stats(v, n);
}

static void bench_drain(void)
{
    int lines = quick ? 100000 : 1000000;
    char *full = strdup(make_lines(lines));
    char empty[] = "/tmp/rt-bench-empty-XXXXXX";
    int efd = mkstemp(empty);
    close(efd);
    struct figure *f =
        figure("tracker_cpu_ns_per_line",
               "tracker CPU draining 1,000,000 lines, per line", "ns");
    char *ours[] = {(char *)image_path, NULL};
    char *fl[] = {(char *)"drain", NULL};
    f->ours = per_line(ours, full, empty, lines, reps(5, 2));
    f->floor = per_line(fl, full, empty, lines, reps(5, 2));
    if (have_python) {
        char *py[] = {(char *)python, (char *)"-c",
                      (char *)"from multiprocessing.resource_tracker import "
                              "main; main(3)",
                      NULL};
        f->cpython = per_line(py, full, empty, lines, reps(3, 1));
    }
    unlink(full);
    unlink(empty);
    free(full);
    target("tracker CPU <= 150 ns per line", f->ours.med, 150, 0);
    if (f->cpython.n > 0) {
        target("tracker CPU >= 4 x faster than CPython's",
               f->cpython.med / f->ours.med, 4, 1);
    }
}

/* ---- 4. cold start ---- */

#define GIB ((size_t)1 << 30)

static void m_cold(int w, void *arg)
{
    size_t heap = *(size_t *)arg;
    /* Held (and touched) until this process exits: the host is that big. */
    static char *held;
    if (heap > 0) {
        held = malloc(heap);
        if (held == NULL) {
            _exit(2);
        }
        memset(held, 1, heap);
    }
    double t0 = now_ns();
    if (rt_ensure_running() < 0) {
        _exit(2);
    }
    int fd = rt_getfd();
    static const char probe[] = "PROBE:0:noop\n";
    if (write(fd, probe, sizeof(probe) - 1) < 0) {
        _exit(2);
    }
    while (pending(fd) > 0) {
    }
    put_double(w, now_ns() - t0);
}

static struct stat3 cold(size_t heap, int nreps)
{
    double v[32];
    int n = 0;
    for (int r = 0; r < nreps; r++) {
        n += in_child(m_cold, &heap, v + n, 1);
    }
    return stats(v, n);
}

static void bench_cold(void)
{
    struct figure *f =
        figure("cold_start_ns", "cold start to ready, small host", "ns");
    f->ours = cold(0, reps(15, 3));
    double py[16] = {0};
    int n = 0;
    for (int r = 0; have_python && r < reps(7, 2); r++) {
        char *args[] = {(char *)"cold", NULL};
        n += py_values(args, "ns", py + n, 1);
    }
    f->cpython = stats(py, n);
    struct figure *g =
        figure("cold_start_1gib_ns",
               "cold start to ready, host with 1 GiB of heap", "ns");
    g->ours = cold(quick ? GIB / 8 : GIB, reps(7, 2));
    target("cold start <= 2 ms (small host)", f->ours.med / 1e6, 2, 0);
    target("cold start <= 2 ms (1 GiB host)", g->ours.med / 1e6, 2, 0);
    target("cold start 1 GiB / small <= 1.5", g->ours.med / f->ours.med, 1.5,
           0);
    if (f->cpython.n > 0) {
        target("cold start >= 15 x faster than CPython",
               f->cpython.med / f->ours.med, 15, 1);
    }
}

/* ---- 5. memory ---- */

static void m_memory(int w, void *arg)
{
    int names = *(int *)arg;
    if (rt_ensure_running() < 0) {
        _exit(2);
    }
    pid_t t = rt_tracker_pid();
    int fd = rt_getfd();
    wait_sleeping(t);
    put_double(w, smaps_kib(t, "Anonymous"));
    put_double(w, smaps_kib(t, "Pss"));
    char name[64];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < names; i++) {
            snprintf(name, sizeof(name), "/rt-bench-mem-%07d", i);
            (void)rt_register(name, RT_SHARED_MEMORY);
        }
        wait_drained(fd);
        wait_sleeping(t);
        put_double(w, smaps_kib(t, "Anonymous"));
        for (int i = 0; i < names; i++) {
            snprintf(name, sizeof(name), "/rt-bench-mem-%07d", i);
            (void)rt_unregister(name, RT_SHARED_MEMORY);
        }
        wait_drained(fd);
        wait_sleeping(t);
        put_double(w, smaps_kib(t, "Anonymous"));
    }
}

static void m_memory_big(int w, void *arg)
{
    size_t heap = *(size_t *)arg;
    char *p = malloc(heap);
    if (p == NULL) {
        _exit(2);
    }
    memset(p, 1, heap);
    if (rt_ensure_running() < 0) {
        _exit(2);
    }
    memset(p, 2, heap); /* a forked tracker would now own a copy */
    pid_t t = rt_tracker_pid();
    wait_sleeping(t);
    put_double(w, smaps_kib(t, "Pss"));
    put_double(w, smaps_kib(t, "Anonymous"));
}

static void bench_memory(void)
{
    int names = quick ? 20000 : 100000;
    double idle_anon[8], idle_pss[8], held1[8], rel1[8], held2[8], rel2[8];
    int n = 0;
    for (int r = 0; r < reps(3, 1); r++) {
        double v[8];
        if (in_child(m_memory, &names, v, 8) == 6) {
            idle_anon[n] = v[0];
            idle_pss[n] = v[1];
            held1[n] = v[2];
            rel1[n] = v[3];
            held2[n] = v[4];
            rel2[n] = v[5];
            n++;
        }
    }
    struct figure *fi =
        figure("memory_idle_anon_kib", "tracker anonymous memory, idle", "KiB");
    fi->ours = stats(idle_anon, n);
    figure("memory_idle_pss_kib", "tracker PSS, idle", "KiB")->ours =
        stats(idle_pss, n);
    struct figure *fh =
        figure("memory_100k_anon_kib",
               "tracker anonymous memory, 100,000 names", "KiB");
    fh->ours = stats(held1, n);
    figure("memory_released_anon_kib",
           "tracker anonymous memory, after unregistering them", "KiB")
        ->ours = stats(rel1, n);
    struct figure *f2 =
        figure("memory_100k_again_anon_kib",
               "tracker anonymous memory, second 100,000", "KiB");
    f2->ours = stats(held2, n);
    figure("memory_released_again_anon_kib",
           "tracker anonymous memory, second release", "KiB")
        ->ours = stats(rel2, n);

    /* CPython's tracker, idle and holding the same names. */
    double py_idle[4] = {0}, py_held[4] = {0};
    int pn = 0;
    for (int r = 0; have_python && r < reps(2, 1); r++) {
        char count[16];
        snprintf(count, sizeof(count), "%d", names);
        char *args[] = {(char *)"memory", count, NULL};
        struct py p;
        if (py_start(&p, args) < 0) {
            break;
        }
        pid_t t = (pid_t)py_value(&p, "pid");
        if (t > 0) {
            wait_sleeping(t);
            py_idle[pn] = smaps_kib(t, "Anonymous");
            py_step(&p);
            char line[64];
            if (fgets(line, sizeof(line), p.out) != NULL) {
                wait_sleeping(t);
                py_held[pn] = smaps_kib(t, "Anonymous");
                pn++;
            }
            py_step(&p);
            if (fgets(line, sizeof(line), p.out) != NULL) {
                py_step(&p);
            }
        }
        py_end(&p);
    }
    fi->cpython = stats(py_idle, pn);
    fh->cpython = stats(py_held, pn);

    size_t heap = quick ? GIB / 8 : GIB;
    double big_pss[4], big_anon[4];
    int bn = 0;
    for (int r = 0; r < reps(3, 1); r++) {
        double v[2];
        if (in_child(m_memory_big, &heap, v, 2) == 2) {
            big_pss[bn] = v[0];
            big_anon[bn] = v[1];
            bn++;
        }
    }
    figure("memory_1gib_host_pss_kib",
           "tracker PSS, started by a 1 GiB host that rewrote its heap", "KiB")
        ->ours = stats(big_pss, bn);
    figure("memory_1gib_host_anon_kib", "tracker anonymous memory, same", "KiB")
        ->ours = stats(big_anon, bn);

    target("tracker anonymous memory idle <= 256 KiB", fi->ours.med, 256, 0);
    if (fh->cpython.n > 0) {
        target("tracker memory with 100,000 names <= 1/2 of CPython's",
               fh->ours.med / fh->cpython.med, 0.5, 0);
    }
    target("no growth over a second round of 100,000 names",
           f2->ours.med - fh->ours.med, 0, 0);
    target("tracker PSS from the 1 GiB host <= 1 MiB",
           stats(big_pss, bn).med / 1024, 1, 0);
}

/* ---- 6. cleanup after SIGKILL ---- */

struct cleanup_args {
    int sem;
    int count;
    char prefix[64];
};

static int create_object(const struct cleanup_args *a, int i)
{
    char name[128];
    snprintf(name, sizeof(name), "/%s-%d", a->prefix, i);
    if (a->sem) {
        sem_t *s = sem_open(name, O_CREAT | O_EXCL, 0600, 1);
        return s == SEM_FAILED ? -1 : sem_close(s);
    }
    int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
    return fd < 0 ? -1 : close(fd);
}

static int count_left(const char *prefix)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "ls /dev/shm | grep -c -- '%s-' > /dev/null",
             prefix);
    /* A cheap test, used only once the tracker has exited. */
    return system(cmd) == 0;
}

/* The host: creates and registers the objects, says the tracker's pid,
 * and waits to be killed. */
static void cleanup_host(const struct cleanup_args *a, int report)
{
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 2); /* the tracker's report is not what is measured here */
    if (rt_ensure_running() < 0) {
        _exit(2);
    }
    char name[128];
    for (int i = 0; i < a->count; i++) {
        snprintf(name, sizeof(name), "/%s-%d", a->prefix, i);
        if (create_object(a, i) < 0 ||
            rt_register(name, a->sem ? RT_SEMAPHORE : RT_SHARED_MEMORY) < 0) {
            _exit(2);
        }
    }
    wait_drained(rt_getfd());
    pid_t t = rt_tracker_pid();
    if (write(report, &t, sizeof(t)) != sizeof(t)) {
        _exit(2);
    }
    for (;;) {
        pause();
    }
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "bench: a tracker did not exit in time\n";
    if (write(2, msg, sizeof(msg) - 1) < 0) {
        _exit(2);
    }
    _exit(1);
}

/* From the host's SIGKILL until the tracker has exited (it is our child:
 * we are a subreaper, so a blocking wait sees its exit at once; the alarm
 * bounds it). */
static double time_cleanup(pid_t host, pid_t tracker)
{
    signal(SIGALRM, on_alarm);
    alarm(120);
    double t0 = now_ns();
    kill(host, SIGKILL);
    /* The host first: CPython's tracker is its child and becomes ours only
     * once the host is gone. */
    while (waitpid(host, NULL, 0) < 0 && errno == EINTR) {
    }
    int st;
    while (waitpid(tracker, &st, 0) < 0 && errno == EINTR) {
    }
    double t1 = now_ns();
    alarm(0);
    return t1 - t0;
}

static double ours_cleanup(struct cleanup_args *a)
{
    int p[2];
    if (pipe(p) < 0) {
        die("pipe");
    }
    fflush(NULL);
    pid_t host = fork();
    if (host == 0) {
        close(p[0]);
        cleanup_host(a, p[1]);
    }
    close(p[1]);
    pid_t t = -1;
    if (read(p[0], &t, sizeof(t)) != sizeof(t)) {
        die("cleanup host failed");
    }
    close(p[0]);
    double ns = time_cleanup(host, t);
    if (count_left(a->prefix)) {
        die("objects left after the tracker exited");
    }
    return ns;
}

static double floor_cleanup(struct cleanup_args *a)
{
    for (int i = 0; i < a->count; i++) {
        if (create_object(a, i) < 0) {
            die("create: %s", strerror(errno));
        }
    }
    char name[128];
    double t0 = now_ns();
    for (int i = 0; i < a->count; i++) {
        snprintf(name, sizeof(name), "/%s-%d", a->prefix, i);
        if ((a->sem ? sem_unlink(name) : shm_unlink(name)) < 0) {
            die("unlink: %s", strerror(errno));
        }
    }
    return now_ns() - t0;
}

static double cpython_cleanup(struct cleanup_args *a)
{
    char count[16];
    snprintf(count, sizeof(count), "%d", a->count);
    char *args[] = {(char *)"cleanup", a->sem ? (char *)"sem" : (char *)"shm",
                    count, a->prefix, NULL};
    struct py p;
    if (py_start(&p, args) < 0) {
        return -1;
    }
    pid_t t = (pid_t)py_value(&p, "pid");
    if (t <= 0) {
        py_end(&p);
        return -1;
    }
    double ns = time_cleanup(p.pid, t);
    fclose(p.out);
    close(p.in);
    reap_orphans();
    if (count_left(a->prefix)) {
        die("objects left after CPython's tracker exited");
    }
    return ns;
}

static void bench_cleanup(int sem)
{
    struct cleanup_args a = {sem, quick ? 2000 : 10000, ""};
    double ours[8] = {0}, fl[8] = {0}, py[8] = {0}, ratio[8] = {0};
    int n = 0;
    int pn = 0;
    for (int r = 0; r < reps(7, 1); r++) {
        snprintf(a.prefix, sizeof(a.prefix), "rt-bench-%ld-%d-o",
                 (long)getpid(), r);
        ours[n] = ours_cleanup(&a);
        snprintf(a.prefix, sizeof(a.prefix), "rt-bench-%ld-%d-f",
                 (long)getpid(), r);
        fl[n] = floor_cleanup(&a);
        ratio[n] = ours[n] / fl[n];
        n++;
    }
    for (int r = 0; have_python && r < reps(3, 1); r++) {
        snprintf(a.prefix, sizeof(a.prefix), "rt-bench-%ld-%d-p",
                 (long)getpid(), r);
        double v = cpython_cleanup(&a);
        if (v >= 0) {
            py[pn++] = v;
        }
    }
    struct figure *f =
        figure(sem ? "cleanup_10k_sem_ns" : "cleanup_10k_shm_ns",
               sem ? "cleanup of 10,000 semaphores after SIGKILL"
                   : "cleanup of 10,000 shared-memory segments after SIGKILL",
               "ns");
    f->ours = stats(ours, n);
    f->floor = stats(fl, n);
    f->cpython = stats(py, pn);
    target(sem ? "cleanup of 10,000 semaphores <= 1.15 x unlink loop"
               : "cleanup of 10,000 segments <= 1.15 x unlink loop",
           stats(ratio, n).med, 1.15, 0);
}

/* ---- output ---- */

static const char *human(double v, const char *unit, char *buf, size_t len)
{
    if (strcmp(unit, "ns") == 0 && v >= 1e6) {
        snprintf(buf, len, "%.2f ms", v / 1e6);
    } else if (strcmp(unit, "ns") == 0 && v >= 1e4) {
        snprintf(buf, len, "%.1f us", v / 1e3);
    } else if (strcmp(unit, "ns") == 0) {
        snprintf(buf, len, "%.0f ns", v);
    } else {
        snprintf(buf, len, "%.0f %s", v, unit);
    }
    return buf;
}

static void print_table(void)
{
    char a[32], b[32], c[32];
    printf("\n%-56s %10s %10s %10s %9s %9s\n", "figure (median)", "ours",
           "floor", "CPython", "ours/flr", "CPy/ours");
    for (int i = 0; i < nfigures; i++) {
        const struct figure *f = &figures[i];
        printf("%-56s %10s %10s %10s", f->label,
               human(f->ours.med, f->unit, a, sizeof(a)),
               f->floor.n ? human(f->floor.med, f->unit, b, sizeof(b)) : "-",
               f->cpython.n ? human(f->cpython.med, f->unit, c, sizeof(c))
                            : "-");
        if (f->floor.n && f->floor.med > 0) {
            printf(" %9.2f", f->ours.med / f->floor.med);
        } else {
            printf(" %9s", "-");
        }
        if (f->cpython.n && f->ours.med > 0) {
            printf(" %9.1f", f->cpython.med / f->ours.med);
        } else {
            printf(" %9s", "-");
        }
        printf("\n");
    }
    printf("\n%-56s %9s %9s %s\n", "target (ratios: median of paired runs)",
           "value", "limit", "");
    for (int i = 0; i < ntargets; i++) {
        const struct target *t = &targets[i];
        printf("%-56s %9.3f %s%8.3f %s\n", t->text, t->value,
               t->at_least ? ">=" : "<=", t->limit,
               passed(t) ? "ok" : "MISSED");
    }
    if (!have_python) {
        printf("\n(python3 with multiprocessing.resource_tracker not found: "
               "no CPython column)\n");
    }
}

static void json_stat(const char *name, struct stat3 s, int *first)
{
    if (s.n == 0) {
        return;
    }
    printf("%s\"%s\":{\"median\":%.1f,\"min\":%.1f,\"max\":%.1f,\"n\":%d}",
           *first ? "" : ",", name, s.med, s.min, s.max, s.n);
    *first = 0;
}

static void print_json(void)
{
    struct utsname u;
    uname(&u);
    printf("{\"machine\":{\"kernel\":\"%s\",\"arch\":\"%s\",\"cpus\":%ld},"
           "\"quick\":%s,\"cpython\":%s,\"figures\":{",
           u.release, u.machine, sysconf(_SC_NPROCESSORS_ONLN),
           quick ? "true" : "false", have_python ? "true" : "false");
    for (int i = 0; i < nfigures; i++) {
        const struct figure *f = &figures[i];
        printf("%s\"%s\":{\"unit\":\"%s\",", i ? "," : "", f->key, f->unit);
        int first = 1;
        json_stat("ours", f->ours, &first);
        json_stat("floor", f->floor, &first);
        json_stat("cpython", f->cpython, &first);
        printf("}");
    }
    printf("},\"targets\":[");
    for (int i = 0; i < ntargets; i++) {
        const struct target *t = &targets[i];
        printf("%s{\"target\":\"%s\",\"value\":%.4f,\"limit\":%.4f,"
               "\"at_least\":%s,\"ok\":%s}",
               i ? "," : "", t->text, t->value, t->limit,
               t->at_least ? "true" : "false", passed(t) ? "true" : "false");
    }
    printf("]}\n");
}

static int wanted(const char *group)
{
    return only == NULL || strcmp(only, group) == 0;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            quick = 1;
        } else if (strcmp(argv[i], "--image") == 0 && i + 1 < argc) {
            image_path = argv[++i];
        } else if (strcmp(argv[i], "--driver") == 0 && i + 1 < argc) {
            driver_path = argv[++i];
        } else if (strcmp(argv[i], "--python") == 0 && i + 1 < argc) {
            python = argv[++i];
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            only = argv[++i];
        } else {
            die("usage: bench [--quick] [--only GROUP] [--image PATH] "
                "[--driver PATH] [--python PATH]");
        }
    }
    /* Orphaned trackers come to us: their exit is what cleanup times. */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1L, 0L, 0L, 0L) < 0) {
        die("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    check_python();
    double t0 = now_ns();
    fprintf(stderr, "libresourcetracker benchmark%s (python3: %s)\n",
            quick ? " --quick" : "", have_python ? "yes" : "no");
    if (wanted("register")) {
        note("register, warm probe ...");
        bench_register();
    }
    if (wanted("live")) {
        note("registry sizes ...");
        bench_live();
    }
    if (wanted("drain")) {
        note("tracker CPU per line ...");
        bench_drain();
    }
    if (wanted("cold")) {
        note("cold start ...");
        bench_cold();
    }
    if (wanted("memory")) {
        note("memory ...");
        bench_memory();
    }
    if (wanted("cleanup")) {
        note("cleanup ...");
        bench_cleanup(0);
        bench_cleanup(1);
    }
    reap_orphans();
    print_table();
    printf("\n(%.0f s; %ld CPUs)\n", (now_ns() - t0) / 1e9,
           sysconf(_SC_NPROCESSORS_ONLN));
    print_json();
    return 0;
}
