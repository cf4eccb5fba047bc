/* SPDX-License-Identifier: MIT */
/* A consumer of the installed library, built with CMake by
 * tests/cmake-test.sh: starts a tracker, registers a name under the prefix
 * given as argv[1] and unregisters it. Exits 0 when every call succeeded. */
#define _POSIX_C_SOURCE 200809L
#include <resourcetracker.h>

#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PREFIX\n", argv[0]);
        return 2;
    }
    char name[256];
    int n = snprintf(name, sizeof(name), "%s-consumer", argv[1]);
    if (n < 0 || (size_t)n >= sizeof(name)) {
        fprintf(stderr, "consumer: prefix too long\n");
        return 2;
    }
    if (rt_ensure_running() != 0 || rt_tracker_pid() <= 0) {
        perror("consumer: rt_ensure_running");
        return 1;
    }
    /* The name is never created: registering and unregistering it leaves
     * the tracker nothing to clean up. */
    if (rt_register(name, RT_SHARED_MEMORY) != 0) {
        perror("consumer: rt_register");
        return 1;
    }
    if (rt_unregister(name, RT_SHARED_MEMORY) != 0) {
        perror("consumer: rt_unregister");
        return 1;
    }
    return 0;
}
