/* SPDX-License-Identifier: MIT */
/* make bench: libresourcetracker measured beside the kernel's floor for the
 * same work and beside CPython's multiprocessing.resource_tracker (when
 * python3 is here), in one run. Prints a table and, as its last line, one
 * JSON object with every figure. Each figure is the median of several
 * repetitions, with min and max; ours and the floor are measured
 * alternately, side by side.
 *
 * Every tracker here keeps its journal: RESOURCE_TRACKER_DIR is an empty
 * temporary directory (0700) of the bench's own, removed at the end, and
 * figures that need a state directory of their own (cold starts, dead runs)
 * get a fresh one beside it.
 *
 * Usage: bench [--quick] [--only GROUP] [--image PATH] [--driver PATH]
 *              [--python PATH] [--cli PATH] [--preload PATH] [--helper PATH]
 *   --image    the tracker executable (build/resource_tracker), run directly
 *              on a pipe of lines for the drain figure
 *   --driver   bench/cpython_tracker.py
 *   --cli      the command (build/resourcetracker), for `run --preload`
 *   --preload  the preload shim (build/libresourcetracker-preload.so); its
 *              figures are skipped, with a note, when it is not built
 *   --helper   build/bench/shm-pairs, a program built without the library
 *   --quick    fewer and smaller repetitions (a smoke test, not figures)
 *   --only     one group of figures: register, live, drain, cold, memory,
 *              cleanup, sweep, nosignal, preload */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
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
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "resourcetracker.h"

/* Internal modules, linked from the static library: the descriptors the
 * tracker image expects, the journal's name and creation, the sweep, and
 * the SIGPIPE-masked write of kernels without RWF_NOSIGNAL. */
#include "fdio.h"
#include "handoff.h"
#include "statedir.h"
#include "sweep.h"

#ifndef RWF_NOSIGNAL
#define RWF_NOSIGNAL 0x00000100
#endif

extern char **environ;

static int quick;
static const char *only;
static const char *image_path = "build/resource_tracker";
static const char *driver_path = "bench/cpython_tracker.py";
static const char *python = "python3";
static const char *cli_path = "build/resourcetracker";
static const char *preload_path = "build/libresourcetracker-preload.so";
static const char *helper_path = "build/bench/shm-pairs";
static int have_python;

/* ---- statistics, the result table, notes ---- */

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

#define MAX_FIGURES 64
static struct figure figures[MAX_FIGURES];
static int nfigures;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static struct figure *figure(const char *key, const char *label,
                             const char *unit)
{
    if (nfigures == MAX_FIGURES) {
        die("too many figures");
    }
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

#define MAX_TARGETS 48
static struct target targets[MAX_TARGETS];
static int ntargets;

static void target(const char *text, double value, double limit, int at_least)
{
    if (ntargets == MAX_TARGETS) {
        die("too many targets");
    }
    targets[ntargets++] = (struct target){text, value, limit, at_least};
}

static int passed(const struct target *t)
{
    return t->at_least ? t->value >= t->limit : t->value <= t->limit;
}

/* Said under the table and in the JSON line: figures skipped, and why. */
#define MAX_REMARKS 16
static char remarks[MAX_REMARKS][256];
static int nremarks;

static void remark(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void remark(const char *fmt, ...)
{
    if (nremarks == MAX_REMARKS) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(remarks[nremarks++], sizeof(remarks[0]), fmt, ap);
    va_end(ap);
}

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

static int reps(int full, int small)
{
    return quick ? small : full;
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

/* Orphaned trackers and guardians come to us (we are a subreaper): reap
 * those done. */
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
    int st = wait_exact(pid, 600);
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        die("a measurement process failed (status 0x%x)", st);
    }
    reap_orphans();
    return n;
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            die("write: %s", strerror(errno));
        }
        p += w;
        n -= (size_t)w;
    }
}

static int pending(int fd)
{
    int n = 0;
    return ioctl(fd, FIONREAD, &n) == 0 ? n : 0;
}

/* Until the reader of FD's pipe has taken everything written to it. */
static void wait_empty(int fd)
{
    double end = now_ns() + 60e9;
    while (pending(fd) > 0 && now_ns() < end) {
        nap_us(50);
    }
}

/* Until PID sleeps (in poll or its nap: done with what it took). */
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

/* ---- the tracker's pipes in a host ---- */

#define MAX_FDS 1024

/* Starts this process's tracker and returns its private pipe: the host
 * writes its messages there (client.c), so FIONREAD on it (on the write
 * end or on the spare read end, the same pipe) says what the tracker has
 * not taken yet. The private pipe is the one pipe the start opened besides
 * the public one (rt_getfd); when there is none, the public one. */
static int start_tracker(void)
{
    static unsigned char before[MAX_FDS];
    struct stat st;
    for (int fd = 0; fd < MAX_FDS; fd++) {
        before[fd] = fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
    }
    if (rt_ensure_running() < 0) {
        _exit(2);
    }
    struct stat b;
    if (fstat(rt_getfd(), &b) < 0) {
        _exit(2);
    }
    for (int fd = 0; fd < MAX_FDS; fd++) {
        if (!before[fd] && fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) &&
            st.st_ino != b.st_ino) {
            return fd;
        }
    }
    return rt_getfd();
}

/* Until the tracker has taken and applied everything written to PIPE. */
static void wait_taken(int pipe_fd)
{
    wait_empty(pipe_fd);
    wait_sleeping(rt_tracker_pid());
}

/* ---- the floors: pipes with a reader of their own ---- */

/* In a reader child: nothing of the host but KEEP, so that no pipe of the
 * host (another floor's, the tracker's) is held open by the reader. */
static void keep_only(int keep)
{
    for (int fd = 3; fd < MAX_FDS; fd++) {
        if (fd != keep) {
            close(fd);
        }
    }
}

/* The old floor: a reader that blocks in read(2), so that every write
 * wakes it. Returns the write end. */
static int eager_pipe(pid_t *ret_pid)
{
    int p[2];
    if (pipe(p) < 0) {
        die("pipe: %s", strerror(errno));
    }
    pid_t pid = fork();
    if (pid == 0) {
        keep_only(p[0]);
        static char buf[65536];
        while (read(p[0], buf, sizeof(buf)) > 0) {
        }
        _exit(0);
    }
    close(p[0]);
    *ret_pid = pid;
    return p[1];
}

/* As tracker.c's loop: a take of less than this is followed by a nap of
 * NAP_US; a take that found the pipe full grows it, up to NAP_GROWN. */
#define NAP_FULL 65536
#define NAP_US 100
#define NAP_GROWN (1 << 20)

/* The floor: a reader that naps like our tracker. It waits in poll(2),
 * takes everything the pipe holds, grows the pipe when it found it full,
 * and after a take of less than 64 KiB sleeps 100 us before it waits
 * again: during a burst, writers rarely have a reader to wake, as with
 * ours. Returns the write end. */
static int napping_pipe(pid_t *ret_pid)
{
    int p[2];
    if (pipe(p) < 0) {
        die("pipe: %s", strerror(errno));
    }
    pid_t pid = fork();
    if (pid == 0) {
        keep_only(p[0]);
        static char buf[NAP_GROWN];
        int size = fcntl(p[0], F_GETPIPE_SZ);
        (void)fcntl(p[0], F_SETFL, O_NONBLOCK);
        for (;;) {
            struct pollfd pfd = {p[0], POLLIN, 0};
            if (poll(&pfd, 1, -1) < 0 && errno != EINTR) {
                break;
            }
            ssize_t n = read(p[0], buf, sizeof(buf));
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                break;
            }
            if (n >= size && size > 0 && size < NAP_GROWN) {
                int want = size * 4 < NAP_GROWN ? size * 4 : NAP_GROWN;
                int got = fcntl(p[0], F_SETPIPE_SZ, want);
                size = got > 0 ? got : size;
            }
            if (n > 0 && n < NAP_FULL) {
                nap_us(NAP_US);
            }
        }
        _exit(0);
    }
    close(p[0]);
    *ret_pid = pid;
    return p[1];
}

static void end_pipe(int fd, pid_t reader)
{
    close(fd);
    while (waitpid(reader, NULL, 0) < 0 && errno == EINTR) {
    }
}

/* ---- state directories ---- */

static char root[PATH_MAX]; /* the bench's temporary directory */
static pid_t main_pid;
static unsigned dir_seq;

/* DIR/NAME into BUF. */
static void path_join(char *buf, size_t len, const char *dir, const char *name)
{
    int n = snprintf(buf, len, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= len) {
        die("path too long: %s/%s", dir, name);
    }
}

/* A new empty directory (0700) under the bench's root, into BUF. */
static void new_dir(char *buf, size_t len, const char *what)
{
    int n = snprintf(buf, len, "%s/%s-%u", root, what, dir_seq++);
    if (n < 0 || (size_t)n >= len) {
        die("path too long: %s", root);
    }
    if (mkdir(buf, 0700) < 0) {
        die("mkdir %s: %s", buf, strerror(errno));
    }
}

/* Removes PATH and everything under it. */
static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL) {
        return;
    }
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        char child[PATH_MAX];
        struct stat st;
        path_join(child, sizeof(child), path, e->d_name);
        if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode)) {
            remove_tree(child);
        } else {
            (void)unlink(child);
        }
    }
    closedir(d);
    (void)rmdir(path);
}

static void remove_root(void)
{
    if (getpid() == main_pid && root[0] != '\0') {
        remove_tree(root);
    }
}

/* Journal files in DIR. */
static int journals_in(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return 0;
    }
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        n += rt__state_is_journal_name(e->d_name);
    }
    closedir(d);
    return n;
}

/* The journal of this process's run: its path into BUF. */
static void journal_path(char *buf, size_t len)
{
    struct stat b;
    char name[RT_STATE_NAME_MAX];
    if (fstat(rt_getfd(), &b) < 0) {
        _exit(2);
    }
    rt__state_journal_name(name, sizeof(name), b.st_dev, b.st_ino);
    snprintf(buf, len, "%s/%s", getenv(RT_ENV_DIR), name);
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

/* N register+unregister pairs of lines, each line one write(2) to FD. */
static void write_pairs(int fd, int n)
{
    for (int i = 0; i < n; i++) {
        if (write(fd, REG_LINE, sizeof(REG_LINE) - 1) < 0 ||
            write(fd, UNREG_LINE, sizeof(UNREG_LINE) - 1) < 0) {
            _exit(2);
        }
    }
}

static void register_pairs(int n)
{
    for (int i = 0; i < n; i++) {
        if (rt_register(NAME, RT_SHARED_MEMORY) < 0 ||
            rt_unregister(NAME, RT_SHARED_MEMORY) < 0) {
            _exit(2);
        }
    }
}

/* One untimed round on the napping floor FD and on the private pipe PRIV:
 * both readers have grown their pipes as a burst makes them. */
static void warm_up(int fd, int priv, int n)
{
    write_pairs(fd, n);
    register_pairs(n);
    wait_empty(fd);
    wait_taken(priv);
}

/* Per repetition: the old floor (a reader woken by every write), the
 * floor (a reader napping like ours), ours, the warm probe; ns per call.
 * Each pipe is emptied before the next loop starts, untimed. */
static void m_register(int w, void *arg)
{
    const char *no_journal = arg;
    int n = quick ? 10000 : 30000;
    if (no_journal != NULL) {
        /* A state directory the library refuses (not 0700): no journal,
         * and a warning nobody needs to see. */
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 2);
        if (setenv(RT_ENV_DIR, no_journal, 1) < 0) {
            _exit(2);
        }
    }
    int priv = start_tracker();
    pid_t eager_pid;
    pid_t nap_pid;
    int eager = eager_pipe(&eager_pid);
    int napping = napping_pipe(&nap_pid);
    warm_up(napping, priv, n);
    for (int r = 0; r < reps(21, 3); r++) {
        double t0 = now_ns();
        write_pairs(eager, n);
        double t1 = now_ns();
        wait_empty(eager);
        double t2 = now_ns();
        write_pairs(napping, n);
        double t3 = now_ns();
        wait_empty(napping);
        double t4 = now_ns();
        register_pairs(n);
        double t5 = now_ns();
        wait_taken(priv);
        double t6 = now_ns();
        for (int i = 0; i < n; i++) {
            (void)rt_ensure_running();
        }
        double t7 = now_ns();
        put_double(w, (t1 - t0) / (2.0 * n));
        put_double(w, (t3 - t2) / (2.0 * n));
        put_double(w, (t5 - t4) / (2.0 * n));
        put_double(w, (t7 - t6) / n);
    }
    end_pipe(eager, eager_pid);
    end_pipe(napping, nap_pid);
}

static void bench_register(void)
{
    double v[128];
    int n = in_child(m_register, NULL, v, 128) / 4;
    char open_dir[PATH_MAX];
    new_dir(open_dir, sizeof(open_dir), "nojournal");
    if (chmod(open_dir, 0755) < 0) {
        die("chmod %s: %s", open_dir, strerror(errno));
    }
    double nv[128];
    int nn = in_child(m_register, open_dir, nv, 128) / 4;
    double nj[32], nj_fl[32];
    for (int i = 0; i < nn; i++) {
        nj_fl[i] = nv[4 * i + 1];
        nj[i] = nv[4 * i + 2];
    }
    double eager[32], fl[32], ours[32], warm[32];
    double ratio[32], warm_ratio[32];
    for (int i = 0; i < n; i++) {
        eager[i] = v[4 * i];
        fl[i] = v[4 * i + 1];
        ours[i] = v[4 * i + 2];
        warm[i] = v[4 * i + 3];
        ratio[i] = ours[i] / fl[i];
        warm_ratio[i] = warm[i] / fl[i];
    }
    struct figure *f = figure(
        "register_ns", "register+unregister, per call (floor naps)", "ns");
    f->ours = stats(ours, n);
    f->floor = stats(fl, n);
    char reps_s[16];
    char n_s[16];
    snprintf(reps_s, sizeof(reps_s), "%d", reps(7, 2));
    snprintf(n_s, sizeof(n_s), "%d", quick ? 2000 : 20000);
    char *args[] = {(char *)"register", reps_s, n_s, NULL};
    double py[32] = {0};
    f->cpython = stats(py, py_values(args, "ns", py, 32));
    /* The floor as it was measured before: a reader woken by every
     * write, which makes each write dearer. Kept to compare. */
    struct figure *o =
        figure("register_ns_old_floor",
               "same, beside the old floor (reader woken each write)", "ns");
    o->ours = f->ours;
    o->floor = stats(eager, n);
    /* The same with a tracker that keeps no journal (as before it had
     * one): what the journal's splices cost the writers. */
    struct figure *j =
        figure("register_ns_no_journal", "same, tracker without journal", "ns");
    j->ours = stats(nj, nn);
    j->floor = stats(nj_fl, nn);
    /* Each repetition measures the floor and ours back to back: the median
     * of those paired ratios holds up when the machine's speed drifts
     * during the run, which a ratio of medians would not. */
    target("register+unregister <= 1.15 x raw write, reader napping",
           stats(ratio, n).med, 1.15, 0);
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
    /* A load and a compare; any system call costs 50 ns or more. */
    target("warm rt_ensure_running <= 20 ns (a memory load)", g->ours.med, 20,
           0);
}

/* ---- 2. register cost with many names live ---- */

static void m_live(int w, void *arg)
{
    (void)arg;
    static const int live[] = {0, 100000, 1000000};
    int n = quick ? 10000 : 30000;
    int priv = start_tracker();
    pid_t nap_pid;
    int floor_fd = napping_pipe(&nap_pid);
    warm_up(floor_fd, priv, n);
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
        wait_taken(priv);
        for (int r = 0; r < reps(11, 2); r++) {
            double t0 = now_ns();
            write_pairs(floor_fd, n);
            double t1 = now_ns();
            wait_empty(floor_fd);
            double t2 = now_ns();
            register_pairs(n);
            double t3 = now_ns();
            wait_taken(priv);
            put_double(w, (double)l);
            put_double(w, (t1 - t0) / (2.0 * n));
            put_double(w, (t3 - t2) / (2.0 * n));
        }
    }
    end_pipe(floor_fd, nap_pid);
    /* Leave nothing for the tracker to "clean up". */
    for (int i = 0; i < held; i++) {
        snprintf(name, sizeof(name), "/rt-bench-live-%07d", i);
        (void)rt_unregister(name, RT_SHARED_MEMORY);
    }
    wait_taken(priv);
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

/* N lines: register and unregister pairs of distinct names. */
static char *make_lines(int n, size_t *ret_len)
{
    size_t cap = (size_t)n * 48 + 1;
    char *buf = malloc(cap);
    if (buf == NULL) {
        die("out of memory");
    }
    size_t len = 0;
    for (int i = 0; i < n / 2; i++) {
        len += (size_t)snprintf(buf + len, cap - len,
                                "REGISTER:/rt-bench-drain-%07d:shared_memory\n"
                                "UNREGISTER:/rt-bench-drain-%07d:shared_"
                                "memory\n",
                                i, i);
    }
    *ret_len = len;
    return buf;
}

enum drainer { DRAIN_OURS, DRAIN_NO_JOURNAL, DRAIN_FLOOR, DRAIN_PYTHON };

/* Moves each SRC[i] onto DST[i] and closes every other descriptor. In a
 * child about to exec. */
static void place_fds(const int *src, const int *dst, int n)
{
    int tmp[8];
    for (int i = 0; i < n; i++) {
        tmp[i] = fcntl(src[i], F_DUPFD, MAX_FDS / 2);
        if (tmp[i] < 0) {
            _exit(127);
        }
    }
    for (int i = 0; i < n; i++) {
        if (dup2(tmp[i], dst[i]) < 0) {
            _exit(127);
        }
    }
    for (int fd = 0; fd < MAX_FDS; fd++) {
        int keep = 0;
        for (int i = 0; i < n; i++) {
            keep |= dst[i] == fd;
        }
        if (!keep) {
            close(fd);
        }
    }
}

/* The tracker image as the launcher starts it (handoff.h): the public
 * pipe's read end RD, a status descriptor, and, with DIR, the run's
 * journal (created as the launcher creates it, holding the run's lock)
 * and the state directory; 0 to 2 on /dev/null. In a child. */
static _Noreturn void exec_tracker(int rd, const char *dir)
{
    int null = open("/dev/null", O_RDWR);
    int src[7] = {null, null, null, rd, null};
    int dst[7] = {0, 1, 2, RT_FD_B, RT_FD_STATUS};
    int n = 5;
    if (dir != NULL) {
        struct stat st;
        int dfd = open(dir, O_RDONLY | O_DIRECTORY);
        int jfd = dfd < 0 || fstat(rd, &st) < 0
                      ? -1
                      : rt__state_create_journal(dfd, st.st_dev, st.st_ino);
        if (jfd < 0) {
            _exit(127);
        }
        src[n] = jfd;
        dst[n++] = RT_FD_JOURNAL;
        src[n] = dfd;
        dst[n++] = RT_FD_DIR;
    }
    char arg[RT_ARG_MAX];
    snprintf(arg, sizeof(arg), "%ld:0", (long)getppid());
    place_fds(src, dst, n);
    char *argv[] = {(char *)image_path, arg, NULL};
    execv(image_path, argv);
    _exit(127);
}

/* WHO reads LEN bytes of DATA from a pipe the bench fills; returns WHO's
 * CPU time (user + system) in ns, or -1. */
static double drain_cpu(enum drainer who, const char *data, size_t len)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        die("pipe: %s", strerror(errno));
    }
    char dir[PATH_MAX] = "";
    if (who == DRAIN_OURS) {
        new_dir(dir, sizeof(dir), "drain");
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        die("fork: %s", strerror(errno));
    }
    if (pid == 0) {
        close(p[1]);
        if (who == DRAIN_OURS || who == DRAIN_NO_JOURNAL) {
            exec_tracker(p[0], who == DRAIN_OURS ? dir : NULL);
        }
        if (who == DRAIN_FLOOR) {
            /* The floor: read it all and find every newline. */
            keep_only(p[0]);
            static char buf[65536];
            ssize_t n;
            long lines = 0;
            while ((n = read(p[0], buf, sizeof(buf))) > 0) {
                for (char *q = buf;
                     (q = memchr(q, '\n', (size_t)(buf + n - q))); q++) {
                    lines++;
                }
            }
            _exit(lines >= 0 ? 0 : 1);
        }
        int null = open("/dev/null", O_RDWR);
        int src[4] = {null, null, null, p[0]};
        int dst[4] = {0, 1, 2, 3};
        place_fds(src, dst, 4);
        char *argv[] = {(char *)python, (char *)"-c",
                        (char *)"from multiprocessing.resource_tracker import "
                                "main; main(3)",
                        NULL};
        execvp(python, argv);
        _exit(127);
    }
    close(p[0]);
    /* A reader that failed to start must not take the bench with it. */
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);
    for (size_t off = 0; off < len;) {
        size_t k = len - off < 65536 ? len - off : 65536;
        ssize_t w = write(p[1], data + off, k);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            break;
        }
        off += (size_t)w;
    }
    close(p[1]);
    signal(SIGPIPE, old);
    int st;
    struct rusage ru;
    pid_t r;
    while ((r = wait4(pid, &st, 0, &ru)) < 0 && errno == EINTR) {
    }
    reap_orphans();
    if (dir[0] != '\0') {
        remove_tree(dir);
    }
    if (r != pid || !WIFEXITED(st) || WEXITSTATUS(st) == 127) {
        return -1;
    }
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e9 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e3;
}

static struct stat3 per_line(enum drainer who, const char *data, size_t len,
                             int lines, int nreps)
{
    double v[16];
    int n = 0;
    double base = 1e30;
    for (int r = 0; r < 3; r++) {
        double b = drain_cpu(who, data, 0);
        if (b >= 0 && b < base) {
            base = b;
        }
    }
    for (int r = 0; r < nreps && base < 1e30; r++) {
        double c = drain_cpu(who, data, len);
        if (c >= 0) {
            v[n++] = (c - base) / lines;
        }
    }
    return stats(v, n);
}

static void bench_drain(void)
{
    int lines = quick ? 100000 : 1000000;
    size_t len;
    char *data = make_lines(lines, &len);
    struct figure *f =
        figure("tracker_cpu_ns_per_line",
               "tracker CPU per line, journal on, 1,000,000 lines", "ns");
    f->ours = per_line(DRAIN_OURS, data, len, lines, reps(5, 2));
    f->floor = per_line(DRAIN_FLOOR, data, len, lines, reps(5, 2));
    if (have_python) {
        f->cpython = per_line(DRAIN_PYTHON, data, len, lines, reps(3, 1));
    }
    struct figure *g = figure("tracker_cpu_ns_per_line_no_journal",
                              "same, no journal (as before)", "ns");
    g->ours = per_line(DRAIN_NO_JOURNAL, data, len, lines, reps(5, 2));
    g->floor = f->floor;
    free(data);
    if (f->ours.n == 0) {
        remark("the tracker image %s did not run: no drain figure", image_path);
        return;
    }
    target("tracker CPU <= 150 ns per line, journal on", f->ours.med, 150, 0);
    if (f->cpython.n > 0) {
        target("tracker CPU >= 4 x faster than CPython's",
               f->cpython.med / f->ours.med, 4, 1);
    }
}

/* ---- dead runs: whole trees SIGKILLed, their journals left ---- */

struct dead_host {
    const char *dir;    /* its state directory */
    const char *prefix; /* its names: /PREFIX-I */
    int count;
    int create; /* through rt_shm_open (identity recorded), else only
                   rt_register */
};

/* A host that registers, says its tracker's pid once the tracker has
 * taken everything, and waits to be killed. */
static _Noreturn void dead_host_main(const struct dead_host *h, int report)
{
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 2); /* no leak report is measured here */
    if (setenv(RT_ENV_DIR, h->dir, 1) < 0) {
        _exit(2);
    }
    int priv = start_tracker();
    char name[128];
    for (int i = 0; i < h->count; i++) {
        snprintf(name, sizeof(name), "/%s-%d", h->prefix, i);
        if (h->create) {
            int fd = rt_shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
            if (fd < 0) {
                _exit(2);
            }
            close(fd);
        } else if (rt_register(name, RT_SHARED_MEMORY) < 0) {
            _exit(2);
        }
    }
    wait_taken(priv);
    pid_t t = rt_tracker_pid();
    if (write(report, &t, sizeof(t)) != sizeof(t)) {
        _exit(2);
    }
    for (;;) {
        pause();
    }
}

/* Runs a host of H and kills its whole tree: the tracker and its guardian
 * (one process group: the tracker's session) first, so that the tracker
 * never sees the host go, then the host. Returns once all are dead: the
 * run's journal is left in H->dir, its lock free. */
static void dead_run(const struct dead_host *h)
{
    int p[2];
    if (pipe(p) < 0) {
        die("pipe: %s", strerror(errno));
    }
    fflush(NULL);
    pid_t host = fork();
    if (host < 0) {
        die("fork: %s", strerror(errno));
    }
    if (host == 0) {
        close(p[0]);
        dead_host_main(h, p[1]);
    }
    close(p[1]);
    pid_t t = -1;
    if (read(p[0], &t, sizeof(t)) != sizeof(t) || t <= 0) {
        die("a host of a dead run failed");
    }
    close(p[0]);
    if (kill(-t, SIGKILL) < 0) {
        die("kill tracker: %s", strerror(errno));
    }
    /* It is ours to reap (we are a subreaper): gone for sure. */
    if (wait_exact(t, 30) == -1) {
        die("the tracker of a dead run did not die");
    }
    kill(host, SIGKILL);
    if (wait_exact(host, 30) == -1) {
        die("a host did not die");
    }
    reap_orphans();
}

/* ---- 4. cold start ---- */

#define GIB ((size_t)1 << 30)

/* A journal file set aside: its name and bytes. */
struct saved_journal {
    char name[RT_STATE_NAME_MAX];
    char *data;
    size_t len;
};

struct cold_args {
    size_t heap;
    char dir[PATH_MAX];
    int dead; /* dead runs lying in DIR: wait for their sweep after */
};

static void m_cold(int w, void *arg)
{
    const struct cold_args *a = arg;
    if (setenv(RT_ENV_DIR, a->dir, 1) < 0) {
        _exit(2);
    }
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 2); /* the sweep's report is not what is measured */
    /* Held (and touched) until this process exits: the host is that big. */
    static char *held;
    if (a->heap > 0) {
        held = malloc(a->heap);
        if (held == NULL) {
            _exit(2);
        }
        memset(held, 1, a->heap);
    }
    double t0 = now_ns();
    if (rt_ensure_running() < 0) {
        _exit(2);
    }
    double t1 = now_ns();
    int fd = rt_getfd();
    static const char probe[] = "PROBE:0:noop\n";
    if (write(fd, probe, sizeof(probe) - 1) < 0) {
        _exit(2);
    }
    /* A host busy with its own work: it keeps its CPU. */
    while (pending(fd) > 0) {
    }
    put_double(w, now_ns() - t0);
    put_double(w, t1 - t0);
    put_double(w, (double)rt_tracker_pid());
    /* Untimed: the guardian's sweep of the dead runs finishes before the
     * next repetition starts (only our own journal is left). */
    double end = now_ns() + 30e9;
    while (a->dead > 0 && journals_in(a->dir) > 1 && now_ns() < end) {
        nap_us(1000);
    }
}

/* One cold start into a fresh state directory; with DEAD, the journals of
 * dead runs lie there and the objects they name exist. *OUT: until the
 * first line was read; *OUT_READY: until rt_ensure_running returned. */
static int cold_once(size_t heap, const struct saved_journal *dead, int ndead,
                     const char *prefix, int per_run, double *out,
                     double *out_ready)
{
    struct cold_args a = {heap, "", ndead};
    new_dir(a.dir, sizeof(a.dir), "cold");
    char path[PATH_MAX];
    char name[128];
    for (int i = 0; i < ndead; i++) {
        path_join(path, sizeof(path), a.dir, dead[i].name);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (fd < 0) {
            die("%s: %s", path, strerror(errno));
        }
        write_all(fd, dead[i].data, dead[i].len);
        close(fd);
        for (int k = 0; k < per_run; k++) {
            snprintf(name, sizeof(name), "/%s-%d-%d", prefix, i, k);
            int s = shm_open(name, O_CREAT | O_RDWR, 0600);
            if (s >= 0) {
                close(s);
            }
        }
    }
    double v[3];
    int n = in_child(m_cold, &a, v, 3);
    if (n == 3 && v[2] > 0) {
        /* Its tracker ends once the host has gone: wait, so that the next
         * repetition has the machine to itself. */
        (void)wait_exact((pid_t)v[2], 30);
    }
    reap_orphans();
    for (int i = 0; i < ndead; i++) {
        for (int k = 0; k < per_run; k++) {
            snprintf(name, sizeof(name), "/%s-%d-%d", prefix, i, k);
            (void)shm_unlink(name);
        }
    }
    remove_tree(a.dir);
    if (n < 2) {
        return 0;
    }
    *out = v[0];
    *out_ready = v[1];
    return 1;
}

/* NRUNS runs that died whole, each of PER_RUN names /PREFIX-RUN-I, their
 * journals read into memory. Each run has a state directory of its own:
 * the guardian of a new tracker sweeps the dead runs it finds. */
static struct saved_journal *make_dead_journals(int nruns, int per_run,
                                                const char *prefix)
{
    struct saved_journal *saved = calloc((size_t)nruns, sizeof(*saved));
    if (saved == NULL) {
        die("out of memory");
    }
    for (int i = 0; i < nruns; i++) {
        char dir[PATH_MAX];
        char run_prefix[96];
        new_dir(dir, sizeof(dir), "dead");
        snprintf(run_prefix, sizeof(run_prefix), "%s-%d", prefix, i);
        struct dead_host h = {dir, run_prefix, per_run, 0};
        dead_run(&h);
        DIR *d = opendir(dir);
        struct dirent *e;
        while (d != NULL && (e = readdir(d)) != NULL) {
            if (!rt__state_is_journal_name(e->d_name)) {
                continue;
            }
            char path[PATH_MAX];
            path_join(path, sizeof(path), dir, e->d_name);
            int fd = open(path, O_RDONLY);
            struct stat st;
            if (fd < 0 || fstat(fd, &st) < 0) {
                die("%s: %s", path, strerror(errno));
            }
            saved[i].len = (size_t)st.st_size;
            saved[i].data = malloc(saved[i].len + 1);
            if (saved[i].data == NULL || pread(fd, saved[i].data, saved[i].len,
                                               0) != (ssize_t)saved[i].len) {
                die("%s: cannot be read", path);
            }
            close(fd);
            if (strlen(e->d_name) >= sizeof(saved[i].name)) {
                die("%s: name too long", e->d_name);
            }
            memcpy(saved[i].name, e->d_name, strlen(e->d_name) + 1);
        }
        if (d != NULL) {
            closedir(d);
        }
        if (saved[i].data == NULL) {
            die("a dead run left no journal");
        }
        remove_tree(dir);
    }
    return saved;
}

static struct stat3 cold(size_t heap, int nreps, const struct saved_journal *d,
                         int ndead, const char *prefix, int per_run,
                         struct stat3 *ret_ready)
{
    double v[32];
    double ready[32];
    int n = 0;
    for (int r = 0; r < nreps; r++) {
        n += cold_once(heap, d, ndead, prefix, per_run, v + n, ready + n);
    }
    if (ret_ready != NULL) {
        *ret_ready = stats(ready, n);
    }
    return stats(v, n);
}

static void bench_cold(void)
{
    struct figure *f =
        figure("cold_start_ns",
               "cold start to first line read, empty state directory", "ns");
    f->ours = cold(0, reps(15, 3), NULL, 0, NULL, 0, NULL);
    double py[16] = {0};
    int n = 0;
    for (int r = 0; have_python && r < reps(7, 2); r++) {
        char *args[] = {(char *)"cold", NULL};
        n += py_values(args, "ns", py + n, 1);
    }
    f->cpython = stats(py, n);

    int ndead = quick ? 10 : 100;
    int per_run = 10;
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "rt-bench-dead-%ld", (long)getpid());
    struct saved_journal *dead = make_dead_journals(ndead, per_run, prefix);
    /* The guardian sweeps them after "ready": the start must not wait for
     * it. Until the first line is read, the tracker shares the CPU the
     * host leaves with that sweep. */
    struct figure *dr =
        figure("cold_start_dead_runs_ready_ns",
               quick ? "same, 10 dead runs to sweep there: until ready"
                     : "same, 100 dead runs to sweep there: until ready",
               "ns");
    struct figure *d =
        figure("cold_start_dead_runs_ns",
               "same, dead runs: until the first line is read", "ns");
    d->ours = cold(0, reps(9, 2), dead, ndead, prefix, per_run, &dr->ours);
    d->floor = f->ours;
    for (int i = 0; i < ndead; i++) {
        free(dead[i].data);
    }
    free(dead);

    struct figure *g =
        figure("cold_start_1gib_ns",
               "cold start, empty state directory, 1 GiB host", "ns");
    g->ours = cold(quick ? GIB / 8 : GIB, reps(7, 2), NULL, 0, NULL, 0, NULL);
    target("cold start <= 2 ms (empty state directory)", f->ours.med / 1e6, 2,
           0);
    target("cold start <= 2 ms (dead runs to sweep: ready)", dr->ours.med / 1e6,
           2, 0);
    target("cold start <= 2 ms (dead runs to sweep: first line)",
           d->ours.med / 1e6, 2, 0);
    target("cold start <= 2 ms (1 GiB host)", g->ours.med / 1e6, 2, 0);
    target("cold start 1 GiB / small <= 1.5", g->ours.med / f->ours.med, 1.5,
           0);
    if (f->cpython.n > 0) {
        target("cold start >= 15 x faster than CPython",
               f->cpython.med / f->ours.med, 15, 1);
    }
}

/* ---- 5. memory, and the journal ---- */

/* The journal of this process's run: bytes on disk (blocks: compaction
 * punches holes), bytes of data (what is not a hole) and its size. */
static void journal_usage(double *ret_disk, double *ret_data, double *ret_size)
{
    char path[PATH_MAX];
    journal_path(path, sizeof(path));
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        *ret_disk = *ret_data = *ret_size = -1;
        if (fd >= 0) {
            close(fd);
        }
        return;
    }
    off_t data = 0;
    for (off_t pos = 0;;) {
        off_t d = lseek(fd, pos, SEEK_DATA);
        if (d < 0) {
            break;
        }
        off_t h = lseek(fd, d, SEEK_HOLE);
        if (h <= d) {
            break;
        }
        data += h - d;
        pos = h;
    }
    close(fd);
    *ret_disk = (double)st.st_blocks * 512;
    *ret_data = (double)data;
    *ret_size = (double)st.st_size;
}

static void m_memory(int w, void *arg)
{
    int names = *(int *)arg;
    int priv = start_tracker();
    pid_t t = rt_tracker_pid();
    wait_sleeping(t);
    put_double(w, smaps_kib(t, "Anonymous"));
    put_double(w, smaps_kib(t, "Pss"));
    char name[64];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < names; i++) {
            snprintf(name, sizeof(name), "/rt-bench-mem-%07d", i);
            (void)rt_register(name, RT_SHARED_MEMORY);
        }
        wait_taken(priv);
        put_double(w, smaps_kib(t, "Anonymous"));
        if (round == 0) {
            double disk;
            double data;
            double size;
            journal_usage(&disk, &data, &size);
            put_double(w, disk / names);
            put_double(w, data / names);
            put_double(w, size / names);
        }
        for (int i = 0; i < names; i++) {
            snprintf(name, sizeof(name), "/rt-bench-mem-%07d", i);
            (void)rt_unregister(name, RT_SHARED_MEMORY);
        }
        wait_taken(priv);
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
    double jdisk[8], jdata[8], jsize[8];
    int n = 0;
    for (int r = 0; r < reps(3, 1); r++) {
        double v[12];
        if (in_child(m_memory, &names, v, 12) == 9) {
            idle_anon[n] = v[0];
            idle_pss[n] = v[1];
            held1[n] = v[2];
            jdisk[n] = v[3];
            jdata[n] = v[4];
            jsize[n] = v[5];
            rel1[n] = v[6];
            held2[n] = v[7];
            rel2[n] = v[8];
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
    figure("journal_disk_bytes_per_name",
           "journal on disk per live name, 100,000 names", "B")
        ->ours = stats(jdisk, n);
    figure("journal_data_bytes_per_name",
           "journal data (holes excluded) per live name", "B")
        ->ours = stats(jdata, n);
    figure("journal_size_bytes_per_name",
           "journal size (holes included) per live name", "B")
        ->ours = stats(jsize, n);

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

/* Objects of /dev/shm whose name starts with PREFIX (either libc's form
 * of a semaphore). */
static int count_left(const char *prefix)
{
    DIR *d = opendir("/dev/shm");
    if (d == NULL) {
        return 0;
    }
    size_t k = strlen(prefix);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        const char *s = e->d_name;
        if (strncmp(s, "sem.", 4) == 0) {
            s += 4;
        }
        n += strncmp(s, prefix, k) == 0;
    }
    closedir(d);
    return n;
}

/* The host: creates and registers the objects, says the tracker's pid,
 * and waits to be killed. */
static void cleanup_host(const struct cleanup_args *a, int report)
{
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 2); /* the tracker's report is not what is measured here */
    int priv = start_tracker();
    char name[128];
    for (int i = 0; i < a->count; i++) {
        snprintf(name, sizeof(name), "/%s-%d", a->prefix, i);
        if (create_object(a, i) < 0 ||
            rt_register(name, a->sem ? RT_SEMAPHORE : RT_SHARED_MEMORY) < 0) {
            _exit(2);
        }
    }
    wait_taken(priv);
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
    if (count_left(a->prefix) > 0) {
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
    if (count_left(a->prefix) > 0) {
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

/* ---- 7. sweep of a dead run ---- */

/* rt__sweep_dir over the state directory ARG, as the guardian and
 * `resourcetracker sweep` run it: ns, and the names removed. */
static void m_sweep(int w, void *arg)
{
    const char *dir = arg;
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 2); /* the leak report is not what is measured */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        _exit(2);
    }
    struct rt_sweep_opts o;
    memset(&o, 0, sizeof(o));
    struct rt_sweep_stats st = {0, 0, 0, 0, 0, 0, 0, 0};
    double t0 = now_ns();
    int r = rt__sweep_dir(dfd, &o, &st);
    double t1 = now_ns();
    put_double(w, t1 - t0);
    put_double(w, r < 0 ? -1 : (double)st.removed);
    /* What became of the run and its names, for a remark when not all
     * were removed. */
    put_double(w, (double)st.alive);
    put_double(w, (double)st.bad);
    put_double(w, (double)st.left);
    put_double(w, (double)st.dropped);
    put_double(w, (double)st.failed);
}

/* A run of COUNT segments created through the library, died whole, then
 * swept: the sweep's time. */
static double ours_sweep(int count, int r, int *ret_removed)
{
    char dir[PATH_MAX];
    char prefix[64];
    new_dir(dir, sizeof(dir), "sweep");
    snprintf(prefix, sizeof(prefix), "rt-bench-%ld-%d-s", (long)getpid(), r);
    struct dead_host h = {dir, prefix, count, 1};
    dead_run(&h);
    double v[7] = {-1, -1, 0, 0, 0, 0, 0};
    (void)in_child(m_sweep, dir, v, 7);
    *ret_removed = (int)v[1];
    if (v[1] != count) {
        remark("sweep: %.0f of %d segments removed (runs alive %.0f, "
               "unusable %.0f; names left %.0f, dropped %.0f, failed %.0f)",
               v[1], count, v[2], v[3], v[4], v[5], v[6]);
    }
    if (count_left(prefix) > 0) {
        remark("sweep: %d segments left after the sweep", count_left(prefix));
        char name[128];
        for (int i = 0; i < count; i++) {
            snprintf(name, sizeof(name), "/%s-%d", prefix, i);
            (void)shm_unlink(name);
        }
    }
    remove_tree(dir);
    return v[0];
}

static void bench_sweep(void)
{
    int count = quick ? 2000 : 10000;
    double ours[16], fl[16], ratio[16];
    int n = 0;
    for (int r = 0; r < reps(7, 1); r++) {
        struct cleanup_args a = {0, count, ""};
        snprintf(a.prefix, sizeof(a.prefix), "rt-bench-%ld-%d-u",
                 (long)getpid(), r);
        int removed = 0;
        double o;
        double f;
        /* Alternately first and second. */
        if (r % 2 == 0) {
            o = ours_sweep(count, r, &removed);
            f = floor_cleanup(&a);
        } else {
            f = floor_cleanup(&a);
            o = ours_sweep(count, r, &removed);
        }
        if (o < 0 || removed != count) {
            continue;
        }
        ours[n] = o;
        fl[n] = f;
        ratio[n] = o / f;
        n++;
    }
    struct figure *f =
        figure("sweep_10k_shm_ns",
               "sweep of a dead run of 10,000 segments (in-use check)", "ns");
    f->ours = stats(ours, n);
    f->floor = stats(fl, n);
    if (n > 0) {
        target("sweep of 10,000 segments <= 1.5 x shm_unlink loop",
               stats(ratio, n).med, 1.5, 0);
    }
}

/* ---- 8. what a message costs without RWF_NOSIGNAL ---- */

static long write_nosignal(int fd, const void *buf, size_t len)
{
    struct iovec iov = {(void *)buf, len};
    return syscall(SYS_pwritev2, (long)fd, &iov, 1L, -1L, -1L,
                   (long)RWF_NOSIGNAL);
}

/* Per repetition, ns per message: write(2), pwritev2(RWF_NOSIGNAL) and
 * the masked write (kernels without it) to a napping reader, then the
 * library's own on its private pipe (a plain write after one load of the
 * liveness word). The second is -1 when the kernel has no RWF_NOSIGNAL. */
static void m_nosignal(int w, void *arg)
{
    (void)arg;
    int n = quick ? 10000 : 30000;
    int priv = start_tracker();
    pid_t nap_pid;
    int fd = napping_pipe(&nap_pid);
    int have = write_nosignal(fd, REG_LINE, sizeof(REG_LINE) - 1) > 0;
    warm_up(fd, priv, n);
    for (int r = 0; r < reps(11, 2); r++) {
        double t0 = now_ns();
        write_pairs(fd, n);
        double t1 = now_ns();
        wait_empty(fd);
        double t2 = now_ns();
        for (int i = 0; have && i < n; i++) {
            if (write_nosignal(fd, REG_LINE, sizeof(REG_LINE) - 1) < 0 ||
                write_nosignal(fd, UNREG_LINE, sizeof(UNREG_LINE) - 1) < 0) {
                _exit(2);
            }
        }
        double t3 = now_ns();
        wait_empty(fd);
        double t4 = now_ns();
        for (int i = 0; i < n; i++) {
            if (rt__fd_write_masked(fd, REG_LINE, sizeof(REG_LINE) - 1) < 0 ||
                rt__fd_write_masked(fd, UNREG_LINE, sizeof(UNREG_LINE) - 1) <
                    0) {
                _exit(2);
            }
        }
        double t5 = now_ns();
        wait_empty(fd);
        double t6 = now_ns();
        register_pairs(n);
        double t7 = now_ns();
        wait_taken(priv);
        put_double(w, (t1 - t0) / (2.0 * n));
        put_double(w, have ? (t3 - t2) / (2.0 * n) : -1);
        put_double(w, (t5 - t4) / (2.0 * n));
        put_double(w, (t7 - t6) / (2.0 * n));
    }
    end_pipe(fd, nap_pid);
}

static void bench_nosignal(void)
{
    double v[128];
    int n = in_child(m_nosignal, NULL, v, 128) / 4;
    double plain[32], nosig[32], masked[32], lib[32], extra[32];
    int k = 0;
    for (int i = 0; i < n; i++) {
        plain[i] = v[4 * i];
        masked[i] = v[4 * i + 2];
        lib[i] = v[4 * i + 3];
        if (v[4 * i + 1] >= 0) {
            nosig[k] = v[4 * i + 1];
            extra[k] = masked[i] - nosig[k];
            k++;
        }
    }
    struct stat3 fl = stats(plain, n);
    struct figure *p =
        figure("message_write_ns", "message: write(2), reader napping", "ns");
    p->ours = fl;
    if (k > 0) {
        struct figure *f =
            figure("message_nosignal_ns",
                   "message: pwritev2(RWF_NOSIGNAL), Linux 6.18", "ns");
        f->ours = stats(nosig, k);
        f->floor = fl;
        figure("message_masked_extra_ns",
               "older kernels pay per message (masked - NOSIGNAL)", "ns")
            ->ours = stats(extra, k);
    } else {
        remark("this kernel has no RWF_NOSIGNAL: only the masked write is "
               "measured");
    }
    struct figure *m =
        figure("message_masked_ns",
               "message: SIGPIPE blocked+consumed around write(2)", "ns");
    m->ours = stats(masked, n);
    m->floor = fl;
    struct figure *l = figure("message_private_pipe_ns",
                              "message: rt_register, private pipe", "ns");
    l->ours = stats(lib, n);
    l->floor = fl;
}

/* ---- 9. the preload shim ---- */

/* Runs ARGV (stderr to /dev/null) and collects up to MAX values of its
 * "ns N" lines. Returns how many, or -1 when it failed. */
static int run_values(char *const argv[], double *out, int max)
{
    int p[2];
    if (pipe(p) < 0) {
        die("pipe: %s", strerror(errno));
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addclose(&fa, p[0]);
    pid_t pid;
    int r = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    if (r != 0) {
        close(p[0]);
        return -1;
    }
    FILE *f = fdopen(p[0], "r");
    char line[128];
    int n = 0;
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        if (n < max && strncmp(line, "ns ", 3) == 0) {
            out[n++] = atof(line + 3);
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    int st = wait_exact(pid, 300);
    reap_orphans();
    return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? n : -1;
}

/* ns per message of a register-sized line to a napping reader. */
static double floor_message(int fd, int n)
{
    double t0 = now_ns();
    write_pairs(fd, n / 2);
    double t1 = now_ns();
    wait_empty(fd);
    return (t1 - t0) / n;
}

static void bench_preload(void)
{
    static char shim[PATH_MAX];
    if (access(preload_path, R_OK) != 0 ||
        realpath(preload_path, shim) == NULL) {
        remark("preload shim not built (%s): its figures (shm_open+shm_unlink "
               "under --preload, exec of /bin/true with it) are skipped",
               preload_path);
        return;
    }
    if (access(cli_path, X_OK) != 0 || access(helper_path, X_OK) != 0) {
        remark("%s or %s missing: the preload figures are skipped", cli_path,
               helper_path);
        return;
    }
    if (setenv("RESOURCE_TRACKER_PRELOAD", shim, 1) < 0) {
        die("setenv: %s", strerror(errno));
    }
    char count[16];
    snprintf(count, sizeof(count), "%d", quick ? 2000 : 20000);
    char spawns[16];
    snprintf(spawns, sizeof(spawns), "%d", quick ? 20 : 100);
    char *plain_pairs[] = {(char *)helper_path, (char *)"pairs", count,
                           (char *)"1", NULL};
    char *pre_pairs[] = {(char *)cli_path,
                         (char *)"run",
                         (char *)"--preload",
                         (char *)"--",
                         (char *)helper_path,
                         (char *)"pairs",
                         count,
                         (char *)"1",
                         NULL};
    char *plain_true[] = {(char *)cli_path,
                          (char *)"run",
                          (char *)"--",
                          (char *)helper_path,
                          (char *)"spawn",
                          (char *)"/bin/true",
                          spawns,
                          (char *)"1",
                          NULL};
    char *pre_true[] = {(char *)cli_path,    (char *)"run",
                        (char *)"--preload", (char *)"--",
                        (char *)helper_path, (char *)"spawn",
                        (char *)"/bin/true", spawns,
                        (char *)"1",         NULL};
    pid_t nap_pid;
    int fd = napping_pipe(&nap_pid);
    double plain[16], pre[16], wr[16], budget[16];
    double tplain[16], tpre[16], tratio[16];
    int n = 0;
    int tn = 0;
    for (int r = 0; r < reps(7, 1); r++) {
        double a = -1;
        double b = -1;
        int ok = r % 2 == 0 ? run_values(plain_pairs, &a, 1) == 1 &&
                                  run_values(pre_pairs, &b, 1) == 1
                            : run_values(pre_pairs, &b, 1) == 1 &&
                                  run_values(plain_pairs, &a, 1) == 1;
        double m = floor_message(fd, quick ? 10000 : 60000);
        if (ok) {
            plain[n] = a;
            pre[n] = b;
            wr[n] = m;
            budget[n] = b / (a + 2 * m);
            n++;
        }
        double c = -1;
        double d = -1;
        ok = r % 2 == 0 ? run_values(plain_true, &c, 1) == 1 &&
                              run_values(pre_true, &d, 1) == 1
                        : run_values(pre_true, &d, 1) == 1 &&
                              run_values(plain_true, &c, 1) == 1;
        if (ok) {
            tplain[tn] = c;
            tpre[tn] = d;
            tratio[tn] = d / c;
            tn++;
        }
    }
    end_pipe(fd, nap_pid);
    if (n == 0 || tn == 0) {
        remark("the preload runs failed (%s run --preload %s): figures "
               "incomplete",
               cli_path, helper_path);
    }
    if (n > 0) {
        struct figure *f = figure("preload_shm_pair_ns",
                                  "shm_open+shm_unlink under --preload", "ns");
        f->ours = stats(pre, n);
        f->floor = stats(plain, n);
        figure("preload_register_write_ns",
               "a register-sized write (the budget's unit)", "ns")
            ->ours = stats(wr, n);
        target("--preload pair <= plain pair + 2 register-sized writes",
               stats(budget, n).med, 1, 0);
    }
    if (tn > 0) {
        struct figure *g = figure("preload_exec_true_ns",
                                  "exec of /bin/true under --preload", "ns");
        g->ours = stats(tpre, tn);
        g->floor = stats(tplain, tn);
        target("exec of /bin/true with --preload <= 1.05 x without",
               stats(tratio, tn).med, 1.05, 0);
    }
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
    printf("\n%-60s %10s %10s %10s %9s %9s\n", "figure (median)", "ours",
           "floor", "CPython", "ours/flr", "CPy/ours");
    for (int i = 0; i < nfigures; i++) {
        const struct figure *f = &figures[i];
        printf("%-60s %10s %10s %10s", f->label,
               f->ours.n ? human(f->ours.med, f->unit, a, sizeof(a)) : "-",
               f->floor.n ? human(f->floor.med, f->unit, b, sizeof(b)) : "-",
               f->cpython.n ? human(f->cpython.med, f->unit, c, sizeof(c))
                            : "-");
        if (f->ours.n && f->floor.n && f->floor.med > 0) {
            printf(" %9.2f", f->ours.med / f->floor.med);
        } else {
            printf(" %9s", "-");
        }
        if (f->cpython.n && f->ours.n && f->ours.med > 0) {
            printf(" %9.1f", f->cpython.med / f->ours.med);
        } else {
            printf(" %9s", "-");
        }
        printf("\n");
    }
    printf("\n%-60s %9s %9s %s\n", "target (ratios: median of paired runs)",
           "value", "limit", "");
    for (int i = 0; i < ntargets; i++) {
        const struct target *t = &targets[i];
        printf("%-60s %9.3f %s%8.3f %s\n", t->text, t->value,
               t->at_least ? ">=" : "<=", t->limit,
               passed(t) ? "ok" : "MISSED");
    }
    if (!have_python) {
        remark("python3 with multiprocessing.resource_tracker not found: no "
               "CPython column");
    }
    if (nremarks > 0) {
        printf("\n");
    }
    for (int i = 0; i < nremarks; i++) {
        printf("(%s)\n", remarks[i]);
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

/* TEXT as a JSON string's contents (remarks hold paths). */
static void json_text(const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p == '"' || *p == '\\') {
            printf("\\%c", *p);
        } else if (*p < 0x20) {
            printf("\\u%04x", *p);
        } else {
            putchar(*p);
        }
    }
}

static void print_json(void)
{
    struct utsname u;
    uname(&u);
    double load[3] = {0, 0, 0};
    (void)getloadavg(load, 3);
    printf("{\"machine\":{\"kernel\":\"%s\",\"arch\":\"%s\",\"cpus\":%ld,"
           "\"load\":[%.2f,%.2f,%.2f]},"
           "\"quick\":%s,\"cpython\":%s,\"figures\":{",
           u.release, u.machine, sysconf(_SC_NPROCESSORS_ONLN), load[0],
           load[1], load[2], quick ? "true" : "false",
           have_python ? "true" : "false");
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
    printf("],\"remarks\":[");
    for (int i = 0; i < nremarks; i++) {
        printf("%s\"", i ? "," : "");
        json_text(remarks[i]);
        printf("\"");
    }
    printf("]}\n");
}

static int wanted(const char *group)
{
    return only == NULL || strcmp(only, group) == 0;
}

/* The bench's own state directory, empty, 0700: every tracker started here
 * keeps its journal there (figures with a directory of their own make
 * one beside it). Removed at exit. */
static void make_root(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(root, sizeof(root), "%s/rt-bench-XXXXXX",
             tmp != NULL && tmp[0] == '/' ? tmp : "/tmp");
    if (mkdtemp(root) == NULL) {
        die("mkdtemp %s: %s", root, strerror(errno));
    }
    main_pid = getpid();
    atexit(remove_root);
    char state[PATH_MAX];
    new_dir(state, sizeof(state), "state");
    if (setenv(RT_ENV_DIR, state, 1) < 0) {
        die("setenv: %s", strerror(errno));
    }
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
        } else if (strcmp(argv[i], "--cli") == 0 && i + 1 < argc) {
            cli_path = argv[++i];
        } else if (strcmp(argv[i], "--preload") == 0 && i + 1 < argc) {
            preload_path = argv[++i];
        } else if (strcmp(argv[i], "--helper") == 0 && i + 1 < argc) {
            helper_path = argv[++i];
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            only = argv[++i];
        } else {
            die("usage: bench [--quick] [--only GROUP] [--image PATH] "
                "[--driver PATH] [--python PATH] [--cli PATH] "
                "[--preload PATH] [--helper PATH]");
        }
    }
    /* Orphaned trackers come to us: their exit is what cleanup times. */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1L, 0L, 0L, 0L) < 0) {
        die("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    make_root();
    check_python();
    double t0 = now_ns();
    double load[3] = {0, 0, 0};
    (void)getloadavg(load, 3);
    fprintf(stderr,
            "libresourcetracker benchmark%s (python3: %s; load %.2f %.2f "
            "%.2f; journal in %s)\n",
            quick ? " --quick" : "", have_python ? "yes" : "no", load[0],
            load[1], load[2], getenv(RT_ENV_DIR));
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
        note("memory, journal ...");
        bench_memory();
    }
    if (wanted("cleanup")) {
        note("cleanup ...");
        bench_cleanup(0);
        bench_cleanup(1);
    }
    if (wanted("sweep")) {
        note("sweep of a dead run ...");
        bench_sweep();
    }
    if (wanted("nosignal")) {
        note("messages without RWF_NOSIGNAL ...");
        bench_nosignal();
    }
    if (wanted("preload")) {
        note("preload shim ...");
        bench_preload();
    }
    reap_orphans();
    print_table();
    (void)getloadavg(load, 3);
    printf("\n(%.1f s; %ld CPUs; load %.2f %.2f %.2f)\n", (now_ns() - t0) / 1e9,
           sysconf(_SC_NPROCESSORS_ONLN), load[0], load[1], load[2]);
    print_json();
    return 0;
}
