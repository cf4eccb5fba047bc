/* SPDX-License-Identifier: MIT */
/* The rt_* entry points: argument checks, the one tracker handle and its
 * mutex, lazy start, liveness probe, relaunch. Host, MT-safe.
 *
 * Messages take no lock: the descriptor is loaded atomically and each
 * message is one write(2) of at most PIPE_BUF bytes, which the kernel keeps
 * whole. The mutex serialises only starting, adopting and relaunching.
 *
 * For a tracker this process started (or its parent, before fork), the
 * host keeps a spare read end of the pipe, so a write can never raise
 * SIGPIPE, and learns of the tracker's death from its liveness word (a
 * load, see alive.h). For an adopted tracker neither exists: writes use
 * RWF_NOSIGNAL (or a signal mask) and the liveness probe is a poll(2).
 *
 * The descriptor number, once published, is never closed while the process
 * runs: a relaunch moves the new pipe onto the same number (dup3), so a
 * writer racing with it reaches the old tracker or the new one, never a
 * number the host has since reused for something else; and the new
 * tracker's liveness word becomes visible only after that move. */
#include "resourcetracker.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "alive.h"
#include "client.h"
#include "diag.h"
#include "fdio.h"
#include "inherit.h"
#include "launch.h"
#include "rtypes.h"
#include "wire.h"

struct tracker_handle {
    pthread_mutex_t lock;
    /* Written under the lock, read without it. */
    atomic_int fd;                     /* write end, or -1 */
    atomic_uint gen;                   /* bumped whenever fd gets a tracker */
    _Atomic(_Atomic uint32_t *) alive; /* liveness word, or NULL */
    /* Under the lock. */
    pid_t pid;        /* -1: not known (adopted) or none */
    int spare_fd;     /* our read end of the pipe, with a liveness word */
    void *alive_page; /* mapped at the first start, replaced in place */
    int env_checked;  /* RESOURCE_TRACKER_FD is read at the first call only */
    int started;      /* a tracker was started or adopted, ever */
    int exec_broken;  /* the image cannot be exec'ed here: fork path */
    int atfork_err;
    struct rt_launch inflight;
};

static struct tracker_handle handle = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .fd = -1,
    .gen = 0,
    .alive = NULL,
    .pid = -1,
    .spare_fd = -1,
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

static void publish(int fd, pid_t pid, _Atomic uint32_t *alive)
{
    handle.pid = pid;
    handle.started = 1;
    atomic_store_explicit(&handle.fd, fd, memory_order_release);
    atomic_store_explicit(&handle.alive, alive, memory_order_release);
    atomic_fetch_add_explicit(&handle.gen, 1, memory_order_release);
}

/* Whether the tracker on FD runs: its liveness word if it has one (ALIVE),
 * else a poll of the pipe. 1 yes, 0 no, -EBADF when FD is not open. */
static int tracker_alive(int fd, _Atomic uint32_t *alive)
{
    return alive != NULL ? rt__alive_check(alive) : rt__fd_pipe_alive(fd);
}

/* Starts a tracker. KEEP >= 0 is the number of a dead tracker's pipe that
 * this process still owns: the new pipe takes that number. */
static int start_locked(int keep)
{
    struct rt_started st;
    int r = rt__launch(&handle.inflight, &handle.exec_broken, &st);
    if (r < 0) {
        return r;
    }
    if (keep >= 0) {
        r = rt__fd_move_onto(st.fd, keep);
        if (r < 0) {
            /* The new tracker sees EOF and exits, having nothing. */
            rt__fd_close(st.fd);
            rt__fd_close(st.spare_fd);
            rt__alive_free(st.alive_page);
            return r;
        }
        st.fd = keep;
    }
    _Atomic uint32_t *alive = NULL;
    if (st.alive_page != NULL &&
        rt__alive_install(&handle.alive_page, st.alive_page) == 0) {
        alive = rt__alive_word(handle.alive_page);
    } else {
        /* No liveness word: death shows as EPIPE, so no spare reader. */
        st.spare_fd = rt__fd_close(st.spare_fd);
    }
    /* The old spare read end belongs to a dead pipe nobody writes to now. */
    rt__fd_close(handle.spare_fd);
    handle.spare_fd = st.spare_fd;
    publish(st.fd, st.pid, alive);
    return 0;
}

static int ensure_locked(void)
{
    if (handle.atfork_err != 0) {
        return -handle.atfork_err;
    }
    int fd = atomic_load_explicit(&handle.fd, memory_order_relaxed);
    if (fd >= 0) {
        int alive = tracker_alive(fd, atomic_load(&handle.alive));
        if (alive == 1) {
            return 0;
        }
        /* bpo-31310: a tracker killed under us is replaced; what it held
         * is lost, and the user is told, once the new one runs. */
        rt__launch_reap(handle.pid);
        int r = start_locked(alive == 0 ? fd : -1);
        if (r == 0) {
            rt__diag_relaunch();
        }
        return r;
    }
    if (!handle.env_checked) {
        handle.env_checked = 1;
        int inherited = rt__inherit_from_env();
        if (inherited >= 0 && rt__fd_set_cloexec(inherited, 1) == 0) {
            publish(inherited, -1, NULL);
            return 0;
        }
    }
    return start_locked(-1);
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

static int send_msg(const char *msg, size_t len)
{
    for (int attempt = 0;; attempt++) {
        unsigned gen = atomic_load_explicit(&handle.gen, memory_order_acquire);
        int fd = atomic_load_explicit(&handle.fd, memory_order_acquire);
        _Atomic uint32_t *alive =
            atomic_load_explicit(&handle.alive, memory_order_acquire);
        int r = -EPIPE;
        if (fd >= 0 && alive != NULL) {
            /* Our spare reader keeps the pipe open: no SIGPIPE possible. A
             * tracker dying right after the check takes this message with
             * it, as it takes everything it held. */
            if (rt__alive_check(alive)) {
                r = rt__fd_write_plain(fd, msg, len);
            }
        } else if (fd >= 0) {
            r = rt__fd_write_msg(fd, msg, len);
        }
        if (r == 0 || (r != -EPIPE && r != -EBADF) || attempt == 2) {
            return r;
        }
        r = recover(gen);
        if (r < 0) {
            return r;
        }
    }
}

static int message(enum rt_cmd cmd, const char *name, const char *rtype)
{
    size_t rlen;
    unsigned flags;
    if (name == NULL || rtype == NULL || name[0] == '\0' ||
        rt__rtypes_lookup(rtype, &rlen, &flags) < 0) {
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
    return send_msg(buf, (size_t)len);
}

int rt_ensure_running(void)
{
    int fd = atomic_load_explicit(&handle.fd, memory_order_acquire);
    if (fd >= 0 &&
        tracker_alive(fd, atomic_load_explicit(&handle.alive,
                                               memory_order_acquire)) == 1) {
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
    int cs = lock();
    r = -handle.atfork_err;
    if (r == 0) {
        r = rt__fd_set_cloexec(fd, 1);
    }
    /* The previous write end, if any, stays open: what this process
     * registered there stays protected until it exits. */
    if (r == 0 &&
        atomic_load_explicit(&handle.fd, memory_order_relaxed) != fd) {
        handle.env_checked = 1;
        publish(fd, -1, NULL);
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

pid_t rt_tracker_pid(void)
{
    int cs = lock();
    pid_t pid = handle.pid;
    unlock(cs);
    return pid;
}

int rt__client_identify(const char *name, const char *rtype, dev_t dev,
                        ino_t ino)
{
    /* Filled in with the journal (issue 11). */
    (void)name;
    (void)rtype;
    (void)dev;
    (void)ino;
    return 0;
}
