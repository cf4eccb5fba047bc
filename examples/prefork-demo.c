/* SPDX-License-Identifier: MIT */
/* A prefork server: a master process with worker processes that crash and
 * are restarted, all sharing one shared-memory segment and one semaphore.
 * Run it with "make prefork-demo".
 *
 * The master creates the segment and the semaphore with the drop-in
 * wrappers rt_shm_open and rt_sem_open, which register what they create.
 * Workers come and go (each one SIGKILLs itself after a while, as a crash
 * would); the tracker keeps the objects as long as any process of the
 * server lives. At the end the master itself is SIGKILLed, and the tracker
 * removes both objects. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "resourcetracker.h"

#define WORKERS 3
#define CRASHES 6 /* restarts before the master itself dies */

struct shared {
    long requests; /* handled by all workers, ever */
};

static char seg_name[64];
static char sem_name[64];

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* Whether NAME ("/x") is in /dev/shm, as a segment or (glibc's form) as
 * sem.x. */
static int in_dev_shm(const char *name)
{
    char path[128];
    struct stat st;
    snprintf(path, sizeof(path), "/dev/shm/%s", name + 1);
    if (stat(path, &st) == 0) {
        return 1;
    }
    snprintf(path, sizeof(path), "/dev/shm/sem.%s", name + 1);
    return stat(path, &st) == 0;
}

static void show(const char *when)
{
    say("  /dev/shm %s:\n    %-36s %s\n    %-36s %s\n", when, seg_name,
        in_dev_shm(seg_name) ? "present" : "gone", sem_name,
        in_dev_shm(sem_name) ? "present" : "gone");
}

/* A worker: handles "requests" under the semaphore, then crashes. */
static _Noreturn void worker(int id, struct shared *sh, sem_t *lock)
{
    srand((unsigned)getpid());
    int handled = 0;
    int lifetime = 20 + rand() % 30;
    for (;;) {
        while (sem_wait(lock) < 0 && errno == EINTR) {
        }
        sh->requests++;
        sem_post(lock);
        if (++handled == lifetime) {
            /* Crash outside the critical section: a crash holding the
             * semaphore would need a robust lock, another story. */
            say("    worker %d (pid %ld) crashes after %d requests\n", id,
                (long)getpid(), handled);
            kill(getpid(), SIGKILL);
        }
        nap_ms(2);
    }
}

static pid_t start_worker(int id, struct shared *sh, sem_t *lock)
{
    pid_t pid = fork();
    if (pid == 0) {
        worker(id, sh, lock);
    }
    return pid;
}

/* The master: creates the shared objects, runs and restarts workers, and
 * dies hard after CRASHES restarts. */
static _Noreturn void master(int report_fd, int go_fd)
{
    /* Before any fork, so that every worker shares this tracker. */
    if (rt_ensure_running() < 0) {
        perror("rt_ensure_running");
        _exit(1);
    }
    int fd = rt_shm_open(seg_name, O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0 || ftruncate(fd, sizeof(struct shared)) < 0) {
        perror(seg_name);
        _exit(1);
    }
    struct shared *sh =
        mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    sem_t *lock = rt_sem_open(sem_name, O_CREAT | O_EXCL, 0600, 1);
    if (sh == MAP_FAILED || lock == SEM_FAILED) {
        perror("mmap/sem_open");
        _exit(1);
    }
    say("  master (pid %ld) created %s and %s; tracker pid %ld\n",
        (long)getpid(), seg_name, sem_name, (long)rt_tracker_pid());
    pid_t pids[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        pids[i] = start_worker(i + 1, sh, lock);
    }
    say("  master started %d workers\n\n", WORKERS);
    for (int restarts = 0; restarts < CRASHES;) {
        int st;
        pid_t dead = waitpid(-1, &st, 0);
        if (dead < 0) {
            continue;
        }
        for (int i = 0; i < WORKERS; i++) {
            if (pids[i] == dead) {
                pids[i] = start_worker(i + 1, sh, lock);
                say("    master restarts worker %d as pid %ld (%ld requests "
                    "so far)\n",
                    i + 1, (long)pids[i], sh->requests);
                restarts++;
            }
        }
    }
    say("\n  after %d crashes, %ld requests were counted in the segment\n",
        CRASHES, sh->requests);
    dprintf(report_fd, "%ld\n", (long)rt_tracker_pid());
    /* The narrator looks at /dev/shm, then tells us to die. */
    char c;
    while (read(go_fd, &c, 1) < 0 && errno == EINTR) {
    }
    for (int i = 0; i < WORKERS; i++) {
        kill(pids[i], SIGKILL);
    }
    kill(getpid(), SIGKILL);
    _exit(1);
}

int main(void)
{
    snprintf(seg_name, sizeof(seg_name), "/rt-prefork-%ld-data",
             (long)getpid());
    snprintf(sem_name, sizeof(sem_name), "/rt-prefork-%ld-lock",
             (long)getpid());
    say("prefork demo: workers crash and restart; the shared objects live on\n"
        "===================================================================="
        "\n\n"
        "A master process creates a shared-memory segment and a semaphore\n"
        "with rt_shm_open and rt_sem_open, and forks %d workers that count\n"
        "requests in the segment under the semaphore. Workers crash\n"
        "(SIGKILL) and the master restarts them. The objects must survive\n"
        "that: the tracker only cleans up when no process of the server is\n"
        "left.\n\n",
        WORKERS);
    int report[2];
    int go[2];
    if (pipe(report) < 0 || pipe(go) < 0) {
        perror("pipe");
        return 1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(report[0]);
        close(go[1]);
        master(report[1], go[0]);
    }
    close(report[1]);
    close(go[0]);
    char line[32] = "";
    if (read(report[0], line, sizeof(line) - 1) <= 0) {
        fprintf(stderr, "the master failed\n");
        return 1;
    }
    long tracker = strtol(line, NULL, 10);
    show("while the server runs");
    say("\n  Now the master and its workers are SIGKILLed.\n\n");
    close(go[1]);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
    /* The tracker sees the last writer go and cleans up; wait for it. */
    for (int i = 0; i < 500 && kill((pid_t)tracker, 0) == 0; i++) {
        nap_ms(10);
    }
    say("\n");
    show("after the server is gone");
    if (in_dev_shm(seg_name) || in_dev_shm(sem_name)) {
        shm_unlink(seg_name);
        sem_unlink(sem_name);
        say("\n  Something was left (and has now been removed by hand).\n");
        return 1;
    }
    say("\n  The tracker (pid %ld) removed both objects: it had waited while\n"
        "  any process of the server still held its pipe, through every\n"
        "  crash and restart, and cleaned up when the last one was gone.\n",
        tracker);
    return 0;
}
