/* SPDX-License-Identifier: MIT */
/* The `file` and `folder` cleanups against hostile trees: a component of a
 * registered path swapped for a link, mount points (bind mounts of the same
 * file system included) inside the tree or registered themselves, "/" and
 * paths that are not normalised, trees deeper than RT_RMTREE_DEPTH and
 * entries that cannot be removed (which must cost one error, in linear
 * work). Real files under /tmp, real mounts in private mount namespaces of
 * forked children, real trackers; the internal functions are also called
 * directly, under each fallback an older kernel would take. */
#define _GNU_SOURCE
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pathres.h"
#include "resourcetracker.h"
#include "rmtree.h"
#include "rtypes.h"

#define NOBODY 65534

/* The ways path resolution and mount detection can go. */
static const unsigned resolve_modes[] = {0, RT_PATH_NO_OPENAT2};
static const unsigned mount_modes[] = {0, RT_PATH_NO_STATX,
                                       RT_PATH_NO_STATX | RT_PATH_NO_HANDLE};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers (none asserts: children use them too) ---- */

static int exists(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0;
}

/* DIR/NAME in BUF; "" if it does not fit (then nothing is found). */
static const char *join(char *buf, size_t len, const char *dir,
                        const char *name)
{
    int n = snprintf(buf, len, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= len) {
        buf[0] = '\0';
    }
    return buf;
}

static int put_file(const char *dir, const char *name, const char *text)
{
    char p[PATH_MAX];
    int fd = open(join(p, sizeof(p), dir, name),
                  O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return -1;
    }
    ssize_t n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

static int make_dir(const char *dir, const char *name)
{
    char p[PATH_MAX];
    return mkdir(join(p, sizeof(p), dir, name), 0755);
}

static int open_dir(const char *p)
{
    return open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* Level K (1 for TOP itself) of a chain built by build_chain. */
static const char *level(char *buf, size_t len, const char *top, int k)
{
    size_t n = (size_t)snprintf(buf, len, "%s", top);
    for (int i = 1; i < k && n + 3 < len; i++) {
        memcpy(buf + n, "/d", 3);
        n += 2;
    }
    return buf;
}

/* The folder TOP and a chain of folders "d" below it, LEVELS levels in
 * all. Each level holds files "f" and "g" and a folder "s" holding a file
 * and a folder with a file: siblings that must all go. */
static int build_chain(const char *top, int levels)
{
    char p[PATH_MAX];
    char s[PATH_MAX];
    for (int k = 1; k <= levels; k++) {
        level(p, sizeof(p), top, k);
        if (mkdir(p, 0755) < 0 || put_file(p, "f", "f") < 0 ||
            put_file(p, "g", "g") < 0 || make_dir(p, "s") < 0) {
            return -1;
        }
        join(s, sizeof(s), p, "s");
        if (put_file(s, "x", "x") < 0 || make_dir(s, "t") < 0) {
            return -1;
        }
        join(s, sizeof(s), p, "s/t");
        if (put_file(s, "y", "y") < 0) {
            return -1;
        }
    }
    return 0;
}

/* Entries of the folder PATH, "." and ".." aside; -1 if it cannot be
 * read. */
static int count_entries(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL) {
        return -1;
    }
    int n = 0;
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    }
    closedir(d);
    return n;
}

/* Whether the folder PATH holds NAME and nothing else. */
static int only_entry(const char *path, const char *name)
{
    char p[PATH_MAX];
    return count_entries(path) == 1 && exists(join(p, sizeof(p), path, name));
}

/* Whether levels 1 to K-1 of the chain TOP hold only "d" and level K only
 * NAME: everything else that could go is gone. */
static int chain_left_to(const char *top, int k, const char *name)
{
    char p[PATH_MAX];
    for (int i = 1; i < k; i++) {
        if (!only_entry(level(p, sizeof(p), top, i), "d")) {
            return 0;
        }
    }
    return only_entry(level(p, sizeof(p), top, k), name);
}

/* The folder OUTSIDE with files that must survive. */
static int make_outside(const char *outside)
{
    char p[PATH_MAX];
    if (mkdir(outside, 0755) < 0 || put_file(outside, "precious", "keep") < 0 ||
        make_dir(outside, "inner") < 0) {
        return -1;
    }
    return put_file(join(p, sizeof(p), outside, "inner"), "also", "keep");
}

static int outside_intact(const char *outside)
{
    char p[PATH_MAX];
    char q[PATH_MAX];
    return exists(join(p, sizeof(p), outside, "precious")) &&
           exists(join(q, sizeof(q), join(p, sizeof(p), outside, "inner"),
                       "also"));
}

/* The cleanup of the built-in type RTYPE on NAME, as the tracker runs it:
 * 0 or a positive errno. */
static int cleanup_of(const char *rtype, const char *name)
{
    int t = rt__rtypes_find(rtype, strlen(rtype));
    return t < 0 ? -1 : rt__rtypes_cleanup((unsigned)t, name);
}

/* "/tmp/rt-test-PID-N" (teardown removes it), searchable by all: some
 * tests work in it as nobody. */
static const char *make_base(const struct rt_test *t, char *buf, size_t len)
{
    snprintf(buf, len, "/tmp%s", t->prefix);
    assert_int_equal(mkdir(buf, 0755), 0);
    return buf;
}

/* In a child: a mount namespace of its own, nothing propagating back, so
 * that its mounts vanish with it (and with its tracker). */
static int private_mounts(void)
{
    if (unshare(CLONE_NEWNS) < 0) {
        return -1;
    }
    /* The type is ignored; named all the same, for valgrind's sake. */
    return mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL);
}

/* Skips the test unless this process may make mounts of its own. */
static void need_mounts(void)
{
    if (geteuid() != 0) {
        skip();
    }
    pid_t pid = fork();
    if (pid == 0) {
        _exit(private_mounts() == 0 ? 0 : 1);
    }
    assert_true(pid > 0);
    int st = rt_test_wait_pid(pid, 10);
    assert_true(st != -1);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        skip();
    }
}

/* As root, becomes nobody (so that permissions bite); otherwise the caller
 * is subject to them already. */
static int drop_root(void)
{
    if (geteuid() != 0) {
        return 0;
    }
    if (setgroups(0, NULL) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0) {
        return -1;
    }
    return setresuid(NOBODY, NOBODY, NOBODY);
}

static int bind_mount(const char *from, const char *to)
{
    return mount(from, to, "none", MS_BIND, NULL);
}

/* ---- hosts for the tracker tests ---- */

/* A host that runs BEFORE, registers NAMES[i] with RTYPES[i], runs AFTER,
 * reports its tracker's pid and waits to be killed. */
struct host {
    const char *names[4];
    const char *rtypes[4];
    int n;
    int (*before)(const struct host *h);
    int (*after)(const struct host *h);
    const char *a; /* paths for BEFORE and AFTER */
    const char *b;
};

static int host_main(void *arg, int w)
{
    const struct host *h = arg;
    if (h->before != NULL && h->before(h) < 0) {
        proc_say(w, "before: %s", strerror(errno));
        return 90;
    }
    for (int i = 0; i < h->n; i++) {
        if (rt_register(h->names[i], h->rtypes[i]) < 0) {
            proc_say(w, "register %s: %s", h->names[i], strerror(errno));
            return 91;
        }
    }
    if (h->after != NULL && h->after(h) < 0) {
        proc_say(w, "after: %s", strerror(errno));
        return 92;
    }
    proc_say(w, "pid %ld", (long)rt_tracker_pid());
    rt_test_hang();
}

/* Runs H, SIGKILLs it, and returns its tracker's exit status, which must
 * come within SECONDS (scaled). */
static int run_killed_within(struct rt_test *t, struct host *h, double seconds)
{
    int rfd;
    pid_t pid = rt_test_fork(t, host_main, h, &rfd);
    assert_true(pid > 0);
    char line[512];
    long tracker = -1;
    while (tracker < 0 && rt_test_read_line(rfd, line, sizeof(line), 20) >= 0) {
        if (strncmp(line, "pid ", 4) == 0) {
            tracker = strtol(line + 4, NULL, 10);
        } else {
            print_error("host: %s\n", line);
        }
    }
    close(rfd);
    assert_true(tracker > 0);
    rt_test_track(t, (pid_t)tracker);
    kill(pid, SIGKILL);
    assert_int_not_equal(rt_test_wait_pid(pid, 20), -1);
    int st = rt_test_wait_pid((pid_t)tracker, seconds);
    assert_true(st != -1 && WIFEXITED(st));
    return WEXITSTATUS(st);
}

/* The tracker said exactly once that the cleanup of PATH failed with ERR,
 * and reported ALL failures in all. */
static void expect_failure(const struct rt_test *t, const char *path, int err,
                           int all)
{
    const char *out = rt_test_stderr(t);
    char want[PATH_MAX + 256];
    snprintf(want, sizeof(want), "resource_tracker: '%s': [Errno %d] %s\n",
             path, err, strerror(err));
    if (rt_test_count(out, want) != 1 || rt_test_count(out, "[Errno ") != all) {
        fail_msg("want once: %sgot:\n%s", want, out);
    }
}

/* ---- the form of a path ---- */

static void paths_must_be_normalised(void **state)
{
    (void)state;
    static const char *const good[] = {"/a",   "/a/b",  "/a/.b",     "/a/..b",
                                       "/...", "/a/b.", "/tmp/x y/z"};
    static const char *const bad[] = {
        "",       "/",    "a",     "a/b",     "//a",    "/a//b",
        "/a/./b", "/a/.", "/./a",  "/a/../b", "/a/..",  "/..",
        "/.",     "/a/",  "/a/b/", "//",      "///a/b", "./a",
    };
    for (size_t i = 0; i < COUNT(good); i++) {
        assert_int_equal(rt__path_valid(good[i], strlen(good[i])), 1);
    }
    for (size_t i = 0; i < COUNT(bad); i++) {
        if (rt__path_valid(bad[i], strlen(bad[i])) != 0) {
            fail_msg("'%s' taken as valid", bad[i]);
        }
        size_t base = 99;
        assert_int_equal(rt__path_open_parent(bad[i], strlen(bad[i]), &base),
                         -EINVAL);
        assert_int_equal(base, 99);
    }
    /* A NUL inside, a component of NAME_MAX + 1 bytes, PATH_MAX bytes. */
    assert_int_equal(rt__path_valid("/a\0b", 4), 0);
    char p[PATH_MAX + 2];
    p[0] = '/';
    memset(p + 1, 'n', NAME_MAX + 1);
    assert_int_equal(rt__path_valid(p, NAME_MAX + 1), 1);
    assert_int_equal(rt__path_valid(p, NAME_MAX + 2), 0);
    for (size_t i = 0; i < PATH_MAX; i += 2) {
        p[i] = '/';
        p[i + 1] = 'n';
    }
    assert_int_equal(rt__path_valid(p, PATH_MAX - 1), 0); /* trailing '/' */
    assert_int_equal(rt__path_valid(p, PATH_MAX - 2), 1);
    assert_int_equal(rt__path_valid(p, PATH_MAX), 0);
}

/* "/" and paths that are not normalised are refused by both cleanups, and
 * nothing is touched: "/x/.." would be the folder holding x. */
static void slash_and_unnormalised_are_einval(void **state)
{
    struct rt_test *t = *state;
    char base[128];
    char x[256];
    char p[300];
    make_base(t, base, sizeof(base));
    join(x, sizeof(x), base, "x");
    assert_int_equal(mkdir(x, 0755), 0);
    assert_int_equal(put_file(x, "f", "f"), 0);
    assert_int_equal(cleanup_of("folder", "/"), EINVAL);
    assert_int_equal(cleanup_of("file", "/"), EINVAL);
    /* What goes before and after BASE. */
    static const char *const forms[][2] = {{"", "/x/"},  {"", "/x/.."},
                                           {"", "/./x"}, {"/", "/x"},
                                           {"", "//x"},  {"", "/x/."}};
    for (size_t i = 0; i < COUNT(forms); i++) {
        snprintf(p, sizeof(p), "%s%s%s", forms[i][0], base, forms[i][1]);
        assert_int_equal(cleanup_of("folder", p), EINVAL);
        assert_int_equal(cleanup_of("file", p), EINVAL);
    }
    assert_true(exists("/tmp"));
    assert_int_equal(count_entries(base), 1);
    assert_int_equal(count_entries(x), 1);
    /* The file cleanup does not remove a folder. */
    assert_int_equal(cleanup_of("file", x), EISDIR);
    assert_int_equal(count_entries(x), 1);
}

/* ---- opening the parent without links ---- */

static void parent_is_opened_without_links(void **state)
{
    struct rt_test *t = *state;
    char base[128];
    char p[300];
    char q[300];
    make_base(t, base, sizeof(base));
    join(p, sizeof(p), base, "a");
    assert_int_equal(mkdir(p, 0755), 0);
    assert_int_equal(make_dir(p, "b"), 0);
    join(q, sizeof(q), p, "b");
    assert_int_equal(put_file(q, "c", "c"), 0);
    struct stat want;
    struct stat got;
    assert_int_equal(stat(q, &want), 0);
    for (size_t m = 0; m < COUNT(resolve_modes); m++) {
        rt__path_force_fallback(resolve_modes[m]);
        join(p, sizeof(p), q, "c");
        size_t at = 0;
        int fd = rt__path_open_parent(p, strlen(p), &at);
        assert_true(fd > 2);
        assert_int_equal(at, strlen(q) + 1);
        assert_int_equal(fstat(fd, &got), 0);
        assert_true(got.st_ino == want.st_ino && got.st_dev == want.st_dev);
        /* Opened for reading: it can be listed. */
        assert_int_equal(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
        close(fd);
        /* A name at the top: its folder is "/". */
        struct stat root;
        assert_int_equal(stat("/", &root), 0);
        fd = rt__path_open_parent("/tmp", 4, &at);
        assert_true(fd > 2);
        assert_int_equal(at, 1);
        assert_int_equal(fstat(fd, &got), 0);
        assert_true(got.st_ino == root.st_ino && got.st_dev == root.st_dev);
        close(fd);
        snprintf(p, sizeof(p), "%s/missing/x", base);
        assert_int_equal(rt__path_open_parent(p, strlen(p), &at), -ENOENT);
        join(p, sizeof(p), q, "c/x");
        assert_int_equal(rt__path_open_parent(p, strlen(p), &at), -ENOTDIR);
    }
    rt__path_force_fallback(0);
}

/* With 0, 1 and 2 closed, the descriptor returned is still above 2. */
static int parent_above_stdio(void *arg, int w)
{
    const char *path = arg;
    close(0);
    close(1);
    close(2);
    for (size_t m = 0; m < COUNT(resolve_modes); m++) {
        rt__path_force_fallback(resolve_modes[m]);
        size_t at = 0;
        int fd = rt__path_open_parent(path, strlen(path), &at);
        RT_CHECK_EQ(w, fd > 2, 1);
        RT_CHECK_EQ(w, fcntl(0, F_GETFD) == -1 && errno == EBADF, 1);
        close(fd);
    }
    return rt_test_failures;
}

static void parent_descriptor_is_above_stdio(void **state)
{
    struct rt_test *t = *state;
    char base[128];
    char p[300];
    make_base(t, base, sizeof(base));
    join(p, sizeof(p), base, "f");
    rt_test_run_host(t, parent_above_stdio, p, 20);
}

/* BASE/mid (with f, d/x and sub/f2) becomes a link to BASE/outside (with
 * the same), BASE/mid-real keeps the original. */
static int build_swap(const char *base)
{
    char p[PATH_MAX];
    char q[PATH_MAX];
    static const char *const dirs[] = {"mid", "outside"};
    for (int i = 0; i < 2; i++) {
        join(p, sizeof(p), base, dirs[i]);
        if (mkdir(p, 0755) < 0 || put_file(p, "f", "f") < 0 ||
            make_dir(p, "d") < 0 || make_dir(p, "sub") < 0 ||
            put_file(join(q, sizeof(q), p, "d"), "x", "x") < 0 ||
            put_file(join(q, sizeof(q), p, "sub"), "f2", "f2") < 0) {
            return -1;
        }
    }
    return 0;
}

static int swap_mid(const char *base, int absolute)
{
    char p[PATH_MAX];
    char q[PATH_MAX];
    char target[PATH_MAX];
    if (rename(join(p, sizeof(p), base, "mid"),
               join(q, sizeof(q), base, "mid-real")) < 0) {
        return -1;
    }
    return symlink(absolute ? join(target, sizeof(target), base, "outside")
                            : "outside",
                   p);
}

static int swapped_intact(const char *base, const char *dir)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/%s/f", base, dir);
    int ok = exists(p);
    snprintf(p, sizeof(p), "%s/%s/d/x", base, dir);
    ok = ok && exists(p);
    snprintf(p, sizeof(p), "%s/%s/sub/f2", base, dir);
    return ok && exists(p);
}

/* A component swapped for a link after registration: ELOOP, and nothing
 * behind the link is touched, whether the link is the parent or higher up,
 * relative or absolute. */
static void middle_link_is_eloop(void **state)
{
    struct rt_test *t = *state;
    char base[128];
    char p[300];
    make_base(t, base, sizeof(base));
    assert_int_equal(build_swap(base), 0);
    for (int absolute = 0; absolute < 2; absolute++) {
        assert_int_equal(swap_mid(base, absolute), 0);
        for (size_t m = 0; m < COUNT(resolve_modes); m++) {
            rt__path_force_fallback(resolve_modes[m]);
            size_t at = 0;
            snprintf(p, sizeof(p), "%s/mid/f", base);
            assert_int_equal(rt__path_open_parent(p, strlen(p), &at), -ELOOP);
            assert_int_equal(cleanup_of("file", p), ELOOP);
            snprintf(p, sizeof(p), "%s/mid/d", base);
            assert_int_equal(cleanup_of("folder", p), ELOOP);
            snprintf(p, sizeof(p), "%s/mid/sub/f2", base);
            assert_int_equal(cleanup_of("file", p), ELOOP);
            snprintf(p, sizeof(p), "%s/mid/sub", base);
            assert_int_equal(cleanup_of("folder", p), ELOOP);
            assert_true(swapped_intact(base, "outside"));
            assert_true(swapped_intact(base, "mid-real"));
        }
        /* Back as it was, for the other kind of link. */
        char q[300];
        join(p, sizeof(p), base, "mid");
        assert_int_equal(unlink(p), 0);
        assert_int_equal(rename(join(q, sizeof(q), base, "mid-real"), p), 0);
    }
    rt__path_force_fallback(0);
}

/* A link as the last component is removed itself, never followed. */
static void last_link_is_removed_not_followed(void **state)
{
    struct rt_test *t = *state;
    char base[128];
    char outside[256];
    char p[300];
    char q[300];
    make_base(t, base, sizeof(base));
    assert_int_equal(build_swap(base), 0);
    join(outside, sizeof(outside), base, "outside");
    for (size_t m = 0; m < COUNT(resolve_modes); m++) {
        rt__path_force_fallback(resolve_modes[m]);
        join(p, sizeof(p), base, "lf");
        assert_int_equal(symlink(join(q, sizeof(q), outside, "f"), p), 0);
        assert_int_equal(cleanup_of("file", p), 0);
        assert_false(exists(p));
        join(p, sizeof(p), base, "ld");
        assert_int_equal(symlink(join(q, sizeof(q), outside, "d"), p), 0);
        assert_int_equal(cleanup_of("folder", p), 0);
        assert_false(exists(p));
        assert_true(swapped_intact(base, "outside"));
    }
    rt__path_force_fallback(0);
}

static int swap_after_register(const struct host *h)
{
    return swap_mid(h->a, 0);
}

/* Through the tracker: a file and a folder registered under BASE/mid, then
 * mid swapped for a link: two ELOOP lines, nothing behind the link nor in
 * the real folder touched. */
static void tracker_does_not_follow_swapped_component(void **state)
{
    struct rt_test *t = *state;
    char base[128];
    char f[300];
    char d[300];
    make_base(t, base, sizeof(base));
    assert_int_equal(build_swap(base), 0);
    snprintf(f, sizeof(f), "%s/mid/f", base);
    snprintf(d, sizeof(d), "%s/mid/d", base);
    struct host h = {
        {f, d}, {RT_FILE, RT_FOLDER}, 2, NULL, swap_after_register, base, NULL};
    assert_int_equal(run_killed_within(t, &h, 10), 2);
    expect_failure(t, f, ELOOP, 2);
    expect_failure(t, d, ELOOP, 2);
    assert_true(swapped_intact(base, "outside"));
    assert_true(swapped_intact(base, "mid-real"));
}

/* ---- depth ---- */

/* A removal run in a child, so that one that does not end fails the test
 * at its deadline instead of hanging it: rt__rmtree_at(DIR, NAME) must
 * return WANT (or OR_WANT) within SECONDS (scaled). */
struct removal {
    const char *dir;
    const char *name;
    int want;
    int or_want;
    double seconds;
};

static int remove_in_child(void *arg, int w)
{
    const struct removal *rm = arg;
    int dfd = open_dir(rm->dir);
    double start = proc_now();
    int r = rt__rmtree_at(dfd, rm->name);
    double took = proc_now() - start;
    close(dfd);
    if (r != rm->want && r != rm->or_want) {
        proc_say(w, "rt__rmtree_at(%s, %s) returned %d (%s)", rm->dir, rm->name,
                 r, strerror(-r));
        return 1;
    }
    RT_CHECK_EQ(w, took < proc_scaled(rm->seconds), 1);
    return rt_test_failures;
}

static void remove_within(struct rt_test *t, const struct removal *rm)
{
    int rfd;
    pid_t pid = rt_test_fork(t, remove_in_child, (void *)rm, &rfd);
    rt_test_expect_clean_exit(t, pid, rfd, rm->seconds + 5);
}

/* A chain this long is RT_RMTREE_DEPTH + 1 levels deep: "s/t" of its last
 * level is the one folder too deep. */
#define DEEP_CHAIN (RT_RMTREE_DEPTH - 1)

/* What the removal of such a tree leaves: that folder, whole, and the
 * folders holding it. */
static int deep_tree_left(const char *top)
{
    char p[PATH_MAX];
    char q[PATH_MAX];
    level(p, sizeof(p), top, DEEP_CHAIN);
    return chain_left_to(top, DEEP_CHAIN, "s") &&
           only_entry(join(q, sizeof(q), p, "s"), "t") &&
           exists(join(q, sizeof(q), p, "s/t/y"));
}

/* RT_RMTREE_DEPTH + 1 levels: -ELOOP at once (the old removal listed each
 * folder eight times over, and its count restarted on re-entry: 8^depth),
 * everything else removed. RT_RMTREE_DEPTH levels go whole. */
static void tree_deeper_than_limit_is_eloop_quickly(void **state)
{
    struct rt_test *t = *state;
    char base[128];
    char top[256];
    make_base(t, base, sizeof(base));
    join(top, sizeof(top), base, "top");
    assert_int_equal(build_chain(top, DEEP_CHAIN), 0);
    struct removal rm = {base, "top", -ELOOP, -ELOOP, 5};
    remove_within(t, &rm);
    assert_true(deep_tree_left(top));
    /* Exactly RT_RMTREE_DEPTH levels go whole. */
    join(top, sizeof(top), base, "top128");
    assert_int_equal(build_chain(top, DEEP_CHAIN - 1), 0);
    struct removal whole = {base, "top128", 0, 0, 5};
    remove_within(t, &whole);
    assert_false(exists(top));
    /* NAME is one component. */
    assert_int_equal(rt__rmtree_at(AT_FDCWD, "/"), -EINVAL);
    assert_int_equal(rt__rmtree_at(AT_FDCWD, "tmp/x"), -EINVAL);
    assert_int_equal(rt__rmtree_at(AT_FDCWD, ".."), -EINVAL);
    assert_int_equal(rt__rmtree_at(AT_FDCWD, ""), -EINVAL);
}

/* Through the tracker: one failed-cleanup line, ELOOP, well within the
 * deadline. */
static void tracker_reports_deep_tree_once(void **state)
{
    struct rt_test *t = *state;
    char base[128];
    char top[256];
    make_base(t, base, sizeof(base));
    join(top, sizeof(top), base, "top");
    assert_int_equal(build_chain(top, DEEP_CHAIN), 0);
    struct host h = {{top}, {RT_FOLDER}, 1, NULL, NULL, NULL, NULL};
    assert_int_equal(run_killed_within(t, &h, 10), 2);
    expect_failure(t, top, ELOOP, 1);
    assert_true(deep_tree_left(top));
}

/* ---- entries that cannot be removed ---- */

#define LEVELS 10
#define STUCK 8

/* The chain DIR/top of LEVELS levels, with at level STUCK a folder
 * "locked" that its owner cannot write, holding a file. */
static int build_locked(const char *dir)
{
    char top[PATH_MAX];
    char p[PATH_MAX];
    char q[PATH_MAX];
    join(top, sizeof(top), dir, "top");
    if (build_chain(top, LEVELS) < 0) {
        return -1;
    }
    level(p, sizeof(p), top, STUCK);
    if (make_dir(p, "locked") < 0 ||
        put_file(join(q, sizeof(q), p, "locked"), "keep", "k") < 0) {
        return -1;
    }
    return chmod(q, 0555);
}

static int remove_locked(void *arg, int w)
{
    const char *work = arg;
    RT_CHECK_EQ(w, drop_root(), 0);
    RT_CHECK_EQ(w, build_locked(work), 0);
    int dfd = open_dir(work);
    double start = proc_now();
    RT_CHECK_EQ(w, rt__rmtree_at(dfd, "top"), -EACCES);
    RT_CHECK_EQ(w, proc_now() - start < proc_scaled(5), 1);
    close(dfd);
    return rt_test_failures;
}

/* A folder "work" in a new base that nobody may write in. */
static const char *make_work(struct rt_test *t, char *base, size_t blen,
                             char *work, size_t wlen)
{
    make_base(t, base, blen);
    join(work, wlen, base, "work");
    assert_int_equal(mkdir(work, 0755), 0);
    if (geteuid() == 0) {
        assert_int_equal(chown(work, NOBODY, NOBODY), 0);
    }
    return work;
}

static void check_locked_left(const char *work)
{
    char top[PATH_MAX];
    char p[PATH_MAX];
    join(top, sizeof(top), work, "top");
    assert_true(chain_left_to(top, STUCK, "locked"));
    char q[PATH_MAX];
    level(p, sizeof(p), top, STUCK);
    assert_true(exists(join(q, sizeof(q), p, "locked/keep")));
}

/* An entry its owner cannot remove, at depth STUCK (as nobody, when run as
 * root): one error, at once, and every sibling at every level removed. */
static void undeletable_entry_costs_one_error(void **state)
{
    struct rt_test *t = *state;
    char base[128];
    char work[256];
    make_work(t, base, sizeof(base), work, sizeof(work));
    rt_test_run_host(t, remove_locked, work, 20);
    check_locked_left(work);
}

static int build_locked_as_nobody(const struct host *h)
{
    return drop_root() < 0 ? -1 : build_locked(h->a);
}

/* Through the tracker, which runs as the host's user: one line. */
static void tracker_reports_undeletable_entry_once(void **state)
{
    struct rt_test *t = *state;
    char base[128];
    char work[256];
    char top[300];
    make_work(t, base, sizeof(base), work, sizeof(work));
    join(top, sizeof(top), work, "top");
    struct host h = {{top}, {RT_FOLDER}, 1,   build_locked_as_nobody,
                     NULL,  work,        NULL};
    assert_int_equal(run_killed_within(t, &h, 10), 2);
    expect_failure(t, top, EACCES, 1);
    check_locked_left(work);
}

/* A racing process adding files and folders while the tree is removed:
 * the removal still ends, having listed each folder a bounded number of
 * times. */
static void racing_writer_cannot_keep_removal_going(void **state)
{
    struct rt_test *t = *state;
    char base[128];
    char top[256];
    make_base(t, base, sizeof(base));
    join(top, sizeof(top), base, "top");
    assert_int_equal(build_chain(top, 20), 0);
    pid_t racer = fork();
    if (racer == 0) {
        char p[PATH_MAX];
        char name[32];
        double end = proc_now() + 3;
        for (unsigned i = 0; proc_now() < end; i++) {
            snprintf(name, sizeof(name), "r%u", i);
            int made = 0;
            for (int k = 1; k <= 3; k++) {
                level(p, sizeof(p), top, k);
                made +=
                    (i % 2 ? make_dir(p, name) : put_file(p, name, "r")) == 0;
            }
            if (made == 0) {
                break;
            }
        }
        _exit(0);
    }
    assert_true(racer > 0);
    rt_test_track(t, racer);
    struct removal rm = {base, "top", 0, -ENOTEMPTY, 10};
    remove_within(t, &rm);
    assert_int_not_equal(rt_test_wait_pid(racer, 10), -1);
}

/* ---- mount points ---- */

/* In a private mount namespace: under BASE/tN (N = the mode), a chain of
 * LEVELS with BASE/outside bind-mounted on "mnt" at level STUCK (the same
 * file system) and a tmpfs on "tmpfs" at level 3. The removal leaves both
 * (EXDEV), enters neither, removes the rest; each way of telling a mount
 * point agrees. */
static int mounts_inside(void *arg, int w)
{
    const char *base = arg;
    char outside[PATH_MAX];
    char top[PATH_MAX];
    char p[PATH_MAX];
    char q[PATH_MAX];
    join(outside, sizeof(outside), base, "outside");
    RT_CHECK_EQ(w, private_mounts(), 0);
    RT_CHECK_EQ(w, make_outside(outside), 0);
    for (size_t m = 0; m < COUNT(mount_modes); m++) {
        rt__path_force_fallback(mount_modes[m]);
        snprintf(top, sizeof(top), "%s/t%zu", base, m);
        RT_CHECK_EQ(w, build_chain(top, LEVELS), 0);
        level(p, sizeof(p), top, STUCK);
        RT_CHECK_EQ(w, make_dir(p, "mnt"), 0);
        RT_CHECK_EQ(w, bind_mount(outside, join(q, sizeof(q), p, "mnt")), 0);
        int fd8 = open_dir(p);
        level(p, sizeof(p), top, 3);
        RT_CHECK_EQ(w, make_dir(p, "tmpfs"), 0);
        join(q, sizeof(q), p, "tmpfs");
        RT_CHECK_EQ(w, mount("rt-test", q, "tmpfs", 0, "size=64k"), 0);
        RT_CHECK_EQ(w, put_file(q, "inside", "i"), 0);
        int fd3 = open_dir(p);
        RT_CHECK_EQ(w, symlink("mnt", join(q, sizeof(q), p, "ln")), 0);
        RT_CHECK_EQ(w, rt__path_is_mount(fd8, "mnt"), 1);
        RT_CHECK_EQ(w, rt__path_is_mount(fd3, "tmpfs"), 1);
        RT_CHECK_EQ(w, rt__path_is_mount(fd3, "d"), 0);
        RT_CHECK_EQ(w, rt__path_is_mount(fd3, "f"), 0);
        RT_CHECK_EQ(w, rt__path_is_mount(fd3, "ln"), 0);
        RT_CHECK_EQ(w, rt__path_is_mount(fd3, "none"), -ENOENT);
        int fd = openat(fd8, "mnt", O_RDONLY | O_DIRECTORY);
        RT_CHECK_EQ(w, rt__path_is_mount_fd(fd8, fd), 1);
        close(fd);
        fd = openat(fd3, "s", O_RDONLY | O_DIRECTORY);
        RT_CHECK_EQ(w, rt__path_is_mount_fd(fd3, fd), 0);
        close(fd);
        close(fd8);
        close(fd3);
        int dfd = open_dir(base);
        double start = proc_now();
        RT_CHECK_EQ(w, rt__rmtree_at(dfd, strrchr(top, '/') + 1), -EXDEV);
        RT_CHECK_EQ(w, proc_now() - start < proc_scaled(5), 1);
        close(dfd);
        RT_CHECK_EQ(w, outside_intact(outside), 1);
        RT_CHECK_EQ(w, exists(join(q, sizeof(q), p, "tmpfs/inside")), 1);
        RT_CHECK_EQ(w, count_entries(p), 2); /* level 3: d and tmpfs */
        level(p, sizeof(p), top, STUCK);
        RT_CHECK_EQ(w, chain_left_to(top, 2, "d"), 1);
        RT_CHECK_EQ(w, only_entry(p, "mnt"), 1);
        for (int k = 4; k < STUCK; k++) {
            RT_CHECK_EQ(w, only_entry(level(p, sizeof(p), top, k), "d"), 1);
        }
    }
    return rt_test_failures;
}

static void mount_inside_tree_is_not_entered(void **state)
{
    struct rt_test *t = *state;
    need_mounts();
    char base[128];
    make_base(t, base, sizeof(base));
    rt_test_run_host(t, mounts_inside, base, 30);
    /* The mounts were the child's only: here outside is whole, and the
     * folders the mounts covered are plain ones. */
    char p[300];
    assert_true(outside_intact(join(p, sizeof(p), base, "outside")));
}

/* A registered folder or file that is itself a mount point is not removed
 * (EBUSY), nor is what is mounted there touched. */
static int registered_mounts(void *arg, int w)
{
    const char *base = arg;
    char outside[PATH_MAX];
    char m[PATH_MAX];
    char mf[PATH_MAX];
    char p[PATH_MAX];
    join(outside, sizeof(outside), base, "outside");
    join(m, sizeof(m), base, "m");
    join(mf, sizeof(mf), base, "mf");
    RT_CHECK_EQ(w, private_mounts(), 0);
    RT_CHECK_EQ(w, make_outside(outside), 0);
    RT_CHECK_EQ(w, mkdir(m, 0755), 0);
    RT_CHECK_EQ(w, bind_mount(outside, m), 0);
    RT_CHECK_EQ(w, put_file(base, "mf", ""), 0);
    RT_CHECK_EQ(w, bind_mount(join(p, sizeof(p), outside, "precious"), mf), 0);
    for (size_t i = 0; i < COUNT(mount_modes); i++) {
        for (size_t r = 0; r < COUNT(resolve_modes); r++) {
            rt__path_force_fallback(mount_modes[i] | resolve_modes[r]);
            RT_CHECK_EQ(w, cleanup_of("folder", m), EBUSY);
            RT_CHECK_EQ(w, cleanup_of("file", m), EBUSY);
            RT_CHECK_EQ(w, cleanup_of("file", mf), EBUSY);
            RT_CHECK_EQ(w, cleanup_of("folder", mf), ENOTDIR);
            RT_CHECK_EQ(w, outside_intact(m), 1);
            RT_CHECK_EQ(w, outside_intact(outside), 1);
            RT_CHECK_EQ(w, exists(mf), 1);
        }
    }
    return rt_test_failures;
}

static void registered_mount_point_is_not_removed(void **state)
{
    struct rt_test *t = *state;
    need_mounts();
    char base[128];
    make_base(t, base, sizeof(base));
    rt_test_run_host(t, registered_mounts, base, 30);
}

/* In the host: its own mount namespace (its tracker, started after, shares
 * it), BASE/outside bind-mounted inside the tree A before it is
 * registered... */
static int mount_in_tree(const struct host *h)
{
    char outside[PATH_MAX];
    char p[PATH_MAX];
    snprintf(outside, sizeof(outside), "%s/../outside", h->a);
    snprintf(p, sizeof(p), "%s/a/mnt", h->a);
    if (private_mounts() < 0) {
        return -1;
    }
    return bind_mount(outside, p);
}

/* ... and on the registered folder B after it was registered. */
static int mount_on_registered(const struct host *h)
{
    char outside[PATH_MAX];
    snprintf(outside, sizeof(outside), "%s/../outside", h->a);
    return bind_mount(outside, h->b);
}

/* Through the tracker: the tree is removed but for the mount point (one
 * EXDEV line), the registered folder that became a mount point is left
 * (one EBUSY line), and what was mounted is whole. */
static void tracker_leaves_mount_points(void **state)
{
    struct rt_test *t = *state;
    need_mounts();
    char base[128];
    char tree[256];
    char m[256];
    char p[300];
    make_base(t, base, sizeof(base));
    assert_int_equal(make_outside(join(p, sizeof(p), base, "outside")), 0);
    join(tree, sizeof(tree), base, "tree");
    join(m, sizeof(m), base, "m");
    assert_int_equal(mkdir(m, 0755), 0);
    assert_int_equal(mkdir(tree, 0755), 0);
    assert_int_equal(put_file(tree, "x", "x"), 0);
    assert_int_equal(make_dir(tree, "a"), 0);
    join(p, sizeof(p), tree, "a");
    assert_int_equal(put_file(p, "y", "y"), 0);
    assert_int_equal(make_dir(p, "mnt"), 0);
    struct host h = {{tree, m},
                     {RT_FOLDER, RT_FOLDER},
                     2,
                     mount_in_tree,
                     mount_on_registered,
                     tree,
                     m};
    assert_int_equal(run_killed_within(t, &h, 10), 2);
    expect_failure(t, tree, EXDEV, 1);
    /* The name now leads to what is mounted there: not the folder that was
     * registered, so it is left, and said. */
    char want[PATH_MAX + 64];
    snprintf(want, sizeof(want), "resource_tracker: '%s': not removed: ", m);
    assert_int_equal(rt_test_count(rt_test_stderr(t), want), 1);
    assert_true(outside_intact(join(p, sizeof(p), base, "outside")));
    assert_true(only_entry(tree, "a"));
    assert_true(only_entry(join(p, sizeof(p), tree, "a"), "mnt"));
}

/* A mount point is never removed, so registering one is refused at once. */
static int register_mount_point(void *arg, int w)
{
    const char *base = arg;
    char outside[PATH_MAX];
    char m[PATH_MAX];
    snprintf(outside, sizeof(outside), "%s/outside", base);
    snprintf(m, sizeof(m), "%s/m", base);
    if (private_mounts() < 0 || mkdir(m, 0755) < 0 ||
        bind_mount(outside, m) < 0) {
        return 90;
    }
    RT_CHECK(w, rt_register(m, RT_FOLDER), -1, EBUSY);
    RT_CHECK(w, rt_register(m, RT_FILE), -1, EBUSY);
    RT_CHECK(w, rt_register(outside, RT_FOLDER), 0, 0);
    RT_CHECK(w, rt_unregister(outside, RT_FOLDER), 0, 0);
    return rt_test_failures;
}

static void registering_a_mount_point_is_ebusy(void **state)
{
    struct rt_test *t = *state;
    need_mounts();
    char base[128];
    char p[300];
    make_base(t, base, sizeof(base));
    assert_int_equal(make_outside(join(p, sizeof(p), base, "outside")), 0);
    rt_test_run_host(t, register_mount_point, base, 20);
    assert_true(outside_intact(join(p, sizeof(p), base, "outside")));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        RT_TEST(paths_must_be_normalised),
        RT_TEST(slash_and_unnormalised_are_einval),
        RT_TEST(parent_is_opened_without_links),
        RT_TEST(parent_descriptor_is_above_stdio),
        RT_TEST(middle_link_is_eloop),
        RT_TEST(last_link_is_removed_not_followed),
        RT_TEST(tracker_does_not_follow_swapped_component),
        RT_TEST(tree_deeper_than_limit_is_eloop_quickly),
        RT_TEST(tracker_reports_deep_tree_once),
        RT_TEST(undeletable_entry_costs_one_error),
        RT_TEST(tracker_reports_undeletable_entry_once),
        RT_TEST(racing_writer_cannot_keep_removal_going),
        RT_TEST(mount_inside_tree_is_not_entered),
        RT_TEST(registered_mount_point_is_not_removed),
        RT_TEST(tracker_leaves_mount_points),
        RT_TEST(registering_a_mount_point_is_ebusy),
    };
    return RT_RUN(tests);
}
