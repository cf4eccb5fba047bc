/* SPDX-License-Identifier: MIT */
/* The journal of a run: its on-disk format, encoding and reading.
 *
 * A journal is a sequence of records, each a 13-byte header "K LLLLLLLLLL\n"
 * (a kind letter, a space, the body's length in ten decimal digits, a
 * newline) followed by the body:
 *   A, B  raw bytes the tracker moved from the private (A) or public (B)
 *         pipe into the journal with splice(2), which takes them out of the
 *         pipe only as it stores them: a tracker killed at any instant leaves
 *         each byte in the pipe or in the journal, never in neither. The
 *         length is written as ten '?' before the splice and filled in
 *         after it; a raw record whose length is still '?' runs to the end
 *         of the file (its tracker died right after the splice).
 *   M     one meta line written by the library (see below).
 *   S     a snapshot: meta lines giving everything the run held at that
 *         point; a snapshot cut short by a crash is ignored. Everything
 *         before a complete snapshot may be punched out of the file (holes
 *         read as NUL bytes, which the reader skips between records).
 * Raw bytes are only ever parsed as protocol lines, so what a writer puts
 * on a pipe can never pass for a meta line.
 *
 * Meta lines are a keyword and "key=value" fields separated by spaces, the
 * values decimal numbers, "DEV:INO" pairs or URL-safe base64 (names):
 *   run uid=U b=DEV:INO a=DEV:INO pidns=N boot=UUID|- time=T starter=PID
 *   tracker pid=P start=TICKS time=T
 *   path op=reg|unreg rtype=T name=B64 pdev=.. pino=.. dev=.. ino=.. pid=..
 *   entry rtype=T name=B64 count=N [dev=.. ino=.. pid=.. pdev=.. pino=..]
 *   pending src=A|B rtype=T name=B64 count=N [quiet=1]  (quiet: RT_FORGET)
 *   carry src=A|B data=B64      (the start of a line not ended yet)
 *   carry src=A|B skip=1        (inside a line too long, being skipped)
 *   done
 * Encoding and field parsing are pure (no I/O); the reader uses pread.
 * Tracker and command, single-threaded, AS-safe. */
#ifndef RT_JOURNAL_H
#define RT_JOURNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RT_JOURNAL_HDR 13
#define RT_JOURNAL_LEN_MAX 9999999999ULL

/* The longest meta line: a name of RT_MSG_MAX bytes in base64, fields. */
#define RT_JOURNAL_LINE_MAX 8192

/* Writes the header of a record of KIND and LEN bytes into BUF
 * (RT_JOURNAL_HDR bytes); LEN == UINT64_MAX writes the unfilled form. */
void rt__journal_header(char *buf, char kind, uint64_t len);

/* Parses a header. Returns 1 with *RET_KIND and *RET_LEN (UINT64_MAX when
 * unfilled), or 0 when BUF is not a header. */
int rt__journal_parse_header(const unsigned char *buf, char *ret_kind,
                             uint64_t *ret_len);

/* A line being built: encoders append to it. */
struct rt_jline {
    size_t len;
    int overflow;
    char buf[RT_JOURNAL_LINE_MAX];
};
void rt__jline_start(struct rt_jline *l, const char *keyword);
void rt__jline_num(struct rt_jline *l, const char *key, uint64_t v);
void rt__jline_pair(struct rt_jline *l, const char *key, uint64_t a,
                    uint64_t b);
void rt__jline_str(struct rt_jline *l, const char *key, const char *v);
void rt__jline_b64(struct rt_jline *l, const char *key, const unsigned char *v,
                   size_t n);
/* Ends the line with '\n'. Returns its length, or -ENAMETOOLONG when it
 * did not fit. */
ssize_t rt__jline_end(struct rt_jline *l);

/* Field access on a meta line (LEN bytes, newline excluded or not): the
 * keyword, and the value of KEY. Return 0 or -1 (absent or malformed). */
int rt__jline_is(const char *line, size_t len, const char *keyword);
int rt__jline_get(const char *line, size_t len, const char *key,
                  const char **ret_val, size_t *ret_len);
int rt__jline_get_num(const char *line, size_t len, const char *key,
                      uint64_t *ret);
int rt__jline_get_pair(const char *line, size_t len, const char *key,
                       uint64_t *ret_a, uint64_t *ret_b);
/* Decodes a base64 field into OUT (CAP bytes). Returns the length or -1. */
ssize_t rt__jline_get_b64(const char *line, size_t len, const char *key,
                          unsigned char *out, size_t cap);

/* A meta line split into its fields once, for a reader that asks it for
 * many (the replay): the same answers as the calls above, each a lookup
 * among a few fields instead of a scan of the line. */
#define RT_JVIEW_FIELDS 16
struct rt_jview {
    const char *line;
    size_t len;
    size_t kw_len;
    unsigned n;
    int more; /* fields past the RT_JVIEW_FIELDS first: looked up in LINE */
    struct {
        const char *key;
        size_t key_len;
        const char *val;
        size_t val_len;
    } f[RT_JVIEW_FIELDS];
};
void rt__jview_parse(struct rt_jview *v, const char *line, size_t len);
int rt__jview_is(const struct rt_jview *v, const char *keyword);
int rt__jview_get(const struct rt_jview *v, const char *key,
                  const char **ret_val, size_t *ret_len);
int rt__jview_num(const struct rt_jview *v, const char *key, uint64_t *ret);
int rt__jview_pair(const struct rt_jview *v, const char *key, uint64_t *ret_a,
                   uint64_t *ret_b);
ssize_t rt__jview_b64(const struct rt_jview *v, const char *key,
                      unsigned char *out, size_t cap);

/* Reading. The visitor's functions may be NULL. */
struct rt_journal_visitor {
    void *ctx;
    /* A piece of a raw record from SRC ('A' or 'B'), then its end. */
    void (*raw)(void *ctx, char src, const unsigned char *data, size_t n);
    void (*raw_end)(void *ctx, char src);
    /* An M record's line (newline excluded). */
    void (*meta)(void *ctx, const char *line, size_t n);
    /* A snapshot: its lines between begin and end; end comes only when it
     * is complete (else the reader stops at it, torn). */
    void (*snap_begin)(void *ctx);
    void (*snap_line)(void *ctx, const char *line, size_t n);
    void (*snap_end)(void *ctx);
};

struct rt_journal_end {
    uint64_t end;       /* just past the last complete record */
    uint64_t size;      /* the file's size */
    int torn;           /* the file goes on past END with a cut record */
    int corrupt;        /* a header that is not one: reading stopped */
    int unfilled;       /* the last record is raw with no length yet */
    uint64_t fill_at;   /* then: its header's offset */
    uint64_t fill_len;  /* and its length */
    uint64_t last_snap; /* offset of the last complete snapshot's header,
                           or UINT64_MAX */
};

/* Reads the journal FD from offset FROM to its end, calling V. Returns 0
 * with *RET filled, or -errno when the file cannot be read. */
int rt__journal_read(int fd, uint64_t from, const struct rt_journal_visitor *v,
                     struct rt_journal_end *ret);

#endif /* RT_JOURNAL_H */
