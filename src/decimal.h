/* SPDX-License-Identifier: MIT */
/* Numbers written in decimal without stdio: for code that must stay
 * async-signal-safe (a tracker, a guardian, a child after fork). */
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

#endif /* RT_DECIMAL_H */
