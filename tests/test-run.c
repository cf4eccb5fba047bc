/* SPDX-License-Identifier: MIT */
/* resourcetracker run, with and without --preload: programs built without
 * the library (tests/leaker) have what they create cleaned up after a
 * SIGKILL, share one tracker with everything they start, never lose what
 * they only opened, see the errno of the real calls; --wait, exit statuses
 * and signals; CPython under --preload.
 *
 * This binary is also the library-using program of one test: run as
 * "test-run --helper NAME" it creates NAME with rt_shm_open and removes it.
 * The CLI, the shim and the leaker are found through RT_TEST_CLI,
 * RESOURCE_TRACKER_PRELOAD and RT_TEST_LEAKER (make check sets them). */
#define _GNU_SOURCE
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "resourcetracker.h"

extern char **environ;

static const char *cli_path(void)
{
    const char *p = getenv("RT_TEST_CLI");
    return p != NULL ? p : "build/resourcetracker";
}

static const char *leaker_path(void)
{
    const char *p = getenv("RT_TEST_LEAKER");
    return p != NULL ? p : "build/tests/leaker";
}

/* ---- per-test state beyond util.h's ---- */

#define MQ_MAX 8
static char mqueues[MQ_MAX][128];
static int nmqueues;

static const char *mq_name(struct rt_test *t, char *buf, size_t len,
                           const char *suffix)
{
    rt_test_name(t, buf, len, suffix);
    if (nmqueues < MQ_MAX) {
        snprintf(mqueues[nmqueues++], sizeof(mqueues[0]), "%s", buf);
    }
    return buf;
}

static int setup(void **state)
{
    nmqueues = 0;
    return rt_test_setup(state);
}

static int teardown(void **state)
{
    for (int i = 0; i < nmqueues; i++) {
        mq_unlink(mqueues[i]);
    }
    return rt_test_teardown(state);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

static int mq_exists(const char *name)
{
    mqd_t q = mq_open(name, O_RDONLY);
    if (q == (mqd_t)-1) {
        return 0;
    }
    mq_close(q);
    return 1;
}

/* ---- starting commands ---- */

struct proc {
    pid_t pid;
    int in;  /* its stdin, to close to end a "hold" */
    int out; /* its stdout */
};

/* Spawns ARGV (argv[0] searched in PATH) with stdin and stdout pipes and
 * T's capture file as stderr; in a process group of its own when PGROUP. */
static struct proc spawn_cmd(struct rt_test *t, const char *const *argv,
                             int pgroup)
{
    struct proc p = {-1, -1, -1};
    int in[2];
    int out[2];
    assert_int_equal(pipe2(in, O_CLOEXEC), 0);
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    posix_spawn_file_actions_t fa;
    rt_test_spawn_stdio(&fa, t, in[0], out[1]);
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    if (pgroup) {
        posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
        posix_spawnattr_setpgroup(&at, 0);
    }
    int r =
        posix_spawnp(&p.pid, argv[0], &fa, &at, (char *const *)argv, environ);
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    assert_int_equal(r, 0);
    rt_test_track(t, p.pid);
    p.in = in[1];
    p.out = out[0];
    return p;
}

/* "resourcetracker run" with OPTS (NULL-terminated, may be empty), then
 * "--", then ARGS. */
static struct proc run(struct rt_test *t, const char *const *opts,
                       const char *const *args, int pgroup)
{
    const char *argv[64];
    size_t n = 0;
    argv[n++] = cli_path();
    argv[n++] = "run";
    for (; opts != NULL && *opts != NULL; opts++) {
        argv[n++] = *opts;
    }
    argv[n++] = "--";
    for (; *args != NULL && n < 63; args++) {
        argv[n++] = *args;
    }
    argv[n] = NULL;
    return spawn_cmd(t, argv, pgroup);
}

static void close_proc(struct proc *p)
{
    if (p->in >= 0) {
        close(p->in);
        p->in = -1;
    }
    if (p->out >= 0) {
        close(p->out);
        p->out = -1;
    }
}

/* Reads the next line of P and checks it is WANT. */
static void expect_line(struct proc *p, const char *want)
{
    char line[512];
    ssize_t n = rt_test_read_line(p->out, line, sizeof(line), 30);
    if (n < 0) {
        fail_msg("expected '%s', got nothing", want);
    }
    if (strcmp(line, want) != 0) {
        fail_msg("expected '%s', got '%s'", want, line);
    }
}

/* Reads the next line of P into BUF and checks it begins with PREFIX. */
static void read_line(struct proc *p, const char *prefix, char *buf, size_t len)
{
    if (rt_test_read_line(p->out, buf, len, 30) < 0) {
        fail_msg("expected '%s...', got nothing", prefix);
    }
    if (strncmp(buf, prefix, strlen(prefix)) != 0) {
        fail_msg("expected '%s...', got '%s'", prefix, buf);
    }
}

/* Waits for the exact PID; returns its raw status. */
static int reap(pid_t pid)
{
    int st = rt_test_wait_pid(pid, 60);
    assert_int_not_equal(st, -1);
    return st;
}

static int exit_code(int st)
{
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---- what a run holds ---- */

/* The inode of the run's public pipe, from "env FD:DEV:INO 1". */
static unsigned long long env_ino(const char *line)
{
    unsigned long long fd;
    unsigned long long dev;
    unsigned long long ino;
    int valid;
    if (sscanf(line, "env %llu:%llu:%llu %d", &fd, &dev, &ino, &valid) != 4 ||
        valid != 1) {
        fail_msg("not a valid tracker variable: '%s'", line);
    }
    return ino;
}

/* Journals of runs in T's state directory: one per run whose tracker has
 * not finished. */
static int journals(const struct rt_test *t)
{
    DIR *d = opendir(t->statedir);
    if (d == NULL) {
        return 0;
    }
    int n = 0;
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
        size_t len = strlen(e->d_name);
        n += strncmp(e->d_name, "pipe-", 5) == 0 && len > 8 &&
             strcmp(e->d_name + len - 8, ".journal") == 0;
    }
    closedir(d);
    return n;
}

static int no_journal(void *arg)
{
    return journals(arg) == 0;
}

/* Waits until every run of the test has finished (its tracker cleaned up
 * and removed its journal). */
static void wait_runs_done(struct rt_test *t)
{
    if (!rt_test_wait_until(no_journal, t, 30)) {
        fail_msg("%s", "a tracker of this test did not finish");
    }
}

/* Whether process PID holds pipe:[INO] (1), for reading (2), or not (0). */
static int pipe_use(pid_t pid, unsigned long long ino)
{
    char want[64];
    char dir[64];
    snprintf(want, sizeof(want), "pipe:[%llu]", ino);
    snprintf(dir, sizeof(dir), "/proc/%ld/fd", (long)pid);
    DIR *fds = opendir(dir);
    if (fds == NULL) {
        return 0;
    }
    int use = 0;
    for (struct dirent *f = readdir(fds); f != NULL; f = readdir(fds)) {
        if (f->d_name[0] < '0' || f->d_name[0] > '9') {
            continue;
        }
        int fd = atoi(f->d_name);
        char path[96];
        char link[64];
        snprintf(path, sizeof(path), "/proc/%ld/fd/%d", (long)pid, fd);
        ssize_t n = readlink(path, link, sizeof(link) - 1);
        if (n <= 0) {
            continue;
        }
        link[n] = '\0';
        if (strcmp(link, want) != 0) {
            continue;
        }
        snprintf(path, sizeof(path), "/proc/%ld/fdinfo/%d", (long)pid, fd);
        FILE *fi = fopen(path, "r");
        unsigned flags = 0;
        char line[128];
        while (fi != NULL && fgets(line, sizeof(line), fi) != NULL) {
            if (sscanf(line, "flags: %o", &flags) == 1) {
                break;
            }
        }
        if (fi != NULL) {
            fclose(fi);
        }
        /* An O_PATH reference (the guardian keeps one of the public pipe)
         * neither reads nor writes. */
        if ((flags & O_PATH) != 0) {
            continue;
        }
        use = use > 1 ? use : 1;
        if ((flags & O_ACCMODE) == O_RDONLY) {
            use = 2;
        }
    }
    closedir(fds);
    return use;
}

static int holds_pipe(pid_t pid, unsigned long long ino)
{
    return pipe_use(pid, ino) > 0;
}

/* How many processes read pipe:[INO], and one of them. */
static int is_guardian(pid_t pid)
{
    char path[64];
    char comm[32] = "";
    snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return 0;
    }
    int got = fgets(comm, sizeof(comm), f) != NULL;
    fclose(f);
    return got && strcmp(comm, "resource_guard\n") == 0;
}

static int pipe_readers(unsigned long long ino, pid_t *ret_reader)
{
    DIR *proc = opendir("/proc");
    assert_non_null(proc);
    int readers = 0;
    for (struct dirent *p = readdir(proc); p != NULL; p = readdir(proc)) {
        if (p->d_name[0] < '1' || p->d_name[0] > '9') {
            continue;
        }
        pid_t pid = (pid_t)atol(p->d_name);
        /* A tracker's guardian holds its read ends too, without reading
         * (guardian.h). */
        if (is_guardian(pid)) {
            continue;
        }
        if (pipe_use(pid, ino) == 2) {
            readers++;
            *ret_reader = pid;
        }
    }
    closedir(proc);
    return readers;
}

/* Lines of the captured stderr that begin with PREFIX. */
static int lines_starting(const char *text, const char *prefix)
{
    int n = 0;
    size_t len = strlen(prefix);
    for (const char *p = text; *p != '\0';) {
        n += strncmp(p, prefix, len) == 0;
        const char *nl = strchr(p, '\n');
        if (nl == NULL) {
            break;
        }
        p = nl + 1;
    }
    return n;
}

/* Tests that preload the shim into the system's programs (/bin/sh,
 * python3) skip when it is built for another libc than theirs (make
 * check-musl): their loader cannot load it, and says so. */
static void skip_unless_system_libc(void)
{
#ifdef RT_MUSL
    skip();
#endif
}

/* ---- a program built without the library, SIGKILLed ---- */

static void killed_leaker(void **state, int preload)
{
    struct rt_test *t = *state;
    char shm[96];
    char sem[96];
    char mq[96];
    rt_test_name(t, shm, sizeof(shm), "shm");
    rt_test_name(t, sem, sizeof(sem), "sem");
    mq_name(t, mq, sizeof(mq), "mq");
    const char *opts[] = {preload ? "--preload" : NULL, NULL};
    const char *args[] = {leaker_path(), "shm", shm,    "sem", sem,
                          "mq",          mq,    "hold", NULL};
    struct proc p = run(t, opts, args, 0);
    expect_line(&p, "shm 0 0");
    expect_line(&p, "sem 0 0");
    expect_line(&p, "mq 0 0");
    expect_line(&p, "hold");
    assert_true(rt_test_shm_exists(shm) && rt_test_sem_exists(sem) &&
                mq_exists(mq));
    kill(p.pid, SIGKILL);
    int st = reap(p.pid);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    close_proc(&p);
    wait_runs_done(t);
    const char *err = rt_test_stderr(t);
    if (preload) {
        assert_false(rt_test_shm_exists(shm));
        assert_false(rt_test_sem_exists(sem));
        assert_false(mq_exists(mq));
        /* One leak line per type, and nothing else. */
        assert_int_equal(rt_test_count(err, "\n"), 3);
        assert_int_equal(lines_starting(err, "resource_tracker: There appear "
                                             "to be 1 leaked semaphore"),
                         1);
        assert_int_equal(lines_starting(err, "resource_tracker: There appear "
                                             "to be 1 leaked shared_memory"),
                         1);
        assert_int_equal(lines_starting(err, "resource_tracker: There appear "
                                             "to be 1 leaked mqueue"),
                         1);
    } else {
        /* Without the shim nobody knew: everything is still there. */
        assert_true(rt_test_shm_exists(shm));
        assert_true(rt_test_sem_exists(sem));
        assert_true(mq_exists(mq));
        assert_string_equal(err, "");
    }
}

static void preload_cleans_up_after_sigkill(void **state)
{
    killed_leaker(state, 1);
}

static void without_preload_the_objects_stay(void **state)
{
    killed_leaker(state, 0);
}

/* ---- one tracker for the whole tree ---- */

static void tree_shares_one_tracker(void **state)
{
    skip_unless_system_libc();
    struct rt_test *t = *state;
    char top[96];
    char worker[96];
    char exec[96];
    char lib[96];
    rt_test_name(t, top, sizeof(top), "top");
    rt_test_name(t, worker, sizeof(worker), "worker");
    rt_test_name(t, exec, sizeof(exec), "exec");
    rt_test_name(t, lib, sizeof(lib), "lib");
    /* The parent creates, forks a worker that creates and exits, then runs
     * a second unmodified program and a program using the library through
     * /bin/sh, and holds. */
    char second[512];
    char third[512];
    snprintf(second, sizeof(second), "exec %s env shm %s", leaker_path(), exec);
    snprintf(third, sizeof(third), "exec %s ensure pid", rt_test_child_path());
    const char *opts[] = {"--preload", NULL};
    const char *args[] = {leaker_path(), "shm",  top,  "env", "worker", worker,
                          "sh",          second, "sh", third, "hold",   NULL};
    struct proc p = run(t, opts, args, 0);
    char line[512];
    expect_line(&p, "shm 0 0");
    read_line(&p, "env ", line, sizeof(line));
    unsigned long long ino = env_ino(line);
    expect_line(&p, "worker 0");
    /* The exec'ed program got the same pipe, not a tracker of its own. */
    char line2[512];
    read_line(&p, "env ", line2, sizeof(line2));
    assert_string_equal(line2, line);
    expect_line(&p, "shm 0 0");
    expect_line(&p, "sh 0");
    expect_line(&p, "ensure 0 0");
    read_line(&p, "pid ", line2, sizeof(line2));
    long lib_pid = strtol(line2 + 4, NULL, 10);
    expect_line(&p, "sh 0");
    expect_line(&p, "hold");
    /* One tracker reads that pipe, the one the library child was told of,
     * and no run but this one was started. */
    pid_t reader = -1;
    assert_int_equal(pipe_readers(ino, &reader), 1);
    assert_int_equal((long)reader, lib_pid);
    assert_true(holds_pipe(p.pid, ino));
    assert_int_equal(journals(t), 1);
    /* What the worker created outlives it while the tree lives. */
    assert_true(rt_test_shm_exists(worker));
    assert_true(rt_test_shm_exists(exec));
    assert_true(rt_test_shm_exists(top));
    (void)lib;
    /* The tree ends (no SIGKILL needed: a plain exit leaks the same). */
    close(p.in);
    p.in = -1;
    assert_int_equal(exit_code(reap(p.pid)), 0);
    close_proc(&p);
    wait_runs_done(t);
    assert_false(rt_test_shm_exists(top));
    assert_false(rt_test_shm_exists(worker));
    assert_false(rt_test_shm_exists(exec));
    assert_int_equal(lines_starting(rt_test_stderr(t),
                                    "resource_tracker: There appear to be 3 "
                                    "leaked shared_memory objects"),
                     1);
}

static void cut_off_child_joins_the_run_again(void **state)
{
    skip_unless_system_libc();
    struct rt_test *t = *state;
    char top[96];
    char child[96];
    char grandchild[96];
    rt_test_name(t, top, sizeof(top), "top");
    rt_test_name(t, child, sizeof(child), "child");
    rt_test_name(t, grandchild, sizeof(grandchild), "grandchild");
    /* A child started with every descriptor closed (the variable still
     * names the pipe) finds it again at its first call, under the same
     * number, and what it execs in turn inherits it. */
    char second[768];
    snprintf(second, sizeof(second),
             "exec %s env shm %s env sh 'exec %s env shm %s'", leaker_path(),
             child, leaker_path(), grandchild);
    const char *opts[] = {"--preload", NULL};
    const char *args[] = {leaker_path(), "env",  "shm",  top,
                          "sh-closed",   second, "hold", NULL};
    struct proc p = run(t, opts, args, 0);
    char line[512];
    read_line(&p, "env ", line, sizeof(line));
    unsigned long long ino = env_ino(line);
    expect_line(&p, "shm 0 0");
    char cut[512];
    snprintf(cut, sizeof(cut), "%.*s 0", (int)(strlen(line) - 2), line);
    expect_line(&p, cut);
    expect_line(&p, "shm 0 0");
    expect_line(&p, line);
    expect_line(&p, line);
    expect_line(&p, "shm 0 0");
    expect_line(&p, "sh 0");
    expect_line(&p, "sh-closed 0");
    expect_line(&p, "hold");
    /* One run, one tracker; what the exited child and grandchild made
     * stays while the tree lives. */
    pid_t reader = -1;
    assert_int_equal(pipe_readers(ino, &reader), 1);
    assert_int_equal(journals(t), 1);
    assert_true(rt_test_shm_exists(child));
    assert_true(rt_test_shm_exists(grandchild));
    close(p.in);
    p.in = -1;
    assert_int_equal(exit_code(reap(p.pid)), 0);
    close_proc(&p);
    wait_runs_done(t);
    assert_false(rt_test_shm_exists(top));
    assert_false(rt_test_shm_exists(child));
    assert_false(rt_test_shm_exists(grandchild));
    assert_int_equal(lines_starting(rt_test_stderr(t),
                                    "resource_tracker: There appear to be 3 "
                                    "leaked shared_memory objects"),
                     1);
}

/* ---- what exists is never tracked ---- */

static void existing_objects_are_never_tracked(void **state)
{
    struct rt_test *t = *state;
    char shm[96];
    char sem[96];
    char mq[96];
    char shm2[96];
    char sem2[96];
    char mq2[96];
    rt_test_name(t, shm, sizeof(shm), "shm");
    rt_test_name(t, sem, sizeof(sem), "sem");
    mq_name(t, mq, sizeof(mq), "mq");
    rt_test_name(t, shm2, sizeof(shm2), "shm2");
    rt_test_name(t, sem2, sizeof(sem2), "sem2");
    mq_name(t, mq2, sizeof(mq2), "mq2");
    assert_int_equal(rt_test_make_shm(shm), 0);
    assert_int_equal(rt_test_make_sem(sem), 0);
    assert_int_equal(rt_test_make_shm(shm2), 0);
    assert_int_equal(rt_test_make_sem(sem2), 0);
    for (int i = 0; i < 2; i++) {
        mqd_t q =
            mq_open(i == 0 ? mq : mq2, O_CREAT | O_EXCL | O_RDWR, 0600, NULL);
        assert_true(q != (mqd_t)-1);
        mq_close(q);
    }
    /* Opened as they are, and with O_CREAT alone (which attaches):
     * sem_open(NAME, 0) is also the call the wrapper itself makes. The
     * second three are removed, which the tracker hears of and says
     * nothing about (they were never registered). */
    const char *opts[] = {"--preload", NULL};
    const char *args[] = {
        leaker_path(), "shm-open",  shm,          "sem-open",   sem,
        "mq-open",     mq,          "shm-attach", shm,          "sem-attach",
        sem,           "mq-attach", mq,           "shm-unlink", shm2,
        "sem-unlink",  sem2,        "mq-unlink",  mq2,          "hold",
        NULL};
    struct proc p = run(t, opts, args, 0);
    expect_line(&p, "shm-open 0 0");
    expect_line(&p, "sem-open 0 0");
    expect_line(&p, "mq-open 0 0");
    expect_line(&p, "shm-attach 0 0");
    expect_line(&p, "sem-attach 0 0");
    expect_line(&p, "mq-attach 0 0");
    expect_line(&p, "shm-unlink 0 0");
    expect_line(&p, "sem-unlink 0 0");
    expect_line(&p, "mq-unlink 0 0");
    expect_line(&p, "hold");
    kill(p.pid, SIGKILL);
    reap(p.pid);
    close_proc(&p);
    wait_runs_done(t);
    assert_true(rt_test_shm_exists(shm));
    assert_true(rt_test_sem_exists(sem));
    assert_true(mq_exists(mq));
    assert_false(rt_test_shm_exists(shm2));
    assert_false(rt_test_sem_exists(sem2));
    assert_false(mq_exists(mq2));
    assert_string_equal(rt_test_stderr(t), "");
}

/* ---- the real calls' results ---- */

/* Runs ARGS under "run" with OPTS (as they are when OPTS is NULL), then
 * under run --preload, and checks that both printed the same LINES lines
 * and nothing on stderr. */
static void same_output(struct rt_test *t, const char *const *opts_first,
                        const char *const *args, int lines)
{
    char first[64][128];
    struct proc p = opts_first != NULL ? run(t, opts_first, args, 0)
                                       : spawn_cmd(t, args, 0);
    for (int i = 0; i < lines; i++) {
        if (rt_test_read_line(p.out, first[i], sizeof(first[i]), 30) < 0) {
            fail_msg("first run: line %d missing", i);
        }
    }
    assert_int_equal(exit_code(reap(p.pid)), 0);
    close_proc(&p);
    wait_runs_done(t);
    const char *opts[] = {"--preload", NULL};
    p = run(t, opts, args, 0);
    for (int i = 0; i < lines; i++) {
        expect_line(&p, first[i]);
    }
    assert_int_equal(exit_code(reap(p.pid)), 0);
    close_proc(&p);
    wait_runs_done(t);
    assert_string_equal(rt_test_stderr(t), "");
}

static void errno_and_results_are_the_real_calls(void **state)
{
    struct rt_test *t = *state;
    char a[96];
    char b[96];
    char gone[96];
    char bad[128];
    char mq[96];
    rt_test_name(t, a, sizeof(a), "a");
    rt_test_name(t, b, sizeof(b), "b");
    rt_test_name(t, gone, sizeof(gone), "gone");
    snprintf(bad, sizeof(bad), "%s/x", a);
    mq_name(t, mq, sizeof(mq), "mq");
    /* Every call that succeeds keeps errno (12345 before it); every one
     * that fails says why as libc does; the variadic mode, value and
     * attributes reach the object. Everything made is removed. */
    const char *args[] = {
        leaker_path(), "errno", "shm",        a,    "shm",        a,
        "shm-open",    gone,    "shm",        bad,  "shm-attach", a,
        "sem",         b,       "sem",        b,    "sem-open",   gone,
        "sem",         bad,     "sem-attach", b,    "mq",         mq,
        "mq",          mq,      "mq-open",    gone, "mq",         "no-slash",
        "mq-attach",   mq,      "shm-unlink", gone, "sem-unlink", gone,
        "mq-unlink",   gone,    "shm-unlink", a,    "sem-unlink", b,
        "mq-unlink",   mq,      "sem-args",   b,    "mq-args",    mq,
        NULL};
    same_output(t, NULL, args, 23);
    assert_false(rt_test_shm_exists(a));
    assert_false(rt_test_sem_exists(b));
    assert_false(mq_exists(mq));
}

static void program_without_calls_is_untouched(void **state)
{
    struct rt_test *t = *state;
    /* The same descriptors as under run without the shim, and not a word:
     * the shim does nothing until a call. */
    const char *plain[] = {NULL};
    const char *args[] = {leaker_path(), "fds", NULL};
    same_output(t, plain, args, 1);
}

/* ---- threads and fork ---- */

static void fork_while_a_thread_is_in_shm_open(void **state)
{
    struct rt_test *t = *state;
    const char *opts[] = {"--preload", NULL};
    const char *args[] = {leaker_path(), "mt-fork", t->prefix, NULL};
    struct proc p = run(t, opts, args, 0);
    char line[128];
    if (rt_test_read_line(p.out, line, sizeof(line), 120) < 0) {
        fail_msg("%s", "mt-fork did not answer within 120 s");
    }
    assert_string_equal(line, "mt-fork ok");
    assert_int_equal(exit_code(reap(p.pid)), 0);
    close_proc(&p);
    wait_runs_done(t);
    assert_int_equal(rt_test_count_prefix(t->prefix), 0);
    assert_string_equal(rt_test_stderr(t), "");
}

/* ---- a program that uses the library itself ---- */

/* "test-run --helper NAME": rt_shm_open + rt_shm_unlink of NAME-rt, then
 * the plain calls (through the shim) on NAME-plain. Exits 0 when all
 * succeeded. Registered twice, a name would be left registered once after
 * its unlink, and the tracker would warn at the end. */
static int helper(const char *name)
{
    char rt_name[128];
    char plain[128];
    snprintf(rt_name, sizeof(rt_name), "%s-rt", name);
    snprintf(plain, sizeof(plain), "%s-plain", name);
    int fd = rt_shm_open(rt_name, O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0) {
        return 1;
    }
    close(fd);
    if (rt_shm_unlink(rt_name) < 0) {
        return 2;
    }
    fd = shm_open(plain, O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0) {
        return 3;
    }
    close(fd);
    if (shm_unlink(plain) < 0) {
        return 4;
    }
    /* Created by the library's copy, removed through the shim's. */
    fd = rt_shm_open(rt_name, O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0) {
        return 5;
    }
    close(fd);
    if (shm_unlink(rt_name) < 0) {
        return 6;
    }
    return 0;
}

static void program_using_the_library_tracks_once(void **state)
{
    struct rt_test *t = *state;
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    assert_true(n > 0);
    self[n] = '\0';
    const char *opts[] = {"--wait", "--preload", NULL};
    const char *args[] = {self, "--helper", t->prefix, NULL};
    struct proc p = run(t, opts, args, 0);
    assert_int_equal(exit_code(reap(p.pid)), 0);
    close_proc(&p);
    assert_int_equal(rt_test_count_prefix(t->prefix), 0);
    assert_string_equal(rt_test_stderr(t), "");
}

/* ---- run --wait ---- */

static void wait_returns_after_the_cleanup(void **state)
{
    skip_unless_system_libc();
    struct rt_test *t = *state;
    char shm[96];
    char sem[96];
    char mq[96];
    char deep[96];
    rt_test_name(t, shm, sizeof(shm), "shm");
    rt_test_name(t, sem, sizeof(sem), "sem");
    mq_name(t, mq, sizeof(mq), "mq");
    rt_test_name(t, deep, sizeof(deep), "deep");
    char second[512];
    snprintf(second, sizeof(second), "exec %s pid shm %s hold", leaker_path(),
             deep);
    const char *opts[] = {"--wait", "--preload", NULL};
    const char *args[] = {leaker_path(), "pid", "shm", shm,    "sem", sem,
                          "mq",          mq,    "sh",  second, NULL};
    struct proc p = run(t, opts, args, 0);
    char line[128];
    read_line(&p, "pid ", line, sizeof(line));
    pid_t first = (pid_t)atol(line + 4);
    expect_line(&p, "shm 0 0");
    expect_line(&p, "sem 0 0");
    expect_line(&p, "mq 0 0");
    read_line(&p, "pid ", line, sizeof(line));
    pid_t second_pid = (pid_t)atol(line + 4);
    expect_line(&p, "shm 0 0");
    expect_line(&p, "hold");
    /* COMMAND's tree is SIGKILLed; run and the tracker are not. */
    assert_int_equal(kill(second_pid, SIGKILL), 0);
    assert_int_equal(kill(first, SIGKILL), 0);
    int st = reap(p.pid);
    /* The moment run is gone, so is every object. */
    assert_false(rt_test_shm_exists(shm));
    assert_false(rt_test_sem_exists(sem));
    assert_false(mq_exists(mq));
    assert_false(rt_test_shm_exists(deep));
    assert_int_equal(journals(t), 0);
    assert_int_equal(exit_code(st), 128 + SIGKILL);
    close_proc(&p);
}

static void wait_passes_signals_on(void **state)
{
    struct rt_test *t = *state;
    const char *opts[] = {"--wait", NULL};
    /* COMMAND handles SIGTERM: it says so and exits 7. */
    const char *args[] = {leaker_path(), "term", "hold", NULL};
    struct proc p = run(t, opts, args, 0);
    expect_line(&p, "term-armed");
    expect_line(&p, "hold");
    assert_int_equal(kill(p.pid, SIGTERM), 0);
    expect_line(&p, "term");
    assert_int_equal(exit_code(reap(p.pid)), 7);
    close_proc(&p);
    wait_runs_done(t);
    /* COMMAND dies of it: 128 + 15. */
    const char *args2[] = {leaker_path(), "hold", NULL};
    p = run(t, opts, args2, 0);
    expect_line(&p, "hold");
    assert_int_equal(kill(p.pid, SIGTERM), 0);
    assert_int_equal(exit_code(reap(p.pid)), 128 + SIGTERM);
    close_proc(&p);
    wait_runs_done(t);
    assert_string_equal(rt_test_stderr(t), "");
}

/* Not only the usual few: any signal COMMAND may handle is passed on. */
static void wait_passes_every_signal_on(void **state)
{
    struct rt_test *t = *state;
    const char *opts[] = {"--wait", NULL};
    const char *args[] = {
        "/bin/sh", "-c",
        "trap 'echo alrm' ALRM; trap 'echo pipe' PIPE; trap 'echo winch' "
        "WINCH; trap 'echo bye; exit 9' TERM; "
        "echo ready; while :; do sleep 0.02; done",
        NULL};
    struct proc p = run(t, opts, args, 0);
    expect_line(&p, "ready");
    static const struct {
        int sig;
        const char *said;
    } sigs[] = {{SIGALRM, "alrm"}, {SIGPIPE, "pipe"}, {SIGWINCH, "winch"}};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        assert_int_equal(kill(p.pid, sigs[i].sig), 0);
        expect_line(&p, sigs[i].said);
    }
    assert_int_equal(kill(p.pid, SIGTERM), 0);
    expect_line(&p, "bye");
    assert_int_equal(exit_code(reap(p.pid)), 9);
    close_proc(&p);
    wait_runs_done(t);
    /* A signal queued with a value arrives queued, with its value. */
    const char *args2[] = {leaker_path(), "sigvalue", NULL};
    p = run(t, opts, args2, 0);
    expect_line(&p, "sigvalue-armed");
    union sigval v = {.sival_int = 4242};
    assert_int_equal(sigqueue(p.pid, SIGUSR1, v), 0);
    char want[64];
    snprintf(want, sizeof(want), "sigvalue 4242 %d", SI_QUEUE);
    expect_line(&p, want);
    assert_int_equal(exit_code(reap(p.pid)), 0);
    close_proc(&p);
    wait_runs_done(t);
}

/* run --wait as the leader of a session with a terminal (`script -c "exec
 * resourcetracker run --wait ..."`): when the terminal hangs up, the
 * kernel sends SIGHUP to the session leader alone, and run passes it on. */
static void wait_passes_a_hangup_on(void **state)
{
    struct rt_test *t = *state;
    int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0) {
        skip(); /* no pseudo-terminals here */
    }
    const char *slave = ptsname(master);
    assert_non_null(slave);
    int out[2];
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int tty = -1;
        if (setsid() < 0 || (tty = open(slave, O_RDWR)) < 0 ||
            ioctl(tty, TIOCSCTTY, 0) < 0 || dup2(tty, 0) < 0 ||
            dup2(out[1], 1) < 0 || dup2(out[1], 2) < 0) {
            _exit(90);
        }
        execl(cli_path(), cli_path(), "run", "--wait", "--", "/bin/sh", "-c",
              "trap 'echo hup; exit 4' HUP; echo ready; "
              "while :; do sleep 0.02; done",
              (char *)NULL);
        _exit(91);
    }
    rt_test_track(t, pid);
    close(out[1]);
    struct proc p = {pid, -1, out[0]};
    expect_line(&p, "ready");
    close(master);
    expect_line(&p, "hup");
    assert_int_equal(exit_code(reap(pid)), 4);
    close_proc(&p);
    wait_runs_done(t);
}

/* ---- exit statuses ---- */

/* The status of a run of ARGS, once its tracker has finished (a tracker
 * started while another finishes may find the other's journal vanish under
 * its start-up sweep). */
static int status_of(struct rt_test *t, const char *const *opts,
                     const char *const *args)
{
    struct proc p = run(t, opts, args, 0);
    close_proc(&p);
    int st = reap(p.pid);
    wait_runs_done(t);
    return st;
}

static void statuses_pass_through(void **state)
{
    struct rt_test *t = *state;
    const char *exec_mode[] = {NULL};
    const char *wait_mode[] = {"--wait", NULL};
    const char *exit3[] = {"/bin/sh", "-c", "exit 3", NULL};
    assert_int_equal(exit_code(status_of(t, exec_mode, exit3)), 3);
    assert_int_equal(exit_code(status_of(t, wait_mode, exit3)), 3);
    /* Exec mode: COMMAND is the process run was, so its parent sees the
     * signal itself. */
    const char *hold[] = {leaker_path(), "hold", NULL};
    struct proc p = run(t, exec_mode, hold, 0);
    expect_line(&p, "hold");
    assert_int_equal(kill(p.pid, SIGTERM), 0);
    int st = reap(p.pid);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
    close_proc(&p);
    wait_runs_done(t);
    /* --wait: 128 + N. */
    const char *self_kill[] = {"/bin/sh", "-c", "kill -TERM $$", NULL};
    assert_int_equal(exit_code(status_of(t, wait_mode, self_kill)),
                     128 + SIGTERM);
    wait_runs_done(t);
    assert_string_equal(rt_test_stderr(t), "");
}

static void wait_with_sigchld_ignored(void **state)
{
    struct rt_test *t = *state;
    /* Started with SIGCHLD ignored, run --wait still learns COMMAND's
     * status (it once waited for ever), and COMMAND gets SIGCHLD as it was
     * given. */
    int out[2];
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGCHLD, SIG_IGN);
        dup2(out[1], 1);
        execl(cli_path(), "resourcetracker", "run", "--wait", "--",
              leaker_path(), "chld", "sh", "exit 3", (char *)NULL);
        _exit(99);
    }
    close(out[1]);
    rt_test_track(t, pid);
    struct proc p = {pid, -1, out[0]};
    expect_line(&p, "chld ignored");
    /* The leaker's own child is reaped by the kernel: it reports -1. */
    char line[64];
    read_line(&p, "sh ", line, sizeof(line));
    assert_int_equal(exit_code(reap(pid)), 0);
    close_proc(&p);
    wait_runs_done(t);
}

static void command_not_found_or_not_executable(void **state)
{
    struct rt_test *t = *state;
    const char *exec_mode[] = {NULL};
    const char *wait_mode[] = {"--wait", NULL};
    const char *missing[] = {"rt-no-such-command-here", NULL};
    assert_int_equal(exit_code(status_of(t, exec_mode, missing)), 127);
    assert_int_equal(exit_code(status_of(t, wait_mode, missing)), 127);
    assert_string_equal(
        rt_test_stderr(t),
        "resourcetracker: rt-no-such-command-here: not found\n"
        "resourcetracker: rt-no-such-command-here: not found\n");
    /* A file without the execute bit. */
    char path[160];
    snprintf(path, sizeof(path), "/tmp%s-noexec", t->prefix);
    int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "exit 0\n", 7), 7);
    close(fd);
    const char *noexec[] = {path, NULL};
    assert_int_equal(truncate(t->errpath, 0), 0);
    assert_int_equal(exit_code(status_of(t, exec_mode, noexec)), 126);
    char want[256];
    snprintf(want, sizeof(want), "resourcetracker: %s: %s\n", path,
             strerror(EACCES));
    assert_string_equal(rt_test_stderr(t), want);
    /* Executable but no "#!": run by /bin/sh, as execvp(3) does. */
    assert_int_equal(chmod(path, 0755), 0);
    assert_int_equal(truncate(path, 0), 0);
    fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "exit 5\n", 7), 7);
    close(fd);
    assert_int_equal(exit_code(status_of(t, exec_mode, noexec)), 5);
    assert_int_equal(exit_code(status_of(t, wait_mode, noexec)), 5);
    wait_runs_done(t);
}

/* The command's own usage: errors are "resourcetracker: ..." lines on
 * stderr and status 2, --help and --version go to stdout with status 0. */
static void command_usage_errors_and_help(void **state)
{
    struct rt_test *t = *state;
    char out[4096];
    static const struct {
        const char *args[4];
        int status;
        const char *out; /* what stdout starts with */
        const char *err; /* what stderr starts with */
    } cases[] = {
        {{NULL}, 2, "", "resourcetracker: missing command"},
        {{"frobnicate", NULL}, 2, "", "resourcetracker: unknown command"},
        {{"--version", NULL}, 0, "resourcetracker ", ""},
        {{"--help", NULL}, 0, "usage: resourcetracker", ""},
        {{"run", "--help", NULL}, 0, "usage: resourcetracker run", ""},
        {{"list", "--help", NULL}, 0, "usage: resourcetracker list", ""},
        {{"sweep", "--help", NULL}, 0, "usage: resourcetracker sweep", ""},
        {{"sweep", "--bogus", NULL}, 2, "", "resourcetracker: "},
        {{"list", "extra", NULL}, 2, "", "resourcetracker: "},
        {{"run", NULL}, 2, "", "resourcetracker: "},
        {{"run", "--wait", "--frob", NULL}, 2, "", "resourcetracker: "},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(truncate(t->errpath, 0), 0);
        int st = rt_test_cli(t, cases[i].args, out, sizeof(out), 20);
        const char *err = rt_test_stderr(t);
        if (st != cases[i].status ||
            strncmp(out, cases[i].out, strlen(cases[i].out)) != 0 ||
            strncmp(err, cases[i].err, strlen(cases[i].err)) != 0 ||
            (cases[i].err[0] == '\0') != (err[0] == '\0')) {
            fail_msg("case %zu (%s): status %d, stdout '%.60s', stderr "
                     "'%.120s'",
                     i, cases[i].args[0] ? cases[i].args[0] : "no arguments",
                     st, out, err);
        }
    }
}

/* ---- CPython under run --preload ---- */

/* The Python program: creates a SharedMemory and a semaphore (a spawn
 * Lock: CPython's tracker tracks both), prints their names, its pid, its
 * tracker's and the run's variable, then does ARGV[2]: "clean" (unlinks,
 * exits), "hold" (until stdin ends). */
static const char py_prog[] =
    "import multiprocessing as mp, os, sys\n"
    "from multiprocessing import shared_memory, resource_tracker\n"
    "prefix = sys.argv[1]\n"
    "mp.current_process()._config['semprefix'] = prefix\n"
    "shm = shared_memory.SharedMemory(prefix[1:] + '-py', create=True,\n"
    "                                 size=4096)\n"
    "lock = mp.get_context('spawn').Lock()\n"
    "print(shm._name, lock._semlock.name, os.getpid(),\n"
    "      resource_tracker._resource_tracker._pid,\n"
    "      os.environ['RESOURCE_TRACKER_FD'], flush=True)\n"
    "if sys.argv[2] == 'clean':\n"
    "    shm.close(); shm.unlink(); del lock\n"
    "else:\n"
    "    sys.stdin.read()\n";

static int have_python(void)
{
    static int known = -1;
    if (known < 0) {
        pid_t pid;
        const char *argv[] = {"python3", "-c",
                              "import multiprocessing.shared_memory", NULL};
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
        known = posix_spawnp(&pid, "python3", &fa, NULL, (char *const *)argv,
                             environ) == 0 &&
                exit_code(rt_test_wait_pid(pid, 60)) == 0;
        posix_spawn_file_actions_destroy(&fa);
    }
    return known;
}

struct py_run {
    struct proc p;
    char shm[128];
    char sem[128];
    pid_t py;
    pid_t tracker; /* CPython's */
    unsigned long long ino;
};

static int cpython_tracker_joined(void *arg)
{
    const struct py_run *r = arg;
    return holds_pipe(r->tracker, r->ino);
}

/* Starts the Python program under run --preload in a process group of its
 * own (which the tracker is not in: it has a session of its own). */
static void py_start(struct rt_test *t, struct py_run *r, const char *mode)
{
    const char *opts[] = {"--preload", NULL};
    const char *args[] = {"python3", "-c", py_prog, t->prefix, mode, NULL};
    r->p = run(t, opts, args, 1);
    char line[512];
    if (rt_test_read_line(r->p.out, line, sizeof(line), 60) < 0) {
        fail_msg("the Python program said nothing: %s", rt_test_stderr(t));
    }
    long py;
    long tracker;
    unsigned long long fd;
    unsigned long long dev;
    assert_int_equal(sscanf(line, "%127s %127s %ld %ld %llu:%llu:%llu", r->shm,
                            r->sem, &py, &tracker, &fd, &dev, &r->ino),
                     7);
    r->py = (pid_t)py;
    r->tracker = (pid_t)tracker;
}

static int py_objects_gone(void *arg)
{
    const struct py_run *r = arg;
    return !rt_test_shm_exists(r->shm) && !rt_test_sem_exists(r->sem);
}

static void py_finish(struct rt_test *t, struct py_run *r)
{
    reap(r->p.pid);
    close_proc(&r->p);
    wait_runs_done(t);
    /* CPython's tracker came to us (a subreaper) when Python died. */
    rt_test_wait_pid(r->tracker, 60);
    assert_true(rt_test_wait_until(py_objects_gone, r, 30));
}

static void python_killed_cpython_tracker_cleans(void **state)
{
    skip_unless_system_libc();
    if (!have_python()) {
        skip();
    }
    struct rt_test *t = *state;
    struct py_run r;
    py_start(t, &r, "hold");
    assert_true(rt_test_shm_exists(r.shm) && rt_test_sem_exists(r.sem));
    /* CPython's tracker holds the run's pipe from its start. */
    assert_true(rt_test_wait_until(cpython_tracker_joined, &r, 30));
    kill(r.py, SIGKILL);
    py_finish(t, &r);
    const char *err = rt_test_stderr(t);
    /* CPython's own warnings, as without the run, and none of ours: ours
     * waited for CPython's tracker, which told it what it removed. */
    assert_int_equal(rt_test_count(err, "UserWarning: resource_tracker: "
                                        "There appear to be 1 leaked "
                                        "shared_memory"),
                     1);
    assert_int_equal(rt_test_count(err, "UserWarning: resource_tracker: "
                                        "There appear to be 1 leaked "
                                        "semaphore"),
                     1);
    assert_int_equal(lines_starting(err, "resource_tracker:"), 0);
    assert_int_equal(rt_test_count(err, "No such file"), 0);
    assert_int_equal(rt_test_count(err, "cannot unregister"), 0);
}

static void python_and_its_tracker_killed_ours_cleans(void **state)
{
    skip_unless_system_libc();
    if (!have_python()) {
        skip();
    }
    struct rt_test *t = *state;
    struct py_run r;
    py_start(t, &r, "hold");
    assert_true(rt_test_shm_exists(r.shm) && rt_test_sem_exists(r.sem));
    assert_true(rt_test_wait_until(cpython_tracker_joined, &r, 30));
    /* "kill -9" of the program's process group: Python and CPython's
     * tracker, not ours. */
    kill(-r.p.pid, SIGKILL);
    py_finish(t, &r);
    const char *err = rt_test_stderr(t);
    assert_int_equal(lines_starting(err, "resource_tracker: There appear to "
                                         "be 1 leaked shared_memory"),
                     1);
    assert_int_equal(lines_starting(err, "resource_tracker: There appear to "
                                         "be 1 leaked semaphore"),
                     1);
    assert_int_equal(rt_test_count(err, "\n"), 2);
}

static void python_that_cleans_up_prints_nothing(void **state)
{
    skip_unless_system_libc();
    if (!have_python()) {
        skip();
    }
    struct rt_test *t = *state;
    struct py_run r;
    py_start(t, &r, "clean");
    assert_int_equal(exit_code(reap(r.p.pid)), 0);
    close_proc(&r.p);
    wait_runs_done(t);
    rt_test_wait_pid(r.tracker, 60);
    assert_true(py_objects_gone(&r));
    assert_string_equal(rt_test_stderr(t), "");
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--helper") == 0) {
        return helper(argv[2]);
    }
    /* The shim comes first in LD_PRELOAD; a sanitized program preloaded
     * with it (the library-using helpers under SANITIZE=address) must not
     * insist that ASan's runtime does. */
    const char *asan = getenv("ASAN_OPTIONS");
    char opts[1024];
    snprintf(opts, sizeof(opts), "%s%sverify_asan_link_order=0",
             asan != NULL ? asan : "", asan != NULL && asan[0] ? ":" : "");
    setenv("ASAN_OPTIONS", opts, 1);
    if (getenv("RESOURCE_TRACKER_PRELOAD") == NULL) {
        setenv("RESOURCE_TRACKER_PRELOAD",
               "build/libresourcetracker-preload.so", 1);
    }
    if (rt_test_valgrind()) {
        /* Every process of a run would be traced; the shim's behaviour is
         * the same, and the suite's other tests cover the library. */
        printf("test-run: skipped under valgrind\n");
        return 0;
    }
    const struct CMUnitTest tests[] = {
        TEST(preload_cleans_up_after_sigkill),
        TEST(without_preload_the_objects_stay),
        TEST(tree_shares_one_tracker),
        TEST(cut_off_child_joins_the_run_again),
        TEST(existing_objects_are_never_tracked),
        TEST(errno_and_results_are_the_real_calls),
        TEST(program_without_calls_is_untouched),
        TEST(fork_while_a_thread_is_in_shm_open),
        TEST(program_using_the_library_tracks_once),
        TEST(wait_returns_after_the_cleanup),
        TEST(wait_passes_signals_on),
        TEST(wait_passes_every_signal_on),
        TEST(wait_passes_a_hangup_on),
        TEST(statuses_pass_through),
        TEST(wait_with_sigchld_ignored),
        TEST(command_not_found_or_not_executable),
        TEST(command_usage_errors_and_help),
        TEST(python_killed_cpython_tracker_cleans),
        TEST(python_and_its_tracker_killed_ours_cleans),
        TEST(python_that_cleans_up_prints_nothing),
    };
    return RT_RUN(tests);
}
