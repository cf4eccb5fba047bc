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

#include <semaphore.h>
#include <spawn.h>
#include <sys/types.h>
#include <unistd.h>

#if defined(_POSIX_MESSAGE_PASSING) && _POSIX_MESSAGE_PASSING > 0
#include <mqueue.h>
#define RT_HAVE_MQUEUE 1
#endif

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

/* Built-in resource types (the rtype argument). At shutdown the tracker
 * cleans them up in this order, each type's names newest first. */
#define RT_SEMAPHORE "semaphore"         /* sem_unlink(3) */
#define RT_SHARED_MEMORY "shared_memory" /* shm_unlink(3) */
#define RT_MQUEUE "mqueue"               /* mq_unlink(3) */
#define RT_FILE "file"                   /* unlink(2); absolute paths only */
#define RT_FOLDER                                                              \
    "folder" /* the whole tree, never following a symbolic                     \
                link (a link inside is removed, its target                     \
                left alone); absolute paths only; a mount                      \
                inside the tree is not entered */

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
 * With a live tracker the call starts nothing: it costs one liveness probe,
 * no byte written and no fork (for a tracker this process or its parent
 * started, a load of a word the kernel marks when the tracker dies; for an
 * adopted one, a poll(2) of the pipe).
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
 *                 [a-z0-9_], is not a type this library knows (built-in or
 *                 defined with rt_define_type), or is "noop"; RTYPE is a
 *                 path type (RT_FILE, RT_FOLDER) and NAME is not an absolute
 *                 path.
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
 *   and, unless it also cleans up leaks (1) or fails a cleanup (2), ends
 *   with exit status 3.
 */
RT_EXPORT int rt_unregister(const char *name, const char *rtype);

/*
 * rt_getfd - the write end of the tracker pipe
 *
 * Ensures the tracker is running (as rt_ensure_running) and returns the write
 * end of its pipe. The descriptor is close-on-exec, except one this process
 * adopted from RESOURCE_TRACKER_FD: that one keeps the flag it was inherited
 * with, so that the programs this one execs inherit it together with the
 * variable and share the tracker too. Do not close it.
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

/*
 * rt_define_type - a resource type of the program's own
 *
 * Defines RTYPE, whose cleanup is CLEANUP(name), for rt_register and
 * rt_unregister. Must be called before this process has a tracker (before
 * its first rt_register, rt_unregister, rt_ensure_running or rt_getfd, and
 * before it adopts one); the tracker it then starts knows the type.
 *
 * What CLEANUP may do and rely on. It runs in the tracker process, at
 * shutdown, once per name of its type still registered, newest first, with
 * errno set to 0. The tracker is then a copy of this program made by fork
 * when the tracker started (not by exec, as without custom types: a function
 * pointer only means something in a copy of the program), so CLEANUP sees
 * the program's memory as it was at that moment, and nothing changed later.
 * That copy may come from a multithreaded program whose other threads held
 * locks: CLEANUP must use async-signal-safe functions only (unlink,
 * unlinkat, open, close, write, kill, ...; no malloc, stdio or locks), must
 * not call exit or longjmp, and should not block: the tracker waits for it.
 * NAME is NUL-terminated. CLEANUP returns 0 on success, or -1 with errno set
 * (or a positive errno value); a failure is reported as
 * "resource_tracker: 'NAME': [Errno E] TEXT" and makes the exit status 2.
 *
 * Because the tracker is forked, a program with custom types pays the
 * fork's cost at the start (page tables copied: about 14 ms per GiB of
 * memory) and its tracker holds a copy-on-write snapshot of the program's
 * memory for as long as it runs. Programs without custom types do not.
 *
 * A child exec'ed with the tracker (rt_spawn_prepare) may use the type by
 * defining it too before its first call.
 *
 * RETURN VALUE
 *   0 on success, -1 with errno set on failure.
 * ERRORS
 *   EINVAL  RTYPE is NULL, empty, longer than 32 bytes, holds a byte outside
 *           [a-z0-9_], or names a type that exists; CLEANUP is NULL.
 *   EBUSY   this process already has a tracker (started, inherited over
 *           fork, or adopted).
 *   ENOSPC  32 types, built-ins included, are defined already.
 */
RT_EXPORT int rt_define_type(const char *rtype,
                             int (*cleanup)(const char *name));

/*
 * Drop-in wrappers beside shm_open, sem_open and mq_open
 *
 * rt_shm_open, rt_sem_open and rt_mq_open take the arguments of the POSIX
 * calls and behave as they do, but register with the tracker every object
 * they create (and only those):
 *   - with O_CREAT | O_EXCL, the object they create;
 *   - with O_CREAT alone, the object if it did not exist and they created it;
 *     if it existed they open it and track nothing;
 *   - without O_CREAT they only open, and track nothing.
 * So a process that merely attaches to an object can never cause someone
 * else's object to be unlinked.
 *
 * Order and crash safety: the name is registered before the object is
 * created, so a SIGKILL at any instant leaves no object the tracker does
 * not know (killed between the two steps, the tracker's unlink of the name
 * finds nothing and says so). If the creation fails, the registration is
 * withdrawn. The name is first checked not to exist; what remains is the
 * rare case where another process creates the same name between that check
 * and our creation and we are killed before withdrawing: then the tracker
 * unlinks the other's object.
 *
 * rt_shm_unlink, rt_sem_unlink and rt_mq_unlink unlink and then unregister;
 * an unlink that fails leaves the registration. Killed between the two, the
 * tracker's own unlink finds nothing (or a newer object of that name, which
 * it removes).
 *
 * rt_sem_open creates a semaphore as glibc and musl do, writing it into a
 * file under a temporary name and linking that into place, but registers
 * the temporary name first: a SIGKILL between the two steps leaves no file
 * behind. The temporary name ("/rt-tmp-" and 16 random hex digits) cannot
 * be predicted; one found taken is left alone and another drawn.
 *
 * Names follow the rules of the libc the library was built for (glibc,
 * musl), with the same errors. With glibc and musl on Linux the wrappers
 * never call shm_open, sem_open with O_CREAT, mq_open or the unlink
 * functions: they create and remove objects with the system calls those
 * functions make, so a program that interposes those symbols (a preload
 * shim sending them to these wrappers) is not called back.
 *
 * RETURN VALUE
 *   As the POSIX calls, and EINVAL for a NULL name (where the POSIX calls
 *   may crash). The open wrappers also fail, creating nothing, when the
 *   name cannot be registered (see rt_register: ENAMETOOLONG, or the errno
 *   of a tracker that could not be started), and with EAGAIN if another
 *   process keeps creating and removing the name while they try.
 *   rt_sem_open fails with ENOSPC when /dev/shm has no room for the
 *   semaphore (never SIGBUS), and with EAGAIN if 16 temporary names in a
 *   row were taken. The unlink wrappers return 0 once the object is
 *   unlinked, even if the tracker could not be told (it then reports the
 *   name as already gone at shutdown).
 *
 * NOTES
 *   The wrappers are not cancellation points, as shm_open and sem_open
 *   are not (cancellation is disabled while they run).
 */
RT_EXPORT int rt_shm_open(const char *name, int oflag, mode_t mode);
RT_EXPORT int rt_shm_unlink(const char *name);
RT_EXPORT sem_t *rt_sem_open(const char *name, int oflag, ...);
RT_EXPORT int rt_sem_unlink(const char *name);
#ifdef RT_HAVE_MQUEUE
RT_EXPORT mqd_t rt_mq_open(const char *name, int oflag, ...);
RT_EXPORT int rt_mq_unlink(const char *name);
#endif

/*
 * rt_spawn_prepare - share the tracker with a program started by
 *                    posix_spawn
 *
 * Ensures the tracker is running, adds to ACTIONS a dup2 of the tracker's
 * write end onto itself (which clears close-on-exec in the child only), and
 * builds in *RET_ENVP a copy of ENVP (of environ when ENVP is NULL) without
 * any RESOURCE_TRACKER_FD entry and with RESOURCE_TRACKER_FD=FD:DEV:INO
 * naming that pipe. Pass ACTIONS and *RET_ENVP to posix_spawn or
 * posix_spawnp; the child adopts the tracker at its first call, starts none
 * of its own, and the tracker waits for it. The strings of ENVP are not
 * copied: keep them until the spawn. Free *RET_ENVP with rt_spawn_free.
 *
 * RETURN VALUE
 *   0 on success, -1 with errno set on failure (then ACTIONS and *RET_ENVP
 *   are unchanged).
 * ERRORS
 *   EINVAL  ACTIONS or RET_ENVP is NULL.
 *   ENOMEM  no memory for the environment or the action.
 *   Also the errors of rt_ensure_running.
 */
RT_EXPORT int rt_spawn_prepare(posix_spawn_file_actions_t *actions,
                               char *const envp[], char ***ret_envp);

/* Frees an environment built by rt_spawn_prepare. NULL is a no-op. */
RT_EXPORT void rt_spawn_free(char **envp);

#ifdef __cplusplus
}
#endif

#endif /* RESOURCETRACKER_H */
