/* SPDX-License-Identifier: MIT */
/* Numbers written and read in decimal without stdio or locale: for code
 * that must stay async-signal-safe (a tracker, a guardian, a child after
 * fork). */
#ifndef RT_DECIMAL_H
#define RT_DECIMAL_H

#include <stdint.h>
#include <string.h>

/* Writes V in decimal at O (at most 20 bytes, no NUL); returns the end. */
static inline char *rt__put_decimal(char *o, uint64_t v)
{
    char d[20];
    size_t i = sizeof(d);
    do {
        d[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    memcpy(o, d + i, sizeof(d) - i);
    return o + (sizeof(d) - i);
}

/* Reads the decimal digits at P (no sign, no space) into *RET. Returns
 * the first byte after them, or NULL when there are none or the value is
 * above MAX. */
static inline const char *rt__parse_decimal(const char *p, uint64_t max,
                                            uint64_t *ret)
{
    uint64_t v = 0;
    const char *start = p;
    for (; *p >= '0' && *p <= '9'; p++) {
        uint64_t d = (uint64_t)(*p - '0');
        if (v > (max - d) / 10) {
            return NULL;
        }
        v = v * 10 + d;
    }
    *ret = v;
    return p == start ? NULL : p;
}

#endif /* RT_DECIMAL_H */
