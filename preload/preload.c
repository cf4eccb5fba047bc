/* SPDX-License-Identifier: MIT */
/* libresourcetracker-preload.so: shm_open, shm_unlink, sem_open,
 * sem_unlink, mq_open and mq_unlink of a program built without the library,
 * sent to the library's own wrappers (rt_shm_open and the others), which are
 * linked into this object and hidden. `resourcetracker run --preload` puts
 * it in LD_PRELOAD. Host, MT-safe.
 *
 * What is tracked is what the wrappers track: only what a call creates,
 * registered before it is created, so a SIGKILL at any instant leaves
 * nothing the tracker does not know. The wrappers create and remove through
 * raw system calls (rawipc.h), never through the symbols interposed here,
 * so nothing recurses and nothing is tracked twice. A program that uses the
 * library itself calls its own copy, which never comes here either. The one
 * libc call left in the wrappers, sem_open(NAME, 0) to map a semaphore that
 * exists, comes back to sem_open below, which sends every call without
 * O_CREAT straight to libc's.
 *
 * Nothing happens at load time but the constructors (the library's, which
 * registers its fork handler, and ours, which reads argv): a program that
 * never calls these functions never meets a tracker.
 *
 * Processes cut off from the run. A program that closes every descriptor
 * before exec (Python's subprocess and multiprocessing do) leaves its child
 * with RESOURCE_TRACKER_FD naming a closed descriptor. Such a child would
 * start a tracker of its own, and what it creates would be removed when it
 * alone exits, while the run's other processes may still use it. So before
 * its first call the shim looks for an ancestor still holding the run's
 * pipe and opens that pipe again through /proc (the device and inode of
 * the variable must match), under the number the variable names: the
 * child, and what it execs, then belong to the run again.
 *
 * CPython's multiprocessing tracker is such a child, and it also tracks
 * what CPython creates: at its shutdown it unlinks what is left, through
 * the shm_unlink and sem_unlink below. The shim joins it to the run at
 * load time (from the constructor: it makes no call before its shutdown),
 * so it holds the run's pipe until it exits. The run's tracker thus always
 * finishes after CPython's, and is told of every name CPython's removed:
 * the user sees CPython's warnings as without the run and none of ours,
 * and ours still removes what CPython's could not (when it was killed
 * too). README, "Python under run --preload", says why this way. */

/* dlsym(RTLD_NEXT) and secure_getenv(3): glibc and musl. */
#define _GNU_SOURCE
/* glibc's <mqueue.h> defines mq_open inline when fortified: this file
 * defines the symbol itself. */
#undef _FORTIFY_SOURCE

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mqueue.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "decimal.h"
#include "diag.h"
#include "fdio.h"
#include "inherit.h"
#include "procscan.h"
#include "rawipc.h"
#include "resourcetracker.h"

#define SHIM_EXPORT __attribute__((visibility("default")))

/* How far up the tree to look for a process holding the run's pipe. */
#define ANCESTORS_MAX 32

/* begin() has not run in this process (0), is running in the process whose
 * pid this holds, or is done (-1). A fork child that inherits a begin() in
 * progress in another thread sees a pid not its own and does it again. */
static atomic_long begun;
/* Whether this process can reach a tracker without starting one: the run's
 * (inherited, or found again), or one a call here started or adopted (a
 * fork child inherits that). An unlink in a process that has none removes
 * the object and tells nobody: a tracker started only to be told of a
 * removal would hold nothing and warn that it held nothing. */
static atomic_int reachable;
static atomic_int warned;

/* ---- the run's pipe, found again ---- */

/* A new write end of the pipe that descriptor FD of process PID holds, if
 * it is the pipe (DEV, INO) and its tracker still reads it; else -1. */
static int open_fd_of(pid_t pid, int fd, uint64_t dev, uint64_t ino)
{
    char path[64];
    (void)snprintf(path, sizeof(path), "/proc/%ld/fd/%d", (long)pid, fd);
    /* O_NONBLOCK: opening a pipe for writing waits for a reader, and a
     * dead tracker has none (ENXIO then). */
    int w = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (w < 0) {
        return -1;
    }
    struct stat st;
    int fl = fcntl(w, F_GETFL);
    if (fstat(w, &st) < 0 || !S_ISFIFO(st.st_mode) ||
        (uint64_t)st.st_dev != dev || (uint64_t)st.st_ino != ino || fl < 0 ||
        fcntl(w, F_SETFL, fl & ~O_NONBLOCK) < 0) {
        rt__fd_close(w);
        return -1;
    }
    return w;
}

/* A new write end of the pipe (DEV, INO), if process PID holds it: under
 * the number FD the variable names, or under another (a process that found
 * the pipe again itself, with FD taken, keeps it elsewhere). Else -1. */
static int open_theirs(pid_t pid, int fd, uint64_t dev, uint64_t ino)
{
    int w = open_fd_of(pid, fd, dev, ino);
    if (w >= 0) {
        return w;
    }
    char dir[40];
    char want[40];
    (void)snprintf(dir, sizeof(dir), "/proc/%ld/fd", (long)pid);
    (void)snprintf(want, sizeof(want), "pipe:[%llu]", (unsigned long long)ino);
    DIR *d = opendir(dir);
    if (d == NULL) {
        return -1;
    }
    for (struct dirent *e = readdir(d); e != NULL && w < 0; e = readdir(d)) {
        uint64_t n;
        char link[40];
        const char *end = rt__parse_decimal(e->d_name, INT_MAX, &n);
        if (end == NULL || *end != '\0' || (int)n == fd) {
            continue;
        }
        ssize_t len = readlinkat(dirfd(d), e->d_name, link, sizeof(link) - 1);
        if (len > 0) {
            link[len] = '\0';
            if (strcmp(link, want) == 0) {
                w = open_fd_of(pid, (int)n, dev, ino);
            }
        }
    }
    closedir(d);
    return w;
}

/* Makes the pipe W this process's tracker pipe: under the number FD that
 * RESOURCE_TRACKER_FD names when that number is free (without close-on-
 * exec, as if inherited: the library then adopts it as usual, and what
 * this process execs inherits it), else under a number of its own. */
static int settle(int w, int fd)
{
    int placed = fcntl(w, F_DUPFD, fd);
    if (placed == fd) {
        rt__fd_close(w);
        return 0;
    }
    if (placed >= 0) {
        rt__fd_close(placed);
    }
    w = rt__fd_move_high(w);
    if (rt_setfd(w) < 0) {
        rt__fd_close(w);
        return -1;
    }
    return 0;
}

/* Whether this process reaches the run's tracker: it inherited the pipe,
 * or an ancestor still holds it and it is opened again here. */
static int join_run(void)
{
    const char *v = secure_getenv(RT_ENV_FD);
    if (v == NULL) {
        return 0;
    }
    /* A pipe whose tracker died is still the run's: the library relaunches
     * that tracker at the first call. */
    int orphaned;
    if (rt__inherit_from_env(&orphaned) >= 0) {
        return 1;
    }
    /* Only the FD:DEV:INO form can be checked in another process. */
    int fd;
    uint64_t dev;
    uint64_t ino;
    if (rt__inherit_parse(v, &fd, &dev, &ino) != 1 || fd <= 2) {
        return 0;
    }
    pid_t pid = getppid();
    for (int depth = 0; depth < ANCESTORS_MAX && pid > 1; depth++) {
        int w = open_theirs(pid, fd, dev, ino);
        if (w >= 0) {
            return settle(w, fd) == 0;
        }
        pid = rt__procscan_parent(pid);
    }
    return 0;
}

/* Once per process, before its first call that creates or removes: whether
 * a tracker is reachable. errno is kept; no cancellation point. */
static void begin(void)
{
    long state = atomic_load_explicit(&begun, memory_order_acquire);
    if (state == -1) {
        return;
    }
    int saved = errno;
    int cs;
    (void)pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cs);
    long me = (long)getpid();
    for (int spins = 0; state != -1; spins++) {
        if (state != me && atomic_compare_exchange_strong(&begun, &state, me)) {
            if (join_run()) {
                atomic_store(&reachable, 1);
            }
            atomic_store_explicit(&begun, -1, memory_order_release);
            break;
        }
        if (state == me) {
            /* Another thread is at it: wait (a few ms at most), then go
             * on regardless. */
            if (spins > 100000) {
                break;
            }
            (void)sched_yield();
            state = atomic_load_explicit(&begun, memory_order_acquire);
        }
    }
    (void)pthread_setcancelstate(cs, NULL);
    errno = saved;
}

/* ---- when tracking is impossible ---- */

/* Whether the creating call that just failed with ERR failed because its
 * name could not be registered: no tracker could be started or reached,
 * or the tracker is not one of ours (a CPython tracker named by the
 * variable) and cannot take that name or type. Errors only the call itself
 * gives are not looked into. */
static int untrackable(const char *name, int err)
{
    if (name == NULL) {
        return 0;
    }
    switch (err) {
    case EINVAL:
    case EAGAIN:
    case ENOMEM:
    case EMFILE:
    case ENFILE:
    case EPIPE:
    case EPERM:
    case ENOSYS:
        break;
    default:
        return 0;
    }
    int saved = errno;
    int r = rt_ensure_running() < 0 || (err == EINVAL && rt_tracker_pid() < 0);
    errno = saved;
    return r;
}

/* Said once per process when a call the wrappers could not track created
 * its object untracked: the program asked for the object, and gets it, as
 * without the shim, rather than an error the real call would not give. */
static void warn_untracked(int err)
{
    if (atomic_exchange(&warned, 1) == 0) {
        const char *text =
            err > 0 && err < RT_ERRTAB_SIZE && rt__errtab[err] != NULL
                ? rt__errtab[err]
                : "unknown error";
        rt__diag_note("preload: created untracked, the tracker cannot be "
                      "reached: ",
                      text);
    }
}

/* ---- libc's sem_open ---- */

typedef sem_t *(*sem_open_fn)(const char *, int, ...);
static _Atomic(sem_open_fn) next_sem_open;

/* The sem_open this one hides (libc's), found at its first use; NULL with
 * ENOSYS if there is none. */
static sem_open_fn real_sem_open(void)
{
    sem_open_fn f = atomic_load_explicit(&next_sem_open, memory_order_acquire);
    if (f == NULL) {
        void *p = dlsym(RTLD_NEXT, "sem_open");
        /* POSIX's way from a data pointer to a function pointer. */
        memcpy(&f, &p, sizeof(f));
        if (f == NULL) {
            errno = ENOSYS;
            return NULL;
        }
        atomic_store_explicit(&next_sem_open, f, memory_order_release);
    }
    return f;
}

/* ---- the interposed calls ----
 *
 * Each keeps errno as it was when it succeeds, as the real calls do, and
 * fails with the errno the real call gives (the wrappers follow the rules
 * of libc, rawipc.c says how). */

/* -errno of a raw call as the real call's -1 and errno. */
static int raw_result(int r)
{
    if (r < 0) {
        errno = -r;
        return -1;
    }
    return r;
}

SHIM_EXPORT int shm_open(const char *name, int oflag, mode_t mode)
{
    int saved = errno;
    if (oflag & O_CREAT) {
        begin();
    }
    int fd = rt_shm_open(name, oflag, mode);
    if (fd >= 0 && (oflag & O_CREAT)) {
        atomic_store(&reachable, 1);
    } else if (fd < 0 && (oflag & O_CREAT) && untrackable(name, errno)) {
        int err = errno;
        fd = raw_result(rt__raw_shm_open(name, oflag, mode));
        if (fd >= 0) {
            warn_untracked(err);
        }
    }
    if (fd >= 0) {
        errno = saved;
    }
    return fd;
}

/* An unlink through the wrapper, which also unregisters, when a tracker is
 * reachable; else the raw one alone. */
static int unlink_via(int (*wrapper)(const char *), int (*raw)(const char *),
                      const char *name)
{
    int saved = errno;
    begin();
    int r;
    if (atomic_load(&reachable) || name == NULL) {
        r = wrapper(name);
    } else {
        r = raw_result(raw(name));
    }
    if (r == 0) {
        errno = saved;
    }
    return r;
}

SHIM_EXPORT int shm_unlink(const char *name)
{
    return unlink_via(rt_shm_unlink, rt__raw_shm_unlink, name);
}

SHIM_EXPORT sem_t *sem_open(const char *name, int oflag, ...)
{
    sem_open_fn next = real_sem_open();
    if (next == NULL) {
        return SEM_FAILED;
    }
    if (!(oflag & O_CREAT)) {
        /* Opens what exists; the wrappers' own call comes here. */
        return next(name, oflag);
    }
    /* mode_t and unsigned int reach a variadic function as unsigned int;
     * read only with O_CREAT, as libc does. As in wrappers.c, clang 14's
     * analyzer loses the va_start (a false valist.Uninitialized). */
    va_list ap;
    va_start(ap, oflag);
    mode_t mode = (mode_t)va_arg(ap, unsigned); /* NOLINT */
    unsigned value = va_arg(ap, unsigned);      /* NOLINT: see above */
    va_end(ap);
    int saved = errno;
    begin();
    sem_t *sem = rt_sem_open(name, oflag, mode, value);
    if (sem != SEM_FAILED) {
        atomic_store(&reachable, 1);
    } else if (untrackable(name, errno)) {
        int err = errno;
        sem = next(name, oflag, mode, value);
        if (sem != SEM_FAILED) {
            warn_untracked(err);
        }
    }
    if (sem != SEM_FAILED) {
        errno = saved;
    }
    return sem;
}

SHIM_EXPORT int sem_unlink(const char *name)
{
    return unlink_via(rt_sem_unlink, rt__raw_sem_unlink, name);
}

SHIM_EXPORT mqd_t mq_open(const char *name, int oflag, ...)
{
    int saved = errno;
    mode_t mode = 0;
    struct mq_attr *attr = NULL;
    if (oflag & O_CREAT) {
        va_list ap;
        va_start(ap, oflag);
        mode = (mode_t)va_arg(ap, unsigned); /* NOLINT: see sem_open */
        attr = va_arg(ap, struct mq_attr *); /* NOLINT: see sem_open */
        va_end(ap);
        begin();
    }
    mqd_t mq = rt_mq_open(name, oflag, mode, attr);
    if (mq != (mqd_t)-1 && (oflag & O_CREAT)) {
        atomic_store(&reachable, 1);
    } else if (mq == (mqd_t)-1 && (oflag & O_CREAT) &&
               untrackable(name, errno)) {
        int err = errno;
        mq = (mqd_t)raw_result(rt__raw_mq_open(name, oflag, mode, attr));
        if (mq != (mqd_t)-1) {
            warn_untracked(err);
        }
    }
    if (mq != (mqd_t)-1) {
        errno = saved;
    }
    return mq;
}

SHIM_EXPORT int mq_unlink(const char *name)
{
    return unlink_via(rt_mq_unlink, rt__raw_mq_unlink, name);
}

/* ---- CPython's helpers ---- */

#if defined(__GLIBC__)
/* Whether ARGV is that of a helper CPython's multiprocessing starts with
 * every other descriptor closed: its resource tracker ("python -c 'from
 * multiprocessing.resource_tracker import main;main(5)'"), its forkserver
 * and its spawned children, all "-c 'from multiprocessing.". */
static int cpython_helper(int argc, char **argv)
{
    static const char prefix[] = "from multiprocessing.";
    for (int i = 1; i + 1 < argc; i++) {
        if (argv[i] != NULL && strcmp(argv[i], "-c") == 0) {
            return argv[i + 1] != NULL &&
                   strncmp(argv[i + 1], prefix, sizeof(prefix) - 1) == 0;
        }
    }
    return 0;
}

/* glibc passes argc, argv and envp to constructors. CPython's tracker
 * joins the run now, before anything can end the run (see the top); other
 * processes only at their first call. */
__attribute__((constructor)) static void preload_init(int argc, char **argv,
                                                      char **envp)
{
    (void)envp;
    if (argc > 2 && argv != NULL && cpython_helper(argc, argv)) {
        begin();
    }
}
#endif
