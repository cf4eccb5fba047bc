/* SPDX-License-Identifier: MIT */
/* Test helpers. Test process only (single-threaded); the forked hosts use
 * rt_test_say to report. */
#define _GNU_SOURCE
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <semaphore.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static unsigned test_counter;

int rt_test_wait_until(int (*cond)(void *), void *arg, double seconds)
{
    double end = proc_now() + proc_scaled(seconds);
    for (;;) {
        if (cond(arg)) {
            return 1;
        }
        if (proc_now() > end) {
            return 0;
        }
        proc_nap_us(2000);
    }
}

int rt_test_setup(void **state)
{
    struct rt_test *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return -1;
    }
    snprintf(t->prefix, sizeof(t->prefix), "/rt-test-%ld-%u", (long)getpid(),
             ++test_counter);
    snprintf(t->errpath, sizeof(t->errpath), "/tmp/rt-test-err-XXXXXX");
    int fd = mkstemp(t->errpath);
    if (fd < 0) {
        free(t);
        return -1;
    }
    close(fd);
    /* A state directory of the test's own: its journals, and the sweeps
     * of the trackers it starts, stay out of other tests' way. */
    snprintf(t->statedir, sizeof(t->statedir), "/tmp%s-state", t->prefix);
    if (mkdir(t->statedir, 0700) < 0 ||
        setenv("RESOURCE_TRACKER_DIR", t->statedir, 1) < 0) {
        free(t);
        return -1;
    }
    *state = t;
    return 0;
}

/* Files and folders under /tmp named after PREFIX: a test that failed
 * half-way may have left some. */
static void remove_other_leftovers(const char *prefix)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf /tmp%s-* /tmp%s", prefix, prefix);
    if (system(cmd) != 0) {
        fprintf(stderr, "teardown: '%s' failed\n", cmd);
    }
}

int rt_test_teardown(void **state)
{
    struct rt_test *t = *state;
    for (int i = 0; i < t->npids; i++) {
        kill(t->pids[i], SIGKILL);
    }
    for (int i = 0; i < t->npids; i++) {
        rt_test_wait_pid(t->pids[i], 10);
    }
    /* Trackers this test did not record come to us as orphans once their
     * hosts are gone; reap those that are done. */
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    (void)proc_scan_prefix("/dev/shm", t->prefix + 1, 1, 1);
    remove_other_leftovers(t->prefix);
    for (int i = 0; i < t->nmqueues; i++) {
        mq_unlink(t->mqueues[i]);
    }
    unlink(t->errpath);
    free(t);
    return 0;
}

const char *rt_test_name(const struct rt_test *t, char *buf, size_t len,
                         const char *suffix)
{
    snprintf(buf, len, "%s-%s", t->prefix, suffix);
    return buf;
}

void rt_test_track(struct rt_test *t, pid_t pid)
{
    if (pid > 0 && t->npids < RT_TEST_PIDS) {
        t->pids[t->npids++] = pid;
    }
}

void rt_test_untrack(struct rt_test *t, pid_t pid)
{
    for (int i = 0; i < t->npids; i++) {
        if (t->pids[i] == pid) {
            t->pids[i] = t->pids[--t->npids];
            return;
        }
    }
}

void rt_test_track_mqueue(struct rt_test *t, const char *name)
{
    if (t->nmqueues < 4) {
        snprintf(t->mqueues[t->nmqueues++], sizeof(t->mqueues[0]), "%s", name);
    }
}

pid_t rt_test_fork(struct rt_test *t, int (*fn)(void *arg, int wfd), void *arg,
                   int *ret_rfd)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        int err = open(t->errpath, O_WRONLY | O_APPEND);
        if (err >= 0) {
            dup2(err, 2);
            close(err);
        }
        close(p[0]);
        _exit(fn(arg, p[1]));
    }
    close(p[1]);
    if (pid < 0) {
        close(p[0]);
        return -1;
    }
    rt_test_track(t, pid);
    if (ret_rfd != NULL) {
        *ret_rfd = p[0];
    } else {
        close(p[0]);
    }
    return pid;
}

ssize_t rt_test_read_line(int fd, char *buf, size_t len, double seconds)
{
    double end = proc_now() + proc_scaled(seconds);
    size_t got = 0;
    while (got + 1 < len) {
        int left = (int)((end - proc_now()) * 1000);
        if (left <= 0) {
            return -1;
        }
        struct pollfd pf = {fd, POLLIN, 0};
        int n = poll(&pf, 1, left);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return -1;
        }
        if (c == '\n') {
            break;
        }
        buf[got++] = c;
    }
    buf[got] = '\0';
    return (ssize_t)got;
}

long rt_test_read_value(int fd, const char *key, double seconds)
{
    char line[256];
    if (rt_test_read_line(fd, line, sizeof(line), seconds) < 0) {
        return -1;
    }
    size_t k = strlen(key);
    if (strncmp(line, key, k) != 0 || line[k] != ' ') {
        fprintf(stderr, "expected '%s N', got '%s'\n", key, line);
        return -1;
    }
    return strtol(line + k + 1, NULL, 10);
}

void rt_test_read_keys(int fd, const char *const *keys, long *values, int n,
                       double seconds)
{
    int left = n;
    for (int i = 0; i < n; i++) {
        values[i] = -1;
    }
    while (left > 0) {
        char line[512];
        if (rt_test_read_line(fd, line, sizeof(line), seconds) < 0) {
            fail_msg("host: no '%s' line", keys[0]);
        }
        int i = 0;
        for (; i < n; i++) {
            size_t k = strlen(keys[i]);
            if (values[i] == -1 && strncmp(line, keys[i], k) == 0 &&
                line[k] == ' ') {
                values[i] = strtol(line + k + 1, NULL, 10);
                left--;
                break;
            }
        }
        if (i == n) {
            fail_msg("host: %s", line);
        }
    }
}

int rt_test_run_killed(struct rt_test *t, int (*host)(void *arg, int wfd),
                       void *arg)
{
    int rfd;
    pid_t pid = rt_test_fork(t, host, arg, &rfd);
    /* Lines before "pid" are the host's failed checks: show them all. */
    char line[512];
    long tracker = -1;
    while (tracker < 0 && rt_test_read_line(rfd, line, sizeof(line), 20) >= 0) {
        if (strncmp(line, "pid ", 4) == 0) {
            tracker = strtol(line + 4, NULL, 10);
        } else {
            print_error("host: %s\n", line);
        }
    }
    close(rfd);
    assert_true(tracker > 0);
    rt_test_track(t, (pid_t)tracker);
    kill(pid, SIGKILL);
    assert_int_not_equal(rt_test_wait_pid(pid, 20), -1);
    int st = rt_test_wait_pid((pid_t)tracker, 30);
    assert_true(st != -1 && WIFEXITED(st));
    return WEXITSTATUS(st);
}

int rt_test_run_to_end(struct rt_test *t, int (*host)(void *arg, int wfd),
                       void *arg)
{
    int rfd;
    pid_t pid = rt_test_fork(t, host, arg, &rfd);
    long tracker = rt_test_read_value(rfd, "pid", 20);
    assert_true(tracker > 0);
    rt_test_track(t, (pid_t)tracker);
    rt_test_expect_clean_exit(t, pid, rfd, 20);
    return rt_test_tracker_status(t, (pid_t)tracker);
}

int rt_test_tracker_status(struct rt_test *t, pid_t pid)
{
    int st = rt_test_wait_pid(pid, 30);
    assert_true(st != -1 && WIFEXITED(st));
    rt_test_untrack(t, pid);
    return WEXITSTATUS(st);
}

long rt_test_read_key(int rfd, const char *key)
{
    long v;
    rt_test_read_keys(rfd, &key, &v, 1, 20);
    return v;
}

void rt_test_say_tracker(int w, long pid)
{
    if (rt_test_failures > 0) {
        _exit(1);
    }
    proc_say(w, "pid %ld", pid);
}

/* Calls FN for each rt_sem_open temporary file in /dev/shm. */
static void each_tmp(void (*fn)(const char *name, void *ctx), void *ctx)
{
    DIR *d = opendir("/dev/shm");
    if (d == NULL) {
        return;
    }
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
        if (strstr(e->d_name, "rt-tmp-") != NULL) {
            fn(e->d_name, ctx);
        }
    }
    closedir(d);
}

static void add_tmp(const char *name, void *ctx)
{
    struct rt_test_tmp *s = ctx;
    if (s->n < (int)(sizeof(s->names) / sizeof(s->names[0]))) {
        snprintf(s->names[s->n++], sizeof(s->names[0]), "%s", name);
    }
}

void rt_test_tmp_snapshot(struct rt_test_tmp *s)
{
    s->n = 0;
    each_tmp(add_tmp, s);
}

struct tmp_count {
    const struct rt_test_tmp *before;
    int fresh;
};

static void count_fresh(const char *name, void *ctx)
{
    struct tmp_count *c = ctx;
    for (int i = 0; i < c->before->n; i++) {
        if (strcmp(c->before->names[i], name) == 0) {
            return;
        }
    }
    c->fresh++;
}

int rt_test_tmp_new(const struct rt_test_tmp *before)
{
    struct tmp_count c = {before, 0};
    each_tmp(count_fresh, &c);
    return c.fresh;
}

int rt_test_wait_pid(pid_t pid, double seconds)
{
    int st;
    return proc_wait_exact(pid, proc_now() + proc_scaled(seconds), &st) < 0
               ? -1
               : st;
}

int rt_test_proc_field(pid_t pid, const char *file, const char *key, char *buf,
                       size_t len)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%ld/%s", (long)pid, file);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    char line[256];
    int found = -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, key, strlen(key)) == 0) {
            snprintf(buf, len, "%s", line + strlen(key));
            buf[strcspn(buf, "\n")] = '\0';
            found = 0;
            break;
        }
    }
    fclose(f);
    return found;
}

int rt_test_alive(pid_t pid)
{
    char path[64];
    char buf[512];
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return 0;
    }
    buf[n] = '\0';
    const char *paren = strrchr(buf, ')');
    return paren != NULL && paren[1] == ' ' && paren[2] != 'Z' &&
           paren[2] != 'X';
}

static int exists(const char *dir_prefix, const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "/dev/shm/%s%s", dir_prefix,
             name[0] == '/' ? name + 1 : name);
    struct stat st;
    return lstat(path, &st) == 0;
}

int rt_test_shm_exists(const char *name)
{
    return exists("", name);
}

int rt_test_sem_exists(const char *name)
{
    /* glibc keeps a semaphore as sem.NAME, musl as NAME. */
    return exists("sem.", name) || exists("", name);
}

int rt_test_count_prefix(const char *prefix)
{
    if (access("/dev/shm", R_OK | X_OK) != 0) {
        return -1;
    }
    return proc_scan_prefix("/dev/shm", prefix + (prefix[0] == '/'), 1, 0);
}

const char *rt_test_stderr(const struct rt_test *t)
{
    static char buf[1 << 20];
    int fd = open(t->errpath, O_RDONLY | O_CLOEXEC);
    ssize_t n = 0;
    if (fd >= 0) {
        /* A flood of warnings ends with the summary: keep the end. */
        off_t size = lseek(fd, 0, SEEK_END);
        off_t from =
            size > (off_t)sizeof(buf) - 1 ? size - (off_t)sizeof(buf) + 1 : 0;
        n = pread(fd, buf, sizeof(buf) - 1, from);
        close(fd);
    }
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

int rt_test_count(const char *haystack, const char *needle)
{
    int n = 0;
    size_t len = strlen(needle);
    for (const char *p = strstr(haystack, needle); p != NULL;
         p = strstr(p + len, needle)) {
        n++;
    }
    return n;
}

int rt_test_make_shm(const char *name)
{
    int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0) {
        return -1;
    }
    int r = ftruncate(fd, 4096);
    close(fd);
    return r;
}

int rt_test_make_sem(const char *name)
{
    sem_t *s = sem_open(name, O_CREAT | O_EXCL, 0600, 1);
    if (s == SEM_FAILED) {
        return -1;
    }
    return sem_close(s);
}

int rt_test_valgrind(void)
{
    return getenv("RT_TEST_VALGRIND") != NULL;
}

const char *rt_test_child_path(void)
{
    const char *p = getenv("RT_TEST_CHILD");
    return p != NULL ? p : "build/tests/child";
}

int rt_test_main(const char *group, const struct CMUnitTest *tests, size_t n)
{
    /* Orphaned trackers come to us, so tests can wait for them and read
     * their exit status. */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1L, 0L, 0L, 0L) < 0) {
        perror("PR_SET_CHILD_SUBREAPER");
        return 1;
    }
    /* A hung test fails the run instead of stalling it. */
    alarm((unsigned)proc_scaled(600));
    /* RT_TEST_FILTER=pattern runs only the matching tests (cmocka's
     * wildcards), for debugging one of them. */
    const char *filter = getenv("RT_TEST_FILTER");
    if (filter != NULL && filter[0] != '\0') {
        cmocka_set_test_filter(filter);
    }
    return _cmocka_run_group_tests(group, tests, n, NULL, NULL);
}

int rt_test_failures;

void rt_test_check(int wfd, int line, const char *what, long got, long want,
                   int want_errno)
{
    int err = errno;
    if (got == want && (want != -1 || want_errno < 0 || err == want_errno)) {
        return;
    }
    rt_test_failures++;
    proc_say(wfd,
             "line %d: %s returned %ld (errno %d: %s), want %ld"
             " (errno %d: %s)",
             line, what, got, got == -1 ? err : 0,
             got == -1 ? strerror(err) : "-", want, want_errno,
             want == -1 ? strerror(want_errno) : "-");
}

void rt_test_expect_clean_exit(struct rt_test *t, pid_t pid, int rfd,
                               double seconds)
{
    (void)t;
    char report[8192];
    size_t got = 0;
    char line[1024];
    ssize_t n;
    while ((n = rt_test_read_line(rfd, line, sizeof(line), seconds)) >= 0) {
        got += (size_t)snprintf(report + got, sizeof(report) - got, "  %s\n",
                                line);
        if (got >= sizeof(report)) {
            got = sizeof(report) - 1;
        }
    }
    report[got] = '\0';
    close(rfd);
    int st = rt_test_wait_pid(pid, seconds);
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fail_msg("host %ld: %s (status 0x%x)\n%s", (long)pid,
                 st == -1 ? "did not exit in time" : "failed", st, report);
    }
}

void rt_test_run_host(struct rt_test *t, int (*host)(void *arg, int wfd),
                      void *arg, double seconds)
{
    int rfd;
    pid_t pid = rt_test_fork(t, host, arg, &rfd);
    rt_test_expect_clean_exit(t, pid, rfd, seconds);
}

extern char **environ;

void rt_test_spawn_stdio(posix_spawn_file_actions_t *fa,
                         const struct rt_test *t, int in, int out)
{
    posix_spawn_file_actions_init(fa);
    if (in >= 0) {
        posix_spawn_file_actions_adddup2(fa, in, 0);
    } else {
        posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0);
    }
    posix_spawn_file_actions_adddup2(fa, out, 1);
    posix_spawn_file_actions_addopen(fa, 2, t->errpath, O_WRONLY | O_APPEND, 0);
}

pid_t rt_test_spawn(struct rt_test *t, const char *const *args, const char *env,
                    int keep_fd, int *ret_in, int *ret_out)
{
    int in[2];
    int out[2];
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
        return -1;
    }
    char *argv[32];
    size_t n = 0;
    argv[n++] = (char *)rt_test_child_path();
    for (; args[n - 1] != NULL && n < 31; n++) {
        argv[n] = (char *)args[n - 1];
    }
    argv[n] = NULL;
    char *envp[256];
    size_t e = 0;
    for (char **p = environ; *p != NULL && e < 254; p++) {
        if (strncmp(*p, "RESOURCE_TRACKER_FD=", 20) != 0) {
            envp[e++] = *p;
        }
    }
    if (env != NULL) {
        envp[e++] = (char *)env;
    }
    envp[e] = NULL;
    posix_spawn_file_actions_t fa;
    rt_test_spawn_stdio(&fa, t, in[0], out[1]);
    if (keep_fd >= 0) {
        /* dup2 onto itself clears FD_CLOEXEC (POSIX 2024, glibc 2.29). */
        posix_spawn_file_actions_adddup2(&fa, keep_fd, keep_fd);
    }
    pid_t pid;
    int r = posix_spawn(&pid, argv[0], &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    if (r != 0) {
        close(in[1]);
        close(out[0]);
        errno = r;
        return -1;
    }
    rt_test_track(t, pid);
    *ret_in = in[1];
    *ret_out = out[0];
    return pid;
}

_Noreturn void rt_test_hang(void)
{
    for (;;) {
        pause();
    }
}

int rt_test_wait_adopted(pid_t pid, double seconds)
{
    double end = proc_now() + proc_scaled(seconds);
    for (;;) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            return st;
        }
        if (r < 0 && errno == ECHILD && kill(pid, 0) < 0 && errno == ESRCH) {
            return -2;
        }
        if (proc_now() > end) {
            return -1;
        }
        proc_nap_us(1000);
    }
}

pid_t rt_test_guardian_of(pid_t tracker, double seconds)
{
    double end = proc_now() + proc_scaled(seconds);
    for (;;) {
        DIR *d = opendir("/proc");
        struct dirent *e;
        pid_t found = -1;
        while (d != NULL && found < 0 && (e = readdir(d)) != NULL) {
            char *tail;
            long pid = strtol(e->d_name, &tail, 10);
            char comm[64];
            char ppid[32];
            if (*tail != '\0' || pid <= 0 ||
                rt_test_proc_field((pid_t)pid, "status", "Name:\t", comm,
                                   sizeof(comm)) < 0 ||
                strcmp(comm, "resource_guard") != 0 ||
                rt_test_proc_field((pid_t)pid, "status", "PPid:\t", ppid,
                                   sizeof(ppid)) < 0) {
                continue;
            }
            if (atol(ppid) == (long)tracker && rt_test_alive((pid_t)pid)) {
                found = (pid_t)pid;
            }
        }
        if (d != NULL) {
            closedir(d);
        }
        if (found > 0 || proc_now() > end) {
            return found;
        }
        proc_nap_us(2000);
    }
}

const char *rt_test_cli_path(void)
{
    static char path[4096];
    const char *child = rt_test_child_path();
    const char *slash = strrchr(child, '/');
    size_t n = slash != NULL ? (size_t)(slash - child) : 0;
    /* ".../tests/child" -> ".../resourcetracker" */
    while (n > 0 && child[n - 1] != '/') {
        n--;
    }
    if (slash == NULL || n + 32 > sizeof(path)) {
        return "build/resourcetracker";
    }
    snprintf(path, sizeof(path), "%.*sresourcetracker", (int)n, child);
    return path;
}

int rt_test_cli(struct rt_test *t, const char *const *args, char *out,
                size_t outlen, double seconds)
{
    int o[2];
    if (pipe2(o, O_CLOEXEC) < 0) {
        return -1;
    }
    char *argv[32];
    size_t n = 0;
    argv[n++] = (char *)rt_test_cli_path();
    for (; args[n - 1] != NULL && n < 31; n++) {
        argv[n] = (char *)args[n - 1];
    }
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    rt_test_spawn_stdio(&fa, t, -1, o[1]);
    pid_t pid;
    int r = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(o[1]);
    if (r != 0) {
        close(o[0]);
        return -1;
    }
    rt_test_track(t, pid);
    double end = proc_now() + proc_scaled(seconds);
    size_t got = 0;
    for (;;) {
        int left = (int)((end - proc_now()) * 1000);
        struct pollfd pf = {o[0], POLLIN, 0};
        if (left <= 0 || poll(&pf, 1, left) <= 0) {
            break;
        }
        char buf[4096];
        ssize_t k = read(o[0], buf, sizeof(buf));
        if (k <= 0) {
            break;
        }
        size_t keep = got + (size_t)k < outlen ? (size_t)k : outlen - 1 - got;
        memcpy(out + got, buf, keep);
        got += keep;
    }
    out[got] = '\0';
    close(o[0]);
    int st = rt_test_wait_pid(pid, end - proc_now() > 0 ? end - proc_now() : 0);
    if (st == -1) {
        kill(pid, SIGKILL);
        (void)rt_test_wait_pid(pid, 10);
        return -1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int rt_test_wait_listed(struct rt_test *t, int names, double seconds)
{
    static char out[1 << 20];
    static const char *const args[] = {"list", "--json", NULL};
    double end = proc_now() + proc_scaled(seconds);
    for (;;) {
        if (rt_test_cli(t, args, out, sizeof(out), seconds) == 0 &&
            rt_test_count(out, "{\"rtype\":") == names) {
            return 1;
        }
        if (proc_now() > end) {
            return 0;
        }
        proc_nap_us(10000);
    }
}

int rt_test_json_valid(const char *text)
{
    int in[2];
    if (pipe2(in, O_CLOEXEC) < 0) {
        return -1;
    }
    char *argv[] = {(char *)"python3", (char *)"-m", (char *)"json.tool", NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    if (r != 0) {
        close(in[1]);
        return -1;
    }
    size_t len = strlen(text);
    for (size_t done = 0; done < len;) {
        ssize_t k = write(in[1], text + done, len - done);
        if (k <= 0) {
            break;
        }
        done += (size_t)k;
    }
    close(in[1]);
    int st = rt_test_wait_pid(pid, 60);
    if (st == -1) {
        kill(pid, SIGKILL);
        (void)rt_test_wait_pid(pid, 10);
        return -1;
    }
    /* 127: the shell-less spawn found no python3 after all. */
    return WIFEXITED(st) && WEXITSTATUS(st) == 0     ? 1
           : WIFEXITED(st) && WEXITSTATUS(st) == 127 ? -1
                                                     : 0;
}
