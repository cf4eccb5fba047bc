/* SPDX-License-Identifier: MIT */
/* A C worker program started by examples/python-parent.py. Its first call
 * into the library adopts the tracker named by RESOURCE_TRACKER_FD, which
 * here is CPython's own multiprocessing resource tracker: the two speak
 * the same line protocol. It makes a shared-memory segment with
 * rt_shm_open, says so, and then either removes it with rt_shm_unlink or
 * crashes (SIGKILL), depending on its argument. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "resourcetracker.h"

int main(int argc, char **argv)
{
    if (argc != 4 ||
        (strcmp(argv[3], "crash") != 0 && strcmp(argv[3], "finish") != 0)) {
        fprintf(stderr, "usage: py-worker PREFIX NUMBER crash|finish\n");
        return 2;
    }
    const char *number = argv[2];
    int crash = strcmp(argv[3], "crash") == 0;
    char seg[128];
    snprintf(seg, sizeof(seg), "/%s-worker%s", argv[1], number);

    /* The first call adopts the tracker: the library checks that
     * RESOURCE_TRACKER_FD names a live pipe write end (and, in the
     * FD:DEV:INO form, exactly that pipe) before it writes a byte to it.
     * rt_shm_open registers the name, then creates the segment, so a crash
     * at any instant leaves nothing the tracker does not know. */
    int fd = rt_shm_open(seg, O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0 || ftruncate(fd, 1 << 16) < 0) {
        perror(seg);
        return 1;
    }
    close(fd);

    const char *env = getenv(RT_ENV_FD);
    pid_t own = rt_tracker_pid();
    printf("    worker %s (pid %ld): created %s and registered it\n", number,
           (long)getpid(), seg);
    if (own == -1) {
        printf("      with the tracker named by %s=%s (CPython's);\n"
               "      rt_tracker_pid() is -1: no tracker of my own\n",
               RT_ENV_FD, env != NULL ? env : "");
    } else {
        printf("      with a tracker of my own (pid %ld): %s was missing or\n"
               "      did not name a live pipe, so CPython's tracker never "
               "heard of it\n",
               (long)own, RT_ENV_FD);
    }
    fflush(stdout);

    if (crash) {
        printf("    worker %s: crashing now (SIGKILL), %s stays behind\n",
               number, seg);
        fflush(stdout);
        kill(getpid(), SIGKILL);
    }
    /* A clean finish: unlink first, then UNREGISTER, so that the tracker
     * forgets only what is really gone. */
    if (rt_shm_unlink(seg) < 0) {
        perror(seg);
        return 1;
    }
    printf("    worker %s: finished; rt_shm_unlink removed %s\n"
           "      and then told the tracker to forget it\n",
           number, seg);
    return 0;
}
