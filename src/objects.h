/* SPDX-License-Identifier: MIT */
/* Named objects as they are now: the identity (device and inode) of the
 * object a name refers to, so that nothing is removed under a name that
 * was given to another object since. Tracker and command; AS-safe. */
#ifndef RT_OBJECTS_H
#define RT_OBJECTS_H

#include <stddef.h>
#include <stdint.h>

/* The identity of the object NAME of built-in TYPE (index into rtypes).
 * Returns 0 with *RET_DEV and *RET_INO, -ENOENT when there is none,
 * -ENOTSUP for a type whose objects have no identity we can find (custom
 * types), or another -errno when it cannot be told. */
int rt__object_identity(unsigned type, const char *name, uint64_t *ret_dev,
                        uint64_t *ret_ino);

/* The object's permission bits, when known (0 otherwise). */
int rt__object_mode(unsigned type, const char *name, unsigned *ret_mode);

/* A listing of /dev/shm, taken once for a caller about to look up NAMES
 * names of shared-memory objects and semaphores (the sweep of a dead run):
 * one pass over the directory instead of a stat() per name. Taken only
 * where it pays (tmpfs, whose directory size tells its entries, and NAMES
 * at least half of them); returns 0 when taken, -errno when not (the
 * lookups then stat each name, as before). Until rt__objects_unlist, the
 * process holds /dev/shm open and the fresh checks of rt__object_identity
 * look names up relative to it. */
int rt__objects_list(size_t names);
void rt__objects_unlist(void);

/* What NAME of TYPE refers to, for a decision (the removal itself checks
 * again, cleanup.h): from the listing when one is held and NAME is in
 * /dev/shm (what it was when the listing was taken; no mode), else from
 * one stat() (identity and mode). Returns as rt__object_identity. */
struct rt_object_seen {
    uint64_t dev, ino;
    unsigned mode;
    int have_mode;
};
int rt__object_seen(unsigned type, const char *name,
                    struct rt_object_seen *ret);

#endif /* RT_OBJECTS_H */
