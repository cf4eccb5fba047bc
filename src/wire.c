/* SPDX-License-Identifier: MIT */
/* The line protocol: colon form "CMD:NAME:RTYPE\n" and JSON form
 * {"cmd":..,"rtype":..,"base64_name":..}. Pure, AS-safe. */
#include "wire.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "decimal.h"

static const struct {
    const char *text;
    size_t len;
    enum rt_cmd cmd;
} commands[] = {
    {"REGISTER", 8, RT_CMD_REGISTER}, {"UNREGISTER", 10, RT_CMD_UNREGISTER},
    {"PROBE", 5, RT_CMD_PROBE},       {"RT_IDENTIFY", 11, RT_CMD_IDENTIFY},
    {"RT_FORGET", 9, RT_CMD_FORGET},
};

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t rt__wire_b64_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

size_t rt__wire_b64_encode(char *out, const unsigned char *in, size_t n)
{
    char *o = out;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v =
            (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        *o++ = b64_alphabet[v >> 18];
        *o++ = b64_alphabet[(v >> 12) & 63];
        *o++ = b64_alphabet[(v >> 6) & 63];
        *o++ = b64_alphabet[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n) {
            v |= (uint32_t)in[i + 1] << 8;
        }
        *o++ = b64_alphabet[v >> 18];
        *o++ = b64_alphabet[(v >> 12) & 63];
        *o++ = i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    return (size_t)(o - out);
}

/* Both alphabets decode: CPython's urlsafe_b64decode maps '-_' onto '+/'
 * and so accepts either. */
static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '-' || c == '+') {
        return 62;
    }
    if (c == '_' || c == '/') {
        return 63;
    }
    return -1;
}

/* Decodes N characters of base64, padding optional. Returns the byte count
 * or -1. */
ssize_t rt__wire_b64_decode(unsigned char *out, const unsigned char *in,
                            size_t n)
{
    if (n % 4 == 0 && n > 0 && in[n - 1] == '=') {
        n -= (n > 1 && in[n - 2] == '=') ? 2 : 1;
    }
    if (n % 4 == 1) {
        return -1;
    }
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value(in[i]);
        if (v < 0) {
            return -1;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    return (ssize_t)o;
}

static int printable_ascii(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c > 0x7E) {
            return 0;
        }
    }
    return 1;
}

static char *put(char *o, const char *s, size_t n)
{
    memcpy(o, s, n);
    return o + n;
}

ssize_t rt__wire_encode(char *buf, enum rt_cmd cmd, const char *name,
                        size_t name_len, const char *rtype, size_t rtype_len)
{
    const char *ctext = commands[cmd].text;
    size_t clen = commands[cmd].len;
    char *o = buf;
    if (printable_ascii(name, name_len)) {
        if (clen + name_len + rtype_len + 3 > RT_MSG_MAX) {
            return -ENAMETOOLONG;
        }
        o = put(o, ctext, clen);
        *o++ = ':';
        o = put(o, name, name_len);
        *o++ = ':';
        o = put(o, rtype, rtype_len);
    } else {
        static const char k1[] = "{\"cmd\":\"", k2[] = "\",\"rtype\":\"",
                          k3[] = "\",\"base64_name\":\"", k4[] = "\"}";
        size_t fixed = sizeof(k1) + sizeof(k2) + sizeof(k3) + sizeof(k4) - 4;
        if (name_len > RT_MSG_MAX ||
            fixed + clen + rtype_len + rt__wire_b64_len(name_len) + 1 >
                RT_MSG_MAX) {
            return -ENAMETOOLONG;
        }
        o = put(o, k1, sizeof(k1) - 1);
        o = put(o, ctext, clen);
        o = put(o, k2, sizeof(k2) - 1);
        o = put(o, rtype, rtype_len);
        o = put(o, k3, sizeof(k3) - 1);
        o += rt__wire_b64_encode(o, (const unsigned char *)name, name_len);
        o = put(o, k4, sizeof(k4) - 1);
    }
    *o++ = '\n';
    return o - buf;
}

/* Whether the 8 bytes of W are all printable ASCII (0x20 to 0x7E), by the
 * usual word-at-a-time carries: a byte below 0x20 borrows out of (b - 0x20),
 * one above 0x7E carries into bit 7 of (b + 1), and bit 7 itself marks
 * bytes above 0x7F. */
static int printable_word(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ULL;
    const uint64_t high = 0x8080808080808080ULL;
    uint64_t low = (w - ones * 0x20) & ~w & high;
    uint64_t del = (w + ones) & high;
    return ((low | del | w) & high) == 0;
}

ssize_t rt__wire_encode_cstr(char *buf, enum rt_cmd cmd, const char *name,
                             const char *rtype, size_t rtype_len)
{
    size_t clen = commands[cmd].len;
    size_t fixed = clen + rtype_len + 3; /* "CMD:" ":RTYPE\n" */
    if (fixed > RT_MSG_MAX) {
        return -ENAMETOOLONG;
    }
    size_t n = strnlen(name, RT_MSG_MAX - fixed + 1);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, name + i, 8);
        if (!printable_word(w)) {
            break;
        }
    }
    for (; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c > 0x7E) {
            break;
        }
    }
    if (i < n) {
        /* Not printable ASCII: the JSON form. */
        return rt__wire_encode(buf, cmd, name, strnlen(name, RT_MSG_MAX + 1),
                               rtype, rtype_len);
    }
    if (n > RT_MSG_MAX - fixed) {
        return -ENAMETOOLONG;
    }
    /* Fixed sizes, so that the compiler writes these without a call. */
    char *o = buf;
    switch (cmd) {
    case RT_CMD_REGISTER:
        o = put(o, "REGISTER:", 9);
        break;
    case RT_CMD_UNREGISTER:
        o = put(o, "UNREGISTER:", 11);
        break;
    case RT_CMD_PROBE:
        o = put(o, "PROBE:", 6);
        break;
    case RT_CMD_IDENTIFY:
        /* Never in the colon form: see rt__wire_encode_identify. */
        return -EINVAL;
    case RT_CMD_FORGET:
        o = put(o, "RT_FORGET:", 10);
        break;
    }
    o = put(o, name, n);
    *o++ = ':';
    o = put(o, rtype, rtype_len);
    *o++ = '\n';
    return o - buf;
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
           c == '\f';
}

static int find_cmd(struct rt_msg *m)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (m->cmd_len == commands[i].len &&
            memcmp(m->cmd_text, commands[i].text, m->cmd_len) == 0) {
            m->cmd = commands[i].cmd;
            return 0;
        }
    }
    return RT_WIRE_UNKNOWN_CMD;
}

static int check_name(const struct rt_msg *m)
{
    if (m->cmd == RT_CMD_PROBE) {
        return 0;
    }
    if (m->name_len == 0 || memchr(m->name, '\0', m->name_len) != NULL) {
        return RT_WIRE_BAD_NAME;
    }
    return 0;
}

static int parse_colon(const unsigned char *s, size_t n, struct rt_msg *m)
{
    const unsigned char *first = memchr(s, ':', n);
    const unsigned char *last = s + n;
    while (last > s && last[-1] != ':') {
        last--;
    }
    if (first == NULL || last - 1 == first) {
        return RT_WIRE_MALFORMED;
    }
    m->cmd_text = s;
    m->cmd_len = (size_t)(first - s);
    m->name = first + 1;
    m->name_len = (size_t)(last - 1 - (first + 1));
    m->rtype = last;
    m->rtype_len = (size_t)(s + n - last);
    int r = find_cmd(m);
    return r < 0 ? r : check_name(m);
}

/* A tiny JSON reader for one flat object of string members. */
struct json {
    const unsigned char *p, *end;
    unsigned char *scratch; /* unescaped strings go here */
};

static void json_ws(struct json *j)
{
    while (j->p < j->end && is_space(*j->p) && *j->p != '\v' && *j->p != '\f') {
        j->p++;
    }
}

static int json_hex4(struct json *j, uint32_t *ret)
{
    uint32_t v = 0;
    if (j->end - j->p < 4) {
        return -1;
    }
    for (int i = 0; i < 4; i++) {
        unsigned char c = *j->p++;
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) {
            return -1;
        }
        v = v << 4 | (uint32_t)d;
    }
    *ret = v;
    return 0;
}

static unsigned char *utf8_put(unsigned char *o, uint32_t cp)
{
    if (cp < 0x80) {
        *o++ = (unsigned char)cp;
    } else if (cp < 0x800) {
        *o++ = (unsigned char)(0xC0 | cp >> 6);
        *o++ = (unsigned char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (unsigned char)(0xE0 | cp >> 12);
        *o++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (unsigned char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (unsigned char)(0xF0 | cp >> 18);
        *o++ = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        *o++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (unsigned char)(0x80 | (cp & 0x3F));
    }
    return o;
}

static int json_escape(struct json *j, unsigned char **o)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    unsigned char c = *j->p++;
    const char *hit = c != '\0' ? strchr(from, c) : NULL;
    if (hit != NULL) {
        *(*o)++ = (unsigned char)to[hit - from];
        return 0;
    }
    uint32_t cp;
    if (c != 'u' || json_hex4(j, &cp) < 0) {
        return -1;
    }
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        uint32_t lo;
        if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u') {
            return -1;
        }
        j->p += 2;
        if (json_hex4(j, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF) {
            return -1;
        }
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        return -1;
    }
    *o = utf8_put(*o, cp);
    return 0;
}

/* Reads a string; the result points into the line when it holds no escape,
 * else into the scratch buffer. */
static int json_string(struct json *j, const unsigned char **ret,
                       size_t *ret_len)
{
    if (j->p >= j->end || *j->p != '"') {
        return -1;
    }
    const unsigned char *start = ++j->p;
    while (j->p < j->end && *j->p != '"' && *j->p != '\\' && *j->p >= 0x20) {
        j->p++;
    }
    if (j->p < j->end && *j->p == '"') {
        *ret = start;
        *ret_len = (size_t)(j->p++ - start);
        return 0;
    }
    unsigned char *o = j->scratch;
    memcpy(o, start, (size_t)(j->p - start));
    o += j->p - start;
    while (j->p < j->end && *j->p != '"') {
        if (*j->p < 0x20) {
            return -1;
        }
        if (*j->p != '\\') {
            *o++ = *j->p++;
        } else if (++j->p >= j->end || json_escape(j, &o) < 0) {
            return -1;
        }
    }
    if (j->p >= j->end) {
        return -1;
    }
    j->p++;
    *ret = j->scratch;
    *ret_len = (size_t)(o - j->scratch);
    j->scratch = o;
    return 0;
}

/* Skips a value of a member we do not use: a string, a scalar (number,
 * true, false, null), or an array or object of those, nested at most
 * JSON_DEPTH deep. Other writers may add members; we need not know them. */
#define JSON_DEPTH 16

static int json_skip_value(struct json *j, int depth)
{
    if (j->p >= j->end) {
        return -1;
    }
    unsigned char c = *j->p;
    if (c == '"') {
        const unsigned char *unused;
        size_t len;
        unsigned char *mark = j->scratch;
        int r = json_string(j, &unused, &len);
        j->scratch = mark; /* nothing of it is kept */
        return r;
    }
    if (c == '[' || c == '{') {
        unsigned char close = c == '[' ? ']' : '}';
        if (depth == JSON_DEPTH) {
            return -1;
        }
        j->p++;
        json_ws(j);
        if (j->p < j->end && *j->p == close) {
            j->p++;
            return 0;
        }
        for (;;) {
            json_ws(j);
            if (close == '}') {
                const unsigned char *unused;
                size_t len;
                unsigned char *mark = j->scratch;
                if (json_string(j, &unused, &len) < 0) {
                    return -1;
                }
                j->scratch = mark;
                json_ws(j);
                if (j->p >= j->end || *j->p++ != ':') {
                    return -1;
                }
                json_ws(j);
            }
            if (json_skip_value(j, depth + 1) < 0) {
                return -1;
            }
            json_ws(j);
            if (j->p < j->end && *j->p == ',') {
                j->p++;
                continue;
            }
            if (j->p < j->end && *j->p == close) {
                j->p++;
                return 0;
            }
            return -1;
        }
    }
    const unsigned char *start = j->p;
    while (j->p < j->end && *j->p != ',' && *j->p != '}' && *j->p != ']' &&
           !is_space(*j->p)) {
        if (*j->p == '{' || *j->p == '[' || *j->p == '"') {
            return -1;
        }
        j->p++;
    }
    return j->p > start ? 0 : -1;
}

/* A JSON number that is a non-negative integer below 2^64. */
static int json_u64(struct json *j, uint64_t *ret)
{
    uint64_t v = 0;
    const unsigned char *start = j->p;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
        unsigned d = (unsigned)(*j->p++ - '0');
        if (v > (UINT64_MAX - d) / 10) {
            return -1;
        }
        v = v * 10 + d;
    }
    if (j->p == start || (j->p - start > 1 && *start == '0')) {
        return -1;
    }
    *ret = v;
    return 0;
}

static int key_is(const unsigned char *k, size_t n, const char *want)
{
    return n == strlen(want) && memcmp(k, want, n) == 0;
}

static int json_members(struct json *j, struct rt_msg *m,
                        const unsigned char **b64, size_t *b64_len)
{
    int seen = 0;
    for (;;) {
        const unsigned char *key;
        size_t klen;
        json_ws(j);
        if (json_string(j, &key, &klen) < 0) {
            return -1;
        }
        json_ws(j);
        if (j->p >= j->end || *j->p++ != ':') {
            return -1;
        }
        json_ws(j);
        int bit = key_is(key, klen, "cmd")           ? 1
                  : key_is(key, klen, "rtype")       ? 2
                  : key_is(key, klen, "base64_name") ? 4
                  : key_is(key, klen, "dev")         ? 8
                  : key_is(key, klen, "ino")         ? 16
                  : key_is(key, klen, "pid")         ? 32
                                                     : 0;
        if (bit & seen) {
            return -1;
        }
        seen |= bit;
        uint64_t pid = 0;
        int r = bit == 1    ? json_string(j, &m->cmd_text, &m->cmd_len)
                : bit == 2  ? json_string(j, &m->rtype, &m->rtype_len)
                : bit == 4  ? json_string(j, b64, b64_len)
                : bit == 8  ? json_u64(j, &m->dev)
                : bit == 16 ? json_u64(j, &m->ino)
                : bit == 32 ? json_u64(j, &pid)
                            : json_skip_value(j, 0);
        if (bit == 32 && (pid == 0 || pid > INT32_MAX)) {
            r = -1;
        }
        m->pid = (uint32_t)pid;
        if (r < 0) {
            return -1;
        }
        json_ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p < j->end && *j->p == '}') {
            j->p++;
            return (seen & 3) == 3 ? 0 : -1;
        }
        return -1;
    }
}

static int parse_json(const unsigned char *s, size_t n, unsigned char *scratch,
                      struct rt_msg *m)
{
    struct json j = {.p = s + 1, .end = s + n, .scratch = scratch};
    const unsigned char *b64 = NULL;
    size_t b64n = 0;
    if (json_members(&j, m, &b64, &b64n) < 0) {
        return RT_WIRE_MALFORMED;
    }
    json_ws(&j);
    if (j.p != j.end) {
        return RT_WIRE_MALFORMED;
    }
    int r = find_cmd(m);
    if (r < 0) {
        return r;
    }
    ssize_t got =
        rt__wire_b64_decode(j.scratch, b64 != NULL ? b64 : j.scratch, b64n);
    if (got < 0) {
        return RT_WIRE_BAD_NAME;
    }
    m->name = j.scratch;
    m->name_len = (size_t)got;
    return check_name(m);
}

int rt__wire_parse(const unsigned char *line, size_t len,
                   unsigned char *scratch, struct rt_msg *ret)
{
    while (len > 0 && is_space(line[len - 1])) {
        len--;
    }
    while (len > 0 && is_space(*line)) {
        line++;
        len--;
    }
    *ret = (struct rt_msg){.cmd_text = line, .rtype = line, .name = line};
    if (len == 0) {
        return RT_WIRE_MALFORMED;
    }
    return line[0] == '{' ? parse_json(line, len, scratch, ret)
                          : parse_colon(line, len, ret);
}

ssize_t rt__wire_encode_identify(char *buf, const char *name, size_t name_len,
                                 const char *rtype, size_t rtype_len,
                                 uint64_t dev, uint64_t ino, uint32_t pid)
{
    static const char k1[] = "{\"cmd\":\"RT_IDENTIFY\",\"rtype\":\"",
                      k2[] = "\",\"base64_name\":\"", k3[] = "\",\"dev\":",
                      k4[] = ",\"ino\":", k5[] = ",\"pid\":";
    size_t fixed = sizeof(k1) + sizeof(k2) + sizeof(k3) + sizeof(k4) +
                   sizeof(k5) - 5 + (size_t)3 * 20 + 2;
    if (name_len > RT_MSG_MAX ||
        fixed + rtype_len + rt__wire_b64_len(name_len) > RT_MSG_MAX) {
        return -ENAMETOOLONG;
    }
    char *o = put(buf, k1, sizeof(k1) - 1);
    o = put(o, rtype, rtype_len);
    o = put(o, k2, sizeof(k2) - 1);
    o += rt__wire_b64_encode(o, (const unsigned char *)name, name_len);
    o = put(o, k3, sizeof(k3) - 1);
    o = rt__put_decimal(o, dev);
    o = put(o, k4, sizeof(k4) - 1);
    o = rt__put_decimal(o, ino);
    o = put(o, k5, sizeof(k5) - 1);
    o = rt__put_decimal(o, pid);
    *o++ = '}';
    *o++ = '\n';
    return o - buf;
}

const char *rt__wire_strerror(int err)
{
    switch (err) {
    case RT_WIRE_UNKNOWN_CMD:
        return "unrecognized command";
    case RT_WIRE_BAD_NAME:
        return "invalid resource name";
    default:
        return "malformed message";
    }
}
