/* SPDX-License-Identifier: MIT */
/* Starting the tracker. Host, called with the client mutex held; the child
 * functions marked RT_CHILD_SAFE run in a child sharing the host's memory
 * and are AS-safe (raw system calls only).
 *
 * Why this spawn path. The tracker must (1) not deadlock a multithreaded
 * host whose other threads hold malloc or stdio locks, (2) not keep a
 * copy-on-write snapshot of the host's memory, (3) start in well under 2 ms
 * whatever the size of the host, and (4) be nobody's child, so that the
 * host's wait() never sees it and it never becomes the host's zombie.
 *
 * fork() alone (CPython's fork start method, and the obvious C answer) fails
 * (2) and (3): fork copies the page tables of the whole host (about 14 ms for
 * a 1 GiB heap), and once the host rewrites its heap the forked tracker owns a
 * private copy of all of it, for as long as the program runs. It also makes
 * (1) hard: the tracker would have to live its whole life on AS-safe calls.
 *
 * So the tracker is a small separate program, embedded in the library as
 * bytes (tracker-main.c and the tracker modules, built as an executable) and
 * exec'ed from a memfd: nothing to install, works from the static library,
 * and an exec'ed process shares nothing with the host. Two vfork-style
 * clones (CLONE_VM | CLONE_VFORK) start it: each child borrows its parent's
 * address space instead of copying it, so no page table is copied whatever
 * the host's size (posix_spawn does the same inside glibc). The first, the
 * middle process, has exit signal 0: the kernel sends the host no SIGCHLD
 * for it, and wait()/waitpid(-1) without __WCLONE cannot see it. It never
 * execs (exec would reset its exit signal to SIGCHLD). It clones the
 * tracker-to-be, which execs the image, then reports the tracker's pid on a
 * status pipe and exits; the host reaps that exact pid and the tracker is
 * reparented to init. This is skalibs' doublefork() with both forks
 * replaced by vfork-style clones.
 *
 * The fork path remains for what exec cannot carry: a program that defined
 * its own types (rt_define_type) needs its cleanup functions, which exist
 * only in its own address space. Then the middle process forks a copy of
 * the host with a raw system call (no atfork handlers, no locks taken) and
 * that copy runs the tracker on AS-safe code only. The fork path is also the
 * fallback where the image cannot be exec'ed (no memfd, a noexec policy,
 * valgrind without execveat), and the only path off Linux. */
#define _GNU_SOURCE
#include "launch.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__linux__)
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif

#include "fdio.h"
#include "image.h"
#include "rtypes.h"
#include "tracker.h"

#if defined(__linux__) && defined(SYS_execveat) && defined(MFD_CLOEXEC)
#define RT_HAVE_EXEC_PATH 1
#endif

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U /* Linux 6.3: ask for an executable memfd */
#endif

/* The middle process runs on this stack; in the fork path the tracker
 * inherits it. Pages are only backed when touched. */
#define STACK_SIZE ((size_t)256 * 1024)

/* Environment variables passed to the tracker: the sanitizer runtimes'
 * options (a sanitized build runs a sanitized tracker) and the library path
 * its loader may need. Nothing else of the host's environment. */
static const char *const env_kept[] = {
    "ASAN_OPTIONS=", "UBSAN_OPTIONS=", "LSAN_OPTIONS=", "TSAN_OPTIONS=",
    "MSAN_OPTIONS=", "LD_LIBRARY_PATH=",
};
#define ENV_MAX 16

extern char **environ;

struct child_args {
    int read_fd;
    int status_fd;
    int image_fd;      /* -1: fork path */
    void *grand_stack; /* top of the exec'ing child's stack */
    char *argv[2];
    char *envp[ENV_MAX];
};

#if defined(__linux__)
#if defined(__GLIBC__)
/* glibc's own name for clone(2). ThreadSanitizer intercepts "clone" and
 * treats it as a fork of the calling thread, which breaks when the middle
 * process, which shares the host's memory, clones again. Nothing here
 * needs its bookkeeping: the children run uninstrumented code only. */
int __clone(int (*fn)(void *), void *stack, int flags, void *arg, ...);
#define RT_CLONE __clone
#else
#define RT_CLONE clone
#endif
#define RAW(...) syscall(__VA_ARGS__)
#define RAW_CLOSE(fd) ((void)syscall(SYS_close, (long)(fd)))
#define RAW_EXIT(code) ((void)syscall(SYS_exit, (long)(code)))
#endif

#if defined(__linux__)
RT_CHILD_SAFE static void child_report(int fd, int32_t kind, long value)
{
    struct rt_launch_report rep = {kind, (int32_t)value};
    (void)RAW(SYS_write, (long)fd, &rep, (long)sizeof(rep));
}

/* Puts /dev/null on 0 and 1 (and on 2 if the host had no stderr), the
 * tracker pipe on 3, the status pipe on 4 (the tracker closes it when it is
 * ready) and the image on 5 (close-on-exec), and closes everything else:
 * the tracker holds none of the host's descriptors. Every source is first
 * copied above 9 so that no placement clobbers another. Returns 0 or an
 * errno. */
RT_CHILD_SAFE static int place_fds(const struct child_args *a)
{
    long r = RAW(SYS_fcntl, (long)a->read_fd, (long)F_DUPFD_CLOEXEC, 10L);
    long s = RAW(SYS_fcntl, (long)a->status_fd, (long)F_DUPFD_CLOEXEC, 10L);
    long m = a->image_fd < 0
                 ? 0
                 : RAW(SYS_fcntl, (long)a->image_fd, (long)F_DUPFD_CLOEXEC, 10L);
    if (r < 0 || s < 0 || m < 0) {
        return errno;
    }
    long null = RAW(SYS_openat, (long)AT_FDCWD, "/dev/null", (long)O_RDWR);
    if (RAW(SYS_fcntl, 2L, (long)F_GETFD) < 0 && null >= 0) {
        (void)RAW(SYS_dup3, null, 2L, 0L);
    }
    if (null >= 0) {
        (void)RAW(SYS_dup3, null, 0L, 0L);
        (void)RAW(SYS_dup3, null, 1L, 0L);
    } else {
        /* Without /dev/null, better no stdin/stdout than the host's. */
        RAW_CLOSE(0);
        RAW_CLOSE(1);
    }
    if (RAW(SYS_dup3, r, (long)RT_LAUNCH_READ_FD, 0L) < 0 ||
        RAW(SYS_dup3, s, (long)RT_LAUNCH_STATUS_FD, 0L) < 0) {
        return errno;
    }
    if (a->image_fd >= 0 &&
        RAW(SYS_dup3, m, (long)RT_LAUNCH_IMAGE_FD, (long)O_CLOEXEC) < 0) {
        return errno;
    }
    rt__fd_close_from(a->image_fd >= 0 ? RT_LAUNCH_IMAGE_FD + 1
                                       : RT_LAUNCH_STATUS_FD + 1);
    return 0;
}

/* The tracker-to-be in the exec path: shares the host's memory until its
 * exec succeeds (CLONE_VFORK keeps the middle waiting until then). On
 * failure it reports why. */
RT_CHILD_SAFE static int exec_tracker(void *arg)
{
    const struct child_args *a = arg;
    (void)RAW(SYS_execveat, (long)RT_LAUNCH_IMAGE_FD, "", a->argv, a->envp,
              (long)AT_EMPTY_PATH);
    /* Kernels before 3.19, and valgrind, know no execveat; /proc is the
     * other way to name a memfd. */
    if (errno == ENOSYS || errno == ENOENT || errno == EINVAL) {
        (void)RAW(SYS_execve, "/proc/self/fd/5", a->argv, a->envp);
    }
    child_report(RT_LAUNCH_STATUS_FD, RT_REPORT_ERROR, errno);
    RAW_EXIT(127);
    return 127;
}

/* The middle process: shares the host's memory until it exits, while the
 * host thread that made it is suspended (CLONE_VFORK). It never execs: exec
 * would reset its exit signal to SIGCHLD and make it visible to the host's
 * wait(). It makes the tracker, reports its pid and exits, which reparents
 * the tracker to init. */
RT_CHILD_SAFE static int middle(void *arg)
{
    const struct child_args *a = arg;
    int err = place_fds(a);
    if (err != 0) {
        child_report(a->status_fd, RT_REPORT_ERROR, err);
        RAW_EXIT(127);
    }
    long pid;
    if (a->image_fd >= 0) {
        pid = RT_CLONE(exec_tracker, a->grand_stack,
                       CLONE_VM | CLONE_VFORK | SIGCHLD, (void *)a);
    } else {
        /* Fork path: a plain copy of the host, without glibc's fork(),
         * whose atfork handlers would take locks other host threads may
         * hold. The copy returns from the system call on its own stack. */
#if defined(SYS_fork)
        pid = RAW(SYS_fork);
#else
        pid = RAW(SYS_clone, (long)SIGCHLD, 0L, 0L, 0L, 0L);
#endif
        if (pid == 0) {
            rt__tracker_run(RT_LAUNCH_READ_FD);
        }
    }
    child_report(RT_LAUNCH_STATUS_FD, pid > 0 ? RT_REPORT_PID : RT_REPORT_ERROR,
                 pid > 0 ? pid : errno);
    RAW_EXIT(0);
    return 0;
}
#endif /* __linux__ */

#ifdef RT_HAVE_EXEC_PATH
/* Writes the embedded tracker image into a sealed, close-on-exec memfd. */
static int make_image(void)
{
    int fd = memfd_create("resource_tracker",
                          MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
    if (fd < 0 && errno == EINVAL) {
        fd = memfd_create("resource_tracker", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    }
    if (fd < 0) {
        return -errno;
    }
    size_t done = 0;
    while (done < rt__tracker_image_size) {
        ssize_t n = write(fd, rt__tracker_image + done,
                          rt__tracker_image_size - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            int err = n < 0 ? errno : EIO;
            rt__fd_close(fd);
            return -err;
        }
        done += (size_t)n;
    }
    /* Sealed, nobody who reaches it through /proc can alter what we exec. */
    (void)fcntl(fd, F_ADD_SEALS,
                F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
    return fd;
}

/* Errors after which exec'ing the image will not work on this system, so
 * the fork path is the way (as opposed to running out of a resource, which
 * is reported to the caller). */
static int exec_impossible(int err)
{
    switch (err) {
    case ENOSYS:
    case ENOENT:
    case EACCES:
    case EPERM:
    case ENOEXEC:
    case EINVAL:
    case ETXTBSY:
    case ELIBBAD:
    case EIO:
        return 1;
    default:
        return 0;
    }
}
#endif

static void build_env(struct child_args *a)
{
    size_t n = 0;
    for (char **e = environ; e != NULL && *e != NULL && n + 1 < ENV_MAX; e++) {
        for (size_t k = 0; k < sizeof(env_kept) / sizeof(env_kept[0]); k++) {
            if (strncmp(*e, env_kept[k], strlen(env_kept[k])) == 0) {
                a->envp[n++] = *e;
                break;
            }
        }
    }
    a->envp[n] = NULL;
}

void rt__launch_abandon(struct rt_launch *inflight)
{
    for (size_t i = 0; i < sizeof(inflight->fds) / sizeof(inflight->fds[0]);
         i++) {
        inflight->fds[i] = rt__fd_close(inflight->fds[i]);
    }
    if (inflight->stack != NULL) {
        (void)munmap(inflight->stack, inflight->stack_size);
        inflight->stack = NULL;
    }
}

#if defined(__linux__)
/* One attempt: IMAGE_FD >= 0 for the exec path, -1 for the fork path.
 * Returns 0 with the tracker's pid in *RET_PID, or -errno. */
static int start(struct rt_launch *in, int image_fd, pid_t *ret_pid)
{
    struct child_args a = {
        .read_fd = in->fds[0],
        .status_fd = in->fds[3],
        .image_fd = image_fd,
        .argv = {(char *)"resource_tracker", NULL},
    };
    build_env(&a);
    in->stack_size = STACK_SIZE;
    in->stack = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (in->stack == MAP_FAILED) {
        in->stack = NULL;
        return -errno;
    }
    /* Every signal stays blocked from here until the tracker has set its
     * dispositions: a ^C or SIGTERM aimed at the process group cannot kill
     * it on the way, and no host handler can run on the middle's stack. */
    sigset_t all;
    sigset_t old;
    sigfillset(&all);
    int r = pthread_sigmask(SIG_SETMASK, &all, &old);
    if (r != 0) {
        return -r;
    }
    /* The upper half is the middle's stack, the lower half the stack of the
     * child it makes in the exec path. */
    a.grand_stack = (char *)in->stack + STACK_SIZE / 2;
    pid_t mid = RT_CLONE(middle, (char *)in->stack + STACK_SIZE,
                         CLONE_VM | CLONE_VFORK, &a);
    int err = errno;
    (void)pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (mid < 0) {
        return -err;
    }
    /* The middle has exited (or, under valgrind, which turns CLONE_VM into
     * a copy, at least runs on its own): what it held of ours is its own
     * copy now. */
    in->fds[3] = rt__fd_close(in->fds[3]);
    (void)munmap(in->stack, in->stack_size);
    in->stack = NULL;
    /* The first record tells: an error from the exec'ing child comes
     * before the middle's pid record. End-of-file follows once the tracker
     * has set itself up and closed its copy: from then on it ignores the
     * signals it must ignore, so the caller may rely on that at once. */
    struct rt_launch_report rep = {0, 0};
    ssize_t n = rt__fd_read_full(in->fds[2], &rep, sizeof(rep));
    char rest[64];
    while (n == (ssize_t)sizeof(rep) &&
           rt__fd_read(in->fds[2], rest, sizeof(rest)) > 0) {
    }
    /* Exact pid, __WCLONE: the middle's exit signal is 0. ECHILD means a
     * __WALL waiter in the host took it; there is nothing left to reap. */
    (void)rt__fd_waitpid(mid, NULL, __WCLONE);
    in->fds[2] = rt__fd_close(in->fds[2]);
    if (n < 0) {
        return (int)n;
    }
    if (n != (ssize_t)sizeof(rep) || rep.kind != RT_REPORT_PID ||
        rep.value <= 0) {
        /* No report: the image died before it could say why (its loader
         * failed, say). */
        return rep.kind == RT_REPORT_ERROR && rep.value > 0 ? -rep.value
                                                            : -ENOEXEC;
    }
    *ret_pid = rep.value;
    return 0;
}

static int make_pipes(struct rt_launch *in)
{
    int r = rt__fd_pipe(in->fds);
    if (r == 0) {
        r = rt__fd_pipe(in->fds + 2);
    }
    return r;
}

int rt__launch(struct rt_launch *in, int *exec_broken, int *ret_fd,
               pid_t *ret_pid)
{
    int saved = errno;
    int r;
    int use_exec = !*exec_broken && !rt__rtypes_have_custom();
    for (;;) {
        r = make_pipes(in);
        int image = -1;
#ifdef RT_HAVE_EXEC_PATH
        if (r == 0 && use_exec) {
            image = make_image();
            if (image < 0 && exec_impossible(-image)) {
                *exec_broken = 1;
                use_exec = 0;
            } else if (image < 0) {
                r = image;
            }
            in->fds[4] = image < 0 ? -1 : image;
        }
#else
        use_exec = 0;
#endif
        pid_t pid = -1;
        if (r == 0) {
            r = start(in, image, &pid);
        }
        int fd = in->fds[1];
        in->fds[1] = -1;
        rt__launch_abandon(in);
#ifdef RT_HAVE_EXEC_PATH
        if (r < 0 && use_exec && exec_impossible(-r)) {
            rt__fd_close(fd);
            *exec_broken = 1;
            use_exec = 0;
            continue;
        }
#endif
        if (r < 0) {
            rt__fd_close(fd);
            break;
        }
        *ret_fd = fd;
        *ret_pid = pid;
        break;
    }
    errno = saved;
    return r;
}

void rt__launch_reap(pid_t pid)
{
    int reaper = 0;
    (void)prctl(PR_GET_CHILD_SUBREAPER, &reaper, 0, 0, 0);
    if (pid > 0 && (reaper || getpid() == 1)) {
        (void)rt__fd_waitpid(pid, NULL, WNOHANG);
    }
}

#else /* !__linux__ */

/* Portable fallback: fork twice. The first child exits at once, the host
 * reaps that exact pid, and the grandchild runs the tracker on AS-safe code
 * only (it is a fork of a possibly multithreaded host). */
int rt__launch(struct rt_launch *in, int *exec_broken, int *ret_fd,
               pid_t *ret_pid)
{
    int saved = errno;
    (void)exec_broken;
    int r = rt__fd_pipe(in->fds);
    if (r == 0) {
        r = rt__fd_pipe(in->fds + 2);
    }
    sigset_t all;
    sigset_t old;
    sigfillset(&all);
    pid_t mid = -1;
    if (r == 0) {
        (void)pthread_sigmask(SIG_SETMASK, &all, &old);
        mid = fork();
        if (mid == 0) {
            int rfd = in->fds[0], sfd = in->fds[3];
            int null = open("/dev/null", O_RDWR);
            if (null >= 0) {
                (void)dup2(null, 0);
                (void)dup2(null, 1);
            }
            (void)dup2(rfd, RT_LAUNCH_READ_FD);
            (void)dup2(sfd, RT_LAUNCH_STATUS_FD);
            rt__fd_close_from(RT_LAUNCH_STATUS_FD + 1);
            pid_t pid = fork();
            if (pid == 0) {
                rt__tracker_run(RT_LAUNCH_READ_FD);
            }
            struct rt_launch_report rep = {
                pid > 0 ? RT_REPORT_PID : RT_REPORT_ERROR,
                pid > 0 ? (int32_t)pid : errno};
            (void)rt__fd_write_msg(RT_LAUNCH_STATUS_FD, &rep, sizeof(rep));
            _exit(0);
        }
        r = mid < 0 ? -errno : 0;
        (void)pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    struct rt_launch_report rep = {0, 0};
    if (r == 0) {
        in->fds[3] = rt__fd_close(in->fds[3]);
        ssize_t n = rt__fd_read_full(in->fds[2], &rep, sizeof(rep));
        (void)rt__fd_waitpid(mid, NULL, 0);
        if (n != (ssize_t)sizeof(rep) || rep.kind != RT_REPORT_PID) {
            r = rep.kind == RT_REPORT_ERROR ? -rep.value : -ECHILD;
        }
    }
    int fd = in->fds[1];
    in->fds[1] = -1;
    rt__launch_abandon(in);
    if (r < 0) {
        rt__fd_close(fd);
    } else {
        *ret_fd = fd;
        *ret_pid = rep.value;
    }
    errno = saved;
    return r;
}

void rt__launch_reap(pid_t pid)
{
    if (pid > 0 && getpid() == 1) {
        (void)rt__fd_waitpid(pid, NULL, WNOHANG);
    }
}
#endif
