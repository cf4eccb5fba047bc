/* SPDX-License-Identifier: MIT */
/* The descriptor helpers the client relies on: SIGPIPE-free writes on both
 * paths (the kernel's RWF_NOSIGNAL and the portable signal mask), the pipe
 * liveness probe, and moving a descriptor onto a number. */
#define _GNU_SOURCE
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdio.h"

/* In a child whose SIGPIPE action is the default (death): writing to a pipe
 * without reader must return -EPIPE and leave no SIGPIPE pending, unless
 * one was pending before, which must stay. */
static int widowed_writes(void *arg, int w)
{
    int (*writer)(int, const void *, size_t) =
        *(int (**)(int, const void *, size_t))arg;
    signal(SIGPIPE, SIG_DFL);
    int p[2];
    if (pipe(p) < 0) {
        return 90;
    }
    close(p[0]);
    RT_CHECK_EQ(w, writer(p[1], "x\n", 2), -EPIPE);
    sigset_t pending;
    sigpending(&pending);
    RT_CHECK_EQ(w, sigismember(&pending, SIGPIPE), 0);
    /* A SIGPIPE the host already had pending (blocked) is not eaten. */
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigprocmask(SIG_BLOCK, &pipe_set, NULL);
    raise(SIGPIPE);
    RT_CHECK_EQ(w, writer(p[1], "x\n", 2), -EPIPE);
    sigpending(&pending);
    RT_CHECK_EQ(w, sigismember(&pending, SIGPIPE), 1);
    /* The mask is as the caller left it. */
    sigset_t now;
    sigprocmask(SIG_SETMASK, NULL, &now);
    RT_CHECK_EQ(w, sigismember(&now, SIGPIPE), 1);
    signal(SIGPIPE, SIG_IGN); /* drop the pending one before unblocking */
    sigprocmask(SIG_UNBLOCK, &pipe_set, NULL);
    /* A live pipe gets the bytes, whole. */
    int q[2];
    if (pipe(q) < 0) {
        return 91;
    }
    RT_CHECK_EQ(w, writer(q[1], "hello\n", 6), 0);
    char buf[8] = "";
    RT_CHECK_EQ(w, read(q[0], buf, sizeof(buf)), 6);
    RT_CHECK_EQ(w, memcmp(buf, "hello\n", 6), 0);
    RT_CHECK_EQ(w, writer(-1, "x", 1), -EBADF);
    return rt_test_failures;
}

static void run_writer(void **state, int (*writer)(int, const void *, size_t))
{
    rt_test_run_host(*state, widowed_writes, &writer, 20);
}

static void write_msg_never_raises_sigpipe(void **state)
{
    run_writer(state, rt__fd_write_msg);
}

static void masked_write_never_raises_sigpipe(void **state)
{
    run_writer(state, rt__fd_write_masked);
}

static void probe_tells_live_dead_and_closed(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(rt__fd_pipe_alive(p[1]), 1);
    close(p[0]);
    assert_int_equal(rt__fd_pipe_alive(p[1]), 0);
    close(p[1]);
    assert_int_equal(rt__fd_pipe_alive(p[1]), -EBADF);
}

static void move_onto_keeps_the_number(void **state)
{
    (void)state;
    int a[2];
    int b[2];
    assert_int_equal(rt__fd_pipe(a), 0);
    assert_int_equal(rt__fd_pipe(b), 0);
    assert_int_equal(rt__fd_move_onto(b[1], a[1]), 0);
    assert_int_equal(fcntl(b[1], F_GETFD), -1); /* the source is gone */
    assert_true(fcntl(a[1], F_GETFD) & FD_CLOEXEC);
    assert_int_equal(write(a[1], "z", 1), 1);
    char c = 0;
    assert_int_equal(read(b[0], &c, 1), 1);
    assert_int_equal(c, 'z');
    close(a[0]);
    close(a[1]);
    close(b[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        RT_TEST(write_msg_never_raises_sigpipe),
        RT_TEST(masked_write_never_raises_sigpipe),
        RT_TEST(probe_tells_live_dead_and_closed),
        RT_TEST(move_onto_keeps_the_number),
    };
    return RT_RUN(tests);
}
