/* SPDX-License-Identifier: MIT */
/* Every line the library and its tracker print, in CPython's wording, each
 * written with one write(2) to stderr. */
#ifndef RT_DIAG_H
#define RT_DIAG_H

#include <stddef.h>
#include <stdint.h>

#define RT_ERRTAB_SIZE 256

/* strerror texts of the libc the library was built with (generated). */
extern const char *const rt__errtab[RT_ERRTAB_SIZE];

/* Names listed in the leak line before it is cut with ", ...". */
#define RT_DIAG_LEAKS_LISTED 32

/* Host, MT-safe, AS-safe: the relaunch warning of rt_ensure_running.
 * KEPT: the new tracker took over what the dead one held (a journal). */
void rt__diag_relaunch(int kept);

/* Host, MT-safe: the once-per-process warning that the state directory
 * cannot be used, with why. */
void rt__diag_no_journal(const char *why);

/* The functions below run in the tracker only: single-threaded, AS-safe
 * (they format into one static buffer, never allocate). */

/* "resource_tracker: WHAT: 'LINE'" for a line the tracker cannot use. */
void rt__diag_bad_line(const char *what, const unsigned char *line, size_t len);

/* CPython's text for a message naming a type the tracker does not know. */
void rt__diag_unknown_rtype(const unsigned char *name, size_t name_len,
                            const unsigned char *rtype, size_t rtype_len);

/* An UNREGISTER for a name that is not registered. */
void rt__diag_not_registered(const unsigned char *name, size_t name_len,
                             const char *rtype);

/* A REGISTER the registry could not store (-ENOMEM or -ENOSPC). */
void rt__diag_cannot_store(const unsigned char *name, size_t name_len, int err);

/* After this many bad lines the tracker stops reporting them, so that a
 * writer pouring garbage cannot flood stderr without end; the exit status
 * still says 3. */
#define RT_DIAG_BAD_LINES_REPORTED 10000

/* Printed once, after the last bad line that is reported. */
void rt__diag_bad_lines_muted(void);

/* "resource_tracker: 'NAME': [Errno E] TEXT" for a failed cleanup. */
void rt__diag_cleanup_failed(const unsigned char *name, size_t name_len,
                             int err);

/* The leak line, built name by name:
 * "resource_tracker: There appear to be N leaked RTYPE objects to clean up
 * at shutdown: {'/a', '/b'}". */
void rt__diag_leaks_begin(const char *rtype, size_t count);
void rt__diag_leaks_name(const unsigned char *name, size_t len);
void rt__diag_leaks_end(const char *suffix);

/* "resource_tracker: 'NAME': left in place: WHY" (a sweep that could not
 * be sure), and "resource_tracker: 'NAME': WHY" (a name not removed for
 * good: gone, or not the run's object any more). */
void rt__diag_left(const unsigned char *name, size_t len, const char *why);
void rt__diag_dropped(const unsigned char *name, size_t len, const char *why);
/* "N more names left in place, not removed or failed: not shown". */
void rt__diag_names_muted(unsigned count);

/* The journal could not be written (its file system is full, say): the
 * tracker goes on without it. */
void rt__diag_journal_failed(int err);

/* "resource_tracker: WHAT" with the rest of the line: for the state
 * directory and journal warnings of the sweep. TEXT2 may be NULL. */
void rt__diag_note(const char *text, const char *text2);

/* Decodes one UTF-8 sequence at S (N bytes left). Returns its length and the
 * code point, or 0 when the bytes there are not valid UTF-8 (overlong forms,
 * surrogates and values past U+10FFFF included), as Python's strict decoder
 * judges them. */
size_t rt__diag_utf8_decode(const unsigned char *s, size_t n, uint32_t *ret_cp);

/* Appends Python's repr() of the bytes NAME (decoded as UTF-8 with
 * surrogateescape) to BUF, which has room for CAP bytes, at *POS. Returns 0,
 * or -1 when it did not fit (then *POS is unchanged). Pure; exposed for
 * tests. */
int rt__diag_repr(char *buf, size_t cap, size_t *pos, const unsigned char *name,
                  size_t len);

#endif /* RT_DIAG_H */
