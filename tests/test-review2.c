/* SPDX-License-Identifier: MIT */
/* The review's items (issue 10) that need a machine of their own: a host
 * that is PID 1 of a PID namespace, a host in a chroot, descriptor limits
 * too low to start a tracker, and the size of the tracker's pipes. The
 * others are in test-review.c. */
#define _GNU_SOURCE
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "resourcetracker.h"

#define NOBODY 65534

/* The initial PID namespace (PROC_PID_INIT_INO). */
#define INIT_PIDNS "pid:[4026531836]"

static void write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static int path_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* The pipe size a user gets when under its quota: 16 pages. */
static long default_pipe_size(void)
{
    return 16 * sysconf(_SC_PAGESIZE);
}

/* ---- item 4: PID 1 of a PID namespace ---- */

#define NS_SEGMENTS 3

struct pidns_args {
    const char *prefix;
    int kill; /* PID 1 is SIGKILLed (else it exits normally) */
};

static void ns_name(char *buf, size_t len, const char *prefix, int i)
{
    snprintf(buf, len, "%s-ns%d", prefix, i);
}

/* Whether every pipe this process may write to, but the one to the test
 * (*ARG), is empty: the tracker has read (and journaled) what we sent. */
static int pipes_drained(void *arg)
{
    int skip = *(const int *)arg;
    for (int fd = 3; fd < 1024; fd++) {
        struct stat st;
        int fl = fcntl(fd, F_GETFL);
        int queued = 0;
        if (fd != skip && fl >= 0 && (fl & O_ACCMODE) == O_WRONLY &&
            fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) &&
            (ioctl(fd, FIONREAD, &queued) < 0 || queued > 0)) {
            return 0;
        }
    }
    return 1;
}

/* PID 1 of the new namespace, with a /proc of its own. */
static int ns_init(const void *arg, int w)
{
    const struct pidns_args *a = arg;
    if (getpid() != 1 || mount("proc", "/proc", "proc",
                               MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
        return 80;
    }
    for (int i = 0; i < NS_SEGMENTS; i++) {
        char name[128];
        ns_name(name, sizeof(name), a->prefix, i);
        int fd = rt_shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
        if (fd < 0) {
            proc_say(w, "rt_shm_open: %s", strerror(errno));
            return 81;
        }
        close(fd);
    }
    if (a->kill) {
        /* Killed before the tracker read them, the registrations would die
         * in the pipe with the whole namespace: no journal has them. */
        if (!rt_test_wait_until(pipes_drained, &w, 10)) {
            return 82;
        }
        proc_say(w, "ready 1");
        rt_test_hang();
    }
    /* As a return from main. */
    exit(0);
}

/* Forks INIT(ARG, W) as PID 1 of a new PID namespace (with a mount
 * namespace of its own, mounts private). Returns its pid, or -1 (said). */
static pid_t fork_ns_init(int (*init)(const void *arg, int w), const void *arg,
                          int w)
{
    if (unshare(CLONE_NEWPID | CLONE_NEWNS) < 0 ||
        mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0) {
        proc_say(w, "unshare: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        _exit(init(arg, w));
    }
    return pid;
}

static int pidns_host(void *arg, int w)
{
    pid_t pid = fork_ns_init(ns_init, arg, w);
    if (pid < 0) {
        return 90;
    }
    proc_say(w, "init %ld", (long)pid);
    int st = rt_test_wait_pid(pid, 20);
    /* By now every process of the namespace is gone: its init is reaped
     * only after them. */
    proc_say(w, "status %d", st);
    return 0;
}

static int run_pidns(struct rt_test *t, struct pidns_args *a)
{
    /* exit() in a forked copy of this process flushes what stdio holds. */
    fflush(NULL);
    int rfd;
    pid_t host = rt_test_fork(t, pidns_host, a, &rfd);
    assert_true(host > 0);
    /* "init" from the host, "ready" from PID 1: in either order. */
    static const char *const keys[] = {"init", "ready"};
    long v[2];
    rt_test_read_keys(rfd, keys, v, a->kill ? 2 : 1, 20);
    long init = v[0];
    assert_true(init > 0);
    if (a->kill) {
        assert_int_equal(v[1], 1);
        /* The run's tracker pid is of the namespace: not looked up here. */
        static const char *const list[] = {"list", NULL};
        static char out[8192];
        assert_int_equal(rt_test_cli(t, list, out, sizeof(out), 20), 0);
        assert_non_null(strstr(out, "in another PID namespace"));
        assert_int_equal(kill((pid_t)init, SIGKILL), 0);
    }
    long st = rt_test_read_key(rfd, "status");
    close(rfd);
    int hst = rt_test_wait_pid(host, 20);
    assert_true(hst != -1 && WIFEXITED(hst) && WEXITSTATUS(hst) == 0);
    rt_test_untrack(t, host);
    return (int)st;
}

static int ns_count(const char *prefix)
{
    int n = 0;
    for (int i = 0; i < NS_SEGMENTS; i++) {
        char name[128];
        ns_name(name, sizeof(name), prefix, i);
        n += rt_test_shm_exists(name);
    }
    return n;
}

static void pid1_exit_cleans_up(void **state)
{
    struct rt_test *t = *state;
    if (geteuid() != 0) {
        skip();
    }
    int runs = rt_test_valgrind() ? 3 : 20;
    for (int i = 0; i < runs; i++) {
        char prefix[96];
        char suffix[16];
        snprintf(suffix, sizeof(suffix), "run%d", i);
        struct pidns_args a = {rt_test_name(t, prefix, sizeof(prefix), suffix),
                               0};
        int st = run_pidns(t, &a);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        /* Cleaned up before PID 1 was gone, not by a later sweep. */
        assert_int_equal(ns_count(prefix), 0);
    }
    assert_int_equal(rt_test_count(rt_test_stderr(t),
                                   "There appear to be 3 leaked "
                                   "shared_memory objects"),
                     runs);
}

/* The command of this build, beside the helper: BUILD/resourcetracker. */
static const char *cli_path(char *buf, size_t len)
{
    snprintf(buf, len, "%s", rt_test_child_path());
    for (int k = 0; k < 2; k++) {
        char *slash = strrchr(buf, '/');
        if (slash == NULL) {
            snprintf(buf, len, ".");
            break;
        }
        *slash = '\0';
    }
    size_t n = strlen(buf);
    snprintf(buf + n, len - n, "/resourcetracker");
    return buf;
}

extern char **environ;

/* Runs "resourcetracker sweep" (stdout and stderr into T's capture) and
 * returns its exit status. */
static int run_sweep(struct rt_test *t)
{
    char cli[512];
    char *argv[] = {(char *)cli_path(cli, sizeof(cli)), (char *)"sweep", NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, t->errpath, O_WRONLY | O_APPEND,
                                     0);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid;
    int r = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    assert_int_equal(r, 0);
    int st = rt_test_wait_pid(pid, 20);
    assert_true(st != -1 && WIFEXITED(st));
    return WEXITSTATUS(st);
}

static int journals(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        n += strstr(e->d_name, ".journal") != NULL;
    }
    if (d != NULL) {
        closedir(d);
    }
    return n;
}

static void pid1_killed_leaves_it_to_the_sweep(void **state)
{
    struct rt_test *t = *state;
    if (geteuid() != 0) {
        skip();
    }
    char prefix[96];
    struct pidns_args a = {rt_test_name(t, prefix, sizeof(prefix), "killed"),
                           1};
    int st = run_pidns(t, &a);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    /* The kernel kills the namespace's other processes once its init is
     * gone. The tracker, whose last writer was init, may see end-of-file
     * and clean up some or all before its own SIGKILL lands (rarely); what
     * it did not, the journal holds. */
    int left = ns_count(prefix);
    assert_true(left >= 0 && left <= NS_SEGMENTS);
    if (left > 0) {
        assert_int_equal(journals(t->statedir), 1);
    }
    char ns[64] = "";
    assert_true(readlink("/proc/self/ns/pid", ns, sizeof(ns) - 1) > 0);
    if (strcmp(ns, INIT_PIDNS) != 0) {
        /* From a namespace that cannot see the run's, the sweep leaves
         * everything for a sweeper that can. */
        assert_int_equal(run_sweep(t), left > 0 ? 1 : 0);
        assert_int_equal(ns_count(prefix), left);
        return;
    }
    assert_int_equal(run_sweep(t), 0);
    assert_int_equal(ns_count(prefix), 0);
    assert_int_equal(journals(t->statedir), 0);
    const char *out = rt_test_stderr(t);
    if (left == NS_SEGMENTS) {
        /* The usual case: the sweep reports them all, as a shutdown
         * would. */
        assert_non_null(strstr(out, "There appear to be 3 leaked "
                                    "shared_memory objects"));
    }
}

/* ---- a sweep inside a container, a host process holding the object ---- */

struct inside_args {
    const char *prefix;
    int go; /* read end: the test holds a segment, sweep now */
};

/* A run made in the namespace, killed whole (program, tracker, guardian)
 * while its PID 1 lives on; then "resourcetracker sweep" in the same
 * namespace. */
static int inside_creator(const char *prefix, int w)
{
    for (int i = 0; i < NS_SEGMENTS; i++) {
        char name[128];
        ns_name(name, sizeof(name), prefix, i);
        int fd = rt_shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
        if (fd < 0) {
            return 81;
        }
        close(fd);
    }
    if (!rt_test_wait_until(pipes_drained, &w, 10)) {
        return 82;
    }
    proc_say(w, "made 1");
    rt_test_hang();
}

static int inside_init(const void *arg, int w)
{
    const struct inside_args *a = arg;
    if (getpid() != 1 || mount("proc", "/proc", "proc",
                               MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
        return 80;
    }
    int made[2];
    if (pipe(made) < 0) {
        return 83;
    }
    pid_t c = fork();
    if (c == 0) {
        _exit(inside_creator(a->prefix, made[1]));
    }
    close(made[1]);
    char line[64];
    if (rt_test_read_line(made[0], line, sizeof(line), 20) < 0 ||
        strcmp(line, "made 1") != 0) {
        return 84;
    }
    /* Everything of the namespace but its PID 1: the whole run. */
    (void)kill(-1, SIGKILL);
    while (waitpid(-1, NULL, 0) > 0 || errno == EINTR) {
    }
    proc_say(w, "dead 1");
    char c1;
    if (read(a->go, &c1, 1) != 1) {
        return 85;
    }
    char cli[512];
    char *argv[] = {(char *)cli_path(cli, sizeof(cli)), (char *)"sweep", NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    pid_t s;
    int r = posix_spawn(&s, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (r != 0) {
        return 86;
    }
    int st;
    if (waitpid(s, &st, 0) != s || !WIFEXITED(st)) {
        return 87;
    }
    proc_say(w, "sweep %d", WEXITSTATUS(st));
    return 0;
}

static int inside_host(void *arg, int w)
{
    pid_t pid = fork_ns_init(inside_init, arg, w);
    if (pid < 0) {
        return 90;
    }
    int st = rt_test_wait_pid(pid, 40);
    return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : 91;
}

static void sweep_inside_a_namespace_leaves_what_the_host_holds(void **state)
{
    struct rt_test *t = *state;
    if (geteuid() != 0) {
        skip();
    }
    char prefix[96];
    int go[2];
    assert_int_equal(pipe(go), 0);
    struct inside_args a = {rt_test_name(t, prefix, sizeof(prefix), "in"),
                            go[0]};
    /* stderr of this process's children is the test's capture. */
    fflush(NULL);
    int rfd;
    pid_t host = rt_test_fork(t, inside_host, &a, &rfd);
    close(go[0]);
    assert_int_equal(rt_test_read_key(rfd, "dead"), 1);
    assert_int_equal(ns_count(prefix), NS_SEGMENTS);
    /* A process outside the namespace, this one, maps the first segment:
     * the sweeper cannot see it. */
    char name[128];
    ns_name(name, sizeof(name), prefix, 0);
    int fd = shm_open(name, O_RDWR, 0);
    assert_true(fd >= 0);
    void *m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    assert_true(m != MAP_FAILED);
    assert_int_equal(write(go[1], "g", 1), 1);
    close(go[1]);
    long sweep = rt_test_read_key(rfd, "sweep");
    close(rfd);
    int hst = rt_test_wait_pid(host, 40);
    assert_true(hst != -1 && WIFEXITED(hst));
    assert_int_equal(WEXITSTATUS(hst), 0);
    rt_test_untrack(t, host);
    /* Left, all of them (any could be held up there), for a later sweep. */
    assert_int_equal(sweep, 1);
    assert_true(rt_test_shm_exists(name));
    assert_int_equal(ns_count(prefix), NS_SEGMENTS);
    assert_non_null(strstr(rt_test_stderr(t), "processes outside this PID "
                                              "namespace cannot be seen"));
    munmap(m, 4096);
    /* From the initial namespace (where the suite runs), a sweep that sees
     * every process removes them. */
    char ns[64] = "";
    assert_true(readlink("/proc/self/ns/pid", ns, sizeof(ns) - 1) > 0);
    if (strcmp(ns, INIT_PIDNS) == 0) {
        assert_int_equal(run_sweep(t), 0);
        assert_int_equal(ns_count(prefix), 0);
    } else {
        for (int i = 0; i < NS_SEGMENTS; i++) {
            ns_name(name, sizeof(name), prefix, i);
            (void)shm_unlink(name);
        }
    }
}

/* ---- item 15: a host in a chroot ---- */

struct jail_args {
    const char *jail;
    const char *file;   /* the same path inside and outside the jail */
    const char *folder; /* likewise */
};

static int jail_host(void *arg, int w)
{
    const struct jail_args *a = arg;
    RT_CHECK(w, rt_ensure_running(), 0, 0);
    if (chroot(a->jail) < 0 || chdir("/") < 0) {
        return 90;
    }
    RT_CHECK_EQ(w, path_exists(a->file), 1);
    RT_CHECK(w, rt_register(a->file, RT_FILE), -1, EXDEV);
    RT_CHECK(w, rt_register(a->folder, RT_FOLDER), -1, EXDEV);
    RT_CHECK(w, rt_register(a->folder, RT_FILE), -1, EXDEV);
    rt_test_say_tracker(w, (long)rt_tracker_pid());
    rt_test_hang();
}

static void chrooted_path_is_exdev(void **state)
{
    struct rt_test *t = *state;
    if (geteuid() != 0) {
        skip();
    }
    char jail[128];
    char jail_tmp[160];
    char file[128];
    char folder[128];
    char inner[320];
    snprintf(jail, sizeof(jail), "/tmp%s-jail", t->prefix);
    snprintf(jail_tmp, sizeof(jail_tmp), "%s/tmp", jail);
    snprintf(file, sizeof(file), "/tmp%s-same", t->prefix);
    snprintf(folder, sizeof(folder), "/tmp%s-samedir", t->prefix);
    assert_int_equal(mkdir(jail, 0700), 0);
    assert_int_equal(mkdir(jail_tmp, 01777), 0);
    write_file(file, "outside");
    assert_int_equal(mkdir(folder, 0700), 0);
    snprintf(inner, sizeof(inner), "%s/keep", folder);
    write_file(inner, "outside");
    snprintf(inner, sizeof(inner), "%s%s", jail, file);
    write_file(inner, "inside");
    snprintf(inner, sizeof(inner), "%s%s", jail, folder);
    assert_int_equal(mkdir(inner, 0700), 0);
    struct jail_args a = {jail, file, folder};
    /* Nothing registered: a clean exit. */
    assert_int_equal(rt_test_run_killed(t, jail_host, &a), 0);
    assert_true(path_exists(file));
    snprintf(inner, sizeof(inner), "%s/keep", folder);
    assert_true(path_exists(inner));
    snprintf(inner, sizeof(inner), "%s%s", jail, file);
    assert_true(path_exists(inner));
}

/* ---- item 16: too few descriptors, then enough ---- */

static int exec_path(pid_t tracker)
{
    char path[64];
    char exe[256] = "";
    snprintf(path, sizeof(path), "/proc/%ld/exe", (long)tracker);
    if (readlink(path, exe, sizeof(exe) - 1) < 0) {
        return 0;
    }
    return strncmp(exe, "/memfd:resource_tracker", 23) == 0;
}

struct limit_args {
    const char *name;
    int from, to; /* the limits tried, one host each */
    int must_fail;
    int close_std; /* the host closes 0, 1 and 2 first */
};

static int limit_host(const struct limit_args *a, rlim_t limit, int w)
{
    struct rlimit old;
    if (getrlimit(RLIMIT_NOFILE, &old) < 0) {
        return 90;
    }
    struct rlimit rl = {limit, old.rlim_max};
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
        return 91;
    }
    int r = rt_ensure_running();
    if (r < 0 || a->must_fail) {
        if (r != -1 || errno != EMFILE) {
            proc_say(w, "limit %ld: rt_ensure_running %d, errno %d (%s)",
                     (long)limit, r, r < 0 ? errno : 0,
                     r < 0 ? strerror(errno) : "-");
            rt_test_failures++;
        }
        RT_CHECK(w, rt_register(a->name, RT_SHARED_MEMORY), -1, EMFILE);
        RT_CHECK(w, rt_getfd(), -1, EMFILE);
        RT_CHECK_EQ(w, rt_tracker_pid(), -1);
        if (setrlimit(RLIMIT_NOFILE, &old) < 0) {
            return 92;
        }
        RT_CHECK(w, rt_ensure_running(), 0, 0);
    }
    /* Whatever happened before, an exec'ed image, not a fork of ours. */
    pid_t tracker = rt_tracker_pid();
    if (!exec_path(tracker)) {
        proc_say(w, "limit %ld: the tracker is not the exec'ed image",
                 (long)limit);
        rt_test_failures++;
    }
    RT_CHECK(w, rt_register(a->name, RT_SHARED_MEMORY), 0, 0);
    RT_CHECK(w, rt_unregister(a->name, RT_SHARED_MEMORY), 0, 0);
    return rt_test_failures;
}

static int limits_host(void *arg, int w)
{
    const struct limit_args *a = arg;
    for (int limit = a->from; limit <= a->to; limit++) {
        pid_t pid = fork();
        if (pid == 0) {
            for (int fd = 0; fd < 3 && a->close_std; fd++) {
                close(fd);
            }
            _exit(limit_host(a, (rlim_t)limit, w));
        }
        int st = rt_test_wait_pid(pid, 20);
        if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            proc_say(w, "limit %d: status 0x%x", limit, st);
            rt_test_failures++;
        }
    }
    return rt_test_failures;
}

static void low_descriptor_limit_is_emfile_then_exec(void **state)
{
    struct rt_test *t = *state;
    if (rt_test_valgrind()) {
        skip(); /* valgrind keeps its own descriptors under the limit */
    }
    char name[96];
    rt_test_name(t, name, sizeof(name), "limit");
    for (int close_std = 0; close_std < 2; close_std++) {
        struct limit_args a = {name, 9, 10, 1, close_std};
        rt_test_run_host(t, limits_host, &a, 30);
        /* Every limit up to where a start fits: EMFILE or a start, and
         * the exec path either way. With 0 to 2 closed, the lowest limits
         * leave no number above 2 at all. */
        struct limit_args b = {name, 1, 40, 0, close_std};
        rt_test_run_host(t, limits_host, &b, 60);
    }
    assert_string_equal(rt_test_stderr(t), "");
}

/* ---- item 17: pipe sizes ---- */

/* The pipe write ends this process holds: their sizes must all be SIZE. */
static int check_pipe_sizes(int w, long size)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL) {
        return -1;
    }
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int fd = atoi(e->d_name);
        struct stat st;
        if (e->d_name[0] == '.' || fd == dirfd(d) || fd == w ||
            fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode)) {
            continue;
        }
        int got = fcntl(fd, F_GETPIPE_SZ);
        if (got != size) {
            proc_say(w, "fd %d: pipe of %d bytes, want %ld", fd, got, size);
            rt_test_failures++;
        }
        n++;
    }
    closedir(d);
    return n;
}

static int idle_host(void *arg, int w)
{
    (void)arg;
    RT_CHECK(w, rt_ensure_running(), 0, 0);
    RT_CHECK_EQ(w, fcntl(rt_getfd(), F_GETPIPE_SZ), default_pipe_size());
    /* Both pipes of the run (ours and its spare read end). */
    RT_CHECK_EQ(w, check_pipe_sizes(w, default_pipe_size()) >= 3, 1);
    return rt_test_failures;
}

static void idle_pipes_keep_default_size(void **state)
{
    rt_test_run_host(*state, idle_host, NULL, 20);
}

#define MANY 100

struct nobody_args {
    const char *statedir;
    int probe; /* only make a pipe and tell its size */
};

static int nobody_host(void *arg, int w)
{
    const struct nobody_args *a = arg;
    if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0 ||
        setenv("RESOURCE_TRACKER_DIR", a->statedir, 1) < 0) {
        return 90;
    }
    if (a->probe) {
        int p[2];
        if (pipe(p) < 0) {
            return 91;
        }
        proc_say(w, "size %d", fcntl(p[1], F_GETPIPE_SZ));
        return 0;
    }
    if (rt_ensure_running() < 0) {
        proc_say(w, "rt_ensure_running: %s", strerror(errno));
        return 92;
    }
    proc_say(w, "pid %ld", (long)rt_tracker_pid());
    rt_test_hang();
}

static void many_trackers_leave_the_user_its_pipe_quota(void **state)
{
    struct rt_test *t = *state;
    if (geteuid() != 0 || rt_test_valgrind()) {
        skip(); /* root has no pipe quota: the trackers run as nobody */
    }
    char dir[128];
    snprintf(dir, sizeof(dir), "/tmp%s-nobody", t->prefix);
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(chown(dir, NOBODY, NOBODY), 0);
    struct nobody_args a = {dir, 0};
    pid_t hosts[MANY];
    pid_t trackers[MANY];
    for (int i = 0; i < MANY; i++) {
        int rfd;
        hosts[i] = rt_test_fork(t, nobody_host, &a, &rfd);
        assert_true(hosts[i] > 0);
        trackers[i] = (pid_t)rt_test_read_key(rfd, "pid");
        close(rfd);
        assert_true(trackers[i] > 0);
        rt_test_track(t, trackers[i]);
    }
    struct nobody_args probe = {dir, 1};
    int rfd;
    pid_t pid = rt_test_fork(t, nobody_host, &probe, &rfd);
    long size = rt_test_read_key(rfd, "size");
    close(rfd);
    assert_int_not_equal(rt_test_wait_pid(pid, 20), -1);
    rt_test_untrack(t, pid);
    for (int i = 0; i < MANY; i++) {
        kill(hosts[i], SIGKILL);
    }
    for (int i = 0; i < MANY; i++) {
        assert_int_not_equal(rt_test_wait_pid(hosts[i], 20), -1);
        rt_test_untrack(t, hosts[i]);
    }
    for (int i = 0; i < MANY; i++) {
        assert_int_equal(rt_test_tracker_status(t, trackers[i]), 0);
    }
    assert_int_equal(size, default_pipe_size());
}

/* A burst: writers fill the pipe while the tracker is stopped; once it
 * runs again, it finds the pipe full and grows it. */
struct burst_args {
    const char *prefix;
    int raw; /* lines written straight into rt_getfd(), as CPython does */
};

#define BURST_WRITERS 4
#define BURST_LINES 2000

static int burst_writer(const struct burst_args *a, int fd, int k)
{
    for (int i = 0; i < BURST_LINES; i++) {
        char name[128];
        snprintf(name, sizeof(name), "%s-burst-%d-%d", a->prefix, k, i);
        if (a->raw) {
            char line[512];
            int n = snprintf(line, sizeof(line),
                             "REGISTER:%s:shared_memory\n"
                             "UNREGISTER:%s:shared_memory\n",
                             name, name);
            if (write(fd, line, (size_t)n) != n) {
                return 1;
            }
        } else if (rt_register(name, RT_SHARED_MEMORY) < 0 ||
                   rt_unregister(name, RT_SHARED_MEMORY) < 0) {
            return 2;
        }
    }
    return 0;
}

static int burst_host(void *arg, int w)
{
    const struct burst_args *a = arg;
    unsigned char before[1024] = {0};
    for (int fd = 0; fd < 1024; fd++) {
        before[fd] = fcntl(fd, F_GETFD) >= 0;
    }
    RT_CHECK(w, rt_ensure_running(), 0, 0);
    pid_t tracker = rt_tracker_pid();
    /* The pipe the writers use: the public one, or the private one that
     * forked writers use. */
    int pub = rt_getfd();
    int fd = pub;
    if (!a->raw) {
        for (int k = 0; k < 1024; k++) {
            struct stat st;
            int fl = fcntl(k, F_GETFL);
            if (!before[k] && k != pub && fl >= 0 &&
                (fl & O_ACCMODE) == O_WRONLY && fstat(k, &st) == 0 &&
                S_ISFIFO(st.st_mode)) {
                fd = k;
            }
        }
    }
    RT_CHECK_EQ(w, fcntl(fd, F_GETPIPE_SZ), default_pipe_size());
    RT_CHECK(w, kill(tracker, SIGSTOP), 0, 0);
    pid_t pids[BURST_WRITERS];
    for (int k = 0; k < BURST_WRITERS; k++) {
        pids[k] = fork();
        if (pids[k] == 0) {
            _exit(burst_writer(a, fd, k));
        }
    }
    /* Until the writers are blocked on a full pipe. */
    int queued = 0;
    for (int i = 0; i < 5000; i++) {
        int prev = queued;
        ioctl(fd, FIONREAD, &queued);
        if (queued > 0 && queued == prev) {
            break;
        }
        proc_nap_us(2000);
    }
    RT_CHECK(w, kill(tracker, SIGCONT), 0, 0);
    for (int k = 0; k < BURST_WRITERS; k++) {
        int st = rt_test_wait_pid(pids[k], 30);
        RT_CHECK_EQ(w, st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1, 0);
    }
    int size = fcntl(fd, F_GETPIPE_SZ);
    if (size <= default_pipe_size()) {
        proc_say(w, "%s pipe: %d bytes after a burst (held %d)",
                 a->raw ? "public" : "private", size, queued);
        rt_test_failures++;
    }
    return rt_test_failures;
}

static void burst_grows_the_pipe(void **state)
{
    struct rt_test *t = *state;
    for (int raw = 0; raw < 2; raw++) {
        struct burst_args a = {t->prefix, raw};
        rt_test_run_host(t, burst_host, &a, 30);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        RT_TEST(pid1_exit_cleans_up),
        RT_TEST(pid1_killed_leaves_it_to_the_sweep),
        RT_TEST(sweep_inside_a_namespace_leaves_what_the_host_holds),
        RT_TEST(chrooted_path_is_exdev),
        RT_TEST(low_descriptor_limit_is_emfile_then_exec),
        RT_TEST(idle_pipes_keep_default_size),
        RT_TEST(many_trackers_leave_the_user_its_pipe_quota),
        RT_TEST(burst_grows_the_pipe),
    };
    return RT_RUN(tests);
}
