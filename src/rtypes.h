/* SPDX-License-Identifier: MIT */
/* The resource types: rtype name -> cleanup. Built-ins and the types a
 * program defines before its tracker starts. Lookups are lock-free;
 * definitions happen under the client mutex. */
#ifndef RT_RTYPES_H
#define RT_RTYPES_H

#include <stddef.h>

/* Longest rtype name, and most types (built-ins included). */
#define RT_RTYPE_NAME_MAX 32
#define RT_RTYPES_MAX 32

enum {
    RT_RTYPE_PROBE_ONLY = 1, /* "noop": accepted in a PROBE, never held */
    RT_RTYPE_ABSPATH = 2,    /* names must be absolute paths */
};

struct rt_rtype {
    const char *name;
    size_t len;
    /* Returns 0, or -1 with errno set (or a positive errno value). */
    int (*cleanup)(const char *name);
    unsigned flags;
};

/* Whether S is a valid rtype name: [a-z0-9_]{1,RT_RTYPE_NAME_MAX}. Stores
 * its length in *RET_LEN. */
int rt__rtypes_valid_name(const char *s, size_t *ret_len);

/* Index of the type named S (LEN bytes), or -1. MT-safe, AS-safe. */
int rt__rtypes_find(const char *s, size_t len);

/* The index of the type the NUL-terminated S names (its length in
 * *RET_LEN), or -1 for a name that is invalid or not a type: the message
 * hot path's lookup. MT-safe, AS-safe. */
int rt__rtypes_lookup(const char *s, size_t *ret_len, unsigned *ret_flags);

/* The type at INDEX (< rt__rtypes_count()). */
const struct rt_rtype *rt__rtypes_get(unsigned index);
unsigned rt__rtypes_count(void);

/* Whether any type was added by rt__rtypes_define. */
int rt__rtypes_have_custom(void);

/* Adds a type. The caller serialises definitions. Returns its index,
 * -EINVAL for a bad name or a NULL cleanup, -EEXIST for a name in use,
 * -ENOSPC when the table is full. */
int rt__rtypes_define(const char *name, int (*cleanup)(const char *name));

/* Runs the cleanup of type INDEX on NAME. Returns 0 or a positive errno. */
int rt__rtypes_cleanup(unsigned index, const char *name);

#endif /* RT_RTYPES_H */
