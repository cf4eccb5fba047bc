/* SPDX-License-Identifier: MIT */
/* The wrappers seen from inside, through two calls redirected at link time
 * (-Wl,--wrap, see the Makefile): rt__client_identify hears of each object
 * a wrapper creates, once, with its device and inode, and of nothing else;
 * getrandom(2), scripted, makes rt_sem_open's first temporary names collide
 * with files planted there, which it must step around and leave alone, and
 * fails, for the fallback that mixes clocks, pid and addresses. */
#define _GNU_SOURCE
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rawipc.h"
#include "resourcetracker.h"

/* ---- what the wrapped calls record (in the host process) ---- */

#define CALLS_MAX 16

struct identify_call {
    char name[128];
    char rtype[32];
    dev_t dev;
    ino_t ino;
};

static struct identify_call calls[CALLS_MAX];
static int ncalls;

int __real_rt__client_identify(const char *name, const char *rtype, dev_t dev,
                               ino_t ino);
int __wrap_rt__client_identify(const char *name, const char *rtype, dev_t dev,
                               ino_t ino);

/* When set (in a child that a test holds back), each identity waits here
 * after its object was created and before it is sent: the child says "c"
 * on GATE_SAY, then waits for a byte on GATE_WAIT. */
static int gate_say = -1;
static int gate_wait = -1;

int __wrap_rt__client_identify(const char *name, const char *rtype, dev_t dev,
                               ino_t ino)
{
    if (gate_say >= 0) {
        char c = 'c';
        if (write(gate_say, &c, 1) != 1 || read(gate_wait, &c, 1) != 1) {
            _exit(3);
        }
    }
    if (ncalls < CALLS_MAX) {
        struct identify_call *c = &calls[ncalls];
        snprintf(c->name, sizeof(c->name), "%s", name);
        snprintf(c->rtype, sizeof(c->rtype), "%s", rtype);
        c->dev = dev;
        c->ino = ino;
    }
    ncalls++;
    return __real_rt__client_identify(name, rtype, dev, ino);
}

/* Scripted randomness: the next SCRIPTED draws fill their buffer with the
 * byte 0xa0, 0xa1, ...; with STUCK every draw gives 0xa0; with BROKEN
 * every draw fails as on a kernel without getrandom (ENOSYS); otherwise
 * the kernel's bytes. */
static int scripted;
static int next_byte;
static int stuck;
static int broken;
static int random_calls;

ssize_t __real_getrandom(void *buf, size_t len, unsigned flags);
ssize_t __wrap_getrandom(void *buf, size_t len, unsigned flags);

ssize_t __wrap_getrandom(void *buf, size_t len, unsigned flags)
{
    random_calls++;
    if (broken) {
        errno = ENOSYS;
        return -1;
    }
    if (stuck) {
        memset(buf, 0xa0, len);
        return (ssize_t)len;
    }
    if (scripted > 0) {
        scripted--;
        memset(buf, 0xa0 + next_byte++, len);
        return (ssize_t)len;
    }
    return __real_getrandom(buf, len, flags);
}

/* The temporary name the I-th scripted draw gives: "/rt-tmp-" and the
 * byte 0xa0 + I as 16 hex digits. */
static void scripted_name(int i, char *buf, size_t len)
{
    char hex[3];
    snprintf(hex, sizeof(hex), "%02x", 0xa0 + i);
    snprintf(buf, len, "/rt-tmp-");
    for (int k = 0; k < 8; k++) {
        strncat(buf, hex, len - strlen(buf) - 1);
    }
}

/* ---- the identity hook ---- */

struct id_plan {
    const char *shm;
    const char *sem;
    const char *mq;
    const char *bad; /* a name no call accepts */
};

/* Whether call I names NAME of RTYPE with the identity of ST. */
static int call_is(int i, const char *name, const char *rtype,
                   const struct stat *st)
{
    return i < ncalls && i < CALLS_MAX && strcmp(calls[i].name, name) == 0 &&
           strcmp(calls[i].rtype, rtype) == 0 && calls[i].dev == st->st_dev &&
           calls[i].ino == st->st_ino;
}

static int sem_stat(const char *name, struct stat *st)
{
    char path[RT_RAW_PATH_MAX];
    if (rt__raw_sem_path(name, path, sizeof(path)) < 0) {
        return -1;
    }
    return stat(path, st);
}

/* Each wrapper: created once (one call, the object's identity), then
 * opened again with O_CREAT, without it, and refused with O_EXCL (no
 * call); failures create nothing (no call). */
static int identify_host(void *arg, int w)
{
    const struct id_plan *p = arg;
    struct stat st;
    struct mq_attr attr = {.mq_maxmsg = 4, .mq_msgsize = 32};

    int fd = rt_shm_open(p->shm, O_CREAT | O_EXCL | O_RDWR, 0600);
    RT_CHECK_EQ(w, fd >= 0 && fstat(fd, &st) == 0, 1);
    RT_CHECK_EQ(w, ncalls, 1);
    RT_CHECK_EQ(w, call_is(0, p->shm, RT_SHARED_MEMORY, &st), 1);
    close(fd);
    close(rt_shm_open(p->shm, O_CREAT | O_RDWR, 0600));
    close(rt_shm_open(p->shm, O_RDWR, 0));
    RT_CHECK(w, rt_shm_open(p->shm, O_CREAT | O_EXCL | O_RDWR, 0600), -1,
             EEXIST);
    RT_CHECK(w, rt_shm_open(p->bad, O_CREAT | O_EXCL | O_RDWR, 0600), -1,
             EINVAL);
    RT_CHECK_EQ(w, ncalls, 1);

    sem_t *s = rt_sem_open(p->sem, O_CREAT | O_EXCL, 0600, 1);
    RT_CHECK_EQ(w, s != SEM_FAILED && sem_stat(p->sem, &st) == 0, 1);
    RT_CHECK_EQ(w, ncalls, 2);
    RT_CHECK_EQ(w, call_is(1, p->sem, RT_SEMAPHORE, &st), 1);
    sem_close(s);
    sem_close(rt_sem_open(p->sem, O_CREAT, 0600, 1));
    sem_close(rt_sem_open(p->sem, 0));
    RT_CHECK_EQ(w, rt_sem_open(p->sem, O_CREAT | O_EXCL, 0600, 1) == SEM_FAILED,
                1);
    RT_CHECK_EQ(w, rt_sem_open(p->bad, O_CREAT | O_EXCL, 0600, 1) == SEM_FAILED,
                1);
    RT_CHECK_EQ(w,
                rt_sem_open(p->mq, O_CREAT | O_EXCL, 0600, -1u) == SEM_FAILED,
                1); /* above SEM_VALUE_MAX: EINVAL, no file made */
    RT_CHECK_EQ(w, ncalls, 2);

    mqd_t q = rt_mq_open(p->mq, O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
    RT_CHECK_EQ(w, q != (mqd_t)-1 && fstat((int)q, &st) == 0, 1);
    RT_CHECK_EQ(w, ncalls, 3);
    RT_CHECK_EQ(w, call_is(2, p->mq, RT_MQUEUE, &st), 1);
    mq_close(q);
    mq_close(rt_mq_open(p->mq, O_CREAT | O_RDWR, 0600, &attr));
    mq_close(rt_mq_open(p->mq, O_RDWR));
    RT_CHECK(w, rt_mq_open(p->mq, O_CREAT | O_EXCL | O_RDWR, 0600, &attr), -1,
             EEXIST);
    RT_CHECK_EQ(w, ncalls, 3);

    RT_CHECK(w, rt_shm_unlink(p->shm), 0, 0);
    RT_CHECK(w, rt_sem_unlink(p->sem), 0, 0);
    RT_CHECK(w, rt_mq_unlink(p->mq), 0, 0);
    RT_CHECK_EQ(w, ncalls, 3);
    return rt_test_failures;
}

static void identity_hook_hears_of_each_creation_once(void **state)
{
    struct rt_test *t = *state;
    char shm[128];
    char sem[128];
    char mq[128];
    char bad[128];
    struct id_plan p = {rt_test_name(t, shm, sizeof(shm), "shm"),
                        rt_test_name(t, sem, sizeof(sem), "sem"),
                        rt_test_name(t, mq, sizeof(mq), "mq"),
                        rt_test_name(t, bad, sizeof(bad), "a/b")};
    rt_test_track_mqueue(t, mq);
    rt_test_run_host(t, identify_host, &p, 20);
}

/* ---- temporary names that are taken ---- */

#define DECOYS 3

/* Plants a file holding "not yours" at the file of semaphore NAME. */
static int plant(const char *name)
{
    char path[RT_RAW_PATH_MAX];
    if (rt__raw_sem_path(name, path, sizeof(path)) < 0) {
        return -1;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        return -1;
    }
    ssize_t n = write(fd, "not yours", 9);
    close(fd);
    return n == 9 ? 0 : -1;
}

/* Whether the file at NAME holds "not yours" and only that. */
static int intact(const char *name)
{
    char path[RT_RAW_PATH_MAX];
    char buf[32];
    if (rt__raw_sem_path(name, path, sizeof(path)) < 0) {
        return 0;
    }
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        return 0;
    }
    ssize_t n = read(fd, buf, sizeof(buf));
    close(fd);
    return n == 9 && memcmp(buf, "not yours", 9) == 0;
}

/* The first DECOYS temporary names rt_sem_open draws are taken: it draws
 * on (DECOYS + 1 draws), creates the semaphore, and every decoy is as it
 * was. Then every draw is taken: EAGAIN after a bounded number of tries,
 * nothing created, nothing removed. */
static int taken_host(void *arg, int w)
{
    const char *sem = arg;
    char name[64];
    for (int i = 0; i < DECOYS; i++) {
        scripted_name(i, name, sizeof(name));
        RT_CHECK(w, plant(name), 0, 0);
    }
    scripted = DECOYS;
    sem_t *s = rt_sem_open(sem, O_CREAT | O_EXCL, 0600, 1);
    RT_CHECK_EQ(w, s != SEM_FAILED, 1);
    RT_CHECK_EQ(w, random_calls, DECOYS + 1);
    RT_CHECK_EQ(w, rt_test_sem_exists(sem), 1);
    if (s != SEM_FAILED) {
        sem_close(s);
    }
    RT_CHECK(w, rt_sem_unlink(sem), 0, 0);
    /* Every draw the same taken name: a bounded number of draws, then
     * EAGAIN. */
    stuck = 1;
    random_calls = 0;
    errno = 0;
    s = rt_sem_open(sem, O_CREAT | O_EXCL, 0600, 1);
    int err = errno;
    RT_CHECK_EQ(w, s == SEM_FAILED && err == EAGAIN, 1);
    RT_CHECK_EQ(w, random_calls > 1 && random_calls <= 64, 1);
    RT_CHECK_EQ(w, rt_test_sem_exists(sem), 0);
    for (int i = 0; i < DECOYS; i++) {
        scripted_name(i, name, sizeof(name));
        RT_CHECK_EQ(w, intact(name), 1);
    }
    proc_say(w, "pid %ld", (long)rt_tracker_pid());
    return rt_test_failures;
}

static void taken_temporary_names_are_stepped_around(void **state)
{
    struct rt_test *t = *state;
    char sem[128];
    rt_test_name(t, sem, sizeof(sem), "sem");
    int rfd;
    pid_t pid = rt_test_fork(t, taken_host, sem, &rfd);
    char line[512];
    long tracker = -1;
    int failed = 0;
    while (rt_test_read_line(rfd, line, sizeof(line), 30) >= 0) {
        if (strncmp(line, "pid ", 4) == 0) {
            tracker = strtol(line + 4, NULL, 10);
        } else {
            print_error("host: %s\n", line);
            failed++;
        }
    }
    close(rfd);
    int st = rt_test_wait_pid(pid, 20);
    /* Its tracker has nothing to remove (0): no temporary name stayed
     * registered, so no decoy was in danger even after the host's end. */
    int tracker_st = tracker > 0 ? rt_test_wait_pid((pid_t)tracker, 30) : -1;
    char name[64];
    char path[RT_RAW_PATH_MAX];
    int left = 0;
    for (int i = 0; i < DECOYS; i++) {
        scripted_name(i, name, sizeof(name));
        assert_int_equal(rt__raw_sem_path(name, path, sizeof(path)), 0);
        left += unlink(path) == 0;
    }
    assert_int_equal(failed, 0);
    assert_true(st != -1 && WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_true(tracker_st != -1 && WIFEXITED(tracker_st));
    assert_int_equal(WEXITSTATUS(tracker_st), 0);
    assert_string_equal(rt_test_stderr(t), "");
    assert_int_equal(left, DECOYS);
}

/* Without getrandom(2) the temporary names come from the fallback mix:
 * semaphores are created all the same, one after another, and no
 * temporary file stays. */
static int fallback_host(void *arg, int w)
{
    const char *sem = arg;
    static struct rt_test_tmp before;
    rt_test_tmp_snapshot(&before);
    broken = 1;
    for (int i = 0; i < 8; i++) {
        sem_t *s = rt_sem_open(sem, O_CREAT | O_EXCL, 0600, 1);
        RT_CHECK_EQ(w, s != SEM_FAILED, 1);
        if (s != SEM_FAILED) {
            sem_close(s);
        }
        RT_CHECK(w, rt_sem_unlink(sem), 0, 0);
    }
    RT_CHECK_EQ(w, random_calls, 8);
    RT_CHECK_EQ(w, rt_test_tmp_new(&before), 0);
    return rt_test_failures;
}

static void names_without_getrandom(void **state)
{
    struct rt_test *t = *state;
    char sem[128];
    rt_test_name(t, sem, sizeof(sem), "sem");
    rt_test_run_host(t, fallback_host, sem, 20);
}

/* ---- an identity that comes late ---- */

struct late_plan {
    const char *shm;
    const char *sem;
};

static int create(const char *name, int sem)
{
    if (sem) {
        sem_t *s = rt_sem_open(name, O_CREAT | O_EXCL, 0600, 1);
        return s == SEM_FAILED ? -1 : sem_close(s);
    }
    int fd = rt_shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
    return fd < 0 ? -1 : close(fd);
}

/* A worker creates NAME and is held back before it sends the identity of
 * what it created; meanwhile the host unlinks that object and creates the
 * name again, with its own identity sent at once. The worker's identity,
 * read last, is of an object that no longer has the name: the tracker
 * must keep the host's, and remove the host's object at the end. */
static int late_one(int w, const char *name, int sem)
{
    int say[2];
    int wait_for[2];
    if (pipe(say) < 0 || pipe(wait_for) < 0) {
        RT_CHECK_EQ(w, -1, 0);
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        gate_say = say[1];
        gate_wait = wait_for[0];
        _exit(create(name, sem) == 0 ? 0 : 1);
    }
    char c;
    RT_CHECK_EQ(w, read(say[0], &c, 1), 1);
    RT_CHECK(w, sem ? rt_sem_unlink(name) : rt_shm_unlink(name), 0, 0);
    RT_CHECK(w, create(name, sem), 0, 0);
    RT_CHECK_EQ(w, write(wait_for[1], "g", 1), 1);
    int st = -1;
    RT_CHECK_EQ(w, waitpid(pid, &st, 0), pid);
    RT_CHECK_EQ(w, st, 0);
    close(say[0]);
    close(say[1]);
    close(wait_for[0]);
    close(wait_for[1]);
    return 0;
}

static int late_host(void *arg, int w)
{
    const struct late_plan *p = arg;
    RT_CHECK(w, rt_ensure_running(), 0, 0);
    late_one(w, p->shm, 0);
    late_one(w, p->sem, 1);
    if (rt_test_failures == 0) {
        proc_say(w, "pid %ld", (long)rt_tracker_pid());
    }
    rt_test_hang();
}

static void late_identity_of_an_unlinked_object_is_ignored(void **state)
{
    struct rt_test *t = *state;
    char shm[128];
    char sem[128];
    struct late_plan p = {rt_test_name(t, shm, sizeof(shm), "shm"),
                          rt_test_name(t, sem, sizeof(sem), "sem")};
    int status = rt_test_run_killed(t, late_host, &p);
    assert_int_equal(rt_test_shm_exists(p.shm), 0);
    assert_int_equal(rt_test_sem_exists(p.sem), 0);
    assert_int_equal(status, 1);
    assert_int_equal(rt_test_count(rt_test_stderr(t), "another object"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        RT_TEST(identity_hook_hears_of_each_creation_once),
        RT_TEST(taken_temporary_names_are_stepped_around),
        RT_TEST(names_without_getrandom),
        RT_TEST(late_identity_of_an_unlinked_object_is_ignored),
    };
    return RT_RUN(tests);
}
