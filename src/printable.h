/* SPDX-License-Identifier: MIT */
/* Which code points Python's repr() shows as they are. Both sides,
 * AS-safe. */
#ifndef RT_PRINTABLE_H
#define RT_PRINTABLE_H

#include <stdint.h>

/* Whether Python's str.isprintable() accepts code point CP (a valid scalar
 * value), as the Python that generated printable.c does. */
int rt__printable(uint32_t cp);

#endif
