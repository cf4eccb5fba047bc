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
 * unregister leaves the tracker a name that is gone. */
#include "resourcetracker.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* How often to retry when the object keeps appearing and vanishing between
 * our open and our create (another process creating and unlinking it). */
#define RACE_RETRIES 64

/* One kind of object: how to open one that exists, how to create one
 * exclusively, how to give back what an open got. */
struct kind {
    const char *rtype;
    /* 0 with *ret set, or -1 with errno. */
    int (*open_existing)(const char *name, int oflag, void *ret);
    int (*create)(const char *name, int oflag, const void *args, void *ret);
    void (*release)(void *ret);
};

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

/* Opens or creates NAME per OFLAG, registering what it creates. */
static int open_tracked(const struct kind *k, const char *name, int oflag,
                        const void *args, void *ret)
{
    if (name == NULL) {
        errno = EINVAL;
        return -1;
    }
    if (!(oflag & O_CREAT)) {
        return k->open_existing(name, oflag, ret);
    }
    for (int tries = 0; tries < RACE_RETRIES; tries++) {
        int r = probe(k, name, oflag, ret);
        if (r != 0) {
            return r > 0 ? 0 : -1;
        }
        if (rt_register(name, k->rtype) < 0) {
            return -1;
        }
        if (k->create(name, oflag | O_EXCL, args, ret) == 0) {
            return 0;
        }
        int err = errno;
        /* Nothing was created: withdraw at once. */
        (void)rt_unregister(name, k->rtype);
        errno = err;
        if (err != EEXIST || (oflag & O_EXCL)) {
            return -1;
        }
        /* Another process created it between our probe and our create:
         * go round and attach to theirs, untracked. */
    }
    errno = EAGAIN;
    return -1;
}

static int unlink_tracked(const char *rtype, int (*unlink_fn)(const char *),
                          const char *name)
{
    if (name == NULL) {
        errno = EINVAL;
        return -1;
    }
    if (unlink_fn(name) < 0) {
        return -1;
    }
    int saved = errno;
    /* The object is gone; if the tracker cannot be told, it will find the
     * name gone at shutdown and say so. */
    (void)rt_unregister(name, rtype);
    errno = saved;
    return 0;
}

/* ---- shared memory ---- */

static int shm_open_existing(const char *name, int oflag, void *ret)
{
    int *fd = ret;
    *fd = shm_open(name, oflag, 0);
    return *fd < 0 ? -1 : 0;
}

static void shm_release(void *ret)
{
    int saved = errno;
    (void)close(*(int *)ret);
    errno = saved;
}

static int shm_create(const char *name, int oflag, const void *args, void *ret)
{
    int *fd = ret;
    *fd = shm_open(name, oflag, *(const mode_t *)args);
    return *fd < 0 ? -1 : 0;
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
    return unlink_tracked(RT_SHARED_MEMORY, shm_unlink, name);
}

/* ---- semaphores ---- */

struct sem_args {
    mode_t mode;
    unsigned value;
};

static int sem_open_existing(const char *name, int oflag, void *ret)
{
    sem_t **sem = ret;
    /* sem_open takes no access mode: O_CREAT and O_EXCL only. */
    *sem = sem_open(name, oflag & (O_CREAT | O_EXCL));
    return *sem == SEM_FAILED ? -1 : 0;
}

static void sem_release(void *ret)
{
    int saved = errno;
    (void)sem_close(*(sem_t **)ret);
    errno = saved;
}

static int sem_create_plain(const char *name, int oflag, const void *args,
                            void *ret)
{
    const struct sem_args *a = args;
    sem_t **sem = ret;
    *sem = sem_open(name, oflag, a->mode, a->value);
    return *sem == SEM_FAILED ? -1 : 0;
}

/* Creating a named semaphore, glibc and musl write it under a temporary
 * name in /dev/shm and link() that into place, so that nobody ever opens
 * it half made. Killed between the two, the process leaks the temporary
 * file, under a name no tracker can know. So on Linux the wrapper does the
 * same steps itself, with a temporary name it registers first: a SIGKILL
 * at any instant leaves nothing the tracker does not know. The semaphore is
 * then opened with sem_open as any existing one. Names this does not handle
 * (not "/" and one component) go to sem_open, which says why they fail. */
#if defined(__linux__) && (defined(__GLIBC__) || defined(RT_MUSL))
#if defined(__GLIBC__)
#define SEM_DIR "/dev/shm/sem."
#else
#define SEM_DIR "/dev/shm/"
#endif

static atomic_uint sem_serial;

static int sem_path(char *buf, size_t len, const char *name)
{
    int n = snprintf(buf, len, "%s%s", SEM_DIR, name + 1);
    return n > 0 && (size_t)n < len ? 0 : -1;
}

/* Writes a new semaphore of VALUE into the file at PATH (O_EXCL). The
 * caller removes the file, whatever happened. */
static int sem_write(const char *path, mode_t mode, unsigned value)
{
    int fd =
        open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) {
        return -1;
    }
    sem_t *sem = MAP_FAILED;
    int r = ftruncate(fd, sizeof(sem_t));
    if (r == 0) {
        sem = mmap(NULL, sizeof(sem_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                   0);
        r = sem == MAP_FAILED ? -1 : sem_init(sem, 1, value);
    }
    int err = errno;
    if (sem != MAP_FAILED) {
        (void)munmap(sem, sizeof(sem_t));
    }
    (void)close(fd);
    errno = err;
    return r;
}

static int sem_create(const char *name, int oflag, const void *args, void *ret)
{
    const struct sem_args *a = args;
    char final[PATH_MAX];
    if (name[0] != '/' || name[1] == '\0' || strchr(name + 1, '/') != NULL ||
        sem_path(final, sizeof(final), name) < 0) {
        return sem_create_plain(name, oflag, args, ret);
    }
    char tmp_name[64];
    char tmp[PATH_MAX];
    snprintf(tmp_name, sizeof(tmp_name), "/rt-sem-%ld-%u", (long)getpid(),
             atomic_fetch_add(&sem_serial, 1));
    if (sem_path(tmp, sizeof(tmp), tmp_name) < 0) {
        return sem_create_plain(name, oflag, args, ret);
    }
    if (rt_register(tmp_name, RT_SEMAPHORE) < 0) {
        return -1;
    }
    int r = sem_write(tmp, a->mode, a->value);
    if (r == 0) {
        r = link(tmp, final);
    }
    int err = errno;
    (void)unlink(tmp);
    (void)rt_unregister(tmp_name, RT_SEMAPHORE);
    if (r < 0) {
        errno = err;
        return -1;
    }
    sem_t **sem = ret;
    *sem = sem_open(name, 0);
    return *sem == SEM_FAILED ? -1 : 0;
}
#else
#define sem_create sem_create_plain
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
    return unlink_tracked(RT_SEMAPHORE, sem_unlink, name);
}

/* ---- message queues ---- */

#ifdef RT_HAVE_MQUEUE
struct mq_args {
    mode_t mode;
    struct mq_attr *attr;
};

static int mq_open_existing(const char *name, int oflag, void *ret)
{
    mqd_t *mq = ret;
    *mq = mq_open(name, oflag);
    return *mq == (mqd_t)-1 ? -1 : 0;
}

static void mq_release(void *ret)
{
    int saved = errno;
    (void)mq_close(*(mqd_t *)ret);
    errno = saved;
}

static int mq_create(const char *name, int oflag, const void *args, void *ret)
{
    const struct mq_args *a = args;
    mqd_t *mq = ret;
    *mq = mq_open(name, oflag, a->mode, a->attr);
    return *mq == (mqd_t)-1 ? -1 : 0;
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
    return unlink_tracked(RT_MQUEUE, mq_unlink, name);
}
#endif
