/* SPDX-License-Identifier: MIT */
/* The resource types beyond the core: message queues, files, folders (and
 * that folder removal never escapes through a link), and types a program
 * defines itself. Each creates real objects, SIGKILLs the owner and checks
 * what is gone and what is not. */
#define _GNU_SOURCE
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "resourcetracker.h"

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

/* ---- helpers ---- */

static int path_exists(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0;
}

static int mq_exists(const char *name)
{
    mqd_t q = mq_open(name, O_RDONLY);
    if (q == (mqd_t)-1) {
        return errno != ENOENT;
    }
    mq_close(q);
    return 1;
}

static void write_file(const char *path, const char *text)
{
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static void remove_tree(const char *path)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    assert_int_equal(system(cmd), 0);
}

/* A host that registers NAMES[i] with RTYPES[i], reports its tracker's pid
 * and waits to be killed. */
struct regs {
    const char *names[8];
    const char *rtypes[8];
    int n;
    const char *define; /* define this type first, with cleanup_marker */
};

static int host_register(void *arg, int w)
{
    const struct regs *r = arg;
    for (int i = 0; i < r->n; i++) {
        if (rt_register(r->names[i], r->rtypes[i]) < 0) {
            proc_say(w, "register %s: %s", r->names[i], strerror(errno));
            return 90;
        }
    }
    proc_say(w, "pid %ld", (long)rt_tracker_pid());
    rt_test_hang();
}

/* ---- message queues and files ---- */

static void mqueue_is_unlinked(void **state)
{
    struct rt_test *t = *state;
    char name[128];
    rt_test_name(t, name, sizeof(name), "q");
    rt_test_track_mqueue(t, name);
    struct mq_attr attr = {.mq_maxmsg = 4, .mq_msgsize = 64};
    mqd_t q = mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
    assert_true(q != (mqd_t)-1);
    mq_close(q);
    struct regs r = {{name}, {RT_MQUEUE}, 1, NULL};
    assert_int_equal(rt_test_run_killed(t, host_register, &r), 1);
    assert_false(mq_exists(name));
}

static void file_is_unlinked(void **state)
{
    struct rt_test *t = *state;
    char path[256];
    snprintf(path, sizeof(path), "/tmp%s-file", t->prefix);
    write_file(path, "data");
    struct regs r = {{path}, {RT_FILE}, 1, NULL};
    assert_int_equal(rt_test_run_killed(t, host_register, &r), 1);
    assert_false(path_exists(path));
    char want[512];
    snprintf(want, sizeof(want),
             "1 leaked file objects to clean up at "
             "shutdown: {'%s'}",
             path);
    assert_non_null(strstr(rt_test_stderr(t), want));
}

static int relative_paths(void *arg, int w)
{
    (void)arg;
    RT_CHECK(w, rt_register("relative/file", RT_FILE), -1, EINVAL);
    RT_CHECK(w, rt_register("./x", RT_FOLDER), -1, EINVAL);
    RT_CHECK(w, rt_unregister("x", RT_FILE), -1, EINVAL);
    RT_CHECK(w, rt_unregister("tmp/x", RT_FOLDER), -1, EINVAL);
    RT_CHECK_EQ(w, rt_tracker_pid(), -1);
    return rt_test_failures;
}

static void relative_paths_are_einval(void **state)
{
    rt_test_run_host(*state, relative_paths, NULL, 20);
}

/* ---- folders ---- */

/* Builds under DIR a tree with files, nested folders, a FIFO, many
 * entries, and links pointing OUTSIDE (to a folder and to a file). */
static void build_tree(const char *dir, const char *outside)
{
    char p[1024];
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(p, sizeof(p), "%s/a.txt", dir);
    write_file(p, "a");
    snprintf(p, sizeof(p), "%s/sub", dir);
    assert_int_equal(mkdir(p, 0700), 0);
    char deep[600];
    snprintf(deep, sizeof(deep), "%s/sub", dir);
    for (int i = 0; i < 40; i++) {
        size_t n = strlen(deep);
        snprintf(deep + n, sizeof(deep) - n, "/d");
        assert_int_equal(mkdir(deep, 0700), 0);
    }
    snprintf(p, sizeof(p), "%s/leaf.txt", deep);
    write_file(p, "leaf");
    snprintf(p, sizeof(p), "%s/many", dir);
    assert_int_equal(mkdir(p, 0700), 0);
    for (int i = 0; i < 600; i++) {
        snprintf(p, sizeof(p), "%s/many/file-with-a-longish-name-%04d", dir, i);
        write_file(p, "x");
    }
    snprintf(p, sizeof(p), "%s/fifo", dir);
    assert_int_equal(mkfifo(p, 0600), 0);
    snprintf(p, sizeof(p), "%s/link-to-folder", dir);
    assert_int_equal(symlink(outside, p), 0);
    char target[600];
    snprintf(target, sizeof(target), "%s/precious.txt", outside);
    snprintf(p, sizeof(p), "%s/sub/link-to-file", dir);
    assert_int_equal(symlink(target, p), 0);
    snprintf(p, sizeof(p), "%s/sub/dangling", dir);
    assert_int_equal(symlink("/nonexistent/rt-test", p), 0);
}

static void make_outside(const char *outside)
{
    char p[600];
    assert_int_equal(mkdir(outside, 0700), 0);
    snprintf(p, sizeof(p), "%s/precious.txt", outside);
    write_file(p, "keep me");
    snprintf(p, sizeof(p), "%s/inner", outside);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(p, sizeof(p), "%s/inner/also.txt", outside);
    write_file(p, "keep me too");
}

static void check_outside(const char *outside)
{
    char p[600];
    snprintf(p, sizeof(p), "%s/precious.txt", outside);
    assert_true(path_exists(p));
    snprintf(p, sizeof(p), "%s/inner/also.txt", outside);
    assert_true(path_exists(p));
}

static void folder_tree_is_removed_links_not_followed(void **state)
{
    struct rt_test *t = *state;
    char dir[256];
    char outside[256];
    snprintf(dir, sizeof(dir), "/tmp%s-dir", t->prefix);
    snprintf(outside, sizeof(outside), "/tmp%s-outside", t->prefix);
    make_outside(outside);
    build_tree(dir, outside);
    struct regs r = {{dir}, {RT_FOLDER}, 1, NULL};
    assert_int_equal(rt_test_run_killed(t, host_register, &r), 1);
    assert_false(path_exists(dir));
    check_outside(outside);
    remove_tree(outside);
}

static void folder_that_is_a_link_is_removed_not_followed(void **state)
{
    struct rt_test *t = *state;
    char link[256];
    char outside[256];
    snprintf(link, sizeof(link), "/tmp%s-link", t->prefix);
    snprintf(outside, sizeof(outside), "/tmp%s-outside", t->prefix);
    make_outside(outside);
    assert_int_equal(symlink(outside, link), 0);
    struct regs r = {{link}, {RT_FOLDER}, 1, NULL};
    assert_int_equal(rt_test_run_killed(t, host_register, &r), 1);
    assert_false(path_exists(link));
    check_outside(outside);
    remove_tree(outside);
}

/* A process that swaps a folder of the tree with a link to OUTSIDE as fast
 * as it can (renameat2 RENAME_EXCHANGE: atomic), while the tracker removes
 * the tree. Whatever the tracker sees, it must not delete outside. */
static int swapper(const char *dir, const char *sub, const char *outside)
{
    char real[600];
    char fake[600];
    snprintf(real, sizeof(real), "%s/%s", dir, sub);
    snprintf(fake, sizeof(fake), "%s/%s-swap", dir, sub);
    if (symlink(outside, fake) < 0) {
        return 1;
    }
    for (;;) {
        /* renameat2(2) by its system call: not every libc wraps it. */
        (void)syscall(SYS_renameat2, (long)AT_FDCWD, real, (long)AT_FDCWD, fake,
                      (long)RENAME_EXCHANGE);
    }
}

static void folder_swapped_for_a_link_does_not_escape(void **state)
{
    struct rt_test *t = *state;
    char outside[256];
    snprintf(outside, sizeof(outside), "/tmp%s-outside", t->prefix);
    make_outside(outside);
    static const char *const swapped[] = {"many", "sub", "sub/d"};
    for (int round = 0; round < (rt_test_valgrind() ? 4 : 24); round++) {
        char dir[256];
        snprintf(dir, sizeof(dir), "/tmp%s-dir%d", t->prefix, round);
        build_tree(dir, outside);
        pid_t sw[3];
        for (int i = 0; i < 3; i++) {
            sw[i] = fork();
            if (sw[i] == 0) {
                _exit(swapper(dir, swapped[i], outside));
            }
            rt_test_track(t, sw[i]);
        }
        struct regs r = {{dir}, {RT_FOLDER}, 1, NULL};
        int status = rt_test_run_killed(t, host_register, &r);
        for (int i = 0; i < 3; i++) {
            kill(sw[i], SIGKILL);
            assert_int_not_equal(rt_test_wait_pid(sw[i], 10), -1);
        }
        check_outside(outside);
        /* The swap may leave the tracker a name it can no longer reach (a
         * link where a folder was): then it reports a failure. Anything
         * the race left behind is ours to remove. */
        assert_true(status == 1 || status == 2);
        remove_tree(dir);
    }
    remove_tree(outside);
}

/* ---- types of the program's own ---- */

static char marker_dir[256];

/* A cleanup function: async-signal-safe, as documented. Removes the file
 * MARKER_DIR/NAME; a name starting with "deny" fails with EACCES, one
 * starting with "code" returns a positive errno. */
static int cleanup_marker(const char *name)
{
    if (strncmp(name, "deny", 4) == 0) {
        errno = EACCES;
        return -1;
    }
    if (strncmp(name, "code", 4) == 0) {
        return ENOTSUP;
    }
    char path[600];
    size_t n = strlen(marker_dir);
    memcpy(path, marker_dir, n);
    path[n] = '/';
    memcpy(path + n + 1, name, strlen(name) + 1);
    return unlink(path);
}

struct custom_args {
    const char *names[4];
    int n;
    int busy_threads; /* threads hammering malloc/stdio during the start */
};

static atomic_int busy_stop;

static void *busy(void *arg)
{
    FILE *f = arg;
    while (!atomic_load(&busy_stop)) {
        void *p = malloc(1 + (size_t)rand() % 4096);
        fprintf(f, "%p\n", p);
        free(p);
    }
    return NULL;
}

static int custom_host(void *arg, int w)
{
    const struct custom_args *a = arg;
    if (rt_define_type("marker", cleanup_marker) < 0) {
        return 90;
    }
    pthread_t th[4];
    FILE *f = fopen("/dev/null", "w");
    for (int i = 0; i < a->busy_threads; i++) {
        pthread_create(&th[i], NULL, busy, f);
    }
    for (int i = 0; i < a->n; i++) {
        if (rt_register(a->names[i], "marker") < 0) {
            return 91;
        }
    }
    /* The tracker of a program with custom types is a fork of it: its
     * executable is ours, not the embedded image. */
    char exe[64];
    char mine[512] = "";
    char its[512] = "";
    snprintf(exe, sizeof(exe), "/proc/%ld/exe", (long)rt_tracker_pid());
    if (rt_test_valgrind()) {
        /* Under valgrind every process's executable is valgrind's. */
    } else if (readlink("/proc/self/exe", mine, sizeof(mine) - 1) < 0 ||
               readlink(exe, its, sizeof(its) - 1) < 0 ||
               strcmp(mine, its) != 0) {
        proc_say(w, "tracker runs '%s', we run '%s'", its, mine);
        return 92;
    }
    proc_say(w, "pid %ld", (long)rt_tracker_pid());
    rt_test_hang();
}

static void custom_type_cleanup_runs_in_tracker(void **state)
{
    struct rt_test *t = *state;
    snprintf(marker_dir, sizeof(marker_dir), "/tmp%s-markers", t->prefix);
    assert_int_equal(mkdir(marker_dir, 0700), 0);
    char p[600];
    static const char *const names[] = {"one", "two"};
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof(p), "%s/%s", marker_dir, names[i]);
        write_file(p, "m");
    }
    /* Busy threads during the start, except under valgrind (see
     * test-fork.c: a multithreaded start can hang inside valgrind). */
    struct custom_args a = {
        {"one", "two", "deny-me", "code-it"}, 4, rt_test_valgrind() ? 0 : 4};
    assert_int_equal(rt_test_run_killed(t, custom_host, &a), 2);
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof(p), "%s/%s", marker_dir, names[i]);
        assert_false(path_exists(p));
    }
    const char *err = rt_test_stderr(t);
    assert_non_null(strstr(err, "There appear to be 4 leaked marker objects to "
                                "clean up at shutdown: {'one', 'two', "
                                "'deny-me', 'code-it'}\n"));
    char want[256];
    snprintf(want, sizeof(want), "resource_tracker: 'deny-me': [Errno %d] %s\n",
             EACCES, strerror(EACCES));
    assert_non_null(strstr(err, want));
    snprintf(want, sizeof(want), "resource_tracker: 'code-it': [Errno %d] %s\n",
             ENOTSUP, strerror(ENOTSUP));
    assert_non_null(strstr(err, want));
    remove_tree(marker_dir);
}

static int dummy_cleanup(const char *name)
{
    (void)name;
    return 0;
}

static int define_errors(void *arg, int w)
{
    (void)arg;
    RT_CHECK(w, rt_define_type(NULL, dummy_cleanup), -1, EINVAL);
    RT_CHECK(w, rt_define_type("", dummy_cleanup), -1, EINVAL);
    RT_CHECK(w, rt_define_type("Bad", dummy_cleanup), -1, EINVAL);
    RT_CHECK(w, rt_define_type("has space", dummy_cleanup), -1, EINVAL);
    RT_CHECK(w,
             rt_define_type("abcdefghijklmnopqrstuvwxyz0123456", dummy_cleanup),
             -1, EINVAL);
    RT_CHECK(w, rt_define_type("ok_type", NULL), -1, EINVAL);
    RT_CHECK(w, rt_define_type("semaphore", dummy_cleanup), -1, EINVAL);
    RT_CHECK(w, rt_define_type("noop", dummy_cleanup), -1, EINVAL);
    RT_CHECK(w, rt_register("/x", "ok_type"), -1, EINVAL); /* not defined */
    RT_CHECK(w,
             rt_define_type("abcdefghijklmnopqrstuvwxyz012345", dummy_cleanup),
             0, 0);
    RT_CHECK(w, rt_define_type("ok_type", dummy_cleanup), 0, 0);
    RT_CHECK(w, rt_define_type("ok_type", dummy_cleanup), -1, EINVAL);
    /* Fill the table: 6 built-ins and 2 above, 24 more fit. */
    int defined = 0;
    for (int i = 0; i < 40; i++) {
        char name[16];
        snprintf(name, sizeof(name), "t%d", i);
        if (rt_define_type(name, dummy_cleanup) == 0) {
            defined++;
        } else {
            RT_CHECK(w, rt_define_type(name, dummy_cleanup), -1, ENOSPC);
            break;
        }
    }
    RT_CHECK_EQ(w, defined, 24);
    /* Nothing above started a tracker; now one starts, and types are
     * frozen. */
    RT_CHECK_EQ(w, rt_tracker_pid(), -1);
    RT_CHECK(w, rt_register("/rt-types-x", "ok_type"), 0, 0);
    RT_CHECK(w, rt_unregister("/rt-types-x", "ok_type"), 0, 0);
    RT_CHECK(w, rt_define_type("late", dummy_cleanup), -1, EBUSY);
    pid_t child = fork();
    if (child == 0) {
        /* A forked child shares the tracker: EBUSY too. */
        _exit(rt_define_type("late2", dummy_cleanup) == -1 && errno == EBUSY
                  ? 0
                  : 1);
    }
    int st;
    waitpid(child, &st, 0);
    RT_CHECK_EQ(w, WIFEXITED(st) && WEXITSTATUS(st) == 0, 1);
    return rt_test_failures;
}

static void define_type_errors(void **state)
{
    rt_test_run_host(*state, define_errors, NULL, 20);
}

static int adopted_then_define(void *arg, int w)
{
    (void)arg;
    int p[2];
    if (pipe(p) < 0) {
        return 90;
    }
    RT_CHECK(w, rt_setfd(p[1]), 0, 0);
    RT_CHECK(w, rt_define_type("late", dummy_cleanup), -1, EBUSY);
    return rt_test_failures;
}

static void define_type_after_adoption_is_ebusy(void **state)
{
    rt_test_run_host(*state, adopted_then_define, NULL, 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        RT_TEST(mqueue_is_unlinked),
        RT_TEST(file_is_unlinked),
        RT_TEST(relative_paths_are_einval),
        RT_TEST(folder_tree_is_removed_links_not_followed),
        RT_TEST(folder_that_is_a_link_is_removed_not_followed),
        RT_TEST(folder_swapped_for_a_link_does_not_escape),
        RT_TEST(custom_type_cleanup_runs_in_tracker),
        RT_TEST(define_type_errors),
        RT_TEST(define_type_after_adoption_is_ebusy),
    };
    return RT_RUN(tests);
}
