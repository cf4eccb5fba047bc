/* SPDX-License-Identifier: MIT */
/* Crossing exec: RESOURCE_TRACKER_FD and descriptor checks. Host, MT-safe.
 * The library never writes into a descriptor it is not sure of: a stale
 * variable could name a number that now holds a file or a socket. */

/* secure_getenv(3): glibc and musl; elsewhere a set-id check stands in. */
#define _GNU_SOURCE
#include "inherit.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"
#include "decimal.h"
#include "fdio.h"
#include "resourcetracker.h"

static int check(int fd, struct stat *st)
{
    if (fd < 0 || fstat(fd, st) < 0) {
        return -EBADF;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) {
        return -EBADF;
    }
    int mode = fl & O_ACCMODE;
    if (!S_ISFIFO(st->st_mode) || (mode != O_WRONLY && mode != O_RDWR)) {
        return -EINVAL;
    }
    return 0;
}

int rt__inherit_check(int fd)
{
    struct stat st;
    int r = check(fd, &st);
    /* A standard stream is never a tracker pipe, however it looks: with
     * "prog | less", fd 1 is a pipe open for writing. */
    return r == 0 && fd <= 2 ? -EINVAL : r;
}

static int from_env(int *ret_orphaned);

static const char *env_value(void)
{
#if defined(__GLIBC__) || defined(__linux__)
    return secure_getenv(RT_ENV_FD);
#else
    if (getuid() != geteuid() || getgid() != getegid()) {
        return NULL;
    }
    return getenv(RT_ENV_FD);
#endif
}

/* Parses a decimal number with no sign, space or trailing byte before END
 * (':' or NUL). Returns the position of END, or NULL. */
static const char *parse_num(const char *s, char end, uint64_t max,
                             uint64_t *ret)
{
    const char *p = rt__parse_decimal(s, max, ret);
    return p != NULL && *p == end ? p : NULL;
}

int rt__inherit_parse(const char *v, int *ret_fd, uint64_t *ret_dev,
                      uint64_t *ret_ino)
{
    uint64_t fd;
    if (parse_num(v, '\0', INT_MAX, &fd) != NULL) {
        *ret_fd = (int)fd;
        return 0;
    }
    const char *p = parse_num(v, ':', INT_MAX, &fd);
    p = p != NULL ? parse_num(p + 1, ':', UINT64_MAX, ret_dev) : NULL;
    p = p != NULL ? parse_num(p + 1, '\0', UINT64_MAX, ret_ino) : NULL;
    if (p == NULL) {
        return -1;
    }
    *ret_fd = (int)fd;
    return 1;
}

int rt__inherit_from_env(int *ret_orphaned)
{
    int saved = errno;
    *ret_orphaned = 0;
    int fd = from_env(ret_orphaned);
    errno = saved;
    return fd;
}

static int from_env(int *ret_orphaned)
{
    const char *v = env_value();
    if (v == NULL) {
        return -1;
    }
    int fd;
    uint64_t dev = 0;
    uint64_t ino = 0;
    int exact = rt__inherit_parse(v, &fd, &dev, &ino);
    /* A standard stream is never a tracker pipe, however it looks: with
     * "prog | less", fd 1 is a FIFO open for writing. */
    struct stat st;
    if (exact < 0 || fd <= 2 || check(fd, &st) < 0) {
        return -1;
    }
    if (exact && ((uint64_t)st.st_dev != dev || (uint64_t)st.st_ino != ino)) {
        return -1;
    }
    int alive = rt__fd_pipe_alive(fd);
    if (alive == 0 && exact) {
        /* Exactly the pipe we were given, its reader gone: the run's
         * tracker died. The pipe is still the run's, and the caller
         * relaunches its tracker on it as a process that had adopted it
         * earlier would. */
        *ret_orphaned = 1;
        return fd;
    }
    if (alive != 1) {
        return -1;
    }
    return fd;
}

extern char **environ;

int rt_spawn_prepare(posix_spawn_file_actions_t *actions, char *const envp[],
                     char ***ret_envp)
{
    if (actions == NULL || ret_envp == NULL) {
        errno = EINVAL;
        return -1;
    }
    int fd = rt__client_exec_fd();
    struct stat st;
    if (fd < 0) {
        errno = -fd;
        return -1;
    }
    if (fstat(fd, &st) < 0) {
        return -1;
    }
    char var[128];
    int len = snprintf(var, sizeof(var), "%s=%d:%ju:%ju", RT_ENV_FD, fd,
                       (uintmax_t)st.st_dev, (uintmax_t)st.st_ino);
    char *const *from = envp != NULL ? envp : environ;
    size_t n = 0;
    while (from != NULL && from[n] != NULL) {
        n++;
    }
    /* One block, freed at once: the pointer array, then our variable. */
    size_t ptrs = (n + 2) * sizeof(char *);
    char **env = malloc(ptrs + (size_t)len + 1);
    if (env == NULL) {
        errno = ENOMEM;
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(from[i], RT_ENV_FD "=", sizeof(RT_ENV_FD)) != 0) {
            env[k++] = from[i];
        }
    }
    env[k] = memcpy((char *)env + ptrs, var, (size_t)len + 1);
    env[k + 1] = NULL;
    /* dup2 onto itself: POSIX (and glibc since 2.29, musl) clear
     * FD_CLOEXEC in the child for that one descriptor. */
    int r = posix_spawn_file_actions_adddup2(actions, fd, fd);
    /* The run's journal too: holding it, the child keeps the run alive for
     * whoever would sweep it (resourcetracker(7)). */
    int journal = rt__client_journal_fd();
    if (r == 0 && journal >= 0) {
        r = posix_spawn_file_actions_adddup2(actions, journal, journal);
    }
    if (r != 0) {
        free(env);
        errno = r;
        return -1;
    }
    *ret_envp = env;
    return 0;
}

void rt_spawn_free(char **envp)
{
    free(envp);
}
