/* SPDX-License-Identifier: MIT */
/* The tracker's journal. Tracker, single-threaded, AS-safe. */

/* splice(2) and fallocate(2) with FALLOC_FL_PUNCH_HOLE: Linux. Without
 * splice the tracker reads the pipe and writes the journal (a tracker
 * killed between the two loses what it read); without hole punching the
 * journal is not compacted. */
#define _GNU_SOURCE
#include "recorder.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdio.h"
#include "journal.h"
#include "rtypes.h"

/* A splice moves at most this much: more than a pipe holds. */
#define SPLICE_MAX ((size_t)16 << 20)

/* Compaction: once the journal has grown by this much plus four times the
 * size of the last snapshot. */
#define COMPACT_MIN ((uint64_t)1 << 20)

static unsigned char buf[65536];

static int pwrite_full(int fd, const void *data, size_t n, uint64_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t w = pwrite(fd, (const char *)data + done, n - done,
                           (off_t)(off + done));
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return w < 0 ? -errno : -EIO;
        }
        done += (size_t)w;
    }
    return 0;
}

/* ---- replay ---- */

struct replay {
    struct rt_ledger *l;
    struct rt_runinfo *info;
    /* A snapshot is built here, and replaces L's content when complete. */
    struct rt_ledger *stage;
    struct rt_runinfo stage_info;
    int in_snap;
};

/* Room for a snapshot being read: static, the replay runs once. */
static struct rt_ledger stage_ledger;
static unsigned char name_buf[RT_JOURNAL_LINE_MAX];

static void apply_run(struct rt_runinfo *info, const struct rt_jview *jv)
{
    if (rt__jview_is(jv, "run")) {
        info->have_run = 1;
        (void)rt__jview_num(jv, "uid", &info->uid);
        (void)rt__jview_pair(jv, "b", &info->b_dev, &info->b_ino);
        (void)rt__jview_pair(jv, "a", &info->a_dev, &info->a_ino);
        (void)rt__jview_num(jv, "pidns", &info->pidns);
        (void)rt__jview_num(jv, "time", &info->time);
        (void)rt__jview_num(jv, "starter", &info->starter);
        const char *v;
        size_t vn;
        if (rt__jview_get(jv, "boot", &v, &vn) == 0 &&
            vn < sizeof(info->boot)) {
            /* "-" is how an unknown boot is written: it reads back as
             * unknown, not as a boot of that name. */
            vn = vn == 1 && v[0] == '-' ? 0 : vn;
            memcpy(info->boot, v, vn);
            info->boot[vn] = '\0';
        }
    } else if (rt__jview_is(jv, "tracker")) {
        (void)rt__jview_num(jv, "pid", &info->tracker_pid);
        (void)rt__jview_num(jv, "start", &info->tracker_start);
        (void)rt__jview_num(jv, "time", &info->tracker_time);
    } else if (rt__jview_is(jv, "done")) {
        info->done = 1;
    }
}

/* The type a line names: -1 for one unknown here, -2 for one never held. */
static int line_type(const struct rt_jview *jv)
{
    const char *v;
    size_t vn;
    if (rt__jview_get(jv, "rtype", &v, &vn) < 0) {
        return -1;
    }
    int t = rt__rtypes_find(v, vn);
    /* A noop is never held, so a journal that says one is is not ours. */
    if (t >= 0 && (rt__rtypes_get((unsigned)t)->flags & RT_RTYPE_PROBE_ONLY)) {
        return -2;
    }
    return t;
}

/* The identity fields of an entry or path line; 1 if any. */
static int line_ext(const struct rt_jview *jv, struct rt_entry_ext *x)
{
    uint64_t pid = 0;
    *x = (struct rt_entry_ext){0, 0, 0, 0, 0, -1};
    int have = rt__jview_num(jv, "dev", &x->dev) == 0;
    have &= rt__jview_num(jv, "ino", &x->ino) == 0;
    int phave = rt__jview_num(jv, "pdev", &x->pdev) == 0;
    phave &= rt__jview_num(jv, "pino", &x->pino) == 0;
    if (!have) {
        x->dev = x->ino = 0;
    }
    if (!phave) {
        x->pdev = x->pino = 0;
    }
    if (rt__jview_num(jv, "pid", &pid) == 0 && pid <= INT32_MAX) {
        x->pid = (int32_t)pid;
    }
    return have || phave || x->pid != 0;
}

/* An "entry", "pending", "carry" or "path" line applied to L. */
static void apply_state(struct rt_ledger *l, const struct rt_jview *jv)
{
    int t = line_type(jv);
    ssize_t len = rt__jview_b64(jv, "name", name_buf, sizeof(name_buf));
    if (rt__jview_is(jv, "carry")) {
        const char *src;
        size_t sn;
        ssize_t dlen = rt__jview_b64(jv, "data", name_buf, sizeof(name_buf));
        uint64_t skip = 0;
        (void)rt__jview_num(jv, "skip", &skip);
        if (rt__jview_get(jv, "src", &src, &sn) < 0 || sn != 1 ||
            (src[0] != 'A' && src[0] != 'B')) {
            return;
        }
        enum rt_src s = src[0] == 'A' ? RT_SRC_A : RT_SRC_B;
        if (skip == 1) {
            /* Already reported: the rest of that line is dropped in
             * silence, as the live tracker would have. */
            l->carry[s].have = 0;
            l->carry[s].skipping = 1;
        } else if (dlen > 0) {
            rt__ledger_feed(l, s, name_buf, (size_t)dlen);
        }
        return;
    }
    if (t == -1 && len > 0 &&
        (rt__jview_is(jv, "entry") || rt__jview_is(jv, "path"))) {
        l->unknown_types++;
    }
    if (t < 0 || len <= 0 || memchr(name_buf, '\0', (size_t)len) != NULL) {
        return;
    }
    struct rt_entry_ext x;
    int has_ext = line_ext(jv, &x);
    uint64_t count = 1;
    (void)rt__jview_num(jv, "count", &count);
    if (count == 0 || count > UINT32_MAX) {
        return;
    }
    if (rt__jview_is(jv, "entry")) {
        (void)rt__ledger_add(l, (unsigned)t, name_buf, (size_t)len,
                             (uint32_t)count, has_ext ? &x : NULL);
    } else if (rt__jview_is(jv, "pending")) {
        const char *src;
        size_t sn;
        uint64_t quiet = 0;
        (void)rt__jview_num(jv, "quiet", &quiet);
        if (rt__jview_get(jv, "src", &src, &sn) == 0 && sn == 1 &&
            (src[0] == 'A' || src[0] == 'B')) {
            (void)rt__ledger_add_pending(l, src[0] == 'A' ? RT_SRC_A : RT_SRC_B,
                                         (unsigned)t, name_buf, (size_t)len,
                                         (uint32_t)count, quiet != 0);
        }
    } else if (rt__jview_is(jv, "path")) {
        const char *op;
        size_t on;
        if (rt__jview_get(jv, "op", &op, &on) < 0) {
            return;
        }
        if (on == 3 && memcmp(op, "reg", 3) == 0) {
            (void)rt__ledger_add(l, (unsigned)t, name_buf, (size_t)len, 1,
                                 has_ext ? &x : NULL);
        } else if (on == 5 && memcmp(op, "unreg", 5) == 0) {
            (void)rt__ledger_withdraw(l, (unsigned)t, name_buf, (size_t)len);
        }
    }
}

static void on_raw(void *ctx, char src, const unsigned char *data, size_t n)
{
    struct replay *r = ctx;
    rt__ledger_feed(r->l, src == 'A' ? RT_SRC_A : RT_SRC_B, data, n);
}

static void on_raw_end(void *ctx, char src)
{
    struct replay *r = ctx;
    rt__ledger_segment_end(r->l, src == 'A' ? RT_SRC_A : RT_SRC_B);
}

static void on_meta(void *ctx, const char *line, size_t n)
{
    struct replay *r = ctx;
    struct rt_jview jv;
    rt__jview_parse(&jv, line, n);
    apply_run(r->info, &jv);
    apply_state(r->l, &jv);
}

static void on_snap_begin(void *ctx)
{
    struct replay *r = ctx;
    rt__ledger_free(r->stage);
    rt__ledger_init(r->stage, r->l->reg.seed, r->l->reg.max_entries, NULL);
    r->stage_info = (struct rt_runinfo){0};
    r->in_snap = 1;
}

static void on_snap_line(void *ctx, const char *line, size_t n)
{
    struct replay *r = ctx;
    struct rt_jview jv;
    rt__jview_parse(&jv, line, n);
    apply_run(&r->stage_info, &jv);
    apply_state(r->stage, &jv);
}

/* A complete snapshot: it is what the run held. */
static void on_snap_end(void *ctx)
{
    struct replay *r = ctx;
    const struct rt_ledger_report *report = r->l->report;
    rt__ledger_free(r->l);
    /* Move the staged registries in; the staging area is emptied (its
     * memory now belongs to L). */
    r->l->reg = r->stage->reg;
    memcpy(r->l->pending, r->stage->pending, sizeof(r->l->pending));
    memcpy(r->l->carry, r->stage->carry, sizeof(r->l->carry));
    r->l->unknown_types = r->stage->unknown_types;
    r->l->report = report;
    rt__ledger_init(r->stage, r->l->reg.seed, r->l->reg.max_entries, NULL);
    int done = r->info->done;
    *r->info = r->stage_info;
    r->info->done |= done;
    r->in_snap = 0;
}

int rt__recorder_replay(int fd, struct rt_ledger *l, struct rt_runinfo *info,
                        uint64_t *ret_end, int *ret_torn)
{
    struct replay r = {.l = l, .info = info, .stage = &stage_ledger};
    const struct rt_ledger_report *report = l->report;
    /* What the journal's tracker understood, it reported at the time. */
    l->report = NULL;
    rt__ledger_init(r.stage, l->reg.seed, l->reg.max_entries, NULL);
    struct rt_journal_visitor v = {
        .ctx = &r,
        .raw = on_raw,
        .raw_end = on_raw_end,
        .meta = on_meta,
        .snap_begin = on_snap_begin,
        .snap_line = on_snap_line,
        .snap_end = on_snap_end,
    };
    struct rt_journal_end e;
    int rc = rt__journal_read(fd, 0, &v, &e);
    rt__ledger_free(r.stage);
    l->report = report;
    if (rc < 0) {
        return rc;
    }
    *ret_end = e.unfilled ? e.size : e.end;
    *ret_torn = e.torn || e.corrupt;
    return 0;
}

static void info_meta(void *ctx, const char *line, size_t n)
{
    struct rt_jview jv;
    rt__jview_parse(&jv, line, n);
    apply_run(ctx, &jv);
}

int rt__recorder_runinfo(int fd, struct rt_runinfo *info)
{
    memset(info, 0, sizeof(*info));
    struct rt_journal_visitor v = {
        .ctx = info,
        .meta = info_meta,
        .snap_line = info_meta,
    };
    struct rt_journal_end e;
    return rt__journal_read(fd, 0, &v, &e);
}

/* ---- writing ---- */

/* Repairs the tail of the journal FD for appending: a raw record left with
 * no length (its tracker died right after moving the data) gets it; a
 * record cut by a crash is truncated away, so that new records start where
 * it started. Returns the offset of the end, or -errno. */
static int64_t repair_tail(int fd)
{
    struct rt_journal_visitor none = {0};
    struct rt_journal_end e;
    int rc = rt__journal_read(fd, 0, &none, &e);
    if (rc < 0) {
        return rc;
    }
    if (e.unfilled) {
        char hdr[RT_JOURNAL_HDR];
        rt__journal_header(hdr, 'A', e.fill_len);
        rc = pwrite_full(fd, hdr + 2, 10, e.fill_at + 2);
        return rc < 0 ? rc : (int64_t)e.size;
    }
    if ((e.torn || e.corrupt) && ftruncate(fd, (off_t)e.end) < 0) {
        return -errno;
    }
    return (int64_t)e.end;
}

int rt__recorder_open(struct rt_recorder *r, int fd, int replay,
                      struct rt_ledger *l, struct rt_runinfo *info)
{
    r->fd = -1;
    r->pos = r->snap_last = r->since = 0;
    r->broken = 0;
    if (replay) {
        uint64_t end;
        int torn;
        int rc = rt__recorder_replay(fd, l, info, &end, &torn);
        if (rc < 0) {
            return rc;
        }
    }
    int64_t end = repair_tail(fd);
    if (end < 0) {
        return (int)end;
    }
    r->fd = fd;
    r->pos = (uint64_t)end;
    return 0;
}

int rt__recorder_resume(struct rt_recorder *r, int fd)
{
    return rt__recorder_open(r, fd, 0, NULL, NULL);
}

int rt__recorder_meta(struct rt_recorder *r, const char *line, size_t len)
{
    if (r->fd < 0) {
        return -EBADF;
    }
    if (RT_JOURNAL_HDR + len > sizeof(buf)) {
        return -ENAMETOOLONG;
    }
    rt__journal_header((char *)buf, 'M', len);
    memcpy(buf + RT_JOURNAL_HDR, line, len);
    int rc = pwrite_full(r->fd, buf, RT_JOURNAL_HDR + len, r->pos);
    if (rc == 0) {
        r->pos += RT_JOURNAL_HDR + len;
        r->since += RT_JOURNAL_HDR + len;
    }
    return rc;
}

static void feed_back(int fd, uint64_t off, size_t n, enum rt_src src,
                      struct rt_ledger *l)
{
    while (n > 0) {
        size_t want = n < sizeof(buf) ? n : sizeof(buf);
        ssize_t got;
        do {
            got = pread(fd, buf, want, (off_t)off);
        } while (got < 0 && errno == EINTR);
        if (got <= 0) {
            /* What cannot be read back stays in the journal, for the
             * replay of whoever comes next. */
            return;
        }
        rt__ledger_feed(l, src, buf, (size_t)got);
        off += (uint64_t)got;
        n -= (size_t)got;
    }
}

ssize_t rt__recorder_segment(struct rt_recorder *r, int fd, enum rt_src src,
                             struct rt_ledger *l)
{
    if (r->broken) {
        return -EIO;
    }
    char hdr[RT_JOURNAL_HDR];
    rt__journal_header(hdr, src == RT_SRC_A ? 'A' : 'B', UINT64_MAX);
    int rc = pwrite_full(r->fd, hdr, sizeof(hdr), r->pos);
    if (rc < 0) {
        return rc;
    }
    loff_t off = (loff_t)(r->pos + RT_JOURNAL_HDR);
    ssize_t n;
    do {
        n = splice(fd, NULL, r->fd, &off, SPLICE_MAX, SPLICE_F_NONBLOCK);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
        /* Nothing moved: the header is overwritten by the next record. */
        return n == 0 ? 0 : -errno;
    }
    rt__journal_header(hdr, 'A', (uint64_t)n);
    rc = pwrite_full(r->fd, hdr + 2, 10, r->pos + 2);
    uint64_t data = r->pos + RT_JOURNAL_HDR;
    r->pos = data + (uint64_t)n;
    r->since += RT_JOURNAL_HDR + (uint64_t)n;
    if (rc < 0) {
        /* The record runs to the end of the file, which is where it ends
         * as long as nothing follows it: nothing more is written. */
        r->broken = 1;
    }
    if (l != NULL) {
        feed_back(r->fd, data, (size_t)n, src, l);
        rt__ledger_segment_end(l, src);
    }
    return n;
}

int rt__recorder_empty_segment(struct rt_recorder *r, enum rt_src src)
{
    if (r->fd < 0 || r->broken) {
        return -EBADF;
    }
    char hdr[RT_JOURNAL_HDR];
    rt__journal_header(hdr, src == RT_SRC_A ? 'A' : 'B', 0);
    int rc = pwrite_full(r->fd, hdr, sizeof(hdr), r->pos);
    if (rc == 0) {
        r->pos += RT_JOURNAL_HDR;
        r->since += RT_JOURNAL_HDR;
    }
    return rc;
}

/* ---- snapshots ---- */

ssize_t rt__recorder_run_line(const struct rt_runinfo *info, char *out,
                              size_t cap)
{
    static struct rt_jline jl;
    rt__jline_start(&jl, "run");
    rt__jline_num(&jl, "uid", info->uid);
    rt__jline_pair(&jl, "b", info->b_dev, info->b_ino);
    rt__jline_pair(&jl, "a", info->a_dev, info->a_ino);
    rt__jline_num(&jl, "pidns", info->pidns);
    rt__jline_str(&jl, "boot", info->boot[0] != '\0' ? info->boot : "-");
    rt__jline_num(&jl, "time", info->time);
    rt__jline_num(&jl, "starter", info->starter);
    ssize_t n = rt__jline_end(&jl);
    if (n < 0 || (size_t)n > cap) {
        return -ENAMETOOLONG;
    }
    memcpy(out, jl.buf, (size_t)n);
    return n;
}

ssize_t rt__recorder_tracker_line(const struct rt_runinfo *info, char *out,
                                  size_t cap)
{
    static struct rt_jline jl;
    rt__jline_start(&jl, "tracker");
    rt__jline_num(&jl, "pid", info->tracker_pid);
    rt__jline_num(&jl, "start", info->tracker_start);
    rt__jline_num(&jl, "time", info->tracker_time);
    ssize_t n = rt__jline_end(&jl);
    if (n < 0 || (size_t)n > cap) {
        return -ENAMETOOLONG;
    }
    memcpy(out, jl.buf, (size_t)n);
    return n;
}

/* The snapshot's lines go through here, twice: once to count their bytes,
 * once to write them. */
struct snap_out {
    int fd;
    uint64_t off;
    size_t fill;
    uint64_t total;
    int counting;
    int err;
};

static void out_bytes(struct snap_out *o, const char *s, size_t n)
{
    o->total += n;
    if (o->counting || o->err != 0) {
        return;
    }
    while (n > 0) {
        size_t k = sizeof(buf) - o->fill < n ? sizeof(buf) - o->fill : n;
        memcpy(buf + o->fill, s, k);
        o->fill += k;
        s += k;
        n -= k;
        if (o->fill == sizeof(buf)) {
            o->err = pwrite_full(o->fd, buf, o->fill, o->off);
            o->off += o->fill;
            o->fill = 0;
        }
    }
}

static struct rt_jline snap_line;

static void out_line(struct snap_out *o)
{
    ssize_t n = rt__jline_end(&snap_line);
    if (n > 0) {
        out_bytes(o, snap_line.buf, (size_t)n);
    }
}

static void out_ext(const struct rt_entry *e)
{
    const struct rt_entry_ext *x = rt__registry_ext(e);
    if (x == NULL) {
        return;
    }
    if (x->dev != 0 || x->ino != 0) {
        rt__jline_num(&snap_line, "dev", x->dev);
        rt__jline_num(&snap_line, "ino", x->ino);
    }
    if (x->pdev != 0 || x->pino != 0) {
        rt__jline_num(&snap_line, "pdev", x->pdev);
        rt__jline_num(&snap_line, "pino", x->pino);
    }
    if (x->pid > 0) {
        rt__jline_num(&snap_line, "pid", (uint64_t)x->pid);
    }
}

/* The unmatched withdrawals of type T from source S held in P, the quiet
 * ones (RT_FORGET) when QUIET. */
static void out_pending(struct snap_out *o, const struct registry *p, int s,
                        unsigned t, int quiet)
{
    for (const struct rt_entry *e =
             rt__registry_first(p, quiet ? RT_LEDGER_QUIET(t) : t);
         e != NULL; e = e->next) {
        rt__jline_start(&snap_line, "pending");
        rt__jline_str(&snap_line, "src", s == RT_SRC_A ? "A" : "B");
        rt__jline_str(&snap_line, "rtype", rt__rtypes_get(t)->name);
        rt__jline_b64(&snap_line, "name", e->name, e->len);
        rt__jline_num(&snap_line, "count", e->count);
        if (quiet) {
            rt__jline_num(&snap_line, "quiet", 1);
        }
        out_line(o);
    }
}

static void out_all(struct snap_out *o, const struct rt_ledger *l,
                    const struct rt_runinfo *info)
{
    static char line[512];
    ssize_t n = rt__recorder_run_line(info, line, sizeof(line));
    if (n > 0 && info->have_run) {
        out_bytes(o, line, (size_t)n);
    }
    n = rt__recorder_tracker_line(info, line, sizeof(line));
    if (n > 0 && info->tracker_pid != 0) {
        out_bytes(o, line, (size_t)n);
    }
    unsigned types = rt__rtypes_count();
    for (unsigned t = 0; t < types; t++) {
        const char *tn = rt__rtypes_get(t)->name;
        for (const struct rt_entry *e = rt__registry_first(&l->reg, t);
             e != NULL; e = e->next) {
            rt__jline_start(&snap_line, "entry");
            rt__jline_str(&snap_line, "rtype", tn);
            rt__jline_b64(&snap_line, "name", e->name, e->len);
            rt__jline_num(&snap_line, "count", e->count);
            out_ext(e);
            out_line(o);
        }
        for (int s = 0; s < RT_SRC_N; s++) {
            out_pending(o, &l->pending[s], s, t, 0);
            out_pending(o, &l->pending[s], s, t, 1);
        }
    }
    for (int s = 0; s < RT_SRC_N; s++) {
        const struct rt_carry *c = &l->carry[s];
        if (c->skipping) {
            rt__jline_start(&snap_line, "carry");
            rt__jline_str(&snap_line, "src", s == RT_SRC_A ? "A" : "B");
            rt__jline_num(&snap_line, "skip", 1);
            out_line(o);
        } else if (c->have > 0) {
            rt__jline_start(&snap_line, "carry");
            rt__jline_str(&snap_line, "src", s == RT_SRC_A ? "A" : "B");
            rt__jline_b64(&snap_line, "data", c->buf, c->have);
            out_line(o);
        }
    }
}

void rt__recorder_maybe_compact(struct rt_recorder *r,
                                const struct rt_ledger *l,
                                const struct rt_runinfo *info)
{
    if (r->fd >= 0 && !r->broken &&
        r->since >= COMPACT_MIN + 4 * r->snap_last) {
        (void)rt__recorder_snapshot(r, l, info);
    }
}

int rt__recorder_snapshot(struct rt_recorder *r, const struct rt_ledger *l,
                          const struct rt_runinfo *info)
{
    if (r->fd < 0) {
        return -EBADF;
    }
    struct snap_out o = {.fd = r->fd, .counting = 1};
    out_all(&o, l, info);
    uint64_t body = o.total;
    uint64_t start = r->pos;
    char hdr[RT_JOURNAL_HDR];
    rt__journal_header(hdr, 'S', body);
    int rc = pwrite_full(r->fd, hdr, sizeof(hdr), start);
    if (rc < 0) {
        return rc;
    }
    o = (struct snap_out){.fd = r->fd, .off = start + RT_JOURNAL_HDR};
    out_all(&o, l, info);
    if (o.err == 0 && o.fill > 0) {
        o.err = pwrite_full(r->fd, buf, o.fill, o.off);
    }
    if (o.err != 0 || o.total != body) {
        /* Left cut short: the reader ignores it, nothing before it is
         * freed, and the next record overwrites it. */
        return o.err != 0 ? o.err : -EIO;
    }
    r->pos = start + RT_JOURNAL_HDR + body;
    r->snap_last = body;
    r->since = 0;
#if defined(FALLOC_FL_PUNCH_HOLE)
    /* Everything before the snapshot reads as NUL bytes from now on, and
     * takes no space. A file system that cannot punch holes keeps it. */
    (void)fallocate(r->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
                    (off_t)start);
#endif
    return 0;
}
