/* SPDX-License-Identifier: MIT */
/* Every line the library and its tracker print, in CPython's wording.
 * Tracker functions: single-threaded, AS-safe (one static buffer, one
 * write(2) per line). rt__diag_relaunch: host, MT-safe. */
#include "diag.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "decimal.h"
#include "fdio.h"
#include "printable.h"

/* Large enough for the longest name escaped (10 bytes per input byte for
 * "\udcNN") plus the surrounding text; a longer line is cut with "...". */
#define LINE_CAP 65536
#define PREFIX "resource_tracker: "

static char line[LINE_CAP];
static size_t line_len;
static size_t leaks_listed;
static int leaks_cut;

static void put(const char *s, size_t n)
{
    /* Keep room for the tail that closes a cut line. */
    if (n > LINE_CAP - 8 - line_len) {
        n = LINE_CAP - 8 - line_len;
    }
    memcpy(line + line_len, s, n);
    line_len += n;
}

static void puts_(const char *s)
{
    put(s, strlen(s));
}

static void put_num(uintmax_t v)
{
    char digits[20];
    put(digits, (size_t)(rt__put_decimal(digits, (uint64_t)v) - digits));
}

static void put_repr(const unsigned char *name, size_t len)
{
    size_t pos = line_len;
    if (rt__diag_repr(line, LINE_CAP - 8, &pos, name, len) == 0) {
        line_len = pos;
    } else {
        puts_("'...'");
    }
}

static void flush(void)
{
    line[line_len++] = '\n';
    /* Nothing useful can be done if stderr is gone. */
    (void)rt__fd_write_msg(2, line, line_len);
    line_len = 0;
}

void rt__diag_relaunch(int kept)
{
    static const char lost[] =
        PREFIX "process died unexpectedly, relaunching.  "
               "Some resources might leak.\n";
    static const char taken[] =
        PREFIX "process died unexpectedly, relaunching.  "
               "The new tracker took over what it held.\n";
    if (kept) {
        (void)rt__fd_write_msg(2, taken, sizeof(taken) - 1);
    } else {
        (void)rt__fd_write_msg(2, lost, sizeof(lost) - 1);
    }
}

void rt__diag_no_journal(const char *why)
{
    char text[512];
    static const char head[] = PREFIX "no journal: ";
    static const char tail[] = "; a tracker that dies loses what it held\n";
    size_t len = sizeof(head) - 1;
    memcpy(text, head, sizeof(head));
    size_t room = sizeof(text) - sizeof(head) - sizeof(tail);
    for (size_t i = 0; i < room && why[i] != '\0'; i++) {
        text[len++] = why[i];
    }
    memcpy(text + len, tail, sizeof(tail));
    len += sizeof(tail) - 1;
    (void)rt__fd_write_msg(2, text, len);
}

void rt__diag_bad_line(const char *what, const unsigned char *text, size_t len)
{
    puts_(PREFIX);
    puts_(what);
    puts_(": ");
    /* The offending line is shown in part: enough to recognise it. */
    put_repr(text, len > 200 ? 200 : len);
    if (len > 200) {
        puts_("...");
    }
    flush();
}

void rt__diag_unknown_rtype(const unsigned char *name, size_t name_len,
                            const unsigned char *rtype, size_t rtype_len)
{
    puts_(PREFIX "Cannot register ");
    put_repr(name, name_len);
    puts_(" for automatic cleanup: unknown resource type ");
    put_repr(rtype, rtype_len > 200 ? 200 : rtype_len);
    flush();
}

void rt__diag_not_registered(const unsigned char *name, size_t name_len,
                             const char *rtype)
{
    puts_(PREFIX "cannot unregister ");
    put_repr(name, name_len);
    puts_(": no such ");
    puts_(rtype);
    puts_(" is registered");
    flush();
}

void rt__diag_cannot_store(const unsigned char *name, size_t name_len, int err)
{
    puts_(PREFIX "cannot register ");
    put_repr(name, name_len);
    puts_(err == -ENOSPC ? ": too many registered names" : ": out of memory");
    flush();
}

void rt__diag_bad_lines_muted(void)
{
    puts_(PREFIX);
    put_num(RT_DIAG_BAD_LINES_REPORTED);
    puts_(" bad messages reported; further ones are not shown");
    flush();
}

void rt__diag_cleanup_failed(const unsigned char *name, size_t name_len,
                             int err)
{
    puts_(PREFIX);
    put_repr(name, name_len);
    puts_(": [Errno ");
    put_num((uintmax_t)err);
    puts_("] ");
    if (err > 0 && err < RT_ERRTAB_SIZE && rt__errtab[err] != NULL) {
        puts_(rt__errtab[err]);
    } else {
        puts_("Unknown error ");
        put_num((uintmax_t)err);
    }
    flush();
}

void rt__diag_leaks_begin(const char *rtype, size_t count)
{
    puts_(PREFIX "There appear to be ");
    put_num(count);
    puts_(" leaked ");
    puts_(rtype);
    puts_(" objects to clean up at shutdown: {");
    leaks_listed = 0;
    leaks_cut = 0;
}

void rt__diag_leaks_name(const unsigned char *name, size_t len)
{
    if (leaks_cut) {
        return;
    }
    size_t pos = line_len + (leaks_listed > 0 ? 2 : 0);
    if (leaks_listed == RT_DIAG_LEAKS_LISTED || pos >= LINE_CAP - 16 ||
        rt__diag_repr(line, LINE_CAP - 16, &pos, name, len) < 0) {
        puts_(", ...");
        leaks_cut = 1;
        return;
    }
    if (leaks_listed > 0) {
        memcpy(line + line_len, ", ", 2);
    }
    line_len = pos;
    leaks_listed++;
}

void rt__diag_leaks_end(const char *suffix)
{
    puts_("}");
    if (suffix != NULL) {
        puts_(suffix);
    }
    flush();
}

void rt__diag_left(const unsigned char *name, size_t len, const char *why)
{
    puts_(PREFIX);
    put_repr(name, len);
    puts_(": left in place: ");
    puts_(why);
    flush();
}

void rt__diag_dropped(const unsigned char *name, size_t len, const char *why)
{
    puts_(PREFIX);
    put_repr(name, len);
    puts_(": ");
    puts_(why);
    flush();
}

void rt__diag_names_muted(unsigned count)
{
    puts_(PREFIX);
    put_num(count);
    puts_(" more names left in place, not removed or failed to clean up: "
          "not shown");
    flush();
}

void rt__diag_journal_failed(int err)
{
    puts_(PREFIX "the journal cannot be written ([Errno ");
    put_num((uintmax_t)err);
    puts_("] ");
    if (err > 0 && err < RT_ERRTAB_SIZE && rt__errtab[err] != NULL) {
        puts_(rt__errtab[err]);
    }
    puts_("); going on without it");
    flush();
}

void rt__diag_note(const char *text, const char *text2)
{
    puts_(PREFIX);
    puts_(text);
    if (text2 != NULL) {
        puts_(text2);
    }
    flush();
}

size_t rt__diag_utf8_decode(const unsigned char *s, size_t n, uint32_t *ret_cp)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t cp;
    uint32_t min;
    if (c < 0x80) {
        *ret_cp = c;
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        len = 2, cp = c & 0x1Fu, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3, cp = c & 0x0Fu, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, cp = c & 0x07u, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return 0;
    }
    *ret_cp = cp;
    return len;
}

static int append(char *buf, size_t cap, size_t *pos, const char *s, size_t n)
{
    if (n > cap - *pos) {
        return -1;
    }
    memcpy(buf + *pos, s, n);
    *pos += n;
    return 0;
}

static int append_escape(char *buf, size_t cap, size_t *pos, char kind,
                         uint32_t v, int digits)
{
    static const char hex[] = "0123456789abcdef";
    char esc[10];
    esc[0] = '\\';
    esc[1] = kind;
    for (int i = 0; i < digits; i++) {
        esc[2 + i] = hex[(v >> (4 * (digits - 1 - i))) & 0xF];
    }
    return append(buf, cap, pos, esc, (size_t)digits + 2);
}

int rt__diag_repr(char *buf, size_t cap, size_t *pos, const unsigned char *name,
                  size_t len)
{
    /* Python picks double quotes only for a string holding a single quote
     * and no double quote. */
    char quote = '\'';
    if (memchr(name, '\'', len) != NULL && memchr(name, '"', len) == NULL) {
        quote = '"';
    }
    size_t p = *pos;
    int r = append(buf, cap, &p, &quote, 1);
    for (size_t i = 0; i < len && r == 0;) {
        uint32_t cp;
        size_t n = rt__diag_utf8_decode(name + i, len - i, &cp);
        if (n == 0) {
            /* surrogateescape maps each undecodable byte to U+DC80..DCFF. */
            r = append_escape(buf, cap, &p, 'u', 0xDC00u | name[i], 4);
            i++;
            continue;
        }
        if (cp == (uint32_t)quote || cp == '\\') {
            char esc[2] = {'\\', (char)cp};
            r = append(buf, cap, &p, esc, 2);
        } else if (cp == '\n' || cp == '\r' || cp == '\t') {
            char esc[2] = {'\\', cp == '\n' ? 'n' : cp == '\r' ? 'r' : 't'};
            r = append(buf, cap, &p, esc, 2);
        } else if (rt__printable(cp)) {
            r = append(buf, cap, &p, (const char *)name + i, n);
        } else if (cp < 0x100) {
            r = append_escape(buf, cap, &p, 'x', cp, 2);
        } else if (cp < 0x10000) {
            r = append_escape(buf, cap, &p, 'u', cp, 4);
        } else {
            r = append_escape(buf, cap, &p, 'U', cp, 8);
        }
        i += n;
    }
    if (r == 0) {
        r = append(buf, cap, &p, &quote, 1);
    }
    if (r == 0) {
        *pos = p;
    }
    return r;
}
