/* SPDX-License-Identifier: MIT */
/* Signals: the tracker ignores SIGINT, SIGTERM, SIGHUP and SIGPIPE; after a
 * SIGKILL the next call relaunches it with a warning; and no SIGPIPE ever
 * reaches the host. */
#define _GNU_SOURCE
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "resourcetracker.h"

/* With a journal (each test has a state directory), the new tracker takes
 * over what the dead one held, and says so. */
#define RELAUNCH_WARNING                                                       \
    "resource_tracker: process died unexpectedly, relaunching.  The new "      \
    "tracker took over what it held.\n"

struct host_args {
    int go_fd;        /* the host waits for a byte here before going on */
    const char *name; /* shared memory created and registered afterwards */
    int use_register; /* after the wait, rt_register directly (no ensure) */
    int threads;      /* > 0: that many threads register after the wait */
};

static void wait_go(int fd)
{
    char c;
    while (read(fd, &c, 1) < 0 && errno == EINTR) {
    }
}

struct reg_job {
    const char *prefix;
    int index;
    int result;
};

static void *register_one(void *arg)
{
    struct reg_job *j = arg;
    char name[128];
    snprintf(name, sizeof(name), "%s-t%d", j->prefix, j->index);
    j->result =
        rt_test_make_shm(name) == 0 && rt_register(name, RT_SHARED_MEMORY) == 0
            ? 0
            : -1;
    return NULL;
}

/* Host: reports its tracker's pid, waits for the test (which signals the
 * tracker meanwhile), then uses the library again and reports the pid. The
 * host keeps SIGPIPE at its default action: a SIGPIPE would kill it. */
static int host(void *arg, int w)
{
    const struct host_args *a = arg;
    signal(SIGPIPE, SIG_DFL);
    if (rt_ensure_running() < 0) {
        return 90;
    }
    proc_say(w, "pid %ld", (long)rt_tracker_pid());
    wait_go(a->go_fd);
    if (a->threads > 0) {
        pthread_t th[16];
        struct reg_job jobs[16];
        for (int i = 0; i < a->threads; i++) {
            jobs[i] = (struct reg_job){a->name, i, -1};
            pthread_create(&th[i], NULL, register_one, &jobs[i]);
        }
        for (int i = 0; i < a->threads; i++) {
            pthread_join(th[i], NULL);
            if (jobs[i].result != 0) {
                return 93;
            }
        }
    } else {
        if (!a->use_register && rt_ensure_running() < 0) {
            return 91;
        }
        if (rt_test_make_shm(a->name) < 0 ||
            rt_register(a->name, RT_SHARED_MEMORY) < 0) {
            return 92;
        }
    }
    sigset_t pending;
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE)) {
        return 94;
    }
    proc_say(w, "pid %ld", (long)rt_tracker_pid());
    return 0;
}

struct outcome {
    long before, after;
    int tracker_status;
};

static struct outcome run(struct rt_test *t, struct host_args *a, int sig)
{
    int go[2];
    assert_int_equal(pipe(go), 0);
    a->go_fd = go[0];
    int rfd;
    pid_t pid = rt_test_fork(t, host, a, &rfd);
    close(go[0]);
    struct outcome o = {0, 0, -1};
    o.before = rt_test_read_value(rfd, "pid", 20);
    assert_true(o.before > 0);
    rt_test_track(t, (pid_t)o.before);
    assert_int_equal(kill((pid_t)o.before, sig), 0);
    if (sig == SIGKILL) {
        /* It is our child (we are the subreaper): wait for it to be gone. */
        int st = rt_test_wait_pid((pid_t)o.before, 20);
        assert_true(st != -1 && WIFSIGNALED(st));
    }
    assert_int_equal(write(go[1], "g", 1), 1);
    close(go[1]);
    o.after = rt_test_read_value(rfd, "pid", 20);
    close(rfd);
    int st = rt_test_wait_pid(pid, 20);
    assert_true(st != -1 && WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_true(o.after > 0);
    rt_test_track(t, (pid_t)o.after);
    st = rt_test_wait_pid((pid_t)o.after, 20);
    assert_true(st != -1 && WIFEXITED(st));
    o.tracker_status = WEXITSTATUS(st);
    return o;
}

/* bpo-31310 scenarios: a catchable signal does not stop the tracker. The
 * proof that it kept working is that it cleans up what the host registers
 * after the signal, with no relaunch. */
static void ignored(void **state, int sig)
{
    struct rt_test *t = *state;
    char name[128];
    struct host_args a = {.name = rt_test_name(t, name, sizeof(name), "x")};
    struct outcome o = run(t, &a, sig);
    assert_int_equal(o.after, o.before);
    assert_int_equal(o.tracker_status, 1);
    assert_false(rt_test_shm_exists(name));
    assert_null(strstr(rt_test_stderr(t), "process died"));
}

static void sigint_is_ignored(void **state)
{
    ignored(state, SIGINT);
}

static void sigterm_is_ignored(void **state)
{
    ignored(state, SIGTERM);
}

static void sighup_is_ignored(void **state)
{
    ignored(state, SIGHUP);
}

static void sigpipe_is_ignored(void **state)
{
    ignored(state, SIGPIPE);
}

/* "Only SIGKILL (or a crash) stops it early": the other signals whose
 * default action ends a process do not either. */
static void other_terminating_signals_are_ignored(void **state)
{
    static const int sigs[] = {SIGQUIT, SIGUSR1, SIGUSR2,  SIGALRM,
                               SIGXCPU, SIGPROF, SIGVTALRM};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        struct rt_test *t = *state;
        ignored(state, sigs[i]);
        /* Each round's report goes to the same capture: start afresh. */
        FILE *f = fopen(t->errpath, "w");
        if (f != NULL) {
            fclose(f);
        }
    }
    ignored(state, SIGRTMIN + 3);
}

/* SIGKILL: rt_ensure_running starts a new tracker, warns exactly once, and
 * the new tracker does the cleanup. */
static void sigkill_relaunches_with_warning(void **state)
{
    struct rt_test *t = *state;
    char name[128];
    struct host_args a = {.name = rt_test_name(t, name, sizeof(name), "x")};
    struct outcome o = run(t, &a, SIGKILL);
    assert_int_not_equal(o.after, o.before);
    assert_int_equal(o.tracker_status, 1);
    assert_false(rt_test_shm_exists(name));
    const char *err = rt_test_stderr(t);
    assert_int_equal(rt_test_count(err, RELAUNCH_WARNING), 1);
    assert_int_equal(strncmp(err, RELAUNCH_WARNING, strlen(RELAUNCH_WARNING)),
                     0);
}

/* The same through rt_register alone: its write finds the pipe broken,
 * which raises no SIGPIPE in the host (default action: it would die), and
 * the message goes to the relaunched tracker. */
static void register_after_sigkill_relaunches_without_sigpipe(void **state)
{
    struct rt_test *t = *state;
    char name[128];
    struct host_args a = {.name = rt_test_name(t, name, sizeof(name), "x"),
                          .use_register = 1};
    struct outcome o = run(t, &a, SIGKILL);
    assert_int_not_equal(o.after, o.before);
    assert_int_equal(o.tracker_status, 1);
    assert_false(rt_test_shm_exists(name));
    assert_int_equal(rt_test_count(rt_test_stderr(t), RELAUNCH_WARNING), 1);
}

/* Eight threads find the tracker dead at once: one relaunch, one warning,
 * and every registration reaches the new tracker. */
static void concurrent_relaunch_happens_once(void **state)
{
    if (rt_test_valgrind()) {
        /* valgrind turns the launcher's vfork-style clone into a fork, and
         * such a fork of a multithreaded process can hang inside valgrind
         * itself (its other threads' state comes along). */
        skip();
    }
    struct rt_test *t = *state;
    struct host_args a = {.name = t->prefix, .threads = 8};
    struct outcome o = run(t, &a, SIGKILL);
    assert_int_not_equal(o.after, o.before);
    assert_int_equal(o.tracker_status, 1);
    assert_int_equal(rt_test_count_prefix(t->prefix), 0);
    const char *err = rt_test_stderr(t);
    assert_int_equal(rt_test_count(err, RELAUNCH_WARNING), 1);
    assert_non_null(strstr(err, "There appear to be 8 leaked shared_memory"));
}

/* The relaunch warning is printed once, when the new tracker runs: not for
 * the calls that failed before (out of descriptors here), which report
 * their failure through errno alone. */
static int relaunch_fails_host(void *arg, int w)
{
    (void)arg;
    RT_CHECK(w, rt_ensure_running(), 0, 0);
    pid_t tracker = rt_tracker_pid();
    RT_CHECK(w, kill(tracker, SIGKILL), 0, 0);
    for (int i = 0; i < 5000 && rt_test_alive(tracker); i++) {
        usleep(1000);
    }
    struct rlimit rl = {64, 64};
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
        return 91;
    }
    int fds[64];
    int n = 0;
    for (int fd; n < 64 && (fd = open("/dev/null", O_RDONLY)) >= 0;) {
        fds[n++] = fd;
    }
    for (int i = 0; i < 3; i++) {
        RT_CHECK(w, rt_register("/rt-signals-unused", RT_SHARED_MEMORY), -1,
                 EMFILE);
    }
    while (n > 0) {
        close(fds[--n]);
    }
    RT_CHECK(w, rt_register("/rt-signals-unused", RT_SHARED_MEMORY), 0, 0);
    RT_CHECK(w, rt_unregister("/rt-signals-unused", RT_SHARED_MEMORY), 0, 0);
    RT_CHECK_EQ(w, rt_tracker_pid() != tracker, 1);
    return rt_test_failures;
}

static void relaunch_warning_only_once_it_succeeds(void **state)
{
    if (rt_test_valgrind()) {
        skip(); /* valgrind keeps its own descriptors under the limit */
    }
    struct rt_test *t = *state;
    rt_test_run_host(t, relaunch_fails_host, NULL, 30);
    assert_int_equal(rt_test_count(rt_test_stderr(t), RELAUNCH_WARNING), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        RT_TEST(sigint_is_ignored),
        RT_TEST(sigterm_is_ignored),
        RT_TEST(sighup_is_ignored),
        RT_TEST(sigpipe_is_ignored),
        RT_TEST(other_terminating_signals_are_ignored),
        RT_TEST(sigkill_relaunches_with_warning),
        RT_TEST(register_after_sigkill_relaunches_without_sigpipe),
        RT_TEST(concurrent_relaunch_happens_once),
        RT_TEST(relaunch_warning_only_once_it_succeeds),
    };
    return RT_RUN(tests);
}
