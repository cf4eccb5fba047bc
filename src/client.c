/* SPDX-License-Identifier: MIT */
/* The rt_* entry points: argument checks, the one tracker handle and its
 * mutex, lazy start, liveness probe, relaunch. Host, MT-safe.
 *
 * Messages take no lock: the descriptor is loaded atomically and each
 * message is one write(2) of at most PIPE_BUF bytes, which the kernel keeps
 * whole. The mutex serialises only starting, adopting and relaunching. The
 * descriptor number, once published, is never closed while the process runs:
 * a relaunch moves the new pipe onto the same number (dup3), so a writer
 * racing with it reaches the old tracker (EPIPE, retried) or the new one,
 * never a number the host has since reused for something else. */
#include "resourcetracker.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "diag.h"
#include "fdio.h"
#include "inherit.h"
#include "launch.h"
#include "rtypes.h"
#include "wire.h"

struct tracker_handle {
    pthread_mutex_t lock;
    pthread_once_t atfork_once;
    /* Written under the lock, read without it. */
    atomic_int fd;     /* write end, or -1 */
    atomic_uint gen;   /* bumped whenever fd gets a new tracker */
    /* Under the lock. */
    pid_t pid;         /* -1: not known (adopted) or none */
    int env_checked;   /* RESOURCE_TRACKER_FD is read at the first call only */
    int started;       /* a tracker was started or adopted, ever */
    int exec_broken;   /* the image cannot be exec'ed here: fork path */
    int atfork_err;
    struct rt_launch inflight;
};

static struct tracker_handle handle = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .atfork_once = PTHREAD_ONCE_INIT,
    .fd = -1,
    .gen = 0,
    .pid = -1,
    .inflight = RT_LAUNCH_INIT,
};

/* Child-only: a prepare handler taking the mutex would deadlock the fork
 * path, which forks while holding it. A start that was under way in another
 * thread is dropped: its descriptors are closed so the child does not keep
 * the new pipe open, and the child sees the handle as it was before. */
static void atfork_child(void)
{
    static const pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    memcpy(&handle.lock, &fresh, sizeof(fresh));
    rt__launch_abandon(&handle.inflight);
}

static void register_atfork(void)
{
    handle.atfork_err = pthread_atfork(NULL, NULL, atfork_child);
}

static int fail(int r)
{
    if (r < 0) {
        errno = -r;
        return -1;
    }
    return r;
}

static void publish(int fd, pid_t pid)
{
    handle.pid = pid;
    handle.started = 1;
    atomic_store_explicit(&handle.fd, fd, memory_order_release);
    atomic_fetch_add_explicit(&handle.gen, 1, memory_order_release);
}

/* Starts a tracker. KEEP >= 0 is the number of a dead tracker's pipe that
 * this process still owns: the new pipe takes that number. */
static int start_locked(int keep)
{
    int fd;
    pid_t pid;
    int r = rt__launch(&handle.inflight, &handle.exec_broken, &fd, &pid);
    if (r < 0) {
        return r;
    }
    if (keep >= 0) {
        r = rt__fd_move_onto(fd, keep);
        if (r < 0) {
            /* The new tracker sees EOF and exits, having nothing. */
            rt__fd_close(fd);
            return r;
        }
        fd = keep;
    }
    publish(fd, pid);
    return 0;
}

static int ensure_locked(void)
{
    (void)pthread_once(&handle.atfork_once, register_atfork);
    if (handle.atfork_err != 0) {
        return -handle.atfork_err;
    }
    int fd = atomic_load_explicit(&handle.fd, memory_order_relaxed);
    if (fd >= 0) {
        int alive = rt__fd_pipe_alive(fd);
        if (alive == 1) {
            return 0;
        }
        /* bpo-31310: a tracker killed under us is replaced; what it held
         * is lost, and the user is told. */
        rt__diag_relaunch();
        rt__launch_reap(handle.pid);
        return start_locked(alive == 0 ? fd : -1);
    }
    if (!handle.env_checked) {
        handle.env_checked = 1;
        int inherited = rt__inherit_from_env();
        if (inherited >= 0 && rt__fd_set_cloexec(inherited, 1) == 0) {
            publish(inherited, -1);
            return 0;
        }
    }
    return start_locked(-1);
}

static int ensure(void)
{
    (void)pthread_mutex_lock(&handle.lock);
    int r = ensure_locked();
    (void)pthread_mutex_unlock(&handle.lock);
    return r;
}

/* After a failed write: relaunch, unless another thread already did since
 * we loaded the descriptor. */
static int recover(unsigned seen_gen)
{
    (void)pthread_mutex_lock(&handle.lock);
    int r = 0;
    if (atomic_load_explicit(&handle.gen, memory_order_relaxed) == seen_gen) {
        r = ensure_locked();
    }
    (void)pthread_mutex_unlock(&handle.lock);
    return r;
}

static int send_msg(const char *msg, size_t len)
{
    for (int attempt = 0;; attempt++) {
        unsigned gen = atomic_load_explicit(&handle.gen, memory_order_acquire);
        int fd = atomic_load_explicit(&handle.fd, memory_order_acquire);
        if (fd >= 0) {
            int r = rt__fd_write_msg(fd, msg, len);
            if (r == 0 || (r != -EPIPE && r != -EBADF) || attempt == 2) {
                return r;
            }
        }
        int r = recover(gen);
        if (r < 0) {
            return r;
        }
    }
}

static int message(enum rt_cmd cmd, const char *name, const char *rtype)
{
    size_t rlen;
    if (name == NULL || rtype == NULL || name[0] == '\0' ||
        !rt__rtypes_valid_name(rtype, &rlen)) {
        return -EINVAL;
    }
    int t = rt__rtypes_find(rtype, rlen);
    if (t < 0) {
        return -EINVAL;
    }
    unsigned flags = rt__rtypes_get((unsigned)t)->flags;
    if ((flags & RT_RTYPE_PROBE_ONLY) ||
        ((flags & RT_RTYPE_ABSPATH) && name[0] != '/')) {
        return -EINVAL;
    }
    char buf[RT_MSG_MAX];
    ssize_t len = rt__wire_encode(buf, cmd, name, strnlen(name, RT_MSG_MAX + 1),
                                  rtype, rlen);
    if (len < 0) {
        return (int)len;
    }
    return send_msg(buf, (size_t)len);
}

int rt_ensure_running(void)
{
    int fd = atomic_load_explicit(&handle.fd, memory_order_acquire);
    if (fd >= 0 && rt__fd_pipe_alive(fd) == 1) {
        return 0;
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

int rt_getfd(void)
{
    if (rt_ensure_running() < 0) {
        return -1;
    }
    return atomic_load_explicit(&handle.fd, memory_order_acquire);
}

int rt_setfd(int fd)
{
    int r = rt__inherit_check(fd);
    if (r < 0) {
        return fail(r);
    }
    (void)pthread_mutex_lock(&handle.lock);
    (void)pthread_once(&handle.atfork_once, register_atfork);
    r = -handle.atfork_err;
    if (r == 0) {
        r = rt__fd_set_cloexec(fd, 1);
    }
    /* The previous write end, if any, stays open: what this process
     * registered there stays protected until it exits. */
    if (r == 0 && atomic_load_explicit(&handle.fd, memory_order_relaxed) != fd) {
        handle.env_checked = 1;
        publish(fd, -1);
    }
    (void)pthread_mutex_unlock(&handle.lock);
    return fail(r);
}

int rt_define_type(const char *rtype, int (*cleanup)(const char *name))
{
    size_t len;
    if (rtype == NULL || cleanup == NULL || !rt__rtypes_valid_name(rtype, &len) ||
        rt__rtypes_find(rtype, len) >= 0) {
        return fail(-EINVAL);
    }
    (void)pthread_mutex_lock(&handle.lock);
    /* The tracker knows the types it started with: one defined later would
     * be registered with a tracker unable to clean it up. */
    int r = handle.started ? -EBUSY : rt__rtypes_define(rtype, cleanup);
    (void)pthread_mutex_unlock(&handle.lock);
    if (r == -EEXIST) {
        r = -EINVAL; /* defined by a racing thread meanwhile */
    }
    return fail(r < 0 ? r : 0);
}

pid_t rt_tracker_pid(void)
{
    (void)pthread_mutex_lock(&handle.lock);
    pid_t pid = handle.pid;
    (void)pthread_mutex_unlock(&handle.lock);
    return pid;
}
