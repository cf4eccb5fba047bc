/* SPDX-License-Identifier: MIT */
/* resourcetracker list: this user's runs, from their journals. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "fdio.h"
#include "ledger.h"
#include "procscan.h"
#include "recorder.h"
#include "rtypes.h"
#include "statedir.h"

static const char list_usage[] =
    "usage: resourcetracker list [--json]\n"
    "Shows this user's runs in the state directory: each run's tracker, "
    "whether\n"
    "it and the run are alive, when it started, and every registered name "
    "with\n"
    "its type (and the registering process where known).\n";

struct listing {
    int dir;
    int json;
    int first;
    int count;
    FILE *out;
};

static struct rt_ledger ledger;
static struct rt_runinfo info;

/* 1 when the run's tracker runs, 0 when not, -1 when its pid is of
 * another PID namespace than ours and cannot be looked up here. */
static int tracker_alive(void)
{
    char boot[40];
    if (info.tracker_pid == 0 || info.tracker_start == 0) {
        return 0;
    }
    if (info.boot[0] != '\0' && rt__procscan_boot_id(boot, sizeof(boot)) == 0 &&
        strcmp(boot, info.boot) != 0) {
        return 0;
    }
    if (info.pidns != 0 && info.pidns != rt__procscan_pidns()) {
        return -1;
    }
    return rt__procscan_live_starttime((pid_t)info.tracker_pid) ==
           info.tracker_start;
}

static void names_json(FILE *out)
{
    int first = 1;
    unsigned n = rt__rtypes_count();
    for (unsigned t = 0; t < n; t++) {
        for (const struct rt_entry *e = rt__registry_first(&ledger.reg, t);
             e != NULL; e = e->next) {
            const struct rt_entry_ext *x = rt__registry_ext(e);
            fprintf(out, "%s{\"rtype\":\"%s\",\"name\":", first ? "" : ",",
                    rt__rtypes_get(t)->name);
            cli_json_string(out, e->name, e->len);
            fprintf(out, ",\"count\":%u", e->count);
            if (x != NULL && x->pid > 0) {
                fprintf(out, ",\"pid\":%d", (int)x->pid);
            }
            fputc('}', out);
            first = 0;
        }
    }
}

static void names_text(FILE *out)
{
    unsigned n = rt__rtypes_count();
    for (unsigned t = 0; t < n; t++) {
        for (const struct rt_entry *e = rt__registry_first(&ledger.reg, t);
             e != NULL; e = e->next) {
            const struct rt_entry_ext *x = rt__registry_ext(e);
            fprintf(out, "  %s ", rt__rtypes_get(t)->name);
            cli_repr(out, e->name, e->len);
            if (e->count > 1) {
                fprintf(out, " (registered %u times)", e->count);
            }
            if (x != NULL && x->pid > 0) {
                fprintf(out, " (by process %d)", (int)x->pid);
            }
            fputc('\n', out);
        }
    }
}

static void show(void *ctx, const char *name)
{
    struct listing *l = ctx;
    int jfd = rt__state_open_journal(l->dir, name, O_RDONLY);
    if (jfd < 0) {
        cli_error("journal %s ignored: %s", name, strerror(-jfd));
        return;
    }
    rt__ledger_init(&ledger, 0x5eed, (size_t)1 << 24, NULL);
    uint64_t end;
    int torn;
    memset(&info, 0, sizeof(info));
    if (rt__recorder_replay(jfd, &ledger, &info, &end, &torn) < 0) {
        cli_error("journal %s cannot be read", name);
        rt__ledger_free(&ledger);
        rt__fd_close(jfd);
        return;
    }
    int locked = cli_run_locked(jfd);
    int talive = tracker_alive();
    char started[40];
    cli_time(started, sizeof(started),
             info.tracker_time != 0 ? info.tracker_time : info.time);
    FILE *out = l->out;
    if (l->json) {
        fprintf(out, "%s{\"journal\":", l->first ? "" : ",");
        cli_json_string(out, (const unsigned char *)name, strlen(name));
        fprintf(out,
                ",\"tracker_pid\":%llu,\"tracker_alive\":%s,\"run_alive\":%s,"
                "\"started\":\"%s\",\"started_unix\":%llu,\"names\":[",
                (unsigned long long)info.tracker_pid,
                talive > 0    ? "true"
                : talive == 0 ? "false"
                              : "null",
                locked == 1   ? "true"
                : locked == 0 ? "false"
                              : "null",
                started,
                (unsigned long long)(info.tracker_time != 0 ? info.tracker_time
                                                            : info.time));
        names_json(out);
        fputs("]}", out);
    } else {
        fprintf(out, "run %s: tracker %llu %s, started %s; run %s\n", name,
                (unsigned long long)info.tracker_pid,
                talive > 0    ? "alive"
                : talive == 0 ? "not running"
                              : "in another PID namespace",
                started,
                locked == 1   ? "alive (its processes hold its lock)"
                : locked == 0 ? "over (no process holds its lock)"
                              : "in an unknown state");
        names_text(out);
    }
    l->first = 0;
    l->count++;
    rt__ledger_free(&ledger);
    rt__fd_close(jfd);
}

int cli_list(int argc, char **argv)
{
    struct listing l = {-1, 0, 1, 0, stdout};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            l.json = 1;
        } else if (strcmp(argv[i], "--help") == 0) {
            fputs(list_usage, stdout);
            return CLI_OK;
        } else {
            cli_error("list: unknown argument '%s'", argv[i]);
            fputs(list_usage, stderr);
            return CLI_USAGE;
        }
    }
    char path[4096];
    l.dir = cli_state_dir(path, sizeof(path));
    if (l.dir == -1) {
        return CLI_USAGE;
    }
    if (l.json) {
        fputs("{\"state_dir\":", stdout);
        cli_json_string(stdout, (const unsigned char *)path, strlen(path));
        fputs(",\"runs\":[", stdout);
    }
    if (l.dir >= 0 && rt__state_list(l.dir, show, &l) < 0) {
        cli_error("state directory %s cannot be read", path);
        return CLI_USAGE;
    }
    if (l.json) {
        fputs("]}\n", stdout);
    } else if (l.count == 0) {
        printf("no runs in %s\n", path);
    }
    return CLI_OK;
}
