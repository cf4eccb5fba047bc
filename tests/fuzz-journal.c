/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the journal (journal.h, recorder.h): the input is a
 * journal file, written into a memfd (a leading run of NUL bytes is
 * punched out as a hole, as compaction leaves it). Checked:
 *
 *  - the reader, against a model of the format written here from journal.h:
 *    every record is delivered as the model reads it (each raw record's
 *    bytes in order, from where they are in the file and nowhere past its
 *    end, then its end; meta lines; snapshots, completed or not), reading
 *    stops where and as the model says (struct rt_journal_end), and the
 *    file is never changed;
 *  - the replay: no crash, no leak (AddressSanitizer for malloc; the
 *    registries' mmap'd memory is counted), and every entry held has a
 *    type, a name without NUL, and no folder held open;
 *  - a journal cannot invent names: every name the replay holds is one
 *    the input spells, as a name in an "entry" or "path" meta line or in a
 *    REGISTER line of one pipe's bytes (raw records and "carry" data in the
 *    order the ledger joins them, a snapshot restarting them);
 *  - the replay is deterministic: twice from scratch, the same state;
 *  - compaction keeps the state: a snapshot of the replayed ledger,
 *    replayed alone, holds the same names, counts, identities, pending
 *    withdrawals, partial lines (one being skipped as too long included)
 *    and run, its unknown boot included; a count saturates rather than
 *    wrap, so no entry is held with a count of 0.
 *
 * Not checked, because it does not hold: that a journal replayed twice in
 * a row (the input, then the input again) leaves what the input leaves.
 * Counts add up; a torn or unfilled last record swallows the copy after
 * it; and withdrawals waiting for the other pipe meet what the first copy
 * left: the records A "UNREGISTER k", B "REGISTER k" "REGISTER k"
 * "UNREGISTER k", A "UNREGISTER k" "UNREGISTER k" "REGISTER k" hold k, and
 * twice in a row they do not.
 *
 * The known-* seeds are the three differences this target found between
 * a ledger and its snapshot replayed, since fixed: a count that wrapped to
 * 0, an unknown boot read back as the boot "-", and a line being skipped
 * that a snapshot did not mention.
 *
 * Seeds, tests/corpus-journal: journals of real trackers killed with their
 * runs (tracker-*), one written by the recorder around a snapshot
 * (recorder-snapshot), and made by hand from journal.h: torn, unfilled,
 * corrupt, NUL-padded, every meta and snapshot line, lines split across
 * records, garbage, the cases above (twice-differs, known-*), and quiet
 * withdrawals (RT_FORGET) waiting for the other pipe (forget).
 *
 * Test only, single-threaded; a broken invariant is a __builtin_trap(). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "journal.h"
#include "ledger.h"
#include "recorder.h"
#include "rtypes.h"
#include "wire.h"

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            __builtin_trap();                                                  \
        }                                                                      \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEED 0x9e3779b97f4a7c15ULL
#define MAX_NAMES ((size_t)1 << 20)
#define PAGE 4096

/* Out of memory in a fuzzer is the environment's fault: abort. */
static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n > 0 ? n : 1);
    if (p == NULL) {
        abort();
    }
    return p;
}

/* ---- what the code under test maps (-Wl,--wrap=mmap,--wrap=munmap) ---- */

void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd,
                  off_t off);
int __real_munmap(void *addr, size_t len);
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd,
                  off_t off);
int __wrap_munmap(void *addr, size_t len);

/* Only this thread's calls count: libFuzzer has threads of its own. */
static _Thread_local int counting;
static _Thread_local long long mapped;

void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd,
                  off_t off)
{
    void *p = __real_mmap(addr, len, prot, flags, fd, off);
    if (counting && p != MAP_FAILED) {
        mapped += (long long)len;
    }
    return p;
}

int __wrap_munmap(void *addr, size_t len)
{
    int r = __real_munmap(addr, len);
    if (counting && r == 0) {
        mapped -= (long long)len;
    }
    return r;
}

/* ---- the model of the format ---- */

enum ev_kind { EV_RAW, EV_META, EV_SNAP_BEGIN, EV_SNAP_LINE, EV_SNAP_END };

struct ev {
    enum ev_kind kind;
    char src;   /* EV_RAW: 'A' or 'B' */
    size_t off; /* the raw body, or the line (newline excluded) */
    size_t len;
};

static struct ev *evs;
static size_t nevs, cap_evs;

static void expect(enum ev_kind kind, char src, size_t off, size_t len)
{
    if (nevs == cap_evs) {
        cap_evs = cap_evs ? 2 * cap_evs : 64;
        evs = xrealloc(evs, cap_evs * sizeof(*evs));
    }
    evs[nevs++] = (struct ev){kind, src, off, len};
}

static int is_header(const uint8_t *h, char *ret_kind, uint64_t *ret_len)
{
    char k = (char)h[0];
    if (strchr("ABMS", k) == NULL || k == '\0' || h[1] != ' ' ||
        h[12] != '\n') {
        return 0;
    }
    int unfilled = 1;
    int digits = 1;
    uint64_t v = 0;
    for (int i = 2; i < 12; i++) {
        unfilled &= h[i] == '?';
        digits &= h[i] >= '0' && h[i] <= '9';
        v = v * 10 + (uint64_t)(h[i] - '0');
    }
    if (!(digits || (unfilled && (k == 'A' || k == 'B')))) {
        return 0;
    }
    *ret_kind = k;
    *ret_len = unfilled ? UINT64_MAX : v;
    return 1;
}

/* The lines of a meta or snapshot body as events of KIND: 0, or -1 when a
 * line is longer than a meta line can be (the lines before it are
 * delivered, the rest of the record is not). */
static int model_lines(const uint8_t *d, size_t off, size_t len,
                       enum ev_kind kind)
{
    size_t start = off;
    for (size_t i = off; i < off + len; i++) {
        if (d[i] == '\n') {
            expect(kind, 0, start, i - start);
            start = i + 1;
        } else if (i - start == RT_JOURNAL_LINE_MAX) {
            return -1;
        }
    }
    if (start < off + len) {
        expect(kind, 0, start, off + len - start);
    }
    return 0;
}

/* Reads D as journal.c must: the events, and where and why it stopped. */
static void model(const uint8_t *d, size_t size, struct rt_journal_end *e)
{
    nevs = 0;
    memset(e, 0, sizeof(*e));
    e->size = size;
    e->last_snap = UINT64_MAX;
    size_t pos = 0;
    for (;;) {
        while (pos < size && d[pos] == '\0') {
            pos++;
        }
        e->end = pos;
        if (pos >= size) {
            break;
        }
        char kind;
        uint64_t len;
        if (size - pos < RT_JOURNAL_HDR) {
            e->torn = 1;
            break;
        }
        if (!is_header(d + pos, &kind, &len)) {
            e->corrupt = 1;
            break;
        }
        size_t body = pos + RT_JOURNAL_HDR;
        if (len == UINT64_MAX) {
            e->unfilled = 1;
            e->fill_at = pos;
            e->fill_len = len = size - body;
        } else if (len > size - body) {
            e->torn = 1;
            break;
        }
        if (kind == 'A' || kind == 'B') {
            expect(EV_RAW, kind, body, (size_t)len);
        } else if (kind == 'M') {
            (void)model_lines(d, body, (size_t)len, EV_META);
        } else {
            expect(EV_SNAP_BEGIN, 0, 0, 0);
            if (model_lines(d, body, (size_t)len, EV_SNAP_LINE) == 0) {
                expect(EV_SNAP_END, 0, 0, 0);
                e->last_snap = pos;
            }
        }
        pos = body + (size_t)len;
        e->end = pos;
        if (e->unfilled) {
            break;
        }
    }
}

/* ---- the reader, checked against the model ---- */

struct reading {
    const uint8_t *d;
    size_t size;
    size_t next;     /* the event expected */
    size_t consumed; /* of the current raw record */
};

static void on_raw(void *ctx, char src, const unsigned char *p, size_t n)
{
    struct reading *r = ctx;
    CHECK(r->next < nevs);
    const struct ev *v = &evs[r->next];
    CHECK(v->kind == EV_RAW && v->src == src);
    /* The next bytes of the record, none past its end (nor the file's). */
    CHECK(n > 0 && p != NULL && n <= v->len - r->consumed);
    CHECK(v->off + r->consumed + n <= r->size);
    CHECK(memcmp(p, r->d + v->off + r->consumed, n) == 0);
    r->consumed += n;
}

static void on_raw_end(void *ctx, char src)
{
    struct reading *r = ctx;
    CHECK(r->next < nevs);
    const struct ev *v = &evs[r->next];
    CHECK(v->kind == EV_RAW && v->src == src && r->consumed == v->len);
    r->next++;
    r->consumed = 0;
}

static void line_event(struct reading *r, enum ev_kind kind, const char *line,
                       size_t n)
{
    CHECK(r->next < nevs);
    const struct ev *v = &evs[r->next++];
    CHECK(v->kind == kind && v->len == n);
    CHECK(n == 0 || memcmp(line, r->d + v->off, n) == 0);
}

static void on_meta(void *ctx, const char *line, size_t n)
{
    line_event(ctx, EV_META, line, n);
}

static void on_snap_line(void *ctx, const char *line, size_t n)
{
    line_event(ctx, EV_SNAP_LINE, line, n);
}

static void on_snap_begin(void *ctx)
{
    struct reading *r = ctx;
    CHECK(r->next < nevs && evs[r->next].kind == EV_SNAP_BEGIN);
    r->next++;
}

static void on_snap_end(void *ctx)
{
    struct reading *r = ctx;
    CHECK(r->next < nevs && evs[r->next].kind == EV_SNAP_END);
    r->next++;
}

static void check_reader(int fd, const uint8_t *d, size_t size)
{
    struct rt_journal_end want;
    model(d, size, &want);
    struct reading r = {d, size, 0, 0};
    struct rt_journal_visitor v = {
        &r,           on_raw,      on_raw_end, on_meta, on_snap_begin,
        on_snap_line, on_snap_end,
    };
    struct rt_journal_end got;
    CHECK(rt__journal_read(fd, 0, &v, &got) == 0);
    CHECK(r.next == nevs && r.consumed == 0);
    CHECK(got.end == want.end && got.size == want.size);
    CHECK(got.torn == want.torn && got.corrupt == want.corrupt);
    CHECK(got.unfilled == want.unfilled);
    CHECK(!want.unfilled ||
          (got.fill_at == want.fill_at && got.fill_len == want.fill_len));
    CHECK(got.last_snap == want.last_snap);
    CHECK(got.end <= got.size);
}

/* ---- the names a journal can spell ---- */

struct name {
    int type;
    size_t len;
    unsigned char *bytes;
};

static struct name *names;
static size_t nnames, cap_names;

static void can_spell(int type, const unsigned char *p, size_t len)
{
    if (type < 0 || len == 0) {
        return;
    }
    if (nnames == cap_names) {
        cap_names = cap_names ? 2 * cap_names : 64;
        names = xrealloc(names, cap_names * sizeof(*names));
    }
    unsigned char *copy = xrealloc(NULL, len);
    memcpy(copy, p, len);
    names[nnames++] = (struct name){type, len, copy};
}

static int spelled(unsigned type, const unsigned char *p, size_t len)
{
    for (size_t i = 0; i < nnames; i++) {
        if (names[i].type == (int)type && names[i].len == len &&
            memcmp(names[i].bytes, p, len) == 0) {
            return 1;
        }
    }
    return 0;
}

/* One pipe's bytes as the ledger joins them. */
struct stream {
    unsigned char *p;
    size_t len, cap;
};

static void append(struct stream *s, const unsigned char *p, size_t n)
{
    if (s->len + n > s->cap) {
        s->cap = 2 * (s->len + n);
        s->p = xrealloc(s->p, s->cap);
    }
    if (n > 0) {
        memcpy(s->p + s->len, p, n);
    }
    s->len += n;
}

static const char *const starts[] = {
    "REGISTER:", "UNREGISTER:", "PROBE:", "RT_FORGET:"};

/* Where the ledger may find a message in a line (ledger.c, next_start):
 * its start, or a '{' or a command further in. */
static int may_start(const unsigned char *line, size_t len, size_t p)
{
    if (p == 0 || line[p] == '{') {
        return 1;
    }
    for (size_t k = 0; k < sizeof(starts) / sizeof(starts[0]); k++) {
        size_t n = strlen(starts[k]);
        if (len - p > n && memcmp(line + p, starts[k], n) == 0) {
            return 1;
        }
    }
    return 0;
}

/* The names the REGISTER lines of S spell, however the ledger reads them. */
static void spell_stream(const struct stream *s)
{
    size_t start = 0;
    while (start < s->len) {
        const unsigned char *nl = memchr(s->p + start, '\n', s->len - start);
        size_t len =
            nl != NULL ? (size_t)(nl - (s->p + start)) : s->len - start;
        const unsigned char *line = s->p + start;
        unsigned char *scratch = xrealloc(NULL, RT_WIRE_SCRATCH(len));
        for (size_t p = 0; p < len; p++) {
            struct rt_msg m;
            if (may_start(line, len, p) &&
                rt__wire_parse(line + p, len - p, scratch, &m) == 0 &&
                m.cmd == RT_CMD_REGISTER) {
                can_spell(rt__rtypes_find((const char *)m.rtype, m.rtype_len),
                          m.name, m.name_len);
            }
        }
        free(scratch);
        start += len + 1;
    }
}

static unsigned char decoded[RT_JOURNAL_LINE_MAX];

/* A meta or snapshot line: the name it gives, and the bytes a "carry"
 * line puts back into a pipe's stream (into TO[]). */
static void spell_line(const char *line, size_t n, struct stream *to)
{
    const char *v;
    size_t vn;
    if (rt__jline_is(line, n, "carry")) {
        ssize_t dn =
            rt__jline_get_b64(line, n, "data", decoded, sizeof(decoded));
        if (rt__jline_get(line, n, "src", &v, &vn) == 0 && vn == 1 &&
            (v[0] == 'A' || v[0] == 'B') && dn > 0) {
            append(&to[v[0] == 'A' ? RT_SRC_A : RT_SRC_B], decoded, (size_t)dn);
        }
        return;
    }
    if (!rt__jline_is(line, n, "entry") && !rt__jline_is(line, n, "path")) {
        return;
    }
    ssize_t len = rt__jline_get_b64(line, n, "name", decoded, sizeof(decoded));
    if (rt__jline_get(line, n, "rtype", &v, &vn) == 0 && len > 0) {
        can_spell(rt__rtypes_find(v, vn), decoded, (size_t)len);
    }
}

static void spell_journal(const uint8_t *d)
{
    for (size_t i = 0; i < nnames; i++) {
        free(names[i].bytes);
    }
    nnames = 0;
    struct stream cur[RT_SRC_N] = {{0}};
    struct stream staged[RT_SRC_N] = {{0}};
    for (size_t i = 0; i < nevs; i++) {
        const struct ev *v = &evs[i];
        const char *line = (const char *)d + v->off;
        switch (v->kind) {
        case EV_RAW:
            append(&cur[v->src == 'A' ? RT_SRC_A : RT_SRC_B], d + v->off,
                   v->len);
            break;
        case EV_META:
            spell_line(line, v->len, cur);
            break;
        case EV_SNAP_BEGIN:
            staged[0].len = staged[1].len = 0;
            break;
        case EV_SNAP_LINE:
            spell_line(line, v->len, staged);
            break;
        case EV_SNAP_END:
            /* The snapshot's partial lines replace the pipes' streams. */
            for (int s = 0; s < RT_SRC_N; s++) {
                spell_stream(&cur[s]);
                cur[s].len = 0;
                append(&cur[s], staged[s].p, staged[s].len);
            }
            break;
        }
    }
    for (int s = 0; s < RT_SRC_N; s++) {
        spell_stream(&cur[s]);
        free(cur[s].p);
        free(staged[s].p);
    }
}

static void check_names(const struct rt_ledger *l)
{
    unsigned types = rt__rtypes_count();
    size_t held = 0;
    for (unsigned t = 0; t < types; t++) {
        for (const struct rt_entry *e = rt__registry_first(&l->reg, t);
             e != NULL; e = e->next) {
            CHECK(e->rtype == t && e->len > 0 && e->name[e->len] == '\0');
            CHECK(memchr(e->name, '\0', e->len) == NULL);
            CHECK(spelled(t, e->name, e->len));
            held++;
        }
    }
    CHECK(held == l->reg.count);
}

/* ---- ledgers compared ---- */

struct ext {
    uint64_t dev, ino, pdev, pino;
    int32_t pid;
};

static struct ext ext_of(const struct rt_entry *e, int normalise)
{
    const struct rt_entry_ext *x = rt__registry_ext(e);
    struct ext v = {0, 0, 0, 0, 0};
    if (x != NULL) {
        v = (struct ext){x->dev, x->ino, x->pdev, x->pino, x->pid};
        CHECK(x->dirfd == -1);
    }
    /* A snapshot writes a pid only when it is one. */
    if (normalise && v.pid < 0) {
        v.pid = 0;
    }
    return v;
}

/* Registry A equals B, entry by entry in order, counts and identities
 * included; with SNAP, as B is A's snapshot replayed. */
static void same_registry(const struct registry *a, const struct registry *b,
                          int snap)
{
    /* The types, then the quiet withdrawals' (pending registries only). */
    unsigned types = rt__rtypes_count();
    for (unsigned k = 0; k < 2 * types; k++) {
        unsigned t = k < types ? k : RT_LEDGER_QUIET(k - types);
        const struct rt_entry *y = rt__registry_first(b, t);
        for (const struct rt_entry *x = rt__registry_first(a, t); x != NULL;
             x = x->next) {
            CHECK(x->count > 0);
            CHECK(y != NULL && x->len == y->len && x->count == y->count);
            CHECK(memcmp(x->name, y->name, x->len) == 0);
            struct ext ex = ext_of(x, snap);
            struct ext ey = ext_of(y, snap);
            CHECK(ex.dev == ey.dev && ex.ino == ey.ino);
            CHECK(ex.pdev == ey.pdev && ex.pino == ey.pino);
            CHECK(ex.pid == ey.pid);
            y = y->next;
        }
        CHECK(y == NULL);
    }
}

static void same_carry(const struct rt_carry *a, const struct rt_carry *b,
                       int snap)
{
    int none = snap && !a->skipping && a->have == 0;
    if (none) {
        CHECK(b->have == 0 && !b->skipping);
        return;
    }
    CHECK(a->have == b->have && a->skipping == b->skipping);
    CHECK(memcmp(a->buf, b->buf, a->have) == 0);
}

static void same_ledger(const struct rt_ledger *a, const struct rt_ledger *b,
                        int snap)
{
    same_registry(&a->reg, &b->reg, snap);
    for (int s = 0; s < RT_SRC_N; s++) {
        same_registry(&a->pending[s], &b->pending[s], snap);
        same_carry(&a->carry[s], &b->carry[s], snap);
    }
    CHECK(snap || a->bad_lines == b->bad_lines);
}

static void same_info(const struct rt_runinfo *a, const struct rt_runinfo *b,
                      int snap)
{
    CHECK(a->have_run == b->have_run);
    CHECK(a->uid == b->uid && a->b_dev == b->b_dev && a->b_ino == b->b_ino);
    CHECK(a->a_dev == b->a_dev && a->a_ino == b->a_ino);
    CHECK(a->pidns == b->pidns && a->time == b->time);
    CHECK(a->starter == b->starter);
    int boot_same = strcmp(a->boot, b->boot) == 0;
    CHECK(boot_same || (snap && !a->have_run));
    CHECK(a->tracker_pid == b->tracker_pid);
    /* A snapshot says nothing of a tracker whose pid is not known, nor
     * that the run was done (no snapshot is written after "done"). */
    if (!snap || a->tracker_pid != 0) {
        CHECK(a->tracker_start == b->tracker_start);
        CHECK(a->tracker_time == b->tracker_time);
    }
    CHECK(snap || a->done == b->done);
}

/* ---- one input ---- */

static int journal_fd = -1;
static int snap_fd = -1;

static int new_memfd(const char *name)
{
    int fd = memfd_create(name, MFD_CLOEXEC);
    CHECK(fd >= 0);
    return fd;
}

static void load(int fd, const uint8_t *d, size_t size)
{
    CHECK(ftruncate(fd, 0) == 0);
    size_t done = 0;
    while (done < size) {
        ssize_t w = pwrite(fd, d + done, size - done, (off_t)done);
        CHECK(w > 0);
        done += (size_t)w;
    }
    /* Leading NUL pages as a hole, as compaction leaves them. */
    size_t nul = 0;
    while (nul < size && d[nul] == '\0') {
        nul++;
    }
    if (nul >= PAGE) {
        CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
                        (off_t)(nul / PAGE * PAGE)) == 0);
    }
}

static void unchanged(int fd, const uint8_t *d, size_t size)
{
    unsigned char *back = xrealloc(NULL, size + 1);
    CHECK(pread(fd, back, size + 1, 0) == (ssize_t)size);
    CHECK(size == 0 || memcmp(back, d, size) == 0);
    free(back);
}

struct replayed {
    struct rt_ledger l;
    struct rt_runinfo info;
    uint64_t end;
    int torn;
};

static struct replayed first, second, snapped;

static void replay(int fd, struct replayed *r)
{
    rt__ledger_init(&r->l, SEED, MAX_NAMES, NULL);
    memset(&r->info, 0, sizeof(r->info));
    CHECK(rt__recorder_replay(fd, &r->l, &r->info, &r->end, &r->torn) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (journal_fd < 0) {
        journal_fd = new_memfd("journal");
        snap_fd = new_memfd("snapshot");
    }
    load(journal_fd, data, size);
    counting = 1;
    mapped = 0;

    check_reader(journal_fd, data, size);
    spell_journal(data);

    replay(journal_fd, &first);
    check_names(&first.l);
    struct rt_journal_end e;
    model(data, size, &e);
    CHECK(first.end == (e.unfilled ? e.size : e.end));
    CHECK(first.torn == (e.torn || e.corrupt));

    replay(journal_fd, &second);
    same_ledger(&first.l, &second.l, 0);
    same_info(&first.info, &second.info, 0);
    CHECK(first.end == second.end && first.torn == second.torn);
    rt__ledger_free(&second.l);

    /* Compaction: the ledger's snapshot, alone in a file, replayed. */
    CHECK(ftruncate(snap_fd, 0) == 0);
    struct rt_recorder rec;
    CHECK(rt__recorder_open(&rec, snap_fd, 0, &first.l, &first.info) == 0);
    CHECK(rt__recorder_snapshot(&rec, &first.l, &first.info) == 0);
    replay(snap_fd, &snapped);
    CHECK(!snapped.torn);
    same_ledger(&first.l, &snapped.l, 1);
    same_info(&first.info, &snapped.info, 1);
    rt__ledger_free(&snapped.l);
    rt__ledger_free(&first.l);

    unchanged(journal_fd, data, size);
    counting = 0;
    /* Everything mapped was unmapped. */
    CHECK(mapped == 0);
    return 0;
}
