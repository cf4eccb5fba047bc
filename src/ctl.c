/* SPDX-License-Identifier: MIT */
/* The control socket, both ends. Host side MT-safe; tracker side
 * single-threaded and AS-safe (system calls and stack buffers only). */

/* SO_PEERCRED, SO_PEERGROUPS, accept4, SOCK_CLOEXEC and the abstract
 * namespace are Linux's; elsewhere there is no control socket (the calls
 * fail with ENOSYS and the library goes without what it gives). */
#define _GNU_SOURCE
#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "decimal.h"
#include "fdio.h"

#if defined(__linux__) && defined(SO_PEERCRED)

static socklen_t make_addr(struct sockaddr_un *sa, uint64_t dev, uint64_t ino)
{
    static const char head[] = "resourcetracker-";
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    /* sun_path[0] stays NUL: the abstract namespace, no file anywhere. */
    char *o = sa->sun_path + 1;
    memcpy(o, head, sizeof(head) - 1);
    o += sizeof(head) - 1;
    o = rt__put_decimal(o, dev);
    *o++ = '-';
    o = rt__put_decimal(o, ino);
    return (socklen_t)(o - (char *)sa);
}

static int new_socket(int flags)
{
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | flags, 0);
    return fd < 0 ? -errno : rt__fd_lift(fd);
}

static int peer(int fd, struct ucred *ret)
{
    socklen_t len = sizeof(*ret);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, ret, &len) < 0) {
        return -errno;
    }
    return 0;
}

static int send_line(int fd, const char *line, size_t len, const int *fds,
                     int nfds, int flags)
{
    struct iovec iov = {.iov_base = (void *)line, .iov_len = len};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(2 * sizeof(int))];
    } ctl;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (nfds > 0) {
        memset(&ctl, 0, sizeof(ctl));
        msg.msg_control = ctl.buf;
        msg.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
        memcpy(CMSG_DATA(c), fds, (size_t)nfds * sizeof(int));
    }
    ssize_t n;
    do {
        n = sendmsg(fd, &msg, MSG_NOSIGNAL | flags);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return -errno;
    }
    return (size_t)n == len ? 0 : -EIO;
}

/* Receives one line and at most MAXFDS descriptors (close-on-exec, above
 * 2). Returns the line's length, 0 when the peer closed, or -errno. */
static ssize_t recv_line(int fd, char *buf, size_t cap, int *fds, int maxfds,
                         int *ret_nfds, int flags)
{
    struct iovec iov = {.iov_base = buf, .iov_len = cap - 1};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(2 * sizeof(int))];
    } ctl;
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = ctl.buf,
                         .msg_controllen = sizeof(ctl.buf)};
    ssize_t n;
    do {
        n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | flags);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return -errno;
    }
    int got = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL;
         c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
            continue;
        }
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            int in;
            memcpy(&in, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (got < maxfds) {
                int lifted = rt__fd_lift(in);
                if (lifted >= 0) {
                    fds[got++] = lifted;
                }
            } else {
                rt__fd_close(in);
            }
        }
    }
    *ret_nfds = got;
    if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
        for (int i = 0; i < got; i++) {
            rt__fd_close(fds[i]);
        }
        *ret_nfds = 0;
        return -EMSGSIZE;
    }
    if (n == 0) {
        buf[0] = '\0';
        return 0; /* the peer closed */
    }
    while (n > 0 && buf[n - 1] == '\n') {
        n--;
    }
    buf[n] = '\0';
    return n == 0 ? -EPROTO : n;
}

static int call(uint64_t dev, uint64_t ino, const char *req, size_t len,
                const int *fds, int nfds, char *reply, size_t cap, int *ret_fd,
                int ms)
{
    int saved = errno;
    if (ret_fd != NULL) {
        *ret_fd = -1;
    }
    int fd = new_socket(0);
    if (fd < 0) {
        return fd;
    }
    struct sockaddr_un sa;
    socklen_t salen = make_addr(&sa, dev, ino);
    if (ms > 0) {
        struct timeval tv = {ms / 1000, (suseconds_t)(ms % 1000) * 1000};
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    }
    int r;
    do {
        r = connect(fd, (struct sockaddr *)&sa, salen);
    } while (r < 0 && errno == EINTR);
    struct ucred cred;
    if (r < 0) {
        r = -errno;
    } else if ((r = peer(fd, &cred)) == 0 && cred.uid != geteuid()) {
        /* Someone else took the name: say nothing to it. */
        r = -EPERM;
    }
    if (r == 0) {
        r = send_line(fd, req, len, fds, nfds, 0);
    }
    if (r == 0) {
        int got[2];
        int ngot = 0;
        ssize_t n = recv_line(fd, reply, cap, got, 1, &ngot, 0);
        /* End-of-file: the tracker took the request and went away without
         * answering (it died); it may or may not have acted on it. A
         * request it never took shows as ECONNRESET instead. */
        r = n > 0 ? 0 : n == 0 ? -ECONNABORTED : (int)n;
        if (ngot > 0 && r == 0 && ret_fd != NULL) {
            *ret_fd = got[0];
        } else if (ngot > 0) {
            rt__fd_close(got[0]);
        }
    }
    rt__fd_close(fd);
    errno = saved;
    return r == -EWOULDBLOCK ? -EAGAIN : r;
}

int rt__ctl_call(uint64_t dev, uint64_t ino, const char *req, size_t len,
                 const int *fds, int nfds, char *reply, size_t cap, int *ret_fd)
{
    return call(dev, ino, req, len, fds, nfds, reply, cap, ret_fd, 0);
}

int rt__ctl_ask(uint64_t dev, uint64_t ino, const char *req, size_t len,
                char *reply, size_t cap, int *ret_fd, int ms)
{
    return call(dev, ino, req, len, NULL, 0, reply, cap, ret_fd, ms);
}

int rt__ctl_listen(uint64_t dev, uint64_t ino)
{
    int fd = new_socket(SOCK_NONBLOCK);
    if (fd < 0) {
        return fd;
    }
    struct sockaddr_un sa;
    socklen_t salen = make_addr(&sa, dev, ino);
    if (bind(fd, (struct sockaddr *)&sa, salen) < 0 || listen(fd, 64) < 0) {
        int err = errno;
        rt__fd_close(fd);
        return -err;
    }
    return fd;
}

int rt__ctl_accept(int lfd, struct rt_ctl_req *req)
{
    req->conn = -1;
    req->nfds = 0;
    req->fds[0] = req->fds[1] = -1;
    int c;
    do {
        c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    } while (c < 0 && errno == EINTR);
    if (c < 0) {
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
    c = rt__fd_lift(c);
    if (c < 0) {
        return c;
    }
    struct ucred cred;
    int r = peer(c, &cred);
    struct pollfd p = {c, POLLIN, 0};
    if (r == 0) {
        int n;
        do {
            n = poll(&p, 1, 1000);
        } while (n < 0 && errno == EINTR);
        r = n > 0 ? 0 : n == 0 ? -ETIMEDOUT : -errno;
    }
    if (r == 0) {
        ssize_t n = recv_line(c, req->line, sizeof(req->line), req->fds, 2,
                              &req->nfds, MSG_DONTWAIT);
        r = n > 0 ? 0 : n == 0 ? -EPIPE : (int)n;
        req->len = n > 0 ? (size_t)n : 0;
    }
    if (r < 0) {
        for (int i = 0; i < req->nfds; i++) {
            rt__fd_close(req->fds[i]);
        }
        req->nfds = 0;
        rt__fd_close(c);
        return r;
    }
    req->conn = c;
    req->pid = cred.pid;
    req->uid = cred.uid;
    req->gid = cred.gid;
    return 0;
}

void rt__ctl_reply(struct rt_ctl_req *req, const char *line, size_t len, int fd)
{
    /* A caller that went away, or whose socket is full, gets nothing. */
    (void)send_line(req->conn, line, len, &fd, fd >= 0 ? 1 : 0, MSG_DONTWAIT);
    req->conn = rt__fd_close(req->conn);
    for (int i = 0; i < 2; i++) {
        req->fds[i] = rt__fd_close(req->fds[i]);
    }
    req->nfds = 0;
}

/* The hex value after KEY on its line of /proc/PID/status (or self when
 * PID is 0) into BUF; 0 or -1. */
static int status_field(pid_t pid, const char *key, char *buf, size_t cap)
{
    char path[40] = "/proc/self/status";
    if (pid > 0) {
        /* "/proc/PID/status", without stdio. */
        char *o = rt__put_decimal(path + 6, (uint32_t)pid);
        memcpy(o, "/status", sizeof("/status"));
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    static char text[8192];
    ssize_t n = rt__fd_read_full(fd, text, sizeof(text) - 1);
    rt__fd_close(fd);
    if (n <= 0) {
        return -1;
    }
    text[n] = '\0';
    size_t k = strlen(key);
    for (char *line = text; line != NULL && *line != '\0';) {
        char *nl = strchr(line, '\n');
        if (strncmp(line, key, k) == 0) {
            char *v = line + k;
            while (*v == ' ' || *v == '\t') {
                v++;
            }
            size_t len = nl != NULL ? (size_t)(nl - v) : strlen(v);
            if (len >= cap) {
                return -1;
            }
            memcpy(buf, v, len);
            buf[len] = '\0';
            return 0;
        }
        line = nl != NULL ? nl + 1 : NULL;
    }
    return -1;
}

static int same_groups(const struct rt_ctl_req *req)
{
    gid_t mine[256];
    gid_t theirs[256];
    int n = getgroups(256, mine);
    socklen_t len = sizeof(theirs);
    if (n < 0) {
        return 0;
    }
    if (getsockopt(req->conn, SOL_SOCKET, SO_PEERGROUPS, theirs, &len) < 0) {
        /* Before Linux 4.13: the kernel's list of the caller, in /proc. */
        char a[2048];
        char b[2048];
        return status_field(req->pid, "Groups:", a, sizeof(a)) == 0 &&
               status_field(0, "Groups:", b, sizeof(b)) == 0 &&
               strcmp(a, b) == 0;
    }
    int m = (int)(len / sizeof(gid_t));
    if (m != n) {
        return 0;
    }
    /* Both lists come from the kernel in the same (sorted) order. */
    for (int i = 0; i < n; i++) {
        if (mine[i] != theirs[i]) {
            return 0;
        }
    }
    return 1;
}

int rt__ctl_same_creds(const struct rt_ctl_req *req)
{
    if (req->uid != geteuid() || req->gid != getegid() || !same_groups(req)) {
        return 0;
    }
    /* A process of the same user that gave up capabilities must not get
     * back through us what it gave up. Without /proc the ids decide. */
    char mine[32];
    char theirs[32];
    if (status_field(0, "CapEff:", mine, sizeof(mine)) < 0) {
        return 1;
    }
    /* A caller we cannot read (gone already) is not given the benefit of
     * the doubt. */
    return status_field(req->pid, "CapEff:", theirs, sizeof(theirs)) == 0 &&
           strcmp(mine, theirs) == 0;
}

#else

int rt__ctl_call(uint64_t dev, uint64_t ino, const char *req, size_t len,
                 const int *fds, int nfds, char *reply, size_t cap, int *ret_fd)
{
    (void)dev, (void)ino, (void)req, (void)len, (void)fds, (void)nfds;
    (void)reply, (void)cap;
    if (ret_fd != NULL) {
        *ret_fd = -1;
    }
    return -ENOSYS;
}

int rt__ctl_ask(uint64_t dev, uint64_t ino, const char *req, size_t len,
                char *reply, size_t cap, int *ret_fd, int ms)
{
    (void)ms;
    return rt__ctl_call(dev, ino, req, len, NULL, 0, reply, cap, ret_fd);
}

int rt__ctl_listen(uint64_t dev, uint64_t ino)
{
    (void)dev, (void)ino;
    return -ENOSYS;
}

int rt__ctl_accept(int lfd, struct rt_ctl_req *req)
{
    (void)lfd, (void)req;
    return -ENOSYS;
}

void rt__ctl_reply(struct rt_ctl_req *req, const char *line, size_t len, int fd)
{
    (void)req, (void)line, (void)len, (void)fd;
}

int rt__ctl_same_creds(const struct rt_ctl_req *req)
{
    (void)req;
    return 0;
}

#endif
