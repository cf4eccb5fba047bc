/* SPDX-License-Identifier: MIT */
/* The tracker SIGKILLed while its run goes on: processes adopted over exec
 * (a C program and a CPython one) register after the death and nothing of
 * theirs leaks; objects registered before the death survive as long as
 * any process of the run lives and are removed once the last is gone
 * (by the guardian, or by a tracker relaunched on the run's pipes); a
 * CPython process with the library loaded sees the death with its own
 * probe; and registrations racing with the death are never lost. Test
 * process and forked hosts. */
#define _GNU_SOURCE
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "resourcetracker.h"

extern char **environ;

/* Our relaunch warning (with a journal, as every test here has one), and
 * CPython's, as its warnings module prints it. */
#define OUR_RELAUNCH                                                           \
    "resource_tracker: process died unexpectedly, relaunching.  The new "      \
    "tracker took over what it held.\n"
#define CPYTHON_RELAUNCH                                                       \
    "UserWarning: resource_tracker: process died unexpectedly, relaunching.  " \
    "Some resources might leak."
#define ANY_RELAUNCH "resource_tracker: process died unexpectedly, relaunching"

/* Python starts slowly (a pyenv shim, a cold cache). */
#define PY_SECONDS 30

/* ---- helpers ------------------------------------------------------------- */

/* Whether python3 can import what the tests use; asked once. */
static int python_usable(void)
{
    static int usable = -1;
#ifndef __GLIBC__
    /* A glibc python3 and a musl library keep semaphores apart. */
    usable = 0;
#endif
    if (usable < 0) {
        char *argv[] = {(char *)"python3", (char *)"-c",
                        (char *)"import ctypes, _posixshmem\n"
                                "from multiprocessing import resource_tracker,"
                                " shared_memory\n"
                                "resource_tracker._resource_tracker._fd\n",
                        NULL};
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
        pid_t pid;
        int r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        int st = r == 0 ? rt_test_wait_pid(pid, PY_SECONDS) : -1;
        usable = st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
        if (!usable) {
            print_message("python3 with multiprocessing.shared_memory not "
                          "found: its part is skipped\n");
        }
    }
    return usable;
}

/* A pipe whose both ends are close-on-exec; fails the test otherwise. */
static void make_pipe(int p[2])
{
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
}

/* In a host: spawns ARGV (PATH searched when SEARCH) sharing our tracker
 * (rt_spawn_prepare), with IN on its stdin, OUT on its stdout (-1:
 * /dev/null) and ERRPATH appended to on its stderr. */
static pid_t spawn_sharing(const char *const *argv, int search, int in, int out,
                           const char *errpath)
{
    posix_spawn_file_actions_t fa;
    char **env;
    posix_spawn_file_actions_init(&fa);
    if (rt_spawn_prepare(&fa, environ, &env) < 0) {
        posix_spawn_file_actions_destroy(&fa);
        return -1;
    }
    if (in >= 0) {
        posix_spawn_file_actions_adddup2(&fa, in, 0);
    }
    if (out >= 0) {
        posix_spawn_file_actions_adddup2(&fa, out, 1);
    } else {
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    }
    posix_spawn_file_actions_addopen(&fa, 2, errpath,
                                     O_WRONLY | O_APPEND | O_CREAT, 0600);
    pid_t pid;
    int r =
        search
            ? posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, env)
            : posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, env);
    rt_spawn_free(env);
    posix_spawn_file_actions_destroy(&fa);
    return r == 0 ? pid : -1;
}

/* Reads a line from FD within SECONDS and fails the test unless it is
 * WANT. */
static void want_line(int fd, const char *want, double seconds)
{
    char line[512];
    ssize_t n = rt_test_read_line(fd, line, sizeof(line), seconds);
    if (n < 0 || strcmp(line, want) != 0) {
        fail_msg("expected '%s', got %s'%s'", want, n < 0 ? "nothing " : "",
                 n < 0 ? "" : line);
    }
}

/* Reads "KEY N" from FD; fails the test otherwise. */
static long want_value(int fd, const char *key, double seconds)
{
    long v = rt_test_read_value(fd, key, seconds);
    if (v < 0) {
        fail_msg("no '%s N' line", key);
    }
    return v;
}

/* Whether every name of NAMES (N of them) exists. */
static int all_exist(char names[][128], int n)
{
    for (int i = 0; i < n; i++) {
        if (!rt_test_shm_exists(names[i])) {
            return 0;
        }
    }
    return 1;
}

/* For SECONDS, that every name keeps existing (a removal that should not
 * happen has that long to show). */
static void still_there_for(char names[][128], int n, double seconds)
{
    double end = proc_now() + seconds;
    do {
        for (int i = 0; i < n; i++) {
            if (!rt_test_shm_exists(names[i])) {
                fail_msg("%s was removed while its run lives", names[i]);
            }
        }
        proc_nap_us(10000);
    } while (proc_now() < end);
}

struct gone_args {
    const char *prefix;
};

static int prefix_gone(void *arg)
{
    return rt_test_count_prefix(((struct gone_args *)arg)->prefix) == 0;
}

/* Whether *(pid_t *)ARG has exited (a zombie counts: its parent, not
 * this process, reaps it). */
static int is_dead(void *arg)
{
    return !rt_test_alive(*(pid_t *)arg);
}

/* Waits for the exact child PID to exit within SECONDS; fails the test if
 * it does not. Returns its raw status. */
static int reap_what(pid_t pid, double seconds, const char *what)
{
    int st = rt_test_wait_adopted(pid, seconds);
    if (st < 0) {
        fail_msg("%s (process %ld) did not end in time", what, (long)pid);
    }
    return st;
}

#define reap(pid, seconds) reap_what((pid), (seconds), #pid)

/* Creates (O_EXCL) and maps a segment through the wrapper; NULL on
 * failure. */
static unsigned char *make_mapped(const char *name)
{
    int fd = rt_shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0) {
        return NULL;
    }
    void *p = ftruncate(fd, 4096) == 0
                  ? mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
                  : MAP_FAILED;
    close(fd);
    return p == MAP_FAILED ? NULL : p;
}

/* Python lines: wait (10 s at most) until nobody reads the pipe rt._fd any
 * more: its tracker is dead, and its guardian has moved what was left in
 * it into the journal and let go of it (guardian.h). Only then must a
 * write there fail (CPython's probe), as with CPython's own tracker. */
#define PY_WAIT_NO_READER                                                      \
    "import select, time\n"                                                    \
    "poller = select.poll()\n"                                                 \
    "poller.register(rt._fd, 0)\n"                                             \
    "deadline = time.monotonic() + 10\n"                                       \
    "while time.monotonic() < deadline and not any(\n"                         \
    "        e & select.POLLERR for _, e in poller.poll(0)):\n"                \
    "    time.sleep(0.001)\n"

/* ---- 1. adopted children register after the death ------------------------ */

/* The Python child: given our public pipe as CPython's tracker (as CPython
 * installs its parent's tracker in a spawned child), it registers two
 * segments once the tracker is dead. Its probe finds the pipe broken, so
 * CPython relaunches a tracker of its own, warning once. */
static const char py_after_death[] =
    "import os, sys\n"
    "from multiprocessing import resource_tracker, shared_memory\n"
    "fd, dev, ino = map(int, os.environ['RESOURCE_TRACKER_FD'].split(':'))\n"
    "st = os.fstat(fd)\n"
    "if (st.st_dev, st.st_ino) != (dev, ino):\n"
    "    sys.exit('RESOURCE_TRACKER_FD names another file')\n"
    "rt = resource_tracker._resource_tracker\n"
    "rt._fd = fd\n"
    "print('ready', flush=True)\n"
    "sys.stdin.readline()\n" PY_WAIT_NO_READER
    "a = shared_memory.SharedMemory(create=True, name=sys.argv[1][1:],\n"
    "                               size=4096)\n"
    "b = shared_memory.SharedMemory(create=True, name=sys.argv[2][1:],\n"
    "                               size=4096)\n"
    "print('made', rt._pid, flush=True)\n"
    "sys.stdin.read()\n";

struct adopt_args {
    struct rt_test *t;
    int c_in, c_out;   /* the C child's stdin and stdout */
    int py_in, py_out; /* the Python child's, or -1 */
    int go;            /* the host exits at its end-of-file */
    char own[128];     /* the host's segment */
    char c_shm[128];   /* the C child's */
    char loop[128];    /* the prefix of its 60,000 registrations */
    char py_a[128], py_b[128];
    char pyerr[128]; /* the Python child's stderr */
    int close_in_host[8];
};

/* Host: a segment of its own, the two children, then idle. */
static int adopt_host(void *arg, int w)
{
    struct adopt_args *a = arg;
    for (int i = 0; i < 8; i++) {
        if (a->close_in_host[i] >= 0) {
            close(a->close_in_host[i]);
        }
    }
    if (make_mapped(a->own) == NULL) {
        proc_say(w, "host: %s: %s", a->own, strerror(errno));
        return 90;
    }
    const char *const cargs[] = {rt_test_child_path(),
                                 "ensure",
                                 "wait",
                                 "noreader",
                                 "shm",
                                 a->c_shm,
                                 "regloop",
                                 "60000",
                                 a->loop,
                                 "pid",
                                 "hold",
                                 NULL};
    pid_t c = spawn_sharing(cargs, 0, a->c_in, a->c_out, a->t->errpath);
    pid_t py = -1;
    if (a->py_in >= 0) {
        const char *const pargs[] = {"python3", "-c",    py_after_death,
                                     a->py_a,   a->py_b, NULL};
        py = spawn_sharing(pargs, 1, a->py_in, a->py_out, a->pyerr);
    }
    close(a->c_in);
    close(a->c_out);
    if (a->py_in >= 0) {
        close(a->py_in);
        close(a->py_out);
    }
    if (c < 0 || (a->py_in >= 0 && py < 0)) {
        proc_say(w, "host: spawn failed");
        return 91;
    }
    proc_say(w, "children %ld %ld", (long)c, (long)py);
    proc_say(w, "tracker %ld", (long)rt_tracker_pid());
    /* Idle until the test says: then, after the C child relaunched the
     * tracker on the public pipe only, 60,000 registrations of our own on
     * the private pipe (we join that tracker and hand it the pipe). */
    char ch;
    ssize_t n;
    while ((n = read(a->go, &ch, 1)) != 0) {
        if (n == 1) {
            double t0 = proc_now();
            int r = 0;
            for (int i = 0; i < 60000 && r == 0; i++) {
                char name[160];
                snprintf(name, sizeof(name), "%s-h%d", a->loop, i);
                r = rt_register(name, RT_SHARED_MEMORY) < 0 ||
                    rt_unregister(name, RT_SHARED_MEMORY) < 0;
            }
            proc_say(w, "hostloop %d %.0f %ld", r ? errno : 0,
                     (proc_now() - t0) * 1000, (long)rt_tracker_pid());
        }
    }
    /* The children end first (the test closed their stdin). */
    int st;
    (void)proc_wait_exact(c, proc_now() + proc_scaled(20), &st);
    if (py > 0) {
        (void)proc_wait_exact(py, proc_now() + proc_scaled(20), &st);
    }
    return 0;
}

/* SIGKILL the tracker while the parent idles: a posix_spawned C child and
 * a CPython child, both adopted through RESOURCE_TRACKER_FD, register after
 * the death. The C child relaunches (our warning, once) and then makes
 * 60,000 registrations, which must not block; CPython relaunches its own
 * (its warning, once). Then the parent makes 60,000 too, through the
 * tracker the C child relaunched. Everything is cleaned up once they are
 * gone. */
static void adopted_children_register_after_death(void **state)
{
    struct rt_test *t = *state;
    int py = python_usable();
    struct adopt_args a;
    memset(&a, 0, sizeof(a));
    a.t = t;
    rt_test_name(t, a.own, sizeof(a.own), "own");
    rt_test_name(t, a.c_shm, sizeof(a.c_shm), "c");
    rt_test_name(t, a.loop, sizeof(a.loop), "loop");
    rt_test_name(t, a.py_a, sizeof(a.py_a), "pya");
    rt_test_name(t, a.py_b, sizeof(a.py_b), "pyb");
    /* Under the test's prefix: teardown removes it whatever happens. */
    snprintf(a.pyerr, sizeof(a.pyerr), "/tmp%s-pyerr", t->prefix);
    int cin[2], cout[2], pin[2] = {-1, -1}, pout[2] = {-1, -1}, go[2];
    make_pipe(cin);
    make_pipe(cout);
    make_pipe(go);
    if (py) {
        make_pipe(pin);
        make_pipe(pout);
    }
    a.c_in = cin[0];
    a.c_out = cout[1];
    a.py_in = pin[0];
    a.py_out = pout[1];
    a.go = go[0];
    int keep[8] = {cin[1], cout[0], pin[1], pout[0], go[1], -1, -1, -1};
    memcpy(a.close_in_host, keep, sizeof(keep));
    int rfd;
    pid_t host = rt_test_fork(t, adopt_host, &a, &rfd);
    assert_true(host > 0);
    close(cin[0]);
    close(cout[1]);
    close(go[0]);
    if (py) {
        close(pin[0]);
        close(pout[1]);
    }
    char line[256];
    long c_pid = -1, py_pid = -1;
    assert_true(rt_test_read_line(rfd, line, sizeof(line), 20) >= 0);
    assert_int_equal(sscanf(line, "children %ld %ld", &c_pid, &py_pid), 2);
    rt_test_track(t, (pid_t)c_pid);
    rt_test_track(t, (pid_t)py_pid);
    pid_t tracker = (pid_t)want_value(rfd, "tracker", 20);
    rt_test_track(t, tracker);
    pid_t guardian = rt_test_guardian_of(tracker, 10);
    assert_true(guardian > 0);
    rt_test_track(t, guardian);
    want_line(cout[0], "ensure 0 0", 20);
    want_line(cout[0], "wait", 20);
    if (py) {
        want_line(pout[0], "ready", PY_SECONDS);
    }

    assert_int_equal(kill(tracker, SIGKILL), 0);
    int st = reap(tracker, 20);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);

    /* CPython first: once the C child has relaunched on our pipes, its
     * probe would find a reader again and it would not relaunch. */
    pid_t cpy_tracker = -1;
    if (py) {
        assert_int_equal(write(pin[1], "\n", 1), 1);
        cpy_tracker = (pid_t)want_value(pout[0], "made", PY_SECONDS);
        rt_test_track(t, cpy_tracker);
    }
    double t0 = proc_now();
    assert_int_equal(write(cin[1], "g", 1), 1);
    want_line(cout[0], "noreader 0 0", 20);
    want_line(cout[0], "shm 0 0", 20);
    /* 60,000 registrations (and as many withdrawals) after the death: a
     * blocked write would never end. */
    long ms = -1;
    int r = -1, err = -1;
    assert_true(rt_test_read_line(cout[0], line, sizeof(line), 10) >= 0);
    assert_int_equal(sscanf(line, "regloop %d %d %ld", &r, &err, &ms), 3);
    assert_int_equal(r, 0);
    print_message("60,000 registrations after the death: %ld ms (%.0f ms "
                  "with the relaunch)\n",
                  ms, (proc_now() - t0) * 1000);
    pid_t relaunched = (pid_t)want_value(cout[0], "pid", 20);
    rt_test_track(t, relaunched);
    assert_true(relaunched != tracker);
    want_line(cout[0], "hold", 20);

    char names[4][128];
    snprintf(names[0], sizeof(names[0]), "%s", a.own);
    snprintf(names[1], sizeof(names[1]), "%s", a.c_shm);
    snprintf(names[2], sizeof(names[2]), "%s", a.py_a);
    snprintf(names[3], sizeof(names[3]), "%s", a.py_b);
    assert_true(all_exist(names, py ? 4 : 2));

    if (py) {
        /* CPython's tracker cleans up the Python child's segments when it
         * is gone; ours keeps the rest. */
        close(pin[1]);
        st = reap(cpy_tracker, PY_SECONDS);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) <= 1);
        assert_false(rt_test_shm_exists(a.py_a));
        assert_false(rt_test_shm_exists(a.py_b));
        close(pout[0]);
    }
    assert_true(all_exist(names, 2));
    /* The idle parent's turn: 60,000 registrations, within a deadline too;
     * it joins the tracker the C child relaunched (no warning of its
     * own). */
    assert_int_equal(write(go[1], "r", 1), 1);
    int herr = -1;
    double hms = -1;
    long hpid = -1;
    assert_true(rt_test_read_line(rfd, line, sizeof(line), 10) >= 0);
    assert_int_equal(sscanf(line, "hostloop %d %lf %ld", &herr, &hms, &hpid),
                     3);
    assert_int_equal(herr, 0);
    assert_int_equal(hpid, relaunched);
    print_message("the parent's 60,000 after joining: %.0f ms\n", hms);
    close(cin[1]);
    close(cout[0]);
    still_there_for(names, 2, 0.2);
    close(go[1]);
    st = reap(host, 20);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(rfd);
    /* The relaunched tracker took over the dead one's journal: it removes
     * the host's segment too, and its guardian and the dead one's go. */
    st = reap(relaunched, 20);
    assert_true(WIFEXITED(st));
    reap(guardian, 20);
    struct gone_args g = {t->prefix};
    assert_true(rt_test_wait_until(prefix_gone, &g, 5));
    const char *err_text = rt_test_stderr(t);
    if (WEXITSTATUS(st) != 1 || rt_test_count(err_text, OUR_RELAUNCH) != 1 ||
        rt_test_count(err_text, ANY_RELAUNCH) != 1) {
        fail_msg("tracker status %d; stderr:\n%s", WEXITSTATUS(st), err_text);
    }
    if (py) {
        /* CPython's warning, once, in the Python child's stderr. */
        FILE *f = fopen(a.pyerr, "r");
        static char pyerr[65536];
        size_t n = f != NULL ? fread(pyerr, 1, sizeof(pyerr) - 1, f) : 0;
        pyerr[n] = '\0';
        if (f != NULL) {
            fclose(f);
        }
        unlink(a.pyerr);
        if (rt_test_count(pyerr, CPYTHON_RELAUNCH) != 1 ||
            rt_test_count(pyerr, ANY_RELAUNCH) != 1 ||
            rt_test_count(pyerr, "Traceback") != 0) {
            fail_msg("Python's stderr:\n%s", pyerr);
        }
    }
}

/* ---- 2. objects outlive the tracker while their run lives ---------------- */

#define SHARED_N 3

struct share_args {
    struct rt_test *t;
    char names[SHARED_N][128];
    char extra[128]; /* what the process that calls the library makes */
    int e_in, e_out; /* the exec'ed child's stdin and stdout */
    int f_ctl;       /* the forked child reads commands here */
    int go;          /* the host exits at its end-of-file */
    int f_calls;     /* the forked child calls the library after the death */
    int close_in_host[4];
};

/* Writes and reads back each mapping: the objects in use. */
static int touch(unsigned char *maps[SHARED_N], unsigned char v)
{
    for (int i = 0; i < SHARED_N; i++) {
        maps[i][0] = v;
        if (maps[i][0] != v) {
            return -1;
        }
    }
    return 0;
}

/* Forked child: uses the mappings it inherited until its control pipe
 * ends; on 'r' it makes a segment through the library (a relaunch). */
static int share_forked(struct share_args *a, unsigned char *maps[SHARED_N],
                        int w)
{
    for (unsigned v = 0;; v++) {
        struct pollfd pf = {a->f_ctl, POLLIN, 0};
        if (poll(&pf, 1, 10) > 0) {
            char c;
            if (read(a->f_ctl, &c, 1) <= 0) {
                return 0;
            }
            int ok = make_mapped(a->extra) != NULL;
            proc_say(w, "fmade %d %ld", ok ? 0 : errno, (long)rt_tracker_pid());
        }
        if (touch(maps, (unsigned char)v) < 0) {
            return 1;
        }
    }
}

static int share_host(void *arg, int w)
{
    struct share_args *a = arg;
    for (int i = 0; i < 4; i++) {
        if (a->close_in_host[i] >= 0) {
            close(a->close_in_host[i]);
        }
    }
    unsigned char *maps[SHARED_N];
    for (int i = 0; i < SHARED_N; i++) {
        maps[i] = make_mapped(a->names[i]);
        if (maps[i] == NULL) {
            proc_say(w, "host: %s: %s", a->names[i], strerror(errno));
            return 90;
        }
    }
    pid_t f = fork();
    if (f == 0) {
        close(a->go);
        _exit(share_forked(a, maps, w));
    }
    close(a->f_ctl);
    /* The exec'ed child maps the objects without the library; when it
     * does not call the library after the death it never adopts our
     * tracker, but it holds the pipe rt_spawn_prepare passed it. */
    const char *const calls[] = {rt_test_child_path(),
                                 "map",
                                 a->names[0],
                                 "map",
                                 a->names[1],
                                 "map",
                                 a->names[2],
                                 "wait",
                                 "noreader",
                                 "rtshm",
                                 a->extra,
                                 "pid",
                                 "hold",
                                 NULL};
    const char *const quiet[] = {
        rt_test_child_path(), "map",  a->names[0], "map", a->names[1], "map",
        a->names[2],          "wait", "hold",      NULL};
    int e_calls = a->extra[0] != '\0' && !a->f_calls;
    pid_t e = spawn_sharing(e_calls ? calls : quiet, 0, a->e_in, a->e_out,
                            a->t->errpath);
    close(a->e_in);
    close(a->e_out);
    if (f < 0 || e < 0) {
        proc_say(w, "host: fork or spawn failed");
        return 91;
    }
    proc_say(w, "forked %ld", (long)f);
    proc_say(w, "exec %ld", (long)e);
    proc_say(w, "tracker %ld", (long)rt_tracker_pid());
    for (unsigned v = 0;; v++) {
        struct pollfd pf = {a->go, POLLIN, 0};
        if (poll(&pf, 1, 10) > 0) {
            return 0;
        }
        if (e > 0 && waitpid(e, NULL, WNOHANG) == e) {
            e = -1; /* it ended first */
        }
        if (touch(maps, (unsigned char)v) < 0) {
            return 92;
        }
    }
}

enum share_mode {
    NOBODY_CALLS, /* the guardian cleans up after the last one */
    EXEC_CALLS,   /* the exec'ed child relaunches: a tracker of the run */
    FORK_CALLS,   /* the forked child relaunches */
};

/* The parent and two children (one forked, one exec'ed) keep using
 * objects registered before the tracker's death. None is removed while
 * any of them lives, whatever order they end in; all are gone once the
 * last has exited. */
static void objects_outlive_tracker(void **state, enum share_mode mode)
{
    struct rt_test *t = *state;
    struct share_args a;
    memset(&a, 0, sizeof(a));
    a.t = t;
    for (int i = 0; i < SHARED_N; i++) {
        char sfx[16];
        snprintf(sfx, sizeof(sfx), "s%d", i);
        rt_test_name(t, a.names[i], sizeof(a.names[i]), sfx);
    }
    if (mode != NOBODY_CALLS) {
        rt_test_name(t, a.extra, sizeof(a.extra), "late");
    }
    a.f_calls = mode == FORK_CALLS;
    int ein[2], eout[2], fctl[2], go[2];
    make_pipe(ein);
    make_pipe(eout);
    make_pipe(fctl);
    make_pipe(go);
    a.e_in = ein[0];
    a.e_out = eout[1];
    a.f_ctl = fctl[0];
    a.go = go[0];
    int keep[4] = {ein[1], eout[0], fctl[1], go[1]};
    memcpy(a.close_in_host, keep, sizeof(keep));
    int rfd;
    pid_t host = rt_test_fork(t, share_host, &a, &rfd);
    assert_true(host > 0);
    close(ein[0]);
    close(eout[1]);
    close(fctl[0]);
    close(go[0]);
    pid_t forked = (pid_t)want_value(rfd, "forked", 20);
    rt_test_track(t, forked);
    pid_t exec_child = (pid_t)want_value(rfd, "exec", 20);
    rt_test_track(t, exec_child);
    pid_t tracker = (pid_t)want_value(rfd, "tracker", 20);
    rt_test_track(t, tracker);
    for (int i = 0; i < SHARED_N; i++) {
        want_line(eout[0], "map 0 0", 20);
    }
    want_line(eout[0], "wait", 20);
    pid_t guardian = rt_test_guardian_of(tracker, 10);
    assert_true(guardian > 0);
    rt_test_track(t, guardian);

    assert_int_equal(kill(tracker, SIGKILL), 0);
    int st = reap(tracker, 20);
    assert_true(WIFSIGNALED(st));

    char names[SHARED_N + 1][128];
    memcpy(names, a.names, sizeof(a.names));
    int n = SHARED_N;
    pid_t relaunched = -1;
    assert_int_equal(write(ein[1], "g", 1), 1);
    if (mode == EXEC_CALLS) {
        want_line(eout[0], "noreader 0 0", 20);
        want_line(eout[0], "rtshm 0 0", 20);
        relaunched = (pid_t)want_value(eout[0], "pid", 20);
    } else if (mode == FORK_CALLS) {
        assert_int_equal(write(fctl[1], "r", 1), 1);
        char line[256];
        int err = -1;
        long pid = -1;
        assert_true(rt_test_read_line(rfd, line, sizeof(line), 20) >= 0);
        assert_int_equal(sscanf(line, "fmade %d %ld", &err, &pid), 2);
        assert_int_equal(err, 0);
        relaunched = (pid_t)pid;
    }
    want_line(eout[0], "hold", 20);
    if (relaunched > 0) {
        rt_test_track(t, relaunched);
        assert_true(relaunched != tracker);
        snprintf(names[n++], sizeof(names[0]), "%s", a.extra);
    }

    still_there_for(names, n, 0.3);
    if (mode == EXEC_CALLS) {
        /* The exec'ed child ends first: what it made after the death
         * belongs to the run, and stays while the others live. */
        close(ein[1]);
        assert_true(rt_test_wait_until(is_dead, &exec_child, 20));
        still_there_for(names, n, 0.3);
    }
    /* The parent ends, then the forked child: the forked child still holds
     * the run's lock meanwhile. */
    close(go[1]);
    st = reap(host, 20);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    still_there_for(names, n, 0.3);
    close(fctl[1]);
    st = reap(forked, 20);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    if (mode != EXEC_CALLS) {
        /* Only the exec'ed child is left: it holds the run's pipe but not
         * its lock. The guardian has the lock now and must wait for it. */
        still_there_for(names, n, 0.6);
        close(ein[1]);
        st = reap(exec_child, 20);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    close(eout[0]);
    close(rfd);
    struct gone_args g = {t->prefix};
    if (!rt_test_wait_until(prefix_gone, &g, 10)) {
        fail_msg("%d names left; stderr:\n%s", rt_test_count_prefix(t->prefix),
                 rt_test_stderr(t));
    }
    if (relaunched > 0) {
        st = reap(relaunched, 20);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    }
    reap(guardian, 20);
    const char *err = rt_test_stderr(t);
    char head[128];
    snprintf(head, sizeof(head),
             "resource_tracker: There appear to be %d leaked shared_memory "
             "objects to clean up at shutdown: {",
             n);
    const char *line = strstr(err, head);
    const char *eol = line != NULL ? strchr(line, '\n') : NULL;
    int named = eol != NULL;
    for (int i = 0; named && i < n; i++) {
        char quoted[sizeof(names[0]) + 4];
        snprintf(quoted, sizeof(quoted), "'%.127s'", names[i]);
        const char *at = strstr(line, quoted);
        named = at != NULL && at < eol;
    }
    char swept[64];
    snprintf(swept, sizeof(swept), "} (swept: run of tracker %ld started ",
             (long)tracker);
    const char *sw = named ? strstr(line, swept) : NULL;
    if (!named ||
        (mode == NOBODY_CALLS
             /* The guardian swept: CPython's words, the dead run named. */
             ? sw == NULL || sw > eol || rt_test_count(err, ANY_RELAUNCH) != 0
             /* A tracker of the same run did it, at its end, the names of
              * the dead one with its own. */
             : eol[-1] != '}' || rt_test_count(err, OUR_RELAUNCH) != 1 ||
                   rt_test_count(err, "swept") != 0)) {
        fail_msg("unexpected stderr:\n%s", err);
    }
}

static void objects_outlive_tracker_guardian_cleans(void **state)
{
    objects_outlive_tracker(state, NOBODY_CALLS);
}

static void objects_outlive_tracker_exec_child_relaunches(void **state)
{
    objects_outlive_tracker(state, EXEC_CALLS);
}

static void objects_outlive_tracker_forked_child_relaunches(void **state)
{
    objects_outlive_tracker(state, FORK_CALLS);
}

/* ---- 6. CPython with the library loaded sees the death itself ------------ */

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
/* CPython's test_resource_tracker_sigkill, with our tracker as CPython's:
 * the library is loaded in the Python process (ctypes), starts the
 * tracker, and CPython's resource tracker is given its public pipe. Once
 * the tracker is SIGKILLed, CPython's probe must find it dead, and its
 * next registration relaunch a tracker of CPython's with exactly one
 * warning. The segment registered before the death is removed by our
 * guardian once the process is gone. */
static const char py_sigkill[] =
    "import ctypes, gc, multiprocessing, sys, warnings, weakref\n"
    "from multiprocessing import resource_tracker, shared_memory\n"
    "lib = ctypes.CDLL(sys.argv[1], use_errno=True)\n"
    "if lib.rt_ensure_running() != 0:\n"
    "    sys.exit('rt_ensure_running: errno %d' % ctypes.get_errno())\n"
    "rt = resource_tracker._resource_tracker\n"
    "rt._fd = lib.rt_getfd()\n"
    "shm = shared_memory.SharedMemory(create=True, name=sys.argv[2][1:],\n"
    "                                 size=4096)\n"
    "print('tracker', lib.rt_tracker_pid(), flush=True)\n"
    "sys.stdin.readline()\n" PY_WAIT_NO_READER
    "print('alive', rt._check_alive())\n"
    "ctx = multiprocessing.get_context('spawn')\n"
    "with warnings.catch_warnings(record=True) as all_warn:\n"
    "    warnings.simplefilter('always')\n"
    "    sem = ctx.Semaphore()\n"
    "    sem.acquire()\n"
    "    sem.release()\n"
    "    wr = weakref.ref(sem)\n"
    "    del sem\n"
    "    gc.collect()\n"
    "    print('collected', wr() is None)\n"
    "print('warnings', len(all_warn))\n"
    "for w in all_warn:\n"
    "    print('warning', w.category.__name__, w.message)\n"
    "print('cpython', rt._pid, flush=True)\n"
    "shm.close()\n"
    "sys.stdin.read()\n";

#endif

static void cpython_probe_sees_sigkill(void **state)
{
    struct rt_test *t = *state;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    /* A sanitized library cannot be loaded into an unsanitized python3. */
    (void)t;
    skip();
#else
    if (!python_usable()) {
        skip();
    }
    char lib[4096];
    const char *cli = rt_test_cli_path();
    snprintf(lib, sizeof(lib), "%.*slibresourcetracker.so",
             (int)(strrchr(cli, '/') - cli + 1), cli);
    char shm[128];
    rt_test_name(t, shm, sizeof(shm), "py");
    int in[2], out[2];
    make_pipe(in);
    make_pipe(out);
    char *argv[] = {
        (char *)"python3", (char *)"-c", (char *)py_sigkill, lib, shm, NULL};
    posix_spawn_file_actions_t fa;
    rt_test_spawn_stdio(&fa, t, in[0], out[1]);
    pid_t py;
    int r = posix_spawnp(&py, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    assert_int_equal(r, 0);
    rt_test_track(t, py);
    char line[512];
    long tracker = -1;
    if (rt_test_read_line(out[0], line, sizeof(line), PY_SECONDS) < 0 ||
        sscanf(line, "tracker %ld", &tracker) != 1 || tracker <= 0) {
        fail_msg("python said '%s'; stderr:\n%s", line, rt_test_stderr(t));
    }
    rt_test_track(t, (pid_t)tracker);
    pid_t guardian = rt_test_guardian_of((pid_t)tracker, 10);
    assert_true(guardian > 0);
    rt_test_track(t, guardian);
    assert_int_equal(kill((pid_t)tracker, SIGKILL), 0);
    int st = reap((pid_t)tracker, 20);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(write(in[1], "\n", 1), 1);
    want_line(out[0], "alive False", PY_SECONDS);
    want_line(out[0], "collected True", PY_SECONDS);
    want_line(out[0], "warnings 1", PY_SECONDS);
    want_line(out[0],
              "warning UserWarning resource_tracker: process died "
              "unexpectedly, relaunching.  Some resources might leak.",
              PY_SECONDS);
    long cpy = want_value(out[0], "cpython", PY_SECONDS);
    rt_test_track(t, (pid_t)cpy);
    assert_true(cpy > 0 && cpy != tracker);
    /* The segment stays while the process lives. */
    assert_true(rt_test_shm_exists(shm));
    close(in[1]);
    close(out[0]);
    st = reap(py, PY_SECONDS);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    st = reap((pid_t)cpy, PY_SECONDS);
    assert_true(WIFEXITED(st));
    reap(guardian, 20);
    if (rt_test_shm_exists(shm)) {
        fail_msg("%s left; stderr:\n%s", shm, rt_test_stderr(t));
    }
    const char *err = rt_test_stderr(t);
    char want[1024];
    snprintf(want, sizeof(want),
             "resource_tracker: There appear to be 1 leaked shared_memory "
             "objects to clean up at shutdown: {'%s'} (swept: run of tracker "
             "%ld started ",
             shm, tracker);
    if (strstr(err, want) == NULL || rt_test_count(err, "Traceback") != 0) {
        fail_msg("stderr lacks \"%s\":\n%s", want, err);
    }
#endif
}

/* ---- 8. registrations racing with the death ------------------------------ */

#define RACE_POOL 2000
#define RACE_NOISE 60 /* register/unregister pairs after each name */
#define RACE_ROUNDS 8

/* What the host was told, shared with the test (MAP_SHARED before fork):
 * per name, 1 when rt_register returned 0, 2 when it failed. */
struct race_page {
    _Atomic unsigned char told[RACE_POOL];
};

struct race_args {
    const char *prefix;
    struct race_page *page;
};

static int race_host(void *arg, int w)
{
    const struct race_args *a = arg;
    if (rt_ensure_running() < 0) {
        return 90;
    }
    proc_say(w, "tracker %ld", (long)rt_tracker_pid());
    long ok = 0;
    long failed = 0;
    for (int i = 0; i < RACE_POOL; i++) {
        char name[128];
        snprintf(name, sizeof(name), "%s-%d", a->prefix, i);
        int r = rt_register(name, RT_SHARED_MEMORY);
        atomic_store(&a->page->told[i], r == 0 ? 1 : 2);
        ok += r == 0;
        failed += r != 0;
        snprintf(name, sizeof(name), "%s-noise", a->prefix);
        for (int k = 0; k < RACE_NOISE; k++) {
            if (rt_register(name, RT_SHARED_MEMORY) < 0 ||
                rt_unregister(name, RT_SHARED_MEMORY) < 0) {
                failed++;
            }
        }
    }
    proc_say(w, "done %ld %ld %ld", ok, failed, (long)rt_tracker_pid());
    rt_test_hang();
}

/* A host registers in a tight loop while the test SIGKILLs its tracker at
 * a random instant; the host goes on (the next call relaunches). Every
 * name the host was told was registered is removed once the host is
 * killed, and no name it never registered is; over several rounds. */
static void registrations_racing_with_death_are_kept(void **state)
{
    struct rt_test *t = *state;
    struct race_page *page = mmap(NULL, sizeof(*page), PROT_READ | PROT_WRITE,
                                  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(page != MAP_FAILED);
    unsigned seed = (unsigned)getpid() ^ (unsigned)(proc_now() * 1e6);
    print_message("seed %u\n", seed);
    int relaunches = 0;
    for (int round = 0; round < RACE_ROUNDS; round++) {
        char prefix[128];
        char sfx[16];
        snprintf(sfx, sizeof(sfx), "r%d", round);
        rt_test_name(t, prefix, sizeof(prefix), sfx);
        for (int i = 0; i < RACE_POOL; i++) {
            char name[160];
            snprintf(name, sizeof(name), "%s-%d", prefix, i);
            assert_int_equal(rt_test_make_shm(name), 0);
            atomic_store(&page->told[i], 0);
        }
        struct race_args a = {prefix, page};
        int rfd;
        pid_t host = rt_test_fork(t, race_host, &a, &rfd);
        assert_true(host > 0);
        pid_t tracker = (pid_t)want_value(rfd, "tracker", 20);
        rt_test_track(t, tracker);
        pid_t guardian = rt_test_guardian_of(tracker, 10);
        rt_test_track(t, guardian);
        proc_nap_us((long)(rand_r(&seed) % 60000));
        assert_int_equal(kill(tracker, SIGKILL), 0);
        int st = reap(tracker, 20);
        assert_true(WIFSIGNALED(st));
        /* The host must get through the rest: no call blocks. */
        char line[256];
        long ok = -1, failed = -1, last = -1;
        if (rt_test_read_line(rfd, line, sizeof(line), 10) < 0 ||
            sscanf(line, "done %ld %ld %ld", &ok, &failed, &last) != 3) {
            int told = 0;
            for (int i = 0; i < RACE_POOL; i++) {
                told += atomic_load(&page->told[i]) != 0;
            }
            fail_msg("round %d: the host did not finish (%d names done)", round,
                     told);
        }
        close(rfd);
        rt_test_track(t, (pid_t)last);
        assert_int_equal(kill(host, SIGKILL), 0);
        reap(host, 20);
        if (last != tracker) {
            st = reap((pid_t)last, 20);
            assert_true(WIFEXITED(st));
        }
        if (guardian > 0) {
            reap(guardian, 20);
        }
        int kept = 0;
        int lost = 0;
        for (int i = 0; i < RACE_POOL; i++) {
            char name[160];
            snprintf(name, sizeof(name), "%s-%d", prefix, i);
            unsigned char told = atomic_load(&page->told[i]);
            int there = rt_test_shm_exists(name);
            if (told == 1 && there) {
                if (lost++ < 5) {
                    print_error("round %d: %s registered, not removed\n", round,
                                name);
                }
            } else if (told == 0 && !there) {
                fail_msg("round %d: %s removed, never registered", round, name);
            }
            kept += told == 2;
            if (there) {
                shm_unlink(name);
            }
        }
        assert_int_equal(lost, 0);
        print_message("round %d: %ld registered, %ld calls failed, %s\n", round,
                      ok, failed,
                      last != tracker ? "relaunched" : "killed after the loop");
        assert_int_equal(ok, RACE_POOL - kept);
        /* One relaunch per round where the kill came before the end of
         * the loop, said once. */
        relaunches += last != tracker;
        const char *err = rt_test_stderr(t);
        if (rt_test_count(err, OUR_RELAUNCH) != relaunches) {
            fail_msg("round %d: stderr:\n%s", round, err);
        }
    }
    munmap(page, sizeof(*page));
}

/* Paths go through the tracker's control socket, one request and one
 * answer: a tracker killed before it takes a request makes the library
 * send it again to the relaunched one; killed after it took it and before
 * it answered, the call fails with EPIPE (it may have acted on it). */
#define PATH_POOL 2000
#define PATH_KILL_EVERY 200

struct path_page {
    /* Per name: 1 registered (rt_register returned 0, the file made), 2
     * failed with EPIPE (no file made), else 100 + the errno. */
    _Atomic int told[PATH_POOL];
};

struct path_race_args {
    const char *prefix;
    struct path_page *page;
};

static int path_race_host(void *arg, int w)
{
    const struct path_race_args *a = arg;
    if (rt_ensure_running() < 0) {
        return 90;
    }
    for (int i = 0; i < PATH_POOL; i++) {
        if (i % PATH_KILL_EVERY == 0) {
            proc_say(w, "at %d %ld", i, (long)rt_tracker_pid());
        }
        char name[160];
        snprintf(name, sizeof(name), "/tmp%s-p%d", a->prefix, i);
        if (rt_register(name, RT_FILE) == 0) {
            /* As the wrappers do: registered first, then made. */
            int fd = open(name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
            close(fd);
            atomic_store(&a->page->told[i], fd >= 0 ? 1 : 100 + errno);
        } else {
            atomic_store(&a->page->told[i], errno == EPIPE ? 2 : 100 + errno);
        }
    }
    proc_say(w, "done %ld", (long)rt_tracker_pid());
    rt_test_hang();
}

/* A host registers files while the test SIGKILLs its tracker ten times:
 * each call succeeds or fails with EPIPE (no other error), and every file
 * whose registration succeeded is removed once the host is killed. */
static void path_registrations_racing_with_death(void **state)
{
    struct rt_test *t = *state;
    struct path_page *page = mmap(NULL, sizeof(*page), PROT_READ | PROT_WRITE,
                                  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(page != MAP_FAILED);
    struct path_race_args a = {t->prefix, page};
    int rfd;
    pid_t host = rt_test_fork(t, path_race_host, &a, &rfd);
    assert_true(host > 0);
    pid_t guardians[PATH_POOL / PATH_KILL_EVERY];
    int kills = 0;
    long last = -1;
    char line[256];
    for (;;) {
        if (rt_test_read_line(rfd, line, sizeof(line), 20) < 0) {
            fail_msg("%s", "the host did not finish");
        }
        int at;
        long pid;
        if (sscanf(line, "done %ld", &last) == 1) {
            break;
        }
        assert_int_equal(sscanf(line, "at %d %ld", &at, &pid), 2);
        rt_test_track(t, (pid_t)pid);
        pid_t g = rt_test_guardian_of((pid_t)pid, 10);
        rt_test_track(t, g);
        guardians[kills++] = g;
        assert_int_equal(kill((pid_t)pid, SIGKILL), 0);
    }
    close(rfd);
    rt_test_track(t, (pid_t)last);
    assert_int_equal(kill(host, SIGKILL), 0);
    reap(host, 20);
    int st = reap((pid_t)last, 20);
    assert_true(WIFEXITED(st));
    for (int i = 0; i < kills; i++) {
        if (guardians[i] > 0) {
            reap(guardians[i], 20);
        }
    }
    int epipe = 0;
    for (int i = 0; i < PATH_POOL; i++) {
        char name[160];
        snprintf(name, sizeof(name), "/tmp%s-p%d", t->prefix, i);
        struct stat sb;
        int there = lstat(name, &sb) == 0;
        int told = atomic_load(&page->told[i]);
        if (told >= 100) {
            fail_msg("%s: errno %d (%s)", name, told - 100,
                     strerror(told - 100));
        }
        if (there) {
            fail_msg("%s: %s, yet not removed", name,
                     told == 1 ? "registered" : "never made");
        }
        epipe += told == 2;
    }
    print_message("%d kills, %d registrations failed with EPIPE\n", kills,
                  epipe);
    munmap(page, sizeof(*page));
}

/* ---- registrations the tracker never read ----------------------------- */

struct unread_args {
    struct rt_test *t;
    char host_shm[128], child_shm[128];
    int e_in, e_out; /* the exec'ed child's stdin and stdout */
    int go;          /* a byte: make the segment; end-of-file: exit */
    int close_in_host[3];
};

static int unread_host(void *arg, int w)
{
    struct unread_args *a = arg;
    for (int i = 0; i < 3; i++) {
        close(a->close_in_host[i]);
    }
    if (rt_ensure_running() < 0) {
        return 90;
    }
    const char *const eargs[] = {rt_test_child_path(), "ensure", "wait", "shm",
                                 a->child_shm,         "hold",   NULL};
    pid_t e = spawn_sharing(eargs, 0, a->e_in, a->e_out, a->t->errpath);
    close(a->e_in);
    close(a->e_out);
    if (e < 0) {
        return 91;
    }
    proc_say(w, "exec %ld", (long)e);
    proc_say(w, "tracker %ld", (long)rt_tracker_pid());
    char c;
    if (read(a->go, &c, 1) != 1) {
        return 92;
    }
    proc_say(w, "made %d", make_mapped(a->host_shm) != NULL ? 0 : errno);
    while (read(a->go, &c, 1) != 0) {
    }
    int st;
    (void)proc_wait_exact(e, proc_now() + proc_scaled(20), &st);
    return 0;
}

/* Registrations written to both pipes while the tracker could not read them
 * (it is stopped), then the tracker SIGKILLed: they were sent before the
 * death, so they must not be lost. Nobody calls the library again; once
 * the run is over, the guardian removes both segments. */
static void unread_registrations_survive_the_death(void **state)
{
    struct rt_test *t = *state;
    struct unread_args a;
    memset(&a, 0, sizeof(a));
    a.t = t;
    rt_test_name(t, a.host_shm, sizeof(a.host_shm), "host");
    rt_test_name(t, a.child_shm, sizeof(a.child_shm), "child");
    int ein[2], eout[2], go[2];
    make_pipe(ein);
    make_pipe(eout);
    make_pipe(go);
    a.e_in = ein[0];
    a.e_out = eout[1];
    a.go = go[0];
    int keep[3] = {ein[1], eout[0], go[1]};
    memcpy(a.close_in_host, keep, sizeof(keep));
    int rfd;
    pid_t host = rt_test_fork(t, unread_host, &a, &rfd);
    assert_true(host > 0);
    close(ein[0]);
    close(eout[1]);
    close(go[0]);
    pid_t e = (pid_t)want_value(rfd, "exec", 20);
    rt_test_track(t, e);
    pid_t tracker = (pid_t)want_value(rfd, "tracker", 20);
    rt_test_track(t, tracker);
    pid_t guardian = rt_test_guardian_of(tracker, 10);
    assert_true(guardian > 0);
    rt_test_track(t, guardian);
    want_line(eout[0], "ensure 0 0", 20);
    want_line(eout[0], "wait", 20);

    /* The tracker stops reading; both register. */
    assert_int_equal(kill(tracker, SIGSTOP), 0);
    assert_int_equal(write(go[1], "g", 1), 1);
    want_line(rfd, "made 0", 20);
    assert_int_equal(write(ein[1], "g", 1), 1);
    want_line(eout[0], "shm 0 0", 20);
    want_line(eout[0], "hold", 20);
    assert_int_equal(kill(tracker, SIGKILL), 0);
    int st = reap(tracker, 20);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);

    char names[2][128];
    snprintf(names[0], sizeof(names[0]), "%s", a.host_shm);
    snprintf(names[1], sizeof(names[1]), "%s", a.child_shm);
    still_there_for(names, 2, 0.3);
    close(ein[1]);
    close(eout[0]);
    close(go[1]);
    st = reap(host, 20);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(rfd);
    reap(guardian, 20);
    struct gone_args g = {t->prefix};
    if (!rt_test_wait_until(prefix_gone, &g, 10)) {
        fail_msg("%d names left; stderr:\n%s", rt_test_count_prefix(t->prefix),
                 rt_test_stderr(t));
    }
    char want[512];
    snprintf(want, sizeof(want),
             "resource_tracker: There appear to be 2 leaked shared_memory "
             "objects to clean up at shutdown: {'%s', '%s'} (swept: run of "
             "tracker %ld started ",
             a.host_shm, a.child_shm, (long)tracker);
    const char *err = rt_test_stderr(t);
    char other[512];
    snprintf(other, sizeof(other),
             "resource_tracker: There appear to be 2 leaked shared_memory "
             "objects to clean up at shutdown: {'%s', '%s'} (swept: run of "
             "tracker %ld started ",
             a.child_shm, a.host_shm, (long)tracker);
    if (strstr(err, want) == NULL && strstr(err, other) == NULL) {
        fail_msg("stderr:\n%s", err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        RT_TEST(adopted_children_register_after_death),
        RT_TEST(objects_outlive_tracker_guardian_cleans),
        RT_TEST(objects_outlive_tracker_exec_child_relaunches),
        RT_TEST(objects_outlive_tracker_forked_child_relaunches),
        RT_TEST(cpython_probe_sees_sigkill),
        RT_TEST(registrations_racing_with_death_are_kept),
        RT_TEST(path_registrations_racing_with_death),
        RT_TEST(unread_registrations_survive_the_death),
    };
    return RT_RUN(tests);
}
