/* SPDX-License-Identifier: MIT */
/*
 * libresourcetracker: named POSIX resources (semaphores, shared memory, ...)
 * never outlive the program that created them.
 *
 * The first call starts a small tracker process. Every process of the
 * program holds the write end of a pipe to it; a registration is one line on
 * that pipe. When the last process holding the write end is gone, however it
 * died, the tracker sees end-of-file, runs the cleanup of every name still
 * registered (sem_unlink, shm_unlink, ...), reports the leaks on stderr and
 * exits. The wire protocol is the one of CPython's
 * multiprocessing.resource_tracker, so C and Python processes can share one
 * tracker.
 *
 * All functions are thread-safe. They return 0 (or a descriptor / pid) on
 * success and -1 with errno set on failure, like the POSIX calls they sit
 * beside, and print nothing on a failure the caller can see.
 */
#ifndef RESOURCETRACKER_H
#define RESOURCETRACKER_H

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(RT_BUILDING_LIBRARY) && defined(__GNUC__)
#define RT_EXPORT __attribute__((visibility("default")))
#else
#define RT_EXPORT
#endif

/* Version of this header and of the library it belongs to. */
#define RT_VERSION_MAJOR 0
#define RT_VERSION_MINOR 1
#define RT_VERSION_PATCH 0

/* The environment variable through which an exec'ed child adopts the
 * tracker of its parent: "FD" or "FD:DEV:INO" (see rt_getfd). */
#define RT_ENV_FD "RESOURCE_TRACKER_FD"

/* Built-in resource types (the rtype argument). */
#define RT_SEMAPHORE "semaphore"         /* cleaned with sem_unlink(3) */
#define RT_SHARED_MEMORY "shared_memory" /* cleaned with shm_unlink(3) */

/*
 * rt_ensure_running - make sure this process has a live tracker
 *
 * Starts the tracker if this process has none. A process that finds
 * RESOURCE_TRACKER_FD in its environment at its first call adopts the tracker
 * it names instead (see rt_setfd for the checks). If the tracker this process
 * had has died (it was SIGKILLed), a new one is started and one line beginning
 * "resource_tracker: process died unexpectedly, relaunching" is written to
 * stderr: what the dead tracker held is lost.
 *
 * With a live tracker the call starts nothing: it costs one liveness probe
 * (a poll(2) of the pipe, no byte written) and never forks.
 * rt_register, rt_unregister and rt_getfd call it themselves.
 *
 * RETURN VALUE
 *   0 on success, -1 with errno set on failure.
 * ERRORS
 *   EAGAIN, ENOMEM, EMFILE, ENFILE, ...  the tracker could not be started:
 *   errno is the error of the call that failed (pipe, clone, mmap, ...).
 * NOTES
 *   Thread-safe and fork-safe: a child created by fork(2) shares its parent's
 *   tracker with no call at all. The tracker is not a child of the caller:
 *   wait(2) never sees it and it never becomes the caller's zombie.
 */
RT_EXPORT int rt_ensure_running(void);

/*
 * rt_register - have the tracker clean up NAME when the program is gone
 *
 * From now on, if no process still holds the tracker's write end and NAME was
 * not unregistered, the tracker runs the cleanup of RTYPE on NAME (for
 * RT_SEMAPHORE, sem_unlink(NAME); for RT_SHARED_MEMORY, shm_unlink(NAME)).
 * Registering a name twice keeps one registration. NAME may hold ':',
 * newlines and any byte but NUL.
 *
 * The message is one write(2) of at most PIPE_BUF bytes, so writers never
 * interleave; no lock is held across it and it never raises SIGPIPE.
 *
 * RETURN VALUE
 *   0 on success, -1 with errno set on failure.
 * ERRORS
 *   EINVAL        NAME or RTYPE is NULL or empty; RTYPE holds a byte outside
 *                 [a-z0-9_], is not a type this library knows, or is "noop";
 *                 RTYPE is a path type ("file", "folder") and NAME is not an
 *                 absolute path.
 *   ENAMETOOLONG  the message would not fit one atomic pipe write
 *                 (PIPE_BUF bytes, newline included).
 *   EAGAIN, ENOMEM, EMFILE, ...  the tracker could not be started.
 *   EAGAIN        the tracker's write end was set non-blocking (by whoever
 *                 handed it over) and the pipe is full.
 * NOTES
 *   A name whose REGISTER line fits PIPE_BUF by one or two bytes can be
 *   registered but its UNREGISTER line (two bytes longer) cannot be sent.
 */
RT_EXPORT int rt_register(const char *name, const char *rtype);

/*
 * rt_unregister - forget NAME: the caller has cleaned it up itself
 *
 * RETURN VALUE, ERRORS
 *   As rt_register. Unregistering a name the tracker does not hold is not an
 *   error here (the caller cannot know); the tracker warns about it on stderr
 *   and ends with exit status 3.
 */
RT_EXPORT int rt_unregister(const char *name, const char *rtype);

/*
 * rt_getfd - the write end of the tracker pipe
 *
 * Ensures the tracker is running (as rt_ensure_running) and returns the write
 * end of its pipe. The descriptor is close-on-exec. Do not close it.
 *
 * To share the tracker with a program you exec, keep this descriptor open in
 * the child (a posix_spawn dup2 action onto itself, or clearing FD_CLOEXEC)
 * and put RESOURCE_TRACKER_FD=FD:DEV:INO in its environment, where DEV and
 * INO are st_dev and st_ino of fstat(FD) in decimal; or have the child call
 * rt_setfd(FD).
 *
 * RETURN VALUE
 *   A descriptor >= 0 on success, -1 with errno set on failure.
 * ERRORS
 *   As rt_ensure_running.
 */
RT_EXPORT int rt_getfd(void);

/*
 * rt_setfd - adopt a tracker whose write end this process inherited
 *
 * From now on this process sends its messages on FD. FD must be the write end
 * of a pipe (a FIFO open for writing); it is made close-on-exec. The write
 * end of the tracker this process used before, if any, stays open: what was
 * registered there stays protected until this process exits.
 * rt_tracker_pid() returns -1 afterwards: the adopted tracker's pid is not
 * known.
 *
 * RETURN VALUE
 *   0 on success, -1 with errno set on failure (nothing is changed then).
 * ERRORS
 *   EBADF   FD is negative or not an open descriptor.
 *   EINVAL  FD is not a pipe or FIFO, or is not open for writing.
 * NOTES
 *   A pipe whose reader is already gone is accepted; the next message finds
 *   it dead and starts a tracker of this process's own, with the warning.
 */
RT_EXPORT int rt_setfd(int fd);

/*
 * rt_tracker_pid - the tracker's process id
 *
 * Does not start a tracker.
 *
 * RETURN VALUE
 *   The pid of the tracker this process started (or that its parent started
 *   before fork), or -1 when none was started or the tracker was adopted
 *   through RESOURCE_TRACKER_FD or rt_setfd (its pid is not known then).
 *   Never sets errno.
 */
RT_EXPORT pid_t rt_tracker_pid(void);

#ifdef __cplusplus
}
#endif

#endif /* RESOURCETRACKER_H */
