/* SPDX-License-Identifier: MIT */
/* An exec'able host for tests of what crosses exec: it runs the commands
 * given as arguments, in order, and prints one line per command on stdout:
 *
 *   ensure            "ensure R ERRNO"   rt_ensure_running
 *   pid               "pid N"            rt_tracker_pid
 *   fdinfo            "fd FD DEV INO"    rt_getfd and fstat of it
 *   shm NAME          "shm R ERRNO"      shm_open(O_CREAT|O_EXCL) + rt_register
 *   sem NAME          "sem R ERRNO"      sem_open(O_CREAT|O_EXCL) + rt_register
 *   reg NAME RTYPE    "reg R ERRNO"
 *   unreg NAME RTYPE  "unreg R ERRNO"
 *   setfd FD          "setfd R ERRNO"
 *   hold              "hold"             then waits for EOF on stdin
 *
 * and exits 0 (or 2 on a usage error). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
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
            if (fd < 0 || fstat(fd, &st) < 0) {
                printf("fd -1 0 0\n");
            } else {
                printf("fd %d %ju %ju\n", fd, (uintmax_t)st.st_dev,
                       (uintmax_t)st.st_ino);
            }
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
