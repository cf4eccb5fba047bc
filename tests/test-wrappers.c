/* SPDX-License-Identifier: MIT */
/* The drop-in wrappers: they track what they create and nothing else, so
 * an attaching process never causes someone else's object to be unlinked;
 * the unlink wrappers untrack only what they unlinked. */
#define _GNU_SOURCE
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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
    struct plan p = {k, rt_test_name(t, created, 128, "created"),
                     rt_test_name(t, maybe, 128, "maybe"),
                     rt_test_name(t, theirs, 128, "theirs"),
                     rt_test_name(t, unlinked, 128, "unlinked")};
    if (k == MQ) {
        rt_test_track_mqueue(t, created);
        rt_test_track_mqueue(t, maybe);
        rt_test_track_mqueue(t, theirs);
        rt_test_track_mqueue(t, unlinked);
    }
    assert_int_equal(plain_create(k, theirs), 0);
    int status = rt_test_run_killed(t, host, &p);
    /* Exactly the two objects it created were left and cleaned up; the one
     * it only attached to is untouched; no line was bad, no unlink failed. */
    assert_int_equal(status, 1);
    assert_false(exists(k, created));
    assert_false(exists(k, maybe));
    assert_true(exists(k, theirs));
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
    int rfd;
    pid_t pid = rt_test_fork(t, excl_host, name, &rfd);
    rt_test_expect_clean_exit(t, pid, rfd, 20);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        RT_TEST(shm_wrappers_track_what_they_create),
        RT_TEST(sem_wrappers_track_what_they_create),
        RT_TEST(mq_wrappers_track_what_they_create),
        RT_TEST(excl_on_existing_touches_nothing),
        RT_TEST(failed_unlink_keeps_the_registration),
    };
    return RT_RUN(tests);
}
