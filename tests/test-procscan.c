/* SPDX-License-Identifier: MIT */
/* The /proc scan and the identity set, against real processes: a child's
 * mapping, descriptor and pipe are found under its pid, and no longer once
 * it is reaped; a maps file of megabytes is read whole; start times, boot
 * id and pid namespaces; what a scan reports as another user and from
 * other pid and mount namespaces. Prints the time of a whole-machine scan,
 * of 10,000 lookups, and the sweep's budget beside a plain unlink loop. */

/* memfd_create(2), unshare(2), setresuid(2), mount(2): Linux calls, for
 * the tests that need them (those needing privileges skip without). */
#define _GNU_SOURCE
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "idset.h"
#include "procscan.h"

#define ALL (RT_PROCSCAN_FDS | RT_PROCSCAN_MAPS)
#define OTHERS (ALL | RT_PROCSCAN_SKIP_SELF)

/* Exit code of a host that could not do its part here (privileges). */
#define HOST_SKIP 77

/* ---- what a scan saw of one file -------------------------------------- */

struct hunt {
    uint64_t dev, ino; /* the file looked for */
    pid_t pid;         /* hits of this pid only; 0: of any */
    int stop;          /* what the visit returns on a hit */
    int fd_hits, map_hits;
    int fd;          /* descriptor of the last fd hit */
    mode_t mode;     /* its mode */
    mode_t map_mode; /* mode passed with the last mapping hit */
    pid_t seen;      /* pid of the last hit */
};

static int hunt_visit(void *ctx, pid_t pid, int fd, uint64_t dev, uint64_t ino,
                      mode_t mode)
{
    struct hunt *h = ctx;
    if (dev != h->dev || ino != h->ino || (h->pid != 0 && pid != h->pid)) {
        return 0;
    }
    h->seen = pid;
    if (fd >= 0) {
        h->fd_hits++;
        h->fd = fd;
        h->mode = mode;
    } else {
        h->map_hits++;
        h->map_mode = mode;
    }
    return h->stop;
}

static void hunt_reset(struct hunt *h)
{
    h->fd_hits = h->map_hits = 0;
    h->fd = -1;
    h->seen = 0;
    h->map_mode = (mode_t)-1;
}

/* Scans with FLAGS for H's file; returns what rt__procscan returned. */
static int hunt(struct hunt *h, unsigned flags, struct rt_procscan_result *res)
{
    hunt_reset(h);
    return rt__procscan(flags, hunt_visit, h, res);
}

/* The same, of PID alone. */
static int hunt_in(struct hunt *h, pid_t pid, unsigned flags,
                   struct rt_procscan_result *res)
{
    hunt_reset(h);
    return rt__procscan_pid(pid, flags, hunt_visit, h, res);
}

static void hunt_for(struct hunt *h, const struct stat *st, pid_t pid)
{
    *h = (struct hunt){
        .dev = (uint64_t)st->st_dev, .ino = (uint64_t)st->st_ino, .pid = pid};
}

static int count_visit(void *ctx, pid_t pid, int fd, uint64_t dev, uint64_t ino,
                       mode_t mode)
{
    (void)pid;
    (void)fd;
    (void)dev;
    (void)ino;
    (void)mode;
    ++*(unsigned long *)ctx;
    return 0;
}

static int add_visit(void *ctx, pid_t pid, int fd, uint64_t dev, uint64_t ino,
                     mode_t mode)
{
    (void)pid;
    (void)fd;
    (void)mode;
    int r = rt__idset_add(ctx, dev, ino);
    return r < 0 ? r : 0;
}

/* ---- children ------------------------------------------------------------ */

/* Forks FN as a child that answers one line, and reads it into LINE. */
static pid_t start_child(struct rt_test *t, int (*fn)(void *, int), void *arg,
                         char *line, size_t len)
{
    int rfd;
    pid_t pid = rt_test_fork(t, fn, arg, &rfd);
    assert_true(pid > 0);
    ssize_t n = rt_test_read_line(rfd, line, len, 20);
    close(rfd);
    if (n < 0) {
        fail_msg("child %ld said nothing; its stderr: %s", (long)pid,
                 rt_test_stderr(t));
    }
    return pid;
}

static void kill_and_reap(pid_t pid)
{
    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_int_not_equal(rt_test_wait_pid(pid, 20), -1);
}

/* Runs FN in a child to its end: it reports failed checks as lines and
 * exits with their count, or HOST_SKIP after one line saying why. */
static void run_host(struct rt_test *t, int (*fn)(void *, int), void *arg)
{
    int rfd;
    pid_t pid = rt_test_fork(t, fn, arg, &rfd);
    assert_true(pid > 0);
    char report[8192] = "";
    size_t got = 0;
    char line[1024];
    while (rt_test_read_line(rfd, line, sizeof(line), 60) >= 0 &&
           got < sizeof(report) - 1) {
        got += (size_t)snprintf(report + got, sizeof(report) - got, "  %s\n",
                                line);
    }
    close(rfd);
    int st = rt_test_wait_pid(pid, 60);
    if (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == HOST_SKIP) {
        printf("  skipped: %s", report);
        skip();
    }
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fail_msg("host %ld: status 0x%x\n%s%s", (long)pid, st, report,
                 rt_test_stderr(t));
    }
}

static int say_ready_and_hang(void *arg, int w)
{
    (void)arg;
    proc_say(w, "ready");
    rt_test_hang();
}

/* ---- what a child maps, holds open, shares ------------------------------- */

static int map_segment(void *arg, int w)
{
    const char *name = arg;
    int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0 || ftruncate(fd, 4096) < 0) {
        return 90;
    }
    char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        return 91;
    }
    p[0] = 1;
    proc_say(w, "ready");
    rt_test_hang();
}

static void stat_shm(const char *name, struct stat *st)
{
    int fd = shm_open(name, O_RDONLY, 0);
    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, st), 0);
    close(fd);
}

static void mapping_is_found_under_the_childs_pid(void **state)
{
    struct rt_test *t = *state;
    char name[128];
    rt_test_name(t, name, sizeof(name), "map");
    char line[64];
    pid_t pid = start_child(t, map_segment, name, line, sizeof(line));
    assert_string_equal(line, "ready");
    struct stat st;
    stat_shm(name, &st);
    struct hunt h;
    hunt_for(&h, &st, 0);
    struct rt_procscan_result res;
    assert_int_equal(hunt(&h, OTHERS, &res), 0);
    assert_int_equal(h.map_hits, 1); /* its only mapping of it */
    assert_int_equal(h.fd_hits, 0);  /* its descriptor is closed */
    assert_int_equal(h.seen, pid);
    assert_int_equal(h.map_mode, 0);
    assert_true(res.processes >= 1);
    assert_true(res.unreadable <= res.processes);
    /* Descriptors only: nobody holds it open. */
    assert_int_equal(hunt(&h, RT_PROCSCAN_FDS, &res), 0);
    assert_int_equal(h.map_hits + h.fd_hits, 0);
    /* Unlinked, the mapping ends in " (deleted)" and still counts. */
    assert_int_equal(shm_unlink(name), 0);
    assert_int_equal(hunt(&h, RT_PROCSCAN_MAPS, &res), 0);
    assert_int_equal(h.map_hits, 1);
    /* The visit stops the scan, with 1 or an error. */
    h.stop = 1;
    assert_int_equal(hunt(&h, ALL, &res), 1);
    assert_int_equal(h.map_hits, 1);
    h.stop = -ENOMEM;
    assert_int_equal(hunt(&h, ALL, &res), -ENOMEM);
    h.stop = 0;
    /* The one process alone. */
    assert_int_equal(hunt_in(&h, pid, ALL, &res), 0);
    assert_int_equal(h.map_hits, 1);
    assert_int_equal(res.processes, 1);
    assert_int_equal(res.unreadable, 0);
    /* Reaped, it holds nothing and is no process. */
    kill_and_reap(pid);
    assert_int_equal(hunt(&h, ALL, &res), 0);
    assert_int_equal(h.map_hits + h.fd_hits, 0);
    assert_int_equal(hunt_in(&h, pid, ALL, &res), 0);
    assert_int_equal(h.map_hits + h.fd_hits, 0);
    assert_int_equal(res.processes, 0);
    assert_int_equal(res.unreadable, 0);
    /* Arguments. */
    assert_int_equal(rt__procscan(8, hunt_visit, &h, &res), -EINVAL);
    assert_int_equal(rt__procscan(ALL, NULL, &h, &res), -EINVAL);
    assert_int_equal(rt__procscan_pid(0, ALL, hunt_visit, &h, &res), -EINVAL);
}

static int hold_file(void *arg, int w)
{
    int fd = open(arg, O_RDONLY | O_CLOEXEC);
    /* A number of several digits, to be read back exactly. */
    int high = fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 1000);
    if (high < 0) {
        return 90;
    }
    close(fd);
    proc_say(w, "fd %d", high);
    rt_test_hang();
}

static void descriptor_is_found_until_the_child_is_reaped(void **state)
{
    struct rt_test *t = *state;
    char path[160];
    snprintf(path, sizeof(path), "/tmp%s-held", t->prefix);
    int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    close(fd);
    char line[64];
    pid_t pid = start_child(t, hold_file, path, line, sizeof(line));
    int held = -1;
    assert_int_equal(sscanf(line, "fd %d", &held), 1);
    /* Only the child's descriptor keeps the file now: the stat through
     * /proc/PID/fd/N still reaches it. */
    assert_int_equal(unlink(path), 0);
    struct hunt h;
    hunt_for(&h, &st, 0);
    struct rt_procscan_result res;
    assert_int_equal(hunt(&h, OTHERS, &res), 0);
    assert_int_equal(h.fd_hits, 1);
    assert_int_equal(h.map_hits, 0);
    assert_int_equal(h.fd, held);
    assert_int_equal(h.seen, pid);
    assert_true(S_ISREG(h.mode));
    assert_int_equal(hunt(&h, RT_PROCSCAN_MAPS, &res), 0);
    assert_int_equal(h.fd_hits + h.map_hits, 0);
    kill_and_reap(pid);
    assert_int_equal(hunt(&h, OTHERS, &res), 0);
    assert_int_equal(h.fd_hits + h.map_hits, 0);
}

static void pipe_held_by_a_child_is_found(void **state)
{
    struct rt_test *t = *state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    struct stat st;
    assert_int_equal(fstat(p[1], &st), 0);
    char line[64];
    pid_t pid = start_child(t, say_ready_and_hang, NULL, line, sizeof(line));
    close(p[0]);
    close(p[1]);
    struct hunt h;
    hunt_for(&h, &st, 0);
    struct rt_procscan_result res;
    assert_int_equal(hunt(&h, OTHERS, &res), 0);
    assert_int_equal(h.fd_hits, 2); /* both ends, one inode */
    assert_int_equal(h.seen, pid);
    assert_true(S_ISFIFO(h.mode));
    kill_and_reap(pid);
    assert_int_equal(hunt(&h, OTHERS, &res), 0);
    assert_int_equal(h.fd_hits, 0);
}

/* The scan counts itself only when asked to. */
static void own_descriptors_only_without_skip_self(void **state)
{
    struct rt_test *t = *state;
    char path[160];
    snprintf(path, sizeof(path), "/tmp%s-own", t->prefix);
    int fd = open(path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(unlink(path), 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    struct hunt h;
    hunt_for(&h, &st, 0);
    struct rt_procscan_result res;
    assert_int_equal(hunt(&h, ALL, &res), 0);
    assert_int_equal(h.fd_hits, 1);
    assert_int_equal(h.fd, fd);
    assert_int_equal(h.seen, getpid());
    assert_int_equal(hunt(&h, OTHERS, &res), 0);
    assert_int_equal(h.fd_hits, 0);
    close(fd);
}

/* ---- a maps file of megabytes ----------------------------------------------
 */

#define MANY_MAPS 5000

static int map_many(void *arg, int w)
{
    (void)arg;
    /* Long names make long lines (about 330 bytes): the file is 1.6 MB,
     * read in many pieces, lines split between them. */
    char name[220];
    memset(name, 'm', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    unsigned long long sum = 0;
    unsigned long long dev = 0;
    for (int i = 0; i < MANY_MAPS; i++) {
        int fd = memfd_create(name, MFD_CLOEXEC);
        struct stat st;
        if (fd < 0 || ftruncate(fd, 4096) < 0 || fstat(fd, &st) < 0) {
            return 90;
        }
        void *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
        close(fd);
        if (p == MAP_FAILED) {
            return 91;
        }
        sum += (unsigned long long)st.st_ino;
        dev = (unsigned long long)st.st_dev;
    }
    proc_say(w, "%d %llu %llu", MANY_MAPS, dev, sum);
    rt_test_hang();
}

struct maps_seen {
    pid_t pid;
    uint64_t dev;
    struct rt_idset set;
    unsigned long long sum;
};

static int maps_visit(void *ctx, pid_t pid, int fd, uint64_t dev, uint64_t ino,
                      mode_t mode)
{
    (void)mode;
    struct maps_seen *m = ctx;
    if (pid != m->pid || fd != -1 || dev != m->dev) {
        return 0;
    }
    int r = rt__idset_add(&m->set, dev, ino);
    if (r > 0) {
        m->sum += ino;
    }
    return r < 0 ? r : 0;
}

static void a_large_maps_file_is_read_whole(void **state)
{
    struct rt_test *t = *state;
    char line[128];
    pid_t pid = start_child(t, map_many, NULL, line, sizeof(line));
    int n = 0;
    unsigned long long dev = 0;
    unsigned long long sum = 0;
    assert_int_equal(sscanf(line, "%d %llu %llu", &n, &dev, &sum), 3);
    struct maps_seen m = {.pid = pid, .dev = dev};
    rt__idset_init(&m.set);
    struct rt_procscan_result res;
    assert_int_equal(
        rt__procscan_pid(pid, RT_PROCSCAN_MAPS, maps_visit, &m, &res), 0);
    assert_int_equal(rt__idset_count(&m.set), n);
    assert_true(m.sum == sum);
    rt__idset_free(&m.set);
    kill_and_reap(pid);
}

/* ---- the identity set ---------------------------------------------------- */

static void idset_adds_finds_counts_and_grows(void **state)
{
    (void)state;
    struct rt_idset s;
    rt__idset_init(&s);
    assert_int_equal(rt__idset_count(&s), 0);
    assert_false(rt__idset_has(&s, 1, 2));
    assert_int_equal(rt__idset_add(&s, 1, 2), 1);
    assert_int_equal(rt__idset_add(&s, 1, 2), 0); /* a set */
    assert_int_equal(rt__idset_add(&s, 2, 1), 1); /* not the same pair */
    assert_true(rt__idset_has(&s, 1, 2));
    assert_true(rt__idset_has(&s, 2, 1));
    assert_false(rt__idset_has(&s, 1, 1));
    assert_false(rt__idset_has(&s, 0, 0));
    /* (0, 0) marks empty slots inside: it is a member like any other. */
    assert_int_equal(rt__idset_add(&s, 0, 0), 1);
    assert_int_equal(rt__idset_add(&s, 0, 0), 0);
    assert_true(rt__idset_has(&s, 0, 0));
    assert_int_equal(rt__idset_add(&s, 0, 5), 1);
    assert_int_equal(rt__idset_add(&s, 5, 0), 1);
    assert_int_equal(rt__idset_count(&s), 5);
    /* Growth, many times over, with tmpfs-like consecutive inodes on one
     * device and a second device sharing them. */
    enum { N = 50000 };
    for (uint64_t i = 0; i < N; i++) {
        assert_int_equal(rt__idset_add(&s, 0x19, 1000 + i), 1);
        assert_int_equal(rt__idset_add(&s, 0x801, 1000 + i), 1);
    }
    assert_int_equal(rt__idset_count(&s), 5 + 2 * N);
    for (uint64_t i = 0; i < N; i++) {
        assert_true(rt__idset_has(&s, 0x19, 1000 + i));
        assert_true(rt__idset_has(&s, 0x801, 1000 + i));
        assert_false(rt__idset_has(&s, 0x1a, 1000 + i));
        assert_int_equal(rt__idset_add(&s, 0x19, 1000 + i), 0);
    }
    assert_false(rt__idset_has(&s, 0x19, 1000 + N));
    assert_false(rt__idset_has(&s, 0x19, 999));
    assert_int_equal(rt__idset_count(&s), 5 + 2 * N);
    assert_true(rt__idset_has(&s, 1, 2));
    /* Freed, it is empty and usable again. */
    rt__idset_free(&s);
    assert_int_equal(rt__idset_count(&s), 0);
    assert_false(rt__idset_has(&s, 1, 2));
    assert_false(rt__idset_has(&s, 0, 0));
    assert_int_equal(rt__idset_add(&s, 1, 2), 1);
    rt__idset_free(&s);
    rt__idset_free(&s); /* twice is harmless */
}

/* ---- start time, boot id, pid namespace ------------------------------------
 */

/* The text of PATH (a /proc file: its size says 0) in BUF; its length, or
 * -1. */
static long read_text(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    size_t n = fread(buf, 1, len - 1, f);
    fclose(f);
    buf[n] = '\0';
    return (long)n;
}

/* The number after the Nth space following the last ')' of /proc/PID/stat,
 * that is field N + 2, read with stdio; 0 when unreadable. */
static unsigned long long stat_field(pid_t pid, int field)
{
    char path[64];
    char text[2048];
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    if (read_text(path, text, sizeof(text)) < 0) {
        return 0;
    }
    const char *p = strrchr(text, ')');
    for (int i = 2; p != NULL && i < field; i++) {
        p = strchr(p + 1, ' ');
    }
    return p != NULL ? strtoull(p + 1, NULL, 10) : 0;
}

static unsigned long long stat_starttime(pid_t pid)
{
    return stat_field(pid, 22);
}

/* A command name with spaces, parentheses and a newline: only the last
 * ')' of the stat line ends it. */
static int odd_name(void *arg, int w)
{
    (void)arg;
    if (prctl(PR_SET_NAME, "a) 1 2\n) (b 3", 0, 0, 0) < 0) {
        return 90;
    }
    proc_say(w, "ready");
    rt_test_hang();
}

static void start_time_of_self_of_odd_names_and_of_the_dead(void **state)
{
    struct rt_test *t = *state;
    uint64_t mine = rt__procscan_starttime(getpid());
    assert_true(mine > 0);
    assert_true(mine == stat_starttime(getpid()));
    char line[64];
    pid_t pid = start_child(t, odd_name, NULL, line, sizeof(line));
    char comm[64] = "";
    assert_int_equal(
        rt_test_proc_field(pid, "status", "Name:\t", comm, sizeof(comm)), 0);
    assert_string_equal(comm, "a) 1 2\\n) (b 3"); /* as status escapes it */
    uint64_t child = rt__procscan_starttime(pid);
    assert_true(child == stat_starttime(pid));
    assert_true(child >= mine);
    kill_and_reap(pid);
    assert_true(rt__procscan_starttime(pid) == 0);
    assert_true(rt__procscan_starttime(0) == 0);
    assert_true(rt__procscan_starttime(-1) == 0);
}

static void boot_id_is_a_uuid(void **state)
{
    (void)state;
    char id[64];
    memset(id, 'x', sizeof(id));
    assert_int_equal(rt__procscan_boot_id(id, sizeof(id)), 0);
    assert_int_equal(strlen(id), 36);
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            assert_int_equal(id[i], '-');
        } else {
            assert_non_null(strchr("0123456789abcdef", id[i]));
        }
    }
    char text[64];
    assert_int_equal(
        read_text("/proc/sys/kernel/random/boot_id", text, sizeof(text)), 37);
    assert_memory_equal(text, id, 36);
    char same[37];
    assert_int_equal(rt__procscan_boot_id(same, sizeof(same)), 0);
    assert_string_equal(same, id);
    assert_int_equal(rt__procscan_boot_id(same, 36), -ERANGE);
}

static int say_pidns(void *arg, int w)
{
    (void)arg;
    proc_say(w, "%llu", (unsigned long long)rt__procscan_pidns());
    rt_test_hang();
}

static void pid_namespace_of_self_and_of_a_child(void **state)
{
    struct rt_test *t = *state;
    uint64_t mine = rt__procscan_pidns();
    assert_true(mine != 0);
    struct stat st;
    assert_int_equal(stat("/proc/self/ns/pid", &st), 0);
    assert_true(mine == (uint64_t)st.st_ino);
    assert_true(rt__procscan_pidns_of(getpid()) == mine);
    char line[64];
    pid_t pid = start_child(t, say_pidns, NULL, line, sizeof(line));
    assert_true(strtoull(line, NULL, 10) == mine); /* as it sees itself */
    assert_true(rt__procscan_pidns_of(pid) == mine);
    kill_and_reap(pid);
    assert_true(rt__procscan_pidns_of(pid) == 0);
    assert_true(rt__procscan_pidns_of(0) == 0);
}

/* ---- certainty: another user, other namespaces -----------------------------
 */

/* Whether PID is a kernel thread (PF_KTHREAD in field 9 of its stat). */
static int is_kernel_thread(pid_t pid)
{
    return (stat_field(pid, 9) & 0x00200000ULL) != 0;
}

struct others {
    int hidden;       /* what root sees of /proc */
    pid_t root_child; /* a live process of root's */
    pid_t zombie;     /* a dead one not reaped */
    pid_t dead;       /* one reaped */
};

static void check_one(int w, int line, pid_t pid, unsigned processes,
                      unsigned unreadable)
{
    unsigned long n = 0;
    struct rt_procscan_result res = {0};
    int r = rt__procscan_pid(pid, ALL, count_visit, &n, &res);
    if (r != 0 || res.processes != processes || res.unreadable != unreadable ||
        (unreadable != 0 && res.unreadable_uid != 0)) {
        rt_test_failures++;
        proc_say(w,
                 "line %d: pid %ld: returned %d, %u processes, %u unreadable"
                 " (uid %ld), want %u and %u",
                 line, (long)pid, r, res.processes, res.unreadable,
                 (long)res.unreadable_uid, processes, unreadable);
    }
}

static int scan_as_nobody(void *arg, int w)
{
    const struct others *o = arg;
    if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
        setresuid(65534, 65534, 65534) < 0) {
        proc_say(w, "cannot become nobody: %s", strerror(errno));
        return HOST_SKIP;
    }
    unsigned long n = 0;
    struct rt_procscan_result res = {0};
    RT_CHECK_EQ(w, rt__procscan(OTHERS, count_visit, &n, &res), 0);
    RT_CHECK_EQ(w, res.unreadable > 0, 1); /* root's processes */
    RT_CHECK_EQ(w, res.unreadable <= res.processes, 1);
    RT_CHECK_EQ(w, res.unreadable_uid != 65534, 1);
    /* Without the right to read pid 1's namespace link, the namespace
     * check falls back on NSpid: same answer. */
    RT_CHECK_EQ(w, rt__procscan_pidns_of(1), 0);
    RT_CHECK_EQ(w, res.hidden, o->hidden);
    /* A live process of root's is unreadable, and its uid told. */
    check_one(w, __LINE__, o->root_child, 1, 1);
    /* A zombie holds nothing: scanned, not unreadable. */
    check_one(w, __LINE__, o->zombie, 1, 0);
    /* Nor is a process that is gone. */
    check_one(w, __LINE__, o->dead, 0, 0);
    /* Nor a kernel thread (kthreadd, where this namespace shows it). */
    if (is_kernel_thread(2)) {
        check_one(w, __LINE__, 2, 1, 0);
    }
    /* Our own process is readable. */
    n = 0;
    RT_CHECK_EQ(w, rt__procscan_pid(getpid(), ALL, count_visit, &n, &res), 0);
    RT_CHECK_EQ(w, res.processes, 1);
    RT_CHECK_EQ(w, res.unreadable, 0);
    RT_CHECK_EQ(w, n > 0, 1);
    return rt_test_failures;
}

static void another_users_processes_are_counted_unreadable(void **state)
{
    struct rt_test *t = *state;
    if (geteuid() != 0) {
        skip(); /* needs root, to become another user */
    }
    struct others o = {.hidden = rt__procscan_hidden()};
    char line[64];
    o.root_child = start_child(t, say_ready_and_hang, NULL, line, sizeof(line));
    o.zombie = fork();
    if (o.zombie == 0) {
        _exit(0);
    }
    assert_true(o.zombie > 0);
    rt_test_track(t, o.zombie);
    o.dead = fork();
    if (o.dead == 0) {
        _exit(0);
    }
    assert_true(o.dead > 0);
    assert_int_not_equal(rt_test_wait_pid(o.dead, 20), -1);
    /* Wait until the zombie is one. */
    double end = proc_now() + proc_scaled(20);
    while (rt_test_alive(o.zombie) && proc_now() < end) {
        proc_nap_us(1000);
    }
    assert_false(rt_test_alive(o.zombie));
    run_host(t, scan_as_nobody, &o);
}

/* In a new pid namespace (as its pid 1) and a new mount namespace: first
 * /proc is the parent's (hidden: another namespace's), then proc instances
 * of its own are mounted on top, with and without options that hide. */
static void check_hidden(int w, const char *what, int want, unsigned processes)
{
    unsigned long n = 0;
    struct rt_procscan_result res = {0};
    int r = rt__procscan(ALL, count_visit, &n, &res);
    int alone = rt__procscan_hidden();
    if (r != 0 || res.hidden != want || alone != want ||
        (processes != 0 && res.processes != processes)) {
        rt_test_failures++;
        proc_say(w,
                 "%s: returned %d, hidden %d (alone %d), %u processes;"
                 " want hidden %d, %u processes",
                 what, r, res.hidden, alone, res.processes, want, processes);
    }
}

static int mount_proc(int w, const char *options)
{
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              options) < 0) {
        proc_say(w, "mount proc -o %s: %s", options ? options : "",
                 strerror(errno));
        rt_test_failures++;
        return -1;
    }
    return 0;
}

/* A child of ours as nobody cannot read pid 1's namespace link (pid 1 is
 * root's), so the namespace check goes by NSpid: it must still find /proc
 * to be its own. 0 when it does. */
static int unprivileged_sees_own_namespace(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
            setresuid(65534, 65534, 65534) < 0) {
            _exit(2);
        }
        _exit(rt__procscan_pidns_of(1) == 0 && rt__procscan_hidden() == 0 ? 0
                                                                          : 3);
    }
    int st;
    if (pid < 0 ||
        proc_wait_exact(pid, proc_now() + proc_scaled(20), &st) < 0) {
        return 1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 4;
}

static int namespace_checks(int w)
{
    RT_CHECK_EQ(w, getpid(), 1);
    /* /proc is still the parent namespace's. */
    check_hidden(w, "the parent's /proc", 1, 0);
    /* Nothing mounted here may reach the machine's namespace. */
    if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0) {
        proc_say(w, "cannot make / private: %s", strerror(errno));
        return 1;
    }
    if (mount_proc(w, NULL) < 0) {
        return rt_test_failures;
    }
    /* Ours: only ourselves in it. */
    check_hidden(w, "a /proc of our own", 0, 1);
    RT_CHECK_EQ(w, rt__procscan_pidns() == rt__procscan_pidns_of(1), 1);
    RT_CHECK_EQ(w, rt__procscan_pidns() != 0, 1);
    RT_CHECK_EQ(w, unprivileged_sees_own_namespace(), 0);
    static const struct {
        const char *options;
        int hidden;
    } mounts[] = {
        {"hidepid=invisible", 1},  {NULL, 0}, /* the last mount counts */
        {"hidepid=noaccess", 1},   {"hidepid=0", 0},  {"hidepid=2", 1},
        {"hidepid=ptraceable", 1}, {"subset=pid", 1}, {"gid=0", 0},
    };
    for (size_t i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++) {
        if (mount_proc(w, mounts[i].options) == 0) {
            check_hidden(w, mounts[i].options ? mounts[i].options : "plain",
                         mounts[i].hidden, 1);
        }
    }
    return rt_test_failures;
}

static int in_new_namespaces(void *arg, int w)
{
    (void)arg;
    if (unshare(CLONE_NEWPID | CLONE_NEWNS) < 0) {
        proc_say(w, "unshare: %s", strerror(errno));
        return HOST_SKIP;
    }
    pid_t pid = fork();
    if (pid == 0) {
        _exit(namespace_checks(w));
    }
    if (pid < 0) {
        return 91;
    }
    int st;
    if (proc_wait_exact(pid, proc_now() + proc_scaled(60), &st) < 0) {
        kill(pid, SIGKILL);
        return 92;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 93;
}

static void other_namespaces_and_hiding_mounts_are_told(void **state)
{
    run_host(*state, in_new_namespaces, NULL);
}

/* ---- figures (printed, not asserted) ---------------------------------------
 */

static double median(double *v, int n)
{
    for (int i = 1; i < n; i++) {
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            double x = v[j];
            v[j] = v[j - 1];
            v[j - 1] = x;
        }
    }
    return v[n / 2];
}

/* A whole-machine scan into a set, then 10,000 lookups. */
static void figures_of_a_scan_and_of_lookups(void **state)
{
    (void)state;
    enum { RUNS = 7, LOOKUPS = 10000 };
    double took[RUNS];
    struct rt_procscan_result res = {0};
    struct rt_idset s;
    for (int i = 0; i < RUNS; i++) {
        rt__idset_init(&s);
        double t0 = proc_now();
        assert_int_equal(rt__procscan(OTHERS, add_visit, &s, &res), 0);
        took[i] = proc_now() - t0;
        if (i + 1 < RUNS) {
            rt__idset_free(&s);
        }
    }
    size_t seen = rt__idset_count(&s);
    printf("  procscan: whole machine (fds and maps): %u processes, %u "
           "unreadable, hidden %d, %zu distinct files; median %.2f ms of "
           "%d scans\n",
           res.processes, res.unreadable, res.hidden, seen,
           median(took, RUNS) * 1e3, RUNS);
    assert_true(res.processes >= 1);
    assert_true(seen > 0);
    /* 10,000 segments of /dev/shm as tmpfs numbers them, beside what the
     * scan found: a sweep's lookups, half present, half absent. */
    for (uint64_t i = 0; i < LOOKUPS; i++) {
        assert_true(rt__idset_add(&s, 0x19, 5000000 + 2 * i) >= 0);
    }
    volatile int sink = 0;
    for (int r = 0; r < RUNS; r++) {
        double t0 = proc_now();
        for (uint64_t i = 0; i < LOOKUPS; i++) {
            sink += rt__idset_has(&s, 0x19, 5000000 + i);
        }
        took[r] = proc_now() - t0;
    }
    assert_int_equal(sink, RUNS * LOOKUPS / 2);
    printf("  procscan: %d lookups in a set of %zu: median %.1f us "
           "(%.1f ns each)\n",
           LOOKUPS, rt__idset_count(&s), median(took, RUNS) * 1e6,
           median(took, RUNS) * 1e9 / LOOKUPS);
    rt__idset_free(&s);
}

/* The sweep's budget: removing 10,000 dead segments, in-use check
 * included, at most 1.5 x a plain shm_unlink loop. Here: the loop, beside
 * one scan and 10,000 stat + lookup (what the check adds). */
static void figures_of_the_sweep_budget(void **state)
{
    struct rt_test *t = *state;
    int n = rt_test_valgrind() ? 500 : 10000;
    enum { ROUNDS = 3 };
    double unlink_s[ROUNDS];
    double check_s[ROUNDS];
    double list_s[ROUNDS];
    double scan_s[ROUNDS];
    char name[160];
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < n; i++) {
            snprintf(name, sizeof(name), "%s-seg-%d", t->prefix, i);
            int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
            assert_true(fd >= 0);
            close(fd);
        }
        struct rt_idset s;
        rt__idset_init(&s);
        struct rt_procscan_result res;
        double t0 = proc_now();
        assert_int_equal(rt__procscan(OTHERS, add_visit, &s, &res), 0);
        double t1 = proc_now();
        int dir = open("/dev/shm", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(dir >= 0);
        int busy = 0;
        for (int i = 0; i < n; i++) {
            snprintf(name, sizeof(name), "%s-seg-%d", t->prefix + 1, i);
            struct stat st;
            assert_int_equal(fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW), 0);
            busy += rt__idset_has(&s, st.st_dev, st.st_ino);
        }
        double t2 = proc_now();
        close(dir);
        assert_int_equal(busy, 0);
        /* Or one listing of /dev/shm: tmpfs gives each inode in d_ino. */
        struct stat dst;
        assert_int_equal(stat("/dev/shm", &dst), 0);
        DIR *d = opendir("/dev/shm");
        assert_non_null(d);
        int listed = 0;
        for (struct dirent *e; (e = readdir(d)) != NULL;) {
            listed +=
                strncmp(e->d_name, t->prefix + 1, strlen(t->prefix + 1)) == 0;
            busy += rt__idset_has(&s, dst.st_dev, e->d_ino);
        }
        closedir(d);
        list_s[round] = proc_now() - t2;
        assert_int_equal(listed, n);
        rt__idset_free(&s);
        double t3 = proc_now();
        for (int i = 0; i < n; i++) {
            snprintf(name, sizeof(name), "%s-seg-%d", t->prefix, i);
            assert_int_equal(shm_unlink(name), 0);
        }
        unlink_s[round] = proc_now() - t3;
        scan_s[round] = t1 - t0;
        check_s[round] = t2 - t1;
    }
    double u = median(unlink_s, ROUNDS);
    double sc = median(scan_s, ROUNDS);
    double c = median(check_s, ROUNDS);
    double l = median(list_s, ROUNDS);
    printf("  procscan: %d segments: shm_unlink loop %.1f ms; scan %.1f ms "
           "+ stat and lookup of each %.1f ms (~ %.2f x the loop), or + one "
           "listing of /dev/shm with lookups %.1f ms (~ %.2f x); budget "
           "1.5 x\n",
           n, u * 1e3, sc * 1e3, c * 1e3, (u + sc + c) / u, l * 1e3,
           (u + sc + l) / u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        RT_TEST(idset_adds_finds_counts_and_grows),
        RT_TEST(mapping_is_found_under_the_childs_pid),
        RT_TEST(descriptor_is_found_until_the_child_is_reaped),
        RT_TEST(pipe_held_by_a_child_is_found),
        RT_TEST(own_descriptors_only_without_skip_self),
        RT_TEST(a_large_maps_file_is_read_whole),
        RT_TEST(start_time_of_self_of_odd_names_and_of_the_dead),
        RT_TEST(boot_id_is_a_uuid),
        RT_TEST(pid_namespace_of_self_and_of_a_child),
        RT_TEST(another_users_processes_are_counted_unreadable),
        RT_TEST(other_namespaces_and_hiding_mounts_are_told),
        RT_TEST(figures_of_a_scan_and_of_lookups),
        RT_TEST(figures_of_the_sweep_budget),
    };
    return RT_RUN(tests);
}
