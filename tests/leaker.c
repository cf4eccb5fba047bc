/* SPDX-License-Identifier: MIT */
/* A program built without the library, as any program it should protect
 * under `resourcetracker run --preload`: it calls shm_open, sem_open,
 * mq_open and the unlinks of libc, and nothing of ours. It runs the
 * commands given as arguments, in order, and prints one line for each on
 * stdout:
 *
 *   shm NAME, sem NAME, mq NAME
 *       create NAME (O_CREAT | O_EXCL)          "shm R ERRNO"
 *   shm-attach NAME, sem-attach NAME, mq-attach NAME
 *       O_CREAT without O_EXCL                  "shm-attach R ERRNO"
 *   shm-open NAME, sem-open NAME, mq-open NAME
 *       open what exists (no O_CREAT)           "shm-open R ERRNO"
 *   shm-unlink NAME, sem-unlink NAME, mq-unlink NAME
 *                                               "shm-unlink R ERRNO"
 *   sem-args NAME  create with mode 0640 and value 3   "sem-args R VALUE MODE"
 *   mq-args NAME   create with mode 0640, 3 messages of 64 bytes
 *                                               "mq-args R MAXMSG MSGSIZE"
 *       (the variadic arguments reach the call; both then unlinked)
 *   errno
 *       each call above that succeeds is made with errno set to 12345
 *       before, and says "R ERRNO-AFTER" instead (R 0 on success)
 *   worker NAME   fork a child that creates shm NAME and exits; wait for it
 *                                               "worker STATUS"
 *   sh CMDLINE    /bin/sh -c CMDLINE (fork, exec, wait) "sh STATUS"
 *   sh-closed CMDLINE
 *       the same with every descriptor above 2 closed before the exec, as
 *       Python's subprocess does                  "sh-closed STATUS"
 *   env           "env VALUE-OF-RESOURCE_TRACKER_FD VALID"
 *   pid           "pid N" (getpid)
 *   chld          "chld ignored" or "chld default": SIGCHLD's disposition
 *   fds           "fds N": descriptors open
 *   mt-fork PREFIX
 *       a thread creates and removes shm PREFIX-t-N in a loop while the main
 *       thread forks 200 children, each creating and removing its own shm
 *       and semaphore PREFIX-c-N (its first sem_open: the shim looks up
 *       libc's there); every child must exit 0 within 10 s
 *                                               "mt-fork ok|FAIL"
 *   term          SIGTERM now prints "term" and exits 7  "term-armed"
 *   sigvalue      "sigvalue-armed", then waits for one SIGUSR1
 *                                               "sigvalue V CODE" (its
 *                                               sigqueue value, si_code)
 *   hold          "hold", then waits until stdin reaches end-of-file
 *   kill          SIGKILL itself
 *
 * and exits 0 (2 on a usage error). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int keep_errno;

static void out(const char *what, int r, int err)
{
#ifdef RT_MUSL
    /* musl's sem_open leaves its probe's ENOENT in errno when it creates
     * (POSIX leaves errno unspecified after a success); the shim keeps
     * errno. Not compared. */
    if (strncmp(what, "sem", 3) == 0) {
        err = 12345;
    }
#endif
    if (keep_errno && r == 0) {
        printf("%s 0 %d\n", what, err);
    } else {
        printf("%s %d %d\n", what, r, r < 0 ? err : 0);
    }
}

/* Runs CALL (0 or -1 with errno) with errno set to 12345 first, and
 * prints what it did. */
#define CALL(what, call)                                                       \
    do {                                                                       \
        errno = 12345;                                                         \
        int r_ = (call) < 0 ? -1 : 0;                                          \
        out(what, r_, errno);                                                  \
    } while (0)

static int shm(const char *name, int oflag)
{
    int fd = shm_open(name, oflag, 0600);
    if (fd < 0) {
        return -1;
    }
    int err = errno;
    int r = (oflag & O_CREAT) ? ftruncate(fd, 4096) : 0;
    close(fd);
    errno = err;
    return r;
}

static int sem(const char *name, int oflag)
{
    sem_t *s = (oflag & O_CREAT) ? sem_open(name, oflag, 0600, 1)
                                 : sem_open(name, oflag);
    if (s == SEM_FAILED) {
        return -1;
    }
    int err = errno;
    sem_close(s);
    errno = err;
    return 0;
}

static int mq(const char *name, int oflag)
{
    mqd_t q = (oflag & O_CREAT) ? mq_open(name, oflag, 0600, NULL)
                                : mq_open(name, oflag);
    if (q == (mqd_t)-1) {
        return -1;
    }
    int err = errno;
    mq_close(q);
    errno = err;
    return 0;
}

/* The variadic arguments of sem_open and mq_open, as the object got them. */
static void sem_args(const char *name)
{
    sem_t *s = sem_open(name, O_CREAT | O_EXCL, 0640, 3);
    int value = -1;
    int mode = -1;
    char path[300];
    struct stat st;
    snprintf(path, sizeof(path), "/dev/shm/sem.%s", name + 1);
    if (s != SEM_FAILED) {
        sem_getvalue(s, &value);
        if (stat(path, &st) == 0) {
            mode = (int)(st.st_mode & 0777);
        }
        sem_close(s);
        sem_unlink(name);
    }
    printf("sem-args %d %d %o\n", s == SEM_FAILED ? -1 : 0, value, mode);
}

static void mq_args(const char *name)
{
    struct mq_attr want = {0, 3, 64, 0, {0}};
    struct mq_attr got = {0, 0, 0, 0, {0}};
    mqd_t q = mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0640, &want);
    if (q != (mqd_t)-1) {
        mq_getattr(q, &got);
        mq_close(q);
        mq_unlink(name);
    }
    printf("mq-args %d %ld %ld\n", q == (mqd_t)-1 ? -1 : 0, got.mq_maxmsg,
           got.mq_msgsize);
}

static int fd_count(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL) {
        return -1;
    }
    int n = 0;
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
        n += e->d_name[0] != '.';
    }
    closedir(d);
    return n - 1; /* the directory's own */
}

static int wait_status(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) {
            return -1;
        }
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ---- mt-fork ---- */

static atomic_int stop;
static char mt_prefix[200];

static void *churn(void *arg)
{
    (void)arg;
    char name[256];
    for (unsigned n = 0; !atomic_load(&stop); n++) {
        snprintf(name, sizeof(name), "%s-t-%u", mt_prefix, n);
        int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
        if (fd >= 0) {
            close(fd);
            shm_unlink(name);
        }
    }
    return NULL;
}

static int mt_fork(const char *prefix)
{
    snprintf(mt_prefix, sizeof(mt_prefix), "%s", prefix);
    pthread_t th;
    if (pthread_create(&th, NULL, churn, NULL) != 0) {
        return -1;
    }
    int bad = 0;
    for (int i = 0; i < 200 && !bad; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            char name[256];
            snprintf(name, sizeof(name), "%s-c-%d", prefix, i);
            int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
            if (fd < 0 || shm_unlink(name) < 0) {
                _exit(1);
            }
            sem_t *s = sem_open(name, O_CREAT | O_EXCL, 0600, 0);
            if (s == SEM_FAILED || sem_unlink(name) < 0) {
                _exit(2);
            }
            _exit(0);
        }
        if (pid < 0) {
            bad = 1;
            break;
        }
        /* A child that hangs is killed after 10 s and counts as a failure. */
        struct timespec end;
        clock_gettime(CLOCK_MONOTONIC, &end);
        end.tv_sec += 10;
        int st = 0;
        for (;;) {
            pid_t r = waitpid(pid, &st, WNOHANG);
            if (r == pid) {
                break;
            }
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (now.tv_sec > end.tv_sec ||
                (now.tv_sec == end.tv_sec && now.tv_nsec > end.tv_nsec)) {
                kill(pid, SIGKILL);
                waitpid(pid, &st, 0);
                bad = 1;
                break;
            }
            struct timespec nap = {0, 1000000};
            nanosleep(&nap, NULL);
        }
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            bad = 1;
        }
    }
    atomic_store(&stop, 1);
    pthread_join(th, NULL);
    return bad ? -1 : 0;
}

static void on_term(int sig)
{
    (void)sig;
    static const char msg[] = "term\n";
    _exit(write(1, msg, sizeof(msg) - 1) == sizeof(msg) - 1 ? 7 : 8);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 1; i < argc; i++) {
        const char *cmd = argv[i];
        const char *a = i + 1 < argc ? argv[i + 1] : NULL;
        int used = 1;
        if (strcmp(cmd, "shm") == 0 && a != NULL) {
            CALL(cmd, shm(a, O_CREAT | O_EXCL | O_RDWR));
        } else if (strcmp(cmd, "sem") == 0 && a != NULL) {
            CALL(cmd, sem(a, O_CREAT | O_EXCL));
        } else if (strcmp(cmd, "mq") == 0 && a != NULL) {
            CALL(cmd, mq(a, O_CREAT | O_EXCL | O_RDWR));
        } else if (strcmp(cmd, "shm-attach") == 0 && a != NULL) {
            CALL(cmd, shm(a, O_CREAT | O_RDWR));
        } else if (strcmp(cmd, "sem-attach") == 0 && a != NULL) {
            CALL(cmd, sem(a, O_CREAT));
        } else if (strcmp(cmd, "mq-attach") == 0 && a != NULL) {
            CALL(cmd, mq(a, O_CREAT | O_RDWR));
        } else if (strcmp(cmd, "shm-open") == 0 && a != NULL) {
            CALL(cmd, shm(a, O_RDWR));
        } else if (strcmp(cmd, "sem-open") == 0 && a != NULL) {
            CALL(cmd, sem(a, 0));
        } else if (strcmp(cmd, "mq-open") == 0 && a != NULL) {
            CALL(cmd, mq(a, O_RDWR));
        } else if (strcmp(cmd, "shm-unlink") == 0 && a != NULL) {
            CALL(cmd, shm_unlink(a));
        } else if (strcmp(cmd, "sem-unlink") == 0 && a != NULL) {
            CALL(cmd, sem_unlink(a));
        } else if (strcmp(cmd, "mq-unlink") == 0 && a != NULL) {
            CALL(cmd, mq_unlink(a));
        } else if (strcmp(cmd, "sem-args") == 0 && a != NULL) {
            sem_args(a);
        } else if (strcmp(cmd, "mq-args") == 0 && a != NULL) {
            mq_args(a);
        } else if (strcmp(cmd, "errno") == 0) {
            keep_errno = 1;
            used = 0;
        } else if (strcmp(cmd, "worker") == 0 && a != NULL) {
            pid_t pid = fork();
            if (pid == 0) {
                _exit(shm(a, O_CREAT | O_EXCL | O_RDWR) < 0 ? 1 : 0);
            }
            printf("worker %d\n", pid < 0 ? -1 : wait_status(pid));
        } else if (strcmp(cmd, "sh") == 0 && a != NULL) {
            fflush(stdout);
            pid_t pid = fork();
            if (pid == 0) {
                execl("/bin/sh", "sh", "-c", a, (char *)NULL);
                _exit(127);
            }
            printf("sh %d\n", pid < 0 ? -1 : wait_status(pid));
        } else if (strcmp(cmd, "sh-closed") == 0 && a != NULL) {
            fflush(stdout);
            pid_t pid = fork();
            if (pid == 0) {
                for (int fd = 3; fd < 1024; fd++) {
                    close(fd);
                }
                execl("/bin/sh", "sh", "-c", a, (char *)NULL);
                _exit(127);
            }
            printf("sh-closed %d\n", pid < 0 ? -1 : wait_status(pid));
        } else if (strcmp(cmd, "env") == 0) {
            const char *v = getenv("RESOURCE_TRACKER_FD");
            int fd = v != NULL ? atoi(v) : -1;
            printf("env %s %d\n", v != NULL ? v : "-",
                   fd > 2 && fcntl(fd, F_GETFD) >= 0);
            used = 0;
        } else if (strcmp(cmd, "pid") == 0) {
            printf("pid %ld\n", (long)getpid());
            used = 0;
        } else if (strcmp(cmd, "chld") == 0) {
            struct sigaction sa;
            sigaction(SIGCHLD, NULL, &sa);
            printf("chld %s\n",
                   sa.sa_handler == SIG_IGN ? "ignored" : "default");
            used = 0;
        } else if (strcmp(cmd, "fds") == 0) {
            printf("fds %d\n", fd_count());
            used = 0;
        } else if (strcmp(cmd, "mt-fork") == 0 && a != NULL) {
            printf("mt-fork %s\n", mt_fork(a) == 0 ? "ok" : "FAIL");
        } else if (strcmp(cmd, "term") == 0) {
            signal(SIGTERM, on_term);
            printf("term-armed\n");
            used = 0;
        } else if (strcmp(cmd, "sigvalue") == 0) {
            sigset_t usr1;
            sigemptyset(&usr1);
            sigaddset(&usr1, SIGUSR1);
            sigprocmask(SIG_BLOCK, &usr1, NULL);
            printf("sigvalue-armed\n");
            siginfo_t si;
            while (sigwaitinfo(&usr1, &si) < 0) {
            }
            printf("sigvalue %d %d\n", si.si_value.sival_int, si.si_code);
            used = 0;
        } else if (strcmp(cmd, "hold") == 0) {
            printf("hold\n");
            for (;;) {
                char c;
                ssize_t n = read(0, &c, 1);
                if (n == 0 || (n < 0 && errno != EINTR)) {
                    break;
                }
            }
            used = 0;
        } else if (strcmp(cmd, "kill") == 0) {
            raise(SIGKILL);
            used = 0;
        } else {
            fprintf(stderr, "leaker: bad command '%s'\n", cmd);
            return 2;
        }
        i += used;
    }
    return 0;
}
