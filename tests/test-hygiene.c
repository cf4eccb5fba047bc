/* SPDX-License-Identifier: MIT */
/* The host is sacred: the tracker is not its child, holds none of its
 * descriptors, leaves its signal state alone, does not deadlock it while
 * other threads hold malloc and stdio locks, and keeps no copy of its
 * memory. */
#define _GNU_SOURCE
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "resourcetracker.h"

static atomic_int sigchld_count;

static void on_sigchld(int sig)
{
    (void)sig;
    atomic_fetch_add(&sigchld_count, 1);
}

static unsigned long long proc_mask(pid_t pid, const char *key)
{
    char buf[64];
    if (rt_test_proc_field(pid, "status", key, buf, sizeof(buf)) < 0) {
        return ~0ULL;
    }
    return strtoull(buf, NULL, 16);
}

static int not_waitable_host(void *arg, int w)
{
    (void)arg;
    struct sigaction sa = {.sa_handler = on_sigchld};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);
    RT_CHECK(w, rt_ensure_running(), 0, 0);
    pid_t tracker = rt_tracker_pid();
    /* Neither the tracker nor the process that started it is a child
     * wait() can see, and no SIGCHLD arrived for either. */
    RT_CHECK(w, waitpid(-1, NULL, WNOHANG), -1, ECHILD);
    RT_CHECK_EQ(w, atomic_load(&sigchld_count), 0);
    char ppid[32];
    RT_CHECK(w,
             rt_test_proc_field(tracker, "status", "PPid:", ppid, sizeof(ppid)),
             0, 0);
    RT_CHECK_EQ(w, atol(ppid) == getpid(), 0);
    /* In its own session, away from the host's process group. */
    RT_CHECK_EQ(w, getsid(tracker), tracker);
    RT_CHECK_EQ(w, getpgid(tracker), tracker);
    /* Killed, it does not become our zombie either. */
    RT_CHECK(w, kill(tracker, SIGKILL), 0, 0);
    for (int i = 0; i < 1000 && rt_test_alive(tracker); i++) {
        usleep(1000);
    }
    RT_CHECK(w, waitpid(-1, NULL, WNOHANG), -1, ECHILD);
    RT_CHECK_EQ(w, atomic_load(&sigchld_count), 0);
    return rt_test_failures;
}

static void tracker_is_not_waitable(void **state)
{
    rt_test_run_host(*state, not_waitable_host, NULL, 20);
}

static int same_file(const char *link, int fd)
{
    struct stat a;
    struct stat b;
    return stat(link, &a) == 0 && fstat(fd, &b) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
}

static int fd_host(void *arg, int w)
{
    (void)arg;
    /* Descriptors a host may have lying around, none close-on-exec. */
    int p[2];
    if (pipe(p) < 0) {
        return 90;
    }
    int file = open("/", O_RDONLY | O_DIRECTORY);
    RT_CHECK(w, rt_ensure_running(), 0, 0);
    pid_t tracker = rt_tracker_pid();
    int fd = rt_getfd();
    RT_CHECK_EQ(w, (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0, 1);
    char dir[64];
    snprintf(dir, sizeof(dir), "/proc/%ld/fd", (long)tracker);
    DIR *d = opendir(dir);
    if (d == NULL) {
        return 91;
    }
    int seen = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        int n = atoi(e->d_name);
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        int null = open("/dev/null", O_RDONLY);
        /* Past 2, only the run's own: its pipes, journal and state
         * directory, liveness page and control socket. None of the host's
         * descriptors. */
        int ok = (n <= 1 && same_file(path, null)) ||
                 (n == 2 && same_file(path, 2)) ||
                 (n > 2 && !same_file(path, p[0]) && !same_file(path, p[1]) &&
                  !same_file(path, file)) ||
                 (n > 2 && rt_test_valgrind());
        close(null);
        if (!ok) {
            proc_say(w, "tracker holds fd %d", n);
            rt_test_failures++;
        }
        seen++;
    }
    closedir(d);
    RT_CHECK_EQ(w, seen >= 4, 1);
    /* Our own pipe sees EOF as soon as we close its write end: the tracker
     * holds no copy of it. */
    close(p[1]);
    struct pollfd pf = {p[0], POLLIN, 0};
    RT_CHECK_EQ(w, poll(&pf, 1, 0), 1);
    char c;
    RT_CHECK_EQ(w, read(p[0], &c, 1), 0);
    (void)file;
    return rt_test_failures;
}

static void tracker_holds_only_its_pipe_and_stderr(void **state)
{
    rt_test_run_host(*state, fd_host, NULL, 20);
}

static void on_usr1(int sig)
{
    (void)sig;
}

static int signal_host(void *arg, int w)
{
    (void)arg;
    /* Odd signal state in the host: a handler, an ignored signal, and a
     * mask. None of it may reach the tracker, and the library must leave it
     * as it was. */
    struct sigaction sa = {.sa_handler = on_usr1};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGUSR2, SIG_IGN);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGQUIT);
    sigaddset(&mask, SIGALRM);
    pthread_sigmask(SIG_SETMASK, &mask, NULL);
    RT_CHECK(w, rt_ensure_running(), 0, 0);
    RT_CHECK(w, rt_register("/rt-hygiene-unused", RT_SHARED_MEMORY), 0, 0);
    RT_CHECK(w, rt_unregister("/rt-hygiene-unused", RT_SHARED_MEMORY), 0, 0);
    sigset_t now;
    pthread_sigmask(SIG_SETMASK, NULL, &now);
    RT_CHECK_EQ(w,
                sigismember(&now, SIGQUIT) && sigismember(&now, SIGALRM) &&
                    !sigismember(&now, SIGPIPE) && !sigismember(&now, SIGINT),
                1);
    struct sigaction cur;
    sigaction(SIGUSR1, NULL, &cur);
    RT_CHECK_EQ(w, cur.sa_handler == on_usr1, 1);
    sigaction(SIGPIPE, NULL, &cur);
    RT_CHECK_EQ(w, cur.sa_handler == SIG_DFL, 1);
    pid_t tracker = rt_tracker_pid();
    /* Every signal that would end it is ignored (API.md: only SIGKILL or a
     * crash stops it), the host's ignored and handled ones are not
     * inherited, and faults stay fatal. */
    static const int ignored[] = {SIGINT,  SIGTERM, SIGHUP,    SIGPIPE,
                                  SIGQUIT, SIGUSR1, SIGUSR2,   SIGALRM,
                                  SIGPROF, SIGXCPU, SIGVTALRM, SIGXFSZ,
                                  SIGTSTP, SIGTTIN, SIGTTOU};
    static const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
    unsigned long long ign = proc_mask(tracker, "SigIgn:");
    for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++) {
        RT_CHECK_EQ(w, (ign >> (ignored[i] - 1)) & 1, 1);
    }
    for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++) {
        RT_CHECK_EQ(w, (ign >> (fatal[i] - 1)) & 1, 0);
    }
    RT_CHECK_EQ(w, (ign >> (SIGRTMIN + 3 - 1)) & 1, 1);
    /* And the two glibc keeps for itself (its sigaction refuses them). */
    RT_CHECK_EQ(w, (ign >> (32 - 1)) & 1, 1);
    RT_CHECK_EQ(w, (ign >> (33 - 1)) & 1, 1);
    /* valgrind blocks signals in a thread while it sits in a system call
     * (poll, here) and delivers them itself. */
    RT_CHECK_EQ(w, proc_mask(tracker, "SigBlk:") == 0 || rt_test_valgrind(), 1);
    /* Sanitizer runtimes catch the synchronous faults; nothing else may
     * have a handler. */
    unsigned long long faults =
        (1ULL << (SIGSEGV - 1)) | (1ULL << (SIGBUS - 1)) |
        (1ULL << (SIGFPE - 1)) | (1ULL << (SIGILL - 1)) |
        (1ULL << (SIGABRT - 1)) | (1ULL << (SIGTRAP - 1));
    /* valgrind itself catches every signal in the processes it runs. */
    RT_CHECK_EQ(
        w, (proc_mask(tracker, "SigCgt:") & ~faults) == 0 || rt_test_valgrind(),
        1);
    return rt_test_failures;
}

static void tracker_signal_state_is_its_own(void **state)
{
    rt_test_run_host(*state, signal_host, NULL, 20);
}

/* Threads that hold malloc's and stdio's locks most of the time. A tracker
 * started by fork() alone would inherit them held and hang on its first
 * malloc or printf; ours execs, so the host's locks do not matter. */
static atomic_int busy_stop;

static void *busy(void *arg)
{
    FILE *f = arg;
    while (!atomic_load(&busy_stop)) {
        void *p = malloc(1 + (size_t)rand() % 65536);
        fprintf(f, "%p\n", p);
        free(p);
    }
    return NULL;
}

static int locks_host(void *arg, int w)
{
    (void)arg;
    FILE *f = fopen("/dev/null", "w");
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        pthread_create(&th[i], NULL, busy, f);
    }
    for (int i = 0; i < (rt_test_valgrind() ? 5 : 30); i++) {
        RT_CHECK(w, rt_ensure_running(), 0, 0);
        pid_t tracker = rt_tracker_pid();
        RT_CHECK(w, rt_register("/rt-hygiene-lock", RT_SHARED_MEMORY), 0, 0);
        RT_CHECK(w, rt_unregister("/rt-hygiene-lock", RT_SHARED_MEMORY), 0, 0);
        /* Make the next call start a fresh tracker. */
        kill(tracker, SIGKILL);
        for (int k = 0; k < 1000 && rt_test_alive(tracker); k++) {
            usleep(1000);
        }
    }
    atomic_store(&busy_stop, 1);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
    }
    return rt_test_failures;
}

static void start_does_not_deadlock_a_busy_multithreaded_host(void **state)
{
    if (rt_test_valgrind()) {
        /* valgrind turns the launcher's vfork-style clone into a fork, and
         * such a fork of a multithreaded process can hang inside valgrind
         * itself (its other threads' state comes along). */
        skip();
    }
    rt_test_run_host(*state, locks_host, NULL, 60);
}

/* A figure of smaps_rollup for PID, in kB. */
static long smaps_kb(pid_t pid, const char *key)
{
    char buf[64];
    return rt_test_proc_field(pid, "smaps_rollup", key, buf, sizeof(buf)) < 0
               ? -1
               : atol(buf);
}

#define BIG_HEAP ((size_t)256 << 20)

static int big_host(void *arg, int w)
{
    (void)arg;
    /* The same host's tracker, small and then big, so that what the build
     * itself costs (a sanitizer runtime in the tracker, say) cancels out:
     * both relaunched, so that what a relaunch costs (the journal's
     * replay) cancels out too. */
    RT_CHECK(w, rt_ensure_running(), 0, 0);
    pid_t first = rt_tracker_pid();
    RT_CHECK(w, kill(first, SIGKILL), 0, 0);
    double first_end = proc_now() + proc_scaled(10);
    while (rt_tracker_pid() == first && proc_now() < first_end) {
        RT_CHECK(w, rt_ensure_running(), 0, 0);
    }
    pid_t small = rt_tracker_pid();
    long small_anon = smaps_kb(small, "Anonymous:");
    RT_CHECK(w, kill(small, SIGKILL), 0, 0);
    unsigned char *heap = malloc(BIG_HEAP);
    if (heap == NULL) {
        return 90;
    }
    memset(heap, 1, BIG_HEAP);
    double end = proc_now() + proc_scaled(10);
    while (rt_tracker_pid() == small && proc_now() < end) {
        RT_CHECK(w, rt_ensure_running(), 0, 0);
    }
    /* Rewriting the heap would make a forked tracker own a copy of it. */
    memset(heap, 2, BIG_HEAP);
    pid_t big = rt_tracker_pid();
    long anon = smaps_kb(big, "Anonymous:");
    /* Anonymous memory, not Pss: Pss halves the pages the tracker still
     * shares with its guardian (forked from it), and how many it still
     * shares varies from run to run, by megabytes under a sanitizer. A
     * copy of the host would show here whole, shared or not. */
    if (small_anon < 0 || anon < 0 || anon > small_anon + 8 * 1024) {
        proc_say(w,
                 "tracker anonymous memory %ld kB from a small host, %ld kB "
                 "from a 256 MiB one",
                 small_anon, anon);
        return 1;
    }
    free(heap);
    return rt_test_failures;
}

static void tracker_keeps_no_copy_of_a_big_host(void **state)
{
    rt_test_run_host(*state, big_host, NULL, 60);
}

/* A host that is a child subreaper inherits the orphaned tracker: when the
 * tracker dies, the library reaps it by its pid as it relaunches, so the
 * host is left with no zombie, even when the relaunch comes at once, before
 * the dying tracker is even waitable. */
static int subreaper_host(void *arg, int w)
{
    (void)arg;
    if (prctl(PR_SET_CHILD_SUBREAPER, 1L, 0L, 0L, 0L) < 0) {
        return 90;
    }
    for (int round = 0; round < (rt_test_valgrind() ? 5 : 30); round++) {
        RT_CHECK(w, rt_ensure_running(), 0, 0);
        pid_t old = rt_tracker_pid();
        char ppid[32];
        RT_CHECK(w,
                 rt_test_proc_field(old, "status", "PPid:", ppid, sizeof(ppid)),
                 0, 0);
        RT_CHECK_EQ(w, atol(ppid) == getpid(), 1);
        RT_CHECK(w, kill(old, SIGKILL), 0, 0);
        /* Call again until the library sees it dead: the first call that
         * does relaunches, typically before the kernel has finished the
         * dying tracker's exit. */
        double end = proc_now() + proc_scaled(10);
        while (rt_tracker_pid() == old && proc_now() < end) {
            RT_CHECK(w, rt_ensure_running(), 0, 0);
        }
        RT_CHECK_EQ(w, rt_tracker_pid() != old, 1);
        RT_CHECK(w, waitpid(old, NULL, WNOHANG), -1, ECHILD);
        if (rt_test_failures > 0) {
            break;
        }
    }
    return rt_test_failures;
}

static void subreaper_host_is_left_no_zombie(void **state)
{
    rt_test_run_host(*state, subreaper_host, NULL, 20);
}

/* A host whose stderr is close-on-exec still gets the tracker's report. */
static int cloexec_stderr_host(void *arg, int w)
{
    const char *name = arg;
    RT_CHECK_EQ(w, fcntl(2, F_SETFD, FD_CLOEXEC), 0);
    RT_CHECK(w, rt_ensure_running(), 0, 0);
    char path[64];
    snprintf(path, sizeof(path), "/proc/%ld/fd/2", (long)rt_tracker_pid());
    RT_CHECK_EQ(w, same_file(path, 2), 1);
    RT_CHECK(w, rt_test_make_shm(name), 0, 0);
    RT_CHECK(w, rt_register(name, RT_SHARED_MEMORY), 0, 0);
    proc_say(w, "pid %ld", (long)rt_tracker_pid());
    return rt_test_failures;
}

static void tracker_reports_to_a_cloexec_stderr(void **state)
{
    struct rt_test *t = *state;
    char name[128];
    rt_test_name(t, name, sizeof(name), "x");
    assert_int_equal(rt_test_run_to_end(t, cloexec_stderr_host, name), 1);
    assert_non_null(strstr(rt_test_stderr(t), "1 leaked shared_memory"));
}

/* A host without stdin, stdout and stderr never finds the tracker's pipe
 * (or anything else of the library's) on 0, 1 or 2, where its own printf
 * would feed the tracker. */
static int no_stdio_host(void *arg, int w)
{
    (void)arg;
    close(0);
    close(1);
    close(2);
    int fd = rt_getfd();
    RT_CHECK_EQ(w, fd > 2, 1);
    RT_CHECK(w, rt_register("/rt-hygiene-unused", RT_SHARED_MEMORY), 0, 0);
    RT_CHECK(w, rt_unregister("/rt-hygiene-unused", RT_SHARED_MEMORY), 0, 0);
    for (int std = 0; std <= 2; std++) {
        RT_CHECK(w, fcntl(std, F_GETFD), -1, EBADF);
    }
    return rt_test_failures;
}

static void no_stdio_host_keeps_std_numbers_free(void **state)
{
    rt_test_run_host(*state, no_stdio_host, NULL, 20);
}

/* A tracker that dies before it is ready (here its dynamic loader fails on
 * a broken libc) is not taken for started: the library falls back to the
 * fork path, and that tracker works. */
static int loader_host(void *arg, int w)
{
    const struct rt_test *t = arg;
    char dir[256];
    char lib[300];
    snprintf(dir, sizeof(dir), "/tmp%s-badlib", t->prefix);
    snprintf(lib, sizeof(lib), "%s/libc.so.6", dir);
    if (mkdir(dir, 0700) < 0) {
        return 90;
    }
    int fd = open(lib, O_CREAT | O_WRONLY, 0600);
    close(fd);
    setenv("LD_LIBRARY_PATH", dir, 1);
    RT_CHECK(w, rt_ensure_running(), 0, 0);
    char exe[64];
    char mine[512] = "";
    char its[512] = "";
    snprintf(exe, sizeof(exe), "/proc/%ld/exe", (long)rt_tracker_pid());
    RT_CHECK_EQ(w, readlink("/proc/self/exe", mine, sizeof(mine) - 1) > 0, 1);
    RT_CHECK_EQ(w, readlink(exe, its, sizeof(its) - 1) > 0, 1);
    /* Under valgrind every process's executable is valgrind's. */
    RT_CHECK_EQ(w, strcmp(mine, its) == 0 || rt_test_valgrind(), 1);
    char name[128];
    snprintf(name, sizeof(name), "%s-x", t->prefix);
    RT_CHECK(w, rt_test_make_shm(name), 0, 0);
    RT_CHECK(w, rt_register(name, RT_SHARED_MEMORY), 0, 0);
    proc_say(w, "pid %ld", (long)rt_tracker_pid());
    return rt_test_failures;
}

/* A tracker forked from its host (types of its own) lets go of the host's
 * shared mappings: a 32 MiB file the host mapped, then unmapped and
 * removed, no longer holds its memory while the tracker runs. */
static int custom_cleanup(const char *name)
{
    (void)name;
    return 0;
}

static int shared_mapping_host(void *arg, int w)
{
    const struct rt_test *t = arg;
    char path[256];
    snprintf(path, sizeof(path), "/dev/shm%s-big", t->prefix);
    int fd = open(path, O_CREAT | O_EXCL | O_RDWR, 0600);
    size_t size = (size_t)32 << 20;
    if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
        return 90;
    }
    unsigned char *p =
        mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        return 91;
    }
    memset(p, 7, size);
    close(fd);
    RT_CHECK(w, rt_define_type("hygiene_big", custom_cleanup), 0, 0);
    RT_CHECK(w, rt_ensure_running(), 0, 0);
    pid_t tracker = rt_tracker_pid();
    munmap(p, size);
    unlink(path);
    /* The tracker maps nothing of that file. (/proc files have no size:
     * read to the end.) */
    char maps[64];
    snprintf(maps, sizeof(maps), "/proc/%ld/maps", (long)tracker);
    static char text[1 << 20];
    size_t len = 0;
    int mfd = open(maps, O_RDONLY);
    for (ssize_t n; mfd >= 0 && len < sizeof(text) - 1 &&
                    (n = read(mfd, text + len, sizeof(text) - 1 - len)) > 0;) {
        len += (size_t)n;
    }
    text[len] = '\0';
    RT_CHECK_EQ(w, mfd >= 0 && len > 0, 1);
    close(mfd);
    RT_CHECK_EQ(w, strstr(text, path + 8) == NULL, 1);
    return rt_test_failures;
}

static void forked_tracker_lets_go_of_shared_mappings(void **state)
{
    if (rt_test_valgrind()) {
        skip(); /* valgrind maps the files itself */
    }
    rt_test_run_host(*state, shared_mapping_host, *state, 20);
}

static void tracker_dying_before_ready_falls_back_to_fork(void **state)
{
    struct rt_test *t = *state;
#ifndef __GLIBC__
    /* The broken libc is glibc's libc.so.6; musl's loader is its libc. */
    skip();
#endif
    assert_int_equal(rt_test_run_to_end(t, loader_host, t), 1);
    assert_non_null(strstr(rt_test_stderr(t), "1 leaked shared_memory"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        RT_TEST(tracker_is_not_waitable),
        RT_TEST(tracker_holds_only_its_pipe_and_stderr),
        RT_TEST(tracker_signal_state_is_its_own),
        RT_TEST(start_does_not_deadlock_a_busy_multithreaded_host),
        RT_TEST(tracker_keeps_no_copy_of_a_big_host),
        RT_TEST(subreaper_host_is_left_no_zombie),
        RT_TEST(tracker_reports_to_a_cloexec_stderr),
        RT_TEST(forked_tracker_lets_go_of_shared_mappings),
        RT_TEST(no_stdio_host_keeps_std_numbers_free),
        RT_TEST(tracker_dying_before_ready_falls_back_to_fork),
    };
    return RT_RUN(tests);
}
