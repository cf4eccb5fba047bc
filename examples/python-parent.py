#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A Python parent and C workers sharing one resource tracker: CPython's.

Run it as "python3 examples/python-parent.py PATH-OF-py-worker".

The script's first process only narrates and looks at /dev/shm. Its forked
child is the "parent program": it starts CPython's multiprocessing resource
tracker and runs three C workers (examples/py-worker.c) with the tracker's
pipe kept open and named in RESOURCE_TRACKER_FD, so that they adopt it
instead of starting trackers of their own. One worker crashes; CPython's
tracker removes what it left once the parent program is gone too.
"""
import os
import signal
import subprocess
import sys
import time
from multiprocessing import resource_tracker

WORKERS = 3
CRASHING = 2       # the worker that is SIGKILLed
DEADLINE = 10.0    # seconds to wait for CPython's tracker to finish
ENV = "RESOURCE_TRACKER_FD"


def say(text=""):
    print(text, flush=True)


def ours(prefix):
    """Names in /dev/shm that belong to this run."""
    return sorted(n for n in os.listdir("/dev/shm") if prefix in n)


def show_shm(prefix, title):
    say(title)
    names = ours(prefix)
    for name in names:
        say("    /dev/shm/" + name)
    if not names:
        say("    (nothing of this demo)")


def finished(pid):
    """Whether PID has exited (gone, or a zombie its reaper has not yet
    waited for)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return stat[stat.rindex(")") + 2] in "ZX"


def parent_program(worker, prefix, report):
    """The parent program: CPython's tracker, then the C workers one at a
    time (so that the output reads in order). Writes the tracker's pid on
    REPORT and returns the exit code."""
    resource_tracker.ensure_running()
    fd = resource_tracker.getfd()
    # CPython has no public accessor for the tracker's pid.
    tracker = resource_tracker._resource_tracker._pid
    st = os.fstat(fd)
    # FD:DEV:INO, not just FD: the library then checks that the descriptor
    # it inherits is that very pipe before it writes a byte to it.
    value = "%d:%d:%d" % (fd, st.st_dev, st.st_ino)
    say("  parent program (pid %d): started CPython's resource tracker,"
        " pid %d;" % (os.getpid(), tracker))
    say("    the write end of its pipe is my fd %d." % fd)
    say("  parent: starting %d C workers with fd %d kept open (pass_fds)"
        % (WORKERS, fd))
    say("    and %s=%s in their environment." % (ENV, value))
    say()
    env = dict(os.environ, **{ENV: value})
    for i in range(1, WORKERS + 1):
        mode = "crash" if i == CRASHING else "finish"
        done = subprocess.run([worker, prefix, str(i), mode], env=env,
                              pass_fds=[fd])
        if done.returncode == -signal.SIGKILL:
            say("  parent: worker %d was killed by SIGKILL" % i)
        elif done.returncode != 0:
            say("  parent: worker %d failed (exit status %d)"
                % (i, done.returncode))
            return 1
        say()
    show_shm(prefix, "  /dev/shm now, while the parent program still runs:")
    say("""
  The crashed worker's segment is still there, and should be: CPython's
  tracker cleans up only when the last holder of its pipe is gone, and this
  parent program still holds it. The workers that finished sent UNREGISTER
  lines, so the tracker has forgotten their segments.

  Now the parent program exits, normally, without touching the segment.
  CPython's tracker then reads end-of-file, unlinks what is still
  registered and warns on stderr, in its own words (CPython before 3.13
  gives a count, not the names):
""")
    os.write(report, b"%d\n" % tracker)
    return 0


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: python-parent.py PATH-OF-py-worker\n")
        return 2
    worker = os.path.abspath(sys.argv[1])
    if not os.access(worker, os.X_OK):
        sys.stderr.write("python-parent.py: %s: not an executable; build"
                         " examples/py-worker.c first\n" % worker)
        return 2
    prefix = "rt-pydemo-%d" % os.getpid()
    say("""python-parent: a Python program and C workers share CPython's tracker
=====================================================================

Python's multiprocessing starts a "resource tracker" process. It holds the
read end of a pipe and every process of the program holds the write end;
each named object a process creates (a shared-memory segment, a semaphore)
is announced on that pipe as one line, "REGISTER:/name:shared_memory".
When the last holder of the write end is gone, however it died, the tracker
reads end-of-file and unlinks every name nobody unregistered.

libresourcetracker speaks the same protocol, so a C program started by a
Python program can register its objects with Python's tracker instead of
starting one of its own: the parent keeps the pipe open in the child and
names it in %s. The library adopts it at its first call.

Here a Python parent program runs %d C workers (py-worker). Each makes a
segment with rt_shm_open. Worker %d crashes before it cleans up; the others
remove theirs with rt_shm_unlink.
""" % (ENV, WORKERS, CRASHING))
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        # The parent program. A forked child must never return into the
        # narrator's code below: it ends with os._exit.
        os.close(r)
        code = 1
        try:
            code = parent_program(worker, prefix, w)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        line = f.read()
    _, status = os.waitpid(pid, 0)
    if status != 0 or not line:
        say("The parent program failed.")
        return 1
    tracker = int(line)
    # The tracker was the parent program's child; it is now an orphan, and
    # is done once it has exited and our names are gone.
    deadline = time.monotonic() + DEADLINE
    while not (finished(tracker) and not ours(prefix)):
        if time.monotonic() > deadline:
            break
        time.sleep(0.01)
    say()
    show_shm(prefix, "  /dev/shm after CPython's tracker (pid %d) finished:"
             % tracker)
    if ours(prefix):
        say("\n  Something was left behind.")
        return 1
    say("""
  One tracker, CPython's, served the Python parent and every C worker. It
  removed the segment of the worker that crashed; the workers that cleaned
  up after themselves had unregistered theirs, so it did not count them as
  leaks.""")
    return 0


if __name__ == "__main__":
    sys.exit(main())
