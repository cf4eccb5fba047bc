/* SPDX-License-Identifier: MIT */
/* The tracker's control socket: a Unix seqpacket socket in the abstract
 * namespace, named after the run's public pipe ("resourcetracker-DEV-INO"),
 * for what the pipe cannot carry: the caller's credentials (checked by the
 * kernel, SO_PEERCRED), descriptors (SCM_RIGHTS) and an answer. One request
 * per connection, one meta line each way (journal.h's format):
 *   hello                     -> ok pid=P reads=AB types=a,b,... (+ the
 *                                tracker's liveness page, if any)
 *   attach src=A              +  a read end of the private pipe -> ok
 *   path op=reg|unreg rtype=T name=B64   + the path's folder -> ok | err
 *   shutdown                  -> ok, once everything is cleaned up
 * Replies are "ok ..." or "err errno=N". The tracker answers only callers of
 * its own user; path requests only from callers whose credentials equal its
 * own (see resourcetracker(7), Security). Host side MT-safe; tracker side
 * single-threaded, AS-safe. */
#ifndef RT_CTL_H
#define RT_CTL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RT_CTL_LINE_MAX 8192

/* Host: connects to the tracker of the public pipe (DEV, INO), sends REQ
 * (LEN bytes, a whole line) with NFDS (0 to 2) descriptors, and reads the
 * reply line into REPLY (CAP bytes, NUL-terminated, newline dropped) and at
 * most one descriptor into *RET_FD (-1 if none; RET_FD may be NULL). The
 * peer must be of this process's effective uid. Returns 0, or -errno:
 * -ECONNREFUSED or -ENOENT when no tracker listens there, -EPERM when the
 * listener is someone else's; -ECONNRESET or -EPIPE when the tracker went
 * away before it took the request, -ECONNABORTED when it took it and went
 * away without answering (it may have acted on it). It waits for the
 * answer as long as it takes (a tracker stopped with SIGSTOP holds it). */
int rt__ctl_call(uint64_t dev, uint64_t ino, const char *req, size_t len,
                 const int *fds, int nfds, char *reply, size_t cap,
                 int *ret_fd);

/* The same, giving up after MS milliseconds without an answer (-EAGAIN):
 * for questions whose answer the caller can do without (hello), so that a
 * stopped tracker cannot hold it. */
int rt__ctl_ask(uint64_t dev, uint64_t ino, const char *req, size_t len,
                char *reply, size_t cap, int *ret_fd, int ms);

/* Tracker: a listening socket for (DEV, INO), non-blocking, close-on-exec,
 * above 2. -errno on failure (-EADDRINUSE when someone holds the name). */
int rt__ctl_listen(uint64_t dev, uint64_t ino);

struct rt_ctl_req {
    int conn;
    pid_t pid; /* the caller, as the kernel saw it when it connected */
    uid_t uid;
    gid_t gid;
    int nfds;
    int fds[2];
    size_t len;
    char line[RT_CTL_LINE_MAX];
};

/* Tracker: accepts one connection on LFD and reads its request, waiting at
 * most a second for it (a caller stopped half-way cannot hold the tracker).
 * Returns 0, -EAGAIN when no connection was waiting, or another -errno
 * (the connection is then closed). */
int rt__ctl_accept(int lfd, struct rt_ctl_req *req);

/* Tracker: sends the reply LINE (LEN bytes) with descriptor FD (if >= 0),
 * never blocking, then closes the connection and any descriptor of the
 * request not taken (set to -1 in REQ->fds by the taker). */
void rt__ctl_reply(struct rt_ctl_req *req, const char *line, size_t len,
                   int fd);

/* Tracker: whether the caller of REQ has exactly the tracker's credentials:
 * user and group ids, supplementary groups and effective capabilities. */
int rt__ctl_same_creds(const struct rt_ctl_req *req);

#endif /* RT_CTL_H */
