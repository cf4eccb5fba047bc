/* SPDX-License-Identifier: MIT */
/* Process helpers for the test programs: the stand-alone ones (stress,
 * random-kill) and, for its clock, lines and prefix scans, the cmocka
 * suite's util.c. */
#ifndef RT_TEST_PROC_H
#define RT_TEST_PROC_H

#include <stddef.h>
#include <sys/types.h>

/* CLOCK_MONOTONIC, in seconds. */
double proc_now(void);

/* SECONDS stretched by RT_TEST_TIMEOUT_MULTIPLIER (sanitizers, valgrind). */
double proc_scaled(double seconds);

void proc_nap_us(long us);

/* Reaps the exact child PID before DEADLINE (as proc_now counts): 0 with
 * *RET_STATUS, or -1 (errno ETIMEDOUT, or ECHILD when it is not ours). */
int proc_wait_exact(pid_t pid, double deadline, int *ret_status);

/* One line, one write(2) of less than PIPE_BUF: lines from many processes
 * on one pipe never mix. */
void proc_say(int fd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

struct proc_reader {
    int fd;
    size_t have;
    char buf[4096];
};

/* Reads one line (newline dropped) before DEADLINE. Returns its length, or
 * -1 with errno 0 at EOF, ETIMEDOUT at the deadline. */
ssize_t proc_read_line(struct proc_reader *r, char *out, size_t cap,
                       double deadline);

/* Entries of DIR whose name (after the "sem." glibc puts before
 * semaphores, when SEM_TOO) starts with PREFIX (no slash). Removed when
 * REMOVE. Returns how many. */
int proc_scan_prefix(const char *dir, const char *prefix, int sem_too,
                     int remove);

/* Failures of a stand-alone test: each is counted in proc_problems, and the
 * first PROC_SHOWN are printed on stdout as "PROC_NAME: FAIL: ...". */
#define PROC_SHOWN 10
extern const char *proc_name;
extern int proc_problems;
void proc_problem(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints up to 300 bytes of LINE, control and non-ASCII bytes escaped, and
 * a newline. */
void proc_print_escaped(const char *line);

/* The whole file PATH in a NUL-terminated buffer to free(), its length in
 * *RET_LEN; NULL on failure. */
char *proc_slurp(const char *path, size_t *ret_len);

/* Reaps every child until none is left; one still running at DEADLINE is
 * a problem. */
void proc_reap_all(double deadline);

/* Forks the host of a run, HOST(ARG, report write end, lifeline read end):
 * its stderr (and so that of its workers and tracker) is ERRFD, and it
 * leads a process group of its own, so that a failed run can kill it and
 * every worker at once. Returns its pid, or -1 with errno. */
pid_t proc_start_host(int errfd, const int report[2], const int lifeline[2],
                      int (*host)(void *arg, int report, int lifeline),
                      void *arg);

#endif /* RT_TEST_PROC_H */
