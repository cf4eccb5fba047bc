/* SPDX-License-Identifier: MIT */
/* main() of the tracker image the library embeds and execs (see launch.c).
 * It runs as the launcher's middle process: it forks the tracker, reports
 * the tracker's pid on the status pipe, and exits, so that the tracker is
 * nobody's child. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "fdio.h"
#include "launch.h"
#include "tracker.h"

int main(void)
{
    if (fcntl(RT_LAUNCH_READ_FD, F_GETFD) < 0 ||
        fcntl(RT_LAUNCH_STATUS_FD, F_GETFD) < 0) {
        /* Not started by the library: there is nothing to track. */
        return 127;
    }
    pid_t pid = fork();
    if (pid == 0) {
        rt__tracker_run(RT_LAUNCH_READ_FD);
    }
    struct rt_launch_report rep = {
        .kind = pid > 0 ? RT_REPORT_PID : RT_REPORT_ERROR,
        .value = pid > 0 ? (int32_t)pid : errno,
    };
    /* If the host is gone there is no one to tell. */
    (void)rt__fd_write_msg(RT_LAUNCH_STATUS_FD, &rep, sizeof(rep));
    _exit(pid > 0 ? 0 : 127);
}
