/* SPDX-License-Identifier: MIT */
/* Process helpers for the stand-alone test programs (stress, random-kill),
 * which do not use cmocka: deadlines, exact reaping, one-write lines, a
 * line reader with a deadline, and prefix scans of a folder. */
#define _GNU_SOURCE
#include "proc.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

double proc_now(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* SECONDS stretched by RT_TEST_TIMEOUT_MULTIPLIER (sanitizers, valgrind). */
double proc_scaled(double seconds)
{
    const char *m = getenv("RT_TEST_TIMEOUT_MULTIPLIER");
    double k = m != NULL ? atof(m) : 1.0;
    return seconds * (k > 0 ? k : 1.0);
}

void proc_nap_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    (void)nanosleep(&ts, NULL);
}

/* Reaps the exact child PID before DEADLINE: 0 with *RET_STATUS, or -1
 * (errno ETIMEDOUT, or ECHILD when it is not our child). The first naps
 * are short: a SIGKILLed child is usually gone within microseconds. */
int proc_wait_exact(pid_t pid, double deadline, int *ret_status)
{
    long nap = 20;
    for (;;) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            *ret_status = st;
            return 0;
        }
        if (r < 0 && errno != EINTR) {
            return -1;
        }
        if (proc_now() > deadline) {
            errno = ETIMEDOUT;
            return -1;
        }
        proc_nap_us(nap);
        nap = nap < 1000 ? nap * 2 : 1000;
    }
}

/* One line, one write(2) of less than PIPE_BUF: lines from many processes
 * on one pipe never mix. */
void proc_say(int fd, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    if ((size_t)n > sizeof(buf) - 2) {
        n = (int)sizeof(buf) - 2;
    }
    buf[n++] = '\n';
    /* A runner that is gone cannot be told anything. */
    while (write(fd, buf, (size_t)n) < 0 && errno == EINTR) {
    }
}

/* Reads one line (newline dropped) before DEADLINE. Returns its length, or
 * -1 with errno 0 at EOF, ETIMEDOUT at the deadline. */
ssize_t proc_read_line(struct proc_reader *r, char *out, size_t cap,
                       double deadline)
{
    for (;;) {
        char *nl = memchr(r->buf, '\n', r->have);
        if (nl != NULL || r->have == sizeof(r->buf)) {
            size_t len = nl != NULL ? (size_t)(nl - r->buf) : r->have;
            size_t keep = len < cap ? len : cap - 1;
            memcpy(out, r->buf, keep);
            out[keep] = '\0';
            size_t used = nl != NULL ? len + 1 : len;
            memmove(r->buf, r->buf + used, r->have - used);
            r->have -= used;
            return (ssize_t)keep;
        }
        int left = (int)((deadline - proc_now()) * 1000);
        if (left <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        struct pollfd pf = {r->fd, POLLIN, 0};
        int n = poll(&pf, 1, left);
        if (n < 0 && errno != EINTR) {
            return -1;
        }
        if (n <= 0) {
            continue;
        }
        ssize_t got = read(r->fd, r->buf + r->have, sizeof(r->buf) - r->have);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0) {
            errno = got == 0 ? 0 : errno;
            return -1;
        }
        r->have += (size_t)got;
    }
}

/* Entries of DIR whose name (after a "sem." glibc puts before semaphores,
 * when SEM_TOO) starts with PREFIX (no slash). Removed when REMOVE. */
int proc_scan_prefix(const char *dir, const char *prefix, int sem_too,
                     int remove)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return 0;
    }
    size_t n = strlen(prefix);
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *name = e->d_name;
        if (sem_too && strncmp(name, "sem.", 4) == 0) {
            name += 4;
        }
        if (strncmp(name, prefix, n) != 0) {
            continue;
        }
        count++;
        if (remove) {
            char path[PATH_MAX];
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            /* Best effort: what cannot be removed is counted anyway. */
            (void)unlink(path);
        }
    }
    (void)closedir(d);
    return count;
}
