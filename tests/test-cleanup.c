/* SPDX-License-Identifier: MIT */
/* What the tracker cleans up, reports and returns when its program dies:
 * CPython's TestResourceTracker scenarios for both types, and more. */
#define _GNU_SOURCE
#include "util.h"

#include <errno.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "resourcetracker.h"

struct scenario {
    const char *rtype;
    const char *names[48];
    int count;
    int unregister; /* unregister (after unlinking) the first name */
    int stay;       /* wait for the test to kill us instead of exiting */
};

static int make(const char *rtype, const char *name)
{
    return strcmp(rtype, RT_SEMAPHORE) == 0 ? rt_test_make_sem(name)
                                            : rt_test_make_shm(name);
}

static int unlink_it(const char *rtype, const char *name)
{
    return strcmp(rtype, RT_SEMAPHORE) == 0 ? sem_unlink(name)
                                            : shm_unlink(name);
}

static int exists(const char *rtype, const char *name)
{
    return strcmp(rtype, RT_SEMAPHORE) == 0 ? rt_test_sem_exists(name)
                                            : rt_test_shm_exists(name);
}

/* Host: starts the tracker, creates and registers the names, reports the
 * tracker's pid, then either exits or waits to be killed. */
static int host(void *arg, int w)
{
    const struct scenario *s = arg;
    if (rt_ensure_running() < 0) {
        return 90;
    }
    for (int i = 0; i < s->count; i++) {
        if (make(s->rtype, s->names[i]) < 0 ||
            rt_register(s->names[i], s->rtype) < 0) {
            return 91;
        }
    }
    if (s->unregister && (unlink_it(s->rtype, s->names[0]) < 0 ||
                          rt_unregister(s->names[0], s->rtype) < 0)) {
        return 92;
    }
    proc_say(w, "pid %ld", (long)rt_tracker_pid());
    if (s->stay) {
        rt_test_hang();
    }
    return 0;
}

/* Runs the scenario; returns the tracker's exit status. SIG > 0 kills the
 * host with it once everything is registered; BEFORE_KILL runs first. */
static int run(struct rt_test *t, struct scenario *s, int sig,
               void (*before_kill)(struct scenario *))
{
    s->stay = sig > 0;
    int rfd;
    pid_t pid = rt_test_fork(t, host, s, &rfd);
    assert_true(pid > 0);
    long tracker = rt_test_read_value(rfd, "pid", 20);
    close(rfd);
    assert_true(tracker > 0);
    rt_test_track(t, (pid_t)tracker);
    if (before_kill != NULL) {
        before_kill(s);
    }
    if (sig > 0) {
        kill(pid, sig);
    }
    int st = rt_test_wait_pid(pid, 20);
    assert_int_not_equal(st, -1);
    if (sig > 0) {
        assert_true(WIFSIGNALED(st));
        assert_int_equal(WTERMSIG(st), sig);
    } else {
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    /* The test process is a subreaper: the orphaned tracker is our child
     * now, so its exit status can be read. */
    st = rt_test_wait_pid((pid_t)tracker, 20);
    assert_true(st != -1 && WIFEXITED(st));
    return WEXITSTATUS(st);
}

static void unlink_first(struct scenario *s)
{
    /* The test removes name 1 itself: the tracker's unlink of it fails. */
    assert_int_equal(unlink_it(s->rtype, s->names[0]), 0);
}

/* CPython's test_resource_tracker: two resources, the first unlinked
 * behind the tracker's back, the host killed. */
static void seed_scenario(void **state, const char *rtype, int sig)
{
    struct rt_test *t = *state;
    char n1[128];
    char n2[128];
    struct scenario s = {.rtype = rtype,
                         .names = {rt_test_name(t, n1, sizeof(n1), "1"),
                                   rt_test_name(t, n2, sizeof(n2), "2")},
                         .count = 2};
    int status = run(t, &s, sig, unlink_first);
    assert_false(exists(rtype, n2));
    char want[512];
    const char *err = rt_test_stderr(t);
    snprintf(want, sizeof(want),
             "resource_tracker: There appear to be 2 leaked %s objects to "
             "clean up at shutdown: {'%s', '%s'}\n",
             rtype, n1, n2);
    assert_non_null(strstr(err, want));
    snprintf(want, sizeof(want), "resource_tracker: '%s': [Errno %d] %s\n", n1,
             ENOENT, strerror(ENOENT));
    assert_non_null(strstr(err, want));
    assert_int_equal(rt_test_count(err, "resource_tracker:"), 2);
    assert_int_equal(status, 2); /* a cleanup failed */
}

static void semaphore_leaks_after_sigterm(void **state)
{
    seed_scenario(state, RT_SEMAPHORE, SIGTERM);
}

static void semaphore_leaks_after_sigkill(void **state)
{
    seed_scenario(state, RT_SEMAPHORE, SIGKILL);
}

static void shared_memory_leaks_after_sigterm(void **state)
{
    seed_scenario(state, RT_SHARED_MEMORY, SIGTERM);
}

static void shared_memory_leaks_after_sigkill(void **state)
{
    seed_scenario(state, RT_SHARED_MEMORY, SIGKILL);
}

/* test_shared_memory_cleaned_after_process_termination, and exit status 1:
 * leaks cleaned, nothing failed. */
static void leaks_are_cleaned_and_reported(void **state)
{
    struct rt_test *t = *state;
    char a[128];
    char b[128];
    struct scenario s = {.rtype = RT_SHARED_MEMORY,
                         .names = {rt_test_name(t, a, sizeof(a), "a"),
                                   rt_test_name(t, b, sizeof(b), "b")},
                         .count = 2};
    assert_int_equal(run(t, &s, SIGKILL, NULL), 1);
    assert_false(rt_test_shm_exists(a));
    assert_false(rt_test_shm_exists(b));
    char want[512];
    snprintf(want, sizeof(want),
             "resource_tracker: There appear to be 2 leaked shared_memory "
             "objects to clean up at shutdown: {'%s', '%s'}\n",
             a, b);
    assert_string_equal(rt_test_stderr(t), want);
}

/* A program that unregisters what it unlinked leaves a silent tracker with
 * exit status 0, also when it exits normally. */
static void clean_program_leaves_no_report(void **state)
{
    struct rt_test *t = *state;
    char a[128];
    struct scenario s = {.rtype = RT_SEMAPHORE,
                         .names = {rt_test_name(t, a, sizeof(a), "a")},
                         .count = 1,
                         .unregister = 1};
    assert_int_equal(run(t, &s, 0, NULL), 0);
    assert_string_equal(rt_test_stderr(t), "");
}

/* Names holding ':', a newline, non-ASCII and non-UTF-8 bytes travel end to
 * end, are cleaned up, and are quoted as Python's repr() does, each warning
 * on one line. */
static void unusual_names_end_to_end(void **state)
{
    struct rt_test *t = *state;
    char n[4][128];
    struct scenario s = {.rtype = RT_SHARED_MEMORY,
                         .names = {rt_test_name(t, n[0], 128, "a:b:"),
                                   rt_test_name(t, n[1], 128, "new\nline"),
                                   rt_test_name(t, n[2], 128, "caf\xc3\xa9"),
                                   rt_test_name(t, n[3], 128, "\xff'")},
                         .count = 4};
    assert_int_equal(run(t, &s, SIGKILL, NULL), 1);
    for (int i = 0; i < 4; i++) {
        assert_false(rt_test_shm_exists(n[i]));
    }
    char want[1024];
    snprintf(want, sizeof(want),
             "resource_tracker: There appear to be 4 leaked shared_memory "
             "objects to clean up at shutdown: {'%s-a:b:', '%s-new\\nline', "
             "'%s-caf\xc3\xa9', \"%s-\\udcff'\"}\n",
             t->prefix, t->prefix, t->prefix, t->prefix);
    assert_string_equal(rt_test_stderr(t), want);
}

/* The leak line lists the first 32 names, then ", ...". */
static void leak_list_is_cut_after_32(void **state)
{
    struct rt_test *t = *state;
    static char names[40][128];
    struct scenario s = {.rtype = RT_SHARED_MEMORY, .count = 40};
    for (int i = 0; i < 40; i++) {
        char suffix[16];
        snprintf(suffix, sizeof(suffix), "%02d", i);
        s.names[i] = rt_test_name(t, names[i], sizeof(names[i]), suffix);
    }
    assert_int_equal(run(t, &s, SIGKILL, NULL), 1);
    assert_int_equal(rt_test_count_prefix(t->prefix), 0);
    const char *err = rt_test_stderr(t);
    assert_non_null(strstr(err, "There appear to be 40 leaked shared_memory"));
    assert_int_equal(rt_test_count(err, t->prefix), 32);
    char tail[256];
    snprintf(tail, sizeof(tail), "'%s', ...}\n", names[31]);
    assert_non_null(strstr(err, tail));
}

static int register_twice(void *arg, int w)
{
    const char *name = arg;
    if (rt_test_make_shm(name) < 0 || rt_register(name, RT_SHARED_MEMORY) < 0 ||
        rt_register(name, RT_SHARED_MEMORY) < 0) {
        return 1;
    }
    proc_say(w, "pid %ld", (long)rt_tracker_pid());
    return 0;
}

/* Registrations are a set: twice is once. */
static void double_registration_counts_once(void **state)
{
    struct rt_test *t = *state;
    char a[128];
    int rfd;
    pid_t pid = rt_test_fork(t, register_twice,
                             (void *)rt_test_name(t, a, sizeof(a), "x"), &rfd);
    long tracker = rt_test_read_value(rfd, "pid", 20);
    close(rfd);
    assert_true(tracker > 0);
    assert_int_not_equal(rt_test_wait_pid(pid, 20), -1);
    int st = rt_test_wait_pid((pid_t)tracker, 20);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 1);
    assert_non_null(strstr(rt_test_stderr(t), "There appear to be 1 leaked"));
    assert_false(rt_test_shm_exists(a));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        RT_TEST(semaphore_leaks_after_sigterm),
        RT_TEST(semaphore_leaks_after_sigkill),
        RT_TEST(shared_memory_leaks_after_sigterm),
        RT_TEST(shared_memory_leaks_after_sigkill),
        RT_TEST(leaks_are_cleaned_and_reported),
        RT_TEST(clean_program_leaves_no_report),
        RT_TEST(unusual_names_end_to_end),
        RT_TEST(leak_list_is_cut_after_32),
        RT_TEST(double_registration_counts_once),
    };
    return RT_RUN(tests);
}
