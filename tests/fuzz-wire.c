/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the tracker's input path: the input is split into
 * lines as the read loop splits them, each line is parsed, re-encoded and
 * parsed back, applied to a registry checked against a shadow model, and
 * every name and bad line is quoted as the warnings quote it. Test only,
 * single-threaded; a broken invariant is a __builtin_trap(). */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "registry.h"
#include "wire.h"

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            __builtin_trap();                                                  \
        }                                                                      \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The registry's bound and the shadow's size at once, so that the shadow
 * always knows every name held and -ENOSPC is predictable. Above 192, the
 * registry's table grows once (its first table has 256 slots, 3/4 full). */
#define SHADOW_MAX 256

/* Room for the shadow's copies of names. Removed names are not reclaimed,
 * so an input whose names add up to more is only partly modelled: the
 * operations that do not fit are skipped, never half-applied. */
#define ARENA_SIZE 65536

/* Type indexes the rtype texts are folded onto: few, so that one name often
 * meets itself under another type and under the same type by another
 * rtype text. */
#define FUZZ_TYPES 8
_Static_assert(FUZZ_TYPES <= RT_REGISTRY_TYPES, "type index out of range");

/* Longest text whose quoting is also checked against a buffer cut to size. */
#define REPR_FIT_MAX 64

/* JSON form around the command, rtype and base64: {"cmd":"","rtype":"",
 * "base64_name":""} is 38 bytes. */
#define JSON_FIXED 38

struct shadow_entry {
    unsigned rtype;
    size_t off; /* into arena */
    size_t len;
};

static struct registry reg;
static struct shadow_entry shadow[SHADOW_MAX];
static size_t shadow_count;
static size_t shadow_per_type[FUZZ_TYPES];
static unsigned char arena[ARENA_SIZE];
static size_t arena_used;

static const char *const cmd_names[] = {
    [RT_CMD_REGISTER] = "REGISTER", [RT_CMD_UNREGISTER] = "UNREGISTER",
    [RT_CMD_PROBE] = "PROBE",       [RT_CMD_IDENTIFY] = "RT_IDENTIFY",
    [RT_CMD_FORGET] = "RT_FORGET",
};

/* Out of memory in a fuzzer is the environment's fault, not a finding of
 * the code under test: abort, which libFuzzer reports as such. */
static void *xmalloc(size_t n)
{
    void *p = malloc(n > 0 ? n : 1);
    if (p == NULL) {
        abort();
    }
    return p;
}

/* Whether [P, P + N) lies inside [BASE, BASE + CAP). Compared as integers:
 * relational operators on pointers into different objects are undefined. */
static int in_span(const unsigned char *p, size_t n, const unsigned char *base,
                   size_t cap)
{
    uintptr_t a = (uintptr_t)p, b = (uintptr_t)base;
    return p != NULL && a >= b && n <= cap && a - b <= cap - n;
}

static int is_rtype(const unsigned char *s, size_t n)
{
    if (n == 0) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
            return 0;
        }
    }
    return 1;
}

static int is_printable_ascii(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] > 0x7E) {
            return 0;
        }
    }
    return 1;
}

static int span_is(const unsigned char *p, size_t n, const char *want)
{
    return n == strlen(want) && memcmp(p, want, n) == 0;
}

/* FNV-1a of the rtype text, folded onto FUZZ_TYPES indexes. */
static unsigned type_index(const unsigned char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 16777619u;
    }
    return h % FUZZ_TYPES;
}

/* Quotes S as the warnings do and checks the result is a one-line Python
 * literal: quoted at both ends, the quote and control bytes escaped, and
 * exactly as long as the smallest buffer that takes it. */
static void check_repr(const unsigned char *s, size_t n)
{
    size_t cap = 10 * n + 2;
    char *buf = xmalloc(cap);
    size_t pos = 0;
    CHECK(rt__diag_repr(buf, cap, &pos, s, n) == 0);
    CHECK(pos >= 2 && pos <= cap);
    char quote = buf[0];
    CHECK(quote == '\'' || quote == '"');
    CHECK(buf[pos - 1] == quote);
    for (size_t i = 1; i + 1 < pos; i++) {
        unsigned char c = (unsigned char)buf[i];
        CHECK(c >= 0x20 && c != 0x7F && c != (unsigned char)quote);
        if (c == '\\') {
            CHECK(i + 2 < pos);
            i++;
            CHECK(memchr("\\'\"nrtxuU", buf[i], 9) != NULL);
        }
    }

    /* Exactly POS bytes suffice; one fewer fails and leaves *pos alone.
     * Checked on short names only: quoting dominates the run time, and the
     * bound is no different for long ones. */
    if (n <= REPR_FIT_MAX) {
        size_t again = 0;
        CHECK(rt__diag_repr(buf, pos, &again, s, n) == 0 && again == pos);
        size_t short_pos = 0;
        CHECK(rt__diag_repr(buf, pos - 1, &short_pos, s, n) == -1);
        CHECK(short_pos == 0);
    }
    free(buf);
}

static long shadow_find(unsigned t, const unsigned char *name, size_t len)
{
    for (size_t i = 0; i < shadow_count; i++) {
        const struct shadow_entry *e = &shadow[i];
        if (e->rtype == t && e->len == len &&
            memcmp(arena + e->off, name, len) == 0) {
            return (long)i;
        }
    }
    return -1;
}

static void check_counts(void)
{
    CHECK(reg.count == shadow_count);
    for (unsigned t = 0; t < FUZZ_TYPES; t++) {
        CHECK(rt__registry_count(&reg, t) == shadow_per_type[t]);
    }
}

static void apply_register(unsigned t, const unsigned char *name, size_t len)
{
    long at = shadow_find(t, name, len);
    if (at >= 0) {
        CHECK(rt__registry_add(&reg, t, name, len) == 0);
    } else if (shadow_count == SHADOW_MAX) {
        CHECK(rt__registry_add(&reg, t, name, len) == -ENOSPC);
        CHECK(!rt__registry_contains(&reg, t, name, len));
        return;
    } else if (len > ARENA_SIZE - arena_used) {
        /* Past what the model can hold: skipped, see ARENA_SIZE. */
        return;
    } else {
        CHECK(rt__registry_add(&reg, t, name, len) == 1);
        memcpy(arena + arena_used, name, len);
        shadow[shadow_count++] =
            (struct shadow_entry){.rtype = t, .off = arena_used, .len = len};
        arena_used += len;
        shadow_per_type[t]++;
    }
    CHECK(rt__registry_contains(&reg, t, name, len));
}

static void apply_unregister(unsigned t, const unsigned char *name, size_t len)
{
    long at = shadow_find(t, name, len);
    if (at >= 0) {
        CHECK(rt__registry_remove(&reg, t, name, len) == 0);
        /* Ordered removal keeps the shadow in registration order. */
        memmove(&shadow[at], &shadow[at + 1],
                (shadow_count - (size_t)at - 1) * sizeof(shadow[0]));
        shadow_count--;
        shadow_per_type[t]--;
    } else {
        CHECK(rt__registry_remove(&reg, t, name, len) == -ENOENT);
    }
    CHECK(!rt__registry_contains(&reg, t, name, len));
}

/* Each type's list holds the shadow's names of that type in registration
 * order, linked both ways. */
static void check_lists(void)
{
    for (unsigned t = 0; t < FUZZ_TYPES; t++) {
        const struct rt_entry *e = rt__registry_first(&reg, t);
        const struct rt_entry *prev = NULL;
        for (size_t i = 0; i < shadow_count; i++) {
            const struct shadow_entry *s = &shadow[i];
            if (s->rtype != t) {
                continue;
            }
            CHECK(e != NULL && e->prev == prev);
            CHECK(e->rtype == t && e->len == s->len);
            CHECK(memcmp(e->name, arena + s->off, s->len) == 0);
            CHECK(e->name[e->len] == '\0');
            CHECK(rt__registry_contains(&reg, t, arena + s->off, s->len));
            prev = e;
            e = e->next;
        }
        CHECK(e == NULL);
        CHECK(rt__registry_last(&reg, t) == prev);
    }
}

static size_t expected_encoding(enum rt_cmd cmd, const unsigned char *name,
                                size_t name_len, size_t rtype_len)
{
    size_t clen = strlen(cmd_names[cmd]);
    if (is_printable_ascii(name, name_len)) {
        return clen + name_len + rtype_len + 3;
    }
    return JSON_FIXED + clen + rtype_len + (name_len + 2) / 3 * 4 + 1;
}

/* Encodes CMD on NAME of type RTYPE (both encoders must agree, at the
 * length computed here) and, when it fits, parses the line back to the same
 * command, name and rtype. */
static void check_encoding(enum rt_cmd cmd, const unsigned char *name,
                           size_t name_len, const unsigned char *rtype,
                           size_t rtype_len)
{
    char *buf = xmalloc(RT_MSG_MAX);
    ssize_t n = rt__wire_encode(buf, cmd, (const char *)name, name_len,
                                (const char *)rtype, rtype_len);
    size_t want = expected_encoding(cmd, name, name_len, rtype_len);
    if (want > RT_MSG_MAX) {
        CHECK(n == -ENAMETOOLONG);
    } else {
        CHECK(n > 0 && (size_t)n == want);
    }

    char *cname = xmalloc(name_len + 1);
    memcpy(cname, name, name_len);
    cname[name_len] = '\0';
    char *cbuf = xmalloc(RT_MSG_MAX);
    ssize_t cn =
        rt__wire_encode_cstr(cbuf, cmd, cname, (const char *)rtype, rtype_len);
    CHECK(cn == n);
    CHECK(n < 0 || memcmp(cbuf, buf, (size_t)n) == 0);
    free(cbuf);
    free(cname);

    if (n > 0) {
        size_t len = (size_t)n;
        const unsigned char *line = (const unsigned char *)buf;
        /* One message, one line: the only newline ends it. */
        CHECK(line[len - 1] == '\n');
        CHECK(memchr(line, '\n', len - 1) == NULL);
        unsigned char *scratch = xmalloc(RT_WIRE_SCRATCH(len));
        struct rt_msg back;
        CHECK(rt__wire_parse(line, len, scratch, &back) == 0);
        CHECK(back.cmd == cmd);
        CHECK(back.name_len == name_len);
        CHECK(memcmp(back.name, name, name_len) == 0);
        CHECK(back.rtype_len == rtype_len);
        CHECK(memcmp(back.rtype, rtype, rtype_len) == 0);
        free(scratch);
    }
    free(buf);
}

/* Messages per input whose name is also stretched to the encoders' limits:
 * the limits are then met at their edge for every kind of name the fuzzer
 * finds, not only in inputs that happen to have that length, while long
 * inputs stay fast. */
#define EDGES_PER_INPUT 4
static unsigned edges_left;

/* M's name repeated (or cut) to the longest length that fits RT_MSG_MAX
 * in M's form, and to one byte more. A cut may change the form; the
 * expected length follows the bytes actually sent. */
static void check_edges(const struct rt_msg *m)
{
    size_t clen = strlen(cmd_names[m->cmd]);
    if (edges_left == 0 || m->name_len == 0 ||
        clen + m->rtype_len + JSON_FIXED + 8 > RT_MSG_MAX) {
        return;
    }
    edges_left--;
    size_t fit;
    if (is_printable_ascii(m->name, m->name_len)) {
        fit = RT_MSG_MAX - clen - m->rtype_len - 3;
    } else {
        fit = (RT_MSG_MAX - JSON_FIXED - clen - m->rtype_len - 1) / 4 * 3;
    }
    unsigned char *name = xmalloc(fit + 1);
    for (size_t i = 0; i < fit + 1; i++) {
        name[i] = m->name[i % m->name_len];
    }
    check_encoding(m->cmd, name, fit, m->rtype, m->rtype_len);
    check_encoding(m->cmd, name, fit + 1, m->rtype, m->rtype_len);
    free(name);
}

/* An identity line (never in the colon form from us, but read in either)
 * encoded as the wrappers send it and parsed back: the same name, rtype,
 * device, inode and pid. A line without a pid (0) is sent with one: the
 * parser takes pids from 1 to INT32_MAX, the only ones a wrapper sends. */
static void check_identify(const struct rt_msg *m)
{
    if (!is_rtype(m->rtype, m->rtype_len)) {
        return;
    }
    uint32_t pid = m->pid != 0 ? m->pid : 1;
    char *buf = xmalloc(RT_MSG_MAX);
    ssize_t n = rt__wire_encode_identify(buf, (const char *)m->name,
                                         m->name_len, (const char *)m->rtype,
                                         m->rtype_len, m->dev, m->ino, pid);
    if (n > 0) {
        size_t len = (size_t)n;
        CHECK(len <= RT_MSG_MAX && buf[len - 1] == '\n');
        CHECK(memchr(buf, '\n', len - 1) == NULL);
        unsigned char *scratch = xmalloc(RT_WIRE_SCRATCH(len));
        struct rt_msg back;
        CHECK(rt__wire_parse((const unsigned char *)buf, len, scratch, &back) ==
              0);
        CHECK(back.cmd == RT_CMD_IDENTIFY);
        CHECK(back.name_len == m->name_len);
        CHECK(memcmp(back.name, m->name, m->name_len) == 0);
        CHECK(back.rtype_len == m->rtype_len);
        CHECK(memcmp(back.rtype, m->rtype, m->rtype_len) == 0);
        CHECK(back.dev == m->dev && back.ino == m->ino && back.pid == pid);
        free(scratch);
    } else {
        CHECK(n == -ENAMETOOLONG);
    }
    free(buf);
}

/* One line, newline excluded, as handle_line gets it. */
static void handle_line(const unsigned char *data, size_t len)
{
    /* Copies of exactly the sizes promised, so that any read or write past
     * them is caught by AddressSanitizer. */
    unsigned char *line = xmalloc(len);
    if (len > 0) {
        memcpy(line, data, len);
    }
    size_t scratch_len = RT_WIRE_SCRATCH(len);
    unsigned char *scratch = xmalloc(scratch_len);
    struct rt_msg m;
    int r = rt__wire_parse(line, len, scratch, &m);
    CHECK(r == 0 || r == RT_WIRE_MALFORMED || r == RT_WIRE_UNKNOWN_CMD ||
          r == RT_WIRE_BAD_NAME);
    CHECK(rt__wire_strerror(r) != NULL);

#define INSIDE(p, n)                                                           \
    (in_span((p), (n), line, len) || in_span((p), (n), scratch, scratch_len))

    if (r == RT_WIRE_UNKNOWN_CMD || r == RT_WIRE_BAD_NAME || r == 0) {
        /* The command text is what the "unrecognized command" warning
         * shows; after that error it names none of the three. */
        CHECK(INSIDE(m.cmd_text, m.cmd_len));
        int known = 0;
        for (size_t i = 0; i < sizeof(cmd_names) / sizeof(cmd_names[0]); i++) {
            known |= span_is(m.cmd_text, m.cmd_len, cmd_names[i]);
        }
        CHECK(known == (r != RT_WIRE_UNKNOWN_CMD));
        if (r == RT_WIRE_UNKNOWN_CMD) {
            check_repr(m.cmd_text, m.cmd_len);
        }
    }
    if (r < 0) {
        /* The tracker quotes the line in its warning. */
        check_repr(line, len);
    } else if (m.cmd == RT_CMD_IDENTIFY) {
        CHECK(span_is(m.cmd_text, m.cmd_len, cmd_names[m.cmd]));
        CHECK(INSIDE(m.rtype, m.rtype_len));
        CHECK(INSIDE(m.name, m.name_len));
        CHECK(m.name_len > 0 && memchr(m.name, '\0', m.name_len) == NULL);
        check_repr(m.name, m.name_len);
        check_identify(&m);
    } else {
        CHECK(m.cmd == RT_CMD_REGISTER || m.cmd == RT_CMD_UNREGISTER ||
              m.cmd == RT_CMD_PROBE || m.cmd == RT_CMD_FORGET);
        CHECK(span_is(m.cmd_text, m.cmd_len, cmd_names[m.cmd]));
        CHECK(INSIDE(m.rtype, m.rtype_len));
        CHECK(INSIDE(m.name, m.name_len));
        int has_nul = memchr(m.name, '\0', m.name_len) != NULL;
        if (m.cmd != RT_CMD_PROBE) {
            CHECK(m.name_len > 0 && !has_nul);
        }
        check_repr(m.name, m.name_len);
        check_repr(m.rtype, m.rtype_len);
        if (is_rtype(m.rtype, m.rtype_len) && !has_nul) {
            check_encoding(m.cmd, m.name, m.name_len, m.rtype, m.rtype_len);
            check_edges(&m);
        }
        /* Applied as apply() does, but for every rtype (folded onto
         * FUZZ_TYPES) where the tracker refuses unknown ones. Lines of
         * RT_LINE_MAX bytes or more are parsed above only to test the
         * parser: handle_line refuses them before parsing. */
        if (len < RT_LINE_MAX && m.cmd != RT_CMD_PROBE) {
            unsigned t = type_index(m.rtype, m.rtype_len);
            if (m.cmd == RT_CMD_REGISTER) {
                apply_register(t, m.name, m.name_len);
            } else {
                apply_unregister(t, m.name, m.name_len);
            }
            check_counts();
        }
    }
#undef INSIDE
    free(scratch);
    free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rt__registry_init(&reg, 0x9e3779b97f4a7c15ULL, SHADOW_MAX, 0);
    shadow_count = 0;
    edges_left = EDGES_PER_INPUT;
    arena_used = 0;
    memset(shadow_per_type, 0, sizeof(shadow_per_type));

    /* As read_loop: every complete line, then what is left at EOF. */
    size_t start = 0;
    while (start < size) {
        const uint8_t *nl = memchr(data + start, '\n', size - start);
        size_t len = nl != NULL ? (size_t)(nl - (data + start)) : size - start;
        handle_line(data + start, len);
        start += len + 1;
    }

    check_counts();
    check_lists();
    rt__registry_free(&reg);
    CHECK(reg.count == 0 && reg.cap == 0);
    for (unsigned t = 0; t < FUZZ_TYPES; t++) {
        CHECK(rt__registry_count(&reg, t) == 0);
        CHECK(rt__registry_first(&reg, t) == NULL);
    }
    return 0;
}
