/* SPDX-License-Identifier: MIT */
/* An exec'able host for tests of what crosses exec: it runs the commands
 * given as arguments, in order, and prints one line per command on stdout:
 *
 *   ensure            "ensure R ERRNO"   rt_ensure_running
 *   pid               "pid N"            rt_tracker_pid
 *   fdinfo            "fd DEV INO C"     rt_getfd, fstat of it, and C 1
 *                                        when it is close-on-exec
 *   envflag           "envflag C"        C 1 when the descriptor named by
 *                                        RESOURCE_TRACKER_FD is
 *                                        close-on-exec, 0 when not, -1
 *                                        when there is none
 *   shm NAME          "shm R ERRNO"      shm_open(O_CREAT|O_EXCL) + rt_register
 *   sem NAME          "sem R ERRNO"      sem_open(O_CREAT|O_EXCL) + rt_register
 *   reg NAME RTYPE    "reg R ERRNO"
 *   unreg NAME RTYPE  "unreg R ERRNO"
 *   setfd FD          "setfd R ERRNO"
 *   hold              "hold"             then waits for EOF on stdin
 *   wait              "wait"             then waits for one byte on stdin
 *   rtshm NAME        "rtshm R ERRNO"    rt_shm_open(O_CREAT|O_EXCL), closed
 *   map NAME          "map R ERRNO"      shm_open of an existing segment,
 *                                        mmap'ed for good, written and read
 *   regloop N PREFIX  "regloop R ERRNO MS" N times rt_register then
 *                                        rt_unregister of PREFIX-I
 *                                        (shared_memory), MS milliseconds
 *   noreader          "noreader R ERRNO" waits (10 s at most) until the pipe
 *                                        RESOURCE_TRACKER_FD names has no
 *                                        reader left (its tracker, and the
 *                                        guardian that drains it, gone)
 *
 * and exits 0 (or 2 on a usage error). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "resourcetracker.h"

static void out(const char *what, int r)
{
    printf("%s %d %d\n", what, r, r < 0 ? errno : 0);
}

static int make_shm(const char *name)
{
    int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0) {
        return -1;
    }
    close(fd);
    return rt_register(name, RT_SHARED_MEMORY);
}

static int make_sem(const char *name)
{
    sem_t *s = sem_open(name, O_CREAT | O_EXCL, 0600, 0);
    if (s == SEM_FAILED) {
        return -1;
    }
    sem_close(s);
    return rt_register(name, RT_SEMAPHORE);
}

/* Maps the existing segment NAME for the rest of the process's life (the
 * mapping is what a sweep must see), writes a byte and reads it back. */
static int map_shm(const char *name)
{
    int fd = shm_open(name, O_RDWR, 0);
    if (fd < 0) {
        return -1;
    }
    unsigned char *p =
        mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    int err = errno;
    close(fd);
    if (p == MAP_FAILED) {
        errno = err;
        return -1;
    }
    p[1] = (unsigned char)(p[0] + 1);
    if (p[1] != (unsigned char)(p[0] + 1)) {
        errno = EIO;
        return -1;
    }
    return 0;
}

static int rt_shm(const char *name)
{
    int fd = rt_shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0) {
        return -1;
    }
    int r = ftruncate(fd, 4096);
    close(fd);
    return r;
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* N registrations, each withdrawn at once: returns 0, or the first
 * failure (-1, errno set). *RET_MS is how long it took. */
static int reg_loop(long n, const char *prefix, long *ret_ms)
{
    double t0 = mono();
    for (long i = 0; i < n; i++) {
        char name[256];
        snprintf(name, sizeof(name), "%s-%ld", prefix, i);
        if (rt_register(name, RT_SHARED_MEMORY) < 0 ||
            rt_unregister(name, RT_SHARED_MEMORY) < 0) {
            return -1;
        }
    }
    *ret_ms = (long)((mono() - t0) * 1000);
    return 0;
}

/* Waits until the pipe of RESOURCE_TRACKER_FD has no reader: poll(2)
 * reports POLLERR on a pipe's write end then. */
static int no_reader(void)
{
    const char *v = getenv("RESOURCE_TRACKER_FD");
    int fd = v != NULL ? atoi(v) : -1;
    double end = mono() + 10;
    while (fd > 2 && mono() < end) {
        struct pollfd p = {fd, 0, 0};
        if (poll(&p, 1, 0) == 1 && (p.revents & POLLERR)) {
            return 0;
        }
        struct timespec ms = {0, 1000000L};
        nanosleep(&ms, NULL);
    }
    errno = ETIMEDOUT;
    return -1;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 1; i < argc; i++) {
        const char *cmd = argv[i];
        const char *a1 = i + 1 < argc ? argv[i + 1] : NULL;
        const char *a2 = i + 2 < argc ? argv[i + 2] : NULL;
        if (strcmp(cmd, "ensure") == 0) {
            out("ensure", rt_ensure_running());
        } else if (strcmp(cmd, "pid") == 0) {
            printf("pid %ld\n", (long)rt_tracker_pid());
        } else if (strcmp(cmd, "fdinfo") == 0) {
            int fd = rt_getfd();
            struct stat st;
            int flags = fd < 0 ? -1 : fcntl(fd, F_GETFD);
            if (fd < 0 || fstat(fd, &st) < 0 || flags < 0) {
                printf("fd 0 0 -1\n");
            } else {
                printf("fd %ju %ju %d\n", (uintmax_t)st.st_dev,
                       (uintmax_t)st.st_ino, (flags & FD_CLOEXEC) != 0);
            }
        } else if (strcmp(cmd, "envflag") == 0) {
            const char *v = getenv("RESOURCE_TRACKER_FD");
            int flags = v == NULL ? -1 : fcntl(atoi(v), F_GETFD);
            printf("envflag %d\n", flags < 0 ? -1 : (flags & FD_CLOEXEC) != 0);
        } else if (strcmp(cmd, "shm") == 0 && a1 != NULL) {
            out("shm", make_shm(a1));
            i++;
        } else if (strcmp(cmd, "sem") == 0 && a1 != NULL) {
            out("sem", make_sem(a1));
            i++;
        } else if (strcmp(cmd, "reg") == 0 && a2 != NULL) {
            out("reg", rt_register(a1, a2));
            i += 2;
        } else if (strcmp(cmd, "unreg") == 0 && a2 != NULL) {
            out("unreg", rt_unregister(a1, a2));
            i += 2;
        } else if (strcmp(cmd, "setfd") == 0 && a1 != NULL) {
            out("setfd", rt_setfd(atoi(a1)));
            i++;
        } else if (strcmp(cmd, "rtshm") == 0 && a1 != NULL) {
            out("rtshm", rt_shm(a1));
            i++;
        } else if (strcmp(cmd, "map") == 0 && a1 != NULL) {
            out("map", map_shm(a1));
            i++;
        } else if (strcmp(cmd, "regloop") == 0 && a2 != NULL) {
            long ms = -1;
            int r = reg_loop(atol(a1), a2, &ms);
            printf("regloop %d %d %ld\n", r, r < 0 ? errno : 0, ms);
            i += 2;
        } else if (strcmp(cmd, "noreader") == 0) {
            out("noreader", no_reader());
        } else if (strcmp(cmd, "wait") == 0) {
            printf("wait\n");
            char c;
            while (read(0, &c, 1) < 0 && errno == EINTR) {
            }
        } else if (strcmp(cmd, "hold") == 0) {
            printf("hold\n");
            for (;;) {
                char c;
                ssize_t n = read(0, &c, 1);
                if (n == 0 || (n < 0 && errno != EINTR)) {
                    break;
                }
            }
        } else {
            fprintf(stderr, "child: bad command '%s'\n", cmd);
            return 2;
        }
    }
    /* _exit: LeakSanitizer's exit-time check cannot run in the set-id
     * copies of this helper, and there is nothing of ours to check. */
    fflush(stdout);
    _exit(0);
}
