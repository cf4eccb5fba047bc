/* SPDX-License-Identifier: MIT */
/* What a run holds and how messages change it: the registered names with
 * their counts and identities, unmatched withdrawals, and the bytes of a
 * line still on its way. The live tracker, the replay of a journal, the
 * sweep and `resourcetracker list` all go through it, so a replayed journal
 * means exactly what the tracker understood. Tracker, single-threaded,
 * AS-safe (no allocation but the registry's mmap'd slabs). */
#ifndef RT_LEDGER_H
#define RT_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include "registry.h"
#include "rtypes.h"
#include "wire.h"

/* Where a message came from: the private pipe of the processes that started
 * the tracker (A), or the public one (B: rt_getfd, exec'ed children,
 * CPython). Lines are split per source; order holds within a source. */
enum rt_src { RT_SRC_A = 0, RT_SRC_B = 1, RT_SRC_N = 2 };

/* The warnings a ledger gives; any may be NULL (a replay passes none: the
 * tracker that read the lines said it then). */
struct rt_ledger_report {
    void *ctx;
    void (*bad_line)(void *ctx, const char *what, const unsigned char *line,
                     size_t len);
    void (*unknown_rtype)(void *ctx, const unsigned char *name, size_t nlen,
                          const unsigned char *rtype, size_t rlen);
    void (*not_registered)(void *ctx, const unsigned char *name, size_t nlen,
                           const char *rtype);
    void (*cannot_store)(void *ctx, const unsigned char *name, size_t nlen,
                         int err);
};

struct rt_carry {
    size_t have;
    int skipping; /* inside a line too long to keep */
    unsigned char buf[RT_LINE_MAX];
};

struct rt_ledger {
    struct registry reg; /* every entry has count > 0 */
    /* UNREGISTERs (and RT_FORGETs, under RT_LEDGER_QUIET) from each source
     * that matched nothing: a REGISTER of the same name from the other
     * source, read later but written earlier, cancels one; the rest are
     * reported (the quiet ones dropped) once the other source has been
     * read past them (see rt__ledger_segment_end). */
    struct registry pending[RT_SRC_N];
    struct rt_carry carry[RT_SRC_N];
    unsigned bad_lines;
    /* Registrations of types this process does not know (a journal of a
     * program with types of its own, replayed elsewhere): they cannot be
     * held here, so whoever replays must not take the journal for whole. */
    unsigned unknown_types;
    const struct rt_ledger_report *report;
    unsigned char scratch[RT_WIRE_SCRATCH(RT_LINE_MAX)];
};

/* Prepares an empty ledger (SEED keys its hashes, MAX_NAMES bounds it). */
void rt__ledger_init(struct rt_ledger *l, uint64_t seed, size_t max_names,
                     const struct rt_ledger_report *report);

/* Unmaps everything; the ledger is empty afterwards (report kept). */
void rt__ledger_free(struct rt_ledger *l);

/* N bytes read from SRC: complete lines are applied, the rest is kept for
 * the next call. */
void rt__ledger_feed(struct rt_ledger *l, enum rt_src src,
                     const unsigned char *buf, size_t n);

/* A segment of SRC (everything its pipe held when it was read) has been
 * fed: withdrawals from the other source still unmatched are reported and
 * dropped, since whatever was written before them has now been read. */
void rt__ledger_segment_end(struct rt_ledger *l, enum rt_src src);

/* SRC reached end-of-file: an unterminated last line is applied as a line. */
void rt__ledger_source_closed(struct rt_ledger *l, enum rt_src src);

/* Every source is done: the unmatched withdrawals left are reported. */
void rt__ledger_finish(struct rt_ledger *l);

/* One registration of (TYPE, NAME) more, or one less, outside the pipes
 * (path types through the control socket, snapshot entries). EXT, when not
 * NULL, becomes the entry's extension. Registering returns 0 or -errno;
 * withdrawing returns 0, or -ENOENT when nothing was registered. An entry
 * whose count drops to 0 is removed, and the folder it held open closed. */
int rt__ledger_add(struct rt_ledger *l, unsigned type,
                   const unsigned char *name, size_t len, uint32_t count,
                   const struct rt_entry_ext *ext);
int rt__ledger_withdraw(struct rt_ledger *l, unsigned type,
                        const unsigned char *name, size_t len);

/* An unmatched withdrawal restored from a snapshot; QUIET for RT_FORGET's,
 * which are never reported. */
int rt__ledger_add_pending(struct rt_ledger *l, enum rt_src src, unsigned type,
                           const unsigned char *name, size_t len,
                           uint32_t count, int quiet);

/* In the pending registries, a quiet withdrawal of type T is held under
 * this type index, so that its count stays apart from T's. */
#define RT_LEDGER_QUIET(t) ((t) + RT_RTYPES_MAX)

/* Names held of TYPE, their registrations counted once each. */
size_t rt__ledger_count(const struct rt_ledger *l, unsigned type);

#endif /* RT_LEDGER_H */
