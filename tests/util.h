/* SPDX-License-Identifier: MIT */
/* Test helpers: deadlines, unique name prefixes, /dev/shm scans, processes
 * started and reaped, stderr capture. Only the test's main thread asserts;
 * children report through exit codes and pipes. */
#ifndef RT_TEST_UTIL_H
#define RT_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdint.h>
#include <sys/types.h>

#include <cmocka.h>

#include "proc.h" /* proc_now, proc_scaled, proc_say, proc_scan_prefix */

/* Polls COND(ARG) until it is true or SECONDS (scaled by proc_scaled) have
 * passed.
 * Returns 1 if it became true. */
int rt_test_wait_until(int (*cond)(void *), void *arg, double seconds);

/* Per-test state: a unique prefix, a stderr capture file, started pids. */
#define RT_TEST_PIDS 256
struct rt_test {
    char prefix[64];    /* "/rt-test-PID-N" */
    char errpath[128];  /* stderr of hosts started with rt_test_fork */
    char statedir[128]; /* RESOURCE_TRACKER_DIR while the test runs */
    pid_t pids[RT_TEST_PIDS];
    int npids;
    char mqueues[4][128]; /* message queues to unlink at teardown */
    int nmqueues;
};

/* cmocka setup and teardown: the state is a struct rt_test. Teardown
 * kills and reaps every pid recorded and removes every /dev/shm entry with
 * the prefix (NAME and sem.NAME forms). */
int rt_test_setup(void **state);
int rt_test_teardown(void **state);

/* Builds "PREFIX-SUFFIX" into BUF. */
const char *rt_test_name(const struct rt_test *t, char *buf, size_t len,
                         const char *suffix);

/* Records PID for teardown. */
void rt_test_track(struct rt_test *t, pid_t pid);

/* Forgets PID, reaped by the test itself: teardown must not signal a
 * number the system may have given to another process since (tests that
 * loop over many hosts). */
void rt_test_untrack(struct rt_test *t, pid_t pid);

/* Records a message queue name for teardown (they cannot be listed where
 * /dev/mqueue is not mounted). */
void rt_test_track_mqueue(struct rt_test *t, const char *name);

/* Forks a host process: its stderr goes to T's capture file, FN(ARG, WFD)
 * runs with WFD the write end of a pipe back to the test, and the child
 * exits with FN's return value. Returns the pid; *RET_RFD is the read end. */
pid_t rt_test_fork(struct rt_test *t, int (*fn)(void *arg, int wfd), void *arg,
                   int *ret_rfd);

/* Reads one line (without its newline) from FD within SECONDS. Returns its
 * length or -1 on timeout or EOF. */
ssize_t rt_test_read_line(int fd, char *buf, size_t len, double seconds);

/* Reads a "pid N" style number after KEY from FD. Returns -1 on failure. */
long rt_test_read_value(int fd, const char *key, double seconds);

/* Reads the lines of a host until it has seen "KEY N" for each of the N
 * KEYS, in any order (lines of several processes may come in any order),
 * and stores each N in VALUES. Any other line is a failed check of the
 * host: the test fails, showing it, as it does on a timeout. */
void rt_test_read_keys(int fd, const char *const *keys, long *values, int n,
                       double seconds);

/* Forks HOST, which says "pid N" (its tracker) when its work is done and
 * then hangs; SIGKILLs it, waits for the tracker to exit and returns the
 * tracker's exit status. Fails the test if any step does not happen. */
int rt_test_run_killed(struct rt_test *t, int (*host)(void *arg, int wfd),
                       void *arg);

/* Forks HOST, which says "pid N" (its tracker) and exits cleanly; waits
 * for the tracker to exit and returns its exit status. Fails the test if
 * any step does not happen. */
int rt_test_run_to_end(struct rt_test *t, int (*host)(void *arg, int wfd),
                       void *arg);

/* Waits for the tracker PID (an orphan the test process reaps), no longer
 * tracks it, and returns its exit status; fails the test if it does not
 * exit. */
int rt_test_tracker_status(struct rt_test *t, pid_t pid);

/* The N of the next "KEY N" line of a host; any other line fails the
 * test. */
long rt_test_read_key(int rfd, const char *key);

/* In a host: "pid N" for the test, unless a check failed: then the host
 * exits, and the test sees what failed and no pid. */
void rt_test_say_tracker(int w, long pid);

/* The temporary files of rt_sem_open ("rt-tmp-" in /dev/shm) present at
 * one moment. Other programs on the machine may make such files too: a
 * test counts only those that were not there before it began. */
struct rt_test_tmp {
    int n;
    char names[64][256];
};
void rt_test_tmp_snapshot(struct rt_test_tmp *s);
/* How many temporary files are there now that BEFORE did not hold. */
int rt_test_tmp_new(const struct rt_test_tmp *before);

/* In a host: waits for the test to kill it. */
_Noreturn void rt_test_hang(void);

/* Waits up to SECONDS for the exact PID (a child of the test process: the
 * test process is a child subreaper, so orphaned trackers come to it) and
 * returns its raw wait status, or -1 on timeout. */
int rt_test_wait_pid(pid_t pid, double seconds);

/* Copies what follows KEY ("PPid:", "Rss:", ...) on its line of
 * /proc/PID/FILE ("status", "smaps_rollup"), without the newline, into BUF.
 * 0, or -1 if there is no such process, file or line. */
int rt_test_proc_field(pid_t pid, const char *file, const char *key, char *buf,
                       size_t len);

/* Whether PID exists and is not a zombie. */
int rt_test_alive(pid_t pid);

/* Whether the shared memory object or semaphore NAME ("/x") exists. */
int rt_test_shm_exists(const char *name);
int rt_test_sem_exists(const char *name);

/* /dev/shm entries whose name (after an optional "sem.") starts with
 * PREFIX without its slash; -1 if /dev/shm cannot be read. */
int rt_test_count_prefix(const char *prefix);

/* The captured stderr so far (NUL-terminated, static buffer; its last
 * MiB when it is longer). */
const char *rt_test_stderr(const struct rt_test *t);

/* How many times NEEDLE occurs in HAYSTACK. */
int rt_test_count(const char *haystack, const char *needle);

/* Creates a shared memory object / semaphore named NAME; 0 or -1. */
int rt_test_make_shm(const char *name);
int rt_test_make_sem(const char *name);

/* In a forked host: checks that CALL returned WANT and, when WANT is -1,
 * left errno at WANT_ERRNO; a mismatch is reported on WFD and counted in
 * rt_test_failures, which the host returns as its exit code. */
extern int rt_test_failures;
#define RT_CHECK(wfd, call, want, want_errno)                                  \
    rt_test_check((wfd), __LINE__, #call, (long)(call), (want), (want_errno))
#define RT_CHECK_EQ(wfd, call, want)                                           \
    rt_test_check((wfd), __LINE__, #call, (long)(call), (want), -1)
void rt_test_check(int wfd, int line, const char *what, long got, long want,
                   int want_errno);

/* In the test: reads what a host reported until EOF, waits for it, and
 * fails the test (printing the report) unless it exited 0. */
void rt_test_expect_clean_exit(struct rt_test *t, pid_t pid, int rfd,
                               double seconds);

/* rt_test_fork of HOST(ARG), then rt_test_expect_clean_exit within SECONDS:
 * a host that checks everything itself and must exit 0. */
void rt_test_run_host(struct rt_test *t, int (*host)(void *arg, int wfd),
                      void *arg, double seconds);

/* Starts the helper tests/child with ARGS (NULL-terminated) through
 * posix_spawn: its stdin is a pipe (write end in *RET_IN, closed to end a
 * "hold"), its stdout a pipe (read end in *RET_OUT), its stderr T's capture
 * file. ENV, if not NULL, is added to the environment ("K=V"); KEEP_FD >= 0
 * stays open in the child under the same number. */
pid_t rt_test_spawn(struct rt_test *t, const char *const *args, const char *env,
                    int keep_fd, int *ret_in, int *ret_out);

/* Initialises FA for a child whose stdin is IN (/dev/null when IN < 0),
 * whose stdout is OUT and whose stderr is T's capture file. */
void rt_test_spawn_stdio(posix_spawn_file_actions_t *fa,
                         const struct rt_test *t, int in, int out);

/* Whether the suite runs under valgrind (make valgrind sets
 * RT_TEST_VALGRIND): tests that cannot work there (setrlimit of
 * descriptors, set-id programs, counting the tracker's descriptors) skip,
 * and the heaviest loops run fewer rounds. */
int rt_test_valgrind(void);

/* Path of the exec'able helper tests/child (from RT_TEST_CHILD). */
const char *rt_test_child_path(void);

/* Waits up to SECONDS for PID, a descendant that becomes this (subreaper)
 * process's child only once its parent has died, and reaps it. Returns its
 * raw wait status, -1 on timeout, or -2 when it ended and someone else
 * reaped it. */
int rt_test_wait_adopted(pid_t pid, double seconds);

/* The guardian of TRACKER (its child named resource_guard), waited for up
 * to SECONDS; -1 when none appeared. */
pid_t rt_test_guardian_of(pid_t tracker, double seconds);

/* Path of the command resourcetracker: beside the build's tests/ folder
 * that RT_TEST_CHILD names (build/resourcetracker by default). */
const char *rt_test_cli_path(void);

/* Runs the command with ARGS (NULL-terminated, without argv[0]): its
 * stdout into OUT (NUL-terminated, OUTLEN bytes at most, the rest
 * dropped), its stderr appended to T's capture file, RESOURCE_TRACKER_DIR
 * as the test set it. Returns its exit status, or -1 when it did not exit
 * normally within SECONDS (then it is killed). */
int rt_test_cli(struct rt_test *t, const char *const *args, char *out,
                size_t outlen, double seconds);

/* Waits up to SECONDS until `resourcetracker list --json` shows NAMES
 * registered names in all (the tracker has read and journaled what was
 * sent: a registration still in the pipe when the whole run is killed,
 * tracker included, dies with the pipe). Returns 1, or 0 at the deadline. */
int rt_test_wait_listed(struct rt_test *t, int names, double seconds);

/* Whether TEXT is valid JSON, by python3 -m json.tool: 1 yes, 0 no, -1
 * when python3 cannot be run. */
int rt_test_json_valid(const char *text);

/* Runs all TESTS after making this process a subreaper and arming a global
 * alarm. */
int rt_test_main(const char *group, const struct CMUnitTest *tests, size_t n);

#define RT_TEST(f)                                                             \
    cmocka_unit_test_setup_teardown(f, rt_test_setup, rt_test_teardown)
#define RT_RUN(tests)                                                          \
    rt_test_main(__FILE__, tests, sizeof(tests) / sizeof(tests[0]))

#endif /* RT_TEST_UTIL_H */
