/* SPDX-License-Identifier: MIT */
/* shm_open, shm_unlink, sem_unlink, mq_open and mq_unlink without calling
 * them: the same name rules, paths, flags and errors as the libc the
 * library is built for, through open(2), unlink(2) and the mq system calls.
 * A preload shim interposes those libc symbols and sends them to the
 * wrappers; the wrappers and the tracker calling them in turn would recurse
 * into the shim or track an object twice. Host and tracker; MT-safe and
 * AS-safe. Not cancellation points only where open(2) is not: the wrappers
 * disable cancellation around them, as libc does inside shm_open. */
#ifndef RT_RAWIPC_H
#define RT_RAWIPC_H

#include <stddef.h>
#include <sys/types.h>

/* The file names of glibc and musl, which put these objects in /dev/shm:
 * without RT_RAW_IPC (another libc or system) the functions below call
 * libc's own, and rt__raw_sem_path fails with ENOSYS. */
#if defined(__linux__) && (defined(__GLIBC__) || defined(RT_MUSL))
#define RT_RAW_IPC 1
#endif

/* A buffer this long holds any path rt__raw_sem_path builds: "/dev/shm/",
 * "sem.", NAME_MAX bytes and the NUL (glibc's struct shmdir_name). */
#define RT_RAW_PATH_MAX (sizeof("/dev/shm/") + 4 + 255)

/* shm_open(NAME, OFLAG, MODE): a descriptor or -errno. O_NOFOLLOW and
 * O_CLOEXEC are added as libc adds them (and O_NONBLOCK as musl does). */
int rt__raw_shm_open(const char *name, int oflag, mode_t mode);

/* shm_unlink(NAME): 0 or -errno. */
int rt__raw_shm_unlink(const char *name);

/* sem_unlink(NAME): 0 or -errno. */
int rt__raw_sem_unlink(const char *name);

/* The file of semaphore NAME ("/dev/shm/sem.NAME" with glibc,
 * "/dev/shm/NAME" with musl) into BUF of LEN bytes: 0, or the -errno
 * sem_open gives for a name its libc refuses (-EINVAL, -ENAMETOOLONG), or
 * -ENAMETOOLONG when LEN is too short (RT_RAW_PATH_MAX never is). */
int rt__raw_sem_path(const char *name, char *buf, size_t len);

/* The file of shared-memory object NAME ("/dev/shm/NAME"), likewise. */
int rt__raw_shm_path(const char *name, char *buf, size_t len);

#if defined(__linux__)
struct mq_attr;

/* mq_open(NAME, OFLAG, MODE, ATTR) by its system call: the descriptor (a
 * message queue descriptor is a file descriptor on Linux, mqd_t an int in
 * glibc and musl) or -errno. MODE and ATTR are used with O_CREAT only. */
int rt__raw_mq_open(const char *name, int oflag, mode_t mode,
                    struct mq_attr *attr);
#endif

/* mq_unlink(NAME): 0 or -errno. */
int rt__raw_mq_unlink(const char *name);

#endif /* RT_RAWIPC_H */
