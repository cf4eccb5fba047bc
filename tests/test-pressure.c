/* SPDX-License-Identifier: MIT */
/* Resources running out: a host that cannot create processes gets -1 and
 * an errno (no crash, no hang, nothing left open), and a tracker that runs
 * out of memory warns, keeps every registration it holds and goes on. */
#define _GNU_SOURCE
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "resourcetracker.h"

/* musl-gcc has no kernel headers on its include path. */
#if defined(__has_include)
#if __has_include(<linux/seccomp.h>) && __has_include(<linux/filter.h>) &&     \
    __has_include(<linux/audit.h>)
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#if defined(__x86_64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif
#endif
#endif

#ifdef TEST_AUDIT_ARCH
static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL) {
        return -1;
    }
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        n += e->d_name[0] != '.';
    }
    closedir(d);
    return n;
}

/* Every way of making a process fails with EAGAIN, as it does for a user
 * at RLIMIT_NPROC or a cgroup at pids.max (neither binds root, who runs
 * CI). clone3 gets ENOSYS, which makes a libc that tries it first fall
 * back to clone. */
#define DENY(nr, err)                                                          \
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1),                           \
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (err))

static int deny_process_creation(void)
{
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TEST_AUDIT_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        DENY(SYS_clone, EAGAIN),
#ifdef SYS_clone3
        DENY(SYS_clone3, ENOSYS),
#endif
#ifdef SYS_fork
        DENY(SYS_fork, EAGAIN),
#endif
#ifdef SYS_vfork
        DENY(SYS_vfork, EAGAIN),
#endif
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {
        .len = (unsigned short)(sizeof(code) / sizeof(code[0])),
        .filter = code,
    };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        return -1;
    }
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

static int no_processes(void *arg, int w)
{
    (void)arg;
    int before = count_fds();
    if (deny_process_creation() < 0) {
        return 90;
    }
    RT_CHECK(w, rt_ensure_running(), -1, EAGAIN);
    RT_CHECK(w, rt_register("/rt-pressure-x", RT_SHARED_MEMORY), -1, EAGAIN);
    RT_CHECK(w, rt_unregister("/rt-pressure-x", RT_SHARED_MEMORY), -1, EAGAIN);
    RT_CHECK(w, rt_getfd(), -1, EAGAIN);
    RT_CHECK_EQ(w, rt_tracker_pid(), -1);
    /* A failed start keeps nothing open, and trying again fails the same
     * way instead of finding half-made state. */
    RT_CHECK_EQ(w, count_fds(), before);
    RT_CHECK(w, rt_ensure_running(), -1, EAGAIN);
    RT_CHECK_EQ(w, count_fds(), before);
    return rt_test_failures;
}
#endif

static void failing_process_creation_is_eagain(void **state)
{
#ifndef TEST_AUDIT_ARCH
    (void)state;
    skip(); /* needs the kernel's headers, on x86-64 or aarch64 */
#else
    if (rt_test_valgrind()) {
        skip(); /* valgrind runs the client's clone itself */
    }
    rt_test_run_host(*state, no_processes, NULL, 20);
#endif
}

/* The tracker gets an address-space limit a few MiB above what it uses,
 * then a flood of long names it cannot all store. */
#define FLOOD 60000
#define REAL 3

static long vm_size_kib(pid_t pid)
{
    char buf[64];
    long kib = -1;
    if (rt_test_proc_field(pid, "status", "VmSize:", buf, sizeof(buf)) < 0 ||
        sscanf(buf, "%ld", &kib) != 1) {
        return -1;
    }
    return kib;
}

static int make_and_register(const struct rt_test *t, const char *tag, int i,
                             int w)
{
    char name[128];
    snprintf(name, sizeof(name), "%s-%s%d", t->prefix, tag, i);
    RT_CHECK(w, rt_test_make_shm(name), 0, 0);
    RT_CHECK(w, rt_register(name, RT_SHARED_MEMORY), 0, 0);
    return 0;
}

static void flood_name(const struct rt_test *t, char *buf, size_t len, int i)
{
    /* Long names fill the tracker's memory quickly; none of them exists. */
    snprintf(buf, len, "%s-flood-%06d-%0200d", t->prefix, i, 0);
}

static int starved_tracker_host(void *arg, int w)
{
    const struct rt_test *t = arg;
    RT_CHECK(w, rt_ensure_running(), 0, 0);
    pid_t tracker = rt_tracker_pid();
    for (int i = 0; i < REAL; i++) {
        make_and_register(t, "before", i, w);
    }
    long kib = vm_size_kib(tracker);
    RT_CHECK_EQ(w, kib > 0, 1);
    rlim_t cap = ((rlim_t)kib + 4096) * 1024;
    struct rlimit rl = {cap, cap};
    RT_CHECK(w, prlimit(tracker, RLIMIT_AS, &rl, NULL), 0, 0);
    char name[300];
    for (int i = 0; i < FLOOD; i++) {
        flood_name(t, name, sizeof(name), i);
        RT_CHECK(w, rt_register(name, RT_SHARED_MEMORY), 0, 0);
    }
    /* What it stored goes quietly; what it could not store draws a
     * (bounded) "not registered" warning. */
    for (int i = 0; i < FLOOD; i++) {
        flood_name(t, name, sizeof(name), i);
        RT_CHECK(w, rt_unregister(name, RT_SHARED_MEMORY), 0, 0);
    }
    /* The tracker still takes registrations once memory is free again. */
    for (int i = 0; i < REAL; i++) {
        make_and_register(t, "after", i, w);
    }
    proc_say(w, "pid %ld", (long)tracker);
    rt_test_hang();
}

static void tracker_out_of_memory_keeps_what_it_has(void **state)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    skip(); /* a sanitized tracker maps its own memory under the same limit */
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
    skip();
#endif
#endif
    if (rt_test_valgrind()) {
        skip(); /* valgrind's address space is not the tracker's */
    }
    struct rt_test *t = *state;
    int rfd;
    pid_t pid = rt_test_fork(t, starved_tracker_host, t, &rfd);
    long tracker = rt_test_read_value(rfd, "pid", 60);
    assert_true(tracker > 0);
    rt_test_track(t, (pid_t)tracker);
    kill(pid, SIGKILL);
    assert_int_not_equal(rt_test_wait_pid(pid, 20), -1);
    close(rfd);
    int st = rt_test_wait_pid((pid_t)tracker, 60);
    assert_true(st != -1 && WIFEXITED(st));
    /* Leaks cleaned (1) outrank the bad messages (3) the flood caused. */
    assert_int_equal(WEXITSTATUS(st), 1);
    const char *err = rt_test_stderr(t);
    assert_non_null(strstr(err, "out of memory"));
    assert_non_null(strstr(err, "6 leaked shared_memory"));
    assert_int_equal(rt_test_count_prefix(t->prefix), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        RT_TEST(failing_process_creation_is_eagain),
        RT_TEST(tracker_out_of_memory_keeps_what_it_has),
    };
    return RT_RUN(tests);
}
