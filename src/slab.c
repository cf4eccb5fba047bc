/* SPDX-License-Identifier: MIT */
/* Size-class allocator over mmap. Tracker, single-threaded, AS-safe. */
/* MAP_ANONYMOUS: POSIX.1-2024 and every Unix has it, but glibc hides it
 * under strict POSIX 2008. */
#define _DEFAULT_SOURCE
#include "slab.h"

#include <string.h>
#include <sys/mman.h>

/* Chunks are mapped in one piece and carved front to back; the kernel backs
 * a page only when the carving first touches it, so an idle tracker owns
 * only what it used. */
#define CHUNK_SIZE ((size_t)1 << 20)

struct slab_chunk {
    struct slab_chunk *next;
    size_t used;
    _Alignas(RT_SLAB_GRAIN) unsigned char data[];
};

void *rt__slab_map(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void rt__slab_unmap(void *p, size_t size)
{
    if (p != NULL) {
        (void)munmap(p, size);
    }
}

static size_t class_of(size_t size)
{
    return (size + RT_SLAB_GRAIN - 1) / RT_SLAB_GRAIN - 1;
}

/* Out of memory: a free block of a larger class will do. It is filed under
 * the smaller class when released (the caller gives the size it asked
 * for), its surplus lost: better than refusing a registration while freed
 * memory sits idle in another class. */
static void *larger(struct slab *s, size_t c)
{
    for (size_t k = c + 1; k < RT_SLAB_CLASSES; k++) {
        void *block = s->free[k];
        if (block != NULL) {
            void *next;
            memcpy(&next, block, sizeof(next));
            s->free[k] = next;
            return block;
        }
    }
    return NULL;
}

void *rt__slab_alloc(struct slab *s, size_t size)
{
    if (size == 0 || size > RT_SLAB_BLOCK_MAX) {
        return NULL;
    }
    size_t c = class_of(size);
    size_t bytes = (c + 1) * RT_SLAB_GRAIN;
    void *block = s->free[c];
    if (block != NULL) {
        void *next;
        memcpy(&next, block, sizeof(next));
        s->free[c] = next;
        return block;
    }
    struct slab_chunk *ch = s->chunks;
    size_t room = CHUNK_SIZE - offsetof(struct slab_chunk, data);
    if (ch == NULL || room - ch->used < bytes) {
        ch = s->limit != 0 && s->mapped + CHUNK_SIZE > s->limit
                 ? NULL
                 : rt__slab_map(CHUNK_SIZE);
        if (ch == NULL) {
            return larger(s, c);
        }
        ch->next = s->chunks;
        ch->used = 0;
        s->chunks = ch;
        s->mapped += CHUNK_SIZE;
    }
    block = ch->data + ch->used;
    ch->used += bytes;
    return block;
}

void rt__slab_release(struct slab *s, void *block, size_t size)
{
    size_t c = class_of(size);
    memcpy(block, &s->free[c], sizeof(void *));
    s->free[c] = block;
}

void rt__slab_free(struct slab *s)
{
    while (s->chunks != NULL) {
        struct slab_chunk *next = s->chunks->next;
        rt__slab_unmap(s->chunks, CHUNK_SIZE);
        s->chunks = next;
    }
    *s = (struct slab){0};
}
