/* SPDX-License-Identifier: MIT */
/* The tracker's liveness word: one shared page holding the tracker's thread
 * id as a robust futex, which the kernel marks FUTEX_OWNER_DIED the moment
 * the tracker dies, however it dies (before its descriptors are closed).
 * The host reads it with one load instead of a system call. */
#ifndef RT_ALIVE_H
#define RT_ALIVE_H

#include <stdatomic.h>
#include <stdint.h>

/* Host: makes a fresh zeroed page, maps it and stores its address in
 * *RET_PAGE. Returns a close-on-exec descriptor of it for the tracker, or
 * -errno where there is no such mechanism (then the caller goes without). */
int rt__alive_create(void **ret_page);

/* Host: puts the page at NEW where *STABLE is, replacing the page of a dead
 * tracker in one step (mremap), so that a reader racing with a relaunch
 * sees the old word or the new one and never an unmapped address; or, when
 * *STABLE is NULL, makes NEW the stable page. NEW is consumed either way.
 * Returns 0 or -errno. */
int rt__alive_install(void **stable, void *new_page);

/* Host: unmaps a page that was not installed. NULL is a no-op. */
void rt__alive_free(void *page);

/* Host: the word in PAGE. */
_Atomic uint32_t *rt__alive_word(void *page);

/* Host, MT-safe, AS-safe: whether the tracker that claimed WORD still runs.
 * A word not claimed yet (0) counts as not running. */
static inline int rt__alive_check(_Atomic uint32_t *word)
{
    /* FUTEX_OWNER_DIED, set by the kernel in the dying tracker. */
    uint32_t w = atomic_load_explicit(word, memory_order_acquire);
    return w != 0 && (w & 0x40000000u) == 0;
}

/* Tracker, AS-safe: maps the page at FD and registers its word as a robust
 * futex held by this thread. FD stays open: the tracker hands it to
 * processes that join the run later. Without success the word stays 0 and
 * the host falls back to probing the pipe. */
void rt__alive_claim(int fd);

#endif /* RT_ALIVE_H */
