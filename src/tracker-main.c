/* SPDX-License-Identifier: MIT */
/* main() of the tracker image the library embeds and execs (see launch.c).
 * The launcher hands it the read end of the tracker pipe as descriptor 3. */
#include <fcntl.h>

#include "alive.h"
#include "launch.h"
#include "tracker.h"

int main(void)
{
    if (fcntl(RT_LAUNCH_READ_FD, F_GETFD) < 0) {
        /* Not started by the library: there is nothing to track. */
        return 127;
    }
    rt__tracker_run(RT_LAUNCH_READ_FD,
                    fcntl(RT_ALIVE_FD, F_GETFD) >= 0 ? RT_ALIVE_FD : -1,
                    RT_LAUNCH_STATUS_FD);
}
