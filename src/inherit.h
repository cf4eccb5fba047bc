/* SPDX-License-Identifier: MIT */
/* Crossing exec: the checks that decide whether a descriptor handed over by
 * a parent (RESOURCE_TRACKER_FD, rt_setfd) is a tracker pipe we may write
 * to. Host, MT-safe. */
#ifndef RT_INHERIT_H
#define RT_INHERIT_H

#include <stdint.h>

/* Whether FD is a pipe or FIFO open for writing. Returns 0, -EBADF (not an
 * open descriptor) or -EINVAL. */
int rt__inherit_check(int fd);

/* The descriptor RESOURCE_TRACKER_FD names, if it names a live pipe write
 * end (and, in the FD:DEV:INO form, exactly that pipe); -1 otherwise,
 * including in set-uid and set-gid programs. In the FD:DEV:INO form, a
 * write end of exactly that pipe whose reader is gone (the run's tracker
 * died before this process used it) is returned too, with *RET_ORPHANED
 * set to 1; the bare FD form cannot tell such a pipe from another. */
int rt__inherit_from_env(int *ret_orphaned);

/* Parses V, a RESOURCE_TRACKER_FD value: 1 for the FD:DEV:INO form (all
 * three set), 0 for a bare FD (only *RET_FD set), -1 for anything else.
 * FD is at most INT_MAX; nothing is checked against the descriptor. */
int rt__inherit_parse(const char *v, int *ret_fd, uint64_t *ret_dev,
                      uint64_t *ret_ino);

#endif /* RT_INHERIT_H */
