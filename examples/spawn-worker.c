/* SPDX-License-Identifier: MIT */
/* A worker program started by spawn-demo with posix_spawn. It adopts its
 * parent's tracker (RESOURCE_TRACKER_FD), makes a scratch folder and a
 * shared-memory segment of its own, registers both, and then either
 * finishes cleanly (removing them) or crashes, depending on its argument. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "resourcetracker.h"

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: spawn-worker PREFIX crash|finish\n");
        return 2;
    }
    const char *prefix = argv[1];
    int crash = strcmp(argv[2], "crash") == 0;
    char seg[128];
    char dir[160];
    char file[200];
    snprintf(seg, sizeof(seg), "/%s-worker-%ld", prefix, (long)getpid());
    snprintf(dir, sizeof(dir), "/tmp/%s-scratch-%ld", prefix, (long)getpid());
    snprintf(file, sizeof(file), "%s/partial-output", dir);

    /* The first call adopts the tracker named by RESOURCE_TRACKER_FD. */
    int fd = rt_shm_open(seg, O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0 || ftruncate(fd, 1 << 16) < 0) {
        perror(seg);
        return 1;
    }
    close(fd);
    /* Register the folder before creating it: a crash in between leaves
     * nothing the tracker does not know. */
    if (rt_register(dir, RT_FOLDER) < 0 || mkdir(dir, 0700) < 0) {
        perror(dir);
        return 1;
    }
    int out = open(file, O_CREAT | O_WRONLY, 0600);
    if (out < 0 || write(out, "half done\n", 10) != 10) {
        perror(file);
        return 1;
    }
    close(out);
    printf("    worker %ld: tracker pid as I know it: %ld (-1: adopted, "
           "none of my own); made %s and %s/\n",
           (long)getpid(), (long)rt_tracker_pid(), seg, dir);
    fflush(stdout);
    if (crash) {
        printf("    worker %ld: crashing now (SIGKILL)\n", (long)getpid());
        fflush(stdout);
        kill(getpid(), SIGKILL);
    }
    /* A clean finish removes its own objects and says so. */
    unlink(file);
    rmdir(dir);
    rt_unregister(dir, RT_FOLDER);
    rt_shm_unlink(seg);
    printf("    worker %ld: finished and cleaned up after itself\n",
           (long)getpid());
    return 0;
}
