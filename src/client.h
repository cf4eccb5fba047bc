/* SPDX-License-Identifier: MIT */
/* What the client side offers the library's other host modules (the
 * wrappers) beyond the public API. Host, MT-safe. */
#ifndef RT_CLIENT_H
#define RT_CLIENT_H

#include <sys/types.h>

/* Tells the tracker the identity (device and inode) of an object this
 * process has just created under NAME, of type RTYPE, after registering
 * NAME: the journal records it so that a sweep never removes a newer object
 * that took the name. Best effort: returns 0 or -errno, and the caller's
 * operation never fails because of it. Sent only to a tracker known to be
 * one of ours (a CPython tracker would not understand the line). */
int rt__client_identify(const char *name, const char *rtype, dev_t dev,
                        ino_t ino);

/* rt_unregister without the tracker's warning when NAME of RTYPE (not a
 * path type) was not registered: the wrappers' unlinks, which may remove
 * an object someone else created. A tracker not known to be ours gets an
 * UNREGISTER. Returns 0 or -errno. */
int rt__client_forget(const char *name, const char *rtype);

/* The run's journal descriptor this process holds (it carries the run's
 * lock), or -1: rt_spawn_prepare keeps it open in the child so that the
 * child, too, keeps the run alive for the sweep. */
int rt__client_journal_fd(void);

/* The public pipe's write end to keep open in a child that will exec, after
 * making sure the tracker runs: the descriptor itself, even when adopted
 * from RESOURCE_TRACKER_FD (it crosses exec already: no copy needed, unlike
 * what rt_getfd hands out). Returns it, or -errno. */
int rt__client_exec_fd(void);

#endif /* RT_CLIENT_H */
