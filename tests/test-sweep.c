/* SPDX-License-Identifier: MIT */
/* A whole run SIGKILLed at once, its tracker and guardian included: the
 * next tracker started with the same state directory removes what it left,
 * in its guardian, without slowing the start; `resourcetracker list` shows
 * the dead run and `resourcetracker sweep` removes it on demand. A name
 * still held by a process, or re-created by someone else, is left alone,
 * and a later sweep removes what was only held. Test process and forked
 * hosts. */
#define _GNU_SOURCE
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "resourcetracker.h"

/* ---- a run killed whole -------------------------------------------------- */

#define MAX_SEGMENTS 2000

struct tree_args {
    const char *prefix;
    int segments; /* made by the host through rt_shm_open */
};

/* The name of the host's segment I. */
static const char *seg_name(char *buf, size_t len, const char *prefix, int i)
{
    snprintf(buf, len, "%s-s%04d", prefix, i);
    return buf;
}

static int make_rt_shm(const char *name)
{
    int fd = rt_shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0) {
        return -1;
    }
    close(fd);
    return 0;
}

/* Host of the run to be killed: its segments, a semaphore, a segment
 * registered with rt_register alone (no identity, no pid), and two forked
 * children that make one segment each. Says every pid, then hangs. */
static int tree_host(void *arg, int w)
{
    const struct tree_args *a = arg;
    char name[160];
    for (int i = 0; i < a->segments; i++) {
        if (make_rt_shm(seg_name(name, sizeof(name), a->prefix, i)) < 0) {
            proc_say(w, "host: %s: %s", name, strerror(errno));
            return 90;
        }
    }
    snprintf(name, sizeof(name), "%s-sem", a->prefix);
    sem_t *s = rt_sem_open(name, O_CREAT | O_EXCL, 0600, 1);
    if (s == SEM_FAILED) {
        return 91;
    }
    sem_close(s);
    snprintf(name, sizeof(name), "%s-plain", a->prefix);
    if (rt_test_make_shm(name) < 0 || rt_register(name, RT_SHARED_MEMORY) < 0) {
        return 92;
    }
    for (int c = 0; c < 2; c++) {
        int ready[2];
        if (pipe(ready) < 0) {
            return 93;
        }
        pid_t pid = fork();
        if (pid == 0) {
            close(ready[0]);
            snprintf(name, sizeof(name), "%s-c%d", a->prefix, c);
            if (make_rt_shm(name) < 0 || write(ready[1], "k", 1) != 1) {
                _exit(1);
            }
            rt_test_hang();
        }
        close(ready[1]);
        char k;
        if (pid < 0 || read(ready[0], &k, 1) != 1) {
            return 94;
        }
        close(ready[0]);
        proc_say(w, "child %ld", (long)pid);
    }
    proc_say(w, "tracker %ld", (long)rt_tracker_pid());
    rt_test_hang();
}

/* What a killed run was. */
struct dead_run {
    pid_t tracker;
    int segments;
    int names; /* every name it registered */
};

/* Starts the tree and SIGKILLs all of it at once, the guardian and the
 * tracker first (so that the tracker sees no end of its run). */
static struct dead_run kill_a_tree(struct rt_test *t, int segments)
{
    struct tree_args a = {t->prefix, segments};
    int rfd;
    pid_t host = rt_test_fork(t, tree_host, &a, &rfd);
    assert_true(host > 0);
    pid_t pids[4];
    int n = 0;
    for (int c = 0; c < 2; c++) {
        long pid = rt_test_read_value(rfd, "child", 30);
        assert_true(pid > 0);
        rt_test_track(t, (pid_t)pid);
        pids[n++] = (pid_t)pid;
    }
    long tracker = rt_test_read_value(rfd, "tracker", 30);
    close(rfd);
    assert_true(tracker > 0);
    rt_test_track(t, (pid_t)tracker);
    pid_t guardian = rt_test_guardian_of((pid_t)tracker, 10);
    assert_true(guardian > 0);
    rt_test_track(t, guardian);
    /* Every name journaled: one the tracker had not read yet would die in
     * the pipe with the run (a slow tracker, under valgrind, shows it). */
    int names = segments + 2 /* children */ + 1 /* plain */;
    assert_true(rt_test_wait_listed(t, names + 1 /* sem */, 30));
    /* kill -9 of every pid: guardian, tracker, host, children. */
    assert_int_equal(kill(guardian, SIGKILL), 0);
    assert_int_equal(kill((pid_t)tracker, SIGKILL), 0);
    assert_int_equal(kill(host, SIGKILL), 0);
    for (int i = 0; i < n; i++) {
        assert_int_equal(kill(pids[i], SIGKILL), 0);
    }
    assert_int_not_equal(rt_test_wait_adopted(guardian, 20), -1);
    assert_int_not_equal(rt_test_wait_adopted((pid_t)tracker, 20), -1);
    assert_int_not_equal(rt_test_wait_pid(host, 20), -1);
    for (int i = 0; i < n; i++) {
        assert_int_not_equal(rt_test_wait_adopted(pids[i], 20), -1);
    }
    /* Nothing cleaned anything up. */
    assert_int_equal(rt_test_count_prefix(t->prefix), names + 1 /* sem */);
    struct dead_run d = {(pid_t)tracker, segments, names + 1};
    return d;
}

struct gone_args {
    const char *prefix;
};

static int prefix_gone(void *arg)
{
    return rt_test_count_prefix(((struct gone_args *)arg)->prefix) == 0;
}

/* ---- the next tracker sweeps, in its guardian ---------------------------- */

struct next_args {
    const char *oldest; /* a name of the dead run, swept last */
};

/* The next program: how long its rt_ensure_running takes, and whether the
 * dead run's name swept last still existed when it returned. */
static int next_host(void *arg, int w)
{
    const struct next_args *a = arg;
    double t0 = proc_now();
    int r = rt_ensure_running();
    double t1 = proc_now();
    int there = a->oldest != NULL && rt_test_shm_exists(a->oldest);
    if (r < 0) {
        return 90;
    }
    proc_say(w, "start %.0f %d", (t1 - t0) * 1e6, there);
    proc_say(w, "tracker %ld", (long)rt_tracker_pid());
    rt_test_hang();
}

/* Runs next_host; returns its start in microseconds, *RET_THERE whether
 * OLDEST existed when it returned, and its pid and tracker's. */
static double start_next(struct rt_test *t, const char *oldest, int *ret_there,
                         pid_t *ret_host, pid_t *ret_tracker)
{
    struct next_args a = {oldest};
    int rfd;
    pid_t host = rt_test_fork(t, next_host, &a, &rfd);
    assert_true(host > 0);
    char line[128];
    double us = -1;
    int there = -1;
    assert_true(rt_test_read_line(rfd, line, sizeof(line), 30) >= 0);
    assert_int_equal(sscanf(line, "start %lf %d", &us, &there), 2);
    long tracker = rt_test_read_value(rfd, "tracker", 30);
    close(rfd);
    assert_true(tracker > 0);
    rt_test_track(t, (pid_t)tracker);
    *ret_there = there;
    *ret_host = host;
    *ret_tracker = (pid_t)tracker;
    return us;
}

/* Ends a host that hangs, then its tracker (status 0: it held nothing) and
 * the tracker's guardian. */
static void end_host(pid_t host, pid_t tracker)
{
    pid_t guardian = rt_test_guardian_of(tracker, 10);
    assert_int_equal(kill(host, SIGKILL), 0);
    assert_int_not_equal(rt_test_wait_pid(host, 20), -1);
    int st = rt_test_wait_pid(tracker, 20);
    assert_true(st != -1 && WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    if (guardian > 0) {
        /* Its tracker reaps it (-2), or we do once it is orphaned. */
        assert_int_not_equal(rt_test_wait_adopted(guardian, 20), -1);
    }
}

/* A cold start in an empty state directory of its own, for comparison. */
static double baseline_start(struct rt_test *t)
{
    char dir[160];
    snprintf(dir, sizeof(dir), "/tmp%s-base", t->prefix);
    assert_int_equal(mkdir(dir, 0700), 0);
    setenv("RESOURCE_TRACKER_DIR", dir, 1);
    double best = -1;
    for (int i = 0; i < 3; i++) {
        int there;
        pid_t host;
        pid_t tracker;
        double us = start_next(t, NULL, &there, &host, &tracker);
        end_host(host, tracker);
        best = best < 0 || us < best ? us : best;
    }
    setenv("RESOURCE_TRACKER_DIR", t->statedir, 1);
    return best;
}

struct report_args {
    struct rt_test *t;
    char want[160];  /* the shared-memory leak line's start */
    char suffix[96]; /* the dead run's mark, once per line */
};

/* Whether stderr holds the sweep's two leak lines, each marked. */
static int report_complete(void *arg)
{
    const struct report_args *r = arg;
    const char *err = rt_test_stderr(r->t);
    return strstr(err, r->want) != NULL &&
           strstr(err, "There appear to be 1 leaked semaphore objects") !=
               NULL &&
           rt_test_count(err, r->suffix) == 2;
}

/* The whole tree SIGKILLed, tracker and guardian included: the next
 * program's tracker removes everything the dead run registered, in its
 * guardian while it runs, and its rt_ensure_running returns before that
 * sweep is done, in about the time of a start with nothing to sweep. */
static void next_tracker_sweeps_dead_run(void **state)
{
    struct rt_test *t = *state;
    double base = baseline_start(t);
    struct dead_run d = kill_a_tree(t, MAX_SEGMENTS);
    /* Within a type the newest is removed first: the oldest segment goes
     * last. */
    char oldest[160];
    seg_name(oldest, sizeof(oldest), t->prefix, 0);
    int there;
    pid_t host;
    pid_t tracker;
    double t0 = proc_now();
    double us = start_next(t, oldest, &there, &host, &tracker);
    struct gone_args g = {t->prefix};
    assert_true(rt_test_wait_until(prefix_gone, &g, 10));
    double swept = proc_now() - t0;
    print_message("start with %d names to sweep: %.0f us (empty state "
                  "directory: %.0f us); sweep done within %.0f ms\n",
                  d.names, us, base, swept * 1000);
    /* It returned before the sweep was done, and the sweep was not its
     * tracker's end: that tracker still runs. */
    assert_int_equal(there, 1);
    assert_true(rt_test_alive(tracker));
    /* And in about the time of a start with nothing to sweep (loosely: a
     * busy machine stretches single starts). */
    assert_true(us < 4 * base + proc_scaled(0.1) * 1e6);
    /* The report follows the last removal: wait for it. */
    struct report_args r = {t, {0}, {0}};
    snprintf(r.want, sizeof(r.want),
             "resource_tracker: There appear to be %d leaked shared_memory "
             "objects to clean up at shutdown: {",
             d.segments + 3);
    snprintf(r.suffix, sizeof(r.suffix), "(swept: run of tracker %ld started ",
             (long)d.tracker);
    if (!rt_test_wait_until(report_complete, &r, 10)) {
        fail_msg("stderr:\n%.4000s", rt_test_stderr(t));
    }
    end_host(host, tracker);
}

/* The next program may live a millisecond: its tracker's run ends at once,
 * and its guardian still sweeps the dead run before it goes. */
static int brief_host(void *arg, int w)
{
    (void)arg;
    RT_CHECK(w, rt_ensure_running(), 0, 0);
    proc_say(w, "pid %ld", (long)rt_tracker_pid());
    return rt_test_failures;
}

static void short_lived_next_program_sweeps_dead_run(void **state)
{
    struct rt_test *t = *state;
    struct dead_run d = kill_a_tree(t, 3);
    /* Its tracker ends with its run; its guardian is done by then (the
     * tracker reaps it). */
    assert_int_equal(rt_test_run_to_end(t, brief_host, NULL), 0);
    if (rt_test_count_prefix(t->prefix) != 0) {
        fail_msg("%d of %d names left; stderr:\n%s",
                 rt_test_count_prefix(t->prefix), d.names, rt_test_stderr(t));
    }
}

/* ---- the command --------------------------------------------------------- */

/* Whether OUT holds NEEDLE; fails the test, showing OUT, otherwise. */
static void expect_text(const char *out, const char *needle)
{
    if (strstr(out, needle) == NULL) {
        fail_msg("output lacks \"%s\":\n%s", needle, out);
    }
}

static void expect_json(const char *out)
{
    int valid = rt_test_json_valid(out);
    if (valid == 0) {
        fail_msg("invalid JSON:\n%s", out);
    }
    if (valid < 0) {
        print_message("python3 missing: JSON not checked\n");
    }
}

/* The journal's name in OUT ("pipe-DEV-INO.journal"), into BUF. */
static void journal_of(const char *out, char *buf, size_t len)
{
    const char *p = strstr(out, "pipe-");
    const char *e = p != NULL ? strstr(p, ".journal") : NULL;
    if (e == NULL || (size_t)(e - p) + 9 > len) {
        fail_msg("no journal named in:\n%s", out);
    }
    snprintf(buf, len, "%.*s", (int)(e - p) + 8, p);
}

static char out[1 << 20];

/* `resourcetracker list` (text and JSON) shows a run killed whole with its
 * names, types and registering processes; `sweep --dry-run` removes
 * nothing; `sweep --json` removes everything, exits 0 and says so in valid
 * JSON; then there is no run left to list. */
static void command_lists_and_sweeps_dead_run(void **state)
{
    struct rt_test *t = *state;
    struct dead_run d = kill_a_tree(t, 3);
    char name[160];

    const char *list[] = {"list", NULL};
    assert_int_equal(rt_test_cli(t, list, out, sizeof(out), 20), 0);
    char journal[128];
    journal_of(out, journal, sizeof(journal));
    char want[512];
    snprintf(want, sizeof(want), "run %s: tracker %ld not running, started ",
             journal, (long)d.tracker);
    expect_text(out, want);
    expect_text(out, "run over (no process holds its lock)");
    /* Each name with its type; the wrappers' with their process. */
    snprintf(want, sizeof(want), "  shared_memory '%s' (by process ",
             seg_name(name, sizeof(name), t->prefix, 2));
    expect_text(out, want);
    snprintf(want, sizeof(want), "  semaphore '%s-sem' (by process ",
             t->prefix);
    expect_text(out, want);
    snprintf(want, sizeof(want), "  shared_memory '%s-plain'\n", t->prefix);
    expect_text(out, want);
    for (int c = 0; c < 2; c++) {
        snprintf(want, sizeof(want), "  shared_memory '%s-c%d' (by process ",
                 t->prefix, c);
        expect_text(out, want);
    }

    const char *list_json[] = {"list", "--json", NULL};
    assert_int_equal(rt_test_cli(t, list_json, out, sizeof(out), 20), 0);
    expect_json(out);
    snprintf(want, sizeof(want),
             "{\"journal\":\"%s\",\"tracker_pid\":%ld,\"tracker_alive\":false,"
             "\"run_alive\":false,",
             journal, (long)d.tracker);
    expect_text(out, want);
    snprintf(want, sizeof(want),
             "{\"rtype\":\"semaphore\",\"name\":\"%s-sem\",\"count\":1,"
             "\"pid\":",
             t->prefix);
    expect_text(out, want);
    snprintf(want, sizeof(want),
             "{\"rtype\":\"shared_memory\",\"name\":\"%s-plain\",\"count\":1}",
             t->prefix);
    expect_text(out, want);

    const char *dry[] = {"sweep", "--dry-run", NULL};
    assert_int_equal(rt_test_cli(t, dry, out, sizeof(out), 20), 0);
    snprintf(want, sizeof(want), "would remove shared_memory '%s' (run %s)\n",
             seg_name(name, sizeof(name), t->prefix, 0), journal);
    expect_text(out, want);
    expect_text(out, "would remove 7, failed 0, left 0, dropped 0");
    assert_int_equal(rt_test_count_prefix(t->prefix), d.names);
    /* Nothing said to be cleaned up by a dry run. */
    assert_null(strstr(rt_test_stderr(t), "leaked"));

    const char *sweep[] = {"sweep", "--json", NULL};
    assert_int_equal(rt_test_cli(t, sweep, out, sizeof(out), 20), 0);
    expect_json(out);
    expect_text(out, "\"dry_run\":false");
    expect_text(out, "\"removed\":7,\"failed\":0,\"left\":0,\"dropped\":0");
    snprintf(want, sizeof(want),
             "{\"rtype\":\"semaphore\",\"name\":\"%s-sem\",\"outcome\":"
             "\"removed\"}",
             t->prefix);
    expect_text(out, want);
    assert_int_equal(rt_test_count_prefix(t->prefix), 0);
    /* Reported as at shutdown, on the sweeper's stderr. */
    snprintf(want, sizeof(want),
             "There appear to be 6 leaked shared_memory objects to clean up "
             "at shutdown: {");
    expect_text(rt_test_stderr(t), want);
    assert_int_equal(rt_test_count(rt_test_stderr(t), "leaked shared_memory"),
                     1);

    assert_int_equal(rt_test_cli(t, list, out, sizeof(out), 20), 0);
    snprintf(want, sizeof(want), "no runs in %s\n", t->statedir);
    expect_text(out, want);
}

/* ---- names held or re-created are left alone ----------------------------- */

/* A process of no run: maps one segment, holds another open, opens (and so
 * maps) a semaphore; then waits to be killed. */
static int holder(void *arg, int w)
{
    const char *prefix = arg;
    char name[160];
    snprintf(name, sizeof(name), "%s-s0000", prefix);
    int fd = shm_open(name, O_RDWR, 0);
    if (fd < 0 || ftruncate(fd, 4096) < 0 ||
        mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) ==
            MAP_FAILED) {
        return 90;
    }
    close(fd);
    snprintf(name, sizeof(name), "%s-s0001", prefix);
    if (shm_open(name, O_RDWR, 0) < 0) {
        return 91;
    }
    snprintf(name, sizeof(name), "%s-sem", prefix);
    if (sem_open(name, 0) == SEM_FAILED) {
        return 92;
    }
    proc_say(w, "held");
    rt_test_hang();
}

static ino_t shm_ino(const char *name)
{
    char path[256];
    struct stat st;
    snprintf(path, sizeof(path), "/dev/shm%s", name);
    return stat(path, &st) == 0 ? st.st_ino : 0;
}

/* Of a run killed whole, a segment another process maps, one it holds
 * open and a semaphore it has open are left (exit status 1, the reason on
 * stdout, stderr and in the JSON); a segment removed and re-created by
 * someone else since is not touched (its name now means another object);
 * the rest is removed. Once the holder is gone, a later sweep removes
 * what it held. */
static void sweep_leaves_held_and_recreated_names(void **state)
{
    struct rt_test *t = *state;
    kill_a_tree(t, 3);
    int rfd;
    pid_t h = rt_test_fork(t, holder, t->prefix, &rfd);
    char line[64];
    assert_true(rt_test_read_line(rfd, line, sizeof(line), 20) >= 0);
    assert_string_equal(line, "held");
    close(rfd);
    char mapped[160], opened[160], recreated[160], free_[160];
    seg_name(mapped, sizeof(mapped), t->prefix, 0);
    seg_name(opened, sizeof(opened), t->prefix, 1);
    seg_name(recreated, sizeof(recreated), t->prefix, 2);
    snprintf(free_, sizeof(free_), "%s-c0", t->prefix);
    assert_int_equal(shm_unlink(recreated), 0);
    assert_int_equal(rt_test_make_shm(recreated), 0);
    ino_t ino = shm_ino(recreated);
    assert_true(ino != 0);

    const char *sweep[] = {"sweep", NULL};
    assert_int_equal(rt_test_cli(t, sweep, out, sizeof(out), 20), 1);
    char journal[128];
    journal_of(out, journal, sizeof(journal));
    char want[512];
    snprintf(want, sizeof(want),
             "left shared_memory '%s' (run %s): in use by a running process\n",
             mapped, journal);
    expect_text(out, want);
    snprintf(want, sizeof(want),
             "left shared_memory '%s' (run %s): in use by a running process\n",
             opened, journal);
    expect_text(out, want);
    snprintf(want, sizeof(want),
             "left semaphore '%s-sem' (run %s): in use by a running process\n",
             t->prefix, journal);
    expect_text(out, want);
    snprintf(want, sizeof(want),
             "dropped shared_memory '%s' (run %s): not removed: the name now "
             "refers to another object than the one its run created\n",
             recreated, journal);
    expect_text(out, want);
    snprintf(want, sizeof(want), "removed shared_memory '%s' (run %s)\n", free_,
             journal);
    expect_text(out, want);
    expect_text(out, "removed 3, failed 0, left 3, dropped 1");
    snprintf(want, sizeof(want),
             "resource_tracker: '%s': left in place: in use by a running "
             "process\n",
             mapped);
    expect_text(rt_test_stderr(t), want);
    assert_true(rt_test_shm_exists(mapped));
    assert_true(rt_test_shm_exists(opened));
    char sem[160];
    snprintf(sem, sizeof(sem), "%s-sem", t->prefix);
    assert_true(rt_test_sem_exists(sem));
    assert_int_equal(shm_ino(recreated), ino);
    assert_false(rt_test_shm_exists(free_));

    /* Again, in JSON: the same three left, with their reason; the
     * re-created one is no longer the run's. */
    const char *sweep_json[] = {"sweep", "--json", NULL};
    assert_int_equal(rt_test_cli(t, sweep_json, out, sizeof(out), 20), 1);
    expect_json(out);
    snprintf(want, sizeof(want),
             "{\"rtype\":\"shared_memory\",\"name\":\"%s\",\"outcome\":"
             "\"left\",\"why\":\"in use by a running process\"}",
             mapped);
    expect_text(out, want);
    expect_text(out, "\"state\":\"partly swept\"");
    expect_text(out, "\"removed\":0,\"failed\":0,\"left\":3,\"dropped\":0");
    if (strstr(out, recreated) != NULL) {
        fail_msg("the re-created name is still the run's:\n%s", out);
    }

    /* The holder gone, what it held goes too. */
    assert_int_equal(kill(h, SIGKILL), 0);
    assert_int_not_equal(rt_test_wait_pid(h, 20), -1);
    assert_int_equal(rt_test_cli(t, sweep, out, sizeof(out), 20), 0);
    expect_text(out, "removed 3, failed 0, left 0, dropped 0");
    assert_false(rt_test_shm_exists(mapped));
    assert_false(rt_test_shm_exists(opened));
    assert_false(rt_test_sem_exists(sem));
    assert_int_equal(shm_ino(recreated), ino);
    const char *list[] = {"list", NULL};
    assert_int_equal(rt_test_cli(t, list, out, sizeof(out), 20), 0);
    expect_text(out, "no runs in ");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        RT_TEST(next_tracker_sweeps_dead_run),
        RT_TEST(short_lived_next_program_sweeps_dead_run),
        RT_TEST(command_lists_and_sweeps_dead_run),
        RT_TEST(sweep_leaves_held_and_recreated_names),
    };
    return RT_RUN(tests);
}
