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

/* What NAME of TYPE refers to now, identity and permission bits, from one
 * stat(). Returns as rt__object_identity. */
struct rt_object_seen {
    uint64_t dev, ino;
    unsigned mode;
};
int rt__object_seen(unsigned type, const char *name,
                    struct rt_object_seen *ret);

/* /dev/shm held open for a caller about to look up or remove many names
 * of shared-memory objects and semaphores (a cleanup, a sweep): until
 * rt__objects_release_shm, their lookups and removals are made relative
 * to it, a path walk shorter each. 0 or -errno (then nothing changes). */
int rt__objects_hold_shm(void);
void rt__objects_release_shm(void);

/* Unlinks the object NAME of TYPE relative to the /dev/shm held open:
 * 0 or -errno, or -ENOTSUP when /dev/shm is not held or the object is not
 * in it (the type's own cleanup then removes it). */
int rt__object_unlink(unsigned type, const char *name);

#endif /* RT_OBJECTS_H */
