/* SPDX-License-Identifier: MIT */
/* main() of the tracker image the library embeds and execs (see launch.c).
 * The launcher hands it its descriptors at the numbers of handoff.h and
 * "STARTER:FLAGS" as its argument. */
#include <fcntl.h>
#include <stdlib.h>

#include "handoff.h"
#include "tracker.h"

static int present(int fd)
{
    return fcntl(fd, F_GETFD) >= 0 ? fd : -1;
}

int main(int argc, char **argv)
{
    if (argc < 2 || present(RT_FD_STATUS) < 0 ||
        (present(RT_FD_A) < 0 && present(RT_FD_B) < 0)) {
        /* Not started by the library: there is nothing to track. */
        return 127;
    }
    char *end;
    long starter = strtol(argv[1], &end, 10);
    unsigned long flags = *end == ':' ? strtoul(end + 1, &end, 10) : 0;
    struct rt_tracker_args args = {
        present(RT_FD_A),     present(RT_FD_B),       RT_FD_STATUS,
        present(RT_FD_ALIVE), present(RT_FD_JOURNAL), present(RT_FD_DIR),
        (pid_t)starter,       (unsigned)flags,
    };
    rt__tracker_run(&args);
}
