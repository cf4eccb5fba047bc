/* SPDX-License-Identifier: MIT */
/* Process helpers for the test programs: deadlines, exact reaping,
 * one-write lines, a line reader with a deadline, prefix scans of a folder,
 * and the stand-alone programs' failure count, file reading and host. */
#define _GNU_SOURCE
#include "proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

const char *proc_name = "test";
int proc_problems;

void proc_problem(const char *fmt, ...)
{
    if (proc_problems++ >= PROC_SHOWN) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    printf("%s: FAIL: ", proc_name);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
}

void proc_print_escaped(const char *line)
{
    for (size_t i = 0; i < 300 && line[i] != '\0'; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c >= 0x20 && c < 0x7f) {
            putchar(c);
        } else {
            printf("\\x%02x", c);
        }
    }
    putchar('\n');
}

char *proc_slurp(const char *path, size_t *ret_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        if (fd >= 0) {
            (void)close(fd);
        }
        return NULL;
    }
    size_t cap = (size_t)st.st_size;
    char *buf = malloc(cap + 1);
    size_t len = 0;
    while (buf != NULL && len < cap) {
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        len += (size_t)n;
    }
    (void)close(fd);
    if (buf != NULL) {
        buf[len] = '\0';
        *ret_len = len;
    }
    return buf;
}

void proc_reap_all(double deadline)
{
    for (;;) {
        pid_t r = waitpid(-1, NULL, WNOHANG);
        if (r < 0 && errno == ECHILD) {
            return;
        }
        if (r <= 0) {
            if (proc_now() > deadline) {
                proc_problem("children still running at exit");
                return;
            }
            proc_nap_us(1000);
        }
    }
}

pid_t proc_start_host(int errfd, const int report[2], const int lifeline[2],
                      int (*host)(void *arg, int report, int lifeline),
                      void *arg)
{
    (void)fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        (void)setpgid(0, 0);
        if (dup2(errfd, 2) < 0) {
            _exit(125);
        }
        (void)close(report[0]);
        (void)close(lifeline[1]);
        _exit(host(arg, report[1], lifeline[0]));
    }
    if (pid > 0) {
        /* Also here, so that no kill of the group can come before it. */
        (void)setpgid(pid, pid);
    }
    return pid;
}
