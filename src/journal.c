/* SPDX-License-Identifier: MIT */
/* The journal's format: headers, meta lines, and a reader that walks the
 * records with pread. Tracker and command, single-threaded, AS-safe
 * (static buffers). */

/* SEEK_DATA (lseek(2)): Linux, and most Unixes; where it is missing the
 * reader reads holes as NUL bytes and skips them. */
#define _GNU_SOURCE
#include "journal.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "decimal.h"
#include "wire.h"

void rt__journal_header(char *buf, char kind, uint64_t len)
{
    buf[0] = kind;
    buf[1] = ' ';
    for (int i = 11; i >= 2; i--) {
        if (len == UINT64_MAX) {
            buf[i] = '?';
        } else {
            buf[i] = (char)('0' + len % 10);
            len /= 10;
        }
    }
    buf[12] = '\n';
}

int rt__journal_parse_header(const unsigned char *buf, char *ret_kind,
                             uint64_t *ret_len)
{
    char k = (char)buf[0];
    if ((k != 'A' && k != 'B' && k != 'M' && k != 'S') || buf[1] != ' ' ||
        buf[12] != '\n') {
        return 0;
    }
    uint64_t v = 0;
    int unfilled = buf[2] == '?';
    for (int i = 2; i < 12; i++) {
        if (unfilled ? buf[i] != '?' : (buf[i] < '0' || buf[i] > '9')) {
            return 0;
        }
        v = v * 10 + (unfilled ? 0 : (uint64_t)(buf[i] - '0'));
    }
    /* Only raw records are ever written before their length is known. */
    if (unfilled && k != 'A' && k != 'B') {
        return 0;
    }
    *ret_kind = k;
    *ret_len = unfilled ? UINT64_MAX : v;
    return 1;
}

static void put(struct rt_jline *l, const char *s, size_t n)
{
    if (l->overflow || n > sizeof(l->buf) - 1 - l->len) {
        l->overflow = 1;
        return;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void put_u64(struct rt_jline *l, uint64_t v)
{
    char d[20];
    const char *end = rt__put_decimal(d, v);
    put(l, d, (size_t)(end - d));
}

static void put_key(struct rt_jline *l, const char *key)
{
    put(l, " ", 1);
    put(l, key, strlen(key));
    put(l, "=", 1);
}

void rt__jline_start(struct rt_jline *l, const char *keyword)
{
    l->len = 0;
    l->overflow = 0;
    put(l, keyword, strlen(keyword));
}

void rt__jline_num(struct rt_jline *l, const char *key, uint64_t v)
{
    put_key(l, key);
    put_u64(l, v);
}

void rt__jline_pair(struct rt_jline *l, const char *key, uint64_t a, uint64_t b)
{
    put_key(l, key);
    put_u64(l, a);
    put(l, ":", 1);
    put_u64(l, b);
}

void rt__jline_str(struct rt_jline *l, const char *key, const char *v)
{
    put_key(l, key);
    put(l, v, strlen(v));
}

void rt__jline_b64(struct rt_jline *l, const char *key, const unsigned char *v,
                   size_t n)
{
    put_key(l, key);
    size_t need = rt__wire_b64_len(n);
    if (l->overflow || need > sizeof(l->buf) - 1 - l->len) {
        l->overflow = 1;
        return;
    }
    l->len += rt__wire_b64_encode(l->buf + l->len, v, n);
}

ssize_t rt__jline_end(struct rt_jline *l)
{
    put(l, "\n", 1);
    return l->overflow ? -ENAMETOOLONG : (ssize_t)l->len;
}

static size_t token_len(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && s[i] != ' ' && s[i] != '\n') {
        i++;
    }
    return i;
}

int rt__jline_is(const char *line, size_t len, const char *keyword)
{
    size_t k = strlen(keyword);
    return token_len(line, len) == k && memcmp(line, keyword, k) == 0;
}

int rt__jline_get(const char *line, size_t len, const char *key,
                  const char **ret_val, size_t *ret_len)
{
    size_t k = strlen(key);
    size_t pos = token_len(line, len);
    while (pos < len && line[pos] == ' ') {
        pos++;
        size_t t = token_len(line + pos, len - pos);
        if (t > k && line[pos + k] == '=' && memcmp(line + pos, key, k) == 0) {
            *ret_val = line + pos + k + 1;
            *ret_len = t - k - 1;
            return 0;
        }
        pos += t;
    }
    return -1;
}

static int parse_u64(const char *s, size_t n, uint64_t *ret)
{
    uint64_t v = 0;
    if (n == 0 || n > 20) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) {
            return -1;
        }
        v = v * 10 + d;
    }
    *ret = v;
    return 0;
}

/* The value of a field, as a pair. */
static int parse_pair(const char *v, size_t n, uint64_t *ret_a, uint64_t *ret_b)
{
    const char *colon = memchr(v, ':', n);
    if (colon == NULL) {
        return -1;
    }
    size_t an = (size_t)(colon - v);
    if (parse_u64(v, an, ret_a) < 0 ||
        parse_u64(colon + 1, n - an - 1, ret_b) < 0) {
        return -1;
    }
    return 0;
}

int rt__jline_get_num(const char *line, size_t len, const char *key,
                      uint64_t *ret)
{
    const char *v;
    size_t n;
    if (rt__jline_get(line, len, key, &v, &n) < 0) {
        return -1;
    }
    return parse_u64(v, n, ret);
}

int rt__jline_get_pair(const char *line, size_t len, const char *key,
                       uint64_t *ret_a, uint64_t *ret_b)
{
    const char *v;
    size_t n;
    if (rt__jline_get(line, len, key, &v, &n) < 0) {
        return -1;
    }
    return parse_pair(v, n, ret_a, ret_b);
}

static ssize_t parse_b64(const char *v, size_t n, unsigned char *out,
                         size_t cap)
{
    if (n / 4 * 3 > cap) {
        return -1;
    }
    return rt__wire_b64_decode(out, (const unsigned char *)v, n);
}

ssize_t rt__jline_get_b64(const char *line, size_t len, const char *key,
                          unsigned char *out, size_t cap)
{
    const char *v;
    size_t n;
    if (rt__jline_get(line, len, key, &v, &n) < 0) {
        return -1;
    }
    return parse_b64(v, n, out, cap);
}

/* ---- a line split once ---- */

void rt__jview_parse(struct rt_jview *v, const char *line, size_t len)
{
    v->line = line;
    v->len = len;
    v->kw_len = token_len(line, len);
    v->n = 0;
    v->more = 0;
    /* As rt__jline_get walks: tokens after single spaces, up to a newline;
     * a token is a field from its first '='. */
    size_t pos = v->kw_len;
    while (pos < len && line[pos] == ' ') {
        pos++;
        size_t t = token_len(line + pos, len - pos);
        const char *eq = memchr(line + pos, '=', t);
        if (eq != NULL && eq > line + pos) {
            if (v->n == RT_JVIEW_FIELDS) {
                v->more = 1;
                return;
            }
            size_t k = (size_t)(eq - (line + pos));
            v->f[v->n].key = line + pos;
            v->f[v->n].key_len = k;
            v->f[v->n].val = eq + 1;
            v->f[v->n].val_len = t - k - 1;
            v->n++;
        }
        pos += t;
    }
}

int rt__jview_is(const struct rt_jview *v, const char *keyword)
{
    size_t k = strlen(keyword);
    return v->kw_len == k && memcmp(v->line, keyword, k) == 0;
}

int rt__jview_get(const struct rt_jview *v, const char *key,
                  const char **ret_val, size_t *ret_len)
{
    size_t k = strlen(key);
    for (unsigned i = 0; i < v->n; i++) {
        if (v->f[i].key_len == k && memcmp(v->f[i].key, key, k) == 0) {
            *ret_val = v->f[i].val;
            *ret_len = v->f[i].val_len;
            return 0;
        }
    }
    return v->more ? rt__jline_get(v->line, v->len, key, ret_val, ret_len) : -1;
}

int rt__jview_num(const struct rt_jview *v, const char *key, uint64_t *ret)
{
    const char *val;
    size_t n;
    if (rt__jview_get(v, key, &val, &n) < 0) {
        return -1;
    }
    return parse_u64(val, n, ret);
}

int rt__jview_pair(const struct rt_jview *v, const char *key, uint64_t *ret_a,
                   uint64_t *ret_b)
{
    const char *val;
    size_t n;
    if (rt__jview_get(v, key, &val, &n) < 0) {
        return -1;
    }
    return parse_pair(val, n, ret_a, ret_b);
}

ssize_t rt__jview_b64(const struct rt_jview *v, const char *key,
                      unsigned char *out, size_t cap)
{
    const char *val;
    size_t n;
    if (rt__jview_get(v, key, &val, &n) < 0) {
        return -1;
    }
    return parse_b64(val, n, out, cap);
}

/* ---- reading ---- */

#define CHUNK 65536

static unsigned char chunk[CHUNK];
static char linebuf[RT_JOURNAL_LINE_MAX];

static ssize_t pread_full(int fd, void *buf, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            return -errno;
        }
        if (r == 0) {
            break;
        }
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* The first offset at or after POS that is not a NUL byte (holes and
 * padding), or SIZE. */
static uint64_t skip_nul(int fd, uint64_t pos, uint64_t size)
{
#ifdef SEEK_DATA
    off_t d = lseek(fd, (off_t)pos, SEEK_DATA);
    if (d >= 0) {
        pos = (uint64_t)d;
    } else if (errno == ENXIO) {
        return size;
    }
#endif
    while (pos < size) {
        size_t want = size - pos < CHUNK ? (size_t)(size - pos) : CHUNK;
        ssize_t n = pread_full(fd, chunk, want, pos);
        if (n <= 0) {
            return size;
        }
        for (ssize_t i = 0; i < n; i++) {
            if (chunk[i] != '\0') {
                return pos + (uint64_t)i;
            }
        }
        pos += (uint64_t)n;
    }
    return size;
}

/* Splits a meta or snapshot body into lines for FN. Returns 0, or -1 when
 * a line is longer than a meta line can be (the record is then skipped as
 * a whole by the caller). */
static int lines(int fd, uint64_t off, uint64_t len,
                 void (*fn)(void *ctx, const char *line, size_t n), void *ctx)
{
    size_t have = 0;
    while (len > 0) {
        size_t want = len < CHUNK ? (size_t)len : CHUNK;
        ssize_t n = pread_full(fd, chunk, want, off);
        if (n <= 0) {
            return -1;
        }
        for (ssize_t i = 0; i < n; i++) {
            if (chunk[i] == '\n') {
                if (fn != NULL) {
                    fn(ctx, linebuf, have);
                }
                have = 0;
            } else if (have == sizeof(linebuf)) {
                return -1;
            } else {
                linebuf[have++] = (char)chunk[i];
            }
        }
        off += (uint64_t)n;
        len -= (uint64_t)n;
    }
    if (have > 0 && fn != NULL) {
        fn(ctx, linebuf, have);
    }
    return 0;
}

static int raw(int fd, char src, uint64_t off, uint64_t len,
               const struct rt_journal_visitor *v)
{
    while (len > 0) {
        size_t want = len < CHUNK ? (size_t)len : CHUNK;
        ssize_t n = pread_full(fd, chunk, want, off);
        if (n <= 0) {
            return n < 0 ? (int)n : -EIO;
        }
        if (v->raw != NULL) {
            v->raw(v->ctx, src, chunk, (size_t)n);
        }
        off += (uint64_t)n;
        len -= (uint64_t)n;
    }
    if (v->raw_end != NULL) {
        v->raw_end(v->ctx, src);
    }
    return 0;
}

int rt__journal_read(int fd, uint64_t from, const struct rt_journal_visitor *v,
                     struct rt_journal_end *ret)
{
    struct stat st;
    if (fstat(fd, &st) < 0) {
        return -errno;
    }
    struct rt_journal_end e = {0};
    e.size = (uint64_t)st.st_size;
    e.last_snap = UINT64_MAX;
    uint64_t pos = from;
    for (;;) {
        pos = skip_nul(fd, pos, e.size);
        e.end = pos;
        if (pos >= e.size) {
            break;
        }
        unsigned char hdr[RT_JOURNAL_HDR];
        char kind;
        uint64_t len;
        ssize_t n = pread_full(fd, hdr, sizeof(hdr), pos);
        if (n < 0) {
            return (int)n;
        }
        if ((size_t)n < sizeof(hdr)) {
            e.torn = 1;
            break;
        }
        if (!rt__journal_parse_header(hdr, &kind, &len)) {
            e.corrupt = 1;
            break;
        }
        uint64_t body = pos + RT_JOURNAL_HDR;
        if (len == UINT64_MAX) {
            e.unfilled = 1;
            e.fill_at = pos;
            e.fill_len = len = e.size - body;
        } else if (len > e.size - body) {
            e.torn = 1;
            break;
        }
        int r = 0;
        if (kind == 'A' || kind == 'B') {
            r = raw(fd, kind, body, len, v);
        } else if (kind == 'M') {
            r = lines(fd, body, len, v->meta, v->ctx);
        } else {
            /* A snapshot is checked whole before anything of it is used:
             * its lines go to the visitor between begin and end. */
            if (v->snap_begin != NULL) {
                v->snap_begin(v->ctx);
            }
            r = lines(fd, body, len, v->snap_line, v->ctx);
            if (r == 0 && v->snap_end != NULL) {
                v->snap_end(v->ctx);
            }
            if (r == 0) {
                e.last_snap = pos;
            }
        }
        if (r < 0 && kind != 'A' && kind != 'B') {
            /* An oversized line: the record is skipped, reading goes on. */
            r = 0;
        }
        if (r < 0) {
            return r;
        }
        pos = body + len;
        e.end = pos;
        if (e.unfilled) {
            break;
        }
    }
    *ret = e;
    return 0;
}
