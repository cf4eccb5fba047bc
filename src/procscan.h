/* SPDX-License-Identifier: MIT */
/* Walking the processes visible in /proc: which files each holds open or
 * mapped, how sure the scan can be, and a process's identity over time
 * (start time, boot id, pid namespace). Tracker, single-threaded, AS-safe:
 * raw system calls into static and stack buffers, no malloc, no stdio, no
 * locks. Not reentrant: one scan at a time per process (static buffers).
 * Linux only; elsewhere every call reports that nothing is known. */
#ifndef RT_PROCSCAN_H
#define RT_PROCSCAN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* What a scan looks at. */
#define RT_PROCSCAN_FDS 1u       /* the targets of /proc/PID/fd/N */
#define RT_PROCSCAN_MAPS 2u      /* the files mapped, from /proc/PID/maps */
#define RT_PROCSCAN_SKIP_SELF 4u /* not the calling process */

/* What a scan reports about its own certainty. */
struct rt_procscan_result {
    unsigned processes;   /* processes scanned, unreadable ones included (the
                             caller when skipped and those that exited before
                             they could be read are not) */
    unsigned unreadable;  /* processes whose maps or fds could not be read
                             (EACCES, ...), excluding those that exited
                             meanwhile, zombies and kernel threads */
    uid_t unreadable_uid; /* the uid of one of them (for the message), if any */
    int hidden;           /* /proc may hide processes from us: mounted with
                             hidepid=1/2/invisible/noaccess/ptraceable or
                             subset=pid, or we are not in the pid namespace
                             /proc belongs to (or that could not be told) */
};

/* Called for every file a scanned process holds: FD >= 0 for an open
 * descriptor (DEV, INO, MODE from a stat() through the magic link
 * /proc/PID/fd/FD, so also for files already unlinked), FD = -1 and MODE 0
 * for a file-backed mapping (DEV is makedev(major, minor) of the maps line,
 * so that it compares equal to st_dev). PID is numbered as /proc numbers
 * it. Returns 0 to go on, 1 to stop the scan (a holder was found), or
 * -errno to stop it with that error. */
typedef int (*rt_procscan_visit)(void *ctx, pid_t pid, int fd, uint64_t dev,
                                 uint64_t ino, mode_t mode);

/* Calls VISIT for every file a visible process (other than the caller when
 * RT_PROCSCAN_SKIP_SELF) has open (RT_PROCSCAN_FDS) or mapped
 * (RT_PROCSCAN_MAPS). Anonymous and special mappings (inode 0) are skipped;
 * a mapped file deleted since still counts. A process that exits mid-scan
 * is skipped silently.
 *
 * The DEV of a mapping is the device of the file's superblock: it equals
 * st_dev on tmpfs (/dev/shm), ext4 and most file systems, but not for a
 * file seen through overlayfs or on a btrfs subvolume, whose stat() reports
 * another device.
 *
 * Returns 0, or 1 when VISIT stopped the scan (its -errno when it stopped
 * it with one), and then fills *RET (unless NULL) with what was seen so
 * far; -EINVAL for unknown FLAGS or a NULL VISIT; -errno when /proc cannot
 * be listed (then nothing is known and *RET is untouched). A process that
 * cannot be read is counted, never an error.
 *
 * VISIT may call rt__procscan_starttime, rt__procscan_pidns(_of) and
 * rt__procscan_boot_id (stack buffers), not rt__procscan or
 * rt__procscan_hidden (they share a static buffer). */
int rt__procscan(unsigned flags, rt_procscan_visit visit, void *ctx,
                 struct rt_procscan_result *ret);

/* The same for the one process PID (numbered as /proc numbers it): a
 * check of a known process without listing every other. *RET counts 1
 * process scanned, or 0 when PID does not exist. -EINVAL for PID <= 0. */
int rt__procscan_pid(pid_t pid, unsigned flags, rt_procscan_visit visit,
                     void *ctx, struct rt_procscan_result *ret);

/* Whether /proc may hide processes from us (see rt_procscan_result.hidden);
 * 1 also when that cannot be told. rt__procscan fills it; exposed so that
 * it can be asked alone. */
int rt__procscan_hidden(void);

/* The inode of this process's pid namespace (/proc/self/ns/pid ->
 * "pid:[N]"), 0 when unknown. */
uint64_t rt__procscan_pidns(void);

/* The inode of PID's pid namespace as seen through /proc/PID/ns/pid, 0 when
 * unknown (no such process, or not ours to inspect: reading the link takes
 * the right to ptrace-read PID). */
uint64_t rt__procscan_pidns_of(pid_t pid);

/* Start time of PID (field 22 of /proc/PID/stat, clock ticks since boot),
 * or 0 when PID does not exist or is unreadable. With the boot id it tells
 * a process from a later one that reused its pid. */
uint64_t rt__procscan_starttime(pid_t pid);

/* The same, but 0 also for a process that is dead and not yet reaped (a
 * zombie): whether PID still runs, as it started then. */
uint64_t rt__procscan_live_starttime(pid_t pid);

/* The parent of PID (field 4 of /proc/PID/stat), or 0 when PID does not
 * exist, is unreadable or has none visible here. */
pid_t rt__procscan_parent(pid_t pid);

/* This boot's id (/proc/sys/kernel/random/boot_id: 36 characters, a UUID
 * in lowercase hex with dashes) and a NUL into BUF, which must hold 37
 * bytes. Returns 0, -ERANGE when LEN is smaller, -EIO when the file does
 * not hold a UUID, or the -errno of reading it. */
int rt__procscan_boot_id(char *buf, size_t len);

#endif /* RT_PROCSCAN_H */
