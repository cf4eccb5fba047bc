/* SPDX-License-Identifier: MIT */
/* Every invalid argument of every public function gives -1 and its exact
 * errno, before any side effect (no tracker is started by a bad call), and
 * prints nothing: the return value tells the caller. */
#define _GNU_SOURCE
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "resourcetracker.h"

static int bad_rtypes_and_names(void *arg, int w)
{
    (void)arg;
    static const char *const bad_rtypes[] = {
        "",
        "Semaphore",
        "shared-memory",
        "shared memory",
        "semaphore ",
        "nope",
        "noop",
        "sem\xc3\xa9",
        "a:b",
        "shared_memory\n",
        "abcdefghijklmnopqrstuvwxyz0123456789", /* too long to be known */
    };
    for (size_t i = 0; i < sizeof(bad_rtypes) / sizeof(bad_rtypes[0]); i++) {
        RT_CHECK(w, rt_register("/rt-args-x", bad_rtypes[i]), -1, EINVAL);
        RT_CHECK(w, rt_unregister("/rt-args-x", bad_rtypes[i]), -1, EINVAL);
    }
    RT_CHECK(w, rt_register(NULL, "semaphore"), -1, EINVAL);
    RT_CHECK(w, rt_register("/x", NULL), -1, EINVAL);
    RT_CHECK(w, rt_register(NULL, NULL), -1, EINVAL);
    RT_CHECK(w, rt_register("", "shared_memory"), -1, EINVAL);
    RT_CHECK(w, rt_unregister(NULL, "semaphore"), -1, EINVAL);
    RT_CHECK(w, rt_unregister("/x", NULL), -1, EINVAL);
    RT_CHECK(w, rt_unregister("", "semaphore"), -1, EINVAL);
    /* No bad call had a side effect: no tracker was started. */
    RT_CHECK_EQ(w, rt_tracker_pid(), -1);
    return rt_test_failures;
}

static void invalid_names_and_rtypes_are_einval(void **state)
{
    rt_test_run_host(*state, bad_rtypes_and_names, NULL, 20);
    assert_string_equal(rt_test_stderr(*state), "");
}

static int long_names(void *arg, int w)
{
    (void)arg;
    static char name[PIPE_BUF * 4];
    /* Each message is refused only when it itself would not fit one
     * atomic write. Colon form: "UNREGISTER:" NAME ":semaphore\n" is
     * exactly PIPE_BUF for the longest name it takes. */
    size_t fit = PIPE_BUF - strlen("UNREGISTER::semaphore\n");
    memset(name, 'n', sizeof(name) - 1);
    name[0] = '/';
    name[fit] = '\0';
    RT_CHECK(w, rt_register(name, "semaphore"), 0, 0);
    RT_CHECK(w, rt_unregister(name, "semaphore"), 0, 0);
    /* One and two bytes more: the REGISTER line still fits, the UNREGISTER
     * line not (that name stays registered; the tracker's sem_unlink of it
     * fails at the end, ENAMETOOLONG, past NAME_MAX). */
    for (int more = 1; more <= 2; more++) {
        name[fit + (size_t)more - 1] = 'n';
        name[fit + (size_t)more] = '\0';
        RT_CHECK(w, rt_register(name, "semaphore"), 0, 0);
        RT_CHECK(w, rt_unregister(name, "semaphore"), -1, ENAMETOOLONG);
    }
    /* Three more: REGISTER:NAME:semaphore\n is PIPE_BUF + 1. */
    name[fit + 2] = 'n';
    name[fit + 3] = '\0';
    RT_CHECK(w, rt_register(name, "semaphore"), -1, ENAMETOOLONG);
    /* JSON form (a name with a newline): 4 base64 characters per 3 bytes,
     * the REGISTER line two bytes shorter than the UNREGISTER one. */
    size_t fixed = strlen("{\"cmd\":\"UNREGISTER\",\"rtype\":\"semaphore\","
                          "\"base64_name\":\"\"}\n");
    size_t jfit = (PIPE_BUF - fixed) / 4 * 3;
    size_t jfit_reg = (PIPE_BUF - fixed + 2) / 4 * 3;
    memset(name, 'j', sizeof(name) - 1);
    name[0] = '/';
    name[1] = '\n';
    name[jfit] = '\0';
    RT_CHECK(w, rt_register(name, "semaphore"), 0, 0);
    RT_CHECK(w, rt_unregister(name, "semaphore"), 0, 0);
    name[jfit] = 'j';
    name[jfit + 1] = '\0';
    RT_CHECK(w, rt_unregister(name, "semaphore"), -1, ENAMETOOLONG);
    name[jfit + 1] = 'j';
    name[jfit_reg] = '\0';
    RT_CHECK(w, rt_register(name, "semaphore"), 0, 0);
    name[jfit_reg] = 'j';
    name[jfit_reg + 1] = '\0';
    RT_CHECK(w, rt_register(name, "semaphore"), -1, ENAMETOOLONG);
    /* A huge name is refused without being read to its end. */
    name[jfit_reg + 1] = 'j';
    name[sizeof(name) - 1] = '\0';
    RT_CHECK(w, rt_register(name, "semaphore"), -1, ENAMETOOLONG);
    RT_CHECK(w, rt_unregister(name, "shared_memory"), -1, ENAMETOOLONG);
    return rt_test_failures;
}

static void names_past_pipe_buf_are_enametoolong(void **state)
{
    rt_test_run_host(*state, long_names, NULL, 20);
}

static int bad_fds(void *arg, int w)
{
    (void)arg;
    RT_CHECK(w, rt_setfd(-1), -1, EBADF);
    RT_CHECK(w, rt_setfd(INT_MIN), -1, EBADF);
    int spare = open("/dev/null", O_RDONLY);
    close(spare);
    RT_CHECK(w, rt_setfd(spare), -1, EBADF);
    RT_CHECK(w, rt_setfd(4000), -1, EBADF);
    int null = open("/dev/null", O_WRONLY);
    RT_CHECK(w, rt_setfd(null), -1, EINVAL);
    char tmp[] = "/tmp/rt-args-XXXXXX";
    int file = mkstemp(tmp);
    unlink(tmp);
    RT_CHECK(w, rt_setfd(file), -1, EINVAL);
    int p[2];
    if (pipe(p) < 0) {
        return 99;
    }
    RT_CHECK(w, rt_setfd(p[0]), -1, EINVAL);
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
        return 99;
    }
    RT_CHECK(w, rt_setfd(sv[0]), -1, EINVAL);
    int dir = open("/", O_RDONLY | O_DIRECTORY);
    RT_CHECK(w, rt_setfd(dir), -1, EINVAL);
    /* A pipe write end on a standard stream is refused, as the variable
     * refuses it ("prog | less" makes fd 1 one). */
    int q[2];
    if (pipe(q) < 0 || dup2(q[1], 1) < 0) {
        return 99;
    }
    RT_CHECK(w, rt_setfd(1), -1, EINVAL);
    RT_CHECK_EQ(w, rt_tracker_pid(), -1);
    /* Descriptors refused were left as they were. */
    RT_CHECK_EQ(w, fcntl(p[0], F_GETFD) & FD_CLOEXEC, 0);
    return rt_test_failures;
}

static void rt_setfd_refuses_what_is_not_a_pipe_write_end(void **state)
{
    rt_test_run_host(*state, bad_fds, NULL, 20);
    assert_string_equal(rt_test_stderr(*state), "");
}

static int adopt_test_pipe(void *arg, int w)
{
    (void)arg;
    int p[2];
    if (pipe(p) < 0) {
        return 99;
    }
    errno = 12345;
    RT_CHECK(w, rt_setfd(p[1]), 0, 0);
    RT_CHECK_EQ(w, errno, 12345);
    RT_CHECK_EQ(w, rt_getfd(), p[1]);
    RT_CHECK_EQ(w, rt_tracker_pid(), -1);
    RT_CHECK_EQ(w, (fcntl(p[1], F_GETFD) & FD_CLOEXEC) != 0, 1);
    /* A pipe with no tracker of ours behind it may be read by any CPython
     * tracker: 3.12 and older split lines on every ':' and read ASCII
     * only, so names they cannot read are refused, not sent. */
    RT_CHECK(w, rt_register("/rt-args-a:b", "shared_memory"), -1, EINVAL);
    RT_CHECK(w, rt_unregister("/rt-args-\n", "semaphore"), -1, EINVAL);
    RT_CHECK(w, rt_register("/rt-args-q", "mqueue"), -1, EINVAL);
    errno = 12345;
    RT_CHECK(w, rt_register("/rt-args-a b", "shared_memory"), 0, 0);
    RT_CHECK(w, rt_unregister("/rt-args-c", "semaphore"), 0, 0);
    RT_CHECK(w, rt_ensure_running(), 0, 0);
    RT_CHECK_EQ(w, errno, 12345);
    close(p[1]);
    char buf[512];
    ssize_t n = read(p[0], buf, sizeof(buf) - 1);
    buf[n > 0 ? n : 0] = '\0';
    /* The exact bytes CPython's tracker reads; no probe line. */
    const char *want = "REGISTER:/rt-args-a b:shared_memory\n"
                       "UNREGISTER:/rt-args-c:semaphore\n";
    if (strcmp(buf, want) != 0) {
        proc_say(w, "pipe held '%s'", buf);
        return 1;
    }
    return rt_test_failures;
}

static void rt_setfd_adopts_a_pipe_and_messages_are_exact(void **state)
{
    rt_test_run_host(*state, adopt_test_pipe, NULL, 20);
}

/* Adopted from RESOURCE_TRACKER_FD, the descriptor keeps crossing exec, and
 * rt_getfd hands out a close-on-exec copy of it: the same one at every
 * call, a new one once the host closed it, and EMFILE (nothing else
 * touched) when no descriptor is left for one. */
static int adopt_env_pipe(void *arg, int w)
{
    (void)arg;
    int p[2];
    struct stat st;
    if (pipe(p) < 0 || fstat(p[1], &st) < 0) {
        return 99;
    }
    char value[96];
    snprintf(value, sizeof(value), "%d:%ju:%ju", p[1], (uintmax_t)st.st_dev,
             (uintmax_t)st.st_ino);
    if (setenv(RT_ENV_FD, value, 1) < 0) {
        return 99;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        return 99;
    }
    struct rlimit tight = {(rlim_t)p[1] + 1, rl.rlim_max};
    RT_CHECK_EQ(w, setrlimit(RLIMIT_NOFILE, &tight), 0);
    RT_CHECK(w, rt_getfd(), -1, EMFILE);
    /* A child prepared for exec gets the adopted descriptor itself, which
     * crosses exec already: no copy, so no descriptor is needed for it. */
    posix_spawn_file_actions_t fa;
    char **envp = NULL;
    RT_CHECK_EQ(w, posix_spawn_file_actions_init(&fa), 0);
    RT_CHECK(w, rt_spawn_prepare(&fa, NULL, &envp), 0, 0);
    int named = 0;
    for (char **e = envp; e != NULL && *e != NULL; e++) {
        named += strncmp(*e, RT_ENV_FD "=", sizeof(RT_ENV_FD)) == 0 &&
                 strcmp(*e + sizeof(RT_ENV_FD), value) == 0;
    }
    RT_CHECK_EQ(w, named, 1);
    rt_spawn_free(envp);
    posix_spawn_file_actions_destroy(&fa);
    RT_CHECK_EQ(w, setrlimit(RLIMIT_NOFILE, &rl), 0);
    int fd = rt_getfd();
    struct stat got;
    RT_CHECK_EQ(w, fd >= 0 && fd != p[1] && fstat(fd, &got) == 0, 1);
    RT_CHECK_EQ(w, got.st_dev == st.st_dev && got.st_ino == st.st_ino, 1);
    RT_CHECK_EQ(w, (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0, 1);
    RT_CHECK_EQ(w, fcntl(p[1], F_GETFD), 0);
    RT_CHECK_EQ(w, rt_getfd(), fd);
    /* rt_setfd of the descriptor in use changes nothing, its flag
     * included: it still reaches what this process execs. */
    RT_CHECK(w, rt_setfd(p[1]), 0, 0);
    RT_CHECK_EQ(w, fcntl(p[1], F_GETFD), 0);
    RT_CHECK_EQ(w, rt_getfd(), fd);
    close(fd);
    int again = rt_getfd();
    RT_CHECK_EQ(w, again >= 0 && fstat(again, &got) == 0, 1);
    RT_CHECK_EQ(w, got.st_dev == st.st_dev && got.st_ino == st.st_ino, 1);
    RT_CHECK_EQ(w, (fcntl(again, F_GETFD) & FD_CLOEXEC) != 0, 1);
    /* Everything went where the variable said. */
    RT_CHECK(w, rt_register("/rt-args-env", RT_SHARED_MEMORY), 0, 0);
    char buf[128];
    ssize_t n = read(p[0], buf, sizeof(buf) - 1);
    buf[n > 0 ? n : 0] = '\0';
    RT_CHECK_EQ(w, strcmp(buf, "REGISTER:/rt-args-env:shared_memory\n"), 0);
    return rt_test_failures;
}

static void rt_getfd_of_an_adopted_pipe_is_a_cloexec_copy(void **state)
{
    rt_test_run_host(*state, adopt_env_pipe, NULL, 20);
    assert_string_equal(rt_test_stderr(*state), "");
}

/* A host out of descriptors gets -1 and the errno of the call that failed,
 * and the library works once descriptors are free again. */
static int out_of_fds(void *arg, int w)
{
    (void)arg;
    struct rlimit rl = {16, 16};
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
        return 90;
    }
    int fds[16];
    int n = 0;
    for (int fd; (fd = open("/dev/null", O_RDONLY)) >= 0;) {
        fds[n++] = fd;
    }
    RT_CHECK(w, rt_ensure_running(), -1, EMFILE);
    RT_CHECK(w, rt_register("/rt-args-fds", RT_SHARED_MEMORY), -1, EMFILE);
    RT_CHECK(w, rt_getfd(), -1, EMFILE);
    RT_CHECK_EQ(w, rt_tracker_pid(), -1);
    while (n > 0) {
        close(fds[--n]);
    }
    RT_CHECK(w, rt_ensure_running(), 0, 0);
    RT_CHECK_EQ(w, rt_tracker_pid() > 0, 1);
    return rt_test_failures;
}

static void descriptor_exhaustion_is_emfile(void **state)
{
    if (rt_test_valgrind()) {
        skip(); /* valgrind keeps its own descriptors under the limit */
    }
    rt_test_run_host(*state, out_of_fds, NULL, 20);
    assert_string_equal(rt_test_stderr(*state), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        RT_TEST(invalid_names_and_rtypes_are_einval),
        RT_TEST(names_past_pipe_buf_are_enametoolong),
        RT_TEST(rt_setfd_refuses_what_is_not_a_pipe_write_end),
        RT_TEST(rt_setfd_adopts_a_pipe_and_messages_are_exact),
        RT_TEST(rt_getfd_of_an_adopted_pipe_is_a_cloexec_copy),
        RT_TEST(descriptor_exhaustion_is_emfile),
    };
    return RT_RUN(tests);
}
