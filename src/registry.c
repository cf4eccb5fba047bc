/* SPDX-License-Identifier: MIT */
/* Open-addressing hash set (linear probing, backward-shift deletion) over
 * slab-allocated entries. Tracker, single-threaded, AS-safe. */
#include "registry.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#define MIN_CAP 256

static void delete_slot(struct registry *r, size_t i);

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t fmix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static uint32_t hash_key(uint64_t seed, unsigned rtype,
                         const unsigned char *name, size_t len)
{
    const uint64_t k1 = 0x87c37b91114253d5ULL, k2 = 0x4cf5ad432745937fULL;
    uint64_t h = seed ^ ((uint64_t)rtype << 56) ^ (len * k2);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, name + i, 8);
        h ^= rotl(w * k1, 31) * k2;
        h = rotl(h, 27) * 5 + 0x52dce729;
    }
    uint64_t tail = 0;
    memcpy(&tail, name + i, len - i);
    h ^= rotl(tail * k1, 31) * k2;
    h = fmix(h);
    return (uint32_t)(h ^ (h >> 32));
}

static size_t table_bytes(size_t cap)
{
    return cap * (sizeof(uint32_t) + sizeof(struct rt_entry *));
}

void rt__registry_init(struct registry *r, uint64_t seed, size_t max_entries,
                       size_t max_bytes)
{
    memset(r, 0, sizeof(*r));
    r->seed = seed;
    r->max_entries = max_entries;
    r->slab.limit = max_bytes;
}

static int entry_is(const struct rt_entry *e, uint32_t h, unsigned rtype,
                    const unsigned char *name, size_t len)
{
    return e->hash == h && e->rtype == rtype && e->len == len &&
           memcmp(e->name, name, len) == 0;
}

/* The slot holding the key, or the empty slot where it would go. */
static size_t find(const struct registry *r, uint32_t h, unsigned rtype,
                   const unsigned char *name, size_t len)
{
    size_t mask = r->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const struct rt_entry *e = r->slots[i];
        if (e == NULL ||
            (r->hashes[i] == h && entry_is(e, h, rtype, name, len))) {
            return i;
        }
    }
}

static int grow(struct registry *r)
{
    size_t cap = r->cap == 0 ? MIN_CAP : r->cap * 2;
    size_t bytes = table_bytes(cap);
    if (r->slab.limit != 0 && r->slab.mapped + bytes > r->slab.limit) {
        return -ENOMEM;
    }
    uint32_t *hashes = rt__slab_map(bytes);
    if (hashes == NULL) {
        return -ENOMEM;
    }
    struct rt_entry **slots = (struct rt_entry **)(hashes + cap);
    for (size_t i = 0; i < r->cap; i++) {
        struct rt_entry *e = r->slots[i];
        if (e != NULL) {
            size_t j = e->hash & (cap - 1);
            while (slots[j] != NULL) {
                j = (j + 1) & (cap - 1);
            }
            hashes[j] = e->hash;
            slots[j] = e;
        }
    }
    if (r->cap != 0) {
        rt__slab_unmap(r->hashes, table_bytes(r->cap));
        r->slab.mapped -= table_bytes(r->cap);
    }
    r->slab.mapped += bytes;
    r->hashes = hashes;
    r->slots = slots;
    r->cap = cap;
    return 0;
}

static size_t ext_offset(size_t len)
{
    return (offsetof(struct rt_entry, name) + len + 1 + 7) & ~(size_t)7;
}

static size_t entry_size(size_t len, unsigned flags)
{
    return (flags & RT_ENTRY_EXT)
               ? ext_offset(len) + sizeof(struct rt_entry_ext)
               : offsetof(struct rt_entry, name) + len + 1;
}

struct rt_entry_ext *rt__registry_ext(const struct rt_entry *e)
{
    if (!(e->flags & RT_ENTRY_EXT)) {
        return NULL;
    }
    /* The extension sits in the entry's own block, after the name. */
    return (struct rt_entry_ext *)((unsigned char *)e->name +
                                   (ext_offset(e->len) -
                                    offsetof(struct rt_entry, name)));
}

/* Links E at the end of its type's order. */
static void link_last(struct registry *r, struct rt_entry *e)
{
    unsigned rtype = e->rtype;
    e->next = NULL;
    e->prev = r->types[rtype].tail;
    if (e->prev != NULL) {
        e->prev->next = e;
    } else {
        r->types[rtype].head = e;
    }
    r->types[rtype].tail = e;
    r->types[rtype].count++;
}

static void unlink_entry(struct registry *r, struct rt_entry *e)
{
    unsigned rtype = e->rtype;
    if (e->prev != NULL) {
        e->prev->next = e->next;
    } else {
        r->types[rtype].head = e->next;
    }
    if (e->next != NULL) {
        e->next->prev = e->prev;
    } else {
        r->types[rtype].tail = e->prev;
    }
    r->types[rtype].count--;
}

struct rt_entry *rt__registry_get(const struct registry *r, unsigned rtype,
                                  const unsigned char *name, size_t len)
{
    if (r->cap == 0 || len > RT_REGISTRY_NAME_MAX) {
        return NULL;
    }
    uint32_t h = hash_key(r->seed, rtype, name, len);
    return r->slots[find(r, h, rtype, name, len)];
}

int rt__registry_put(struct registry *r, unsigned rtype,
                     const unsigned char *name, size_t len,
                     struct rt_entry **ret)
{
    if (len > RT_REGISTRY_NAME_MAX) {
        return -ENAMETOOLONG;
    }
    uint32_t h = hash_key(r->seed, rtype, name, len);
    if (r->cap != 0) {
        size_t i = find(r, h, rtype, name, len);
        if (r->slots[i] != NULL) {
            *ret = r->slots[i];
            return 0;
        }
    }
    if (r->max_entries != 0 && r->count >= r->max_entries) {
        return -ENOSPC;
    }
    /* Keep the load at most 3/4 so that probes stay short. */
    if ((r->count + 1) * 4 > r->cap * 3) {
        int g = grow(r);
        if (g < 0) {
            return g;
        }
    }
    struct rt_entry *e = rt__slab_alloc(&r->slab, entry_size(len, 0));
    if (e == NULL) {
        return -ENOMEM;
    }
    e->hash = h;
    e->count = 0;
    e->len = (uint16_t)len;
    e->rtype = (uint8_t)rtype;
    e->flags = 0;
    memcpy(e->name, name, len);
    e->name[len] = '\0';
    link_last(r, e);
    size_t i = find(r, h, rtype, name, len);
    r->hashes[i] = h;
    r->slots[i] = e;
    r->count++;
    *ret = e;
    return 1;
}

int rt__registry_add(struct registry *r, unsigned rtype,
                     const unsigned char *name, size_t len)
{
    struct rt_entry *e;
    return rt__registry_put(r, rtype, name, len, &e);
}

int rt__registry_set_ext(struct registry *r, struct rt_entry **ep,
                         const struct rt_entry_ext *ext)
{
    struct rt_entry *e = *ep;
    if (e->flags & RT_ENTRY_EXT) {
        *rt__registry_ext(e) = *ext;
        return 0;
    }
    struct rt_entry *n =
        rt__slab_alloc(&r->slab, entry_size(e->len, RT_ENTRY_EXT));
    if (n == NULL) {
        return -ENOMEM;
    }
    memcpy(n, e, offsetof(struct rt_entry, name) + e->len + 1);
    n->flags |= RT_ENTRY_EXT;
    *rt__registry_ext(n) = *ext;
    /* The new block takes the old one's place in the table and the order. */
    size_t i = find(r, e->hash, e->rtype, e->name, e->len);
    r->slots[i] = n;
    if (n->prev != NULL) {
        n->prev->next = n;
    } else {
        r->types[n->rtype].head = n;
    }
    if (n->next != NULL) {
        n->next->prev = n;
    } else {
        r->types[n->rtype].tail = n;
    }
    rt__slab_release(&r->slab, e, entry_size(e->len, 0));
    *ep = n;
    return 0;
}

/* Empties slot I and shifts later members of its cluster back, so that no
 * tombstone is left and every probe stays as short as after insertion. */
static void delete_slot(struct registry *r, size_t i)
{
    size_t mask = r->cap - 1;
    for (size_t j = (i + 1) & mask; r->slots[j] != NULL; j = (j + 1) & mask) {
        size_t home = r->hashes[j] & mask;
        int stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (!stays) {
            r->hashes[i] = r->hashes[j];
            r->slots[i] = r->slots[j];
            i = j;
        }
    }
    r->slots[i] = NULL;
}

void rt__registry_delete(struct registry *r, struct rt_entry *e)
{
    delete_slot(r, find(r, e->hash, e->rtype, e->name, e->len));
    unlink_entry(r, e);
    r->count--;
    rt__slab_release(&r->slab, e, entry_size(e->len, e->flags));
}

int rt__registry_remove(struct registry *r, unsigned rtype,
                        const unsigned char *name, size_t len)
{
    struct rt_entry *e = rt__registry_get(r, rtype, name, len);
    if (e == NULL) {
        return -ENOENT;
    }
    rt__registry_delete(r, e);
    return 0;
}

int rt__registry_contains(const struct registry *r, unsigned rtype,
                          const unsigned char *name, size_t len)
{
    return rt__registry_get(r, rtype, name, len) != NULL;
}

size_t rt__registry_count(const struct registry *r, unsigned rtype)
{
    return r->types[rtype].count;
}

const struct rt_entry *rt__registry_first(const struct registry *r,
                                          unsigned rtype)
{
    return r->types[rtype].head;
}

const struct rt_entry *rt__registry_last(const struct registry *r,
                                         unsigned rtype)
{
    return r->types[rtype].tail;
}

void rt__registry_free(struct registry *r)
{
    if (r->cap != 0) {
        rt__slab_unmap(r->hashes, table_bytes(r->cap));
    }
    size_t limit = r->slab.limit;
    rt__slab_free(&r->slab);
    rt__registry_init(r, r->seed, r->max_entries, limit);
}
