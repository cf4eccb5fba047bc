/* SPDX-License-Identifier: MIT */
/* rt_spawn_prepare: a program started with posix_spawn shares the tracker,
 * starts none of its own, and what it leaves behind is cleaned up. */
#define _GNU_SOURCE
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "resourcetracker.h"

struct spawn_args {
    struct rt_test *t;
    const char *name;
};

/* Host: spawns the helper prepared by rt_spawn_prepare, with a stale
 * RESOURCE_TRACKER_FD in the environment it passes (which must be
 * replaced), and checks what the helper says. */
static int spawn_host(void *arg, int w)
{
    const struct spawn_args *a = arg;
    int out[2];
    if (pipe(out) < 0) {
        return 90;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    char stale[] = "RESOURCE_TRACKER_FD=1:2:3";
    char keep[] = "KEEP=me";
    char *env[] = {stale, keep, NULL};
    char **envp = NULL;
    RT_CHECK(w, rt_spawn_prepare(&fa, env, &envp), 0, 0);
    if (envp == NULL) {
        return 91;
    }
    int seen_var = 0;
    int seen_keep = 0;
    for (char **e = envp; *e != NULL; e++) {
        seen_var += strncmp(*e, "RESOURCE_TRACKER_FD=", 20) == 0;
        seen_keep += strcmp(*e, "KEEP=me") == 0;
    }
    RT_CHECK_EQ(w, seen_var, 1);
    RT_CHECK_EQ(w, seen_keep, 1);
    char cmd_pid[] = "pid";
    char cmd_fd[] = "fdinfo";
    char cmd_shm[] = "shm";
    char *argv[] = {(char *)rt_test_child_path(),
                    cmd_pid,
                    cmd_fd,
                    cmd_shm,
                    (char *)a->name,
                    NULL};
    pid_t child;
    RT_CHECK_EQ(w, posix_spawn(&child, argv[0], &fa, NULL, argv, envp), 0);
    rt_spawn_free(envp);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    char lines[3][128];
    for (int i = 0; i < 3; i++) {
        if (rt_test_read_line(out[0], lines[i], sizeof(lines[i]), 20) < 0) {
            lines[i][0] = '\0';
        }
    }
    int st;
    RT_CHECK_EQ(w, waitpid(child, &st, 0), child);
    RT_CHECK_EQ(w, WIFEXITED(st) && WEXITSTATUS(st) == 0, 1);
    int fd = rt_getfd();
    struct stat fst;
    fstat(fd, &fst);
    char want[128];
    snprintf(want, sizeof(want), "fd %ju %ju 1", (uintmax_t)fst.st_dev,
             (uintmax_t)fst.st_ino);
    /* No tracker of its own, and our pipe (close-on-exec, as rt_getfd
     * always hands it out). */
    RT_CHECK_EQ(w, strcmp(lines[0], "pid -1"), 0);
    RT_CHECK_EQ(w, strcmp(lines[1], want), 0);
    RT_CHECK_EQ(w, strcmp(lines[2], "shm 0 0"), 0);
    if (rt_test_failures > 0) {
        proc_say(w, "helper said '%s' '%s' '%s'", lines[0], lines[1], lines[2]);
    }
    /* The tracker's pipe stayed close-on-exec here. */
    RT_CHECK_EQ(w, (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0, 1);
    proc_say(w, "pid %ld", (long)rt_tracker_pid());
    return rt_test_failures;
}

static void spawned_child_shares_the_tracker(void **state)
{
    struct rt_test *t = *state;
    char name[128];
    struct spawn_args a = {t, rt_test_name(t, name, sizeof(name), "spawned")};
    int rfd;
    pid_t pid = rt_test_fork(t, spawn_host, &a, &rfd);
    char line[512];
    long tracker = -1;
    while (rt_test_read_line(rfd, line, sizeof(line), 20) >= 0) {
        if (strncmp(line, "pid ", 4) == 0) {
            tracker = atol(line + 4);
        } else {
            print_error("host: %s\n", line);
        }
    }
    close(rfd);
    int st = rt_test_wait_pid(pid, 20);
    assert_true(st != -1 && WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_true(tracker > 0);
    rt_test_track(t, (pid_t)tracker);
    st = rt_test_wait_pid((pid_t)tracker, 20);
    assert_true(st != -1 && WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 1);
    assert_false(rt_test_shm_exists(name));
    char want[256];
    snprintf(want, sizeof(want), "{'%s'}", name);
    assert_non_null(strstr(rt_test_stderr(t), want));
}

static int bad_args(void *arg, int w)
{
    (void)arg;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    char **envp = (char **)&fa; /* must stay untouched */
    RT_CHECK(w, rt_spawn_prepare(NULL, NULL, &envp), -1, EINVAL);
    RT_CHECK_EQ(w, envp == (char **)&fa, 1);
    RT_CHECK(w, rt_spawn_prepare(&fa, NULL, NULL), -1, EINVAL);
    RT_CHECK_EQ(w, rt_tracker_pid(), -1);
    rt_spawn_free(NULL);
    /* With environ as the base. */
    setenv("RT_SPAWN_MARK", "1", 1);
    RT_CHECK(w, rt_spawn_prepare(&fa, NULL, &envp), 0, 0);
    int mark = 0;
    for (char **e = envp; *e != NULL; e++) {
        mark += strcmp(*e, "RT_SPAWN_MARK=1") == 0;
    }
    RT_CHECK_EQ(w, mark, 1);
    rt_spawn_free(envp);
    posix_spawn_file_actions_destroy(&fa);
    return rt_test_failures;
}

static void prepare_rejects_null_and_uses_environ(void **state)
{
    rt_test_run_host(*state, bad_args, NULL, 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        RT_TEST(spawned_child_shares_the_tracker),
        RT_TEST(prepare_rejects_null_and_uses_environ),
    };
    return RT_RUN(tests);
}
