/* SPDX-License-Identifier: MIT */
/* Walking /proc: the files every visible process holds, whether /proc may
 * hide some processes, and start times, boot id and pid namespaces.
 * Tracker, single-threaded, AS-safe: open/read/readlinkat/fstatat and raw
 * getdents64 into static and stack buffers. */

/* syscall(2) for getdents64, statx(2) and makedev(3): Linux calls. statx's
 * fallback is fstatat (old kernels, old libcs, seccomp filters refusing
 * it); without getdents64 (not Linux: no /proc to read anyway) the scan
 * reports -ENOSYS. */
#define _GNU_SOURCE
#include "procscan.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#endif

#include "decimal.h"
#include "fdio.h"

#if defined(__linux__) && defined(SYS_getdents64)
#define RT_HAVE_PROCSCAN 1
#endif

/* The kernel thread flag of field 9 of /proc/PID/stat (PF_KTHREAD). */
#define PF_KTHREAD_FLAG 0x00200000ULL

/* Text files of /proc are read through this buffer a line at a time: maps,
 * which may be megabytes, mountinfo and status. Static, so that even a
 * tracker on a small stack can hold the longest line (a path of PATH_MAX
 * bytes, escaped, plus the fields before it). */
static char text[1 << 16];

/* ---- small parsers (no stdio, no locale) ------------------------------- */

static int hex_digit(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Hexadecimal digits at P (at most 16) into *RET, as parse_dec. */
static const char *parse_hex(const char *p, uint64_t *ret)
{
    uint64_t v = 0;
    int n = 0;
    for (int d; (d = hex_digit(*p)) >= 0; p++) {
        if (++n > 16) {
            return NULL;
        }
        v = v << 4 | (uint64_t)d;
    }
    *ret = v;
    return n == 0 ? NULL : p;
}

/* The number a /proc entry is named (a pid, a descriptor), or -1 for any
 * other name. */
static int parse_index(const char *name)
{
    uint64_t v;
    const char *end = rt__parse_decimal(name, UINT64_MAX, &v);
    return end != NULL && *end == '\0' && v <= INT_MAX ? (int)v : -1;
}

/* Writes A, then B, then a NUL into BUF of CAP bytes: 0 or -ENAMETOOLONG. */
static int join(char *buf, size_t cap, const char *a, const char *b)
{
    size_t la = strlen(a);
    size_t lb = strlen(b);
    if (la + lb >= cap) {
        return -ENAMETOOLONG;
    }
    for (size_t i = 0; i < la; i++) {
        buf[i] = a[i];
    }
    memcpy(buf + la, b, lb + 1);
    return 0;
}

/* PID in decimal into BUF; returns BUF. */
static char *pid_name(char buf[12], pid_t pid)
{
    *rt__put_decimal(buf, (uint32_t)pid) = '\0';
    return buf;
}

/* "/proc/PID/LEAF" into BUF (64 bytes are always enough for the leaves
 * used here). */
static int proc_path(char *buf, size_t cap, pid_t pid, const char *leaf)
{
    char name[12];
    char head[32];
    int r = join(head, sizeof(head), "/proc/", pid_name(name, pid));
    return r < 0 ? r : join(buf, cap, head, leaf);
}

/* ---- reading a text file line by line -------------------------------- */

struct lines {
    int fd;
    size_t start, end; /* text[start, end) is read and not yet returned */
    int skip;          /* dropping the rest of a line longer than text */
    int eof;
};

static void lines_open(struct lines *l, int fd)
{
    *l = (struct lines){.fd = fd};
}

/* The next line, NUL-terminated in place and without its newline, in
 * *RET_LINE. A line longer than the buffer is returned cut to the buffer's
 * size (every field read here comes before the path that could make it
 * long) and its rest is dropped. Returns 1, 0 at the end, or -errno. */
static int lines_next(struct lines *l, char **ret_line)
{
    for (;;) {
        char *nl = memchr(text + l->start, '\n', l->end - l->start);
        if (nl != NULL) {
            char *line = text + l->start;
            l->start = (size_t)(nl - text) + 1;
            if (l->skip) {
                l->skip = 0;
                continue;
            }
            *nl = '\0';
            *ret_line = line;
            return 1;
        }
        /* No whole line left: keep the part read, at the front. */
        if (l->skip) {
            l->end = l->start;
        }
        memmove(text, text + l->start, l->end - l->start);
        l->end -= l->start;
        l->start = 0;
        if (l->end == sizeof(text) - 1 || (l->eof && l->end > 0)) {
            text[l->end] = '\0';
            *ret_line = text;
            l->skip = !l->eof;
            l->start = l->end = 0;
            return 1;
        }
        if (l->eof) {
            return 0;
        }
        ssize_t n =
            rt__fd_read(l->fd, text + l->end, sizeof(text) - 1 - l->end);
        if (n < 0) {
            return (int)n;
        }
        if (n == 0) {
            l->eof = 1;
        }
        l->end += (size_t)n;
    }
}

/* ---- process state from /proc/PID/stat --------------------------------- */

struct pstat {
    char state;         /* field 3: R, S, Z, ... */
    uint64_t ppid;      /* field 4 */
    uint64_t flags;     /* field 9 */
    uint64_t starttime; /* field 22 */
};

/* Reads /proc/PID/stat. 0 or -errno (-ENOENT or -ESRCH: no such process).
 * Field 2, the command name, may hold spaces, parentheses and newlines:
 * the fields after it begin after the LAST ')' of the line, since no later
 * field can hold one. */
static int read_pstat(pid_t pid, struct pstat *ret)
{
    char path[64];
    int r = proc_path(path, sizeof(path), pid, "/stat");
    if (r < 0) {
        return r;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    /* A command name is at most 64 bytes; the 50 numbers after it about
     * 500: the whole line fits, and fields 3 to 22 always do. */
    char buf[1024];
    ssize_t n = rt__fd_read_full(fd, buf, sizeof(buf) - 1);
    rt__fd_close(fd);
    if (n < 0) {
        return (int)n;
    }
    buf[n] = '\0';
    const char *p = NULL;
    for (ssize_t i = n - 1; i >= 0 && p == NULL; i--) {
        p = buf[i] == ')' ? buf + i + 1 : NULL;
    }
    if (p == NULL || p[0] != ' ' || p[1] == '\0') {
        return -EIO;
    }
    ret->state = p[1];
    p += 2;
    /* Fields 4 to 22, each after one space. */
    for (int field = 4; field <= 22; field++) {
        uint64_t v;
        if (*p != ' ') {
            return -EIO;
        }
        /* Some are signed (tpgid is often -1, priority and nice may be
         * negative): the sign is skipped, only fields 9 and 22 are kept. */
        p += p[1] == '-' ? 2 : 1;
        p = rt__parse_decimal(p, UINT64_MAX, &v);
        if (p == NULL) {
            return -EIO;
        }
        if (field == 4) {
            ret->ppid = v;
        } else if (field == 9) {
            ret->flags = v;
        } else if (field == 22) {
            ret->starttime = v;
        }
    }
    return 0;
}

uint64_t rt__procscan_starttime(pid_t pid)
{
    struct pstat st = {0};
    if (pid <= 0 || read_pstat(pid, &st) < 0) {
        return 0;
    }
    return st.starttime;
}

pid_t rt__procscan_parent(pid_t pid)
{
    struct pstat st = {0};
    if (pid <= 0 || read_pstat(pid, &st) < 0 || st.ppid > INT_MAX) {
        return 0;
    }
    return (pid_t)st.ppid;
}

uint64_t rt__procscan_live_starttime(pid_t pid)
{
    struct pstat st = {0};
    if (pid <= 0 || read_pstat(pid, &st) < 0 || st.state == 'Z' ||
        st.state == 'X' || st.state == 'x') {
        return 0;
    }
    return st.starttime;
}

/* ---- namespaces, boot id --------------------------------------------- */

/* The N of "pid:[N]" in the link PATH (relative to DIRFD), or 0. */
static uint64_t ns_inode(int dirfd, const char *path)
{
    char buf[64];
    ssize_t n = readlinkat(dirfd, path, buf, sizeof(buf) - 1);
    if (n < 0) {
        return 0;
    }
    buf[n] = '\0';
    uint64_t v;
    const char *end = strncmp(buf, "pid:[", 5) == 0
                          ? rt__parse_decimal(buf + 5, UINT64_MAX, &v)
                          : NULL;
    return end != NULL && end[0] == ']' && end[1] == '\0' ? v : 0;
}

uint64_t rt__procscan_pidns(void)
{
    return ns_inode(AT_FDCWD, "/proc/self/ns/pid");
}

uint64_t rt__procscan_pidns_of(pid_t pid)
{
    char path[64];
    if (pid <= 0 || proc_path(path, sizeof(path), pid, "/ns/pid") < 0) {
        return 0;
    }
    return ns_inode(AT_FDCWD, path);
}

static int uuid_char_ok(size_t i, char c)
{
    if (i == 8 || i == 13 || i == 18 || i == 23) {
        return c == '-';
    }
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

int rt__procscan_boot_id(char *buf, size_t len)
{
    enum { UUID_LEN = 36 };
    if (len < UUID_LEN + 1) {
        return -ERANGE;
    }
    int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    char got[UUID_LEN + 2];
    ssize_t n = rt__fd_read_full(fd, got, sizeof(got));
    rt__fd_close(fd);
    if (n < 0) {
        return (int)n;
    }
    if (n < UUID_LEN || (n > UUID_LEN && got[UUID_LEN] != '\n') ||
        n > UUID_LEN + 1) {
        return -EIO;
    }
    for (size_t i = 0; i < UUID_LEN; i++) {
        if (!uuid_char_ok(i, got[i])) {
            return -EIO;
        }
    }
    memcpy(buf, got, UUID_LEN);
    buf[UUID_LEN] = '\0';
    return 0;
}

/* ---- may /proc hide processes? -------------------------------------- */

/* Whether a comma-separated list of proc's super options hides processes:
 * hidepid other than 0/off (1/noaccess: directories unreadable,
 * 2/invisible and 4/ptraceable: not even listed), or subset= (which keeps
 * only the pid directories; counted as hiding because whoever mounted it so
 * meant to restrict what /proc shows). */
static int options_hide(const char *opts)
{
    while (*opts != '\0') {
        size_t len = strcspn(opts, ",");
        if (len > 8 && strncmp(opts, "hidepid=", 8) == 0) {
            const char *v = opts + 8;
            size_t vlen = len - 8;
            int off = (vlen == 1 && v[0] == '0') ||
                      (vlen == 3 && strncmp(v, "off", 3) == 0);
            if (!off) {
                return 1;
            }
        } else if (len >= 7 && strncmp(opts, "subset=", 7) == 0) {
            return 1;
        }
        opts += len + (opts[len] == ',');
    }
    return 0;
}

/* The field after the Nth space of LINE (N >= 1), or NULL. */
static const char *field_after(const char *line, int n)
{
    for (; n > 0 && line != NULL; n--) {
        line = strchr(line, ' ');
        line = line != NULL ? line + 1 : NULL;
    }
    return line;
}

/* Whether one mountinfo line is a mount on /proc, and if so whether it
 * hides (a mount on /proc that is not proc at all hides everything). The
 * line is "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE
 * SOURCE SUPEROPTS"; the mount point is escaped (\040 for a space), so
 * "/proc" can only match itself. */
static int mount_line(const char *line, int *ret_hides)
{
    const char *mp = field_after(line, 4);
    if (mp == NULL || strncmp(mp, "/proc ", 6) != 0) {
        return 0;
    }
    const char *sep = strstr(mp, " - ");
    const char *fstype = sep != NULL ? sep + 3 : NULL;
    const char *opts = fstype != NULL ? field_after(fstype, 2) : NULL;
    *ret_hides =
        opts == NULL || strncmp(fstype, "proc ", 5) != 0 || options_hide(opts);
    return 1;
}

/* Whether the mount on /proc hides processes: 1 also when mountinfo cannot
 * be read or shows no /proc. Mounts are listed in the order they were made,
 * so of several stacked on /proc the last one is the one seen. */
static int mount_hides(void)
{
    int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 1;
    }
    struct lines l;
    lines_open(&l, fd);
    int hides = 1;
    char *line;
    int r;
    while ((r = lines_next(&l, &line)) > 0) {
        (void)mount_line(line, &hides);
    }
    rt__fd_close(fd);
    return r < 0 ? 1 : hides;
}

/* How many pids the NSpid line of /proc/self/status lists: 1 when /proc
 * belongs to our own pid namespace, more when it belongs to an ancestor
 * (one per level down to ours); 0 when unknown (before Linux 4.1). */
static int nspid_levels(void)
{
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    struct lines l;
    lines_open(&l, fd);
    int levels = 0;
    char *line;
    while (levels == 0 && lines_next(&l, &line) > 0) {
        if (strncmp(line, "NSpid:", 6) != 0) {
            continue;
        }
        for (const char *p = line + 6; *p != '\0'; p++) {
            levels += (p[0] >= '0' && p[0] <= '9') &&
                      (p[-1] == '\t' || p[-1] == ' ' || p[-1] == ':');
        }
    }
    rt__fd_close(fd);
    return levels;
}

/* Our pid as PROC (an open /proc) numbers it, or -1 when we have none
 * there: /proc belongs to a pid namespace we are not in. */
static pid_t self_in_proc(int proc)
{
    char buf[24];
    ssize_t n = readlinkat(proc, "self", buf, sizeof(buf) - 1);
    if (n <= 0) {
        return -1;
    }
    buf[n] = '\0';
    int pid = parse_index(buf);
    return pid > 0 ? (pid_t)pid : -1;
}

/* Whether PROC belongs to a pid namespace other than ours, 1 also when
 * that cannot be told. Processes outside it are not listed; and the pids
 * it shows are not the ones our getpid() and fork() return. */
static int other_pidns(int proc)
{
    if (self_in_proc(proc) != getpid()) {
        return 1;
    }
    /* Equal numbers may be chance: compare the namespaces themselves, or
     * failing the right to read pid 1's link, count NSpid's levels. */
    uint64_t mine = ns_inode(proc, "self/ns/pid");
    uint64_t init = ns_inode(proc, "1/ns/pid");
    if (mine != 0 && init != 0) {
        return mine != init;
    }
    return nspid_levels() != 1;
}

static int hidden_at(int proc)
{
    return mount_hides() || other_pidns(proc);
}

int rt__procscan_hidden(void)
{
    int proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (proc < 0) {
        return 1;
    }
    int r = hidden_at(proc);
    rt__fd_close(proc);
    return r;
}

#ifdef RT_HAVE_PROCSCAN

/* ---- the scan -------------------------------------------------------- */

struct scan {
    int proc; /* /proc */
    unsigned flags;
    rt_procscan_visit visit;
    void *ctx;
    pid_t self; /* as /proc numbers us, or -1 */
    int stop;   /* what VISIT returned when it stopped the scan */
    int err;    /* the first errno met reading the current process, or 0 */
    struct rt_procscan_result res;
};

static void note(struct scan *s, int err)
{
    if (s->err == 0) {
        s->err = err;
    }
}

/* Passes one file to VISIT; 1 when the scan is to stop. */
static int visit(struct scan *s, pid_t pid, int fd, uint64_t dev, uint64_t ino,
                 mode_t mode)
{
    s->stop = s->visit(s->ctx, pid, fd, dev, ino, mode);
    return s->stop != 0;
}

/* statx with AT_STATX_DONT_SYNC: a file on NFS or FUSE answers from its
 * cached attributes instead of asking a server, which may hang; identity
 * and type never change, so the cache is right for them. A cached kernel
 * capability, not program state: set once, never reset. */
#ifdef STATX_INO
static int statx_missing;
#endif

/* The identity of the file behind the magic link NAME in DIRFD: following
 * it reaches the open file itself, also when its name was unlinked. */
static int stat_link(int dirfd, const char *name, uint64_t *ret_dev,
                     uint64_t *ret_ino, mode_t *ret_mode)
{
#ifdef STATX_INO
    if (!statx_missing) {
        struct statx sx;
        if (statx(dirfd, name, AT_STATX_DONT_SYNC, STATX_TYPE | STATX_INO,
                  &sx) == 0) {
            *ret_dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
            *ret_ino = sx.stx_ino;
            *ret_mode = sx.stx_mode;
            return 0;
        }
        if (errno != ENOSYS && errno != EPERM) {
            return -errno;
        }
        statx_missing = 1;
    }
#endif
    struct stat st;
    if (fstatat(dirfd, name, &st, 0) < 0) {
        return -errno;
    }
    *ret_dev = (uint64_t)st.st_dev;
    *ret_ino = (uint64_t)st.st_ino;
    *ret_mode = st.st_mode;
    return 0;
}

/* Calls FN(S, DIRFD, NAME, PID) for each entry of the directory DIRFD,
 * through a stack buffer. Returns 1 when FN asked to stop, 0 at the end,
 * or -errno when the listing failed. */
static int each_entry(struct scan *s, int dirfd, pid_t pid,
                      int (*fn)(struct scan *, int, const char *, pid_t))
{
    _Alignas(8) char buf[4096];
    for (;;) {
        long n = syscall(SYS_getdents64, (long)dirfd, buf, (long)sizeof(buf));
        if (n < 0) {
            return -errno;
        }
        if (n == 0) {
            return 0;
        }
        for (long off = 0; off < n;) {
            /* struct linux_dirent64: u64 ino, s64 off, u16 reclen, u8 type,
             * char name[]. */
            unsigned short reclen;
            memcpy(&reclen, buf + off + 16, sizeof(reclen));
            const char *name = buf + off + 19;
            off += reclen;
            if (fn(s, dirfd, name, pid)) {
                return 1;
            }
        }
    }
}

static int visit_fd(struct scan *s, int dirfd, const char *name, pid_t pid)
{
    int fd = parse_index(name);
    if (fd < 0) {
        return 0; /* "." and ".." */
    }
    uint64_t dev = 0;
    uint64_t ino = 0;
    mode_t mode = 0;
    int r = stat_link(dirfd, name, &dev, &ino, &mode);
    if (r == -ENOENT) {
        return 0; /* closed since the listing */
    }
    if (r < 0) {
        note(s, -r);
        return 0;
    }
    return visit(s, pid, fd, dev, ino, mode);
}

/* The files PID (entry NAME of /proc) holds open. 1 when stopped. */
static int scan_fds(struct scan *s, const char *name, pid_t pid)
{
    char path[32];
    int r = join(path, sizeof(path), name, "/fd");
    if (r < 0) {
        note(s, -r);
        return 0;
    }
    int dfd = openat(s->proc, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        note(s, errno);
        return 0;
    }
    r = each_entry(s, dfd, pid, visit_fd);
    rt__fd_close(dfd);
    if (r < 0) {
        note(s, -r);
        return 0;
    }
    return r;
}

/* One line of /proc/PID/maps: "START-END PERMS OFFSET MAJ:MIN INODE
 * [PATH]", the device in hex, the inode in decimal. 1 with the file's
 * identity, 0 for an anonymous or special mapping (inode 0) or a line not
 * understood. A path ending in " (deleted)" changes nothing: the identity
 * comes before it. */
static int parse_map(const char *line, uint64_t *ret_dev, uint64_t *ret_ino)
{
    const char *p = field_after(line, 3);
    uint64_t major;
    uint64_t minor;
    uint64_t ino;
    p = p != NULL ? parse_hex(p, &major) : NULL;
    p = p != NULL && *p == ':' ? parse_hex(p + 1, &minor) : NULL;
    p = p != NULL && *p == ' ' ? rt__parse_decimal(p + 1, UINT64_MAX, &ino)
                               : NULL;
    if (p == NULL || (*p != ' ' && *p != '\0') || ino == 0 ||
        major > UINT_MAX || minor > UINT_MAX) {
        return 0;
    }
    *ret_dev = (uint64_t)makedev((unsigned)major, (unsigned)minor);
    *ret_ino = ino;
    return 1;
}

/* The files PID (entry NAME of /proc) has mapped. 1 when stopped. A file
 * mapped in several pieces (a library's text, data, ...) gives consecutive
 * lines: it is visited once per run of them. */
static int scan_maps(struct scan *s, const char *name, pid_t pid)
{
    char path[32];
    int r = join(path, sizeof(path), name, "/maps");
    if (r < 0) {
        note(s, -r);
        return 0;
    }
    int fd = openat(s->proc, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        note(s, errno);
        return 0;
    }
    struct lines l;
    lines_open(&l, fd);
    uint64_t last_dev = 0;
    uint64_t last_ino = 0;
    char *line;
    int stopped = 0;
    while (!stopped && (r = lines_next(&l, &line)) > 0) {
        uint64_t dev;
        uint64_t ino;
        if (!parse_map(line, &dev, &ino) ||
            (dev == last_dev && ino == last_ino)) {
            continue;
        }
        last_dev = dev;
        last_ino = ino;
        stopped = visit(s, pid, -1, dev, ino, 0);
    }
    rt__fd_close(fd);
    if (r < 0) {
        note(s, -r);
    }
    return stopped;
}

/* Counts a process that could not be read, unless it exited meanwhile. A
 * zombie (which holds no files) or a kernel thread (whose fd directory
 * only root may list, and which holds nothing of ours) is scanned for all
 * that matters, not unreadable. */
static void note_unreadable(struct scan *s, const char *name, pid_t pid)
{
    struct pstat ps = {0};
    struct stat st;
    if (read_pstat(pid, &ps) < 0 || fstatat(s->proc, name, &st, 0) < 0) {
        return; /* gone after all */
    }
    s->res.processes++;
    if (ps.state == 'Z' || ps.state == 'X' || (ps.flags & PF_KTHREAD_FLAG)) {
        return;
    }
    if (s->res.unreadable++ == 0) {
        s->res.unreadable_uid = st.st_uid;
    }
}

static int gone(int err)
{
    return err == ENOENT || err == ESRCH;
}

/* One entry of /proc. 1 when the scan is to stop. */
static int scan_process(struct scan *s, int dirfd, const char *name,
                        pid_t unused)
{
    (void)dirfd;
    (void)unused;
    int pid = parse_index(name);
    if (pid <= 0 || (pid == s->self && (s->flags & RT_PROCSCAN_SKIP_SELF))) {
        return 0;
    }
    s->err = 0;
    int stopped = 0;
    if (s->flags & RT_PROCSCAN_FDS) {
        stopped = scan_fds(s, name, pid);
    }
    if (!stopped && !gone(s->err) && (s->flags & RT_PROCSCAN_MAPS)) {
        stopped = scan_maps(s, name, pid);
    }
    if (s->err == 0) {
        s->res.processes++;
    } else if (!gone(s->err)) {
        note_unreadable(s, name, pid);
    }
    return stopped;
}

/* Opens /proc and learns what every scan needs first. 0 or -errno. */
static int scan_begin(struct scan *s, unsigned flags, rt_procscan_visit fn,
                      void *ctx)
{
    unsigned all = RT_PROCSCAN_FDS | RT_PROCSCAN_MAPS | RT_PROCSCAN_SKIP_SELF;
    if ((flags & ~all) != 0 || fn == NULL) {
        return -EINVAL;
    }
    int proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (proc < 0) {
        return -errno;
    }
    *s = (struct scan){.proc = proc, .flags = flags, .visit = fn, .ctx = ctx};
    s->res.hidden = hidden_at(proc);
    s->self = self_in_proc(proc);
    return 0;
}

/* Closes /proc and turns R (1 stopped, 0 done) into the result. */
static int scan_end(struct scan *s, int r, struct rt_procscan_result *ret)
{
    rt__fd_close(s->proc);
    if (ret != NULL) {
        *ret = s->res;
    }
    return r == 0 ? 0 : s->stop > 0 ? 1 : s->stop;
}

int rt__procscan(unsigned flags, rt_procscan_visit visit_fn, void *ctx,
                 struct rt_procscan_result *ret)
{
    struct scan s = {.proc = -1};
    int r = scan_begin(&s, flags, visit_fn, ctx);
    if (r < 0) {
        return r;
    }
    r = each_entry(&s, s.proc, 0, scan_process);
    if (r < 0) {
        /* A partial list of processes proves nothing. */
        rt__fd_close(s.proc);
        return r;
    }
    return scan_end(&s, r, ret);
}

int rt__procscan_pid(pid_t pid, unsigned flags, rt_procscan_visit visit_fn,
                     void *ctx, struct rt_procscan_result *ret)
{
    if (pid <= 0) {
        return -EINVAL;
    }
    struct scan s = {.proc = -1};
    int r = scan_begin(&s, flags, visit_fn, ctx);
    if (r < 0) {
        return r;
    }
    char name[12];
    r = scan_process(&s, s.proc, pid_name(name, pid), 0);
    return scan_end(&s, r, ret);
}

#else

int rt__procscan(unsigned flags, rt_procscan_visit visit_fn, void *ctx,
                 struct rt_procscan_result *ret)
{
    (void)flags;
    (void)visit_fn;
    (void)ctx;
    (void)ret;
    return -ENOSYS;
}

int rt__procscan_pid(pid_t pid, unsigned flags, rt_procscan_visit visit_fn,
                     void *ctx, struct rt_procscan_result *ret)
{
    (void)pid;
    return rt__procscan(flags, visit_fn, ctx, ret);
}

#endif
