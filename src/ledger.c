/* SPDX-License-Identifier: MIT */
/* What a run holds: counted registrations, unmatched withdrawals, partial
 * lines. Tracker (live and replay), single-threaded, AS-safe. */
#include "ledger.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "objects.h"
#include "rtypes.h"

static uint64_t pending_seed(uint64_t seed, int src)
{
    return seed ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(src + 1));
}

void rt__ledger_init(struct rt_ledger *l, uint64_t seed, size_t max_names,
                     const struct rt_ledger_report *report)
{
    memset(l->carry, 0, sizeof(l->carry));
    l->bad_lines = 0;
    l->unknown_types = 0;
    l->report = report;
    rt__registry_init(&l->reg, seed, max_names, 0);
    for (int s = 0; s < RT_SRC_N; s++) {
        rt__registry_init(&l->pending[s], pending_seed(seed, s), max_names, 0);
    }
}

static void close_held(const struct rt_entry *e)
{
    const struct rt_entry_ext *x = rt__registry_ext(e);
    if (x != NULL && x->dirfd >= 0) {
        (void)close(x->dirfd);
    }
}

void rt__ledger_free(struct rt_ledger *l)
{
    unsigned n = rt__rtypes_count();
    for (unsigned t = 0; t < n; t++) {
        for (const struct rt_entry *e = rt__registry_first(&l->reg, t);
             e != NULL; e = e->next) {
            close_held(e);
        }
    }
    rt__registry_free(&l->reg);
    for (int s = 0; s < RT_SRC_N; s++) {
        rt__registry_free(&l->pending[s]);
    }
    memset(l->carry, 0, sizeof(l->carry));
    l->bad_lines = 0;
    l->unknown_types = 0;
}

static void bad(struct rt_ledger *l, const char *what,
                const unsigned char *line, size_t len)
{
    l->bad_lines++;
    if (l->report != NULL && l->report->bad_line != NULL) {
        l->report->bad_line(l->report->ctx, what, line, len);
    }
}

/* Counts saturate: a name registered 2^32 times stays registered. */
static uint32_t count_add(uint32_t a, uint32_t b)
{
    return b > UINT32_MAX - a ? UINT32_MAX : a + b;
}

static void not_registered(struct rt_ledger *l, const struct rt_entry *e)
{
    l->bad_lines++;
    if (l->report != NULL && l->report->not_registered != NULL) {
        l->report->not_registered(l->report->ctx, e->name, e->len,
                                  rt__rtypes_get(e->rtype)->name);
    }
}

int rt__ledger_add(struct rt_ledger *l, unsigned type,
                   const unsigned char *name, size_t len, uint32_t count,
                   const struct rt_entry_ext *ext)
{
    struct rt_entry *e;
    int r = rt__registry_put(&l->reg, type, name, len, &e);
    if (r < 0) {
        return r;
    }
    if (ext != NULL) {
        /* A folder held open for an earlier registration of the name is
         * replaced by the newer one. */
        close_held(e);
        if (rt__registry_set_ext(&l->reg, &e, ext) < 0) {
            if (r == 1) {
                rt__registry_delete(&l->reg, e);
            }
            return -ENOMEM;
        }
    }
    e->count = count_add(e->count, count);
    return 0;
}

static void drop_one(struct registry *reg, struct rt_entry *e)
{
    if (--e->count == 0) {
        close_held(e);
        rt__registry_delete(reg, e);
    }
}

int rt__ledger_withdraw(struct rt_ledger *l, unsigned type,
                        const unsigned char *name, size_t len)
{
    struct rt_entry *e = rt__registry_get(&l->reg, type, name, len);
    if (e == NULL) {
        return -ENOENT;
    }
    drop_one(&l->reg, e);
    return 0;
}

int rt__ledger_add_pending(struct rt_ledger *l, enum rt_src src, unsigned type,
                           const unsigned char *name, size_t len,
                           uint32_t count, int quiet)
{
    _Static_assert(RT_LEDGER_QUIET(RT_RTYPES_MAX) <= RT_REGISTRY_TYPES,
                   "quiet withdrawals have type indexes of their own");
    struct rt_entry *e;
    int r = rt__registry_put(
        &l->pending[src], quiet ? RT_LEDGER_QUIET(type) : type, name, len, &e);
    if (r < 0) {
        return r;
    }
    e->count = count_add(e->count, count);
    return 0;
}

static void cannot_store(struct rt_ledger *l, const struct rt_msg *m, int err)
{
    l->bad_lines++;
    if (l->report != NULL && l->report->cannot_store != NULL) {
        l->report->cannot_store(l->report->ctx, m->name, m->name_len, err);
    }
}

static void do_register(struct rt_ledger *l, enum rt_src src, unsigned t,
                        const struct rt_msg *m)
{
    /* The other source withdrew this name in a line written after this one
     * but read before it: the two cancel out. */
    struct registry *other = &l->pending[src ^ 1];
    struct rt_entry *p = rt__registry_get(other, t, m->name, m->name_len);
    if (p == NULL) {
        p = rt__registry_get(other, RT_LEDGER_QUIET(t), m->name, m->name_len);
    }
    if (p != NULL) {
        drop_one(other, p);
        return;
    }
    int r = rt__ledger_add(l, t, m->name, m->name_len, 1, NULL);
    if (r < 0) {
        cannot_store(l, m, r);
    }
}

/* UNREGISTER, or RT_FORGET when QUIET: nothing is said of a name that was
 * not registered. */
static void do_unregister(struct rt_ledger *l, enum rt_src src, unsigned t,
                          const struct rt_msg *m, int quiet)
{
    if (rt__ledger_withdraw(l, t, m->name, m->name_len) == 0) {
        return;
    }
    if (rt__ledger_add_pending(l, src, t, m->name, m->name_len, 1, quiet) < 0 &&
        !quiet) {
        /* No room to wait: say it now. */
        l->bad_lines++;
        if (l->report != NULL && l->report->not_registered != NULL) {
            l->report->not_registered(l->report->ctx, m->name, m->name_len,
                                      rt__rtypes_get(t)->name);
        }
    }
}

static void do_identify(struct rt_ledger *l, unsigned t, const struct rt_msg *m)
{
    struct rt_entry *e = rt__registry_get(&l->reg, t, m->name, m->name_len);
    if (m->dev == 0 && m->ino == 0) {
        bad(l, "identity without device and inode", m->name, m->name_len);
        return;
    }
    if (e == NULL) {
        /* Withdrawn already: the creation failed or was undone. */
        return;
    }
    const struct rt_entry_ext *old = rt__registry_ext(e);
    if (old != NULL && (old->dev != 0 || old->ino != 0) &&
        (old->dev != m->dev || old->ino != m->ino)) {
        /* Two creations of the name told their identities, this one read
         * last. Its writer may have been slow: its object unlinked since,
         * and the name given to the object whose identity we hold, whose
         * creator's message overtook this one. Then this identity is of
         * nothing any more, and taking it would make the cleanup leave the
         * object the run created last. The name's object now decides. */
        uint64_t dev;
        uint64_t ino;
        if (rt__object_identity(t, (const char *)e->name, &dev, &ino) == 0 &&
            dev == old->dev && ino == old->ino) {
            return;
        }
    }
    struct rt_entry_ext x = {m->dev, m->ino, 0, 0, (int32_t)m->pid, -1};
    if (rt__registry_set_ext(&l->reg, &e, &x) < 0) {
        cannot_store(l, m, -ENOMEM);
    }
}

static void apply(struct rt_ledger *l, enum rt_src src, const struct rt_msg *m)
{
    if (m->cmd == RT_CMD_PROBE) {
        return;
    }
    int t = rt__rtypes_find((const char *)m->rtype, m->rtype_len);
    if (t < 0) {
        l->bad_lines++;
        if (m->cmd == RT_CMD_REGISTER) {
            l->unknown_types++;
        }
        if (l->report != NULL && l->report->unknown_rtype != NULL) {
            l->report->unknown_rtype(l->report->ctx, m->name, m->name_len,
                                     m->rtype, m->rtype_len);
        }
        return;
    }
    unsigned flags = rt__rtypes_get((unsigned)t)->flags;
    if (flags & RT_RTYPE_PROBE_ONLY) {
        bad(l, "the noop type is only for probes", m->name, m->name_len);
        return;
    }
    if (flags & RT_RTYPE_ABSPATH) {
        /* Paths are removed with the tracker's rights: it takes them only
         * from a caller whose credentials it has checked (ctl.h). */
        bad(l, "paths are registered through the library only", m->name,
            m->name_len);
        return;
    }
    switch (m->cmd) {
    case RT_CMD_REGISTER:
        do_register(l, src, (unsigned)t, m);
        break;
    case RT_CMD_UNREGISTER:
        do_unregister(l, src, (unsigned)t, m, 0);
        break;
    case RT_CMD_FORGET:
        do_unregister(l, src, (unsigned)t, m, 1);
        break;
    case RT_CMD_IDENTIFY:
        do_identify(l, (unsigned)t, m);
        break;
    case RT_CMD_PROBE:
        break;
    }
}

/* Where, past the start of a line that cannot be used, a whole message may
 * begin: a writer that wrote part of a line and no newline (not one of
 * ours, nor CPython: both write whole lines) glues its fragment to the next
 * line, which would otherwise be lost with it. */
static size_t next_start(const unsigned char *line, size_t len, size_t from)
{
    static const char *const starts[] = {
        "REGISTER:", "UNREGISTER:", "PROBE:", "RT_FORGET:"};
    for (size_t p = from; p < len; p++) {
        if (line[p] == '{') {
            return p;
        }
        for (size_t k = 0; k < sizeof(starts) / sizeof(starts[0]); k++) {
            size_t n = strlen(starts[k]);
            if (len - p > n && memcmp(line + p, starts[k], n) == 0) {
                return p;
            }
        }
    }
    return len;
}

static void handle_line(struct rt_ledger *l, enum rt_src src,
                        const unsigned char *line, size_t len)
{
    if (len >= RT_LINE_MAX) {
        bad(l, "message too long", line, len);
        return;
    }
    struct rt_msg m;
    int r = rt__wire_parse(line, len, l->scratch, &m);
    if (r == 0) {
        apply(l, src, &m);
        return;
    }
    for (size_t p = next_start(line, len, 1); p < len;
         p = next_start(line, len, p + 1)) {
        struct rt_msg tail;
        if (rt__wire_parse(line + p, len - p, l->scratch, &tail) == 0) {
            bad(l, "incomplete message", line, p);
            apply(l, src, &tail);
            return;
        }
    }
    if (r == RT_WIRE_UNKNOWN_CMD) {
        bad(l, "unrecognized command", m.cmd_text, m.cmd_len);
    } else {
        bad(l, rt__wire_strerror(r), line, len);
    }
}

void rt__ledger_feed(struct rt_ledger *l, enum rt_src src,
                     const unsigned char *buf, size_t n)
{
    struct rt_carry *c = &l->carry[src];
    size_t pos = 0;
    while (pos < n) {
        const unsigned char *nl = memchr(buf + pos, '\n', n - pos);
        size_t len = nl != NULL ? (size_t)(nl - (buf + pos)) : n - pos;
        if (c->skipping) {
            /* The rest of a line already reported as too long. */
        } else if (c->have + len >= RT_LINE_MAX) {
            if (c->have > 0) {
                bad(l, "message too long", c->buf, c->have);
            } else {
                bad(l, "message too long", buf + pos, len);
            }
            c->have = 0;
            c->skipping = nl == NULL;
        } else if (nl == NULL) {
            memcpy(c->buf + c->have, buf + pos, len);
            c->have += len;
        } else if (c->have > 0) {
            memcpy(c->buf + c->have, buf + pos, len);
            handle_line(l, src, c->buf, c->have + len);
            c->have = 0;
        } else {
            handle_line(l, src, buf + pos, len);
        }
        if (nl == NULL) {
            break;
        }
        c->skipping = 0;
        pos += len + 1;
    }
}

static void report_pending(struct rt_ledger *l, enum rt_src src)
{
    struct registry *p = &l->pending[src];
    if (p->count == 0) {
        return;
    }
    /* The quiet ones, under RT_LEDGER_QUIET, go unsaid. */
    unsigned n = rt__rtypes_count();
    for (unsigned t = 0; t < n; t++) {
        for (const struct rt_entry *e = rt__registry_first(p, t); e != NULL;
             e = e->next) {
            for (uint32_t k = 0; k < e->count; k++) {
                not_registered(l, e);
            }
        }
    }
    rt__registry_free(p);
}

void rt__ledger_segment_end(struct rt_ledger *l, enum rt_src src)
{
    report_pending(l, (enum rt_src)(src ^ 1));
}

void rt__ledger_source_closed(struct rt_ledger *l, enum rt_src src)
{
    struct rt_carry *c = &l->carry[src];
    if (c->have > 0 && !c->skipping) {
        handle_line(l, src, c->buf, c->have);
    }
    c->have = 0;
    c->skipping = 0;
    /* Nothing more will come from SRC to cancel the other's withdrawals. */
    report_pending(l, (enum rt_src)(src ^ 1));
}

void rt__ledger_finish(struct rt_ledger *l)
{
    for (int s = 0; s < RT_SRC_N; s++) {
        report_pending(l, (enum rt_src)s);
    }
}

size_t rt__ledger_count(const struct rt_ledger *l, unsigned type)
{
    return rt__registry_count(&l->reg, type);
}
