/* SPDX-License-Identifier: MIT */
/* Crossing exec: a child adopts its parent's tracker through
 * RESOURCE_TRACKER_FD (FD:DEV:INO or FD) or rt_setfd, and anything else in
 * the variable is ignored without a byte written to the wrong descriptor. */
#define _GNU_SOURCE
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "resourcetracker.h"

struct child_run {
    struct rt_test *t;
    const char *env;      /* RESOURCE_TRACKER_FD=... or NULL */
    int keep_fd;          /* descriptor the child inherits, or -1 */
    const char *args[12]; /* helper commands */
};

/* Runs the helper, collects its output lines into OUT, waits for it.
 * Returns the helper's exit status or -1. */
static int run_child(struct child_run *c, char out[][128], int lines)
{
    int in;
    int rfd;
    pid_t pid = rt_test_spawn(c->t, c->args, c->env, c->keep_fd, &in, &rfd);
    if (pid < 0) {
        return -1;
    }
    close(in);
    for (int i = 0; i < lines; i++) {
        if (rt_test_read_line(rfd, out[i], 128, 20) < 0) {
            out[i][0] = '\0';
        }
    }
    close(rfd);
    int st = rt_test_wait_pid(pid, 20);
    return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

struct adopt_args {
    struct rt_test *t;
    const char *name;
    int exact; /* FD:DEV:INO rather than FD */
    int by_setfd;
};

/* Host: starts the tracker and execs the helper, which must adopt it: no
 * pid of its own, the same pipe, and its registration reaches our tracker. */
static int adopt_host(void *arg, int w)
{
    const struct adopt_args *a = arg;
    int fd = rt_getfd();
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        return 90;
    }
    char env[128];
    char fdtext[16];
    snprintf(fdtext, sizeof(fdtext), "%d", fd);
    if (a->exact) {
        snprintf(env, sizeof(env), "%s=%d:%ju:%ju", RT_ENV_FD, fd,
                 (uintmax_t)st.st_dev, (uintmax_t)st.st_ino);
    } else {
        snprintf(env, sizeof(env), "%s=%d", RT_ENV_FD, fd);
    }
    struct child_run c = {
        a->t,
        a->by_setfd ? NULL : env,
        fd,
        {"pid", "fdinfo", "shm", a->name, "envflag", "fdinfo", NULL}};
    if (a->by_setfd) {
        c.args[0] = "setfd";
        c.args[1] = fdtext;
        c.args[2] = "pid";
        c.args[3] = "fdinfo";
        c.args[4] = "shm";
        c.args[5] = a->name;
        c.args[6] = NULL;
    }
    char out[6][128];
    int status = run_child(&c, out, a->by_setfd ? 4 : 5);
    /* rt_getfd hands out our pipe close-on-exec, however it was adopted. */
    char want_fd[128];
    snprintf(want_fd, sizeof(want_fd), "fd %ju %ju 1", (uintmax_t)st.st_dev,
             (uintmax_t)st.st_ino);
    int base = a->by_setfd ? 1 : 0;
    if (a->by_setfd) {
        RT_CHECK_EQ(w, strcmp(out[0], "setfd 0 0"), 0);
    } else {
        /* ... while the descriptor the variable names stays open across
         * exec, and every call returns the same copy. */
        RT_CHECK_EQ(w, strcmp(out[3], "envflag 0"), 0);
        RT_CHECK_EQ(w, strcmp(out[4], want_fd), 0);
    }
    RT_CHECK_EQ(w, status, 0);
    /* Adopted through the variable, the tracker is not asked anything
     * before the first call; adopted by rt_setfd, it told its pid. */
    char want_pid[32];
    snprintf(want_pid, sizeof(want_pid), "pid %ld",
             a->by_setfd ? (long)rt_tracker_pid() : -1L);
    RT_CHECK_EQ(w, strcmp(out[base], want_pid), 0);
    RT_CHECK_EQ(w, strcmp(out[base + 1], want_fd), 0);
    RT_CHECK_EQ(w, strcmp(out[base + 2], "shm 0 0"), 0);
    if (rt_test_failures > 0) {
        proc_say(w, "child said '%s' '%s' '%s' '%s'", out[0], out[1], out[2],
                 out[3]);
    }
    proc_say(w, "pid %ld", (long)rt_tracker_pid());
    return rt_test_failures;
}

static void adopt(void **state, int exact, int by_setfd)
{
    struct rt_test *t = *state;
    char name[128];
    struct adopt_args arg = {t, rt_test_name(t, name, sizeof(name), "x"), exact,
                             by_setfd};
    int rfd;
    pid_t pid = rt_test_fork(t, adopt_host, &arg, &rfd);
    char line[256];
    long tracker = -1;
    while (rt_test_read_line(rfd, line, sizeof(line), 20) >= 0) {
        if (strncmp(line, "pid ", 4) == 0) {
            tracker = atol(line + 4);
        } else {
            print_message("host: %s\n", line);
        }
    }
    close(rfd);
    int st = rt_test_wait_pid(pid, 20);
    assert_true(st != -1 && WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_true(tracker > 0);
    rt_test_track(t, (pid_t)tracker);
    /* The child's segment was cleaned up by the parent's tracker. */
    st = rt_test_wait_pid((pid_t)tracker, 20);
    assert_true(st != -1 && WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 1);
    assert_false(rt_test_shm_exists(name));
    char want[256];
    snprintf(want, sizeof(want),
             "1 leaked shared_memory objects to clean up "
             "at shutdown: {'%s'}",
             name);
    assert_non_null(strstr(rt_test_stderr(t), want));
}

static void exec_child_adopts_by_fd_dev_ino(void **state)
{
    adopt(state, 1, 0);
}

static void exec_child_adopts_by_fd(void **state)
{
    adopt(state, 0, 0);
}

static void exec_child_adopts_by_rt_setfd(void **state)
{
    adopt(state, 0, 1);
}

/* The helper starts its own tracker: a positive pid. */
static void expect_own_tracker(struct rt_test *t, const char *env, int keep)
{
    struct child_run c = {
        t,
        env,
        keep,
        {"reg", "/rt-inherit-unused", RT_SHARED_MEMORY, "pid", NULL}};
    char out[2][128];
    int status = run_child(&c, out, 2);
    if (status != 0 || strcmp(out[0], "reg 0 0") != 0 ||
        strncmp(out[1], "pid ", 4) != 0 || atol(out[1] + 4) <= 0) {
        fail_msg("with %s: exit %d, '%s' '%s'", env, status, out[0], out[1]);
    }
    rt_test_track(t, (pid_t)atol(out[1] + 4));
}

static void garbage_values_are_ignored(void **state)
{
    struct rt_test *t = *state;
    static const char *const values[] = {
        "",
        "abc",
        "-1",
        " 5",
        "5 ",
        "+5",
        "5x",
        "5:1",
        "5:1:2:3",
        "0x5",
        "99999999999999999999",
        "1",
        "2",
        "0",
        "5::",
        ":5",
    };
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        char env[128];
        snprintf(env, sizeof(env), "%s=%s", RT_ENV_FD, values[i]);
        expect_own_tracker(t, env, -1);
    }
}

static void wrong_descriptors_are_ignored_and_untouched(void **state)
{
    struct rt_test *t = *state;
    char env[128];
    /* A closed descriptor. */
    snprintf(env, sizeof(env), "%s=%d", RT_ENV_FD, 700);
    expect_own_tracker(t, env, -1);
    /* A regular file open for writing: must stay empty. */
    char path[] = "/tmp/rt-inherit-XXXXXX";
    int file = mkstemp(path);
    unlink(path);
    snprintf(env, sizeof(env), "%s=%d", RT_ENV_FD, file);
    expect_own_tracker(t, env, file);
    struct stat st;
    assert_int_equal(fstat(file, &st), 0);
    assert_int_equal(st.st_size, 0);
    close(file);
    /* A pipe's read end. */
    int p[2];
    assert_int_equal(pipe(p), 0);
    snprintf(env, sizeof(env), "%s=%d", RT_ENV_FD, p[0]);
    expect_own_tracker(t, env, p[0]);
    /* A live pipe that is not the one DEV:INO names: must stay empty. */
    assert_int_equal(fstat(p[1], &st), 0);
    snprintf(env, sizeof(env), "%s=%d:%ju:%ju", RT_ENV_FD, p[1],
             (uintmax_t)st.st_dev, (uintmax_t)st.st_ino + 1);
    expect_own_tracker(t, env, p[1]);
    int queued = -1;
    assert_int_equal(ioctl(p[0], FIONREAD, &queued), 0);
    assert_int_equal(queued, 0);
    /* A pipe whose reader is gone (a dead tracker). */
    close(p[0]);
    snprintf(env, sizeof(env), "%s=%d:%ju:%ju", RT_ENV_FD, p[1],
             (uintmax_t)st.st_dev, (uintmax_t)st.st_ino);
    expect_own_tracker(t, env, p[1]);
    close(p[1]);
}

/* Copies the helper next to itself with the set-uid or set-gid bit, owned
 * by nobody/nogroup. Returns 0, or -1 when this system cannot run one (not
 * root, nosuid mount, no such user). */
static int make_setid_copy(const char *path, int setgid)
{
    struct passwd *pw = getpwnam("nobody");
    struct group *gr = getgrnam("nogroup");
    struct statvfs vfs;
    if (geteuid() != 0 || pw == NULL || gr == NULL ||
        statvfs(rt_test_child_path(), &vfs) < 0 || (vfs.f_flag & ST_NOSUID)) {
        return -1;
    }
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", rt_test_child_path(), path);
    if (system(cmd) != 0 ||
        chown(path, setgid ? 0 : pw->pw_uid, setgid ? gr->gr_gid : 0) < 0 ||
        chmod(path, setgid ? 02755 : 04755) < 0) {
        unlink(path);
        return -1;
    }
    return 0;
}

static void setid_programs_ignore_the_variable(void **state)
{
    struct rt_test *t = *state;
    if (rt_test_valgrind()) {
        skip(); /* valgrind cannot run set-id programs */
    }
    for (int setgid = 0; setgid <= 1; setgid++) {
        char path[512];
        snprintf(path, sizeof(path), "%s-set%cid", rt_test_child_path(),
                 setgid ? 'g' : 'u');
        if (make_setid_copy(path, setgid) < 0) {
            skip();
        }
        /* A live tracker pipe that a normal program would adopt. */
        int p[2];
        assert_int_equal(pipe(p), 0);
        struct stat st;
        assert_int_equal(fstat(p[1], &st), 0);
        char env[128];
        snprintf(env, sizeof(env), "%s=%d:%ju:%ju", RT_ENV_FD, p[1],
                 (uintmax_t)st.st_dev, (uintmax_t)st.st_ino);
        char normal[512];
        snprintf(normal, sizeof(normal), "%s", rt_test_child_path());
        setenv("RT_TEST_CHILD", path, 1);
        expect_own_tracker(t, env, p[1]);
        setenv("RT_TEST_CHILD", normal, 1);
        int queued = -1;
        assert_int_equal(ioctl(p[0], FIONREAD, &queued), 0);
        assert_int_equal(queued, 0);
        close(p[0]);
        close(p[1]);
        unlink(path);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        RT_TEST(exec_child_adopts_by_fd_dev_ino),
        RT_TEST(exec_child_adopts_by_fd),
        RT_TEST(exec_child_adopts_by_rt_setfd),
        RT_TEST(garbage_values_are_ignored),
        RT_TEST(wrong_descriptors_are_ignored_and_untouched),
        RT_TEST(setid_programs_ignore_the_variable),
    };
    return RT_RUN(tests);
}
