/* SPDX-License-Identifier: MIT */
/* The ledger and the journal as pure units: what a snapshot says is what
 * the ledger held (counts at their limit, an unknown boot, a line being
 * skipped), and a journal cannot make the tracker hold what it never
 * holds. Memory files only; no tracker runs. */
#define _GNU_SOURCE
#include "util.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "journal.h"
#include "ledger.h"
#include "recorder.h"
#include "rtypes.h"

#define U(s) ((const unsigned char *)(s))

static unsigned type_of(const char *name)
{
    int t = rt__rtypes_find(name, strlen(name));
    assert_true(t >= 0);
    return (unsigned)t;
}

static uint32_t held(const struct rt_ledger *l, const char *rtype,
                     const char *name)
{
    unsigned t = type_of(rtype);
    for (const struct rt_entry *e = rt__registry_first(&l->reg, t); e != NULL;
         e = e->next) {
        if (e->len == strlen(name) && memcmp(e->name, name, e->len) == 0) {
            return e->count;
        }
    }
    return 0;
}

static int memfile(void)
{
    int fd = memfd_create("rt-test-journal", MFD_CLOEXEC);
    assert_true(fd >= 0);
    return fd;
}

/* Appends one M record holding LINE (newline added) to FD. */
static void put_meta(int fd, const char *line)
{
    char rec[RT_JOURNAL_HDR + 512];
    size_t n = strlen(line);
    assert_true(n + 1 < sizeof(rec) - RT_JOURNAL_HDR);
    rt__journal_header(rec, 'M', n + 1);
    memcpy(rec + RT_JOURNAL_HDR, line, n);
    rec[RT_JOURNAL_HDR + n] = '\n';
    size_t total = RT_JOURNAL_HDR + n + 1;
    assert_int_equal(write(fd, rec, total), (ssize_t)total);
}

/* Snapshots L and INFO into a new memory file and replays it into OUT
 * and OUT_INFO. */
static void round_trip(const struct rt_ledger *l, const struct rt_runinfo *info,
                       struct rt_ledger *out, struct rt_runinfo *out_info)
{
    int fd = memfile();
    struct rt_recorder r;
    struct rt_ledger scratch;
    struct rt_runinfo scratch_info;
    rt__ledger_init(&scratch, 1, 0, NULL);
    memset(&scratch_info, 0, sizeof(scratch_info));
    assert_int_equal(rt__recorder_open(&r, fd, 0, &scratch, &scratch_info), 0);
    assert_int_equal(rt__recorder_snapshot(&r, l, info), 0);
    rt__ledger_free(&scratch);
    rt__ledger_init(out, 2, 0, NULL);
    memset(out_info, 0, sizeof(*out_info));
    uint64_t end = 0;
    int torn = 1;
    assert_int_equal(rt__recorder_replay(fd, out, out_info, &end, &torn), 0);
    assert_false(torn);
    close(fd);
}

static void counts_saturate(void **state)
{
    (void)state;
    struct rt_ledger l;
    rt__ledger_init(&l, 3, 0, NULL);
    unsigned shm = type_of("shared_memory");
    assert_int_equal(
        rt__ledger_add(&l, shm, U("/big"), 4, UINT32_MAX - 1, NULL), 0);
    assert_int_equal(rt__ledger_add(&l, shm, U("/big"), 4, 5, NULL), 0);
    assert_int_equal(held(&l, "shared_memory", "/big"), UINT32_MAX);
    /* Still held after a withdrawal: a wrapped count would have been 3. */
    assert_int_equal(rt__ledger_withdraw(&l, shm, U("/big"), 4), 0);
    assert_int_equal(held(&l, "shared_memory", "/big"), UINT32_MAX - 1);
    /* So the snapshot, replayed, holds it with the same count. */
    struct rt_runinfo info = {0};
    struct rt_ledger back;
    struct rt_runinfo back_info;
    round_trip(&l, &info, &back, &back_info);
    assert_int_equal(held(&back, "shared_memory", "/big"), UINT32_MAX - 1);
    rt__ledger_free(&back);
    rt__ledger_free(&l);
}

static void unknown_boot_stays_unknown(void **state)
{
    (void)state;
    struct rt_ledger l;
    rt__ledger_init(&l, 4, 0, NULL);
    struct rt_runinfo info = {.have_run = 1,
                              .uid = 1000,
                              .b_dev = 5,
                              .b_ino = 77,
                              .time = 1700000000,
                              .starter = 42};
    struct rt_ledger back;
    struct rt_runinfo back_info;
    round_trip(&l, &info, &back, &back_info);
    assert_true(back_info.have_run);
    assert_int_equal(back_info.b_ino, 77);
    /* Written "-", read back as unknown: not a boot named "-". */
    assert_string_equal(back_info.boot, "");
    rt__ledger_free(&back);
    /* A known boot comes back as it was. */
    snprintf(info.boot, sizeof(info.boot), "%s",
             "0b1a2c3d-aaaa-bbbb-cccc-0123456789ab");
    round_trip(&l, &info, &back, &back_info);
    assert_string_equal(back_info.boot, info.boot);
    rt__ledger_free(&back);
    rt__ledger_free(&l);
}

static void line_being_skipped_survives_a_snapshot(void **state)
{
    (void)state;
    struct rt_ledger l;
    rt__ledger_init(&l, 5, 0, NULL);
    /* A line longer than any the tracker keeps, not ended yet. */
    static unsigned char junk[RT_LINE_MAX + 100];
    memset(junk, 'x', sizeof(junk));
    rt__ledger_feed(&l, RT_SRC_B, junk, sizeof(junk));
    assert_true(l.carry[RT_SRC_B].skipping);
    unsigned bad = l.bad_lines;
    struct rt_runinfo info = {0};
    struct rt_ledger back;
    struct rt_runinfo back_info;
    round_trip(&l, &info, &back, &back_info);
    assert_true(back.carry[RT_SRC_B].skipping);
    /* The end of the long line is dropped in both, and the next line is
     * read as a line in both. */
    static const char rest[] = "REGISTER:/tail:shared_memory\n"
                               "REGISTER:/next:shared_memory\n";
    rt__ledger_feed(&l, RT_SRC_B, U(rest), sizeof(rest) - 1);
    rt__ledger_feed(&back, RT_SRC_B, U(rest), sizeof(rest) - 1);
    for (int i = 0; i < 2; i++) {
        const struct rt_ledger *x = i == 0 ? &l : &back;
        assert_int_equal(held(x, "shared_memory", "/tail"), 0);
        assert_int_equal(held(x, "shared_memory", "/next"), 1);
    }
    assert_int_equal(l.bad_lines, bad);
    assert_int_equal(back.bad_lines, 0);
    rt__ledger_free(&back);
    rt__ledger_free(&l);
}

static void noop_entries_are_not_held(void **state)
{
    (void)state;
    int fd = memfile();
    /* "L2tlZXA" is "/keep" and "L25vb3A" "/noop" in URL-safe base64. */
    put_meta(fd, "entry rtype=noop name=L25vb3A count=1");
    put_meta(fd, "entry rtype=shared_memory name=L2tlZXA count=2");
    struct rt_ledger l;
    struct rt_runinfo info;
    rt__ledger_init(&l, 6, 0, NULL);
    memset(&info, 0, sizeof(info));
    uint64_t end = 0;
    int torn = 1;
    assert_int_equal(rt__recorder_replay(fd, &l, &info, &end, &torn), 0);
    assert_false(torn);
    assert_int_equal(rt__ledger_count(&l, type_of("noop")), 0);
    assert_int_equal(held(&l, "shared_memory", "/keep"), 2);
    /* Not a type this process does not know: the journal is still whole. */
    assert_int_equal(l.unknown_types, 0);
    rt__ledger_free(&l);
    close(fd);
}

/* What the ledger said about names nobody registered. */
static int unmatched;

static void count_unmatched(void *ctx, const unsigned char *name, size_t len,
                            const char *rtype)
{
    (void)ctx;
    (void)name;
    (void)len;
    (void)rtype;
    unmatched++;
}

static void quiet_withdrawals_are_never_reported(void **state)
{
    (void)state;
    static const struct rt_ledger_report report = {.not_registered =
                                                       count_unmatched};
    struct rt_ledger l;
    rt__ledger_init(&l, 7, 0, &report);
    unmatched = 0;
    /* From B, read before A's registrations written earlier: a quiet and a
     * loud withdrawal of the same name, and a quiet one of another. */
    static const char b[] = "RT_FORGET:/x:shared_memory\n"
                            "UNREGISTER:/x:shared_memory\n"
                            "RT_FORGET:/gone:shared_memory\n";
    rt__ledger_feed(&l, RT_SRC_B, U(b), sizeof(b) - 1);
    assert_int_equal(unmatched, 0);
    /* They survive a snapshot as they were: the quiet one apart. */
    struct rt_runinfo info = {0};
    struct rt_ledger back;
    struct rt_runinfo back_info;
    round_trip(&l, &info, &back, &back_info);
    back.report = &report;
    unsigned shm = type_of("shared_memory");
    for (int i = 0; i < 2; i++) {
        const struct registry *p = &(i == 0 ? &l : &back)->pending[RT_SRC_B];
        assert_int_equal(rt__registry_count(p, shm), 1);
        assert_int_equal(rt__registry_count(p, RT_LEDGER_QUIET(shm)), 2);
    }
    /* A's one registration of /x cancels one of the two, the loud one
     * first: then nothing is left to say. */
    static const char a[] = "REGISTER:/x:shared_memory\n";
    for (int i = 0; i < 2; i++) {
        struct rt_ledger *x = i == 0 ? &l : &back;
        unmatched = 0;
        rt__ledger_feed(x, RT_SRC_A, U(a), sizeof(a) - 1);
        assert_int_equal(held(x, "shared_memory", "/x"), 0);
        rt__ledger_finish(x);
        assert_int_equal(unmatched, 0);
    }
    /* Alone, a loud one is said and a quiet one is not. */
    rt__ledger_free(&back);
    rt__ledger_init(&back, 8, 0, &report);
    unmatched = 0;
    static const char c[] = "UNREGISTER:/l:semaphore\n"
                            "RT_FORGET:/q:semaphore\n"
                            "{\"cmd\":\"RT_FORGET\",\"rtype\":\"semaphore\","
                            "\"base64_name\":\"L2HDqQ==\"}\n";
    rt__ledger_feed(&back, RT_SRC_A, U(c), sizeof(c) - 1);
    rt__ledger_finish(&back);
    assert_int_equal(unmatched, 1);
    assert_int_equal(back.bad_lines, 1);
    /* A registration withdrawn quietly is withdrawn. */
    static const char d[] = "REGISTER:/r:semaphore\n"
                            "REGISTER:/r:semaphore\n"
                            "RT_FORGET:/r:semaphore\n";
    rt__ledger_feed(&back, RT_SRC_A, U(d), sizeof(d) - 1);
    assert_int_equal(held(&back, "semaphore", "/r"), 1);
    rt__ledger_free(&back);
    rt__ledger_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counts_saturate),
        cmocka_unit_test(unknown_boot_stays_unknown),
        cmocka_unit_test(line_being_skipped_survives_a_snapshot),
        cmocka_unit_test(noop_entries_are_not_held),
        cmocka_unit_test(quiet_withdrawals_are_never_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
