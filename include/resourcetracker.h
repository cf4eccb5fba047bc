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
 * tracker. The tracker keeps a journal of what it holds (see "When the
 * tracker dies" and "Runs, journals and the sweep" in resourcetracker(7)):
 * if it is killed, a new one takes over, and if the whole program dies
 * with it, the next tracker of the same user (or `resourcetracker sweep`)
 * cleans up.
 *
 * Cleanup is asynchronous: it happens in the tracker once the last process
 * is gone, a moment after. To wait for it, run the program under
 * `resourcetracker run --wait`.
 *
 * All functions are thread-safe, and safe to call in a child that a
 * multithreaded program forked (the library resets its one mutex there).
 * None is async-signal-safe: a call may have to start a tracker. They
 * return 0 (or a descriptor or pointer) on success and -1 (SEM_FAILED,
 * (mqd_t)-1) with errno set on failure, like the POSIX calls they sit
 * beside, and print nothing on a failure the caller can see; the
 * exceptions are rt_tracker_pid, which never fails nor sets errno, and
 * rt_spawn_free, which returns nothing. A call waits only while a tracker
 * starts (about a millisecond), while another process takes over from a
 * dead one (up to 2 s), while the tracker is stopped (SIGSTOP) and its
 * pipe is full, or, for a file or folder, until the tracker answers.
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
 * it names instead (see rt_setfd for the checks), leaving the descriptor as
 * it came (not close-on-exec): what it execs in turn, with the variable,
 * shares the same tracker. If the tracker this process
 * had has died (it was SIGKILLed), the call joins the tracker another
 * process of the program already started in its place, or starts one on the
 * same pipes and writes one line beginning "resource_tracker: process died
 * unexpectedly, relaunching" to stderr. The new tracker reads what was still
 * in the pipes and takes over everything the dead one held, from the run's
 * journal; without a usable state directory (resourcetracker(7)) there is
 * no journal and what the dead one held is lost (the line then ends "Some
 * resources might leak.").
 *
 * With a live tracker the call starts nothing: it costs one liveness probe,
 * no byte written and no fork (for a tracker this process or its parent
 * started, a load of a word the kernel marks when the tracker dies; for an
 * adopted one, a poll(2) of the pipe).
 * rt_register, rt_unregister, rt_getfd, rt_spawn_prepare and the wrappers
 * with O_CREAT call it themselves.
 *
 * RETURN VALUE
 *   0 on success, -1 with errno set on failure.
 * ERRORS
 *   EAGAIN, ENOMEM, EMFILE, ENFILE, ...  the tracker could not be started:
 *   errno is the error of the call that failed (pipe, clone, mmap, ...).
 *   EAGAIN also when the tracker shared with other processes died and, for
 *   5 seconds, every tracker this process tried to start or join on the
 *   same pipes was killed before it could be used; a later call tries
 *   again.
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
 * Registrations are counted: a name registered twice, by one process or
 * two, stays registered until it is unregistered twice (so that a process
 * that registers a name, loses the race to create it and withdraws, never
 * withdraws the winner's registration; CPython gh-116849 is the same trap).
 * NAME may hold ':', newlines and any byte but NUL.
 *
 * The message is one write(2) of at most PIPE_BUF bytes, so writers never
 * interleave; no lock is held across it and it never raises SIGPIPE.
 *
 * RT_FILE and RT_FOLDER are removed by the tracker with its own rights, so
 * they are not sent on the pipe: the call asks the tracker through its
 * control socket, which checks the caller's credentials, and waits for the
 * answer. NAME must be an absolute path in normal form (no "//", "." or
 * ".." component, no trailing '/', not "/"), whose folder exists and is
 * reached without following a symbolic link; see "Security" in
 * resourcetracker(7).
 *
 * RETURN VALUE
 *   0 on success, -1 with errno set on failure.
 * ERRORS
 *   EINVAL        NAME or RTYPE is NULL or empty; RTYPE holds a byte outside
 *                 [a-z0-9_], is not a type this library knows (built-in or
 *                 defined with rt_define_type), or is "noop"; the tracker in
 *                 use cannot read the message: a tracker that is not the
 *                 library's (CPython's, adopted through RESOURCE_TRACKER_FD
 *                 or rt_setfd) takes only names of printable ASCII without
 *                 ':' and the types semaphore and shared_memory; an adopted
 *                 tracker of the library only the types it was started
 *                 with; RTYPE is a path type and NAME is not an absolute
 *                 path in normal form, or is "/".
 *   ENAMETOOLONG  the message would not fit one atomic pipe write
 *                 (PIPE_BUF bytes, newline included): see NOTES.
 *   EAGAIN, ENOMEM, EMFILE, ...  the tracker could not be started.
 *   EAGAIN        the tracker's write end was set non-blocking (by whoever
 *                 handed it over) and the pipe is full.
 *   For RT_FILE and RT_FOLDER also: EPERM, the caller's credentials (user,
 *   group, supplementary groups, effective capabilities) are not those of
 *   the tracker; EXDEV, NAME leads to another folder for the tracker than
 *   for the caller (a chroot, a mount namespace of the caller's own); EBUSY,
 *   NAME is a mount point; ELOOP, a component of NAME is a symbolic link;
 *   ENOENT, ENOTDIR, EACCES, as opening NAME's folder gives them; ENOTCONN,
 *   the tracker's control socket cannot be reached (the caller is in
 *   another network namespace: the socket is in the abstract namespace).
 * NOTES
 *   The longest name, PIPE_BUF = 4096: in the colon form (printable ASCII
 *   names) 4085 - strlen(RTYPE) bytes for rt_register (4072 for
 *   "shared_memory", 4076 for "semaphore") and two bytes less for
 *   rt_unregister, whose line is two bytes longer; in the JSON form (other
 *   names), 3 * floor((4049 - strlen(RTYPE)) / 4) bytes for rt_register
 *   and 3 * floor((4047 - strlen(RTYPE)) / 4) for rt_unregister. A name
 *   longer than the rt_unregister limit and within the rt_register one can
 *   be registered but not withdrawn: it is cleaned up at the end, as a name
 *   never unregistered is.
 */
RT_EXPORT int rt_register(const char *name, const char *rtype);

/*
 * rt_unregister - forget NAME: the caller has cleaned it up itself
 *
 * Withdraws one registration of NAME (see rt_register: registrations are
 * counted), whichever process of the program made it.
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
 * end of its public pipe, the one to hand to programs you exec and to
 * CPython. The descriptor is close-on-exec. In a process that adopted its
 * tracker from RESOURCE_TRACKER_FD it is a close-on-exec copy of the adopted
 * descriptor, made at the first call: the adopted one keeps the flag it was
 * inherited with, so the programs this process execs inherit it together
 * with the variable and share the tracker too. Do not close it. (The
 * process itself writes on a private pipe of its own; both reach the same
 * tracker.)
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
 *   As rt_ensure_running; and, in a process that adopted its tracker from
 *   RESOURCE_TRACKER_FD, EMFILE when no descriptor is free for the copy
 *   (the tracker itself is fine: messages still go through).
 */
RT_EXPORT int rt_getfd(void);

/*
 * rt_setfd - adopt a tracker whose write end this process inherited
 *
 * From now on this process sends its messages on FD. FD must be the write end
 * of a pipe (a FIFO open for writing); it is made close-on-exec. The write
 * end of the tracker this process used before, if any, stays open: what was
 * registered there stays protected until this process exits.
 * rt_tracker_pid() then returns the adopted tracker's pid if it is the
 * library's (it answers on its control socket), else -1.
 *
 * RETURN VALUE
 *   0 on success, -1 with errno set on failure (nothing is changed then).
 * ERRORS
 *   EBADF   FD is negative or not an open descriptor.
 *   EINVAL  FD is not a pipe or FIFO, or is not open for writing, or is 0, 1
 *           or 2 (a standard stream is never taken for a tracker pipe, as
 *           RESOURCE_TRACKER_FD never takes one).
 * NOTES
 *   A pipe whose reader is already gone is accepted; the next message finds
 *   it dead and starts a tracker on it, with the warning. Whether FD leads
 *   to a tracker of the library is asked on its control socket; if none
 *   answers (CPython's tracker), only what every CPython tracker reads is
 *   sent (see rt_register, EINVAL).
 */
RT_EXPORT int rt_setfd(int fd);

/*
 * rt_tracker_pid - the tracker's process id
 *
 * Does not start a tracker.
 *
 * RETURN VALUE
 *   The pid of the tracker this process started (or that its parent started
 *   before fork, or that took over from a dead one), or of an adopted
 *   tracker of the library (once adopted: after rt_setfd, or after the
 *   first call for RESOURCE_TRACKER_FD); -1 when none was started yet or
 *   the tracker in use is not the library's (its pid is not known then).
 *   Never fails and never sets errno.
 */
RT_EXPORT pid_t rt_tracker_pid(void);

/*
 * rt_define_type - a resource type of the program's own
 *
 * Defines RTYPE, whose cleanup is CLEANUP(name), for rt_register and
 * rt_unregister. Must be called before this process has a tracker (before
 * its first rt_register, rt_unregister, rt_ensure_running, rt_getfd,
 * rt_spawn_prepare, wrapper call that creates an object, or unlink wrapper
 * call that unlinked one (it then unregisters the name), and before it
 * adopts one);
 * the tracker it then starts knows the type.
 *
 * What CLEANUP may do and rely on. It runs in the tracker process, at
 * shutdown, once per name of its type still registered, newest first, with
 * errno set to 0. The tracker is then a copy of this program made by fork
 * when the tracker started (not by exec, as without custom types: a function
 * pointer only means something in a copy of the program), so CLEANUP sees
 * the program's private memory as it was at that moment, and nothing
 * changed later; its shared mappings (MAP_SHARED) are gone, the tracker
 * lets go of them so as not to keep their files' memory.
 * That copy may come from a multithreaded program whose other threads held
 * locks: CLEANUP must use async-signal-safe functions only (unlink,
 * unlinkat, open, close, write, kill, ...; no malloc, stdio or locks), must
 * not call exit or longjmp, and should not block: the tracker waits for it.
 * NAME is NUL-terminated. CLEANUP returns 0 on success, or -1 with errno set
 * (or a positive errno value); a failure is reported as
 * "resource_tracker: 'NAME': [Errno E] TEXT" and makes the exit status 2
 * (-1 with errno left 0 is reported as EIO, "[Errno 5] Input/output
 * error"). It runs with the tracker's surroundings: working directory "/",
 * standard input and output on /dev/null, standard error the program's (or
 * /dev/null: see resourcetracker(7)), no other descriptor of the program
 * open, every signal but SIGKILL, SIGSTOP and the faults ignored, in a
 * session of its own.
 *
 * Because the tracker is forked, a program with custom types pays the
 * fork's cost at the start (page tables copied: about 14 ms per GiB of
 * memory) and its tracker holds a copy-on-write snapshot of the program's
 * memory for as long as it runs. Programs without custom types do not.
 *
 * A child exec'ed with the tracker (rt_spawn_prepare) may use the type by
 * defining it too before its first call: the tracker, asked on adoption,
 * knows it. A type the adopted tracker does not know is refused with
 * EINVAL.
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
 * withdrawn; registrations are counted (rt_register), so two processes
 * racing to create one name, the loser falling back to opening it, leave
 * exactly the winner's registration. Once the object exists, its identity
 * (device and inode) goes to the tracker: the tracker, and a sweep, never
 * remove another object that took the name later. What remains is a
 * loser of such a race that belongs to another program (another tracker)
 * and is SIGKILLed in the microseconds between its registration and its
 * withdrawal: its tracker then unlinks the name, the winner's object.
 *
 * rt_shm_unlink, rt_sem_unlink and rt_mq_unlink unlink and then unregister;
 * an unlink that fails leaves the registration. Killed between the two, the
 * tracker's own unlink finds nothing (or a newer object of that name, which
 * it leaves alone when the identity of the one registered is known).
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
 * write end onto itself (which clears close-on-exec in the child only; in a
 * process that adopted its tracker from RESOURCE_TRACKER_FD, the adopted
 * descriptor itself, not rt_getfd's copy), and
 * the same for the run's journal when there is one (holding it, the child
 * keeps the run alive for the sweep), and
 * builds in *RET_ENVP a copy of ENVP (of environ when ENVP is NULL) without
 * any RESOURCE_TRACKER_FD entry and with RESOURCE_TRACKER_FD=FD:DEV:INO
 * naming that pipe. Pass ACTIONS and *RET_ENVP to posix_spawn or
 * posix_spawnp; the child adopts the tracker at its first call, starts none
 * of its own, and the tracker waits for it. The strings of ENVP are not
 * copied: keep them until the spawn. Free *RET_ENVP with rt_spawn_free.
 *
 * RETURN VALUE
 *   0 on success, -1 with errno set on failure (then *RET_ENVP is
 *   unchanged, and so is ACTIONS unless the second action, the journal's,
 *   could not be added: the first then stays, which a posix_spawn of that
 *   ACTIONS survives).
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
