/* SPDX-License-Identifier: MIT */
/* rt_shm_open/unlink, rt_sem_open/unlink, rt_mq_open/unlink: the POSIX
 * calls, tracking exactly what they create. Host, MT-safe.
 *
 * Why register before create. Created first and registered second, an
 * object would be unknown to the tracker for the instant between the two
 * calls, and a SIGKILL there would leak it: the one thing the library is
 * for. Registered first, a SIGKILL before the creation leaves only a name
 * the tracker will find gone (a warning, nothing lost). The cost is that for
 * that instant the tracker holds a name we do not own yet; if the creation
 * then fails because the name exists, the registration is withdrawn at
 * once, and a check that the name is free comes before the registration, so
 * only a creator racing us for the same name in that microsecond, together
 * with a SIGKILL of ours before the withdrawal, could make the tracker
 * unlink someone else's object.
 *
 * Why unlink before unregister. Unregistered first, a SIGKILL before the
 * unlink would leak the object. Unlinked first, a SIGKILL before the
 * unregister leaves the tracker a name that is gone.
 *
 * No libc call here that a preload shim interposes is made with O_CREAT or
 * to unlink: objects are created and removed through rawipc.h, so a shim
 * that sends shm_open, sem_open, mq_open and the unlinks to these wrappers
 * never sees them called back (no recursion, nothing tracked twice). Only
 * sem_open(NAME, 0) remains, to map a semaphore that exists.
 *
 * The identity (device, inode) of each object created is handed to
 * rt__client_identify right after its creation, and of nothing else. */
#include "resourcetracker.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<sys/random.h>)
#include <sys/random.h>
#define HAVE_GETRANDOM 1
#endif
#endif

#include "client.h"
#include "rawipc.h"

/* How often to retry when the object keeps appearing and vanishing between
 * our open and our create (another process creating and unlinking it). */
#define RACE_RETRIES 64

/* The device and inode of an object just created; KNOWN is 0 where they
 * could not be read. */
struct ident {
    dev_t dev;
    ino_t ino;
    int known;
};

/* One kind of object: how to open one that exists, how to create one
 * exclusively (and say what it created), how to give back what an open
 * got. */
struct kind {
    const char *rtype;
    /* 0 with *ret set, or -1 with errno. */
    int (*open_existing)(const char *name, int oflag, void *ret);
    int (*create)(const char *name, int oflag, const void *args, void *ret,
                  struct ident *ret_id);
    void (*release)(void *ret);
};

/* Reads the identity of the object open on FD into *ID. */
static void ident_of(int fd, struct ident *id)
{
    struct stat st;
    if (fstat(fd, &st) == 0) {
        *id = (struct ident){st.st_dev, st.st_ino, 1};
    }
}

/* The calls that create and remove return -errno (rawipc.h); the kinds'
 * functions return -1 with errno. */
static int errno_result(int r)
{
    if (r < 0) {
        errno = -r;
        return -1;
    }
    return 0;
}

/* For plain O_CREAT: attaches if NAME exists (returns 1), says it does not
 * (0), or fails (-1). For O_EXCL: fails with EEXIST if NAME exists, else
 * returns 0; the probe opens read-only, without O_TRUNC, and gives back
 * what it opened, so someone else's object is left exactly as it was. */
static int probe(const struct kind *k, const char *name, int oflag, void *ret)
{
    int excl = (oflag & O_EXCL) != 0;
    int r = k->open_existing(name, excl ? O_RDONLY : oflag & ~O_CREAT, ret);
    if (r == 0 && !excl) {
        return 1;
    }
    if (r == 0) {
        k->release(ret);
    }
    if (r == 0 || (excl && errno == EACCES)) {
        errno = EEXIST;
        return -1;
    }
    return errno == ENOENT ? 0 : -1;
}

/* Registers NAME, creates it, and withdraws the registration if that
 * fails: 0 (created), 1 (it exists: O_CREAT alone goes round again), -1. */
static int create_registered(const struct kind *k, const char *name, int oflag,
                             const void *args, void *ret)
{
    if (rt_register(name, k->rtype) < 0) {
        return -1;
    }
    struct ident id = {0, 0, 0};
    if (k->create(name, oflag | O_EXCL, args, ret, &id) == 0) {
        if (id.known) {
            /* Best effort by design: the object is made either way. */
            (void)rt__client_identify(name, k->rtype, id.dev, id.ino);
        }
        return 0;
    }
    int err = errno;
    /* Nothing was created (or it was removed again): withdraw at once. */
    (void)rt_unregister(name, k->rtype);
    errno = err;
    /* With O_CREAT alone, another process created it between our probe and
     * our create: go round and attach to theirs, untracked. */
    return err == EEXIST && !(oflag & O_EXCL) ? 1 : -1;
}

/* Opens or creates NAME per OFLAG, registering what it creates. */
static int open_or_create(const struct kind *k, const char *name, int oflag,
                          const void *args, void *ret)
{
    if (!(oflag & O_CREAT)) {
        return k->open_existing(name, oflag, ret);
    }
    for (int tries = 0; tries < RACE_RETRIES; tries++) {
        int r = probe(k, name, oflag, ret);
        if (r != 0) {
            return r > 0 ? 0 : -1;
        }
        r = create_registered(k, name, oflag, args, ret);
        if (r <= 0) {
            return r;
        }
    }
    errno = EAGAIN;
    return -1;
}

static int open_tracked(const struct kind *k, const char *name, int oflag,
                        const void *args, void *ret)
{
    if (name == NULL) {
        errno = EINVAL;
        return -1;
    }
    /* No cancellation point, as libc's shm_open and sem_open: a thread
     * cancelled in open(2) would leave a descriptor or a registration
     * behind. */
    int cs;
    (void)pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cs);
    int r = open_or_create(k, name, oflag, args, ret);
    int err = errno;
    (void)pthread_setcancelstate(cs, NULL);
    errno = err;
    return r;
}

static int unlink_tracked(const char *rtype, int (*unlink_fn)(const char *),
                          const char *name)
{
    if (name == NULL) {
        errno = EINVAL;
        return -1;
    }
    int cs;
    (void)pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cs);
    int saved = errno;
    int r = unlink_fn(name);
    if (r == 0) {
        /* The object is gone; if the tracker cannot be told, it will find
         * the name gone at shutdown and say so. Quietly: the object may
         * have been someone else's, never registered (nothing wrong). */
        (void)rt__client_forget(name, rtype);
    }
    (void)pthread_setcancelstate(cs, NULL);
    errno = saved;
    return errno_result(r);
}

/* ---- shared memory ---- */

static int shm_open_existing(const char *name, int oflag, void *ret)
{
    int fd = rt__raw_shm_open(name, oflag, 0);
    if (fd < 0) {
        return errno_result(fd);
    }
    *(int *)ret = fd;
    return 0;
}

static void shm_release(void *ret)
{
    int saved = errno;
    (void)close(*(int *)ret);
    errno = saved;
}

static int shm_create(const char *name, int oflag, const void *args, void *ret,
                      struct ident *ret_id)
{
    int fd = rt__raw_shm_open(name, oflag, *(const mode_t *)args);
    if (fd < 0) {
        return errno_result(fd);
    }
    ident_of(fd, ret_id);
    *(int *)ret = fd;
    return 0;
}

static const struct kind shm_kind = {RT_SHARED_MEMORY, shm_open_existing,
                                     shm_create, shm_release};

int rt_shm_open(const char *name, int oflag, mode_t mode)
{
    int fd = -1;
    if (open_tracked(&shm_kind, name, oflag, &mode, &fd) < 0) {
        return -1;
    }
    return fd;
}

int rt_shm_unlink(const char *name)
{
    return unlink_tracked(RT_SHARED_MEMORY, rt__raw_shm_unlink, name);
}

/* ---- semaphores ---- */

struct sem_args {
    mode_t mode;
    unsigned value;
};

static int sem_open_existing(const char *name, int oflag, void *ret)
{
    sem_t **sem = ret;
    /* sem_open takes no access mode: O_CREAT and O_EXCL only (never
     * O_CREAT here: see probe). */
    *sem = sem_open(name, oflag & (O_CREAT | O_EXCL));
    return *sem == SEM_FAILED ? -1 : 0;
}

static void sem_release(void *ret)
{
    int saved = errno;
    (void)sem_close(*(sem_t **)ret);
    errno = saved;
}

#ifdef RT_RAW_IPC
/* Creating a named semaphore, glibc and musl write it under a temporary
 * name in /dev/shm and link() that into place, so that nobody ever opens
 * it half made. Killed between the two, the process leaks the temporary
 * file, under a name no tracker can know. So the wrapper does the same
 * steps itself, with a temporary name it registers first: a SIGKILL at any
 * instant leaves nothing the tracker does not know. The semaphore is then
 * opened with sem_open as any existing one. */

/* "/rt-tmp-" and 16 hex digits: 64 bits nobody can guess, so that no file
 * planted in /dev/shm (another user, another PID namespace sharing it) can
 * make a creation fail, and a name collision is the rare case of a retry. */
#define TMP_NAME_LEN 32
/* Temporary names tried before giving up with EAGAIN (glibc tries 50). */
#define TMP_TRIES 16

/* A 64-bit mixer (splitmix64's finaliser): every input bit moves about
 * half of the output bits. */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x *= UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

/* 64 unpredictable bits: getrandom(2) where the system has it (without
 * blocking: never wait for entropy at boot), else a mix of what another
 * process cannot read: both clocks to the nanosecond, our pid, a counter
 * and addresses placed by ASLR. */
static uint64_t tmp_bits(void)
{
    static atomic_uint serial;
    uint64_t bits = 0;
#ifdef HAVE_GETRANDOM
    if (getrandom(&bits, sizeof(bits), GRND_NONBLOCK) ==
        (ssize_t)sizeof(bits)) {
        return bits;
    }
#endif
    struct timespec mono = {0, 0};
    struct timespec real = {0, 0};
    (void)clock_gettime(CLOCK_MONOTONIC, &mono);
    (void)clock_gettime(CLOCK_REALTIME, &real);
    bits = mix64((uint64_t)mono.tv_sec * 1000000000u + (uint64_t)mono.tv_nsec);
    bits = mix64(
        bits ^ ((uint64_t)real.tv_sec * 1000000000u + (uint64_t)real.tv_nsec));
    bits =
        mix64(bits ^ ((uint64_t)getpid() << 32) ^ atomic_fetch_add(&serial, 1));
    bits = mix64(bits ^ (uint64_t)(uintptr_t)&bits);
    return mix64(bits ^ (uint64_t)(uintptr_t)&serial);
}

/* Creates the file of a new semaphore under a fresh temporary name, that
 * name registered first. Returns the open descriptor, with the name in
 * RET_NAME (TMP_NAME_LEN bytes) and the path in RET_PATH
 * (RT_RAW_PATH_MAX), or -errno. A name found taken belongs to someone
 * else: never removed, never kept registered; another is tried. */
static int tmp_create(mode_t mode, char *ret_name, char *ret_path)
{
#ifdef RT_MUSL
    mode &= 0666; /* as musl's sem_open */
#endif
    for (int tries = 0; tries < TMP_TRIES; tries++) {
        snprintf(ret_name, TMP_NAME_LEN, "/rt-tmp-%016llx",
                 (unsigned long long)tmp_bits());
        int r = rt__raw_sem_path(ret_name, ret_path, RT_RAW_PATH_MAX);
        if (r < 0) {
            return r;
        }
        struct stat st;
        if (lstat(ret_path, &st) == 0) {
            continue; /* taken: not even registered */
        }
        if (rt_register(ret_name, RT_SEMAPHORE) < 0) {
            return -errno;
        }
        int fd = open(ret_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        if (fd >= 0) {
            return fd;
        }
        int err = errno;
        (void)rt_unregister(ret_name, RT_SEMAPHORE);
        if (err != EEXIST) {
            return -err;
        }
    }
    return -EAGAIN;
}

/* Writes a new process-shared semaphore of VALUE into the empty file FD
 * with write(2), as glibc does, and reads its identity. Stored through a
 * mapping of the file instead, it would kill us with SIGBUS when /dev/shm
 * is full; write(2) says ENOSPC. The bytes of a process-shared semaphore
 * hold no address (glibc: the value and a futex flag word; musl: the value,
 * a waiter count and a flag), so one built here works wherever the file is
 * mapped; the bytes sem_init leaves alone are zero. tests/test-wrappers.c
 * compares them with sem_open's. */
static int sem_fill(int fd, unsigned value, struct ident *ret_id)
{
    sem_t sem;
    memset(&sem, 0, sizeof(sem));
    if (sem_init(&sem, 1, value) < 0) {
        return -errno;
    }
    const char *p = (const char *)&sem;
    size_t left = sizeof(sem);
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return n < 0 ? -errno : -EIO;
        }
        p += n;
        left -= (size_t)n;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        return -errno;
    }
    *ret_id = (struct ident){st.st_dev, st.st_ino, 1};
    return 0;
}

/* Writes the semaphore under a temporary name and links it to FINAL. 0 or
 * -errno; the temporary file is gone and unregistered either way. */
static int sem_link_new(const char *final, mode_t mode, unsigned value,
                        struct ident *ret_id)
{
    char tmp_name[TMP_NAME_LEN];
    char tmp[RT_RAW_PATH_MAX];
    int fd = tmp_create(mode, tmp_name, tmp);
    if (fd < 0) {
        return fd;
    }
    int r = sem_fill(fd, value, ret_id);
    if (r == 0 && link(tmp, final) < 0) {
        r = -errno;
    }
    (void)close(fd);
    /* Our own file, made by the O_EXCL open above: FINAL, if linked, keeps
     * the semaphore. Unlinked before it is unregistered, as any object. */
    (void)unlink(tmp);
    (void)rt_unregister(tmp_name, RT_SEMAPHORE);
    return r;
}

static int sem_create(const char *name, int oflag, const void *args, void *ret,
                      struct ident *ret_id)
{
    (void)oflag; /* always O_CREAT | O_EXCL: link(2) never replaces */
    const struct sem_args *a = args;
    char final[RT_RAW_PATH_MAX];
    int r = rt__raw_sem_path(name, final, sizeof(final));
    if (r == 0 && a->value > SEM_VALUE_MAX) {
        r = -EINVAL; /* before any file is made, as sem_open */
    }
    if (r == 0) {
        r = sem_link_new(final, a->mode, a->value, ret_id);
    }
    if (r < 0) {
        return errno_result(r);
    }
    sem_t **sem = ret;
    *sem = sem_open(name, 0);
    if (*sem == SEM_FAILED) {
        /* Ours but unusable (out of memory or mappings): removed, so the
         * caller's failure leaves nothing; then the registration goes. */
        int err = errno;
        (void)rt__raw_sem_unlink(name);
        errno = err;
        return -1;
    }
    return 0;
}
#else
/* Another libc: its sem_open creates (no preload shim runs here), and the
 * identity is not known. */
static int sem_create(const char *name, int oflag, const void *args, void *ret,
                      struct ident *ret_id)
{
    (void)ret_id;
    const struct sem_args *a = args;
    sem_t **sem = ret;
    *sem = sem_open(name, oflag, a->mode, a->value);
    return *sem == SEM_FAILED ? -1 : 0;
}
#endif

static const struct kind sem_kind = {RT_SEMAPHORE, sem_open_existing,
                                     sem_create, sem_release};

sem_t *rt_sem_open(const char *name, int oflag, ...)
{
    struct sem_args a = {0, 0};
    if (oflag & O_CREAT) {
        va_list ap;
        va_start(ap, oflag);
        /* mode_t and unsigned are promoted to int-sized arguments. */
        /* clang 14's analyzer loses the va_start right above (a false
         * valist.Uninitialized), hence the NOLINTs. */
        a.mode = (mode_t)va_arg(ap, unsigned); /* NOLINT */
        a.value = va_arg(ap, unsigned);        /* NOLINT: see above */
        va_end(ap);
    }
    sem_t *sem = SEM_FAILED;
    if (open_tracked(&sem_kind, name, oflag, &a, &sem) < 0) {
        return SEM_FAILED;
    }
    return sem;
}

int rt_sem_unlink(const char *name)
{
    return unlink_tracked(RT_SEMAPHORE, rt__raw_sem_unlink, name);
}

/* ---- message queues ---- */

#ifdef RT_HAVE_MQUEUE
struct mq_args {
    mode_t mode;
    struct mq_attr *attr;
};

/* Opens (and with O_CREAT creates) NAME: 0 with *MQ set, or -1 with
 * errno. Through the system call on Linux (rawipc.h). */
static int mq_do_open(const char *name, int oflag, const struct mq_args *a,
                      mqd_t *mq)
{
#if defined(__linux__)
    int fd = rt__raw_mq_open(name, oflag, a->mode, a->attr);
    if (fd < 0) {
        return errno_result(fd);
    }
    *mq = (mqd_t)fd;
#else
    *mq = mq_open(name, oflag, a->mode, a->attr);
    if (*mq == (mqd_t)-1) {
        return -1;
    }
#endif
    return 0;
}

static int mq_open_existing(const char *name, int oflag, void *ret)
{
    const struct mq_args none = {0, NULL};
    return mq_do_open(name, oflag, &none, ret);
}

static void mq_release(void *ret)
{
    int saved = errno;
    (void)mq_close(*(mqd_t *)ret);
    errno = saved;
}

static int mq_create(const char *name, int oflag, const void *args, void *ret,
                     struct ident *ret_id)
{
    if (mq_do_open(name, oflag, args, ret) < 0) {
        return -1;
    }
#if defined(__linux__)
    /* A message queue descriptor is a file of the mqueue file system. */
    ident_of((int)*(mqd_t *)ret, ret_id);
#else
    (void)ret_id;
#endif
    return 0;
}

static const struct kind mq_kind = {RT_MQUEUE, mq_open_existing, mq_create,
                                    mq_release};

mqd_t rt_mq_open(const char *name, int oflag, ...)
{
    struct mq_args a = {0, NULL};
    if (oflag & O_CREAT) {
        va_list ap;
        va_start(ap, oflag);
        /* As in rt_sem_open, a false analyzer report. */
        a.mode = (mode_t)va_arg(ap, unsigned); /* NOLINT */
        a.attr = va_arg(ap, struct mq_attr *); /* NOLINT: see above */
        va_end(ap);
    }
    mqd_t mq = (mqd_t)-1;
    if (open_tracked(&mq_kind, name, oflag, &a, &mq) < 0) {
        return (mqd_t)-1;
    }
    return mq;
}

int rt_mq_unlink(const char *name)
{
    return unlink_tracked(RT_MQUEUE, rt__raw_mq_unlink, name);
}
#endif
