/* SPDX-License-Identifier: MIT */
/* The tracker's hash set and its allocator, as pure units. */
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "registry.h"

#define N_MANY 100000

/* Writes key I into BUF (64 bytes) and returns its length. */
static size_t key(char *buf, unsigned i)
{
    return (size_t)snprintf(buf, 64, "/rt-registry-%08u", i);
}

#define K(buf) ((const unsigned char *)(buf))

static void add_remove_contains(void **state)
{
    (void)state;
    struct registry r;
    rt__registry_init(&r, 42, 0, 0);
    const unsigned char *a = (const unsigned char *)"/a";
    assert_int_equal(rt__registry_remove(&r, 1, a, 2), -ENOENT);
    assert_int_equal(rt__registry_add(&r, 1, a, 2), 1);
    assert_int_equal(rt__registry_add(&r, 1, a, 2), 0); /* a set */
    assert_int_equal(rt__registry_add(&r, 2, a, 2), 1); /* other type */
    assert_true(rt__registry_contains(&r, 1, a, 2));
    assert_true(rt__registry_contains(&r, 2, a, 2));
    assert_int_equal(rt__registry_count(&r, 1), 1);
    assert_int_equal(rt__registry_remove(&r, 1, a, 2), 0);
    assert_false(rt__registry_contains(&r, 1, a, 2));
    assert_true(rt__registry_contains(&r, 2, a, 2));
    assert_int_equal(rt__registry_remove(&r, 1, a, 2), -ENOENT);
    /* Names are bytes: a prefix or an embedded newline is another key. */
    assert_int_equal(rt__registry_add(&r, 1, (const unsigned char *)"/a\n", 3),
                     1);
    assert_false(rt__registry_contains(&r, 1, a, 1));
    rt__registry_free(&r);
}

static void registration_order_is_kept(void **state)
{
    (void)state;
    struct registry r;
    rt__registry_init(&r, 7, 0, 0);
    char buf[64];
    size_t len;
    for (unsigned i = 0; i < 10; i++) {
        assert_int_equal(
            (len = key(buf, i), rt__registry_add(&r, 3, K(buf), len)), 1);
    }
    assert_int_equal(
        (len = key(buf, 4), rt__registry_remove(&r, 3, K(buf), len)), 0);
    assert_int_equal(
        (len = key(buf, 0), rt__registry_remove(&r, 3, K(buf), len)), 0);
    static const unsigned order[] = {1, 2, 3, 5, 6, 7, 8, 9};
    size_t k = 0;
    for (const struct rt_entry *e = rt__registry_first(&r, 3); e != NULL;
         e = e->next, k++) {
        len = key(buf, order[k]);
        assert_int_equal(e->len, len);
        assert_memory_equal(e->name, buf, len);
        assert_int_equal(e->name[len], '\0');
    }
    assert_int_equal(k, 8);
    assert_int_equal(rt__registry_last(&r, 3)->name[len - 1], '9');
    rt__registry_free(&r);
}

static void many_names_then_reuse_without_growth(void **state)
{
    (void)state;
    struct registry r;
    rt__registry_init(&r, 99, 0, 0);
    char buf[64];
    size_t len;
    for (unsigned i = 0; i < N_MANY; i++) {
        assert_int_equal(
            (len = key(buf, i), rt__registry_add(&r, 1, K(buf), len)), 1);
    }
    assert_int_equal(rt__registry_count(&r, 1), N_MANY);
    size_t mapped = r.slab.mapped;
    for (unsigned i = 0; i < N_MANY; i += 2) {
        assert_int_equal(
            (len = key(buf, i), rt__registry_remove(&r, 1, K(buf), len)), 0);
    }
    for (unsigned i = 0; i < N_MANY; i++) {
        assert_int_equal(
            (len = key(buf, i), rt__registry_contains(&r, 1, K(buf), len)),
            i % 2);
    }
    for (unsigned i = 1; i < N_MANY; i += 2) {
        assert_int_equal(
            (len = key(buf, i), rt__registry_remove(&r, 1, K(buf), len)), 0);
    }
    assert_int_equal(r.count, 0);
    assert_null(rt__registry_first(&r, 1));
    /* A second round of the same size lives in the memory of the first. */
    for (unsigned i = 0; i < N_MANY; i++) {
        assert_int_equal(
            (len = key(buf, i + N_MANY), rt__registry_add(&r, 1, K(buf), len)),
            1);
    }
    assert_int_equal(r.slab.mapped, mapped);
    rt__registry_free(&r);
    assert_int_equal(r.count, 0);
}

static void limits_keep_what_is_held(void **state)
{
    (void)state;
    struct registry r;
    char buf[64];
    size_t len;
    rt__registry_init(&r, 1, 100, 0);
    for (unsigned i = 0; i < 100; i++) {
        assert_int_equal(
            (len = key(buf, i), rt__registry_add(&r, 1, K(buf), len)), 1);
    }
    assert_int_equal(
        (len = key(buf, 100), rt__registry_add(&r, 1, K(buf), len)), -ENOSPC);
    assert_int_equal(r.count, 100);
    rt__registry_free(&r);

    /* A memory bound: the table and the first chunk fit, and then no more.
     * Whatever was stored before the failure is still there. */
    rt__registry_init(&r, 1, 0, (size_t)1 << 21);
    unsigned stored = 0;
    int err = 0;
    for (unsigned i = 0; i < 1000000 && err == 0; i++) {
        err = (len = key(buf, i), rt__registry_add(&r, 1, K(buf), len));
        if (err == 1) {
            stored++;
            err = 0;
        }
    }
    assert_int_equal(err, -ENOMEM);
    assert_true(stored > 1000);
    assert_int_equal(r.count, stored);
    for (unsigned i = 0; i < stored; i++) {
        len = key(buf, i);
        assert_true(rt__registry_contains(&r, 1, K(buf), len));
    }
    rt__registry_free(&r);

    unsigned char big[RT_REGISTRY_NAME_MAX + 1];
    memset(big, 'n', sizeof(big));
    rt__registry_init(&r, 1, 0, 0);
    assert_int_equal(rt__registry_add(&r, 1, big, sizeof(big) - 1), 1);
    assert_int_equal(rt__registry_add(&r, 1, big, sizeof(big)), -ENAMETOOLONG);
    rt__registry_free(&r);
}

static void colliding_hashes_still_work(void **state)
{
    (void)state;
    /* Removing from the middle of a probe chain must not lose the entries
     * after it: fill a table densely, delete in a scattered order, check. */
    struct registry r;
    rt__registry_init(&r, 5, 0, 0);
    char buf[64];
    size_t len;
    for (unsigned i = 0; i < 190; i++) {
        (len = key(buf, i), rt__registry_add(&r, 1, K(buf), len));
    }
    for (unsigned i = 0; i < 190; i += 3) {
        assert_int_equal(
            (len = key(buf, i), rt__registry_remove(&r, 1, K(buf), len)), 0);
    }
    for (unsigned i = 0; i < 190; i++) {
        assert_int_equal(
            (len = key(buf, i), rt__registry_contains(&r, 1, K(buf), len)),
            i % 3 != 0);
    }
    rt__registry_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(add_remove_contains),
        cmocka_unit_test(registration_order_is_kept),
        cmocka_unit_test(many_names_then_reuse_without_growth),
        cmocka_unit_test(limits_keep_what_is_held),
        cmocka_unit_test(colliding_hashes_still_work),
    };
    return RT_RUN(tests);
}
