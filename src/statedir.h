/* SPDX-License-Identifier: MIT */
/* The state directory, where each run keeps its journal: which directory,
 * whether it may be trusted, and the journal files in it. Nothing of
 * another user is ever read, written or followed there: the directory must
 * be ours, mode 0700 and not a link; files are opened relative to it with
 * O_NOFOLLOW and checked with fstat (a regular file, ours, one link).
 * Host and tracker; AS-safe except rt__state_dir_path (environment). */
#ifndef RT_STATEDIR_H
#define RT_STATEDIR_H

#include <stddef.h>
#include <stdint.h>

/* The variable naming the state directory. */
#define RT_ENV_DIR "RESOURCE_TRACKER_DIR"

/* Journal files: "pipe-DEV-INO.journal", named after the run's public pipe;
 * a journal set aside because a new pipe took its name is renamed to
 * "dead-DEV-INO-N.journal". */
#define RT_STATE_NAME_MAX 96

/* The state directory's path into BUF: $RESOURCE_TRACKER_DIR when set (and
 * not empty), else $XDG_RUNTIME_DIR/resourcetracker when that is an
 * absolute path, else /tmp/resourcetracker-EUID. Set-id programs take no
 * variable into account. Returns 0 or -ENAMETOOLONG. Host, not AS-safe. */
int rt__state_dir_path(char *buf, size_t len);

/* Opens PATH as the state directory, creating it (mode 0700) when it is
 * missing and its parent exists. Returns a descriptor above 2, or -errno
 * with a reason for the warning in WHY (WHYLEN bytes): -ENOTDIR (not a
 * folder, or a link), -EPERM (not ours), -EACCES (mode not 0700). */
int rt__state_open_dir(const char *path, char *why, size_t whylen);

/* The name of the journal of the run whose public pipe is (DEV, INO). */
void rt__state_journal_name(char *buf, size_t len, uint64_t dev, uint64_t ino);

/* Creates that journal in DIRFD (0600, O_EXCL), holding LOCK_SH on it: the
 * run's lock, which every process of the run inherits. A file already of
 * that name belongs to a dead run (its pipe, now gone, had the same inode
 * number): it is set aside under a "dead-" name first. Returns an O_RDWR
 * descriptor above 2 or -errno. */
int rt__state_create_journal(int dirfd, uint64_t dev, uint64_t ino);

/* Opens an existing journal NAME in DIRFD for reading (FLAGS: O_RDONLY or
 * O_RDWR) if it is a regular file of ours with one link; -errno otherwise
 * (-ELOOP for a link, -EINVAL for anything not a regular file, -EMLINK for
 * one with more than one name, -EPERM for a file of another user, -ENOENT
 * when it is gone, even if only since it was named). */
int rt__state_open_journal(int dirfd, const char *name, int flags);

/* Calls FN for each journal file name in DIRFD. Returns 0 or -errno.
 * AS-safe (getdents64 into a static buffer). */
int rt__state_list(int dirfd, void (*fn)(void *ctx, const char *name),
                   void *ctx);

/* Whether NAME looks like a journal file ("pipe-" or "dead-", ".journal"). */
int rt__state_is_journal_name(const char *name);

#endif /* RT_STATEDIR_H */
