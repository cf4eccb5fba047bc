/* SPDX-License-Identifier: MIT */
/* State directories and journals that cannot be trusted: a directory of
 * another user, with mode 0755 or behind a symbolic link; journals that
 * are links, FIFOs, cut in the middle of a record, garbage, or written by
 * hand to look like more than their run registered. Each costs a warning
 * and at most its own bad entries: no crash, no hang, nothing outside the
 * journal's own entries touched. Test process and forked hosts. */
#define _GNU_SOURCE
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "resourcetracker.h"

static char out[1 << 20];

/* ---- writing journals by hand (src/journal.h) ---------------------------- */

struct jbuf {
    size_t len;
    char data[16384];
};

/* A record: "K LLLLLLLLLL\n" and its body. LEN_SAID is what the header
 * says (the body's length, unless the test lies). */
static void record(struct jbuf *j, char kind, const char *body, size_t len,
                   size_t len_said)
{
    j->len += (size_t)snprintf(j->data + j->len, sizeof(j->data) - j->len,
                               "%c %010zu\n", kind, len_said);
    memcpy(j->data + j->len, body, len);
    j->len += len;
}

static void rec(struct jbuf *j, char kind, const char *body)
{
    record(j, kind, body, strlen(body), strlen(body));
}

/* The "run" meta record of a run of this machine, this boot and this PID
 * namespace, whose pipe (B) no process holds: a run that is over. */
static void run_record(struct jbuf *j)
{
    char boot[64] = "-";
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (f != NULL) {
        if (fgets(boot, sizeof(boot), f) != NULL) {
            boot[strcspn(boot, "\n")] = '\0';
        }
        fclose(f);
    }
    char ns[64] = "";
    unsigned long long pidns = 0;
    ssize_t n = readlink("/proc/self/ns/pid", ns, sizeof(ns) - 1);
    if (n > 0) {
        ns[n] = '\0';
        (void)sscanf(ns, "pid:[%llu]", &pidns);
    }
    char line[256];
    snprintf(line, sizeof(line),
             "run uid=%lu b=1:999999937 a=0:0 pidns=%llu boot=%s time=%lu "
             "starter=1\n",
             (unsigned long)geteuid(), pidns, boot, (unsigned long)time(NULL));
    rec(j, 'M', line);
}

static void write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

/* Writes J as the journal NAME of directory DIR. */
static void put_journal(const char *dir, const char *name, const struct jbuf *j)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    write_file(path, j->data, j->len);
}

static void expect_text(const char *text, const char *needle)
{
    if (strstr(text, needle) == NULL) {
        fail_msg("lacks \"%s\":\n%.6000s", needle, text);
    }
}

static int file_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* ---- state directories the library must not use -------------------------- */

/* A host in a state directory it must refuse: it works without a journal,
 * says why once, and the tracker still cleans up at the end. */
static int refused_host(void *arg, int w)
{
    const char *name = arg;
    RT_CHECK(w, rt_ensure_running(), 0, 0);
    RT_CHECK(w, rt_test_make_shm(name), 0, 0);
    RT_CHECK(w, rt_register(name, RT_SHARED_MEMORY), 0, 0);
    RT_CHECK(w, rt_ensure_running(), 0, 0);
    proc_say(w, "pid %ld", (long)rt_tracker_pid());
    return rt_test_failures;
}

/* RESOURCE_TRACKER_DIR set to DIR, which must be refused for WHY: the
 * library warns once and goes on without a journal; the command refuses it
 * (exit 2, "resourcetracker: state directory DIR WHY"); the journal inside
 * (JOURNAL, naming the segment VICTIM) and VICTIM stay as they were. */
static void refused_dir(struct rt_test *t, const char *dir, const char *why,
                        const char *journal, const char *victim)
{
    struct stat before;
    assert_int_equal(stat(journal, &before), 0);
    setenv("RESOURCE_TRACKER_DIR", dir, 1);
    char name[128];
    rt_test_name(t, name, sizeof(name), "own");
    int rfd;
    pid_t host = rt_test_fork(t, refused_host, name, &rfd);
    char line[512];
    long tracker = -1;
    while (rt_test_read_line(rfd, line, sizeof(line), 20) >= 0) {
        if (sscanf(line, "pid %ld", &tracker) != 1) {
            print_error("host: %s\n", line);
        }
    }
    close(rfd);
    int st = rt_test_wait_pid(host, 20);
    assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_true(tracker > 0);
    rt_test_track(t, (pid_t)tracker);
    st = rt_test_wait_pid((pid_t)tracker, 20);
    assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 1);
    assert_false(rt_test_shm_exists(name));
    char want[512];
    snprintf(want, sizeof(want),
             "resource_tracker: no journal: state directory %s %s; a tracker "
             "that dies loses what it held\n",
             dir, why);
    const char *err = rt_test_stderr(t);
    if (rt_test_count(err, want) != 1 ||
        rt_test_count(err, "no journal") != 1) {
        fail_msg("stderr:\n%s", err);
    }
    static const char *const cmds[][3] = {{"sweep", NULL, NULL},
                                          {"sweep", "--json", NULL},
                                          {"list", NULL, NULL},
                                          {"list", "--json", NULL}};
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        assert_int_equal(rt_test_cli(t, cmds[i], out, sizeof(out), 20), 2);
    }
    snprintf(want, sizeof(want), "resourcetracker: state directory %s %s\n",
             dir, why);
    assert_int_equal(rt_test_count(rt_test_stderr(t), want), 4);
    setenv("RESOURCE_TRACKER_DIR", t->statedir, 1);
    /* Nothing in it was read as a journal, let alone swept. */
    struct stat after;
    assert_int_equal(stat(journal, &after), 0);
    assert_int_equal(after.st_size, before.st_size);
    assert_int_equal(after.st_mtime, before.st_mtime);
    assert_true(rt_test_shm_exists(victim));
}

/* A directory holding a journal of a dead run that names VICTIM. */
static void dir_with_journal(struct rt_test *t, const char *dir, char *journal,
                             size_t jlen, char *victim, size_t vlen)
{
    rt_test_name(t, victim, vlen, "victim");
    assert_int_equal(rt_test_make_shm(victim), 0);
    assert_int_equal(mkdir(dir, 0700), 0);
    struct jbuf j = {0, ""};
    run_record(&j);
    char line[256];
    snprintf(line, sizeof(line), "REGISTER:%s:shared_memory\n", victim);
    rec(&j, 'B', line);
    snprintf(journal, jlen, "%s/pipe-1-999999937.journal", dir);
    write_file(journal, j.data, j.len);
}

static void dir_of_another_user_is_refused(void **state)
{
    struct rt_test *t = *state;
    struct passwd *nobody = getpwnam("nobody");
    if (geteuid() != 0 || nobody == NULL) {
        skip(); /* only root can give a folder away */
    }
    char dir[160], journal[256], victim[128];
    snprintf(dir, sizeof(dir), "/tmp%s-theirs", t->prefix);
    dir_with_journal(t, dir, journal, sizeof(journal), victim, sizeof(victim));
    assert_int_equal(chown(dir, nobody->pw_uid, nobody->pw_gid), 0);
    refused_dir(t, dir, "belongs to another user", journal, victim);
}

static void dir_with_mode_0755_is_refused(void **state)
{
    struct rt_test *t = *state;
    char dir[160], journal[256], victim[128];
    snprintf(dir, sizeof(dir), "/tmp%s-open", t->prefix);
    dir_with_journal(t, dir, journal, sizeof(journal), victim, sizeof(victim));
    assert_int_equal(chmod(dir, 0755), 0);
    refused_dir(t, dir, "does not have mode 0700", journal, victim);
}

static void dir_behind_a_link_is_refused(void **state)
{
    struct rt_test *t = *state;
    char dir[160], link[160], journal[256], victim[128];
    snprintf(dir, sizeof(dir), "/tmp%s-target", t->prefix);
    snprintf(link, sizeof(link), "/tmp%s-link", t->prefix);
    dir_with_journal(t, dir, journal, sizeof(journal), victim, sizeof(victim));
    assert_int_equal(symlink(dir, link), 0);
    refused_dir(t, link, "is a symbolic link or not a folder", journal, victim);
}

/* ---- journals the sweep must not use ------------------------------------- */

/* A host whose tracker's guardian sweeps the state directory at start;
 * the host ends at once, and the test waits for its tracker and
 * guardian. No crash, no hang. */
static int plain_host(void *arg, int w)
{
    (void)arg;
    RT_CHECK(w, rt_ensure_running(), 0, 0);
    proc_say(w, "pid %ld", (long)rt_tracker_pid());
    return rt_test_failures;
}

static void run_plain_host(struct rt_test *t)
{
    /* At its end the tracker waits for its guardian (and reaps it): once
     * it has exited, the guardian's sweep is over. */
    assert_int_equal(rt_test_run_to_end(t, plain_host, NULL), 0);
}

/* A journal that is a symbolic link to a journal elsewhere, one that is a
 * FIFO, and a file with two names (two journals): ignored with a warning by the
 * command and by a tracker's guardian, left in place, the link's target and
 * what it names untouched, and nobody blocks on the FIFO. */
static void linked_and_fifo_journals_are_ignored(void **state)
{
    struct rt_test *t = *state;
    char elsewhere[160], journal[256], victim[128];
    snprintf(elsewhere, sizeof(elsewhere), "/tmp%s-elsewhere", t->prefix);
    dir_with_journal(t, elsewhere, journal, sizeof(journal), victim,
                     sizeof(victim));
    char link[256], fifo[256];
    snprintf(link, sizeof(link), "%s/pipe-1-1001.journal", t->statedir);
    snprintf(fifo, sizeof(fifo), "%s/pipe-1-1002.journal", t->statedir);
    assert_int_equal(symlink(journal, link), 0);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    char one[256], two[256];
    snprintf(one, sizeof(one), "%s/pipe-1-1003.journal", t->statedir);
    snprintf(two, sizeof(two), "%s/pipe-1-1004.journal", t->statedir);
    int fd = open(one, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(linkat(AT_FDCWD, one, AT_FDCWD, two, 0), 0);
    struct stat before;
    assert_int_equal(stat(journal, &before), 0);

    const char *sweep[] = {"sweep", NULL};
    assert_int_equal(rt_test_cli(t, sweep, out, sizeof(out), 20), 0);
    expect_text(out, "journal pipe-1-1001.journal: is a symbolic link, "
                     "ignored\n");
    expect_text(out, "journal pipe-1-1002.journal: is not a regular file, "
                     "ignored\n");
    expect_text(out, "journal pipe-1-1003.journal: has more than one name, "
                     "ignored\n");
    const char *sweep_json[] = {"sweep", "--json", NULL};
    assert_int_equal(rt_test_cli(t, sweep_json, out, sizeof(out), 20), 0);
    expect_text(out, "\"bad_journals\":4}");
    if (rt_test_json_valid(out) == 0) {
        fail_msg("invalid JSON:\n%s", out);
    }
    const char *list[] = {"list", NULL};
    assert_int_equal(rt_test_cli(t, list, out, sizeof(out), 20), 0);
    run_plain_host(t);

    const char *err = rt_test_stderr(t);
    /* Twice from the command's sweeps, once from the guardian's. */
    if (rt_test_count(err, "resource_tracker: is a symbolic link, ignored: "
                           "pipe-1-1001.journal\n") != 3 ||
        rt_test_count(err, "resource_tracker: is not a regular file, "
                           "ignored: pipe-1-1002.journal\n") != 3) {
        fail_msg("stderr:\n%s", err);
    }
    expect_text(err, "resourcetracker: journal pipe-1-1001.journal ignored");
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(lstat(fifo, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    assert_int_equal(lstat(one, &st), 0);
    assert_int_equal(st.st_nlink, 2);
    unlink(one);
    unlink(two);
    assert_int_equal(stat(journal, &st), 0);
    assert_int_equal(st.st_size, before.st_size);
    assert_int_equal(st.st_mtime, before.st_mtime);
    assert_true(rt_test_shm_exists(victim));
}

/* ---- damaged journals ---------------------------------------------------- */

/* One hand-written journal: the run registered /x (and maybe more of its
 * own, before the damage); /y appears only past the damage, or in a form
 * no tracker ever applied. */
struct damaged {
    const char *what;
    int cut_short; /* the reader reports it cut short */
    void (*build)(struct jbuf *j, const char *x, const char *y);
};

static void reg_line(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "REGISTER:%s:shared_memory\n", name);
}

/* The record after /x's says more than the file holds: cut short. */
static void torn_record(struct jbuf *j, const char *x, const char *y)
{
    char l[256];
    reg_line(l, sizeof(l), x);
    rec(j, 'B', l);
    reg_line(l, sizeof(l), y);
    record(j, 'B', l, strlen(l), strlen(l) + 40);
}

/* A header that is not one, then a good-looking record for /y. */
static void corrupt_header(struct jbuf *j, const char *x, const char *y)
{
    char l[256];
    reg_line(l, sizeof(l), x);
    rec(j, 'B', l);
    memcpy(j->data + j->len, "B 12x4567890\n", 13);
    j->len += 13;
    reg_line(l, sizeof(l), y);
    rec(j, 'B', l);
}

/* A record whose length stops short of its line, the rest of the line
 * where the next header should be: the reader stops there. */
static void short_length(struct jbuf *j, const char *x, const char *y)
{
    char l[256];
    reg_line(l, sizeof(l), x);
    rec(j, 'B', l);
    reg_line(l, sizeof(l), y);
    record(j, 'B', l, strlen(l), 11); /* "REGISTER:/y" */
}

/* The journal ends inside /y's line: complete records, no newline. A
 * line cut there might have gone on ("/y:shared_memory-2:shared_memory"),
 * so it is no registration of /y. */
static void unterminated_line(struct jbuf *j, const char *x, const char *y)
{
    char l[256];
    reg_line(l, sizeof(l), x);
    rec(j, 'B', l);
    reg_line(l, sizeof(l), y);
    l[strlen(l) - 1] = '\0';
    rec(j, 'B', l);
}

/* Half a line from one pipe and the other half from the other: lines
 * never mix across pipes. */
static void halves_from_two_pipes(struct jbuf *j, const char *x, const char *y)
{
    char l[256];
    snprintf(l, sizeof(l), "REGISTER:%s", y);
    rec(j, 'A', l);
    rec(j, 'B', ":shared_memory\n");
    reg_line(l, sizeof(l), x);
    rec(j, 'B', l);
}

/* A raw record for /y inside a meta record's body: raw bytes are only
 * ever read as raw bytes. */
static void raw_inside_meta(struct jbuf *j, const char *x, const char *y)
{
    char l[256];
    reg_line(l, sizeof(l), x);
    rec(j, 'B', l);
    char inner[512];
    reg_line(l, sizeof(l), y);
    snprintf(inner, sizeof(inner), "B %010zu\n%s", strlen(l), l);
    rec(j, 'M', inner);
}

/* URL-safe base64 with padding, as the journal writes names. */
static void b64(char *out_, const char *in)
{
    static const char abc[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t n = strlen(in);
    const unsigned char *u = (const unsigned char *)in;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)u[i] << 16;
        v |= i + 1 < n ? (unsigned)u[i + 1] << 8 : 0;
        v |= i + 2 < n ? u[i + 2] : 0;
        *out_++ = abc[(v >> 18) & 63];
        *out_++ = abc[(v >> 12) & 63];
        *out_++ = i + 1 < n ? abc[(v >> 6) & 63] : '=';
        *out_++ = i + 2 < n ? abc[v & 63] : '=';
    }
    *out_ = '\0';
}

/* A snapshot naming /y, cut short: ignored whole. */
static void torn_snapshot(struct jbuf *j, const char *x, const char *y)
{
    char l[256];
    reg_line(l, sizeof(l), x);
    rec(j, 'B', l);
    char name[256];
    b64(name, y);
    char body[512];
    snprintf(body, sizeof(body), "entry rtype=shared_memory name=%s count=1\n",
             name);
    record(j, 'S', body, strlen(body), strlen(body) + 100);
}

static const struct damaged damaged_journals[] = {
    {"torn record", 1, torn_record},
    {"corrupt header", 1, corrupt_header},
    {"length short of its line", 1, short_length},
    {"unterminated line", 0, unterminated_line},
    {"halves from two pipes", 0, halves_from_two_pipes},
    {"raw record inside a meta record", 0, raw_inside_meta},
    {"torn snapshot", 1, torn_snapshot},
};

/* Each damaged journal: the sweep (the command's, and a guardian's) removes
 * /x, which the run registered, never /y; says "cut short" when it is;
 * neither crashes nor hangs. */
static void damaged_journals_never_cost_other_names(void **state)
{
    struct rt_test *t = *state;
    size_t n = sizeof(damaged_journals) / sizeof(damaged_journals[0]);
    for (size_t i = 0; i < n; i++) {
        const struct damaged *d = &damaged_journals[i];
        char x[128], y[128], sx[16], sy[16];
        snprintf(sx, sizeof(sx), "x%zu", i);
        snprintf(sy, sizeof(sy), "y%zu", i);
        rt_test_name(t, x, sizeof(x), sx);
        rt_test_name(t, y, sizeof(y), sy);
        assert_int_equal(rt_test_make_shm(x), 0);
        assert_int_equal(rt_test_make_shm(y), 0);
        struct jbuf j = {0, ""};
        run_record(&j);
        d->build(&j, x, y);
        char name[64];
        snprintf(name, sizeof(name), "pipe-2-%zu.journal", 1000 + i);
        put_journal(t->statedir, name, &j);
        char want[256];
        snprintf(want, sizeof(want),
                 "resource_tracker: journal cut short (its tracker was killed "
                 "while writing it), the rest is used: %s\n",
                 name);
        int before = rt_test_count(rt_test_stderr(t), want);
        int status;
        if (i % 2 == 0) {
            const char *sweep[] = {"sweep", NULL};
            status = rt_test_cli(t, sweep, out, sizeof(out), 20);
        } else {
            /* A tracker's guardian sweeps it at start. */
            run_plain_host(t);
            status = 0;
        }
        int cut = rt_test_count(rt_test_stderr(t), want) - before;
        if (status != 0 || rt_test_shm_exists(x) || !rt_test_shm_exists(y) ||
            cut != d->cut_short) {
            fail_msg("%s: status %d, /x %s, /y %s, cut short said %d "
                     "times;\nstdout:\n%s\nstderr:\n%s",
                     d->what, status, rt_test_shm_exists(x) ? "kept" : "gone",
                     rt_test_shm_exists(y) ? "kept" : "gone", cut, out,
                     rt_test_stderr(t));
        }
        shm_unlink(y);
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", t->statedir, name);
        assert_false(file_exists(path)); /* swept whole: removed */
    }
}

/* Garbage: a journal of random bytes (a fixed seed), with a good-looking
 * record for /y somewhere in it. No crash, no hang, /y kept, "cut short"
 * said. */
static void garbage_journal_costs_nothing(void **state)
{
    struct rt_test *t = *state;
    char y[128];
    rt_test_name(t, y, sizeof(y), "y");
    assert_int_equal(rt_test_make_shm(y), 0);
    unsigned seed = 12345;
    for (int round = 0; round < (rt_test_valgrind() ? 4 : 20); round++) {
        struct jbuf j = {0, ""};
        size_t len = 64 + (size_t)(rand_r(&seed) % 4000);
        for (size_t k = 0; k < len; k++) {
            j.data[j.len++] = (char)(rand_r(&seed) & 0xFF);
        }
        char l[256];
        reg_line(l, sizeof(l), y);
        rec(&j, 'B', l);
        if (round % 2 == 1) {
            /* Garbage after a good start. */
            struct jbuf g = {0, ""};
            run_record(&g);
            memcpy(g.data + g.len, j.data, j.len);
            g.len += j.len;
            j = g;
        }
        put_journal(t->statedir, "pipe-3-3.journal", &j);
        const char *sweep[] = {"sweep", "--json", NULL};
        int status = rt_test_cli(t, sweep, out, sizeof(out), 20);
        if (status != 0 || !rt_test_shm_exists(y) ||
            rt_test_json_valid(out) == 0) {
            fail_msg("round %d: status %d, /y %s:\n%s\n%s", round, status,
                     rt_test_shm_exists(y) ? "kept" : "gone", out,
                     rt_test_stderr(t));
        }
    }
    expect_text(rt_test_stderr(t),
                "resource_tracker: journal cut short (its tracker was killed "
                "while writing it), the rest is used: pipe-3-3.journal\n");
}

/* ---- a real journal, cut at every point ---------------------------------- */

#define REAL_NAMES 5

/* A run whose journal the test then cuts: REAL_NAMES segments through
 * the wrappers, one of them removed again, and a segment registered and
 * withdrawn by name. */
static int journal_host(void *arg, int w)
{
    const char *prefix = arg;
    for (int i = 0; i < REAL_NAMES; i++) {
        char name[160];
        snprintf(name, sizeof(name), "%s-r%d", prefix, i);
        int fd = rt_shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
        RT_CHECK(w, fd >= 0, 1, 0);
        close(fd);
    }
    char name[160];
    snprintf(name, sizeof(name), "%s-r1", prefix);
    RT_CHECK(w, rt_shm_unlink(name), 0, 0);
    snprintf(name, sizeof(name), "%s-w", prefix);
    RT_CHECK(w, rt_register(name, RT_SHARED_MEMORY), 0, 0);
    RT_CHECK(w, rt_unregister(name, RT_SHARED_MEMORY), 0, 0);
    RT_CHECK(w, rt_ensure_running(), 0, 0);
    proc_say(w, "pid %ld", (long)rt_tracker_pid());
    rt_test_hang();
}

/* Whether every "name" in the sweep's JSON OUT is one of the run's. */
static int names_are_the_runs(const char *json, const char *prefix)
{
    static const char key[] = "\"name\":\"";
    for (const char *p = strstr(json, key); p != NULL; p = strstr(p + 1, key)) {
        const char *v = p + sizeof(key) - 1;
        size_t n = strcspn(v, "\"");
        char name[256];
        snprintf(name, sizeof(name), "%.*s", (int)n, v);
        size_t k = strlen(prefix);
        int ours =
            strncmp(name, prefix, k) == 0 &&
            ((name[k] == '-' && name[k + 1] == 'r' && name[k + 2] >= '0' &&
              name[k + 2] < '0' + REAL_NAMES && name[k + 3] == '\0') ||
             strcmp(name + k, "-w") == 0);
        if (!ours) {
            return 0;
        }
    }
    return 1;
}

/* A real journal (its run killed whole), cut at every third byte (every
 * 41st under valgrind): the sweep of each cut never names anything the run
 * did not register, never crashes or hangs; a sweep of the journal cut in
 * its last record, then of the whole one, removes only the run's names (a
 * decoy of the same prefix stays). */
static void real_journal_cut_anywhere(void **state)
{
    struct rt_test *t = *state;
    int rfd;
    pid_t host = rt_test_fork(t, journal_host, t->prefix, &rfd);
    long tracker = rt_test_read_value(rfd, "pid", 20);
    close(rfd);
    assert_true(tracker > 0);
    rt_test_track(t, (pid_t)tracker);
    pid_t guardian = rt_test_guardian_of((pid_t)tracker, 10);
    assert_true(guardian > 0);
    rt_test_track(t, guardian);
    /* The four names still registered, journaled before the kill. */
    assert_true(rt_test_wait_listed(t, REAL_NAMES - 1, 30));
    assert_int_equal(kill(guardian, SIGKILL), 0);
    assert_int_equal(kill((pid_t)tracker, SIGKILL), 0);
    assert_int_equal(kill(host, SIGKILL), 0);
    assert_int_not_equal(rt_test_wait_pid(host, 20), -1);
    assert_int_not_equal(rt_test_wait_adopted((pid_t)tracker, 20), -1);
    assert_int_not_equal(rt_test_wait_adopted(guardian, 20), -1);
    /* The journal, whole. */
    const char *list[] = {"list", NULL};
    assert_int_equal(rt_test_cli(t, list, out, sizeof(out), 20), 0);
    const char *p = strstr(out, "pipe-");
    assert_non_null(p);
    char jname[128];
    snprintf(jname, sizeof(jname), "%.*s", (int)strcspn(p, ":"), p);
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", t->statedir, jname);
    size_t size;
    char *whole = proc_slurp(path, &size);
    assert_non_null(whole);
    assert_int_equal(unlink(path), 0);
    /* A decoy with the prefix, never registered. */
    char decoy[128];
    rt_test_name(t, decoy, sizeof(decoy), "decoy");
    assert_int_equal(rt_test_make_shm(decoy), 0);

    char cutdir[160];
    snprintf(cutdir, sizeof(cutdir), "/tmp%s-cut", t->prefix);
    assert_int_equal(mkdir(cutdir, 0700), 0);
    setenv("RESOURCE_TRACKER_DIR", cutdir, 1);
    char cutpath[512];
    snprintf(cutpath, sizeof(cutpath), "%s/%s", cutdir, jname);
    int runs = 0;
    /* Under valgrind each sweep takes a second: fewer cuts. */
    size_t step = rt_test_valgrind() ? 41 : 3;
    for (size_t k = 0; k <= size; k += step) {
        write_file(cutpath, whole, k);
        const char *sweep[] = {"sweep", "--dry-run", "--json", NULL};
        int status = rt_test_cli(t, sweep, out, sizeof(out), 20);
        if ((status != 0 && status != 1) ||
            !names_are_the_runs(out, t->prefix)) {
            fail_msg("cut at %zu of %zu: status %d:\n%s", k, size, status, out);
        }
        runs++;
        unlink(cutpath);
    }
    /* A real sweep of the journal cut in its last record: the torn record
     * is not used (said so), and nothing but the run's names is touched;
     * then a real sweep of the whole journal removes the run's names. */
    write_file(cutpath, whole, size - 3);
    const char *sweep[] = {"sweep", NULL};
    int cut_status = rt_test_cli(t, sweep, out, sizeof(out), 20);
    char cut_out[4096];
    snprintf(cut_out, sizeof(cut_out), "%.4000s", out);
    write_file(cutpath, whole, size);
    int status = rt_test_cli(t, sweep, out, sizeof(out), 20);
    setenv("RESOURCE_TRACKER_DIR", t->statedir, 1);
    print_message("%d cuts of a %zu-byte journal swept\n", runs, size);
    free(whole);
    char want[256];
    snprintf(want, sizeof(want),
             "resource_tracker: journal cut short (its tracker was killed "
             "while writing it), the rest is used: %s\n",
             jname);
    expect_text(rt_test_stderr(t), want);
    int gone = 0;
    for (int i = 0; i < REAL_NAMES; i++) {
        char name[160];
        snprintf(name, sizeof(name), "%s-r%d", t->prefix, i);
        gone += !rt_test_shm_exists(name);
    }
    if (cut_status != 0 || status != 0 || !rt_test_shm_exists(decoy) ||
        gone != REAL_NAMES) {
        fail_msg("status %d then %d, decoy %s, %d of the run's names gone:\n"
                 "%s\n%s\n%.3000s",
                 cut_status, status,
                 rt_test_shm_exists(decoy) ? "kept" : "gone", gone, cut_out,
                 out, rt_test_stderr(t));
    }
}

/* ---- a state directory that fills up ------------------------------------ */

struct full_args {
    struct rt_test *t;
    const char *dir; /* an empty folder the host mounts a small tmpfs on */
};

static int journal_present(const char *state)
{
    DIR *d = opendir(state);
    if (d == NULL) {
        return -1;
    }
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        n += strstr(e->d_name, ".journal") != NULL;
    }
    closedir(d);
    return n;
}

/* In a mount namespace of its own, with its state directory on a 16 KiB
 * tmpfs: creates segments until the journal cannot take more, then goes
 * on. */
static int full_host(void *arg, int w)
{
    const struct full_args *a = arg;
    if (unshare(CLONE_NEWNS) < 0 ||
        mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 ||
        mount("rt-test", a->dir, "tmpfs", 0, "size=16k,mode=0700") < 0) {
        proc_say(w, "skip %d", errno);
        return 0;
    }
    char state[256];
    snprintf(state, sizeof(state), "%s/state", a->dir);
    if (mkdir(state, 0700) < 0 || setenv("RESOURCE_TRACKER_DIR", state, 1)) {
        return 91;
    }
    RT_CHECK(w, rt_ensure_running(), 0, 0);
    RT_CHECK_EQ(w, journal_present(state), 1);
    char name[128];
    int made = 0;
    int gone = 0;
    double end = proc_now() + proc_scaled(30);
    while (!gone && made < 5000 && proc_now() < end) {
        snprintf(name, sizeof(name), "%s-f%d", a->t->prefix, made);
        int fd = rt_shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
        RT_CHECK(w, fd >= 0, 1, 0);
        if (fd < 0) {
            break;
        }
        close(fd);
        made++;
        /* The tracker takes the lines a moment later. */
        for (int i = 0; i < 20 && !gone; i++) {
            gone = journal_present(state) == 0;
            if (made % 50 != 0) {
                break;
            }
            struct timespec ms = {0, 5000000L};
            nanosleep(&ms, NULL);
        }
    }
    RT_CHECK_EQ(w, gone, 1);
    /* The tracker goes on without it: a withdrawal, more names. */
    snprintf(name, sizeof(name), "%s-f0", a->t->prefix);
    RT_CHECK(w, rt_shm_unlink(name), 0, 0);
    snprintf(name, sizeof(name), "%s-after", a->t->prefix);
    int fd = rt_shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
    RT_CHECK(w, fd >= 0, 1, 0);
    if (fd >= 0) {
        close(fd);
    }
    RT_CHECK_EQ(w, journal_present(state), 0);
    proc_say(w, "pid %ld", (long)rt_tracker_pid());
    return rt_test_failures;
}

/* A journal that cannot take more no longer says what the run holds: it
 * is removed at once (so that no sweep goes by it), said once, and the
 * tracker goes on and cleans up at the end as without a journal. Needs
 * the right to mount (root); skipped otherwise. */
static void full_state_dir_drops_the_journal(void **state)
{
    struct rt_test *t = *state;
    char dir[] = "/tmp/rt-test-full-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct full_args a = {t, dir};
    int rfd;
    pid_t host = rt_test_fork(t, full_host, &a, &rfd);
    char line[256];
    ssize_t n = rt_test_read_line(rfd, line, sizeof(line), 60);
    if (n > 0 && strncmp(line, "skip", 4) == 0) {
        rt_test_expect_clean_exit(t, host, rfd, 20);
        rmdir(dir);
        skip();
    }
    long tracker = n > 4 && strncmp(line, "pid ", 4) == 0
                       ? strtol(line + 4, NULL, 10)
                       : -1;
    if (tracker <= 0) {
        fail_msg("host said '%s'; stderr:\n%s", n > 0 ? line : "",
                 rt_test_stderr(t));
    }
    rt_test_track(t, (pid_t)tracker);
    rt_test_expect_clean_exit(t, host, rfd, 20);
    int st = rt_test_wait_pid((pid_t)tracker, 30);
    assert_true(st != -1 && WIFEXITED(st));
    assert_int_equal(
        rt_test_count(rt_test_stderr(t), "the journal cannot be written"), 1);
    assert_int_equal(rt_test_count_prefix(t->prefix), 0);
    assert_int_equal(rmdir(dir), 0);
}

/* ---- a swept run of many names ------------------------------------------ */

/* A dead run of 1,500 names already gone, swept: one line for each of the
 * first 1,000, then one line for the rest, so that a sweep cannot flood the
 * stderr of whatever program's guardian runs it. */
static void sweep_of_many_names_says_at_most_a_thousand(void **state)
{
    struct rt_test *t = *state;
    enum { NAMES = 1500 };
    struct jbuf j = {0, ""};
    run_record(&j);
    size_t cap = (size_t)NAMES * 160;
    char *body = malloc(cap);
    assert_non_null(body);
    size_t len = 0;
    for (int i = 0; i < NAMES; i++) {
        char suffix[16];
        char name[128];
        snprintf(suffix, sizeof(suffix), "g%d", i);
        char l[256];
        reg_line(l, sizeof(l), rt_test_name(t, name, sizeof(name), suffix));
        size_t n = strlen(l);
        memcpy(body + len, l, n);
        len += n;
    }
    char path[512];
    snprintf(path, sizeof(path), "%s/pipe-2-4242.journal", t->statedir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    char hdr[32];
    int hn = snprintf(hdr, sizeof(hdr), "B %010zu\n", len);
    assert_int_equal(write(fd, j.data, j.len), (ssize_t)j.len);
    assert_int_equal(write(fd, hdr, (size_t)hn), hn);
    assert_int_equal(write(fd, body, len), (ssize_t)len);
    close(fd);
    free(body);
    const char *sweep[] = {"sweep", NULL};
    int status = rt_test_cli(t, sweep, out, sizeof(out), 60);
    const char *err = rt_test_stderr(t);
    if (status != 0) {
        fail_msg("status %d;\nstdout:\n%.3000s\nstderr:\n%.3000s", status, out,
                 err);
    }
    assert_int_equal(rt_test_count(err, ": not removed: already gone"), 1000);
    expect_text(err, "resource_tracker: 500 more names left in place, not "
                     "removed or failed to clean up: not shown");
    /* The command's own report (stdout) names every one. */
    assert_int_equal(rt_test_count(out, "already gone"), NAMES);
    assert_false(file_exists(path));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        RT_TEST(dir_of_another_user_is_refused),
        RT_TEST(dir_with_mode_0755_is_refused),
        RT_TEST(dir_behind_a_link_is_refused),
        RT_TEST(linked_and_fifo_journals_are_ignored),
        RT_TEST(damaged_journals_never_cost_other_names),
        RT_TEST(garbage_journal_costs_nothing),
        RT_TEST(real_journal_cut_anywhere),
        RT_TEST(full_state_dir_drops_the_journal),
        RT_TEST(sweep_of_many_names_says_at_most_a_thousand),
    };
    return RT_RUN(tests);
}
