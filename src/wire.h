/* SPDX-License-Identifier: MIT */
/* The line protocol of CPython's multiprocessing.resource_tracker: encoding
 * for the client, parsing for the tracker. Pure: no I/O, no allocation;
 * AS-safe. */
#ifndef RT_WIRE_H
#define RT_WIRE_H

#include <limits.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

/* A message, newline included, must fit one atomic pipe write: POSIX makes
 * writes of at most PIPE_BUF bytes to a pipe atomic, so concurrent writers
 * never interleave (CPython checks the same bound in _send). */
#define RT_MSG_MAX PIPE_BUF
_Static_assert(RT_MSG_MAX <= PIPE_BUF, "a message must be one atomic write");
_Static_assert(RT_MSG_MAX >= 512, "POSIX guarantees PIPE_BUF >= 512");

/* The tracker accepts lines up to this length; no atomic writer can send a
 * longer one. */
#define RT_LINE_MAX RT_MSG_MAX

/* Scratch the parser needs for a line of LEN bytes: room for its unescaped
 * JSON strings and for the decoded name. */
#define RT_WIRE_SCRATCH(len) (2 * (len) + 16)

enum rt_cmd {
    RT_CMD_REGISTER,
    RT_CMD_UNREGISTER,
    RT_CMD_PROBE,
    /* Ours only, never sent to a tracker not known to be ours: the identity
     * of an object just created under a registered name, JSON form with
     * the numeric members "dev", "ino" and "pid". */
    RT_CMD_IDENTIFY,
    /* Ours only, never sent to a tracker not known to be ours: UNREGISTER
     * without the warning when nothing matches. The wrappers' unlinks send
     * it: removing an object someone else created is nothing wrong. */
    RT_CMD_FORGET,
};

/* Parse errors, each a kind of line the tracker warns about and skips. */
enum {
    RT_WIRE_MALFORMED = -1,   /* neither a colon line nor the JSON object */
    RT_WIRE_UNKNOWN_CMD = -2, /* a command other than those above */
    RT_WIRE_BAD_NAME = -3,    /* empty, holds NUL, or bad base64 */
};

struct rt_msg {
    enum rt_cmd cmd;
    const unsigned char *cmd_text; /* as sent, for the warning */
    size_t cmd_len;
    const unsigned char *rtype;
    size_t rtype_len;
    /* Not NUL-terminated; no NUL inside, except in a PROBE's (unused). */
    const unsigned char *name;
    size_t name_len;
    /* RT_CMD_IDENTIFY's members (0 when absent). */
    uint64_t dev, ino;
    uint32_t pid;
};

/* Writes the line for CMD on NAME (NAME_LEN bytes, no NUL) of type RTYPE into
 * BUF (RT_MSG_MAX bytes): the colon form when NAME is printable ASCII, else
 * the JSON form with the name in URL-safe base64, as CPython 3.13+ does.
 * RTYPE must be [a-z0-9_]+. Returns the length or -ENAMETOOLONG. */
ssize_t rt__wire_encode(char *buf, enum rt_cmd cmd, const char *name,
                        size_t name_len, const char *rtype, size_t rtype_len);

/* As rt__wire_encode for a NUL-terminated NAME, in one pass over it for
 * the common printable name (the hot path of every message). Returns the
 * length or -ENAMETOOLONG. */
ssize_t rt__wire_encode_cstr(char *buf, enum rt_cmd cmd, const char *name,
                             const char *rtype, size_t rtype_len);

/* Writes the RT_CMD_IDENTIFY line for NAME (NAME_LEN bytes) of RTYPE into
 * BUF (RT_MSG_MAX bytes). Returns the length or -ENAMETOOLONG. */
ssize_t rt__wire_encode_identify(char *buf, const char *name, size_t name_len,
                                 const char *rtype, size_t rtype_len,
                                 uint64_t dev, uint64_t ino, uint32_t pid);

/* URL-safe base64 with padding, as the JSON form uses: the encoded length
 * of N bytes, encoding into OUT (rt__wire_b64_len(N) bytes), and decoding N
 * characters (either alphabet, padding optional) into OUT (at least
 * 3 * N / 4 bytes). Decoding returns the byte count or -1. */
size_t rt__wire_b64_len(size_t n);
size_t rt__wire_b64_encode(char *out, const unsigned char *in, size_t n);
ssize_t rt__wire_b64_decode(unsigned char *out, const unsigned char *in,
                            size_t n);

/* Parses one line (LEN bytes, newline excluded or not) of either form.
 * SCRATCH holds RT_WIRE_SCRATCH(LEN) bytes; the result may point into LINE
 * or SCRATCH. Returns 0, or one of the RT_WIRE_ errors (then *RET holds
 * whatever was understood, for the warning). */
int rt__wire_parse(const unsigned char *line, size_t len,
                   unsigned char *scratch, struct rt_msg *ret);

/* The warning text for an RT_WIRE_ error. */
const char *rt__wire_strerror(int err);

#endif /* RT_WIRE_H */
