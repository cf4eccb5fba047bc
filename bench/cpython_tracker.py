# SPDX-License-Identifier: MIT
"""CPython's multiprocessing.resource_tracker doing the work bench.c asks
of libresourcetracker, so that both are measured in one run.

Usage: cpython_tracker.py COMMAND [ARGS]; results are printed as
"key value" lines (times in nanoseconds).

  register REPS N        REPS timings of N register+unregister pairs
  warm REPS N            REPS timings of N ensure_running calls
  cold                   one cold start: ensure_running until the tracker
                         has consumed a first line
  memory N               tracker pid, then N names held, then released,
                         step by step as bench.c says on stdin
  cleanup KIND N PREFIX  N objects (shm or sem) registered, tracker pid
                         printed, then sleeps until killed
"""

import fcntl
import os
import select
import struct
import sys
import termios
import time

from multiprocessing import resource_tracker


def pending(fd):
    """Bytes written to the tracker's pipe and not read yet."""
    buf = fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0")
    return struct.unpack("i", buf)[0]


def wait_drained(fd, timeout=30.0):
    end = time.monotonic() + timeout
    while pending(fd) and time.monotonic() < end:
        time.sleep(0.0001)


def tracker_pid():
    # pylint: disable=protected-access
    return resource_tracker._resource_tracker._pid


def cmd_register(reps, n):
    resource_tracker.ensure_running()
    name = "/rt-bench-py-%d" % os.getpid()
    for _ in range(reps):
        t0 = time.perf_counter_ns()
        for _ in range(n):
            resource_tracker.register(name, "shared_memory")
            resource_tracker.unregister(name, "shared_memory")
        t1 = time.perf_counter_ns()
        print("ns", (t1 - t0) / (2 * n))
    wait_drained(resource_tracker.getfd())


def cmd_warm(reps, n):
    resource_tracker.ensure_running()
    for _ in range(reps):
        t0 = time.perf_counter_ns()
        for _ in range(n):
            resource_tracker.ensure_running()
        t1 = time.perf_counter_ns()
        print("ns", (t1 - t0) / n)
    wait_drained(resource_tracker.getfd())


def cmd_cold():
    t0 = time.perf_counter_ns()
    resource_tracker.ensure_running()
    fd = resource_tracker.getfd()
    os.write(fd, b"PROBE:0:noop\n")
    while pending(fd):
        pass
    t1 = time.perf_counter_ns()
    print("ns", t1 - t0)


def step(text):
    print(text, flush=True)
    sys.stdin.readline()


def cmd_memory(n):
    resource_tracker.ensure_running()
    fd = resource_tracker.getfd()
    names = ["/rt-bench-py-mem-%d-%07d" % (os.getpid(), i) for i in range(n)]
    step("pid %d" % tracker_pid())
    for name in names:
        resource_tracker.register(name, "shared_memory")
    wait_drained(fd)
    step("held")
    for name in names:
        resource_tracker.unregister(name, "shared_memory")
    wait_drained(fd)
    step("released")


def cmd_cleanup(kind, n, prefix):
    resource_tracker.ensure_running()
    fd = resource_tracker.getfd()
    if kind == "shm":
        import _posixshmem
        for i in range(n):
            name = "/%s-%d" % (prefix, i)
            os.close(_posixshmem.shm_open(name, os.O_CREAT | os.O_EXCL | os.O_RDWR,
                                          mode=0o600))
            resource_tracker.register(name, "shared_memory")
    else:
        import _multiprocessing
        locks = []
        for i in range(n):
            name = "/%s-%d" % (prefix, i)
            # kind 1 = semaphore; value, maxvalue 1; keep the name linked.
            locks.append(_multiprocessing.SemLock(1, 1, 1, name, False))
            resource_tracker.register(name, "semaphore")
    wait_drained(fd)
    print("pid", tracker_pid(), flush=True)
    while True:
        select.select([], [], [])


def main():
    cmd = sys.argv[1]
    args = sys.argv[2:]
    if cmd == "register":
        cmd_register(int(args[0]), int(args[1]))
    elif cmd == "warm":
        cmd_warm(int(args[0]), int(args[1]))
    elif cmd == "cold":
        cmd_cold()
    elif cmd == "memory":
        cmd_memory(int(args[0]))
    elif cmd == "cleanup":
        cmd_cleanup(args[0], int(args[1]), args[2])
    else:
        sys.exit("unknown command %r" % cmd)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
