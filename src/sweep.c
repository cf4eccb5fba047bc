/* SPDX-License-Identifier: MIT */
/* The sweep of dead runs. Guardian and command, single-threaded, AS-safe:
 * static state, memory from mmap (registry, idset), no stdio. */
#include "sweep.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "decimal.h"
#include "diag.h"
#include "fdio.h"
#include "idset.h"
#include "journal.h"
#include "objects.h"
#include "procscan.h"
#include "recorder.h"
#include "rtypes.h"
#include "statedir.h"

/* The initial PID namespace's inode (PROC_PID_INIT_INO in the kernel): a
 * process there sees every process of the machine. */
#define INIT_PIDNS 0xEFFFFFFCu

#define MAX_NAMES ((size_t)1 << 24)

static struct rt_ledger ledger;
static struct rt_runinfo info;

/* What this sweeper is, and what one scan of /proc saw. */
static char my_boot[40];
static uint64_t my_pidns;
static int scanned;
static int scan_failed;
static struct rt_procscan_result scan;
static struct rt_idset used;

static void learn_self(void)
{
    if (my_pidns == 0) {
        my_pidns = rt__procscan_pidns();
        if (rt__procscan_boot_id(my_boot, sizeof(my_boot)) < 0) {
            my_boot[0] = '\0';
        }
    }
}

static int used_visit(void *ctx, pid_t pid, int fd, uint64_t dev, uint64_t ino,
                      mode_t mode)
{
    (void)ctx, (void)pid, (void)fd, (void)mode;
    (void)rt__idset_add(&used, dev, ino);
    return 0;
}

/* One scan per sweep: every file a visible process has open or mapped. */
static void scan_once(void)
{
    if (scanned) {
        return;
    }
    scanned = 1;
    rt__idset_init(&used);
    int r = rt__procscan(RT_PROCSCAN_FDS | RT_PROCSCAN_MAPS, used_visit, NULL,
                         &scan);
    scan_failed = r < 0;
}

static void forget_scan(void)
{
    if (scanned) {
        rt__idset_free(&used);
        scanned = 0;
    }
}

static int other_boot(void)
{
    return info.boot[0] != '\0' && my_boot[0] != '\0' &&
           strcmp(info.boot, my_boot) != 0;
}

struct holders {
    uint64_t dev[2], ino[2];
    int found;
};

static int holder_visit(void *ctx, pid_t pid, int fd, uint64_t dev,
                        uint64_t ino, mode_t mode)
{
    struct holders *h = ctx;
    (void)pid, (void)mode;
    for (int k = 0; k < 2; k++) {
        if (fd >= 0 && h->ino[k] != 0 && dev == h->dev[k] && ino == h->ino[k]) {
            h->found = 1;
            return 1;
        }
    }
    return 0;
}

int rt__sweep_run_visible(const struct rt_runinfo *ri)
{
    struct holders h = {{ri->b_dev, ri->a_dev}, {ri->b_ino, ri->a_ino}, 0};
    struct rt_procscan_result res;
    if (ri->b_ino == 0 && ri->a_ino == 0) {
        return 0;
    }
    (void)rt__procscan(RT_PROCSCAN_FDS | RT_PROCSCAN_SKIP_SELF, holder_visit,
                       &h, &res);
    return h.found;
}

/* Whether the run still has a process: its tracker, or one that holds its
 * pipes (an exec'ed child or a CPython process given the pipe holds no
 * lock). Only meaningful in the boot and PID namespace we can see.
 *
 * The holders are looked up in the sweep's one scan, which may be older
 * than this journal's turn: a pipe nobody held then cannot have been taken
 * since (only a holder can pass it on), and a holder that exited since
 * only leaves the run for a later sweep. The scan counts the sweeper too,
 * which holds no run's pipes (the guardian keeps none of its tracker's).
 * A pipe cannot be mapped, so mappings in the scan never match. */
static int run_alive(void)
{
    if (other_boot()) {
        return 0;
    }
    if (info.pidns != 0 && info.pidns == my_pidns && info.tracker_pid > 0 &&
        info.tracker_start != 0 &&
        rt__procscan_live_starttime((pid_t)info.tracker_pid) ==
            info.tracker_start) {
        return 1;
    }
    if (info.b_ino == 0 && info.a_ino == 0) {
        return 0;
    }
    scan_once();
    if (scan_failed) {
        return rt__sweep_run_visible(&info);
    }
    return (info.b_ino != 0 && rt__idset_has(&used, info.b_dev, info.b_ino)) ||
           (info.a_ino != 0 && rt__idset_has(&used, info.a_dev, info.a_ino));
}

/* Whether some processes could not be examined. */
static int partly_blind(void)
{
    return scan_failed || scan.unreadable > 0 || scan.hidden;
}

/* Whether processes we cannot examine could hold the object SEEN. */
static int blind_spot(const struct rt_object_seen *seen)
{
    if (scan_failed) {
        return 1;
    }
    if (!partly_blind()) {
        return 0;
    }
    /* Processes of other users: only an object they may open matters (a
     * privileged process holding someone's private object is not seen). */
    return (seen->mode & 077) != 0;
}

static int decide(void *ctx, const struct rt_entry *e, const char **why)
{
    (void)ctx;
    unsigned t = e->rtype;
    const struct rt_rtype *type = rt__rtypes_get(t);
    const struct rt_entry_ext *x = rt__registry_ext(e);
    int known = x != NULL && (x->dev != 0 || x->ino != 0);
    if (other_boot() && !(type->flags & RT_RTYPE_ABSPATH)) {
        *why = "not removed: gone with the reboot since its run";
        return -1;
    }
    if (other_boot() && !known) {
        *why = "not removed: the machine rebooted since its run, and the "
               "object's identity was not recorded";
        return -1;
    }
    struct rt_object_seen seen = {0, 0, 0};
    int r = rt__object_seen(t, (const char *)e->name, &seen);
    uint64_t dev = seen.dev;
    uint64_t ino = seen.ino;
    if (r == -ENOENT) {
        *why = "not removed: already gone";
        return -1;
    }
    if (r == -ENOTSUP) {
        /* A type of the program's own: its cleanup knows best. */
        return RT_CLEANUP_GO;
    }
    if (r < 0) {
        *why = "cannot be examined";
        return 0;
    }
    if (known && (dev != x->dev || ino != x->ino)) {
        *why = "not removed: the name now refers to another object than the "
               "one its run created";
        return -1;
    }
    if (my_pidns != INIT_PIDNS) {
        /* Processes of the namespaces above ours (a host sharing /dev/shm
         * with its container) may hold it, and /proc here shows none. */
        *why = "cannot tell whether it is in use: processes outside this "
               "PID namespace cannot be seen from here";
        return 0;
    }
    scan_once();
    if (rt__idset_has(&used, dev, ino)) {
        *why = "in use by a running process";
        return 0;
    }
    if (blind_spot(&seen)) {
        *why = "cannot tell whether it is in use: some processes cannot be "
               "examined";
        return 0;
    }
    /* The object was looked at just now: its removal need not look
     * again. */
    return RT_CLEANUP_GO_CHECKED;
}

struct forward {
    const struct rt_sweep_opts *o;
    const char *journal;
};

static void forward_name(void *ctx, const struct rt_entry *e, int what, int err,
                         const char *why)
{
    const struct forward *f = ctx;
    if (f->o->name != NULL) {
        f->o->name(f->o->ctx, f->journal, e, what, err, why);
    }
}

static int forward_decide(void *ctx, const struct rt_entry *e, const char **why)
{
    (void)ctx;
    return decide(NULL, e, why);
}

/* " (swept: run of tracker PID started YYYY-MM-DD HH:MM:SS UTC)" */
static void run_suffix(char *buf, size_t cap)
{
    static const char head[] = " (swept: run of tracker ";
    static const char started[] = " started ";
    char *o = buf;
    char *end = buf + cap - 1;
    o = (char *)memcpy(o, head, sizeof(head) - 1) + sizeof(head) - 1;
    o = rt__put_decimal(o, info.tracker_pid);
    o = (char *)memcpy(o, started, sizeof(started) - 1) + sizeof(started) - 1;
    uint64_t t = info.tracker_time != 0 ? info.tracker_time : info.time;
    /* Civil date from days since 1970 (Howard Hinnant's algorithm): no
     * gmtime_r, which is not async-signal-safe. */
    int64_t days = (int64_t)(t / 86400);
    uint64_t secs = t % 86400;
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    uint64_t doe = (uint64_t)(z - era * 146097);
    uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    uint64_t mp = (5 * doy + 2) / 153;
    uint64_t dd = doy - (153 * mp + 2) / 5 + 1;
    uint64_t mm = mp < 10 ? mp + 3 : mp - 9;
    y += mm <= 2;
    unsigned f[6] = {(unsigned)y,
                     (unsigned)mm,
                     (unsigned)dd,
                     (unsigned)(secs / 3600),
                     (unsigned)(secs / 60 % 60),
                     (unsigned)(secs % 60)};
    static const char sep[6] = {'-', '-', ' ', ':', ':', ' '};
    for (int k = 0; k < 6 && o + 6 < end; k++) {
        unsigned w = k == 0 ? 4 : 2;
        for (unsigned j = w; j > 0; j--) {
            unsigned p = 1;
            for (unsigned q = 1; q < j; q++) {
                p *= 10;
            }
            *o++ = (char)('0' + f[k] / p % 10);
        }
        if (k < 5) {
            *o++ = sep[k];
        }
    }
    memcpy(o, " UTC)", 6);
}

static void tell_run(const struct rt_sweep_opts *o, const char *name,
                     enum rt_sweep_run what, const char *why)
{
    if (o->run != NULL) {
        o->run(o->ctx, name, info.have_run ? &info : NULL, what, why);
    }
}

enum rt_sweep_run rt__sweep_one(int dirfd, const char *name, int jfd,
                                const struct rt_sweep_opts *o,
                                struct rt_sweep_stats *st)
{
    learn_self();
    rt__ledger_init(&ledger, (uint64_t)(uintptr_t)&ledger ^ (uint64_t)jfd,
                    MAX_NAMES, NULL);
    memset(&info, 0, sizeof(info));
    uint64_t end;
    int torn;
    enum rt_sweep_run what = RT_SWEEP_DONE;
    if (rt__recorder_replay(jfd, &ledger, &info, &end, &torn) < 0) {
        rt__diag_note("journal cannot be read: ", name);
        tell_run(o, name, RT_SWEEP_BAD, "cannot be read");
        st->bad++;
        rt__ledger_free(&ledger);
        return RT_SWEEP_BAD;
    }
    if (torn) {
        rt__diag_note("journal cut short (its tracker was killed while "
                      "writing it), the rest is used: ",
                      name);
    }
    if (!info.done && run_alive()) {
        tell_run(o, name, RT_SWEEP_ALIVE, "a process of its run is alive");
        st->alive++;
        rt__ledger_free(&ledger);
        return RT_SWEEP_ALIVE;
    }
    rt__ledger_finish(&ledger);
    char suffix[96];
    run_suffix(suffix, sizeof(suffix));
    struct forward f = {o, name};
    struct rt_cleanup_opts co = {suffix, forward_decide, &f, o->dry_run,
                                 forward_name};
    struct rt_cleanup_result res;
    rt__cleanup_run(&ledger, &co, &res);
    st->removed += res.cleaned;
    st->failed += res.failed;
    st->left += res.left;
    st->dropped += res.dropped;
    if (ledger.unknown_types > 0) {
        /* Names of types of a program's own, which only a tracker of that
         * program can clean up: the journal stays for it, as it is. */
        rt__diag_note("journal holds names of types this program does not "
                      "know, kept for a tracker that knows them: ",
                      name);
        tell_run(o, name, RT_SWEEP_PARTLY,
                 "names of types this program does not know were left");
        st->partly++;
        st->left += ledger.unknown_types;
        rt__ledger_free(&ledger);
        return RT_SWEEP_PARTLY;
    }
    if (res.left > 0) {
        what = RT_SWEEP_PARTLY;
        if (!o->dry_run) {
            /* What was left is all the journal needs to hold now. */
            struct rt_recorder rec;
            if (rt__recorder_open(&rec, jfd, 0, &ledger, &info) == 0) {
                (void)rt__recorder_snapshot(&rec, &ledger, &info);
            }
        }
        tell_run(o, name, what, "something was left for a later sweep");
        st->partly++;
    } else {
        if (!o->dry_run) {
            (void)unlinkat(dirfd, name, 0);
        }
        tell_run(o, name, what, NULL);
        st->done++;
    }
    rt__ledger_free(&ledger);
    return what;
}

struct dir_walk {
    int dirfd;
    const struct rt_sweep_opts *o;
    struct rt_sweep_stats *st;
};

static void visit_journal(void *ctx, const char *name)
{
    struct dir_walk *w = ctx;
    const struct rt_sweep_opts *o = w->o;
    if (o->skip != NULL && strcmp(name, o->skip) == 0) {
        return;
    }
    int jfd = rt__state_open_journal(w->dirfd, name, O_RDWR);
    if (jfd == -ENOENT) {
        /* Its tracker finished and removed it since the listing. */
        return;
    }
    if (jfd < 0) {
        /* The warning names the journal after the reason; the sweep's own
         * report gives the reason alone. */
        static const struct {
            int err;
            const char *note;
        } bad[] = {
            {-ELOOP, "is a symbolic link, ignored: "},
            {-EINVAL, "is not a regular file, ignored: "},
            {-EMLINK, "has more than one name, ignored: "},
            {-EPERM, "belongs to another user, ignored: "},
            {0, "cannot be opened, ignored: "},
        };
        size_t k = 0;
        while (bad[k].err != 0 && bad[k].err != jfd) {
            k++;
        }
        rt__diag_note(bad[k].note, name);
        /* Without the ": " that the warning's name follows. */
        char why[48];
        size_t n = strlen(bad[k].note) - 2;
        memcpy(why, bad[k].note, n);
        why[n] = '\0';
        memset(&info, 0, sizeof(info));
        tell_run(o, name, RT_SWEEP_BAD, why);
        w->st->bad++;
        return;
    }
    /* A run whose processes live holds this lock shared. */
    if (flock(jfd, LOCK_EX | LOCK_NB) < 0) {
        memset(&info, 0, sizeof(info));
        tell_run(o, name, RT_SWEEP_ALIVE, "its run holds its lock");
        w->st->alive++;
        rt__fd_close(jfd);
        return;
    }
    /* The lock also comes free when the tracker finished: then the
     * journal is removed, and nothing is left to sweep. */
    struct stat st;
    if (fstat(jfd, &st) == 0 && st.st_nlink == 0) {
        rt__fd_close(jfd);
        return;
    }
    (void)rt__sweep_one(w->dirfd, name, jfd, o, w->st);
    rt__fd_close(jfd);
}

int rt__sweep_dir(int dirfd, const struct rt_sweep_opts *o,
                  struct rt_sweep_stats *st)
{
    memset(st, 0, sizeof(*st));
    struct dir_walk w = {dirfd, o, st};
    int r = rt__state_list(dirfd, visit_journal, &w);
    forget_scan();
    return r;
}
