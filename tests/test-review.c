/* SPDX-License-Identifier: MIT */
/* The failures of the adversarial review (issue 10), each replayed with
 * real processes: racing creators and a group SIGKILL, a worker that gave
 * up its privileges, hosts with closed standard streams, daemons that
 * reuse descriptor numbers or keep the caller's stderr pipe, foreign
 * trackers, a child defining a type its parent's tracker lacks, and a
 * writer leaving half a line in the pipe. The PID namespace, chroot,
 * descriptor limit and pipe size items are in test-review2.c. */
#define _GNU_SOURCE
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <semaphore.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "resourcetracker.h"

/* nobody, on Debian and most systems. */
#define NOBODY 65534

static void write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static int path_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Reads the whole of PATH (at most CAP - 1 bytes) into BUF; its length or
 * -1. */
static ssize_t read_file(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    ssize_t n = read(fd, buf, cap - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return n;
}

/* ---- item 1: "first one creates, the others attach", then SIGKILL ---- */

enum race_kind { RACE_SHM_EXCL, RACE_SHM, RACE_SEM_EXCL, RACE_SEM };

struct race_args {
    const char *name;
    enum race_kind kind;
};

/* A worker: waits at the gate, then creates or attaches. */
static _Noreturn void race_worker(const struct race_args *a, int gate, int w)
{
    char c;
    while (read(gate, &c, 1) < 0 && errno == EINTR) {
    }
    int ok = 0;
    if (a->kind == RACE_SHM_EXCL || a->kind == RACE_SHM) {
        int excl = a->kind == RACE_SHM_EXCL ? O_EXCL : 0;
        int fd = rt_shm_open(a->name, O_CREAT | excl | O_RDWR, 0600);
        if (fd < 0 && errno == EEXIST && excl) {
            fd = shm_open(a->name, O_RDWR, 0);
        }
        ok = fd >= 0;
    } else {
        int excl = a->kind == RACE_SEM_EXCL ? O_EXCL : 0;
        sem_t *s = rt_sem_open(a->name, O_CREAT | excl, 0600, 1);
        if (s == SEM_FAILED && errno == EEXIST && excl) {
            s = sem_open(a->name, 0);
        }
        ok = s != SEM_FAILED;
    }
    if (ok) {
        proc_say(w, "ok");
    } else {
        proc_say(w, "failed: %s", strerror(errno));
    }
    rt_test_hang();
}

/* The master: its own process group, the tracker first, then two workers
 * released at the same instant (both wake at the gate's end-of-file). */
static int race_host(void *arg, int w)
{
    const struct race_args *a = arg;
    if (setpgid(0, 0) < 0 || rt_ensure_running() < 0) {
        return 90;
    }
    int gate[2];
    int rep[2];
    if (pipe(gate) < 0 || pipe(rep) < 0) {
        return 91;
    }
    for (int i = 0; i < 2; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            close(gate[1]);
            close(rep[0]);
            race_worker(a, gate[0], rep[1]);
        }
        proc_say(w, "worker %ld", (long)pid);
    }
    close(gate[0]);
    close(rep[1]);
    close(gate[1]);
    for (int i = 0; i < 2; i++) {
        char line[256];
        if (rt_test_read_line(rep[0], line, sizeof(line), 20) < 0 ||
            strcmp(line, "ok") != 0) {
            proc_say(w, "worker %d: %s", i, line);
        }
    }
    proc_say(w, "pid %ld", (long)rt_tracker_pid());
    rt_test_hang();
}

/* One round: the master and its workers SIGKILLed as a group (the
 * tracker, in a session of its own, is not in it); the tracker then
 * cleans up what the winner created. */
static void race_round(struct rt_test *t, struct race_args *a)
{
    int rfd;
    pid_t host = rt_test_fork(t, race_host, a, &rfd);
    assert_true(host > 0);
    pid_t workers[2] = {-1, -1};
    long tracker = -1;
    char line[512];
    int nw = 0;
    while (tracker < 0 && rt_test_read_line(rfd, line, sizeof(line), 20) >= 0) {
        if (strncmp(line, "worker ", 7) == 0 && nw < 2 && atol(line + 7) > 0) {
            workers[nw] = (pid_t)atol(line + 7);
            rt_test_track(t, workers[nw++]);
        } else if (strncmp(line, "pid ", 4) == 0) {
            tracker = atol(line + 4);
        } else {
            fail_msg("host: %s", line);
        }
    }
    close(rfd);
    assert_true(tracker > 0);
    rt_test_track(t, (pid_t)tracker);
    assert_int_equal(nw, 2);
    assert_int_equal(kill(-host, SIGKILL), 0);
    assert_int_not_equal(rt_test_wait_pid(host, 20), -1);
    rt_test_untrack(t, host);
    /* The workers come to us (a subreaper) once their master is gone. */
    for (int i = 0; i < 2; i++) {
        assert_int_not_equal(rt_test_wait_pid(workers[i], 20), -1);
        rt_test_untrack(t, workers[i]);
    }
    assert_int_equal(rt_test_tracker_status(t, (pid_t)tracker), 1);
    if (a->kind == RACE_SHM_EXCL || a->kind == RACE_SHM) {
        assert_false(rt_test_shm_exists(a->name));
    } else {
        assert_false(rt_test_sem_exists(a->name));
    }
}

/* Fifty rounds: without counted registrations (the loser's withdrawal
 * took the winner's registration with it), 16 (shm, O_EXCL) to 35 of them
 * leaked here; the loser registers only when both pass the check that the
 * name is free before either creates it. */
static void race(void **state, enum race_kind kind)
{
    struct rt_test *t = *state;
    int rounds = rt_test_valgrind() ? 5 : 50;
    for (int i = 0; i < rounds; i++) {
        char name[96];
        char suffix[16];
        snprintf(suffix, sizeof(suffix), "race%d", i);
        struct race_args a = {rt_test_name(t, name, sizeof(name), suffix),
                              kind};
        race_round(t, &a);
    }
    /* One leak line per round, nothing cleaned twice, no failed cleanup. */
    const char *err = rt_test_stderr(t);
    assert_int_equal(rt_test_count(err, "There appear to be 1 leaked "),
                     rounds);
    assert_null(strstr(err, "[Errno"));
    assert_int_equal(rt_test_count_prefix(t->prefix), 0);
}

static void race_shm_excl_loser_attaches(void **state)
{
    race(state, RACE_SHM_EXCL);
}

static void race_shm_creat_loser_attaches(void **state)
{
    race(state, RACE_SHM);
}

static void race_sem_excl_loser_attaches(void **state)
{
    race(state, RACE_SEM_EXCL);
}

static void race_sem_creat_loser_attaches(void **state)
{
    race(state, RACE_SEM);
}

/* Two processes register one name, one of them withdraws its
 * registration: the other's still stands. */
static int twice_host(void *arg, int w)
{
    const char *name = arg;
    RT_CHECK(w, rt_ensure_running(), 0, 0);
    RT_CHECK(w, rt_test_make_shm(name), 0, 0);
    for (int i = 0; i < 2; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            int r = rt_register(name, RT_SHARED_MEMORY);
            if (r == 0 && i == 1) {
                r = rt_unregister(name, RT_SHARED_MEMORY);
            }
            _exit(r == 0 ? 0 : 1);
        }
        int st = rt_test_wait_pid(pid, 20);
        RT_CHECK_EQ(w, st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, 1);
    }
    rt_test_say_tracker(w, (long)rt_tracker_pid());
    rt_test_hang();
}

static void registrations_are_counted(void **state)
{
    struct rt_test *t = *state;
    char name[96];
    rt_test_name(t, name, sizeof(name), "twice");
    assert_int_equal(rt_test_run_killed(t, twice_host, name), 1);
    assert_false(rt_test_shm_exists(name));
    const char *err = rt_test_stderr(t);
    assert_int_equal(rt_test_count(err, "There appear to be 1 leaked "
                                        "shared_memory objects"),
                     1);
    assert_null(strstr(err, "cannot unregister"));
}

/* ---- item 3: a worker that gave up its privileges ---- */

struct priv_args {
    const char *folder; /* root's, mode 0700 */
    const char *folder2;
};

static int drop_to_nobody(void)
{
    if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0) {
        return -1;
    }
    return 0;
}

/* capset(2)'s arguments, as <linux/capability.h> defines them (musl-gcc
 * has no kernel headers on its include path): version 3, two words. */
struct cap_header {
    uint32_t version;
    int pid;
};
struct cap_data {
    uint32_t effective;
    uint32_t permitted;
    uint32_t inheritable;
};
#define CAP_VERSION_3 0x20080522u

/* Keeps uid 0 but no capability at all. */
static int drop_capabilities(void)
{
    struct cap_header hdr = {CAP_VERSION_3, 0};
    struct cap_data data[2];
    memset(data, 0, sizeof(data));
    return (int)syscall(SYS_capset, &hdr, data);
}

/* URL-safe base64 with padding, as in CPython's JSON lines. */
static void base64url(const char *in, char *out)
{
    static const char digits[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t n = strlen(in);
    const unsigned char *p = (const unsigned char *)in;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        v |= i + 1 < n ? (unsigned)p[i + 1] << 8 : 0;
        v |= i + 2 < n ? p[i + 2] : 0;
        *out++ = digits[v >> 18];
        *out++ = digits[(v >> 12) & 63];
        *out++ = i + 1 < n ? digits[(v >> 6) & 63] : '=';
        *out++ = i + 2 < n ? digits[v & 63] : '=';
    }
    *out = '\0';
}

/* The descriptors the library gave the master (a worker inherits them). */
static unsigned char library_fds[1024];

/* Writes a raw line registering FOLDER into each pipe of the library this
 * process may write to (the private and the public pipe it inherited), and
 * the JSON form of it into the public one. Returns the lines written. */
static int write_raw_lines(const char *folder, int w)
{
    char line[512];
    int lines = 0;
    int n = snprintf(line, sizeof(line), "REGISTER:%s:folder\n", folder);
    for (int fd = 3; fd < 1024; fd++) {
        struct stat st;
        int fl = fcntl(fd, F_GETFL);
        if (library_fds[fd] && fl >= 0 && (fl & O_ACCMODE) == O_WRONLY &&
            fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode)) {
            RT_CHECK_EQ(w, write(fd, line, (size_t)n), n);
            lines++;
        }
    }
    char b64[256];
    base64url(folder, b64);
    n = snprintf(line, sizeof(line),
                 "{\"cmd\":\"REGISTER\",\"rtype\":\"folder\","
                 "\"base64_name\":\"%s\"}\n",
                 b64);
    RT_CHECK_EQ(w, write(rt_getfd(), line, (size_t)n), n);
    return lines + 1;
}

/* A worker: its registration of a path is refused, and so are raw lines
 * naming it written straight into the tracker's pipes. */
static int priv_worker(const char *folder, int nobody, int w)
{
    if (nobody ? drop_to_nobody() < 0 : drop_capabilities() < 0) {
        proc_say(w, "cannot drop privileges: %s", strerror(errno));
        return 1;
    }
    RT_CHECK(w, rt_register(folder, RT_FOLDER), -1, EPERM);
    RT_CHECK(w, rt_register(folder, RT_FILE), -1, EPERM);
    RT_CHECK(w, rt_register("/", RT_FOLDER), -1, EINVAL);
    if (nobody) {
        /* The private pipe, the public one, and the JSON form. */
        RT_CHECK_EQ(w, write_raw_lines(folder, w), 3);
    }
    return rt_test_failures;
}

static int priv_host(void *arg, int w)
{
    const struct priv_args *a = arg;
    for (int fd = 0; fd < 1024; fd++) {
        library_fds[fd] = fcntl(fd, F_GETFD) < 0;
    }
    RT_CHECK(w, rt_ensure_running(), 0, 0);
    for (int fd = 0; fd < 1024; fd++) {
        library_fds[fd] = library_fds[fd] && fcntl(fd, F_GETFD) >= 0;
    }
    for (int nobody = 1; nobody >= 0; nobody--) {
        pid_t pid = fork();
        if (pid == 0) {
            _exit(priv_worker(nobody ? a->folder : a->folder2, nobody, w));
        }
        int st = rt_test_wait_pid(pid, 20);
        RT_CHECK_EQ(w, st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, 1);
    }
    rt_test_say_tracker(w, (long)rt_tracker_pid());
    rt_test_hang();
}

static void unprivileged_worker_cannot_register_root_paths(void **state)
{
    struct rt_test *t = *state;
    if (geteuid() != 0) {
        skip();
    }
    char folder[128];
    char folder2[128];
    char inside[160];
    snprintf(folder, sizeof(folder), "/tmp%s-rootonly", t->prefix);
    snprintf(folder2, sizeof(folder2), "/tmp%s-rootonly2", t->prefix);
    assert_int_equal(mkdir(folder, 0700), 0);
    assert_int_equal(mkdir(folder2, 0700), 0);
    snprintf(inside, sizeof(inside), "%s/keep", folder);
    write_file(inside, "k");
    struct priv_args a = {folder, folder2};
    /* Nothing registered, one line refused: status 3. */
    assert_int_equal(rt_test_run_killed(t, priv_host, &a), 3);
    assert_true(path_exists(inside));
    assert_true(path_exists(folder2));
    const char *err = rt_test_stderr(t);
    char want[256];
    snprintf(want, sizeof(want),
             "resource_tracker: paths are registered through the library "
             "only: '%s'\n",
             folder);
    assert_int_equal(rt_test_count(err, want), 3);
    assert_int_equal(rt_test_count(err, "resource_tracker: "), 3);
}

/* ---- item 5: hosts with some of 0, 1 and 2 closed ---- */

static int dummy_cleanup(const char *name)
{
    (void)name;
    return 0;
}

struct closed_args {
    const char *name;
    unsigned closed; /* bit K: descriptor K closed */
    int custom;      /* a type of our own: the fork path */
};

static int is_null(const struct stat *st)
{
    return S_ISCHR(st->st_mode) && st->st_rdev == makedev(1, 3);
}

static int closed_host(void *arg, int w)
{
    const struct closed_args *a = arg;
    struct stat err;
    if (fstat(2, &err) < 0) {
        return 90;
    }
    if (a->custom && rt_define_type("review_dummy", dummy_cleanup) < 0) {
        return 91;
    }
    for (int fd = 0; fd < 3; fd++) {
        if (a->closed & (1u << fd)) {
            close(fd);
        }
    }
    int fd = rt_shm_open(a->name, O_CREAT | O_EXCL | O_RDWR, 0600);
    RT_CHECK_EQ(w, fd >= 0, 1);
    /* The object's descriptor is the host's own, wherever it landed. */
    close(fd);
    char other[128];
    snprintf(other, sizeof(other), "%s-other", a->name);
    RT_CHECK(w, rt_register(other, RT_SHARED_MEMORY), 0, 0);
    RT_CHECK(w, rt_unregister(other, RT_SHARED_MEMORY), 0, 0);
    RT_CHECK(w, rt_ensure_running(), 0, 0);
    RT_CHECK_EQ(w, rt_getfd() > 2, 1);
    pid_t tracker = rt_tracker_pid();
    RT_CHECK_EQ(w, tracker > 0, 1);
    /* The tracker's 0 and 1 are /dev/null, its 2 the host's stderr or
     * /dev/null: nothing of the library's. */
    for (int k = 0; k < 3; k++) {
        char path[64];
        struct stat st;
        snprintf(path, sizeof(path), "/proc/%ld/fd/%d", (long)tracker, k);
        int ok = stat(path, &st) == 0 &&
                 (is_null(&st) ||
                  (k == 2 && !(a->closed & 4) && st.st_dev == err.st_dev &&
                   st.st_ino == err.st_ino));
        if (!ok) {
            proc_say(w, "closed %u custom %d: tracker's fd %d is not ours",
                     a->closed, a->custom, k);
            rt_test_failures++;
        }
    }
    /* Our own opens get the numbers we closed, lowest first. */
    for (int k = 0; k < 3; k++) {
        if (a->closed & (1u << k)) {
            RT_CHECK_EQ(w, open("/dev/null", O_RDONLY), k);
        }
    }
    RT_CHECK_EQ(w, rt_test_shm_exists(a->name), 1);
    RT_CHECK(w, rt_ensure_running(), 0, 0);
    rt_test_say_tracker(w, (long)tracker);
    rt_test_hang();
}

static void closed_standard_streams(void **state)
{
    struct rt_test *t = *state;
    for (int custom = 0; custom < 2; custom++) {
        for (unsigned closed = 1; closed < 8; closed++) {
            char name[96];
            char suffix[32];
            snprintf(suffix, sizeof(suffix), "closed%u-%d", closed, custom);
            struct closed_args a = {rt_test_name(t, name, sizeof(name), suffix),
                                    closed, custom};
            assert_int_equal(rt_test_run_killed(t, closed_host, &a), 1);
            assert_false(rt_test_shm_exists(name));
        }
    }
}

/* ---- item 6: descriptor numbers reused ---- */

struct daemon_args {
    const char *name;
    const char *log;
    const char *data;
};

/* One line "daemon: WHAT V" in the log (3). */
static void daemon_say(const char *what, long v)
{
    char line[256];
    int n = snprintf(line, sizeof(line), "daemon: %s %ld\n", what, v);
    if (n > 0 && write(3, line, (size_t)n) != n) {
        _exit(93);
    }
}

/* The daemon: every descriptor closed, /dev/null on 0 to 2, its log on 3,
 * its data on 4; then it uses the library. It reports in its log, on lines
 * starting "daemon: ", so that anything else there is the library's. */
static _Noreturn void daemon_body(const struct daemon_args *a)
{
    if (syscall(SYS_close_range, 0U, ~0U, 0U) < 0) {
        for (int fd = 0; fd < 1024; fd++) {
            close(fd);
        }
    }
    for (int k = 0; k < 3; k++) {
        if (open("/dev/null", O_RDWR) != k) {
            _exit(90);
        }
    }
    if (open(a->log, O_WRONLY | O_CREAT | O_APPEND, 0600) != 3 ||
        open(a->data, O_RDWR | O_CREAT, 0600) != 4 ||
        write(4, "DATA", 4) != 4) {
        _exit(91);
    }
    struct stat before[2];
    struct stat after[2];
    (void)fstat(3, &before[0]);
    (void)fstat(4, &before[1]);
    daemon_say("pid", (long)getpid());
    int fails = 0;
    int fd = rt_shm_open(a->name, O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0) {
        daemon_say("rt_shm_open failed, errno", errno);
        fails++;
    }
    char other[128];
    snprintf(other, sizeof(other), "%s-other", a->name);
    if (rt_register(other, RT_SHARED_MEMORY) < 0 ||
        rt_unregister(other, RT_SHARED_MEMORY) < 0 || rt_getfd() <= 4) {
        daemon_say("library call failed, errno", errno);
        fails++;
    }
    for (int k = 0; k < 2; k++) {
        if (fstat(3 + k, &after[k]) < 0 ||
            after[k].st_ino != before[k].st_ino ||
            after[k].st_dev != before[k].st_dev || fcntl(3 + k, F_GETFD) != 0) {
            daemon_say("descriptor replaced", 3 + k);
            fails++;
        }
    }
    daemon_say("tracker", (long)rt_tracker_pid());
    daemon_say(fails ? "failed" : "ok", fails);
    rt_test_hang();
}

static int daemon_host(void *arg, int w)
{
    RT_CHECK(w, rt_ensure_running(), 0, 0);
    proc_say(w, "first %ld", (long)rt_tracker_pid());
    pid_t pid = fork();
    if (pid == 0) {
        if (setsid() < 0) {
            _exit(92);
        }
        daemon_body(arg);
    }
    proc_say(w, "daemon %ld", (long)pid);
    rt_test_hang();
}

static int log_done(void *arg)
{
    char buf[4096];
    return read_file(arg, buf, sizeof(buf)) > 0 &&
           (strstr(buf, "daemon: ok") != NULL ||
            strstr(buf, "daemon: failed") != NULL);
}

static void daemon_closing_everything_gets_a_tracker(void **state)
{
    struct rt_test *t = *state;
    char name[96];
    char log[128];
    char data[128];
    snprintf(log, sizeof(log), "/tmp%s-log", t->prefix);
    snprintf(data, sizeof(data), "/tmp%s-data", t->prefix);
    struct daemon_args a = {rt_test_name(t, name, sizeof(name), "daemon"), log,
                            data};
    int rfd;
    pid_t host = rt_test_fork(t, daemon_host, &a, &rfd);
    assert_true(host > 0);
    long first = rt_test_read_key(rfd, "first");
    long daemon = rt_test_read_key(rfd, "daemon");
    close(rfd);
    assert_true(first > 0 && daemon > 0);
    rt_test_track(t, (pid_t)first);
    rt_test_track(t, (pid_t)daemon);
    assert_true(rt_test_wait_until(log_done, log, 10));
    char buf[4096];
    assert_true(read_file(log, buf, sizeof(buf)) > 0);
    if (strstr(buf, "daemon: ok") == NULL) {
        fail_msg("daemon log:\n%s", buf);
    }
    const char *tr = strstr(buf, "daemon: tracker ");
    assert_non_null(tr);
    long tracker = atol(tr + 16);
    /* A tracker of its own: the inherited one's descriptors were closed. */
    assert_true(tracker > 0 && tracker != first);
    rt_test_track(t, (pid_t)tracker);
    assert_true(rt_test_shm_exists(name));
    kill((pid_t)daemon, SIGKILL);
    assert_int_equal(rt_test_tracker_status(t, (pid_t)tracker), 1);
    assert_false(rt_test_shm_exists(name));
    /* Every line of the log is the daemon's; the data file is untouched. */
    assert_true(read_file(log, buf, sizeof(buf)) > 0);
    for (char *line = buf; *line != '\0';) {
        assert_memory_equal(line, "daemon: ", 8);
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        line = nl + 1;
    }
    assert_int_equal(read_file(data, buf, sizeof(buf)), 4);
    assert_string_equal(buf, "DATA");
}

/* The descriptors of this process, as a bit set of the first 1024. */
static void list_fds(unsigned char set[128])
{
    memset(set, 0, 128);
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL) {
        return;
    }
    int skip = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int fd = atoi(e->d_name);
        if (e->d_name[0] != '.' && fd != skip && fd < 1024) {
            set[fd / 8] |= (unsigned char)(1u << (fd % 8));
        }
    }
    closedir(d);
}

struct reuse_args {
    const char *name;
    const char *victim;
};

/* A fork child that closed the tracker descriptors it inherited and put
 * a file of its own under each of their numbers. */
static _Noreturn void reuse_child(const struct reuse_args *a,
                                  const unsigned char *ours, pid_t first, int w)
{
    int file = open(a->victim, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (file < 0) {
        _exit(90);
    }
    int moved = 0;
    for (int fd = 3; fd < 1024; fd++) {
        if (ours[fd / 8] & (1u << (fd % 8))) {
            close(fd);
            if (dup2(file, fd) != fd) {
                _exit(91);
            }
            moved++;
        }
    }
    RT_CHECK_EQ(w, moved >= 3, 1);
    int fd = rt_shm_open(a->name, O_CREAT | O_EXCL | O_RDWR, 0600);
    RT_CHECK_EQ(w, fd >= 0, 1);
    RT_CHECK_EQ(w, rt_tracker_pid() != first && rt_tracker_pid() > 0, 1);
    struct stat st;
    RT_CHECK_EQ(w, fstat(file, &st) == 0 && st.st_size == 0, 1);
    rt_test_say_tracker(w, (long)rt_tracker_pid());
    rt_test_hang();
}

static int reuse_host(void *arg, int w)
{
    unsigned char before[128];
    unsigned char after[128];
    list_fds(before);
    RT_CHECK(w, rt_ensure_running(), 0, 0);
    list_fds(after);
    for (int i = 0; i < 128; i++) {
        after[i] &= (unsigned char)~before[i];
    }
    pid_t first = rt_tracker_pid();
    pid_t pid = fork();
    if (pid == 0) {
        reuse_child(arg, after, first, w);
    }
    proc_say(w, "child %ld", (long)pid);
    rt_test_hang();
}

static void child_reusing_tracker_numbers_gets_its_own(void **state)
{
    struct rt_test *t = *state;
    char name[96];
    char victim[128];
    snprintf(victim, sizeof(victim), "/tmp%s-victim", t->prefix);
    struct reuse_args a = {rt_test_name(t, name, sizeof(name), "reuse"),
                           victim};
    int rfd;
    pid_t host = rt_test_fork(t, reuse_host, &a, &rfd);
    assert_true(host > 0);
    static const char *const keys[] = {"child", "pid"};
    long v[2];
    rt_test_read_keys(rfd, keys, v, 2, 20);
    long child = v[0];
    long tracker = v[1];
    assert_true(child > 0);
    rt_test_track(t, (pid_t)child);
    close(rfd);
    assert_true(tracker > 0);
    rt_test_track(t, (pid_t)tracker);
    assert_true(rt_test_shm_exists(name));
    kill((pid_t)child, SIGKILL);
    assert_int_equal(rt_test_tracker_status(t, (pid_t)tracker), 1);
    assert_false(rt_test_shm_exists(name));
    struct stat st;
    assert_int_equal(stat(victim, &st), 0);
    assert_int_equal(st.st_size, 0);
}

/* The process itself closes the library's descriptors after its first
 * call (closefrom, close_range; a sandbox), nothing on their numbers: its
 * next call must not fail with EBADF for ever, but start a tracker of its
 * own, silently, whether or not the first run goes on (KEEPER: a fork
 * child holds it). */
struct closer_args {
    const char *name;
    int keeper;
};

static int closer_host(void *arg, int w)
{
    const struct closer_args *a = arg;
    unsigned char before[128];
    unsigned char after[128];
    list_fds(before);
    RT_CHECK(w, rt_ensure_running(), 0, 0);
    list_fds(after);
    pid_t first = rt_tracker_pid();
    if (a->keeper) {
        pid_t pid = fork();
        if (pid == 0) {
            rt_test_hang();
        }
        proc_say(w, "child %ld", (long)pid);
    }
    proc_say(w, "first %ld", (long)first);
    int closed = 0;
    for (int fd = 3; fd < 1024; fd++) {
        if ((after[fd / 8] & ~before[fd / 8]) & (1u << (fd % 8))) {
            close(fd);
            closed++;
        }
    }
    RT_CHECK_EQ(w, closed >= 3, 1);
    if (!a->keeper) {
        /* The first tracker saw its last writer go: let it end. */
        double end = proc_now() + proc_scaled(20);
        while (rt_test_alive(first) && proc_now() < end) {
            usleep(10000);
        }
        RT_CHECK_EQ(w, rt_test_alive(first), 0);
    }
    int fd = rt_shm_open(a->name, O_CREAT | O_EXCL | O_RDWR, 0600);
    RT_CHECK_EQ(w, fd >= 0, 1);
    RT_CHECK_EQ(w, rt_tracker_pid() != first && rt_tracker_pid() > 0, 1);
    rt_test_say_tracker(w, (long)rt_tracker_pid());
    rt_test_hang();
}

static void run_closer(struct rt_test *t, int keeper)
{
    char name[96];
    struct closer_args a = {rt_test_name(t, name, sizeof(name), "closer"),
                            keeper};
    int rfd;
    pid_t host = rt_test_fork(t, closer_host, &a, &rfd);
    assert_true(host > 0);
    long child = -1;
    if (keeper) {
        child = rt_test_read_key(rfd, "child");
        assert_true(child > 0);
        rt_test_track(t, (pid_t)child);
    }
    long first = rt_test_read_key(rfd, "first");
    assert_true(first > 0);
    rt_test_track(t, (pid_t)first);
    long tracker = rt_test_read_key(rfd, "pid");
    close(rfd);
    assert_true(tracker > 0 && tracker != first);
    rt_test_track(t, (pid_t)tracker);
    assert_true(rt_test_shm_exists(name));
    kill(host, SIGKILL);
    assert_int_equal(rt_test_tracker_status(t, (pid_t)tracker), 1);
    assert_false(rt_test_shm_exists(name));
    if (keeper) {
        kill((pid_t)child, SIGKILL);
        assert_int_equal(rt_test_tracker_status(t, (pid_t)first), 0);
    }
    assert_int_equal(rt_test_count(rt_test_stderr(t), "relaunching"), 0);
}

static void closing_own_descriptors_gets_a_tracker(void **state)
{
    run_closer(*state, 0);
}

static void closing_own_descriptors_while_run_goes_on(void **state)
{
    run_closer(*state, 1);
}

/* ---- item 10: a daemon must not keep its caller's stderr pipe ---- */

static int daemonizing_host(const char *name, int w)
{
    int fd = rt_shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0) {
        return 90;
    }
    proc_say(w, "pid %ld", (long)rt_tracker_pid());
    if (daemon(0, 0) < 0) {
        return 91;
    }
    proc_say(w, "daemon %ld", (long)getpid());
    sleep(30);
    return 0;
}

/* Fails the test naming every process that still holds the pipe of FD,
 * and with which descriptor. */
static void fail_with_holders(int fd, const char *what)
{
    struct stat pst;
    char report[2048] = "";
    size_t len = 0;
    DIR *proc = opendir("/proc");
    struct dirent *p;
    while (fstat(fd, &pst) == 0 && proc != NULL &&
           (p = readdir(proc)) != NULL) {
        char dir[300];
        if (atoi(p->d_name) <= 0) {
            continue;
        }
        snprintf(dir, sizeof(dir), "/proc/%s/fd", p->d_name);
        DIR *fds = opendir(dir);
        struct dirent *f;
        while (fds != NULL && (f = readdir(fds)) != NULL) {
            char path[600];
            struct stat st;
            snprintf(path, sizeof(path), "%s/%s", dir, f->d_name);
            if (f->d_name[0] != '.' && stat(path, &st) == 0 &&
                st.st_dev == pst.st_dev && st.st_ino == pst.st_ino &&
                len < sizeof(report) - 64) {
                char comm[32] = "?";
                rt_test_proc_field((pid_t)atoi(p->d_name), "status", "Name:\t",
                                   comm, sizeof(comm));
                len +=
                    (size_t)snprintf(report + len, sizeof(report) - len,
                                     " %s(%s):%s", p->d_name, comm, f->d_name);
            }
        }
        if (fds != NULL) {
            closedir(fds);
        }
    }
    if (proc != NULL) {
        closedir(proc);
    }
    fail_msg("%s; held by%s", what, report);
}

static void daemon_releases_callers_stderr(void **state)
{
    if (rt_test_valgrind()) {
        /* valgrind keeps a descriptor of the stderr each traced process
         * started with, for its messages: the daemon's valgrind holds the
         * caller's pipe as long as the daemon lives. */
        skip();
    }
    struct rt_test *t = *state;
    char name[96];
    rt_test_name(t, name, sizeof(name), "daemonized");
    int e[2];
    int r[2];
    assert_int_equal(pipe2(e, O_CLOEXEC), 0);
    assert_int_equal(pipe2(r, O_CLOEXEC), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(e[1], 2);
        close(e[0]);
        close(e[1]);
        close(r[0]);
        _exit(daemonizing_host(name, r[1]));
    }
    rt_test_track(t, pid);
    close(e[1]);
    close(r[1]);
    long tracker = rt_test_read_key(r[0], "pid");
    assert_true(tracker > 0);
    rt_test_track(t, (pid_t)tracker);
    long daemon = rt_test_read_key(r[0], "daemon");
    close(r[0]);
    assert_true(daemon > 0);
    rt_test_track(t, (pid_t)daemon);
    int st = rt_test_wait_pid(pid, 20);
    assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    rt_test_untrack(t, pid);
    /* End-of-file on the caller's pipe once the tracker (and its guardian)
     * let it go, about a second after the starter exited. */
    double start = proc_now();
    char buf[512];
    ssize_t n;
    for (;;) {
        struct pollfd p = {e[0], POLLIN, 0};
        int left = (int)((start + proc_scaled(5) - proc_now()) * 1000);
        if (left <= 0) {
            fail_with_holders(e[0], "the caller's stderr pipe is still held");
        }
        if (poll(&p, 1, left) <= 0) {
            continue;
        }
        n = read(e[0], buf, sizeof(buf));
        if (n == 0) {
            break;
        }
        assert_true(n > 0);
    }
    close(e[0]);
    assert_true(rt_test_alive((pid_t)daemon));
    assert_true(rt_test_shm_exists(name));
    kill((pid_t)daemon, SIGKILL);
    assert_int_equal(rt_test_tracker_status(t, (pid_t)tracker), 1);
    assert_false(rt_test_shm_exists(name));
}

/* ---- item 11: a tracker not known to be ours ---- */

/* What the pipe holds, without waiting. */
static ssize_t pipe_contents(int rfd, char *buf, size_t cap)
{
    int queued = 0;
    if (ioctl(rfd, FIONREAD, &queued) < 0 || queued == 0) {
        buf[0] = '\0';
        return 0;
    }
    ssize_t n = read(rfd, buf, cap - 1);
    buf[n > 0 ? n : 0] = '\0';
    return n;
}

struct foreign_args {
    const char *name;
    int by_env; /* RESOURCE_TRACKER_FD=FD rather than rt_setfd */
};

static int foreign_host(void *arg, int w)
{
    const struct foreign_args *a = arg;
    const char *name = a->name;
    int by_env = a->by_env;
    int p[2];
    if (pipe(p) < 0 || p[1] <= 2) {
        return 90;
    }
    if (by_env) {
        char v[16];
        snprintf(v, sizeof(v), "%d", p[1]);
        setenv(RT_ENV_FD, v, 1);
    } else {
        RT_CHECK(w, rt_setfd(p[1]), 0, 0);
    }
    char buf[8192];
    char bad[160];
    static const char *const bad_suffix[] = {"-\xc3\xa9t\xc3\xa9", "-a:b",
                                             "-new\nline", "-tab\t"};
    for (size_t i = 0; i < sizeof(bad_suffix) / sizeof(bad_suffix[0]); i++) {
        snprintf(bad, sizeof(bad), "%s%s", name, bad_suffix[i]);
        RT_CHECK(w, rt_register(bad, RT_SHARED_MEMORY), -1, EINVAL);
        RT_CHECK(w, rt_unregister(bad, RT_SEMAPHORE), -1, EINVAL);
    }
    RT_CHECK(w, rt_register("/tmp/rt-review-foreign", RT_FILE), -1, EINVAL);
    RT_CHECK(w, rt_register("/tmp/rt-review-foreign", RT_FOLDER), -1, EINVAL);
    RT_CHECK(w, rt_register(name, RT_MQUEUE), -1, EINVAL);
    RT_CHECK_EQ(w, pipe_contents(p[0], buf, sizeof(buf)), 0);
    if (buf[0] != '\0') {
        proc_say(w, "written: %s", buf);
    }
    /* A plain name: the colon form, and nothing else (no identity line:
     * a CPython tracker would not read it). */
    RT_CHECK(w, rt_register(name, RT_SHARED_MEMORY), 0, 0);
    RT_CHECK(w, rt_unregister(name, RT_SEMAPHORE), 0, 0);
    char want[512];
    snprintf(want, sizeof(want),
             "REGISTER:%s:shared_memory\nUNREGISTER:%s:semaphore\n", name,
             name);
    pipe_contents(p[0], buf, sizeof(buf));
    RT_CHECK_EQ(w, strcmp(buf, want), 0);
    char seg[160];
    snprintf(seg, sizeof(seg), "%s-w", name);
    int fd = rt_shm_open(seg, O_CREAT | O_EXCL | O_RDWR, 0600);
    RT_CHECK_EQ(w, fd >= 0, 1);
    RT_CHECK(w, rt_shm_unlink(seg), 0, 0);
    snprintf(want, sizeof(want),
             "REGISTER:%s:shared_memory\nUNREGISTER:%s:shared_memory\n", seg,
             seg);
    pipe_contents(p[0], buf, sizeof(buf));
    RT_CHECK_EQ(w, strcmp(buf, want), 0);
    if (strcmp(buf, want) != 0) {
        proc_say(w, "written: %s", buf);
    }
    RT_CHECK_EQ(w, rt_tracker_pid(), -1);
    return rt_test_failures;
}

static void foreign_tracker_gets_only_what_cpython_reads(void **state)
{
    struct rt_test *t = *state;
    static const char *const how[] = {"setfd", "env"};
    for (int i = 0; i < 2; i++) {
        char name[96];
        struct foreign_args a = {rt_test_name(t, name, sizeof(name), how[i]),
                                 i};
        rt_test_run_host(t, foreign_host, &a, 20);
    }
    assert_string_equal(rt_test_stderr(t), "");
}

/* ---- item 14: a type the adopted tracker does not know ---- */

static int marker_cleanup(const char *name)
{
    return unlink(name);
}

/* Run as "PROG --define-child NAME" with RESOURCE_TRACKER_FD set: defines
 * the type, adopts its parent's tracker, registers NAME with the type. */
static int define_child(const char *name)
{
    if (rt_define_type("review_marker", marker_cleanup) < 0) {
        return 2;
    }
    int r = rt_register(name, "review_marker");
    printf("reg %d %d\n", r, r < 0 ? errno : 0);
    r = rt_register(name, RT_SHARED_MEMORY);
    printf("builtin %d %d\n", r, r < 0 ? errno : 0);
    r = rt_unregister(name, RT_SHARED_MEMORY);
    printf("pid %ld\n", (long)rt_tracker_pid());
    fflush(stdout);
    return r == 0 ? 0 : 3;
}

struct define_args {
    const char *marker;
    int parent_defines;
};

extern char **environ;

static int define_host(void *arg, int w)
{
    const struct define_args *a = arg;
    if (a->parent_defines &&
        rt_define_type("review_marker", marker_cleanup) < 0) {
        return 90;
    }
    RT_CHECK(w, rt_ensure_running(), 0, 0);
    int out[2];
    if (pipe2(out, O_CLOEXEC) < 0) {
        return 91;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    char **env;
    RT_CHECK(w, rt_spawn_prepare(&fa, environ, &env), 0, 0);
    /* The path /proc/self/exe names, not the link itself: under valgrind
     * the link is valgrind's own program, and readlink is told the test's. */
    static char self[PATH_MAX];
    ssize_t sn = readlink("/proc/self/exe", self, sizeof(self) - 1);
    RT_CHECK_EQ(w, sn > 0, 1);
    self[sn > 0 ? sn : 0] = '\0';
    char *argv[] = {self, (char *)"--define-child", (char *)a->marker, NULL};
    pid_t pid;
    RT_CHECK_EQ(w, posix_spawn(&pid, argv[0], &fa, NULL, argv, env), 0);
    rt_spawn_free(env);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    char line[128];
    for (int i = 0; i < 3; i++) {
        if (rt_test_read_line(out[0], line, sizeof(line), 20) < 0) {
            strcpy(line, "nothing");
        }
        proc_say(w, "child %s", line);
    }
    int st = rt_test_wait_pid(pid, 20);
    RT_CHECK_EQ(w, st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1, 0);
    rt_test_say_tracker(w, (long)rt_tracker_pid());
    rt_test_hang();
}

static void child_type_unknown_to_adopted_tracker(void **state)
{
    struct rt_test *t = *state;
    char marker[128];
    snprintf(marker, sizeof(marker), "/tmp%s-marker", t->prefix);
    for (int parent_defines = 0; parent_defines < 2; parent_defines++) {
        write_file(marker, "m");
        struct define_args a = {marker, parent_defines};
        int rfd;
        pid_t host = rt_test_fork(t, define_host, &a, &rfd);
        char line[512];
        char want[64];
        snprintf(want, sizeof(want), "child reg %s",
                 parent_defines ? "0 0" : "-1 22");
        assert_true(rt_test_read_line(rfd, line, sizeof(line), 20) >= 0);
        assert_string_equal(line, want);
        assert_true(rt_test_read_line(rfd, line, sizeof(line), 20) >= 0);
        assert_string_equal(line, "child builtin 0 0");
        assert_true(rt_test_read_line(rfd, line, sizeof(line), 20) >= 0);
        /* The adopted tracker is one of ours: its pid is known. */
        assert_true(strncmp(line, "child pid ", 10) == 0 &&
                    atol(line + 10) > 0);
        long tracker = rt_test_read_key(rfd, "pid");
        close(rfd);
        assert_true(tracker > 0);
        assert_int_equal(atol(line + 10), tracker);
        rt_test_track(t, (pid_t)tracker);
        kill(host, SIGKILL);
        assert_int_not_equal(rt_test_wait_pid(host, 20), -1);
        rt_test_untrack(t, host);
        /* Refused: nothing held, the marker stays. Accepted: the parent's
         * cleanup, run in its tracker, removes it. */
        assert_int_equal(rt_test_tracker_status(t, (pid_t)tracker),
                         parent_defines ? 1 : 0);
        assert_int_equal(path_exists(marker), !parent_defines);
    }
}

/* ---- item 18: half a line from a writer that is not the library ---- */

struct fragment_args {
    const char *name;
    int wait_between; /* the fragment read on its own before the line */
};

static int pipe_drained(void *arg)
{
    int queued = 1;
    return ioctl(*(int *)arg, FIONREAD, &queued) == 0 && queued == 0;
}

static int fragment_host(void *arg, int w)
{
    const struct fragment_args *a = arg;
    RT_CHECK(w, rt_test_make_shm(a->name), 0, 0);
    int fd = rt_getfd();
    RT_CHECK_EQ(w, fd > 2, 1);
    pid_t pid = fork();
    if (pid == 0) {
        /* A writer of its own, on the inherited descriptor. */
        if (write(fd, "REGIS", 5) != 5) {
            _exit(1);
        }
        if (a->wait_between && !rt_test_wait_until(pipe_drained, &fd, 10)) {
            _exit(2);
        }
        char line[256];
        int n = snprintf(line, sizeof(line), "REGISTER:%s:shared_memory\n",
                         a->name);
        _exit(write(fd, line, (size_t)n) == n ? 0 : 3);
    }
    int st = rt_test_wait_pid(pid, 20);
    RT_CHECK_EQ(w, st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1, 0);
    rt_test_say_tracker(w, (long)rt_tracker_pid());
    rt_test_hang();
}

static void fragment_then_valid_line(void **state)
{
    struct rt_test *t = *state;
    for (int wait_between = 0; wait_between < 2; wait_between++) {
        char name[96];
        rt_test_name(t, name, sizeof(name), wait_between ? "apart" : "glued");
        struct fragment_args a = {name, wait_between};
        assert_int_equal(rt_test_run_killed(t, fragment_host, &a), 1);
        assert_false(rt_test_shm_exists(name));
    }
    const char *err = rt_test_stderr(t);
    assert_int_equal(
        rt_test_count(err, "resource_tracker: incomplete message: 'REGIS'\n"),
        2);
    assert_int_equal(rt_test_count(err, "resource_tracker: "), 4);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--define-child") == 0) {
        return define_child(argv[2]);
    }
    const struct CMUnitTest tests[] = {
        RT_TEST(race_shm_excl_loser_attaches),
        RT_TEST(race_shm_creat_loser_attaches),
        RT_TEST(race_sem_excl_loser_attaches),
        RT_TEST(race_sem_creat_loser_attaches),
        RT_TEST(registrations_are_counted),
        RT_TEST(unprivileged_worker_cannot_register_root_paths),
        RT_TEST(closed_standard_streams),
        RT_TEST(daemon_closing_everything_gets_a_tracker),
        RT_TEST(child_reusing_tracker_numbers_gets_its_own),
        RT_TEST(closing_own_descriptors_gets_a_tracker),
        RT_TEST(closing_own_descriptors_while_run_goes_on),
        RT_TEST(daemon_releases_callers_stderr),
        RT_TEST(foreign_tracker_gets_only_what_cpython_reads),
        RT_TEST(child_type_unknown_to_adopted_tracker),
        RT_TEST(fragment_then_valid_line),
    };
    return RT_RUN(tests);
}
