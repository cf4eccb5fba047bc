/* SPDX-License-Identifier: MIT */
/* The tracker's set of registered names, keyed by (rtype, name): O(1) add
 * and remove by hash, and per type a list in registration order for the
 * shutdown report and cleanup. Tracker, single-threaded, AS-safe. */
#ifndef RT_REGISTRY_H
#define RT_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "slab.h"

/* Type indexes are below this (see rtypes.h). */
#define RT_REGISTRY_TYPES 64

struct rt_entry {
    struct rt_entry *prev, *next; /* registration order within its type */
    uint32_t hash;
    uint32_t count; /* the ledger's: registrations not withdrawn yet */
    uint16_t len;
    uint8_t rtype;
    uint8_t flags;        /* RT_ENTRY_EXT: an extension follows the name */
    unsigned char name[]; /* LEN bytes, then a NUL */
};

/* What is known of a registered object beyond its name. Only entries that
 * have one pay for it: it sits after the name, 8-aligned. */
struct rt_entry_ext {
    uint64_t dev, ino;   /* the object's identity; both 0 when unknown */
    uint64_t pdev, pino; /* its folder's identity (path types), or 0 */
    int32_t pid;         /* the registering process, 0 when unknown */
    int32_t dirfd;       /* its folder, held open by the tracker, or -1 */
};

enum { RT_ENTRY_EXT = 1 };

/* The longest name an entry can hold. */
#define RT_REGISTRY_NAME_MAX 4096

struct registry {
    struct slab slab;
    uint32_t *hashes;        /* CAP hashes, then CAP entry pointers */
    struct rt_entry **slots; /* NULL marks an empty slot */
    size_t cap;              /* a power of two, or 0 before the first add */
    size_t count;
    size_t max_entries;
    uint64_t seed;
    struct {
        struct rt_entry *head, *tail;
        size_t count;
    } types[RT_REGISTRY_TYPES];
};

/* Prepares an empty registry; allocates nothing yet. SEED keys the hash so
 * that names chosen by a writer cannot force collisions. MAX_ENTRIES bounds
 * the set; MAX_BYTES bounds its memory (0: no bound). */
void rt__registry_init(struct registry *r, uint64_t seed, size_t max_entries,
                       size_t max_bytes);

/* Adds (RTYPE, NAME). Returns 1 if added, 0 if it was there already,
 * -ENOMEM when memory ran out, -ENOSPC at MAX_ENTRIES, -ENAMETOOLONG past
 * RT_REGISTRY_NAME_MAX. Nothing held is lost on failure. */
int rt__registry_add(struct registry *r, unsigned rtype,
                     const unsigned char *name, size_t len);

/* Removes (RTYPE, NAME). Returns 0, or -ENOENT if it was not there. */
int rt__registry_remove(struct registry *r, unsigned rtype,
                        const unsigned char *name, size_t len);

/* Whether (RTYPE, NAME) is held. */
int rt__registry_contains(const struct registry *r, unsigned rtype,
                          const unsigned char *name, size_t len);

/* Names held for RTYPE, and their list in registration order. */
size_t rt__registry_count(const struct registry *r, unsigned rtype);
const struct rt_entry *rt__registry_first(const struct registry *r,
                                          unsigned rtype);
const struct rt_entry *rt__registry_last(const struct registry *r,
                                         unsigned rtype);

/* The entry for (RTYPE, NAME), or NULL. */
struct rt_entry *rt__registry_get(const struct registry *r, unsigned rtype,
                                  const unsigned char *name, size_t len);

/* Adds (RTYPE, NAME) with a count of 0 if it is not there, and returns its
 * entry in *RET either way. Returns 1 if added, 0 if it was there, or an
 * error as rt__registry_add. */
int rt__registry_put(struct registry *r, unsigned rtype,
                     const unsigned char *name, size_t len,
                     struct rt_entry **ret);

/* Removes E, an entry of R. */
void rt__registry_delete(struct registry *r, struct rt_entry *e);

/* E's extension, or NULL when it has none. */
struct rt_entry_ext *rt__registry_ext(const struct rt_entry *e);

/* Gives *E an extension equal to EXT (E moves: *E is updated; its place in
 * the set and in its type's order is kept). 0, or -ENOMEM with *E
 * unchanged. */
int rt__registry_set_ext(struct registry *r, struct rt_entry **e,
                         const struct rt_entry_ext *ext);

/* Unmaps everything; the registry is empty and usable again afterwards. */
void rt__registry_free(struct registry *r);

#endif /* RT_REGISTRY_H */
