/* SPDX-License-Identifier: MIT */
/* A size-class allocator over mmap for the tracker's registry: no malloc, so
 * it works in a tracker that was forked without exec; freed blocks are
 * reused, so a registry that shrinks and grows again does not grow the
 * process. Tracker, single-threaded, AS-safe. */
#ifndef RT_SLAB_H
#define RT_SLAB_H

#include <stddef.h>

#define RT_SLAB_GRAIN 16
#define RT_SLAB_BLOCK_MAX 8192
#define RT_SLAB_CLASSES (RT_SLAB_BLOCK_MAX / RT_SLAB_GRAIN)

struct slab_chunk;

struct slab {
    void *free[RT_SLAB_CLASSES]; /* per class, linked through the blocks */
    struct slab_chunk *chunks;   /* newest first; bump-allocated */
    size_t mapped;               /* bytes mapped, for the size limit */
    size_t limit;                /* 0: none */
};

/* A zeroed struct slab is ready to use. */

/* A block of at least SIZE bytes (SIZE <= RT_SLAB_BLOCK_MAX), aligned to
 * RT_SLAB_GRAIN, or NULL when memory or the limit ran out. */
void *rt__slab_alloc(struct slab *s, size_t size);

/* Returns BLOCK (of the SIZE it was allocated with) to its class. */
void rt__slab_release(struct slab *s, void *block, size_t size);

/* Unmaps everything. Accepts a zeroed or half-built slab. */
void rt__slab_free(struct slab *s);

/* mmap(2) of anonymous memory, or NULL. Used for the hash table too. */
void *rt__slab_map(size_t size);
void rt__slab_unmap(void *p, size_t size);

#endif /* RT_SLAB_H */
