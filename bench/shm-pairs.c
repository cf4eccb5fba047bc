/* SPDX-License-Identifier: MIT */
/* A program built without the library, for make bench's preload figures:
 * run as it is, or under `resourcetracker run --preload`, it times
 * shm_open + shm_unlink pairs, or the start of another program, and prints
 * one "ns N" line per repetition (per pair, per start). Test only.
 *
 * Usage: shm-pairs pairs COUNT REPS
 *        shm-pairs spawn PATH COUNT REPS */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* Pairs made before the timed ones: under --preload, the first message
 * adopts the tracker (a control-socket hello), once per process. */
#define WARMUP 100

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int pair(const char *name)
{
    int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0) {
        return -1;
    }
    close(fd);
    return shm_unlink(name);
}

static int pairs(long count, long reps)
{
    char name[64];
    snprintf(name, sizeof(name), "/rt-bench-pair-%ld", (long)getpid());
    for (int i = 0; i < WARMUP; i++) {
        if (pair(name) < 0) {
            perror("shm-pairs: shm_open/shm_unlink");
            return 1;
        }
    }
    for (long r = 0; r < reps; r++) {
        double t0 = now_ns();
        for (long i = 0; i < count; i++) {
            if (pair(name) < 0) {
                perror("shm-pairs: shm_open/shm_unlink");
                return 1;
            }
        }
        printf("ns %.1f\n", (now_ns() - t0) / (double)count);
    }
    return 0;
}

static int spawns(char *path, long count, long reps)
{
    char *argv[] = {path, NULL};
    for (long r = 0; r < reps; r++) {
        double t0 = now_ns();
        for (long i = 0; i < count; i++) {
            pid_t pid;
            int st;
            int e = posix_spawn(&pid, path, NULL, NULL, argv, environ);
            if (e != 0) {
                fprintf(stderr, "shm-pairs: %s: %s\n", path, strerror(e));
                return 1;
            }
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
            }
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                fprintf(stderr, "shm-pairs: %s failed\n", path);
                return 1;
            }
        }
        printf("ns %.1f\n", (now_ns() - t0) / (double)count);
    }
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 4 && strcmp(argv[1], "pairs") == 0) {
        return pairs(atol(argv[2]), atol(argv[3]));
    }
    if (argc == 5 && strcmp(argv[1], "spawn") == 0) {
        return spawns(argv[2], atol(argv[3]), atol(argv[4]));
    }
    fprintf(stderr, "usage: shm-pairs pairs COUNT REPS\n"
                    "       shm-pairs spawn PATH COUNT REPS\n");
    return 2;
}
