/* SPDX-License-Identifier: MIT */
/* The drop-in wrappers: they track what they create and nothing else, so
 * an attaching process never causes someone else's object to be unlinked;
 * the unlink wrappers untrack only what they unlinked. The raw calls under
 * them give what libc's calls give; a semaphore holds what sem_open writes,
 * and its creation survives a full /dev/shm and files planted there. */
#define _GNU_SOURCE
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mqueue.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rawipc.h"
#include "resourcetracker.h"

enum kind { SHM, SEM, MQ };

static const char *const kind_rtype[] = {RT_SHARED_MEMORY, RT_SEMAPHORE,
                                         RT_MQUEUE};

/* Opens through the wrapper: 0 on success (the handle closed again, the
 * object stays), -1 with errno. */
static int wrap_open(enum kind k, const char *name, int oflag)
{
    struct mq_attr attr = {.mq_maxmsg = 4, .mq_msgsize = 32};
    switch (k) {
    case SHM: {
        int fd = rt_shm_open(name, oflag | O_RDWR, 0600);
        return fd < 0 ? -1 : close(fd);
    }
    case SEM: {
        sem_t *s = rt_sem_open(name, oflag, 0600, 1);
        return s == SEM_FAILED ? -1 : sem_close(s);
    }
    case MQ: {
        mqd_t q = rt_mq_open(name, oflag | O_RDWR, 0600, &attr);
        return q == (mqd_t)-1 ? -1 : mq_close(q);
    }
    }
    return -1;
}

static int wrap_unlink(enum kind k, const char *name)
{
    return k == SHM   ? rt_shm_unlink(name)
           : k == SEM ? rt_sem_unlink(name)
                      : rt_mq_unlink(name);
}

/* Creates NAME without the library (someone else's object). */
static int plain_create(enum kind k, const char *name)
{
    struct mq_attr attr = {.mq_maxmsg = 4, .mq_msgsize = 32};
    if (k == SHM) {
        return rt_test_make_shm(name);
    }
    if (k == SEM) {
        return rt_test_make_sem(name);
    }
    mqd_t q = mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
    return q == (mqd_t)-1 ? -1 : mq_close(q);
}

static int exists(enum kind k, const char *name)
{
    if (k == SHM) {
        return rt_test_shm_exists(name);
    }
    if (k == SEM) {
        return rt_test_sem_exists(name);
    }
    mqd_t q = mq_open(name, O_RDONLY);
    if (q == (mqd_t)-1) {
        return errno != ENOENT;
    }
    mq_close(q);
    return 1;
}

static void plain_unlink(enum kind k, const char *name)
{
    if (k == SHM) {
        shm_unlink(name);
    } else if (k == SEM) {
        sem_unlink(name);
    } else {
        mq_unlink(name);
    }
}

struct plan {
    enum kind kind;
    const char *created;  /* opened with O_CREAT | O_EXCL: tracked */
    const char *maybe;    /* opened with O_CREAT alone */
    const char *theirs;   /* exists already: attach, and O_EXCL must fail */
    const char *unlinked; /* created, then unlinked through the wrapper */
    const char *removed;  /* someone else's, unlinked through the wrapper */
};

/* Host: performs the plan, checks each call, reports the tracker, and
 * waits to be killed. */
static int host(void *arg, int w)
{
    const struct plan *p = arg;
    enum kind k = p->kind;
    RT_CHECK(w, wrap_open(k, p->created, O_CREAT | O_EXCL), 0, 0);
    RT_CHECK(w, wrap_open(k, p->created, O_CREAT | O_EXCL), -1, EEXIST);
    RT_CHECK(w, wrap_open(k, p->maybe, O_CREAT), 0, 0);
    RT_CHECK(w, wrap_open(k, p->maybe, O_CREAT), 0, 0); /* attach now */
    RT_CHECK(w, wrap_open(k, p->theirs, O_CREAT), 0, 0);
    RT_CHECK(w, wrap_open(k, p->theirs, 0), 0, 0);
    RT_CHECK(w, wrap_open(k, p->theirs, O_CREAT | O_EXCL), -1, EEXIST);
    RT_CHECK(w, wrap_open(k, p->unlinked, 0), -1, ENOENT);
    RT_CHECK(w, wrap_open(k, p->unlinked, O_CREAT | O_EXCL), 0, 0);
    RT_CHECK(w, wrap_unlink(k, p->unlinked), 0, 0);
    RT_CHECK(w, wrap_unlink(k, p->unlinked), -1, ENOENT);
    RT_CHECK(w, wrap_unlink(k, p->removed), 0, 0);
    RT_CHECK(w, wrap_open(k, NULL, O_CREAT), -1, EINVAL);
    RT_CHECK(w, wrap_unlink(k, NULL), -1, EINVAL);
    proc_say(w, "pid %ld", (long)rt_tracker_pid());
    rt_test_hang();
}

static void run_plan(void **state, enum kind k)
{
    struct rt_test *t = *state;
    char created[128];
    char maybe[128];
    char theirs[128];
    char unlinked[128];
    char removed[128];
    struct plan p = {k,
                     rt_test_name(t, created, 128, "created"),
                     rt_test_name(t, maybe, 128, "maybe"),
                     rt_test_name(t, theirs, 128, "theirs"),
                     rt_test_name(t, unlinked, 128, "unlinked"),
                     rt_test_name(t, removed, 128, "removed")};
    if (k == MQ) {
        rt_test_track_mqueue(t, created);
        rt_test_track_mqueue(t, maybe);
        rt_test_track_mqueue(t, theirs);
        rt_test_track_mqueue(t, unlinked);
        rt_test_track_mqueue(t, removed);
    }
    assert_int_equal(plain_create(k, theirs), 0);
    assert_int_equal(plain_create(k, removed), 0);
    int status = rt_test_run_killed(t, host, &p);
    /* Exactly the two objects it created were left and cleaned up; the one
     * it only attached to is untouched; no line was bad, no unlink failed,
     * and removing someone else's object drew no warning. */
    assert_int_equal(status, 1);
    assert_false(exists(k, created));
    assert_false(exists(k, maybe));
    assert_true(exists(k, theirs));
    assert_false(exists(k, removed));
    char want[512];
    snprintf(want, sizeof(want),
             "resource_tracker: There appear to be 2 leaked %s objects to "
             "clean up at shutdown: {'%s', '%s'}\n",
             kind_rtype[k], created, maybe);
    assert_string_equal(rt_test_stderr(t), want);
    plain_unlink(k, theirs);
}

static void shm_wrappers_track_what_they_create(void **state)
{
    run_plan(state, SHM);
}

static void sem_wrappers_track_what_they_create(void **state)
{
    run_plan(state, SEM);
}

static void mq_wrappers_track_what_they_create(void **state)
{
    run_plan(state, MQ);
}

/* Someone else's object, opened with O_CREAT | O_EXCL | O_TRUNC through
 * the wrapper: the call fails and the object keeps its size. */
static int excl_host(void *arg, int w)
{
    const char *name = arg;
    RT_CHECK(w, rt_shm_open(name, O_CREAT | O_EXCL | O_TRUNC | O_RDWR, 0600),
             -1, EEXIST);
    RT_CHECK_EQ(w, rt_tracker_pid(), -1); /* nothing was even registered */
    return rt_test_failures;
}

static void excl_on_existing_touches_nothing(void **state)
{
    struct rt_test *t = *state;
    char name[128];
    rt_test_name(t, name, sizeof(name), "theirs");
    assert_int_equal(rt_test_make_shm(name), 0);
    rt_test_run_host(t, excl_host, name, 20);
    int fd = shm_open(name, O_RDONLY, 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_size, 4096);
    close(fd);
    shm_unlink(name);
}

/* An unlink through the wrapper that fails keeps the registration: once
 * because someone else unlinked the segment first (the tracker then finds
 * it gone and says so), and, when the test runs as root, once because the
 * caller may not remove the semaphore (another effective uid, sticky
 * /dev/shm): the tracker, which may, removes it at the end. */
struct failing_plan {
    const char *gone;
    const char *kept;
    uid_t other_uid; /* 0: no second uid to act as */
};

static int failing_unlink_host(void *arg, int w)
{
    const struct failing_plan *p = arg;
    RT_CHECK(w, wrap_open(SHM, p->gone, O_CREAT | O_EXCL), 0, 0);
    RT_CHECK(w, shm_unlink(p->gone), 0, 0);
    RT_CHECK(w, rt_shm_unlink(p->gone), -1, ENOENT);
    if (p->other_uid != 0) {
        RT_CHECK(w, wrap_open(SEM, p->kept, O_CREAT | O_EXCL), 0, 0);
        RT_CHECK(w, seteuid(p->other_uid), 0, 0);
        int r = rt_sem_unlink(p->kept);
        int err = errno;
        /* glibc reports EACCES, musl the kernel's EPERM. */
        RT_CHECK_EQ(w, r == -1 && (err == EACCES || err == EPERM), 1);
        RT_CHECK(w, seteuid(0), 0, 0);
    }
    proc_say(w, "pid %ld", (long)rt_tracker_pid());
    rt_test_hang();
}

static void failed_unlink_keeps_the_registration(void **state)
{
    struct rt_test *t = *state;
    char gone[128];
    char kept[128];
    const struct passwd *pw = getpwnam("nobody");
    struct failing_plan p = {rt_test_name(t, gone, 128, "gone"),
                             rt_test_name(t, kept, 128, "kept"),
                             geteuid() == 0 && pw != NULL ? pw->pw_uid : 0};
    /* 2: the unlink of GONE failed. */
    assert_int_equal(rt_test_run_killed(t, failing_unlink_host, &p), 2);
    const char *err = rt_test_stderr(t);
    char want[512];
    snprintf(want, sizeof(want),
             "resource_tracker: There appear to be 1 leaked shared_memory "
             "objects to clean up at shutdown: {'%s'}\n",
             gone);
    assert_non_null(strstr(err, want));
    snprintf(want, sizeof(want), "resource_tracker: '%s': [Errno %d] %s\n",
             gone, ENOENT, strerror(ENOENT));
    assert_non_null(strstr(err, want));
    int lines = 2;
    if (p.other_uid != 0) {
        assert_false(exists(SEM, kept));
        snprintf(want, sizeof(want),
                 "resource_tracker: There appear to be 1 leaked semaphore "
                 "objects to clean up at shutdown: {'%s'}\n",
                 kept);
        assert_non_null(strstr(err, want));
        lines = 3;
    }
    assert_int_equal(rt_test_count(err, "resource_tracker:"), lines);
}

/* ---- the raw calls against libc's ---- */

/* What one call gave: success, or its errno. */
struct outcome {
    int ok;
    int err;
};

static struct outcome outcome_of(int r)
{
    return (struct outcome){r >= 0, r >= 0 ? 0 : errno};
}

static struct outcome outcome_neg(int r)
{
    return (struct outcome){r >= 0, r >= 0 ? 0 : -r};
}

/* Mismatches, gathered so that every object is removed before the test
 * fails. */
struct report {
    char text[8192];
    size_t len;
};

static void expect_same(struct report *rep, const char *call, const char *name,
                        struct outcome libc, struct outcome raw)
{
    if (libc.ok == raw.ok && libc.err == raw.err) {
        return;
    }
    int n = snprintf(rep->text + rep->len, sizeof(rep->text) - rep->len,
                     "%s(\"%.40s\"%s) [%zu]: libc %s %s, raw %s %s\n", call,
                     name, strlen(name) > 40 ? "..." : "", strlen(name),
                     libc.ok ? "ok" : "fails", strerror(libc.err),
                     raw.ok ? "ok" : "fails", strerror(raw.err));
    if (n > 0 && rep->len + (size_t)n < sizeof(rep->text)) {
        rep->len += (size_t)n;
    }
}

static void expect_true(struct report *rep, const char *what, const char *name,
                        int cond)
{
    if (!cond) {
        expect_same(rep, what, name, (struct outcome){1, 0},
                    (struct outcome){0, 0});
    }
}

static int same_inode(int a, int b)
{
    struct stat sa;
    struct stat sb;
    return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* Descriptor flags libc's shm_open sets (O_CLOEXEC, musl's O_NONBLOCK). */
static int same_flags(int a, int b)
{
    return fcntl(a, F_GETFD) == fcntl(b, F_GETFD) &&
           fcntl(a, F_GETFL) == fcntl(b, F_GETFL);
}

/* Each libc call's outcome is taken before the raw call runs: errno is
 * read at once. */
static void compare_shm(struct report *rep, const char *name)
{
    int flags = O_RDWR | O_CREAT | O_EXCL;
    int fd = shm_open(name, flags, 0600);
    struct outcome libc = outcome_of(fd);
    if (fd >= 0) {
        close(fd);
        shm_unlink(name);
    }
    int raw = rt__raw_shm_open(name, flags, 0600);
    expect_same(rep, "shm_open create", name, libc, outcome_neg(raw));
    if (raw >= 0) {
        /* The same object libc finds, opened the same way. */
        fd = shm_open(name, O_RDWR, 0);
        expect_true(rep, "shm_open finds raw's object, same flags", name,
                    fd >= 0 && same_inode(fd, raw) && same_flags(fd, raw));
        close(fd);
        close(raw);
    }
    const int modes[] = {O_RDONLY, O_RDWR};
    for (int i = 0; i < 2; i++) {
        fd = shm_open(name, modes[i], 0);
        libc = outcome_of(fd);
        raw = rt__raw_shm_open(name, modes[i], 0);
        expect_same(rep, i == 0 ? "shm_open read-only" : "shm_open read-write",
                    name, libc, outcome_neg(raw));
        close(fd);
        close(raw);
    }
    libc = outcome_of(shm_unlink(name));
    if (libc.ok) {
        close(shm_open(name, flags, 0600));
    }
    expect_same(rep, "shm_unlink", name, libc,
                outcome_neg(rt__raw_shm_unlink(name)));
    libc = outcome_of(shm_unlink(name));
    expect_same(rep, "shm_unlink again", name, libc,
                outcome_neg(rt__raw_shm_unlink(name)));
}

/* What stands at the file of semaphore NAME: the raw path's error, or
 * lstat's result there. */
static struct outcome sem_path_outcome(const char *name)
{
    char path[RT_RAW_PATH_MAX];
    int r = rt__raw_sem_path(name, path, sizeof(path));
    if (r < 0) {
        return outcome_neg(r);
    }
    struct stat st;
    return outcome_of(lstat(path, &st));
}

static void compare_sem(struct report *rep, const char *name)
{
    sem_t *s = sem_open(name, O_CREAT | O_EXCL, 0600, 1);
    struct outcome libc = {s != SEM_FAILED, s != SEM_FAILED ? 0 : errno};
    if (s != SEM_FAILED) {
        sem_close(s);
    }
    /* A semaphore libc made (or found) is a file at the raw path; a name
     * libc refuses, the raw path refuses with the same errno. */
    if (libc.err == EEXIST) {
        libc = (struct outcome){1, 0};
    }
    expect_same(rep, "sem_open create", name, libc, sem_path_outcome(name));
    libc = outcome_of(sem_unlink(name));
    if (libc.ok) {
        sem_close(sem_open(name, O_CREAT | O_EXCL, 0600, 1));
    }
    expect_same(rep, "sem_unlink", name, libc,
                outcome_neg(rt__raw_sem_unlink(name)));
    libc = outcome_of(sem_unlink(name));
    expect_same(rep, "sem_unlink again", name, libc,
                outcome_neg(rt__raw_sem_unlink(name)));
}

static void compare_mq(struct report *rep, const char *name)
{
    struct mq_attr attr = {.mq_maxmsg = 4, .mq_msgsize = 32};
    int flags = O_RDWR | O_CREAT | O_EXCL;
    mqd_t q = mq_open(name, flags, 0600, &attr);
    struct outcome libc = outcome_of((int)q);
    if (q != (mqd_t)-1) {
        mq_close(q);
        mq_unlink(name);
    }
    int raw = rt__raw_mq_open(name, flags, 0600, &attr);
    expect_same(rep, "mq_open create", name, libc, outcome_neg(raw));
    if (raw >= 0) {
        q = mq_open(name, O_RDWR);
        expect_true(rep, "mq_open finds raw's queue, same flags", name,
                    q != (mqd_t)-1 && same_inode((int)q, raw) &&
                        same_flags((int)q, raw));
        mq_close(q);
        close(raw);
    }
    q = mq_open(name, O_RDONLY);
    libc = outcome_of((int)q);
    raw = rt__raw_mq_open(name, O_RDONLY, 0, NULL);
    expect_same(rep, "mq_open read-only", name, libc, outcome_neg(raw));
    mq_close(q);
    close(raw);
    libc = outcome_of(mq_unlink(name));
    if (libc.ok) {
        mq_close(mq_open(name, flags, 0600, &attr));
    }
    expect_same(rep, "mq_unlink", name, libc,
                outcome_neg(rt__raw_mq_unlink(name)));
    libc = outcome_of(mq_unlink(name));
    expect_same(rep, "mq_unlink again", name, libc,
                outcome_neg(rt__raw_mq_unlink(name)));
}

/* As another user, objects root made in the sticky /dev/shm (and the
 * mqueue file system's sticky root): the kernel's EPERM, as each libc
 * reports it (glibc EACCES, musl EPERM but for mq_unlink). Root only. */
static void compare_foreign_unlinks(struct report *rep, const char *name)
{
    const struct passwd *pw = getpwnam("nobody");
    if (geteuid() != 0 || pw == NULL) {
        return;
    }
    struct mq_attr attr = {.mq_maxmsg = 4, .mq_msgsize = 32};
    close(shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0644));
    sem_close(sem_open(name, O_CREAT | O_EXCL, 0644, 1));
    mq_close(mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0644, &attr));
    if (seteuid(pw->pw_uid) == 0) {
        struct outcome libc = outcome_of(shm_unlink(name));
        expect_same(rep, "shm_unlink as nobody", name, libc,
                    outcome_neg(rt__raw_shm_unlink(name)));
        libc = outcome_of(sem_unlink(name));
        expect_same(rep, "sem_unlink as nobody", name, libc,
                    outcome_neg(rt__raw_sem_unlink(name)));
        libc = outcome_of(mq_unlink(name));
        expect_same(rep, "mq_unlink as nobody", name, libc,
                    outcome_neg(rt__raw_mq_unlink(name)));
        expect_true(rep, "back to root", name, seteuid(0) == 0);
    }
    shm_unlink(name);
    sem_unlink(name);
    mq_unlink(name);
}

#define NNAMES 24
#define NAME_LEN 320

/* "PREFIX-aaa...a", its part after the slash LEN bytes long. */
static const char *long_name(const struct rt_test *t, char *buf, size_t len)
{
    size_t have = (size_t)snprintf(buf, NAME_LEN, "%s-", t->prefix) - 1;
    memset(buf + have + 1, 'a', len - have);
    buf[len + 1] = '\0';
    return buf;
}

/* Good names (the test's prefix: teardown removes a leftover), the empty
 * name, slashes in every place, ".", "..", and lengths on each side of
 * every limit: NAME_MAX for the kernel (with and without glibc's "sem."),
 * and glibc's 269-byte buffer. */
static int names_table(const struct rt_test *t, char names[NNAMES][NAME_LEN])
{
    int n = 0;
    rt_test_name(t, names[n++], NAME_LEN, "good");
    snprintf(names[n++], NAME_LEN, "%s", "");
    snprintf(names[n++], NAME_LEN, "%s", "/");
    snprintf(names[n++], NAME_LEN, "/%s-twice", t->prefix);
    snprintf(names[n++], NAME_LEN, "///%s-thrice", t->prefix);
    snprintf(names[n++], NAME_LEN, "%s-a/b", t->prefix);
    snprintf(names[n++], NAME_LEN, "%s-trailing/", t->prefix);
    snprintf(names[n++], NAME_LEN, "%s-noslash", t->prefix + 1);
    const char *dots[] = {".", "..", "/.", "/..", "//..", "/...", "/.x"};
    for (size_t i = 0; i < sizeof(dots) / sizeof(dots[0]); i++) {
        snprintf(names[n++], NAME_LEN, "%s", dots[i]);
    }
    const size_t lens[] = {251, 252, 255, 256, 259, 260, 300};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        long_name(t, names[n++], lens[i]);
    }
    assert_true(n <= NNAMES);
    return n;
}

/* Every name through each raw call and through libc's, in the same state:
 * the same success, the same errno, the same object. */
static void raw_calls_do_what_libc_does(void **state)
{
    struct rt_test *t = *state;
    static char names[NNAMES][NAME_LEN];
    int n = names_table(t, names);
    static struct report rep;
    rep.len = 0;
    rep.text[0] = '\0';
    for (int i = 0; i < n; i++) {
        compare_shm(&rep, names[i]);
        compare_sem(&rep, names[i]);
        compare_mq(&rep, names[i]);
    }
    char foreign[128];
    compare_foreign_unlinks(&rep, rt_test_name(t, foreign, 128, "foreign"));
    /* O_NOFOLLOW: a symbolic link in /dev/shm is no shared memory. */
    char target[128];
    char link_name[128];
    char path[256];
    rt_test_name(t, target, sizeof(target), "target");
    rt_test_name(t, link_name, sizeof(link_name), "link");
    snprintf(path, sizeof(path), "/dev/shm%s", link_name);
    assert_int_equal(symlink(target + 1, path), 0);
    int fd = shm_open(link_name, O_RDWR | O_CREAT, 0600);
    struct outcome libc = outcome_of(fd);
    int raw = rt__raw_shm_open(link_name, O_RDWR | O_CREAT, 0600);
    expect_same(&rep, "shm_open link", link_name, libc, outcome_neg(raw));
    close(fd);
    close(raw);
    unlink(path);
    /* Whatever a failure left (names outside the prefix included). */
    for (int i = 0; i < n; i++) {
        shm_unlink(names[i]);
        sem_unlink(names[i]);
        mq_unlink(names[i]);
        char slashed[NAME_LEN + 1] = "/";
        memcpy(slashed + 1, names[i], strlen(names[i]) + 1);
        mq_unlink(slashed);
    }
    shm_unlink(target);
    if (rep.len > 0) {
        fail_msg("raw calls differ from libc's:\n%s", rep.text);
    }
}

/* ---- what a semaphore is made of ---- */

/* The file of semaphore NAME: its sem_t bytes. 0 or -1. */
static int sem_bytes(const char *name, unsigned char *buf)
{
    char path[RT_RAW_PATH_MAX];
    if (rt__raw_sem_path(name, path, sizeof(path)) < 0) {
        return -1;
    }
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        return -1;
    }
    ssize_t n = read(fd, buf, sizeof(sem_t));
    close(fd);
    return n == (ssize_t)sizeof(sem_t) ? 0 : -1;
}

struct bytes_plan {
    const char *ours;
    const char *theirs;
};

/* Which bytes of a sem_t sem_init writes (the others keep what was there:
 * musl's sem_open leaves them as its stack was, glibc's zeroes them). */
static void sem_init_bytes(unsigned char *ret_mask)
{
    sem_t zero;
    sem_t ones;
    memset(&zero, 0, sizeof(zero));
    memset(&ones, 0xff, sizeof(ones));
    sem_init(&zero, 1, 3);
    sem_init(&ones, 1, 3);
    for (size_t i = 0; i < sizeof(sem_t); i++) {
        ret_mask[i] =
            ((unsigned char *)&zero)[i] == ((unsigned char *)&ones)[i];
    }
}

/* Whether A and B agree on every byte sem_init writes, and A is zero in
 * every other. */
static int same_semaphore(const unsigned char *a, const unsigned char *b)
{
    unsigned char written[sizeof(sem_t)];
    sem_init_bytes(written);
    for (size_t i = 0; i < sizeof(sem_t); i++) {
        if (written[i] ? a[i] != b[i] : a[i] != 0) {
            return 0;
        }
    }
    return 1;
}

/* A semaphore written by rt_sem_open holds the state sem_open writes, and
 * works through a second mapping at another address: posted there, taken
 * through the one sem_open made. */
static int bytes_host(void *arg, int w)
{
    const struct bytes_plan *p = arg;
    sem_t *ours = rt_sem_open(p->ours, O_CREAT | O_EXCL, 0600, 3);
    sem_t *theirs = sem_open(p->theirs, O_CREAT | O_EXCL, 0600, 3);
    RT_CHECK_EQ(w, ours != SEM_FAILED && theirs != SEM_FAILED, 1);
    if (rt_test_failures > 0) {
        return rt_test_failures;
    }
    unsigned char a[sizeof(sem_t)];
    unsigned char b[sizeof(sem_t)];
    RT_CHECK(w, sem_bytes(p->ours, a), 0, 0);
    RT_CHECK(w, sem_bytes(p->theirs, b), 0, 0);
    RT_CHECK_EQ(w, same_semaphore(a, b), 1);
    int value = -1;
    RT_CHECK(w, sem_getvalue(ours, &value), 0, 0);
    RT_CHECK_EQ(w, value, 3);
    char path[RT_RAW_PATH_MAX];
    RT_CHECK(w, rt__raw_sem_path(p->ours, path, sizeof(path)), 0, 0);
    int fd = open(path, O_RDWR);
    sem_t *again =
        mmap(NULL, sizeof(sem_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    RT_CHECK_EQ(w, again != MAP_FAILED && again != ours, 1);
    close(fd);
    for (int i = 0; i < 3; i++) {
        RT_CHECK(w, sem_trywait(ours), 0, 0);
    }
    RT_CHECK(w, sem_trywait(ours), -1, EAGAIN);
    RT_CHECK(w, sem_post(again), 0, 0);
    RT_CHECK(w, sem_trywait(ours), 0, 0);
    munmap(again, sizeof(sem_t));
    sem_close(ours);
    sem_close(theirs);
    RT_CHECK(w, rt_sem_unlink(p->ours), 0, 0);
    RT_CHECK(w, sem_unlink(p->theirs), 0, 0);
    return rt_test_failures;
}

static void semaphore_holds_what_sem_open_writes(void **state)
{
    struct rt_test *t = *state;
    char ours[128];
    char theirs[128];
    struct bytes_plan p = {rt_test_name(t, ours, sizeof(ours), "ours"),
                           rt_test_name(t, theirs, sizeof(theirs), "theirs")};
    rt_test_run_host(t, bytes_host, &p, 20);
}

/* ---- a full /dev/shm ---- */

/* Reads a host's report until EOF: its failed checks are printed, and the
 * pid of its tracker ("pid N") returned (-1 if it said none). */
static long read_report(int rfd, int *ret_lines)
{
    char line[512];
    long tracker = -1;
    *ret_lines = 0;
    while (rt_test_read_line(rfd, line, sizeof(line), 30) >= 0) {
        if (strncmp(line, "pid ", 4) == 0) {
            tracker = strtol(line + 4, NULL, 10);
        } else {
            print_error("host: %s\n", line);
            (*ret_lines)++;
        }
    }
    close(rfd);
    return tracker;
}

/* Whether a child may have a mount namespace of its own. */
static int can_unshare_mounts(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        _exit(unshare(CLONE_NEWNS) == 0 ? 0 : 1);
    }
    int st = rt_test_wait_pid(pid, 10);
    return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

struct full_plan {
    const char *sem;
    const char *shm;
    const char *plain;
    const char *filler; /* its path */
};

/* Whether /dev/shm holds the file at FILLER and nothing else. */
static int only_filler(const char *filler)
{
    DIR *d = opendir("/dev/shm");
    if (d == NULL) {
        return 0;
    }
    int others = 0;
    int found = 0;
    for (const struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        if (strcmp(e->d_name, filler + strlen("/dev/shm/")) == 0) {
            found = 1;
        } else {
            others++;
        }
    }
    closedir(d);
    return found && others == 0;
}

/* Fills /dev/shm up: 0 once a write says ENOSPC, else -1. */
static int fill(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        return -1;
    }
    static const char block[4096];
    while (write(fd, block, sizeof(block)) > 0) {
    }
    int err = errno;
    close(fd);
    return err == ENOSPC ? 0 : -1;
}

/* In a mount namespace of its own, on a 64 KiB /dev/shm filled up: the
 * semaphore cannot be written, and rt_sem_open says so (ENOSPC) where a
 * store through a mapping would have raised SIGBUS; its temporary file is
 * gone. Shared memory behaves as shm_open's: created, sized (sparse), and
 * what touching its pages does is the program's business. */
static int full_host(void *arg, int w)
{
    const struct full_plan *p = arg;
    RT_CHECK(w, unshare(CLONE_NEWNS), 0, 0);
    RT_CHECK(w, mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL), 0, 0);
    RT_CHECK(w,
             mount("rt-test", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV,
                   "size=64k,mode=1777"),
             0, 0);
    if (rt_test_failures > 0) {
        return rt_test_failures;
    }
    RT_CHECK(w, fill(p->filler), 0, 0);
    errno = 0;
    sem_t *s = rt_sem_open(p->sem, O_CREAT | O_EXCL, 0600, 1);
    int err = errno;
    RT_CHECK_EQ(w, s == SEM_FAILED, 1);
    RT_CHECK_EQ(w, err, ENOSPC);
    RT_CHECK_EQ(w, only_filler(p->filler), 1);
    int plain = shm_open(p->plain, O_CREAT | O_EXCL | O_RDWR, 0600);
    int ours = rt_shm_open(p->shm, O_CREAT | O_EXCL | O_RDWR, 0600);
    RT_CHECK_EQ(w, plain >= 0 && ours >= 0, 1);
    RT_CHECK(w, ftruncate(plain, 1 << 20), 0, 0);
    RT_CHECK(w, ftruncate(ours, 1 << 20), 0, 0);
    close(plain);
    close(ours);
    RT_CHECK(w, shm_unlink(p->plain), 0, 0);
    RT_CHECK(w, rt_shm_unlink(p->shm), 0, 0);
    RT_CHECK_EQ(w, only_filler(p->filler), 1);
    proc_say(w, "pid %ld", (long)rt_tracker_pid());
    return rt_test_failures;
}

static void sem_open_on_full_dev_shm_says_enospc(void **state)
{
    struct rt_test *t = *state;
    if (geteuid() != 0 || !can_unshare_mounts()) {
        skip(); /* mounting a tmpfs takes CAP_SYS_ADMIN */
    }
    char sem[128];
    char shm[128];
    char plain[128];
    char filler[160];
    snprintf(filler, sizeof(filler), "/dev/shm%s-filler", t->prefix);
    struct full_plan p = {rt_test_name(t, sem, sizeof(sem), "sem"),
                          rt_test_name(t, shm, sizeof(shm), "shm"),
                          rt_test_name(t, plain, sizeof(plain), "plain"),
                          filler};
    int rfd;
    pid_t pid = rt_test_fork(t, full_host, &p, &rfd);
    int failed;
    long tracker = read_report(rfd, &failed);
    int st = rt_test_wait_pid(pid, 20);
    assert_int_equal(failed, 0);
    assert_true(st != -1 && WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    /* Its tracker ends clean (0): every registration was withdrawn, the
     * temporary name's included. */
    assert_true(tracker > 0);
    rt_test_track(t, (pid_t)tracker);
    st = rt_test_wait_pid((pid_t)tracker, 30);
    assert_true(st != -1 && WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_string_equal(rt_test_stderr(t), "");
    /* That /dev/shm was the namespace's: ours holds nothing of the test. */
    assert_int_equal(rt_test_count_prefix(t->prefix), 0);
}

/* ---- files planted where temporary names go ---- */

#define DECOYS 4

/* Temporary names of the old scheme, "/rt-sem-PID-N", which anybody could
 * predict. */
static void old_scheme_name(pid_t pid, int i, char *buf, size_t len)
{
    snprintf(buf, len, "/rt-sem-%ld-%d", (long)pid, i);
}

/* Plants a decoy at the file of semaphore NAME, holding MARK. 0 or -1. */
static int plant(const char *name, const char *mark)
{
    char path[RT_RAW_PATH_MAX];
    if (rt__raw_sem_path(name, path, sizeof(path)) < 0) {
        return -1;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        return -1;
    }
    ssize_t n = write(fd, mark, strlen(mark));
    close(fd);
    return n == (ssize_t)strlen(mark) ? 0 : -1;
}

/* Whether the decoy at NAME still holds MARK and only MARK. */
static int intact(const char *name, const char *mark)
{
    char path[RT_RAW_PATH_MAX];
    char buf[64];
    if (rt__raw_sem_path(name, path, sizeof(path)) < 0) {
        return 0;
    }
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        return 0;
    }
    ssize_t n = read(fd, buf, sizeof(buf));
    close(fd);
    return n == (ssize_t)strlen(mark) && memcmp(buf, mark, (size_t)n) == 0;
}

/* Decoys at the names the old code would have used first: rt_sem_open
 * creates all the same, and leaves them as they were. */
static int decoy_host(void *arg, int w)
{
    const char *sem = arg;
    char name[64];
    static struct rt_test_tmp before;
    rt_test_tmp_snapshot(&before);
    for (int i = 0; i < DECOYS; i++) {
        old_scheme_name(getpid(), i, name, sizeof(name));
        RT_CHECK(w, plant(name, "not yours"), 0, 0);
    }
    for (int i = 0; i < 3; i++) {
        sem_t *s = rt_sem_open(sem, O_CREAT | O_EXCL, 0600, 1);
        RT_CHECK_EQ(w, s != SEM_FAILED, 1);
        if (s != SEM_FAILED) {
            sem_close(s);
        }
        RT_CHECK_EQ(w, rt_test_tmp_new(&before), 0);
        RT_CHECK(w, rt_sem_unlink(sem), 0, 0);
    }
    for (int i = 0; i < DECOYS; i++) {
        old_scheme_name(getpid(), i, name, sizeof(name));
        RT_CHECK_EQ(w, intact(name, "not yours"), 1);
    }
    return rt_test_failures;
}

static void planted_files_neither_block_nor_vanish(void **state)
{
    struct rt_test *t = *state;
    char sem[128];
    rt_test_name(t, sem, sizeof(sem), "sem");
    int rfd;
    pid_t pid = rt_test_fork(t, decoy_host, sem, &rfd);
    int failed;
    (void)read_report(rfd, &failed);
    int st = rt_test_wait_pid(pid, 20);
    /* The decoys are outside the prefix: removed here, before asserting. */
    char name[64];
    char path[RT_RAW_PATH_MAX];
    int left = 0;
    for (int i = 0; i < DECOYS; i++) {
        old_scheme_name(pid, i, name, sizeof(name));
        assert_int_equal(rt__raw_sem_path(name, path, sizeof(path)), 0);
        left += unlink(path) == 0;
    }
    assert_int_equal(failed, 0);
    assert_true(st != -1 && WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_int_equal(left, DECOYS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        RT_TEST(shm_wrappers_track_what_they_create),
        RT_TEST(sem_wrappers_track_what_they_create),
        RT_TEST(mq_wrappers_track_what_they_create),
        RT_TEST(excl_on_existing_touches_nothing),
        RT_TEST(failed_unlink_keeps_the_registration),
        RT_TEST(raw_calls_do_what_libc_does),
        RT_TEST(semaphore_holds_what_sem_open_writes),
        RT_TEST(sem_open_on_full_dev_shm_says_enospc),
        RT_TEST(planted_files_neither_block_nor_vanish),
    };
    return RT_RUN(tests);
}
