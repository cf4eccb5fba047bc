/* SPDX-License-Identifier: MIT */
/* Threads and processes writing at once: no message is lost and none is
 * interleaved with another (each is one write of at most PIPE_BUF). */
#define _GNU_SOURCE
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "resourcetracker.h"

#define THREADS 8
#define PROCESSES 4
#define ROUNDS 1500 /* register+unregister pairs per writer */
#define KEPT 5      /* real segments each writer leaves registered */

struct writer {
    const char *prefix;
    int id;
    int failures;
};

/* Long names, half of them with a newline (JSON form), so that two
 * interleaved writes would surely garble a line. */
static void fake_name(char *buf, size_t len, const struct writer *wr, int i)
{
    char pad[301];
    memset(pad, 'a' + wr->id % 26, sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    snprintf(buf, len, "/rt-concurrency-%d-%d%s-%s", wr->id, i,
             i % 2 ? "\n" : "", pad);
}

static void *write_many(void *arg)
{
    struct writer *wr = arg;
    char name[512];
    for (int i = 0; i < ROUNDS; i++) {
        fake_name(name, sizeof(name), wr, i);
        if (rt_register(name, RT_SHARED_MEMORY) < 0 ||
            rt_unregister(name, RT_SHARED_MEMORY) < 0) {
            wr->failures++;
        }
    }
    for (int i = 0; i < KEPT; i++) {
        snprintf(name, sizeof(name), "%s-w%d-%d", wr->prefix, wr->id, i);
        if (rt_test_make_shm(name) < 0 ||
            rt_register(name, RT_SHARED_MEMORY) < 0) {
            wr->failures++;
        }
    }
    return NULL;
}

static int host(void *arg, int w)
{
    const char *prefix = arg;
    if (rt_ensure_running() < 0) {
        return 90;
    }
    proc_say(w, "pid %ld", (long)rt_tracker_pid());
    pid_t kids[PROCESSES];
    for (int p = 0; p < PROCESSES; p++) {
        kids[p] = fork();
        if (kids[p] == 0) {
            struct writer wr = {prefix, THREADS + p, 0};
            write_many(&wr);
            _exit(wr.failures != 0);
        }
    }
    pthread_t th[THREADS];
    struct writer wr[THREADS];
    for (int i = 0; i < THREADS; i++) {
        wr[i] = (struct writer){prefix, i, 0};
        pthread_create(&th[i], NULL, write_many, &wr[i]);
    }
    int failures = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        failures += wr[i].failures;
    }
    for (int p = 0; p < PROCESSES; p++) {
        int st;
        if (waitpid(kids[p], &st, 0) != kids[p] || !WIFEXITED(st) ||
            WEXITSTATUS(st) != 0) {
            failures++;
        }
    }
    return failures != 0;
}

static void concurrent_writers_lose_nothing(void **state)
{
    struct rt_test *t = *state;
    int rfd;
    pid_t pid = rt_test_fork(t, host, t->prefix, &rfd);
    long tracker = rt_test_read_value(rfd, "pid", 20);
    close(rfd);
    assert_true(tracker > 0);
    rt_test_track(t, (pid_t)tracker);
    int st = rt_test_wait_pid(pid, 120);
    assert_true(st != -1 && WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    st = rt_test_wait_pid((pid_t)tracker, 60);
    assert_true(st != -1 && WIFEXITED(st));
    /* Exactly the kept segments leaked, all were cleaned, and there was no
     * bad line: a garbled message would have been one. */
    assert_int_equal(WEXITSTATUS(st), 1);
    assert_int_equal(rt_test_count_prefix(t->prefix), 0);
    const char *err = rt_test_stderr(t);
    char want[128];
    snprintf(want, sizeof(want), "There appear to be %d leaked shared_memory",
             (THREADS + PROCESSES) * KEPT);
    assert_non_null(strstr(err, want));
    assert_int_equal(rt_test_count(err, "resource_tracker:"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        RT_TEST(concurrent_writers_lose_nothing),
    };
    return RT_RUN(tests);
}
