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
 * valgrind without execveat), and the only path off Linux; there, alas, the
 * tracker does keep a copy-on-write snapshot of the host.
 *
 * A run has two pipes (see client.c): the private one, whose read end the
 * host also keeps (so that its plain writes can never raise SIGPIPE; it
 * learns of the tracker's death from the liveness word, alive.h), and the
 * public one, which only the tracker reads (so that its death shows as
 * EPIPE to everyone else). When a tracker dies, a new one is started on the
 * same pipes: new read ends come from /proc/self/fd, so the messages still
 * in the pipes are not lost, and an exclusive flock on the public pipe's
 * read end makes sure only one tracker reads them. */

#define _GNU_SOURCE
#include "launch.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__linux__)
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif

#include "alive.h"
#include "fdio.h"
#include "handoff.h"
#include "image.h"
#include "rtypes.h"
#include "statedir.h"
#include "tracker.h"

#if defined(__linux__) && defined(SYS_execveat) && defined(MFD_CLOEXEC)
#define RT_HAVE_EXEC_PATH 1
#endif

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U /* Linux 6.3: ask for an executable memfd */
#endif

/* The middle process runs on the upper half of this stack, the child it
 * makes on the lower half; in the fork path the tracker inherits it. Pages
 * are only backed when touched. */
#define STACK_SIZE ((size_t)256 * 1024)

/* Environment variables passed to the tracker: the sanitizer runtimes'
 * options (a sanitized build runs a sanitized tracker) and the library path
 * its loader may need. Nothing else of the host's environment. */
static const char *const env_kept[] = {
    "ASAN_OPTIONS=", "UBSAN_OPTIONS=", "LSAN_OPTIONS=",
    "TSAN_OPTIONS=", "MSAN_OPTIONS=",  "LD_LIBRARY_PATH=",
};
#define ENV_MAX 16

extern char **environ;

/* What the child places: each source descriptor and the number it must
 * have in the tracker. */
#define NPLACE 6
static const int place_dst[NPLACE] = {RT_FD_A,     RT_FD_STATUS, RT_FD_IMAGE,
                                      RT_FD_ALIVE, RT_FD_B,      RT_FD_JOURNAL};

struct child_args {
    int src[NPLACE + 1]; /* + the state directory, placed at RT_FD_DIR */
    int image_fd;        /* -1: fork path */
    void *grand_stack;   /* top of the exec'ing child's stack */
    struct rt_tracker_args targs;
    char arg[RT_ARG_MAX];
    char *argv[3];
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
#define RAW_EXIT(code) ((void)syscall(SYS_exit, (long)(code)))

RT_CHILD_SAFE static void child_report(int fd, int32_t kind, long value)
{
    struct rt_launch_report rep = {kind, (int32_t)value};
    (void)RAW(SYS_write, (long)fd, &rep, (long)sizeof(rep));
}

RT_CHILD_SAFE static int is_src(const int *src, int n, long fd)
{
    for (int i = 0; i < n; i++) {
        if (src[i] == fd) {
            return 1;
        }
    }
    return 0;
}

/* Closes every descriptor above 2 but the sources: the tracker holds none
 * of the host's descriptors, and the places are free. */
RT_CHILD_SAFE static void close_others(const int *src, int n)
{
    long lo = 3;
    for (;;) {
        long next = -1;
        for (int i = 0; i < n; i++) {
            if (src[i] >= lo && (next < 0 || src[i] < next)) {
                next = src[i];
            }
        }
        if (next < 0) {
            rt__fd_close_from((int)lo);
            return;
        }
        if (next > lo) {
            if (RAW(SYS_close_range, lo, next - 1, 0L) < 0) {
                for (long fd = lo; fd < next; fd++) {
                    (void)RAW(SYS_close, fd);
                }
            }
        }
        lo = next + 1;
    }
}

/* /dev/null on 0 and 1, the host's stderr on 2 (/dev/null if it has
 * none), close-on-exec cleared on all three in this copy of the table. */
RT_CHILD_SAFE static void place_std(void)
{
    long null = RAW(SYS_openat, (long)AT_FDCWD, "/dev/null", (long)O_RDWR);
    if (RAW(SYS_fcntl, 2L, (long)F_SETFD, 0L) < 0 && null >= 0) {
        (void)RAW(SYS_dup3, null, 2L, 0L);
    }
    if (null >= 0) {
        (void)RAW(SYS_dup3, null, 0L, 0L);
        (void)RAW(SYS_dup3, null, 1L, 0L);
        if (null > 2) {
            (void)RAW(SYS_close, null);
        }
    } else {
        /* Without /dev/null, better no stdin/stdout than the host's. */
        (void)RAW(SYS_close, 0L);
        (void)RAW(SYS_close, 1L);
    }
}

/* Moves each source to its place, with no spare descriptor needed beyond
 * the places themselves (a host may run with very few): a source sitting
 * on another's place is moved aside to the lowest free number first.
 * Returns 0 or an errno. */
RT_CHILD_SAFE static int place_fds(const struct child_args *a)
{
    int src[NPLACE + 1];
    int dst[NPLACE + 1];
    memcpy(src, a->src, sizeof(src));
    memcpy(dst, place_dst, sizeof(place_dst));
    dst[NPLACE] = RT_FD_DIR;
    close_others(src, NPLACE + 1);
    place_std();
    int left = 0;
    for (int i = 0; i <= NPLACE; i++) {
        left += src[i] >= 0;
    }
    while (left > 0) {
        int progress = 0;
        for (int i = 0; i <= NPLACE; i++) {
            if (src[i] < 0) {
                continue;
            }
            if (src[i] == dst[i]) {
                (void)RAW(SYS_fcntl, (long)dst[i], (long)F_SETFD, 0L);
            } else if (is_src(src, NPLACE + 1, dst[i])) {
                continue;
            } else if (RAW(SYS_dup3, (long)src[i], (long)dst[i], 0L) < 0) {
                return errno == EBADF ? EMFILE : errno;
            } else {
                (void)RAW(SYS_close, (long)src[i]);
            }
            src[i] = -1;
            left--;
            progress = 1;
        }
        if (!progress) {
            /* A cycle: move one source aside. */
            for (int i = 0; i <= NPLACE; i++) {
                if (src[i] >= 0) {
                    long moved =
                        RAW(SYS_fcntl, (long)src[i], (long)F_DUPFD_CLOEXEC, 3L);
                    if (moved < 0) {
                        return errno == EINVAL ? EMFILE : errno;
                    }
                    (void)RAW(SYS_close, (long)src[i]);
                    src[i] = (int)moved;
                    break;
                }
            }
        }
    }
    return 0;
}

/* The tracker-to-be in the exec path: shares the host's memory until its
 * exec succeeds (CLONE_VFORK keeps the middle waiting until then). On
 * failure it reports why. */
RT_CHILD_SAFE static int exec_tracker(void *arg)
{
    const struct child_args *a = arg;
    (void)RAW(SYS_execveat, (long)RT_FD_IMAGE, "", a->argv, a->envp,
              (long)AT_EMPTY_PATH);
    /* Kernels before 3.19, and valgrind, know no execveat; /proc is the
     * other way to name a memfd. */
    if (errno == ENOSYS || errno == ENOENT || errno == EINVAL) {
        (void)RAW(SYS_execve, "/proc/self/fd/5", a->argv, a->envp);
    }
    child_report(RT_FD_STATUS, RT_REPORT_ERROR, errno);
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
        long status = a->src[1] == RT_FD_STATUS ? RT_FD_STATUS : a->src[1];
        child_report((int)status, RT_REPORT_ERROR, err);
        /* The status pipe may have moved: report on both numbers. */
        child_report(RT_FD_STATUS, RT_REPORT_ERROR, err);
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
            rt__tracker_run(&a->targs);
        }
    }
    child_report(RT_FD_STATUS, pid > 0 ? RT_REPORT_PID : RT_REPORT_ERROR,
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
    fd = rt__fd_lift(fd);
    if (fd < 0) {
        return fd;
    }
    size_t done = 0;
    while (done < rt__tracker_image_size) {
        ssize_t n =
            write(fd, rt__tracker_image + done, rt__tracker_image_size - done);
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
#endif

/* Errors after which exec'ing the image will not work on this system, so
 * the fork path is the way (as opposed to running out of a resource, which
 * is reported to the caller, and exec is tried again next time). */
static int exec_impossible(int err)
{
    switch (err) {
    case ENOSYS:
    case ENOENT:
    case EACCES:
    case EPERM:
    case ENOEXEC:
    case ETXTBSY:
    case ELIBBAD:
        return 1;
    default:
        return 0;
    }
}

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

/* Forgets descriptor I of a start, then returns it: in that order, so that
 * a fork() in another thread never sees a number already closed (and maybe
 * reused by now). */
static int take(struct rt_launch *in, int i)
{
    int fd = in->fds[i];
    in->fds[i] = -1;
    return fd;
}

void rt__launch_abandon(struct rt_launch *in)
{
    for (int i = 0; i < RT_L_NFDS; i++) {
        rt__fd_close(take(in, i));
    }
    void *stack = in->stack;
    in->stack = NULL;
    if (stack != NULL) {
        (void)munmap(stack, in->stack_size);
    }
    void *page = in->alive_page;
    in->alive_page = NULL;
    rt__alive_free(page);
}

/* The tracker closes its end of the status pipe right after its ready
 * record: waiting for that end-of-file means that when the start returns,
 * the tracker holds none of the host's descriptors. The wait is bounded, in
 * case a child that another thread forked meanwhile still holds the end. */
static void await_close(int fd)
{
    int saved = errno;
    /* Nothing follows the ready record: readable means end-of-file. */
    struct pollfd p = {fd, POLLIN, 0};
    while (poll(&p, 1, 1000) < 0 && errno == EINTR) {
    }
    errno = saved;
}

/* Reads the status pipe until the tracker's pid and its ready record are
 * both in (in either order) or an error or end-of-file comes first: a
 * tracker that died before it was ready (its loader failed, say) sends no
 * ready record. Returns 0 with the pid, or -errno. */
static int await_ready(int fd, pid_t *ret_pid)
{
    pid_t pid = -1;
    int ready = 0;
    while (pid <= 0 || !ready) {
        struct rt_launch_report rep;
        ssize_t n = rt__fd_read_full(fd, &rep, sizeof(rep));
        if (n < 0) {
            return (int)n;
        }
        if (n != (ssize_t)sizeof(rep)) {
            return -ENOEXEC;
        }
        if (rep.kind == RT_REPORT_ERROR) {
            return rep.value > 0 ? -rep.value : -EIO;
        }
        if (rep.kind == RT_REPORT_PID) {
            pid = rep.value;
        } else if (rep.kind == RT_REPORT_READY) {
            ready = 1;
        }
    }
    *ret_pid = pid;
    return 0;
}

static void build_args(struct child_args *a, const struct rt_launch *in,
                       unsigned flags)
{
    static const int from[NPLACE + 1] = {
        RT_L_A_R, RT_L_STATUS_W, RT_L_IMAGE, RT_L_ALIVE,
        RT_L_B_R, RT_L_JOURNAL,  RT_L_DIR,
    };
    for (int i = 0; i <= NPLACE; i++) {
        a->src[i] = in->fds[from[i]];
    }
    a->image_fd = in->fds[RT_L_IMAGE];
    struct rt_tracker_args *t = &a->targs;
    t->a = a->src[0] >= 0 ? RT_FD_A : -1;
    t->status = RT_FD_STATUS;
    t->alive = a->src[3] >= 0 ? RT_FD_ALIVE : -1;
    t->b = a->src[4] >= 0 ? RT_FD_B : -1;
    t->journal = a->src[5] >= 0 ? RT_FD_JOURNAL : -1;
    t->dir = a->src[6] >= 0 ? RT_FD_DIR : -1;
    t->starter = getpid();
    t->flags = flags;
    (void)snprintf(a->arg, sizeof(a->arg), "%ld:%u", (long)t->starter, flags);
    a->argv[0] = (char *)"resource_tracker";
    a->argv[1] = a->arg;
    a->argv[2] = NULL;
    build_env(a);
}

#if defined(__linux__)
/* One attempt through the middle process. Returns 0 with the tracker's pid
 * in *RET_PID, or -errno. */
static int start(struct rt_launch *in, unsigned flags, pid_t *ret_pid)
{
    struct child_args a;
    build_args(&a, in, flags);
    void *stack = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) {
        return -errno;
    }
    in->stack_size = STACK_SIZE;
    in->stack = stack;
    a.grand_stack = (char *)stack + STACK_SIZE / 2;
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
    pid_t mid = RT_CLONE(middle, (char *)stack + STACK_SIZE,
                         CLONE_VM | CLONE_VFORK, &a);
    int err = errno;
    (void)pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (mid < 0) {
        return -err;
    }
    /* The middle has exited (or, under valgrind, which turns CLONE_VM into
     * a copy, at least runs on its own): what it held of ours is its own
     * copy now. */
    rt__fd_close(take(in, RT_L_STATUS_W));
    pid_t pid = -1;
    r = await_ready(in->fds[RT_L_STATUS_R], &pid);
    /* Exact pid, __WCLONE: the middle's exit signal is 0. ECHILD means a
     * __WALL waiter in the host took it; there is nothing left to reap. */
    (void)rt__fd_waitpid(mid, NULL, __WCLONE);
    if (r == 0) {
        *ret_pid = pid;
    }
    return r;
}
#else
#error "libresourcetracker starts its tracker with Linux's clone(2)"
#endif

/* A read end of the pipe whose write end this process holds as WFD: a new
 * open file of the same pipe, through /proc. */
static int reopen_read(int wfd)
{
    char path[40];
    (void)snprintf(path, sizeof(path), "/proc/self/fd/%d", wfd);
    int fd;
    do {
        fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        return -errno;
    }
    fd = rt__fd_lift(fd);
    struct stat a;
    struct stat b;
    if (fd >= 0 &&
        (fstat(fd, &a) < 0 || fstat(wfd, &b) < 0 || a.st_dev != b.st_dev ||
         a.st_ino != b.st_ino || !S_ISFIFO(a.st_mode))) {
        rt__fd_close(fd);
        return -ENOENT;
    }
    return fd;
}

/* The state directory for the tracker and, for a fresh run, the journal.
 * A directory that cannot be used leaves the run without a journal and
 * says why in ARGS->why. */
static void prepare_state(struct rt_launch *in, struct rt_launch_args *args,
                          uint64_t bdev, uint64_t bino)
{
    char path[4096];
    if (rt__state_dir_path(path, sizeof(path)) < 0) {
        (void)snprintf(args->why, sizeof(args->why),
                       "state directory: path too long");
        return;
    }
    char why[96] = "";
    int dir = rt__state_open_dir(path, why, sizeof(why));
    if (dir < 0) {
        if (dir == -EMFILE || dir == -ENFILE || dir == -ENOMEM) {
            return;
        }
        /* The reasons are short ("belongs to another user"): 40 bytes
         * bound them so that gcc sees the line fits args->why. */
        (void)snprintf(args->why, sizeof(args->why),
                       "state directory %.100s %.40s", path, why);
        return;
    }
    in->fds[RT_L_DIR] = dir;
    if (args->b_w >= 0) {
        /* Reattach: the tracker finds the run's journal itself when this
         * process has none to give. */
        if (args->journal >= 0) {
            int j = fcntl(args->journal, F_DUPFD_CLOEXEC, 3);
            in->fds[RT_L_JOURNAL] = j >= 0 ? j : -1;
        }
        return;
    }
    int j = rt__state_create_journal(dir, bdev, bino);
    in->fds[RT_L_JOURNAL] = j >= 0 ? j : -1;
}

/* The descriptors of one attempt. */
static int prepare(struct rt_launch *in, struct rt_launch_args *args,
                   int use_exec)
{
    int r;
    if (args->b_w >= 0) {
        r = reopen_read(args->b_w);
        if (r < 0) {
            return r;
        }
        in->fds[RT_L_B_R] = r;
        /* Whoever holds this lock reads the pipes; a tracker's death
         * releases it. */
        if (flock(r, LOCK_EX | LOCK_NB) < 0) {
            return errno == EWOULDBLOCK ? -EBUSY : -errno;
        }
        if (args->a_w >= 0) {
            r = reopen_read(args->a_w);
            in->fds[RT_L_A_R] = r >= 0 ? r : -1;
        }
    } else {
        r = rt__fd_pipe(in->fds + RT_L_A_R);
        if (r == 0) {
            r = rt__fd_pipe(in->fds + RT_L_B_R);
        }
        if (r < 0) {
            return r;
        }
        if (flock(in->fds[RT_L_B_R], LOCK_EX | LOCK_NB) < 0) {
            return -errno;
        }
    }
    r = rt__fd_pipe(in->fds + RT_L_STATUS_R);
    if (r < 0) {
        return r;
    }
    struct stat st;
    if (fstat(in->fds[RT_L_B_R], &st) < 0) {
        return -errno;
    }
    prepare_state(in, args, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
#ifdef RT_HAVE_EXEC_PATH
    if (use_exec) {
        r = make_image();
        if (r < 0) {
            return r;
        }
        in->fds[RT_L_IMAGE] = r;
    }
#else
    (void)use_exec;
#endif
    r = rt__alive_create(&in->alive_page);
    in->fds[RT_L_ALIVE] = r >= 0 ? r : -1;
    /* Without a liveness page the host probes the pipe instead: only
     * running out of descriptors or memory is worth failing for. */
    return r == -EMFILE || r == -ENFILE || r == -ENOMEM ? r : 0;
}

int rt__launch(struct rt_launch *in, struct rt_launch_args *args,
               struct rt_started *ret)
{
    int saved = errno;
    int use_exec = !*args->exec_broken && !rt__rtypes_have_custom();
#ifndef RT_HAVE_EXEC_PATH
    use_exec = 0;
#endif
    args->why[0] = '\0';
    int r;
    pid_t pid = -1;
    for (;;) {
        r = prepare(in, args, use_exec);
        if (r == 0) {
            r = start(in, args->flags, &pid);
        }
        if (r < 0 && use_exec && exec_impossible(-r)) {
            /* Say once, for good, that this system runs no memfd image. */
            *args->exec_broken = 1;
            use_exec = 0;
            rt__launch_abandon(in);
            continue;
        }
        break;
    }
    if (r == 0) {
        if (!(args->flags & RT_TRACK_HOLD)) {
            await_close(in->fds[RT_L_STATUS_R]);
        }
        struct stat st;
        memset(ret, 0, sizeof(*ret));
        ret->pid = pid;
        ret->a_w = ret->a_spare = ret->b_w = ret->journal = -1;
        ret->status = -1;
        if (args->flags & RT_TRACK_HOLD) {
            ret->status = take(in, RT_L_STATUS_R);
        }
        if (fstat(in->fds[RT_L_B_R], &st) == 0) {
            ret->b_dev = (uint64_t)st.st_dev;
            ret->b_ino = (uint64_t)st.st_ino;
        }
        if (args->b_w < 0) {
            ret->a_w = take(in, RT_L_A_W);
            ret->a_spare = take(in, RT_L_A_R);
            ret->b_w = take(in, RT_L_B_W);
            ret->journal = take(in, RT_L_JOURNAL);
        }
        /* With a claimed liveness word, the private pipe is the way. */
        if (in->alive_page != NULL &&
            rt__alive_check(rt__alive_word(in->alive_page))) {
            ret->alive_page = in->alive_page;
            in->alive_page = NULL;
        }
    }
    rt__launch_abandon(in);
    errno = saved;
    return r;
}

void rt__launch_reap(pid_t pid)
{
    int reaper = getpid() == 1;
#if defined(__linux__)
    int sub = 0;
    if (prctl(PR_GET_CHILD_SUBREAPER, &sub, 0, 0, 0) == 0 && sub) {
        reaper = 1;
    }
#endif
    if (pid <= 0 || !reaper) {
        return;
    }
    /* It is known dead, but its exit may not be complete yet (its liveness
     * word and pipe go first): give it up to 100 ms to become waitable.
     * ECHILD: the host's own wait() took it, or it was never our child. */
    for (int i = 0; i < 100; i++) {
        if (rt__fd_waitpid(pid, NULL, WNOHANG) != 0) {
            return;
        }
        struct timespec ms = {0, 1000000L};
        (void)nanosleep(&ms, NULL);
    }
}
