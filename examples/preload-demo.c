/* SPDX-License-Identifier: MIT */
/* The preload demo ("make preload-demo"): an unmodified program, built
 * without the library, is killed with SIGKILL, first on its own, then under
 * `resourcetracker run --wait --preload`. It leaks in the first case and
 * not in the second.
 *
 * Usage: preload-demo RESOURCETRACKER PRELOAD-LEAKER (the Makefile sets
 * RESOURCE_TRACKER_PRELOAD to the build tree's shim). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static char name[64]; /* "/preload-demo-PID" */

static int mq_exists(const char *mq)
{
    mqd_t q = mq_open(mq, O_RDONLY);
    if (q == (mqd_t)-1) {
        return 0;
    }
    mq_close(q);
    return 1;
}

/* Lists the demo's objects: in /dev/shm, and its message queue. Returns
 * how many there are. */
static int show(const char *when)
{
    printf("  %s:\n", when);
    int n = 0;
    DIR *d = opendir("/dev/shm");
    for (struct dirent *e = d != NULL ? readdir(d) : NULL; e != NULL;
         e = readdir(d)) {
        if (strstr(e->d_name, name + 1) != NULL) {
            printf("    /dev/shm/%s\n", e->d_name);
            n++;
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    char mq[96];
    snprintf(mq, sizeof(mq), "%s-mq", name);
    if (mq_exists(mq)) {
        printf("    message queue %s\n", mq);
        n++;
    }
    if (n == 0) {
        printf("    (nothing)\n");
    }
    fflush(stdout);
    return n;
}

/* Starts ARGV with its stdout on a pipe; reads "pid N ready". Returns the
 * pid it started and the leaker's pid in *RET_LEAKER. */
static pid_t start(char *const *argv, pid_t *ret_leaker)
{
    int p[2];
    if (pipe(p) < 0) {
        perror("pipe");
        exit(1);
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        execv(argv[0], argv);
        perror(argv[0]);
        _exit(127);
    }
    close(p[1]);
    FILE *f = fdopen(p[0], "r");
    long leaker = 0;
    if (pid < 0 || f == NULL || fscanf(f, "pid %ld ready", &leaker) != 1) {
        fprintf(stderr, "preload-demo: the leaker did not start\n");
        exit(1);
    }
    fclose(f);
    *ret_leaker = (pid_t)leaker;
    return pid;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: preload-demo RESOURCETRACKER PRELOAD-LEAKER\n");
        return 2;
    }
    snprintf(name, sizeof(name), "/preload-demo-%ld", (long)getpid());
    printf("preload-leaker is built without libresourcetracker: it creates "
           "a segment,\na semaphore and a message queue named %s..., "
           "and never removes them.\n\n",
           name);

    printf("1. On its own, killed with SIGKILL:\n");
    char *plain[] = {argv[2], name, NULL};
    pid_t leaker;
    pid_t pid = start(plain, &leaker);
    show("while it runs");
    kill(leaker, SIGKILL);
    waitpid(pid, NULL, 0);
    int left = show("after the kill");
    printf("  -> %d objects leaked: they would stay until the next reboot. "
           "Removing them by hand.\n\n",
           left);
    char sem[96];
    char mq[96];
    snprintf(sem, sizeof(sem), "%s-sem", name);
    snprintf(mq, sizeof(mq), "%s-mq", name);
    shm_unlink(name);
    sem_unlink(sem);
    mq_unlink(mq);

    printf("2. Under `resourcetracker run --wait --preload`, killed with "
           "SIGKILL:\n");
    char run[] = "run";
    char wait[] = "--wait";
    char preload[] = "--preload";
    char dashes[] = "--";
    char *wrapped[] = {argv[1], run,     wait, preload,
                       dashes,  argv[2], name, NULL};
    pid = start(wrapped, &leaker);
    show("while it runs");
    kill(leaker, SIGKILL);
    /* run --wait returns once the tracker has cleaned up (its report is
     * the "resource_tracker:" lines). */
    int st;
    waitpid(pid, &st, 0);
    fflush(stderr);
    left = show("after the kill");
    printf("  -> %s (run exited with %d: 128 + SIGKILL, the leaker's "
           "status)\n",
           left == 0 ? "nothing leaked" : "LEAKED", WEXITSTATUS(st));
    return left == 0 ? 0 : 1;
}
