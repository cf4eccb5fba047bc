/* SPDX-License-Identifier: MIT */
/* A set of file identities (st_dev, st_ino): one scan of /proc fills it,
 * then each object a sweep considers is looked up in O(1). Tracker,
 * single-threaded, AS-safe (memory from rt__slab_map, no malloc). */
#ifndef RT_IDSET_H
#define RT_IDSET_H

#include <stddef.h>
#include <stdint.h>

struct rt_idset_slot {
    uint64_t dev, ino;
};

struct rt_idset {
    struct rt_idset_slot *slots; /* CAP slots; (0, 0) marks an empty one */
    size_t cap;                  /* a power of two, or 0 before the first add */
    size_t used;                 /* slots holding a member */
    int has_zero;                /* whether (0, 0) itself is a member */
};

/* Prepares an empty set; allocates nothing. */
void rt__idset_init(struct rt_idset *s);

/* Adds (DEV, INO). Returns 1 if added, 0 if it was there already, -ENOMEM
 * when the table could not grow (every member is kept). */
int rt__idset_add(struct rt_idset *s, uint64_t dev, uint64_t ino);

/* Whether (DEV, INO) is a member: 1 or 0. */
int rt__idset_has(const struct rt_idset *s, uint64_t dev, uint64_t ino);

/* How many members. */
size_t rt__idset_count(const struct rt_idset *s);

/* Unmaps the table; the set is empty and usable again. Accepts a set that
 * was only initialised. */
void rt__idset_free(struct rt_idset *s);

#endif /* RT_IDSET_H */
