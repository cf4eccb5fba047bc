/* SPDX-License-Identifier: MIT */
/* Process helpers for the stand-alone test programs (no cmocka). */
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

#endif /* RT_TEST_PROC_H */
