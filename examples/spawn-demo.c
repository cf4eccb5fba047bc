/* SPDX-License-Identifier: MIT */
/* Sharing the tracker with programs started by posix_spawn. Run it with
 * "make spawn-demo".
 *
 * The demo's main process narrates. Its child, the "parent program",
 * starts workers with posix_spawn, prepared by rt_spawn_prepare: each
 * worker adopts the parent's tracker instead of starting its own. Some
 * workers crash; their leftovers (a segment and a scratch folder each) are
 * cleaned up by that one tracker once the parent is gone too. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "resourcetracker.h"

#define WORKERS 4

extern char **environ;

static char prefix[64];

/* Our objects in /dev/shm and /tmp. */
static int count_ours(int print)
{
    static const char *const dirs[] = {"/dev/shm", "/tmp"};
    int n = 0;
    for (int i = 0; i < 2; i++) {
        DIR *d = opendir(dirs[i]);
        struct dirent *e;
        while (d != NULL && (e = readdir(d)) != NULL) {
            if (strstr(e->d_name, prefix) != NULL) {
                if (print) {
                    printf("    %s/%s\n", dirs[i], e->d_name);
                }
                n++;
            }
        }
        if (d != NULL) {
            closedir(d);
        }
    }
    if (print && n == 0) {
        printf("    (nothing of this demo)\n");
    }
    fflush(stdout);
    return n;
}

/* The parent program: spawns the workers sharing its tracker, waits for
 * them, and then dies hard itself. */
static _Noreturn void parent_program(const char *worker, int report_fd)
{
    if (rt_ensure_running() < 0) {
        perror("rt_ensure_running");
        _exit(1);
    }
    printf("  parent program (pid %ld) started the tracker, pid %ld\n",
           (long)getpid(), (long)rt_tracker_pid());
    fflush(stdout);
    pid_t pids[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        char **envp;
        if (rt_spawn_prepare(&fa, environ, &envp) < 0) {
            perror("rt_spawn_prepare");
            _exit(1);
        }
        char *argv[] = {(char *)worker, prefix,
                        i % 2 == 0 ? (char *)"crash" : (char *)"finish", NULL};
        int r = posix_spawn(&pids[i], worker, &fa, NULL, argv, envp);
        rt_spawn_free(envp);
        posix_spawn_file_actions_destroy(&fa);
        if (r != 0) {
            fprintf(stderr, "posix_spawn %s: %s\n", worker, strerror(r));
            _exit(1);
        }
        /* One at a time, so that the output reads in order. */
        while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR) {
        }
    }
    dprintf(report_fd, "%ld\n", (long)rt_tracker_pid());
    pause();
    _exit(1);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: spawn-demo PATH-OF-spawn-worker\n");
        return 2;
    }
    snprintf(prefix, sizeof(prefix), "rt-spawn-%ld", (long)getpid());
    printf("spawn demo: exec'ed workers share one tracker\n"
           "=============================================\n\n"
           "A parent program starts %d worker programs with posix_spawn.\n"
           "rt_spawn_prepare keeps the tracker's pipe open in each worker and\n"
           "names it in RESOURCE_TRACKER_FD, so the workers adopt the\n"
           "parent's tracker. Each worker makes a shared-memory segment and\n"
           "a scratch folder; half of them crash before removing theirs.\n\n",
           WORKERS);
    fflush(stdout);
    int report[2];
    if (pipe(report) < 0) {
        return 1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(report[0]);
        parent_program(argv[1], report[1]);
    }
    close(report[1]);
    char line[32] = "";
    if (read(report[0], line, sizeof(line) - 1) <= 0) {
        fprintf(stderr, "the parent program failed\n");
        return 1;
    }
    long tracker = strtol(line, NULL, 10);
    printf("\n  Left behind by the crashed workers, while the parent lives:\n");
    count_ours(1);
    printf("\n  The tracker keeps them: the parent still holds its pipe. Now\n"
           "  the parent program is SIGKILLed too.\n\n");
    fflush(stdout);
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
    for (int i = 0;
         i < 500 && (count_ours(0) > 0 || kill((pid_t)tracker, 0) == 0); i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    printf("\n  After the parent is gone:\n");
    int left = count_ours(1);
    if (left > 0) {
        printf("\n  Something was left behind.\n");
        return 1;
    }
    printf("\n  One tracker (pid %ld) served the parent and every worker, and\n"
           "  removed what the crashed workers left.\n",
           tracker);
    return 0;
}
