/* SPDX-License-Identifier: MIT */
/* Garbage written straight into the tracker's pipe: one warning per bad
 * line, every valid registration kept, lines split across reads joined. */
#define _GNU_SOURCE
#include "util.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "diag.h"
#include "resourcetracker.h"

struct bad {
    const char *bytes;
    size_t len;          /* 0: strlen */
    const char *warning; /* what the warning line says */
};

#define LONG_LINE 100000

static const struct bad bad_lines[] = {
    {"garbage\n", 0, "malformed message: 'garbage'"},
    {"REGISTER:/x\n", 0, "malformed message: 'REGISTER:/x'"},
    {"DELETE:/x:shared_memory\n", 0, "unrecognized command: 'DELETE'"},
    {"REGISTER:/x:unknown_type\n", 0,
     "Cannot register '/x' for automatic cleanup: unknown resource type "
     "'unknown_type'"},
    {"UNREGISTER:/rt-never:shared_memory\n", 0,
     "cannot unregister '/rt-never': no such shared_memory is registered"},
    {"\x01\x02\xff\xfe\x80\n", 0,
     "malformed message: '\\x01\\x02\\udcff\\udcfe\\udc80'"},
    {NULL, LONG_LINE, "message too long: 'AAAA"},
    {"{\"cmd\":\"REGISTER\"}\n", 0, "malformed message: '{\"cmd\":"},
    {"{not json\n", 0, "malformed message: '{not json'"},
    {"REGISTER:/x:noop\n", 0, "the noop type is only for probes: '/x'"},
    {"\n", 0, "malformed message: ''"},
    {"REGISTER::shared_memory\n", 0, "invalid resource name"},
    {"{\"cmd\":\"REGISTER\",\"rtype\":\"semaphore\",\"base64_name\":\"@@\"}\n",
     0, "invalid resource name"},
    {"REGISTER:/a\0b:shared_memory\n", 28, "invalid resource name"},
};
#define N_BAD (sizeof(bad_lines) / sizeof(bad_lines[0]))

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int pipe_empty(void *arg)
{
    int queued = 1;
    return ioctl(*(int *)arg, FIONREAD, &queued) == 0 && queued == 0;
}

struct host_args {
    const char *names[3]; /* registered: before, split across reads, after */
    int only_bad;         /* write bad lines only, past the report bound */
    int unterminated;     /* end with a line that has no newline */
};

static int host(void *arg, int w)
{
    const struct host_args *a = arg;
    int fd = rt_getfd();
    if (fd < 0) {
        return 90;
    }
    if (a->only_bad) {
        for (int i = 0; i < RT_DIAG_BAD_LINES_REPORTED + 50; i++) {
            if (write_all(fd, "nonsense\n", 9) < 0) {
                return 91;
            }
        }
        proc_say(w, "pid %ld", (long)rt_tracker_pid());
        return 0;
    }
    if (rt_test_make_shm(a->names[0]) < 0 ||
        rt_register(a->names[0], RT_SHARED_MEMORY) < 0) {
        return 92;
    }
    static char longline[LONG_LINE + 1];
    memset(longline, 'A', LONG_LINE);
    longline[LONG_LINE] = '\n';
    for (size_t i = 0; i < N_BAD; i++) {
        const char *p =
            bad_lines[i].bytes != NULL ? bad_lines[i].bytes : longline;
        size_t n = bad_lines[i].bytes == NULL ? LONG_LINE + 1
                   : bad_lines[i].len != 0    ? bad_lines[i].len
                                              : strlen(p);
        if (write_all(fd, p, n) < 0) {
            return 93;
        }
    }
    /* A valid line in two writes, the second after the tracker has read
     * the first: it must be joined across reads. */
    char line[256];
    int n = snprintf(line, sizeof(line), "REGISTER:%s:shared_memory\n",
                     a->names[1]);
    if (rt_test_make_shm(a->names[1]) < 0 || write_all(fd, line, 12) < 0 ||
        !rt_test_wait_until(pipe_empty, &fd, 10) ||
        write_all(fd, line + 12, (size_t)n - 12) < 0) {
        return 94;
    }
    if (rt_test_make_shm(a->names[2]) < 0) {
        return 95;
    }
    if (a->unterminated) {
        /* CPython's reader takes a last line without newline too. */
        n = snprintf(line, sizeof(line), "REGISTER:%s:shared_memory",
                     a->names[2]);
        if (write_all(fd, line, (size_t)n) < 0) {
            return 96;
        }
    } else if (rt_register(a->names[2], RT_SHARED_MEMORY) < 0) {
        return 97;
    }
    proc_say(w, "pid %ld", (long)rt_tracker_pid());
    return 0;
}

static int run(struct rt_test *t, struct host_args *a)
{
    int rfd;
    pid_t pid = rt_test_fork(t, host, a, &rfd);
    long tracker = rt_test_read_value(rfd, "pid", 20);
    close(rfd);
    assert_true(tracker > 0);
    rt_test_track(t, (pid_t)tracker);
    int st = rt_test_wait_pid(pid, 20);
    assert_true(st != -1 && WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    st = rt_test_wait_pid((pid_t)tracker, 20);
    assert_true(st != -1 && WIFEXITED(st));
    return WEXITSTATUS(st);
}

static void check_survivors(struct rt_test *t, struct host_args *a, int status)
{
    /* Leaks were cleaned up, which outranks the bad lines (CPython). */
    assert_int_equal(status, 1);
    for (int i = 0; i < 3; i++) {
        assert_false(rt_test_shm_exists(a->names[i]));
    }
    const char *err = rt_test_stderr(t);
    char want[512];
    snprintf(want, sizeof(want),
             "resource_tracker: There appear to be 3 leaked shared_memory "
             "objects to clean up at shutdown: {'%s', '%s', '%s'}\n",
             a->names[0], a->names[1], a->names[2]);
    assert_non_null(strstr(err, want));
    /* One line per bad line, each on its own line, and nothing else. */
    assert_int_equal(rt_test_count(err, "resource_tracker:"), N_BAD + 1);
    assert_int_equal(rt_test_count(err, "\n"), N_BAD + 1);
    for (size_t i = 0; i < N_BAD; i++) {
        if (strstr(err, bad_lines[i].warning) == NULL) {
            fail_msg("no warning '%s' in:\n%s", bad_lines[i].warning, err);
        }
    }
}

static void bad_lines_warn_and_valid_ones_are_kept(void **state)
{
    struct rt_test *t = *state;
    char n[3][128];
    struct host_args a = {.names = {rt_test_name(t, n[0], 128, "before"),
                                    rt_test_name(t, n[1], 128, "split"),
                                    rt_test_name(t, n[2], 128, "after")}};
    check_survivors(t, &a, run(t, &a));
}

static void last_line_without_newline_is_used(void **state)
{
    struct rt_test *t = *state;
    char n[3][128];
    struct host_args a = {.names = {rt_test_name(t, n[0], 128, "before"),
                                    rt_test_name(t, n[1], 128, "split"),
                                    rt_test_name(t, n[2], 128, "last")},
                          .unterminated = 1};
    check_survivors(t, &a, run(t, &a));
}

static void only_bad_lines_exit_3_and_warnings_are_bounded(void **state)
{
    struct rt_test *t = *state;
    struct host_args a = {.only_bad = 1};
    assert_int_equal(run(t, &a), 3);
    const char *err = rt_test_stderr(t);
    assert_int_equal(rt_test_count(err, "malformed message: 'nonsense'"),
                     RT_DIAG_BAD_LINES_REPORTED);
    char muted[128];
    snprintf(muted, sizeof(muted),
             "resource_tracker: %d bad messages reported; further ones are "
             "not shown\n",
             RT_DIAG_BAD_LINES_REPORTED);
    assert_int_equal(rt_test_count(err, muted), 1);
    assert_int_equal(rt_test_count(err, "\n"), RT_DIAG_BAD_LINES_REPORTED + 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        RT_TEST(bad_lines_warn_and_valid_ones_are_kept),
        RT_TEST(last_line_without_newline_is_used),
        RT_TEST(only_bad_lines_exit_3_and_warnings_are_bounded),
    };
    return RT_RUN(tests);
}
