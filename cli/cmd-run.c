/* SPDX-License-Identifier: MIT */
/* resourcetracker run: a new tracker for COMMAND and everything it starts. */
#define _GNU_SOURCE
#include "cli.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdio.h"
#include "handoff.h"
#include "launch.h"
#include "resourcetracker.h"

#ifndef RT_PRELOAD_PATH
#define RT_PRELOAD_PATH "/usr/local/lib/libresourcetracker-preload.so"
#endif

static const char run_usage[] =
    "usage: resourcetracker run [--wait] [--preload] [--] COMMAND [ARG...]\n"
    "Starts a new tracker and runs COMMAND (searched in PATH) with it: every\n"
    "process COMMAND starts shares that tracker, so what they register is\n"
    "cleaned up once the last of them is gone, however they died.\n"
    "  --preload  also track what programs built without the library create\n"
    "             with shm_open, sem_open and mq_open (dynamically linked\n"
    "             programs; LD_PRELOAD)\n"
    "  --wait     stay as COMMAND's parent, pass on the signals received, and\n"
    "             exit with COMMAND's status (128+N for signal N) only once\n"
    "             the tracker has finished cleaning up\n"
    "Exit status: COMMAND's; 127 when it is not found, 126 when it cannot be\n"
    "executed.\n";

extern char **environ;

/* The file execvp(3) would run for CMD, into BUF. Returns 0, or the errno
 * a shell would report (ENOENT: not found; EACCES: found, not runnable). */
static int resolve(const char *cmd, char *buf, size_t len)
{
    struct stat st;
    if (cmd[0] == '\0') {
        return ENOENT;
    }
    if (strchr(cmd, '/') != NULL) {
        if ((size_t)snprintf(buf, len, "%s", cmd) >= len) {
            return ENAMETOOLONG;
        }
        if (stat(buf, &st) < 0) {
            return errno;
        }
        return S_ISDIR(st.st_mode) || access(buf, X_OK) < 0 ? EACCES : 0;
    }
    const char *path = getenv("PATH");
    if (path == NULL) {
        path = "/usr/local/bin:/usr/bin:/bin";
    }
    int seen_eacces = 0;
    for (const char *p = path;; p++) {
        const char *end = strchr(p, ':');
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
        int w = n == 0 ? snprintf(buf, len, "%s", cmd)
                       : snprintf(buf, len, "%.*s/%s", (int)n, p, cmd);
        if (w > 0 && (size_t)w < len && stat(buf, &st) == 0) {
            if (!S_ISDIR(st.st_mode) && access(buf, X_OK) == 0) {
                return 0;
            }
            seen_eacces = 1;
        }
        if (end == NULL) {
            break;
        }
        p = end;
    }
    return seen_eacces ? EACCES : ENOENT;
}

/* Whether the program headers of the ELF file FD (CLASS bits, at PHOFF,
 * PHNUM of PHENTSIZE bytes each) hold a PT_INTERP: 1, 0, or -1 if they
 * cannot be read. The type is the first 32-bit word of an entry in both
 * classes. */
static int has_interp(int fd, uint64_t phoff, unsigned phnum,
                      unsigned phentsize)
{
    if (phentsize < sizeof(uint32_t)) {
        return -1;
    }
    for (unsigned i = 0; i < phnum; i++) {
        uint32_t type;
        if (pread(fd, &type, sizeof(type),
                  (off_t)(phoff + (uint64_t)i * phentsize)) !=
            (ssize_t)sizeof(type)) {
            return -1;
        }
        if (type == PT_INTERP) {
            return 1;
        }
    }
    return 0;
}

/* Whether PATH is an ELF executable (64- or 32-bit) with no program
 * interpreter: a static program, which LD_PRELOAD cannot reach. */
static int statically_linked(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    union {
        unsigned char ident[EI_NIDENT];
        Elf64_Ehdr e64;
        Elf32_Ehdr e32;
    } eh;
    int interp = -1;
    ssize_t n = read(fd, &eh, sizeof(eh));
    if (n >= (ssize_t)sizeof(Elf32_Ehdr) &&
        memcmp(eh.ident, ELFMAG, SELFMAG) == 0) {
        if (eh.ident[EI_CLASS] == ELFCLASS64 &&
            n >= (ssize_t)sizeof(Elf64_Ehdr)) {
            interp = has_interp(fd, eh.e64.e_phoff, eh.e64.e_phnum,
                                eh.e64.e_phentsize);
        } else if (eh.ident[EI_CLASS] == ELFCLASS32) {
            interp = has_interp(fd, eh.e32.e_phoff, eh.e32.e_phnum,
                                eh.e32.e_phentsize);
        }
    }
    close(fd);
    return interp == 0;
}

/* The shim: RESOURCE_TRACKER_PRELOAD (the build tree's, for the tests)
 * or the installed one. Made absolute into BUF, since every program of the
 * tree reads LD_PRELOAD from its own working directory. NULL with errno
 * when it cannot be read. */
static const char *preload_path(char *buf)
{
    const char *p = getenv("RESOURCE_TRACKER_PRELOAD");
    if (p == NULL || p[0] == '\0') {
        p = RT_PRELOAD_PATH;
    }
    if (realpath(p, buf) == NULL) {
        return NULL;
    }
    /* The loader splits LD_PRELOAD at spaces and colons. */
    if (strpbrk(buf, " :") != NULL) {
        errno = EINVAL;
        return NULL;
    }
    return access(buf, R_OK) == 0 ? buf : NULL;
}

/* Whether LIST (LD_PRELOAD: names separated by spaces or colons) holds
 * NAME already: a run inside a run --preload does not add it twice. */
static int listed(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p != '\0';) {
        size_t len = strcspn(p, ": ");
        if (len == n && memcmp(p, name, n) == 0) {
            return 1;
        }
        p += len;
        p += *p != '\0';
    }
    return 0;
}

static int set_env(int b_w, const char *lib)
{
    struct stat st;
    char var[96];
    if (fstat(b_w, &st) < 0) {
        return -1;
    }
    snprintf(var, sizeof(var), "%d:%ju:%ju", b_w, (uintmax_t)st.st_dev,
             (uintmax_t)st.st_ino);
    if (setenv(RT_ENV_FD, var, 1) < 0) {
        return -1;
    }
    const char *old = getenv("LD_PRELOAD");
    if (lib != NULL && !(old != NULL && listed(old, lib))) {
        size_t n = strlen(lib) + (old != NULL ? strlen(old) + 1 : 0) + 1;
        char *value = malloc(n);
        if (value == NULL) {
            return -1;
        }
        snprintf(value, n, "%s%s%s", lib,
                 old != NULL && old[0] != '\0' ? ":" : "",
                 old != NULL ? old : "");
        int r = setenv("LD_PRELOAD", value, 1);
        free(value);
        return r;
    }
    return 0;
}

static int exec_failed(const char *cmd, int err)
{
    cli_error("%s: %s", cmd, err == ENOENT ? "not found" : strerror(err));
    return err == ENOENT ? 127 : 126;
}

/* Executes PATH as execvp(3) would: a file the kernel does not know how to
 * run (no "#!" line) is given to /bin/sh, as shells do. Returns only on
 * failure, with errno. */
static void exec_command(const char *path, char **argv)
{
    execv(path, argv);
    if (errno != ENOEXEC) {
        return;
    }
    size_t n = 0;
    while (argv[n] != NULL) {
        n++;
    }
    char **sh = calloc(n + 2, sizeof(*sh));
    if (sh == NULL) {
        errno = ENOEXEC;
        return;
    }
    sh[0] = (char *)"sh";
    sh[1] = (char *)path;
    for (size_t k = 1; k <= n; k++) {
        sh[k + 1] = argv[k];
    }
    execv("/bin/sh", sh);
    free(sh);
    errno = ENOEXEC;
}

/* As PID 1, every orphan of the system (the tracker among them) becomes our
 * child and must be reaped, or it stays a zombie as long as we run: the one
 * place where children other than COMMAND are waited for. Never blocks. */
static void reap_orphans(pid_t child)
{
    if (getpid() != 1) {
        return;
    }
    for (;;) {
        /* Looked at first, so that COMMAND is left for wait_for. */
        siginfo_t si;
        si.si_pid = 0;
        if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT | __WALL) < 0 ||
            si.si_pid == 0 || si.si_pid == child) {
            return;
        }
        (void)waitpid(si.si_pid, NULL, WNOHANG | __WALL);
    }
}

/* What --wait takes in sigwaitinfo: every signal (SIGCHLD included, for
 * COMMAND's end), so that none kills `run` while COMMAND lives on, except
 * what cannot be caught (SIGKILL, SIGSTOP), what a fault of ours raises (a
 * blocked SIGSEGV would kill us anyway, without the handler a debugger
 * expects) and job control: SIGTSTP, SIGTTIN and SIGTTOU stop us, and
 * SIGCONT continues us, with their default actions, which the kernel
 * applies as a shell expects (a stop in an orphaned process group is
 * dropped; a SIGCONT is never lost to a stop of our own). */
static void waited_signals(sigset_t *set)
{
    static const int left[] = {SIGKILL, SIGSTOP, SIGSEGV, SIGBUS,  SIGFPE,
                               SIGILL,  SIGTRAP, SIGSYS,  SIGABRT, SIGTSTP,
                               SIGTTIN, SIGTTOU, SIGCONT};
    sigfillset(set);
    for (size_t k = 0; k < sizeof(left) / sizeof(left[0]); k++) {
        sigdelset(set, left[k]);
    }
}

/* Whether SIG, as SI tells it, must be passed on to COMMAND: one sent to
 * us (kill, sigqueue; also when sent to our whole process group, which we
 * cannot tell apart: COMMAND then gets it twice) or the hangup the kernel
 * sends a session leader alone, which COMMAND would otherwise never get.
 * What a terminal sends its foreground process group reached COMMAND
 * already. */
static int passed_on(int sig, const siginfo_t *si)
{
    if (si->si_code <= 0) {
        return 1;
    }
    return sig == SIGHUP && si->si_code == SI_KERNEL && getsid(0) == getpid();
}

/* --wait: COMMAND's parent until the end. */
static int wait_for(pid_t child, int status_fd, const sigset_t *set)
{
    int status = 0;
    for (;;) {
        siginfo_t si;
        int sig = sigwaitinfo(set, &si);
        if (sig < 0) {
            continue;
        }
        if (sig == SIGCHLD) {
            pid_t r = waitpid(child, &status, WNOHANG);
            if (r == child) {
                break;
            }
            if (r < 0 && errno == ECHILD) {
                /* Reaped by someone else: its status is lost. */
                status = 1 << 8;
                break;
            }
            reap_orphans(child);
            continue;
        }
        if (!passed_on(sig, &si)) {
            continue;
        }
        if (si.si_code == SI_QUEUE) {
            /* With the value it was queued with. */
            (void)sigqueue(child, sig, si.si_value);
        } else {
            (void)kill(child, sig);
        }
    }
    /* The tracker closes its end of the status pipe when it exits, after
     * the cleanup. */
    for (;;) {
        char c;
        ssize_t n = read(status_fd, &c, 1);
        if (n == 0 || (n < 0 && errno != EINTR)) {
            break;
        }
    }
    reap_orphans(child);
    if (WIFSIGNALED(status)) {
        return 128 + WTERMSIG(status);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int cli_run(int argc, char **argv)
{
    int wait = 0;
    int preload = 0;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else if (strcmp(argv[i], "--wait") == 0) {
            wait = 1;
        } else if (strcmp(argv[i], "--preload") == 0) {
            preload = 1;
        } else if (strcmp(argv[i], "--help") == 0) {
            fputs(run_usage, stdout);
            return CLI_OK;
        } else {
            cli_error("run: unknown option '%s'", argv[i]);
            fputs(run_usage, stderr);
            return CLI_USAGE;
        }
    }
    if (i >= argc) {
        cli_error("run: no command given");
        fputs(run_usage, stderr);
        return CLI_USAGE;
    }
    char path[PATH_MAX];
    int err = resolve(argv[i], path, sizeof(path));
    if (err != 0) {
        return exec_failed(argv[i], err);
    }
    /* As PID 1 (a container's first process), COMMAND exec'ed in our place
     * would take the tracker down with it: the kernel kills every process
     * of a PID namespace when its PID 1 exits, before the tracker could
     * clean up. So there we stay as COMMAND's parent, as with --wait. */
    if (getpid() == 1) {
        wait = 1;
    }
    char lib_buf[PATH_MAX];
    const char *lib = NULL;
    if (preload) {
        lib = preload_path(lib_buf);
        if (lib == NULL) {
            const char *p = getenv("RESOURCE_TRACKER_PRELOAD");
            cli_error("--preload: %s: %s",
                      p != NULL && p[0] != '\0' ? p : RT_PRELOAD_PATH,
                      strerror(errno));
            return 126;
        }
        if (statically_linked(path)) {
            cli_error("%s is statically linked: --preload cannot track what "
                      "it creates (it is still given the tracker)",
                      argv[i]);
        }
    }
    static struct rt_launch inflight = RT_LAUNCH_INIT;
    int exec_broken = 0;
    struct rt_launch_args args = {
        -1, -1, -1, wait ? RT_TRACK_HOLD : 0, &exec_broken, ""};
    struct rt_started st;
    int r = rt__launch(&inflight, &args, &st);
    if (args.why[0] != '\0') {
        cli_error("no journal: %s", args.why);
    }
    if (r < 0) {
        cli_error("cannot start a tracker: %s", strerror(-r));
        return 126;
    }
    /* COMMAND and what it starts get the public pipe (and hold the run's
     * lock through the journal); the private one is for processes that
     * start their own tracker, not for this one. */
    rt__fd_close(st.a_w);
    rt__fd_close(st.a_spare);
    if (rt__fd_set_cloexec(st.b_w, 0) < 0 ||
        (st.journal >= 0 && rt__fd_set_cloexec(st.journal, 0) < 0) ||
        set_env(st.b_w, lib) < 0) {
        cli_error("cannot prepare COMMAND's environment: %s", strerror(errno));
        return 126;
    }
    if (!wait) {
        exec_command(path, argv + i);
        return exec_failed(argv[i], errno);
    }
    sigset_t set;
    sigset_t old;
    waited_signals(&set);
    sigprocmask(SIG_BLOCK, &set, &old);
    /* SIGCHLD ignored (inherited so) would reap COMMAND for us, and we
     * would wait for it for ever: the default while we wait, and COMMAND
     * gets back what we were given. */
    struct sigaction dfl;
    struct sigaction chld;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGCHLD, &dfl, &chld);
    pid_t child = fork();
    if (child < 0) {
        cli_error("fork: %s", strerror(errno));
        return 126;
    }
    if (child == 0) {
        sigaction(SIGCHLD, &chld, NULL);
        sigprocmask(SIG_SETMASK, &old, NULL);
        rt__fd_close(st.status);
        exec_command(path, argv + i);
        _exit(exec_failed(argv[i], errno));
    }
    /* The run ends when COMMAND's tree has gone: we hold nothing of it. */
    rt__fd_close(st.b_w);
    rt__fd_close(st.journal);
    return wait_for(child, st.status, &set);
}
