/* SPDX-License-Identifier: MIT */
/* resourcetracker: the command installed with libresourcetracker.
 *   resourcetracker run [--wait] [--preload] [--] COMMAND [ARG...]
 *   resourcetracker list [--json]
 *   resourcetracker sweep [--dry-run] [--json]
 * See resourcetracker(1). */
#include "cli.h"

#include <string.h>

#include "resourcetracker.h"

static const char usage[] =
    "usage: resourcetracker run [--wait] [--preload] [--] COMMAND [ARG...]\n"
    "       resourcetracker list [--json]\n"
    "       resourcetracker sweep [--dry-run] [--json]\n"
    "       resourcetracker --version | --help\n"
    "Each subcommand takes --help. See resourcetracker(1).\n";

int main(int argc, char **argv)
{
    /* Our lines and the tracker's warnings (stderr, one write each) come
     * out in the order they were made. */
    (void)setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) {
        cli_error("missing command (run, list or sweep)");
        fputs(usage, stderr);
        return CLI_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0) {
        printf("resourcetracker %d.%d.%d\n", RT_VERSION_MAJOR, RT_VERSION_MINOR,
               RT_VERSION_PATCH);
        return CLI_OK;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        return CLI_OK;
    }
    if (strcmp(cmd, "list") == 0) {
        return cli_list(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "sweep") == 0) {
        return cli_sweep(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "run") == 0) {
        return cli_run(argc - 1, argv + 1);
    }
    cli_error("unknown command '%s'", cmd);
    fputs(usage, stderr);
    return CLI_USAGE;
}
