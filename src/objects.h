/* SPDX-License-Identifier: MIT */
/* Named objects as they are now: the identity (device and inode) of the
 * object a name refers to, so that nothing is removed under a name that
 * was given to another object since. Tracker and command; AS-safe. */
#ifndef RT_OBJECTS_H
#define RT_OBJECTS_H

#include <stdint.h>

/* The identity of the object NAME of built-in TYPE (index into rtypes).
 * Returns 0 with *RET_DEV and *RET_INO, -ENOENT when there is none,
 * -ENOTSUP for a type whose objects have no identity we can find (custom
 * types), or another -errno when it cannot be told. */
int rt__object_identity(unsigned type, const char *name, uint64_t *ret_dev,
                        uint64_t *ret_ino);

/* The object's permission bits, when known (0 otherwise). */
int rt__object_mode(unsigned type, const char *name, unsigned *ret_mode);

/* What NAME of TYPE refers to, for a decision (the removal itself checks
 * again, cleanup.h): its identity and mode from one stat(). Returns as
 * rt__object_identity. */
struct rt_object_seen {
    uint64_t dev, ino;
    unsigned mode;
    int have_mode;
};
int rt__object_seen(unsigned type, const char *name,
                    struct rt_object_seen *ret);

#endif /* RT_OBJECTS_H */
