/* SPDX-License-Identifier: MIT */
/* CPython interoperability, with a real python3: a Python process writes to
 * our tracker in CPython's own wire format, and our C helper adopts
 * CPython's tracker. Every test skips when python3 cannot import
 * multiprocessing.resource_tracker. Test process and forked hosts. */
#define _GNU_SOURCE
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "resourcetracker.h"

extern char **environ;

/* Python starts slowly (a pyenv shim, a cold cache): generous deadlines. */
#define PY_SECONDS 60

/* What the tests need from CPython. */
static const char py_probe[] =
    "import _multiprocessing, _posixshmem\n"
    "from multiprocessing import resource_tracker, shared_memory\n"
    "_multiprocessing.SemLock, _multiprocessing.sem_unlink\n"
    "resource_tracker._resource_tracker._fd\n";

/* A Python process handed our tracker. It finds the tracker the way a
 * child of ours would, in RESOURCE_TRACKER_FD, and installs it the way
 * CPython's spawn installs its parent's tracker in a child (by setting
 * _fd). Then it makes a real segment, which SharedMemory registers, and a
 * real semaphore, which it registers itself, and dies without unlinking
 * either. It also says whether CPython started a tracker of its own, which
 * would clean up in our place and hide a failure of ours. */
static const char py_uses_ours[] =
    "import os, sys\n"
    "import _multiprocessing\n"
    "from multiprocessing import resource_tracker, shared_memory\n"
    "fields = os.environ['RESOURCE_TRACKER_FD'].split(':')\n"
    "fd = int(fields[0])\n"
    "if len(fields) == 3:\n"
    "    st = os.fstat(fd)\n"
    "    if [st.st_dev, st.st_ino] != [int(f) for f in fields[1:]]:\n"
    "        sys.exit('RESOURCE_TRACKER_FD names another file')\n"
    "rt = resource_tracker._resource_tracker\n"
    "rt._fd = fd\n"
    "shm_name, sem_name = sys.argv[1:3]\n"
    /* SharedMemory puts the leading slash back itself. */
    "shm = shared_memory.SharedMemory(create=True, name=shm_name[1:],\n"
    "                                 size=4096)\n"
    "sem = _multiprocessing.SemLock(1, 1, 1, sem_name, False)\n"
    "resource_tracker.register(sem_name, 'semaphore')\n"
    "print('made', shm._name, sem.name)\n"
    "print('own tracker', rt._pid, rt._fd == fd, flush=True)\n"
    "os._exit(0)\n";

/* A Python parent that starts CPython's tracker and runs our C helper with
 * its pipe: the helper must adopt it. Then, once the test closes its
 * stdin, it exits normally, unlinking nothing. */
static const char py_parent[] =
    "import os, subprocess, sys\n"
    "from multiprocessing import resource_tracker\n"
    "child, form, shm_name, sem_name = sys.argv[1:5]\n"
    "resource_tracker.ensure_running()\n"
    "fd = resource_tracker.getfd()\n"
    "print('tracker', resource_tracker._resource_tracker._pid, flush=True)\n"
    "st = os.fstat(fd)\n"
    "value = str(fd)\n"
    "if form == 'exact':\n"
    "    value = '%d:%d:%d' % (fd, st.st_dev, st.st_ino)\n"
    "env = dict(os.environ, RESOURCE_TRACKER_FD=value)\n"
    "args = [child, 'shm', shm_name, 'sem', sem_name, 'pid', 'fdinfo']\n"
    "out = subprocess.run(args, env=env, pass_fds=[fd], check=True,\n"
    "                     stdout=subprocess.PIPE).stdout\n"
    "for line in out.decode().splitlines():\n"
    "    print('child', line)\n"
    "print('want fd %d %d 1' % (st.st_dev, st.st_ino))\n"
    "print('done', flush=True)\n"
    "sys.stdin.read()\n";

/* Starts ARGV (ARGV[0] looked up in PATH) with stdin a pipe whose write
 * end goes to *RET_IN (or /dev/null when RET_IN is NULL), stdout a pipe
 * whose read end goes to *RET_OUT (or /dev/null when RET_OUT is NULL),
 * stderr appended to ERRPATH. The environment is ours without
 * RESOURCE_TRACKER_FD, plus ENV when not NULL; KEEP_FD >= 0 stays open
 * under its own number. Returns the pid, or -1 with errno set. */
static pid_t spawn_python(const char *const *argv, const char *env, int keep_fd,
                          const char *errpath, int *ret_in, int *ret_out)
{
    char *envp[512];
    size_t e = 0;
    for (char **p = environ; *p != NULL && e < 510; p++) {
        if (strncmp(*p, RT_ENV_FD "=", sizeof(RT_ENV_FD)) != 0) {
            envp[e++] = *p;
        }
    }
    if (env != NULL) {
        envp[e++] = (char *)env;
    }
    envp[e] = NULL;
    int in[2] = {-1, -1};
    int out[2] = {-1, -1};
    if (ret_in != NULL && pipe2(in, O_CLOEXEC) < 0) {
        return -1;
    }
    if (ret_out != NULL && pipe2(out, O_CLOEXEC) < 0) {
        int err = errno;
        if (ret_in != NULL) {
            close(in[0]);
            close(in[1]);
        }
        errno = err;
        return -1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (ret_in != NULL) {
        posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    } else {
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    }
    if (ret_out != NULL) {
        posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    } else {
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    }
    posix_spawn_file_actions_addopen(&fa, 2, errpath, O_WRONLY | O_APPEND, 0);
    if (keep_fd >= 0) {
        /* dup2 onto itself clears FD_CLOEXEC (POSIX 2024, glibc 2.29). */
        posix_spawn_file_actions_adddup2(&fa, keep_fd, keep_fd);
    }
    pid_t pid;
    int r = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    if (ret_in != NULL) {
        close(in[0]);
    }
    if (ret_out != NULL) {
        close(out[1]);
    }
    if (r != 0) {
        if (ret_in != NULL) {
            close(in[1]);
        }
        if (ret_out != NULL) {
            close(out[0]);
        }
        errno = r;
        return -1;
    }
    if (ret_in != NULL) {
        *ret_in = in[1];
    }
    if (ret_out != NULL) {
        *ret_out = out[0];
    }
    return pid;
}

/* Waits for PID; on timeout kills and reaps it. Returns its exit code, or
 * -1 when it did not exit normally in time. */
static int wait_exit(pid_t pid, double seconds)
{
    int st = rt_test_wait_pid(pid, seconds);
    if (st == -1) {
        kill(pid, SIGKILL);
        (void)rt_test_wait_pid(pid, 10);
        return -1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Whether python3 is there with what the tests need; asked once. */
static int python_usable(void)
{
    static int usable = -1;
#ifndef __GLIBC__
    /* The python3 here is linked with glibc, which keeps a named semaphore
     * as /dev/shm/sem.NAME; musl keeps it as /dev/shm/NAME. A process of
     * each cannot share a named semaphore, so these tests cannot hold. */
    if (usable < 0) {
        print_message("library not built with glibc, as python3 is: "
                      "skipping\n");
        usable = 0;
    }
#endif
    if (usable < 0) {
        const char *const argv[] = {"python3", "-c", py_probe, NULL};
        pid_t pid = spawn_python(argv, NULL, -1, "/dev/null", NULL, NULL);
        usable = pid > 0 && wait_exit(pid, PY_SECONDS) == 0;
        if (!usable) {
            print_message("python3 with multiprocessing.resource_tracker "
                          "not found: skipping\n");
        }
    }
    return usable;
}

/* Fails the test, showing the capture, unless it holds NEEDLE. */
static void expect_in_stderr(const struct rt_test *t, const char *needle)
{
    const char *err = rt_test_stderr(t);
    if (strstr(err, needle) == NULL) {
        fail_msg("stderr lacks \"%s\"; it holds:\n%s", needle, err);
    }
}

/* ---- a Python process on our tracker ------------------------------------ */

struct ours_args {
    struct rt_test *t;
    const char *shm;
    const char *sem;
    int exact; /* FD:DEV:INO rather than FD */
};

/* Host: starts our tracker and runs the Python process with its pipe.
 * Once Python is dead its objects must still exist (we still hold the
 * pipe); the host then reports the tracker's pid and exits, which leaves
 * the tracker to clean up. */
static int ours_host(void *arg, int w)
{
    const struct ours_args *a = arg;
    int fd = rt_getfd();
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        return 90;
    }
    char env[128];
    if (a->exact) {
        snprintf(env, sizeof(env), "%s=%d:%ju:%ju", RT_ENV_FD, fd,
                 (uintmax_t)st.st_dev, (uintmax_t)st.st_ino);
    } else {
        snprintf(env, sizeof(env), "%s=%d", RT_ENV_FD, fd);
    }
    const char *const argv[] = {"python3", "-c",   py_uses_ours,
                                a->shm,    a->sem, NULL};
    int out;
    pid_t py = spawn_python(argv, env, fd, a->t->errpath, NULL, &out);
    if (py < 0) {
        return 91;
    }
    char made[256];
    char own[256];
    char want_made[512];
    if (rt_test_read_line(out, made, sizeof(made), PY_SECONDS) < 0) {
        made[0] = '\0';
    }
    if (rt_test_read_line(out, own, sizeof(own), PY_SECONDS) < 0) {
        own[0] = '\0';
    }
    close(out);
    snprintf(want_made, sizeof(want_made), "made %s %s", a->shm, a->sem);
    RT_CHECK_EQ(w, wait_exit(py, PY_SECONDS), 0);
    RT_CHECK_EQ(w, strcmp(made, want_made), 0);
    /* CPython started no tracker and kept ours. */
    RT_CHECK_EQ(w, strcmp(own, "own tracker None True"), 0);
    RT_CHECK_EQ(w, rt_test_shm_exists(a->shm), 1);
    RT_CHECK_EQ(w, rt_test_sem_exists(a->sem), 1);
    if (rt_test_failures > 0) {
        proc_say(w, "python said '%s' '%s'", made, own);
    }
    proc_say(w, "pid %ld", (long)rt_tracker_pid());
    return rt_test_failures;
}

static void python_registers_with_our_tracker(void **state, int exact)
{
    struct rt_test *t = *state;
    if (!python_usable()) {
        skip();
    }
    char shm[128];
    char sem[128];
    struct ours_args a = {t, rt_test_name(t, shm, sizeof(shm), "pyshm"),
                          rt_test_name(t, sem, sizeof(sem), "pysem"), exact};
    int rfd;
    pid_t host = rt_test_fork(t, ours_host, &a, &rfd);
    assert_true(host > 0);
    char line[512];
    long tracker = -1;
    while (rt_test_read_line(rfd, line, sizeof(line), PY_SECONDS * 2) >= 0) {
        if (strncmp(line, "pid ", 4) == 0) {
            tracker = atol(line + 4);
        } else {
            print_error("host: %s\n", line);
        }
    }
    close(rfd);
    assert_int_equal(wait_exit(host, PY_SECONDS), 0);
    assert_true(tracker > 0);
    rt_test_track(t, (pid_t)tracker);
    /* The host was the last holder of the pipe: our tracker, orphaned to
     * this subreaper, cleans up and reports leaks (1), not a bad line (3):
     * the PROBE lines CPython writes before each message are accepted. */
    int st = rt_test_wait_pid((pid_t)tracker, 20);
    assert_true(st != -1 && WIFEXITED(st));
    if (WEXITSTATUS(st) != 1) {
        fail_msg("tracker exit %d; stderr:\n%s", WEXITSTATUS(st),
                 rt_test_stderr(t));
    }
    assert_false(rt_test_shm_exists(shm));
    assert_false(rt_test_sem_exists(sem));
    char want[512];
    snprintf(want, sizeof(want),
             "resource_tracker: There appear to be 1 "
             "leaked shared_memory objects to clean up at shutdown: {'%s'}\n",
             shm);
    expect_in_stderr(t, want);
    snprintf(want, sizeof(want),
             "resource_tracker: There appear to be 1 "
             "leaked semaphore objects to clean up at shutdown: {'%s'}\n",
             sem);
    expect_in_stderr(t, want);
    /* Those two lines are all: no bad line, no unknown type, and nothing
     * from Python on its stderr. */
    const char *err = rt_test_stderr(t);
    if (rt_test_count(err, "resource_tracker:") != 2 ||
        rt_test_count(err, "Traceback") != 0) {
        fail_msg("unexpected stderr:\n%s", err);
    }
}

static void python_with_fd_dev_ino_uses_our_tracker(void **state)
{
    python_registers_with_our_tracker(state, 1);
}

static void python_with_fd_uses_our_tracker(void **state)
{
    python_registers_with_our_tracker(state, 0);
}

/* ---- our C helper on CPython's tracker ---------------------------------- */

/* Reads the Python parent's lines up to "done" into LINES (at most MAX,
 * each 256 bytes). Returns how many, or -1 on timeout or EOF before
 * "done". CPython's tracker inherits the parent's stdout, so EOF would
 * only come when that tracker exits: "done" marks the end instead. */
static int read_parent(int fd, char lines[][256], int max)
{
    for (int n = 0; n < max; n++) {
        if (rt_test_read_line(fd, lines[n], 256, PY_SECONDS) < 0) {
            return -1;
        }
        if (strcmp(lines[n], "done") == 0) {
            return n;
        }
    }
    return -1;
}

static void c_child_adopts_cpython_tracker(void **state, int exact)
{
    struct rt_test *t = *state;
    if (!python_usable()) {
        skip();
    }
    char shm[128];
    char sem[128];
    rt_test_name(t, shm, sizeof(shm), "cshm");
    rt_test_name(t, sem, sizeof(sem), "csem");
    const char *const argv[] = {"python3",
                                "-c",
                                py_parent,
                                rt_test_child_path(),
                                exact ? "exact" : "bare",
                                shm,
                                sem,
                                NULL};
    int in;
    int out;
    pid_t parent = spawn_python(argv, NULL, -1, t->errpath, &in, &out);
    assert_true(parent > 0);
    rt_test_track(t, parent);
    char lines[8][256];
    int n = read_parent(out, lines, 8);
    long tracker = n >= 1 && strncmp(lines[0], "tracker ", 8) == 0
                       ? atol(lines[0] + 8)
                       : -1;
    /* Recorded at once: teardown kills it if anything below fails. */
    rt_test_track(t, (pid_t)tracker);
    /* The helper is gone but the parent still holds the pipe: CPython's
     * tracker must still run and keep both objects. */
    int kept = tracker > 0 && rt_test_alive((pid_t)tracker) &&
               rt_test_shm_exists(shm) && rt_test_sem_exists(sem);
    /* Now the parent exits normally, unlinking nothing. Its tracker is
     * orphaned to this subreaper and sees EOF once the parent is gone. */
    close(in);
    int parent_exit = wait_exit(parent, PY_SECONDS);
    int st = tracker > 0 ? rt_test_wait_pid((pid_t)tracker, PY_SECONDS) : -1;
    close(out);
    if (n != 6 || tracker <= 0) {
        fail_msg("python parent said %d lines ('%s' ...); stderr:\n%s", n,
                 n > 0 ? lines[0] : "", rt_test_stderr(t));
    }
    /* The helper adopted: no tracker of its own, CPython's pipe under the
     * same number, and both registrations sent to it. */
    assert_string_equal(lines[1], "child shm 0 0");
    assert_string_equal(lines[2], "child sem 0 0");
    assert_string_equal(lines[3], "child pid -1");
    assert_string_equal(lines[4] + strlen("child "),
                        lines[5] + strlen("want "));
    assert_true(kept);
    assert_int_equal(parent_exit, 0);
    assert_true(st != -1);
    /* CPython up to 3.12 always exits 0; 3.13 and later exit 1 after a
     * cleanup of leaks. */
    if (!WIFEXITED(st) || WEXITSTATUS(st) > 1) {
        fail_msg("CPython's tracker: status 0x%x; stderr:\n%s", st,
                 rt_test_stderr(t));
    }
    assert_false(rt_test_shm_exists(shm));
    assert_false(rt_test_sem_exists(sem));
    /* CPython's leak warnings. Up to 3.12 they give only a count; 3.13 and
     * later append the names as a Python set. */
    static const char *const rtypes[] = {"shared_memory", "semaphore"};
    const char *names[] = {shm, sem};
    for (int i = 0; i < 2; i++) {
        char want[256];
        snprintf(want, sizeof(want),
                 "resource_tracker: There appear to be 1 "
                 "leaked %s objects to clean up at shutdown",
                 rtypes[i]);
        expect_in_stderr(t, want);
        const char *tail = strstr(rt_test_stderr(t), want) + strlen(want);
        if (tail[0] == ':') {
            snprintf(want, sizeof(want), ": {'%s'}", names[i]);
            assert_memory_equal(tail, want, strlen(want));
        }
    }
    /* CPython reports a line it cannot use with a traceback; and its
     * warnings are the two above (the warnings module also shows the
     * source line that issued each, hence the "Warning: " anchor). */
    const char *err = rt_test_stderr(t);
    if (rt_test_count(err, "Traceback") != 0 ||
        rt_test_count(err, "Warning: resource_tracker:") != 2) {
        fail_msg("unexpected stderr:\n%s", err);
    }
}

static void c_child_adopts_cpython_tracker_by_fd_dev_ino(void **state)
{
    c_child_adopts_cpython_tracker(state, 1);
}

static void c_child_adopts_cpython_tracker_by_fd(void **state)
{
    c_child_adopts_cpython_tracker(state, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        RT_TEST(python_with_fd_dev_ino_uses_our_tracker),
        RT_TEST(python_with_fd_uses_our_tracker),
        RT_TEST(c_child_adopts_cpython_tracker_by_fd_dev_ino),
        RT_TEST(c_child_adopts_cpython_tracker_by_fd),
    };
    return RT_RUN(tests);
}
