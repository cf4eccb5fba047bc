/* SPDX-License-Identifier: MIT */
/* Open-addressing hash set of (dev, ino) pairs with linear probing; no
 * removal (a set lives for one sweep). Tracker, single-threaded, AS-safe. */
#include "idset.h"

#include <errno.h>
#include <stdint.h>

#include "slab.h"

/* One page of slots to begin with: most machines show a few thousand open
 * files, so a sweep grows the table a handful of times at most. */
#define MIN_CAP (4096 / sizeof(struct rt_idset_slot))

/* Inode numbers are often small and consecutive (tmpfs counts up), and many
 * files share one device: mix both fully so that consecutive inodes spread
 * over the table instead of forming one long probe run. Nobody chooses
 * these keys freely, so an unkeyed mixer (MurmurHash3's finaliser) is
 * enough. */
static uint64_t hash_id(uint64_t dev, uint64_t ino)
{
    uint64_t h = ino ^ (dev * 0x9e3779b97f4a7c15ULL);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

void rt__idset_init(struct rt_idset *s)
{
    *s = (struct rt_idset){0};
}

/* The slot holding (DEV, INO), or the empty slot where it would go. The
 * load stays below 3/4, so an empty slot always ends the probe. */
static size_t find(const struct rt_idset_slot *slots, size_t cap, uint64_t dev,
                   uint64_t ino)
{
    size_t mask = cap - 1;
    for (size_t i = (size_t)hash_id(dev, ino) & mask;; i = (i + 1) & mask) {
        const struct rt_idset_slot *e = &slots[i];
        if ((e->dev == dev && e->ino == ino) || (e->dev == 0 && e->ino == 0)) {
            return i;
        }
    }
}

/* Maps a table twice the size and moves every member over; the old table
 * stays whole until the new one is complete, so a failure loses nothing. */
static int grow(struct rt_idset *s)
{
    size_t cap = s->cap == 0 ? MIN_CAP : s->cap * 2;
    if (cap > SIZE_MAX / 2 / sizeof(struct rt_idset_slot)) {
        return -ENOMEM;
    }
    /* Anonymous memory comes zeroed: every slot starts empty. */
    struct rt_idset_slot *slots = rt__slab_map(cap * sizeof(*slots));
    if (slots == NULL) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < s->cap; i++) {
        const struct rt_idset_slot *e = &s->slots[i];
        if (e->dev != 0 || e->ino != 0) {
            slots[find(slots, cap, e->dev, e->ino)] = *e;
        }
    }
    rt__slab_unmap(s->slots, s->cap * sizeof(*slots));
    s->slots = slots;
    s->cap = cap;
    return 0;
}

int rt__idset_add(struct rt_idset *s, uint64_t dev, uint64_t ino)
{
    if (dev == 0 && ino == 0) {
        int added = !s->has_zero;
        s->has_zero = 1;
        return added;
    }
    if (s->cap != 0) {
        size_t i = find(s->slots, s->cap, dev, ino);
        if (s->slots[i].dev != 0 || s->slots[i].ino != 0) {
            return 0;
        }
    }
    /* Keep the load at most 3/4 so that probes stay short. */
    if ((s->used + 1) * 4 > s->cap * 3) {
        int r = grow(s);
        if (r < 0) {
            return r;
        }
    }
    s->slots[find(s->slots, s->cap, dev, ino)] =
        (struct rt_idset_slot){.dev = dev, .ino = ino};
    s->used++;
    return 1;
}

int rt__idset_has(const struct rt_idset *s, uint64_t dev, uint64_t ino)
{
    if (dev == 0 && ino == 0) {
        return s->has_zero;
    }
    if (s->cap == 0) {
        return 0;
    }
    const struct rt_idset_slot *e = &s->slots[find(s->slots, s->cap, dev, ino)];
    return e->dev != 0 || e->ino != 0;
}

size_t rt__idset_count(const struct rt_idset *s)
{
    return s->used + (s->has_zero ? 1 : 0);
}

void rt__idset_free(struct rt_idset *s)
{
    rt__slab_unmap(s->slots, s->cap * sizeof(*s->slots));
    rt__idset_init(s);
}
