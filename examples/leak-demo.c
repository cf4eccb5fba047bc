/* SPDX-License-Identifier: MIT */
/* The leak demo: what SIGKILL does to POSIX shared memory and semaphores,
 * without and with libresourcetracker. Run it with "make demo".
 *
 * The demo's main process only narrates and looks at /dev/shm. The programs
 * it kills are forked children: first a plain one, then one that uses the
 * library. */
#define _GNU_SOURCE
#include <dirent.h>
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
#define SEGMENT_SIZE (1 << 20)

static char prefix[64]; /* "rt-demo-PID" */

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Lists our objects in /dev/shm; returns how many there are. */
static int show_dev_shm(const char *when)
{
    DIR *d = opendir("/dev/shm");
    if (d == NULL) {
        perror("/dev/shm");
        exit(1);
    }
    say("  /dev/shm %s:\n", when);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strstr(e->d_name, prefix) == NULL) {
            continue;
        }
        char path[512];
        struct stat st;
        snprintf(path, sizeof(path), "/dev/shm/%s", e->d_name);
        if (stat(path, &st) == 0) {
            say("    %-40s %8lld bytes\n", e->d_name, (long long)st.st_size);
            n++;
        }
    }
    closedir(d);
    if (n == 0) {
        say("    (nothing of this demo)\n");
    }
    return n;
}

static int count_ours(void)
{
    DIR *d = opendir("/dev/shm");
    int n = 0;
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        n += strstr(e->d_name, prefix) != NULL;
    }
    if (d != NULL) {
        closedir(d);
    }
    return n;
}

/* Creates a 1 MiB segment and a semaphore named after TAG. With TRACK,
 * through the library's drop-in wrappers, which tell the tracker about what
 * they create before it exists; without, through the plain POSIX calls. */
static void create_pair(const char *tag, int track)
{
    char shm[128];
    char sem[128];
    snprintf(shm, sizeof(shm), "/%s-%s-data", prefix, tag);
    snprintf(sem, sizeof(sem), "/%s-%s-lock", prefix, tag);
    int fd = track ? rt_shm_open(shm, O_CREAT | O_EXCL | O_RDWR, 0600)
                   : shm_open(shm, O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0 || ftruncate(fd, SEGMENT_SIZE) < 0) {
        perror(shm);
        _exit(1);
    }
    close(fd);
    sem_t *s = track ? rt_sem_open(sem, O_CREAT | O_EXCL, 0600, 1)
                     : sem_open(sem, O_CREAT | O_EXCL, 0600, 1);
    if (s == SEM_FAILED) {
        perror(sem);
        _exit(1);
    }
}

/* A "program": forks WORKERS workers that each create a segment and a
 * semaphore, creates its own pair, reports, waits for the narrator's go, and
 * then kills the workers and itself with SIGKILL, as the OOM killer or
 * "kill -9" would. */
static void program(int track, int report_fd, int go_fd)
{
    /* Start the tracker before forking: the workers then inherit its pipe
     * and share it. A worker forked first would start one of its own. */
    if (track && rt_ensure_running() < 0) {
        perror("rt_ensure_running");
        _exit(1);
    }
    pid_t workers[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        int p[2];
        if (pipe(p) < 0) {
            _exit(1);
        }
        workers[i] = fork();
        if (workers[i] == 0) {
            char tag[32];
            snprintf(tag, sizeof(tag), "worker%d", i + 1);
            create_pair(tag, track);
            close(p[1]); /* tells the program this worker is ready */
            for (;;) {
                pause();
            }
        }
        close(p[1]);
        char c;
        while (read(p[0], &c, 1) < 0 && errno == EINTR) {
        }
        close(p[0]);
    }
    create_pair("main", track);
    dprintf(report_fd, "%ld\n", track ? (long)rt_tracker_pid() : 0L);
    char c;
    while (read(go_fd, &c, 1) < 0 && errno == EINTR) {
    }
    for (int i = 0; i < WORKERS; i++) {
        kill(workers[i], SIGKILL);
    }
    kill(getpid(), SIGKILL);
    _exit(1);
}

/* Runs the program in a child, shows /dev/shm while it lives, lets it die
 * and reaps it. Returns the tracker's pid (0 without one). */
static long run_and_kill(int track)
{
    int report[2];
    int go[2];
    if (pipe(report) < 0 || pipe(go) < 0) {
        perror("pipe");
        exit(1);
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid == 0) {
        close(report[0]);
        close(go[1]);
        program(track, report[1], go[0]);
    }
    close(report[1]);
    close(go[0]);
    char line[32] = "";
    ssize_t n = read(report[0], line, sizeof(line) - 1);
    close(report[0]);
    if (n <= 0) {
        fprintf(stderr, "the program failed to start\n");
        exit(1);
    }
    long tracker = strtol(line, NULL, 10);
    show_dev_shm("while the program runs");
    say("\n  Now the workers and the program get SIGKILL: no atexit handler,\n"
        "  no destructor, no chance to call shm_unlink or sem_unlink.\n\n");
    close(go[1]);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return tracker;
}

static void remove_ours(void)
{
    DIR *d = opendir("/dev/shm");
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strstr(e->d_name, prefix) != NULL) {
            char path[512];
            snprintf(path, sizeof(path), "/dev/shm/%s", e->d_name);
            unlink(path);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
}

int main(void)
{
    snprintf(prefix, sizeof(prefix), "rt-demo-%ld", (long)getpid());
    say("libresourcetracker leak demo\n"
        "============================\n\n"
        "POSIX shared memory (shm_open) and named semaphores (sem_open) live\n"
        "in /dev/shm, in RAM, until someone unlinks them. A program that is\n"
        "killed before it unlinks them leaks them until the next reboot.\n\n");

    say("Part 1: a program WITHOUT the tracker\n"
        "-------------------------------------\n"
        "It forks %d workers; each, and the program itself, creates a 1 MiB\n"
        "segment and a semaphore.\n\n",
        WORKERS);
    show_dev_shm("before");
    run_and_kill(0);
    int left = show_dev_shm("after everyone is dead");
    say("\n  %d objects leaked: nothing will ever remove them. (The demo now\n"
        "  removes them by hand, to leave /dev/shm as it found it.)\n\n",
        left);
    remove_ours();

    say("Part 2: the same program WITH libresourcetracker\n"
        "------------------------------------------------\n"
        "This time the program calls rt_ensure_running() before it forks:\n"
        "that starts the tracker, a small process that every process of the\n"
        "program is connected to by a pipe its children inherit. Each object\n"
        "is created with rt_shm_open() or rt_sem_open(), the POSIX calls plus\n"
        "one step: they tell the tracker the name before the object "
        "exists.\n\n");
    show_dev_shm("before");
    long tracker = run_and_kill(1);
    say("  The tracker (pid %ld) sees its pipe close when the last process\n"
        "  holding it dies, however it died, and unlinks what is left. Its\n"
        "  report goes to stderr (the resource_tracker: lines below):\n\n",
        tracker);
    double deadline = now() + 10;
    while (count_ours() > 0 && now() < deadline) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    /* Give the tracker's report a moment to reach the terminal before the
     * last listing; the objects are already gone at this point. */
    for (int i = 0; i < 50 && kill((pid_t)tracker, 0) == 0; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    say("\n");
    left = show_dev_shm("after everyone is dead");
    if (left != 0) {
        say("\n  Something is left: the tracker did not clean up in time.\n");
        remove_ours();
        return 1;
    }
    say("\n  Nothing leaked. Link with -lresourcetracker, create with\n"
        "  rt_shm_open()/rt_sem_open() and remove with rt_shm_unlink()/\n"
        "  rt_sem_unlink() (or register other names with rt_register());\n"
        "  see README.md.\n");
    return 0;
}
