/* SPDX-License-Identifier: MIT */
/* fork(): a child shares its parent's tracker with no call; cleanup waits
 * for the last forked descendant; a fork while another thread starts the
 * tracker leaves the child with no held lock. */
#define _GNU_SOURCE
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "resourcetracker.h"

static int same_pipe(int a, int b)
{
    struct stat sa;
    struct stat sb;
    return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* CPython's test_resource_tracker_reused: the child sees the same tracker
 * and rt_ensure_running starts nothing there. */
static int reuse_host(void *arg, int w)
{
    const char *name = arg;
    if (rt_ensure_running() < 0) {
        return 90;
    }
    pid_t tracker = rt_tracker_pid();
    int fd = rt_getfd();
    proc_say(w, "pid %ld", (long)tracker);
    pid_t child = fork();
    if (child == 0) {
        int ok = rt_tracker_pid() == tracker && rt_ensure_running() == 0 &&
                 rt_tracker_pid() == tracker && rt_getfd() == fd &&
                 rt_test_make_shm(name) == 0 &&
                 rt_register(name, RT_SHARED_MEMORY) == 0;
        _exit(ok ? 0 : 1);
    }
    int st;
    if (waitpid(child, &st, 0) != child || !WIFEXITED(st) ||
        WEXITSTATUS(st) != 0) {
        return 91;
    }
    /* The tracker still runs (we hold it) and is the same one. */
    if (rt_ensure_running() < 0 || rt_tracker_pid() != tracker ||
        !same_pipe(fd, rt_getfd())) {
        return 92;
    }
    return 0;
}

static void forked_child_reuses_tracker(void **state)
{
    struct rt_test *t = *state;
    char name[128];
    int rfd;
    pid_t pid = rt_test_fork(
        t, reuse_host, (void *)rt_test_name(t, name, sizeof(name), "c"), &rfd);
    long tracker = rt_test_read_value(rfd, "pid", 20);
    close(rfd);
    assert_true(tracker > 0);
    rt_test_track(t, (pid_t)tracker);
    int st = rt_test_wait_pid(pid, 20);
    assert_true(st != -1 && WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    /* The child's registration reached the shared tracker. */
    st = rt_test_wait_pid((pid_t)tracker, 20);
    assert_true(st != -1 && WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 1);
    assert_false(rt_test_shm_exists(name));
    assert_non_null(strstr(rt_test_stderr(t), "1 leaked shared_memory"));
}

struct last_args {
    const char *name;
    int hold_fd;  /* the grandchild exits when this reaches EOF */
    int other_fd; /* the write end, closed in the host */
};

/* The host registers, forks a child that holds on, and is SIGKILLed. */
static int last_host(void *arg, int w)
{
    const struct last_args *a = arg;
    close(a->other_fd);
    if (rt_test_make_shm(a->name) < 0 ||
        rt_register(a->name, RT_SHARED_MEMORY) < 0) {
        return 90;
    }
    pid_t child = fork();
    if (child == 0) {
        char c;
        while (read(a->hold_fd, &c, 1) < 0 && errno == EINTR) {
        }
        _exit(0);
    }
    proc_say(w, "pid %ld", (long)rt_tracker_pid());
    proc_say(w, "child %ld", (long)child);
    rt_test_hang();
}

static int name_gone(void *arg)
{
    const struct last_args *a = arg;
    return !rt_test_shm_exists(a->name);
}

static void cleanup_waits_for_last_descendant(void **state)
{
    struct rt_test *t = *state;
    char name[128];
    int hold[2];
    assert_int_equal(pipe(hold), 0);
    struct last_args a = {rt_test_name(t, name, sizeof(name), "x"), hold[0],
                          hold[1]};
    int rfd;
    pid_t pid = rt_test_fork(t, last_host, &a, &rfd);
    close(hold[0]);
    long tracker = rt_test_read_value(rfd, "pid", 20);
    long child = rt_test_read_value(rfd, "child", 20);
    close(rfd);
    assert_true(tracker > 0 && child > 0);
    rt_test_track(t, (pid_t)tracker);
    rt_test_track(t, (pid_t)child);
    kill(pid, SIGKILL);
    assert_int_not_equal(rt_test_wait_pid(pid, 20), -1);
    /* The host is gone but its child holds the pipe: for a while (a window
     * that would see a premature cleanup), nothing may be unlinked. */
    assert_false(rt_test_wait_until(name_gone, &a, 0.3));
    assert_true(rt_test_alive((pid_t)tracker));
    close(hold[1]); /* the child exits */
    int st = rt_test_wait_pid((pid_t)tracker, 20);
    assert_true(st != -1 && WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 1);
    assert_false(rt_test_shm_exists(name));
}

/* One thread restarts the tracker over and over (killing it each time, so
 * that every call goes through the locked start path) while the main thread
 * forks; every child must be able to use the library at once. A child may
 * give up with EAGAIN: for 5 s every tracker it tried to start or join on
 * the shared pipes was killed first (seen on a loaded machine); that is an
 * answer, not a deadlock. Most children must get a tracker. */
static atomic_int stop;

static void *restarter(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        if (rt_ensure_running() == 0) {
            pid_t p = rt_tracker_pid();
            if (p > 0) {
                kill(p, SIGKILL);
            }
        }
    }
    return NULL;
}

static int fork_storm(void *arg, int w)
{
    (void)arg;
    (void)w;
    pthread_t th;
    if (pthread_create(&th, NULL, restarter, NULL) != 0) {
        return 90;
    }
    int failures = 0;
    int gave_up = 0;
    int n = rt_test_valgrind() ? 20 : 200;
    for (int i = 0; i < n; i++) {
        pid_t c = fork();
        if (c == 0) {
            /* A child that inherited a held lock would hang here. */
            alarm(10);
            if (rt_ensure_running() < 0) {
                _exit(errno > 0 && errno < 100 ? 100 + errno : 99);
            }
            _exit(rt_tracker_pid() > 0 ? 0 : 1);
        }
        int st = 0;
        int got = c > 0 && waitpid(c, &st, 0) == c;
        if (got && WIFEXITED(st) && WEXITSTATUS(st) == 100 + EAGAIN) {
            gave_up++;
        } else if (!got || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            failures++;
            /* What went wrong, for the test's stderr. */
            fprintf(stderr, "fork storm: child %d: %s %d\n", i,
                    !got              ? "fork or wait failed"
                    : WIFSIGNALED(st) ? "killed by signal"
                                      : "exit status",
                    !got              ? errno
                    : WIFSIGNALED(st) ? WTERMSIG(st)
                                      : WEXITSTATUS(st));
        }
    }
    atomic_store(&stop, 1);
    pthread_join(th, NULL);
    if (gave_up > n / 10) {
        fprintf(stderr, "fork storm: %d of %d children gave up (EAGAIN)\n",
                gave_up, n);
        failures += gave_up;
    }
    return failures;
}

static void fork_during_start_does_not_deadlock(void **state)
{
    if (rt_test_valgrind()) {
        /* valgrind turns the launcher's vfork-style clone into a fork, and
         * such a fork of a multithreaded process can hang inside valgrind
         * itself (its other threads' state comes along). */
        skip();
    }
    struct rt_test *t = *state;
    int rfd;
    pid_t pid = rt_test_fork(t, fork_storm, NULL, &rfd);
    close(rfd);
    int st = rt_test_wait_pid(pid, 120);
    assert_true(st != -1 && WIFEXITED(st));
    if (WEXITSTATUS(st) != 0) {
        const char *why = strstr(rt_test_stderr(t), "fork storm:");
        fail_msg("%d children failed: %.200s", WEXITSTATUS(st),
                 why != NULL ? why : "-");
    }
}

/* Threads cancelled in the middle of a call (while a tracker is being
 * started) must not leave the library's lock held. */
static void *start_and_kill(void *arg)
{
    (void)arg;
    for (;;) {
        if (rt_ensure_running() == 0) {
            pid_t p = rt_tracker_pid();
            if (p > 0) {
                kill(p, SIGKILL);
            }
        }
        /* The library's own cancellation points (inside a start) are where
         * the test hopes to land; this one ends the loop otherwise. */
        pthread_testcancel();
    }
    return NULL;
}

static int cancel_host(void *arg, int w)
{
    (void)arg;
    /* A held lock would hang the next call: the alarm turns that into a
     * failure. */
    alarm((unsigned)proc_scaled(30));
    for (int i = 0; i < (rt_test_valgrind() ? 10 : 100); i++) {
        pthread_t th;
        if (pthread_create(&th, NULL, start_and_kill, NULL) != 0) {
            return 90;
        }
        struct timespec ts = {0, (i % 10) * 100 * 1000};
        nanosleep(&ts, NULL);
        pthread_cancel(th);
        pthread_join(th, NULL);
    }
    RT_CHECK_EQ(w, rt_tracker_pid() != 0, 1);
    RT_CHECK(w, rt_ensure_running(), 0, 0);
    RT_CHECK(w, rt_register("/rt-fork-unused", RT_SHARED_MEMORY), 0, 0);
    RT_CHECK(w, rt_unregister("/rt-fork-unused", RT_SHARED_MEMORY), 0, 0);
    return rt_test_failures;
}

static void cancelled_threads_leave_no_lock_held(void **state)
{
    if (rt_test_valgrind()) {
        /* valgrind turns the launcher's vfork-style clone into a fork, and
         * such a fork of a multithreaded process can hang inside valgrind
         * itself (its other threads' state comes along). */
        skip();
    }
    rt_test_run_host(*state, cancel_host, NULL, 60);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        RT_TEST(forked_child_reuses_tracker),
        RT_TEST(cleanup_waits_for_last_descendant),
        RT_TEST(fork_during_start_does_not_deadlock),
        RT_TEST(cancelled_threads_leave_no_lock_held),
    };
    return RT_RUN(tests);
}
