/* SPDX-License-Identifier: MIT */
/* The rt_* entry points: argument checks, the one tracker handle and its
 * mutex, lazy start, liveness, relaunch. Host, MT-safe.
 *
 * A run has two pipes into its tracker (launch.c starts them):
 *   - the private pipe, written by the process that started the tracker and
 *     its forks. They all hold a spare read end of it, so a plain write(2)
 *     there can never raise SIGPIPE, and they learn of the tracker's death
 *     from its liveness word (alive.h): one load, no system call;
 *   - the public pipe: rt_getfd, programs exec'ed with RESOURCE_TRACKER_FD,
 *     CPython. Nobody but the tracker reads it, so when the tracker dies
 *     every writer finds out at once (EPIPE, CPython's probe included);
 *     writes there use RWF_NOSIGNAL (Linux 6.18) or, on older kernels,
 *     SIGPIPE blocked and consumed in the calling thread.
 * A process writes all its messages to one of them, so its own messages
 * stay in order. Messages take no lock: the descriptor is loaded
 * atomically and each message is one write(2) of at most PIPE_BUF bytes,
 * which the kernel keeps whole. The mutex serialises only starting,
 * adopting and relaunching.
 *
 * When the tracker dies, the first process to notice either joins a
 * tracker another process already started on the same pipes, or starts one
 * itself on new read ends of those pipes (launch.c): what was still in the
 * pipes reaches it, and it takes over the run's journal, so nothing the
 * dead tracker held is lost. Descriptor numbers, once published, are never
 * closed while the process runs, so a writer racing with a relaunch reaches
 * the old pipe or the new one, never a number the host reused. */

/* getresuid(2) is not POSIX. */
#define _GNU_SOURCE
#include "resourcetracker.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alive.h"
#include "client.h"
#include "ctl.h"
#include "diag.h"
#include "fdio.h"
#include "handoff.h"
#include "inherit.h"
#include "journal.h"
#include "launch.h"
#include "pathres.h"
#include "rtypes.h"
#include "wire.h"

/* What the tracker in use accepts (handle.accept): one bit per type index,
 * and this bit when it is not known to be ours (a CPython tracker, or one
 * that does not answer on the control socket): then only lines every
 * CPython reads are sent (colon form, no ':' in the name). */
#define ACCEPT_FOREIGN ((uint64_t)1 << 63)
#define ACCEPT_ALL (((uint64_t)1 << RT_RTYPES_MAX) - 1)
_Static_assert(RT_RTYPES_MAX <= 63, "type bits and the foreign bit fit");

/* The types every CPython tracker knows: noop, semaphore, shared_memory
 * (type indexes 0 to 2). */
#define CPYTHON_TYPES ((uint64_t)7)

struct tracker_handle {
    pthread_mutex_t lock;
    /* Written under the lock, read without it. */
    atomic_int fd;                     /* where messages go, or -1 */
    atomic_uint gen;                   /* bumped whenever fd gets a tracker */
    _Atomic(_Atomic uint32_t *) alive; /* liveness word (private pipe) */
    _Atomic uint64_t accept;           /* ACCEPT_* */
    atomic_int check_fds;              /* a fork child: verify them first */
    /* Under the lock. */
    int a_w, a_spare, b_w, journal; /* -1 when absent */
    uint64_t a_dev, a_ino, b_dev, b_ino;
    int b_inherited;  /* b_w came from RESOURCE_TRACKER_FD, flag as it was */
    int getfd_copy;   /* rt_getfd's close-on-exec copy of it, or -1 */
    pid_t pid;        /* -1: not known or none */
    void *alive_page; /* mapped at the first start, replaced in place */
    int env_checked;  /* RESOURCE_TRACKER_FD is read at the first call only */
    int started;      /* a tracker was started or adopted, ever */
    int exec_broken;  /* the image cannot be exec'ed here: fork path */
    int warned_dir;   /* the state directory warning was given */
    int pid1_hook;
    int atfork_err;
    struct rt_launch inflight;
};

static struct tracker_handle handle = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .fd = -1,
    .alive = NULL,
    .accept = 0,
    .a_w = -1,
    .a_spare = -1,
    .b_w = -1,
    .journal = -1,
    .getfd_copy = -1,
    .pid = -1,
    .inflight = RT_LAUNCH_INIT,
};

/* Child-only: a prepare handler taking the mutex would deadlock the fork
 * path, which forks while holding it. A start that was under way in another
 * thread is dropped: its descriptors are closed so the child does not keep
 * the new pipe open, and the child sees the handle as it was before. Its
 * descriptors are verified at its first message: a child that closes what
 * it inherited and opens files may have reused the numbers. */
static void atfork_child(void)
{
    static const pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    memcpy(&handle.lock, &fresh, sizeof(fresh));
    rt__launch_abandon(&handle.inflight);
    if (atomic_load_explicit(&handle.fd, memory_order_relaxed) >= 0) {
        atomic_store_explicit(&handle.check_fds, 1, memory_order_relaxed);
    }
}

/* Registered when the library is loaded, before any thread can call it,
 * rather than on the first call: a pthread_once() under way in another
 * thread at fork() would stay "in progress" in the child for ever (musl,
 * and TSan's interceptor, do not reset it), and a lock taken before the
 * handler existed would stay held in the child. */
__attribute__((constructor)) static void register_atfork(void)
{
    handle.atfork_err = pthread_atfork(NULL, NULL, atfork_child);
}

/* The lock is held across system calls that are cancellation points
 * (poll, read, waitpid): a thread cancelled there would leave it held and
 * every later call hanging. Cancellation waits until the lock is free. */
static int lock(void)
{
    int old;
    (void)pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
    (void)pthread_mutex_lock(&handle.lock);
    return old;
}

static void unlock(int cancel_state)
{
    (void)pthread_mutex_unlock(&handle.lock);
    (void)pthread_setcancelstate(cancel_state, NULL);
}

static int fail(int r)
{
    if (r < 0) {
        errno = -r;
        return -1;
    }
    return r;
}

static void identity(int fd, uint64_t *dev, uint64_t *ino)
{
    struct stat st;
    *dev = *ino = 0;
    if (fd >= 0 && fstat(fd, &st) == 0) {
        *dev = (uint64_t)st.st_dev;
        *ino = (uint64_t)st.st_ino;
    }
}

/* Makes the handle's descriptors the way messages go: the private pipe
 * when there is a liveness word for it, else the public one. */
static void publish(_Atomic uint32_t *alive, uint64_t accept)
{
    int fd = alive != NULL && handle.a_w >= 0 ? handle.a_w : handle.b_w;
    if (fd != handle.a_w) {
        alive = NULL;
    }
    handle.started = 1;
    atomic_store_explicit(&handle.accept, accept, memory_order_release);
    atomic_store_explicit(&handle.fd, fd, memory_order_release);
    atomic_store_explicit(&handle.alive, alive, memory_order_release);
    atomic_fetch_add_explicit(&handle.gen, 1, memory_order_release);
}

/* Forgets the handle's descriptors without closing them: they are not (or
 * may not be) ours any more. */
static void forget(void)
{
    handle.a_w = handle.a_spare = handle.b_w = handle.journal = -1;
    handle.a_dev = handle.a_ino = handle.b_dev = handle.b_ino = 0;
    handle.b_inherited = 0;
    handle.pid = -1;
    atomic_store_explicit(&handle.alive, NULL, memory_order_release);
    atomic_store_explicit(&handle.fd, -1, memory_order_release);
    atomic_fetch_add_explicit(&handle.gen, 1, memory_order_release);
}

/* Whether the descriptors this process inherited are still the pipes they
 * were. */
static int fds_still_ours(void)
{
    return rt__fd_is(handle.b_w, handle.b_dev, handle.b_ino) &&
           (handle.a_w < 0 ||
            (rt__fd_is(handle.a_w, handle.a_dev, handle.a_ino) &&
             rt__fd_is(handle.a_spare, handle.a_dev, handle.a_ino)));
}

/* Whether the tracker on our pipes runs: its liveness word if we use the
 * private pipe, else a poll of the public one. 1 yes, 0 no, -EBADF. */
static int tracker_alive(void)
{
    _Atomic uint32_t *alive =
        atomic_load_explicit(&handle.alive, memory_order_acquire);
    if (alive != NULL) {
        return rt__alive_check(alive);
    }
    return rt__fd_pipe_alive(handle.b_w);
}

/* ---- joining a tracker through its control socket ---- */

/* The type bits of a "types=a,b,c" list, as this process numbers types. */
static uint64_t types_bits(const char *v, size_t n)
{
    uint64_t bits = 0;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || v[i] == ',') {
            int t = rt__rtypes_find(v + start, i - start);
            if (t >= 0) {
                bits |= (uint64_t)1 << t;
            }
            start = i + 1;
        }
    }
    return bits;
}

/* Asks the tracker of our public pipe who it is. Returns 0 with what it
 * accepts in *RET_ACCEPT and its liveness page's descriptor in *RET_ALIVE
 * (or -1), or -errno when no tracker of ours answers. */
static int hello(uint64_t *ret_accept, int *ret_alive, int *ret_reads_a)
{
    static const char req[] = "hello\n";
    char reply[RT_CTL_LINE_MAX];
    /* A tracker that does not answer within a few seconds (stopped) is
     * taken for one that is not ours: only what every tracker reads goes
     * to it, which it will read when it runs again. */
    int r = rt__ctl_ask(handle.b_dev, handle.b_ino, req, sizeof(req) - 1, reply,
                        sizeof(reply), ret_alive, 3000);
    if (r < 0) {
        return r;
    }
    size_t n = strlen(reply);
    uint64_t pid = 0;
    const char *v;
    size_t vn;
    if (!rt__jline_is(reply, n, "ok") ||
        rt__jline_get_num(reply, n, "pid", &pid) < 0 ||
        rt__jline_get(reply, n, "types", &v, &vn) < 0) {
        rt__fd_close(*ret_alive);
        *ret_alive = -1;
        return -EPROTO;
    }
    handle.pid = (pid_t)pid;
    *ret_accept = types_bits(v, vn);
    *ret_reads_a = rt__jline_get(reply, n, "reads", &v, &vn) == 0 &&
                   memchr(v, 'A', vn) != NULL;
    return 0;
}

/* Hands the tracker a read end of our private pipe, which it lacks (it was
 * started by a process that had none). */
static void attach_private(void)
{
    char path[40];
    char reply[64];
    (void)snprintf(path, sizeof(path), "/proc/self/fd/%d", handle.a_w);
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        return;
    }
    static const char req[] = "attach src=A\n";
    (void)rt__ctl_call(handle.b_dev, handle.b_ino, req, sizeof(req) - 1, &fd, 1,
                       reply, sizeof(reply), NULL);
    rt__fd_close(fd);
}

/* Maps the liveness page FD and makes it ours, replacing the page of a dead
 * tracker in place. Returns the word, or NULL. */
static _Atomic uint32_t *install_page(int fd)
{
    if (fd < 0) {
        return NULL;
    }
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    rt__fd_close(fd);
    if (p == MAP_FAILED || rt__alive_install(&handle.alive_page, p) < 0) {
        return NULL;
    }
    return rt__alive_word(handle.alive_page);
}

/* Joins the tracker now reading our pipes (another process started it).
 * Returns 0, or -errno when there is none. */
static int join(void)
{
    uint64_t accept;
    int afd = -1;
    int reads_a = 0;
    int r = hello(&accept, &afd, &reads_a);
    if (r < 0) {
        return r;
    }
    if (handle.a_w >= 0 && !reads_a) {
        attach_private();
    }
    _Atomic uint32_t *alive = NULL;
    if (handle.a_w >= 0) {
        alive = install_page(afd);
    } else {
        rt__fd_close(afd);
    }
    publish(alive, accept);
    return 0;
}

/* ---- starting ---- */

static void keep_high(int *fd)
{
    if (*fd >= 0) {
        *fd = rt__fd_move_high(*fd);
    }
}

static void warn_no_journal(const struct rt_launch_args *args)
{
    if (args->why[0] != '\0' && !handle.warned_dir) {
        handle.warned_dir = 1;
        rt__diag_no_journal(args->why);
    }
}

/* A tracker of a new run, with new pipes. */
static int start_fresh(void)
{
    struct rt_launch_args args = {-1, -1, -1, 0, &handle.exec_broken, ""};
    if (getpid() == 1) {
        args.flags |= RT_TRACK_PID1;
    }
    struct rt_started st;
    int r = rt__launch(&handle.inflight, &args, &st);
    warn_no_journal(&args);
    if (r < 0) {
        return r;
    }
    /* Our descriptors sit high: a program that closes descriptors and
     * opens files gets the low numbers, not ours. */
    keep_high(&st.a_w);
    keep_high(&st.a_spare);
    /* Non-blocking: see write_private. Without it, writes block as they
     * always did. */
    if (st.a_w >= 0) {
        int fl = fcntl(st.a_w, F_GETFL);
        if (fl >= 0) {
            (void)fcntl(st.a_w, F_SETFL, fl | O_NONBLOCK);
        }
    }
    keep_high(&st.b_w);
    keep_high(&st.journal);
    handle.a_w = st.a_w;
    handle.a_spare = st.a_spare;
    handle.b_w = st.b_w;
    handle.journal = st.journal;
    identity(handle.a_w, &handle.a_dev, &handle.a_ino);
    handle.b_dev = st.b_dev;
    handle.b_ino = st.b_ino;
    handle.pid = st.pid;
    _Atomic uint32_t *alive = NULL;
    if (st.alive_page != NULL &&
        rt__alive_install(&handle.alive_page, st.alive_page) == 0) {
        alive = rt__alive_word(handle.alive_page);
    }
    if (getpid() == 1) {
        /* See run_pid1_exit. */
        handle.pid1_hook = 1;
    }
    publish(alive, ACCEPT_ALL);
    return 0;
}

/* How long a relaunch waits for others starting a tracker on the same
 * pipes before it gives up (EAGAIN). */
#define RELAUNCH_WAIT_S 5

/* A tracker for the pipes of a run whose tracker died. Returns 0 (with the
 * warning given), or -errno; -ENOENT when the pipes cannot be reached
 * again (no /proc). */
static int start_again(void)
{
    struct rt_launch_args args = {handle.a_w,          handle.b_w,
                                  handle.journal,      RT_TRACK_REATTACH,
                                  &handle.exec_broken, ""};
    if (getpid() == 1) {
        args.flags |= RT_TRACK_PID1;
    }
    /* Bounded in time, not in tries: a tracker killed again and again
     * (each death holds the pipes a moment, guardian.h) can make every
     * try meet another's start. */
    struct timespec t0;
    (void)clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct timespec now;
        (void)clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec >= RELAUNCH_WAIT_S) {
            break;
        }
        struct rt_started st;
        int r = rt__launch(&handle.inflight, &args, &st);
        warn_no_journal(&args);
        if (r == 0) {
            handle.pid = st.pid;
            _Atomic uint32_t *alive = NULL;
            if (st.alive_page != NULL && handle.a_w >= 0 &&
                rt__alive_install(&handle.alive_page, st.alive_page) == 0) {
                alive = rt__alive_word(handle.alive_page);
            } else {
                rt__alive_free(st.alive_page);
            }
            publish(alive, ACCEPT_ALL);
            /* bpo-31310: say it, once the new one runs. */
            rt__diag_relaunch(args.why[0] == '\0');
            return 0;
        }
        if (r != -EBUSY) {
            return r;
        }
        /* Another process is starting one on these pipes: join it when it
         * answers (within 2 s; writes meanwhile wait in the pipes). */
        struct timespec ms = {0, 1000000L};
        (void)nanosleep(&ms, NULL);
        if (join() == 0) {
            return 0;
        }
    }
    return -EAGAIN;
}

/* Our tracker died. */
static int revive(void)
{
    rt__launch_reap(handle.pid);
    if (join() == 0) {
        return 0;
    }
    int r = start_again();
    if (r != -ENOENT && r != -EACCES && r != -EPERM) {
        return r;
    }
    /* The pipes cannot be reached again: a new run. The old run's
     * descriptors stay open (a racing writer may use them), and so does its
     * journal, whose guardian cleans up once we and the others are gone. */
    r = start_fresh();
    if (r == 0) {
        /* The old run's names are for its guardian or a sweep, once this
         * program is gone: not "taken over". */
        rt__diag_relaunch(0);
    }
    return r;
}

/* The descriptor keeps the close-on-exec flag it was inherited with: the
 * variable naming it crosses exec with the environment, so the descriptor
 * must cross it too, or every program this one execs would find the
 * variable naming a closed descriptor and start a tracker of its own. So
 * the whole tree of `resourcetracker run` (and of a child prepared with
 * rt_spawn_prepare) shares one tracker, however it starts its programs. */
/* An adopted public pipe: what its tracker reads, asked on its control
 * socket; one that does not answer (CPython's) gets what every CPython
 * tracker reads. */
static void publish_adopted(void)
{
    uint64_t accept = ACCEPT_FOREIGN | CPYTHON_TYPES;
    int afd = -1;
    int reads_a;
    if (hello(&accept, &afd, &reads_a) < 0) {
        accept = ACCEPT_FOREIGN | CPYTHON_TYPES;
        handle.pid = -1;
    }
    rt__fd_close(afd);
    publish(NULL, accept);
}

static int adopt_env(void)
{
    int orphaned;
    int fd = rt__inherit_from_env(&orphaned);
    if (fd < 0) {
        return -1;
    }
    handle.b_w = fd;
    handle.b_inherited = 1;
    identity(fd, &handle.b_dev, &handle.b_ino);
    handle.pid = -1;
    if (orphaned) {
        /* The run we were handed lost its tracker before our first call.
         * We hold its pipe and are one of its processes: join the tracker
         * another of them relaunched, or relaunch it ourselves (and say
         * so), rather than start a run of our own whose names would go
         * when we do, while the rest of the run may still use them. */
        if (revive() == 0) {
            return 0;
        }
        forget();
        return -1;
    }
    publish_adopted();
    return 0;
}

static int ensure_locked(void)
{
    if (handle.atfork_err != 0) {
        return -handle.atfork_err;
    }
    int fd = atomic_load_explicit(&handle.fd, memory_order_relaxed);
    if (fd >= 0 &&
        atomic_exchange_explicit(&handle.check_fds, 0, memory_order_relaxed) &&
        !fds_still_ours()) {
        /* What we inherited was closed (and its numbers maybe reused):
         * never write there. A tracker of our own, silently. */
        forget();
        handle.env_checked = 1;
        fd = -1;
    }
    if (fd >= 0) {
        if (tracker_alive() == 1) {
            return 0;
        }
        if (!fds_still_ours()) {
            /* This process closed them itself (closefrom, close_range):
             * no pipe to take over, and maybe someone else's file on the
             * numbers. A tracker of our own, silently. */
            forget();
            handle.env_checked = 1;
            return start_fresh();
        }
        return revive();
    }
    if (!handle.env_checked) {
        handle.env_checked = 1;
        if (adopt_env() == 0) {
            return 0;
        }
    }
    return start_fresh();
}

static int ensure(void)
{
    int cs = lock();
    int r = ensure_locked();
    unlock(cs);
    return r;
}

/* After a failed write: relaunch, unless another thread already did since
 * we loaded the descriptor. */
static int recover(unsigned seen_gen)
{
    int cs = lock();
    int r = 0;
    if (atomic_load_explicit(&handle.gen, memory_order_relaxed) == seen_gen) {
        r = ensure_locked();
    }
    unlock(cs);
    return r;
}

/* A message on the private pipe, whose write end is non-blocking. Our own
 * spare read end keeps that pipe open, so a writer blocked on a full pipe
 * would never be woken if the tracker died meanwhile: nobody would ever
 * make room, and no EPIPE would come. So a full pipe is waited on in short
 * slices, the liveness word looked at between them; a dead tracker makes
 * this -EPIPE, and the caller relaunches it (the new one drains the pipe).
 * A message written after the tracker died waits in the pipe for the
 * next. */
static int write_private(int fd, _Atomic uint32_t *alive, const char *msg,
                         size_t len)
{
    int saved = errno;
    for (int waited = 0;; waited = 1) {
        if (!rt__alive_check(alive)) {
            return -EPIPE;
        }
        int r = rt__fd_write_plain(fd, msg, len);
        if (r != -EAGAIN) {
            if (r == 0 && waited) {
                errno = saved; /* the EAGAINs on the way were ours */
            }
            return r;
        }
        struct pollfd p = {fd, POLLOUT, 0};
        (void)poll(&p, 1, 10);
    }
}

static int send_msg(const char *msg, size_t len)
{
    int saved = errno;
    for (int attempt = 0;; attempt++) {
        unsigned gen = atomic_load_explicit(&handle.gen, memory_order_acquire);
        int fd = atomic_load_explicit(&handle.fd, memory_order_acquire);
        _Atomic uint32_t *alive =
            atomic_load_explicit(&handle.alive, memory_order_acquire);
        int r = -EPIPE;
        if (atomic_load_explicit(&handle.check_fds, memory_order_relaxed)) {
            r = -EBADF;
        } else if (fd >= 0 && alive != NULL) {
            /* The private pipe: our spare reader keeps it open, so no
             * SIGPIPE is possible. */
            r = write_private(fd, alive, msg, len);
        } else if (fd >= 0) {
            r = rt__fd_write_msg(fd, msg, len);
        }
        if (r == 0 && attempt > 0) {
            errno = saved; /* the failures on the way were ours */
        }
        if (r == 0 || (r != -EPIPE && r != -EBADF) || attempt == 2) {
            return r;
        }
        if (r == -EBADF) {
            /* Our descriptor was closed under us (by this process: a
             * closefrom): have the descriptors checked before any use. */
            atomic_store_explicit(&handle.check_fds, 1, memory_order_relaxed);
        }
        r = recover(gen);
        if (r < 0) {
            return r;
        }
    }
}

/* Whether the tracker in use can read a line about NAME of type T: ACCEPT
 * is what it accepts. */
static int readable_by(uint64_t accept, int t, const char *name)
{
    if (!(accept & ((uint64_t)1 << t))) {
        return 0;
    }
    if (!(accept & ACCEPT_FOREIGN)) {
        return 1;
    }
    /* CPython 3.12 and older split the line on every ':' and decode it as
     * ASCII: they cannot read a name holding ':' or a JSON line. */
    for (const unsigned char *p = (const unsigned char *)name; *p != '\0';
         p++) {
        if (*p == ':' || *p < 0x20 || *p > 0x7E) {
            return 0;
        }
    }
    return 1;
}

/* ---- paths: through the control socket ---- */

/* A file or folder is removed by the tracker with its rights, so it is
 * registered where the tracker can check the caller's credentials, with
 * the caller's own view of the path: its folder, opened here without
 * following any link (a chroot or a mount namespace of the caller's own
 * resolves as it does for the caller). */
static int path_message(enum rt_cmd cmd, const char *name, const char *rtype)
{
    size_t len = strlen(name);
    if (!rt__path_valid(name, len)) {
        return -EINVAL;
    }
    if (len > RT_MSG_MAX) {
        return -ENAMETOOLONG;
    }
    /* 8 KiB: off the caller's stack, which may be a small thread's, and
     * not per thread for ever. A path call costs syscalls far dearer. */
    struct rt_jline *jl = malloc(sizeof(*jl));
    if (jl == NULL) {
        return -ENOMEM;
    }
    rt__jline_start(jl, "path");
    rt__jline_str(jl, "op", cmd == RT_CMD_REGISTER ? "reg" : "unreg");
    rt__jline_str(jl, "rtype", rtype);
    rt__jline_b64(jl, "name", (const unsigned char *)name, len);
    ssize_t n = rt__jline_end(jl);
    if (n < 0) {
        free(jl);
        return (int)n;
    }
    int dir = -1;
    if (cmd == RT_CMD_REGISTER) {
        size_t base;
        dir = rt__path_open_parent(name, len, &base);
        if (dir < 0) {
            free(jl);
            return dir;
        }
    }
    int r = -ENOTCONN;
    for (int attempt = 0; attempt < 3; attempt++) {
        unsigned gen = atomic_load_explicit(&handle.gen, memory_order_acquire);
        int cs = lock();
        uint64_t dev = handle.b_dev;
        uint64_t ino = handle.b_ino;
        unlock(cs);
        char reply[128];
        r = rt__ctl_call(dev, ino, jl->buf, (size_t)n, &dir, dir >= 0 ? 1 : 0,
                         reply, sizeof(reply), NULL);
        if (r == 0) {
            uint64_t err = 0;
            size_t rn = strlen(reply);
            r = rt__jline_is(reply, rn, "ok") ? 0
                : rt__jline_get_num(reply, rn, "errno", &err) == 0 && err > 0
                    ? -(int)err
                    : -EPROTO;
            break;
        }
        int taken = r == -ECONNABORTED;
        if (r != -ECONNREFUSED && r != -ENOENT && r != -EPIPE &&
            r != -ECONNRESET && !taken) {
            break;
        }
        /* No tracker answers: it died. */
        r = recover(gen);
        if (r < 0) {
            break;
        }
        if (taken) {
            /* It died after taking the request: it may have acted on it
             * (and journaled it, for the tracker now running). Sending it
             * again could register or withdraw the path twice, so the call
             * fails instead, as a message the tracker may not have read
             * does (API: -1, EPIPE); the next call finds a tracker. */
            r = -EPIPE;
            break;
        }
        r = -ENOTCONN;
    }
    rt__fd_close(dir);
    free(jl);
    return r;
}

static int message(enum rt_cmd cmd, const char *name, const char *rtype)
{
    size_t rlen;
    unsigned flags;
    int t;
    if (name == NULL || rtype == NULL || name[0] == '\0' ||
        (t = rt__rtypes_lookup(rtype, &rlen, &flags)) < 0) {
        return -EINVAL;
    }
    if ((flags & RT_RTYPE_PROBE_ONLY) ||
        ((flags & RT_RTYPE_ABSPATH) && name[0] != '/')) {
        return -EINVAL;
    }
    char buf[RT_MSG_MAX];
    ssize_t len = rt__wire_encode_cstr(buf, cmd, name, rtype, rlen);
    if (len < 0) {
        return (int)len;
    }
    if (atomic_load_explicit(&handle.fd, memory_order_acquire) < 0) {
        int r = ensure();
        if (r < 0) {
            return r;
        }
    }
    uint64_t accept =
        atomic_load_explicit(&handle.accept, memory_order_acquire);
    if (!readable_by(accept, t, name)) {
        return -EINVAL;
    }
    if (cmd == RT_CMD_FORGET && (accept & ACCEPT_FOREIGN)) {
        /* A tracker not ours knows only UNREGISTER. */
        len = rt__wire_encode_cstr(buf, RT_CMD_UNREGISTER, name, rtype, rlen);
        if (len < 0) {
            return (int)len;
        }
    }
    if (flags & RT_RTYPE_ABSPATH) {
        return path_message(cmd, name, rtype);
    }
    return send_msg(buf, (size_t)len);
}

int rt_ensure_running(void)
{
    int fd = atomic_load_explicit(&handle.fd, memory_order_acquire);
    if (fd >= 0 &&
        !atomic_load_explicit(&handle.check_fds, memory_order_relaxed)) {
        _Atomic uint32_t *alive =
            atomic_load_explicit(&handle.alive, memory_order_acquire);
        if (alive != NULL ? rt__alive_check(alive)
                          : rt__fd_pipe_alive(fd) == 1) {
            return 0;
        }
    }
    return fail(ensure());
}

int rt_register(const char *name, const char *rtype)
{
    return fail(message(RT_CMD_REGISTER, name, rtype));
}

int rt_unregister(const char *name, const char *rtype)
{
    return fail(message(RT_CMD_UNREGISTER, name, rtype));
}

/* What rt_getfd hands out for an adopted public pipe: a close-on-exec copy,
 * made once, so that the caller gets the flag the interface promises while
 * the inherited descriptor keeps crossing exec with the variable. A copy
 * that is no longer the pipe (closed by the host, or its tracker replaced)
 * is left alone, never closed: its number was handed out. Returns the copy
 * or -errno. */
static int getfd_copy(void)
{
    if (rt__fd_is(handle.getfd_copy, handle.b_dev, handle.b_ino)) {
        return handle.getfd_copy;
    }
    int fd = fcntl(handle.b_w, F_DUPFD_CLOEXEC, 3);
    if (fd < 0) {
        return errno == EINVAL ? -EMFILE : -errno;
    }
    handle.getfd_copy = rt__fd_move_high(fd);
    return handle.getfd_copy;
}

/* The public pipe's write end once the tracker runs: for rt_getfd (COPY),
 * close-on-exec, which an adopted descriptor is not; for exec'ed children,
 * the descriptor itself. Returns it or -errno. */
static int public_fd(int copy)
{
    if (rt_ensure_running() < 0) {
        return -errno;
    }
    int cs = lock();
    int fd = handle.b_w;
    if (fd < 0) {
        fd = -EPIPE; /* another thread lost it since: none to hand out */
    } else if (copy && handle.b_inherited) {
        fd = getfd_copy();
    }
    unlock(cs);
    return fd;
}

int rt_getfd(void)
{
    return fail(public_fd(1));
}

int rt_setfd(int fd)
{
    int r = rt__inherit_check(fd);
    if (r < 0) {
        return fail(r);
    }
    int cs = lock();
    /* The descriptor in use already (adopted from RESOURCE_TRACKER_FD,
     * say) is left as it is, its flag included: cleared, it would no
     * longer reach the programs this one execs. */
    int same = fd == handle.b_w && rt__fd_is(fd, handle.b_dev, handle.b_ino);
    r = -handle.atfork_err;
    if (r == 0 && !same) {
        r = rt__fd_set_cloexec(fd, 1);
    }
    /* The previous descriptors, if any, stay open: what this process
     * registered there stays protected until it exits. */
    if (r == 0 && !same) {
        handle.env_checked = 1;
        handle.a_w = handle.a_spare = -1;
        handle.a_dev = handle.a_ino = 0;
        handle.b_w = fd;
        handle.b_inherited = 0;
        identity(fd, &handle.b_dev, &handle.b_ino);
        handle.pid = -1;
        publish_adopted();
    }
    unlock(cs);
    return fail(r);
}

int rt_define_type(const char *rtype, int (*cleanup)(const char *name))
{
    size_t len;
    if (rtype == NULL || cleanup == NULL ||
        !rt__rtypes_valid_name(rtype, &len) ||
        rt__rtypes_find(rtype, len) >= 0) {
        return fail(-EINVAL);
    }
    int cs = lock();
    /* The tracker knows the types it started with: one defined later would
     * be registered with a tracker unable to clean it up. */
    int r = handle.started ? -EBUSY : rt__rtypes_define(rtype, cleanup);
    unlock(cs);
    if (r == -EEXIST) {
        r = -EINVAL; /* defined by a racing thread meanwhile */
    }
    return fail(r < 0 ? r : 0);
}

int rt__client_exec_fd(void)
{
    return public_fd(0);
}

int rt__client_journal_fd(void)
{
    int cs = lock();
    int fd = handle.journal;
    unlock(cs);
    return fd;
}

pid_t rt_tracker_pid(void)
{
    int cs = lock();
    pid_t pid = handle.pid;
    unlock(cs);
    return pid;
}

int rt__client_forget(const char *name, const char *rtype)
{
    return message(RT_CMD_FORGET, name, rtype);
}

int rt__client_identify(const char *name, const char *rtype, dev_t dev,
                        ino_t ino)
{
    size_t rlen;
    unsigned flags;
    if (name == NULL || rtype == NULL ||
        rt__rtypes_lookup(rtype, &rlen, &flags) < 0 ||
        (atomic_load_explicit(&handle.accept, memory_order_acquire) &
         ACCEPT_FOREIGN)) {
        return -EINVAL;
    }
    char buf[RT_MSG_MAX];
    ssize_t len = rt__wire_encode_identify(buf, name, strlen(name), rtype, rlen,
                                           (uint64_t)dev, (uint64_t)ino,
                                           (uint32_t)getpid());
    if (len < 0) {
        return (int)len;
    }
    return send_msg(buf, (size_t)len);
}

/* The kernel kills every process of a PID namespace when its PID 1 exits,
 * the tracker included: a PID 1 that started a tracker has it clean up, and
 * waits for its answer, before it goes. A destructor runs at exit() or a
 * return from main (not at _exit or a fatal signal: a crash of PID 1 is
 * the sweep's), with no registration that could fail. */
__attribute__((destructor)) static void run_pid1_exit(void)
{
    if (!handle.pid1_hook) {
        return;
    }
    int saved = errno;
    static const char req[] = "shutdown\n";
    char reply[64];
    int cs = lock();
    uint64_t dev = handle.b_dev;
    uint64_t ino = handle.b_ino;
    int ours = handle.pid > 0;
    unlock(cs);
    if (ours && getpid() == 1) {
        (void)rt__ctl_call(dev, ino, req, sizeof(req) - 1, NULL, 0, reply,
                           sizeof(reply), NULL);
    }
    errno = saved;
}
