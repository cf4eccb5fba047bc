/* SPDX-License-Identifier: MIT */
/* resourcetracker sweep: clean up now after runs that died whole. */
#include "cli.h"

#include <errno.h>
#include <string.h>

#include "cleanup.h"
#include "rtypes.h"
#include "sweep.h"

static const char sweep_usage[] =
    "usage: resourcetracker sweep [--dry-run] [--json]\n"
    "Cleans up after this user's runs that died whole (their tracker killed\n"
    "with them): removes what such a run registered, unless a process still\n"
    "uses it or that cannot be told; says what it removed and what it left,\n"
    "and why. --dry-run removes nothing. Exit status: 0 nothing was left\n"
    "behind, 1 something was left for a later sweep, 2 usage error or no\n"
    "usable state directory.\n";

struct sweeping {
    int json;
    int dry_run;
    int first_run;
    int first_name;
    int open; /* a run's JSON object is open */
    FILE *out;
};

static const char *outcome_word(int what, int dry_run)
{
    switch (what) {
    case RT_CLEANUP_REMOVED:
        return dry_run ? "would remove" : "removed";
    case RT_CLEANUP_FAILED:
        return "failed";
    case RT_CLEANUP_LEFT:
        return "left";
    default:
        return "dropped";
    }
}

static void open_run(struct sweeping *s, const char *journal)
{
    if (s->json && !s->open) {
        fprintf(s->out, "%s{\"journal\":", s->first_run ? "" : ",");
        cli_json_string(s->out, (const unsigned char *)journal,
                        strlen(journal));
        fputs(",\"names\":[", s->out);
        s->open = 1;
        s->first_name = 1;
        s->first_run = 0;
    }
}

static void on_name(void *ctx, const char *journal, const struct rt_entry *e,
                    int what, int err, const char *why)
{
    struct sweeping *s = ctx;
    const char *rtype = rt__rtypes_get(e->rtype)->name;
    if (s->json) {
        open_run(s, journal);
        fprintf(s->out,
                "%s{\"rtype\":\"%s\",\"name\":", s->first_name ? "" : ",",
                rtype);
        cli_json_string(s->out, e->name, e->len);
        fprintf(s->out, ",\"outcome\":\"%s\"", outcome_word(what, s->dry_run));
        if (err != 0) {
            fprintf(s->out, ",\"errno\":%d,\"error\":", err);
            const char *text = strerror(err);
            cli_json_string(s->out, (const unsigned char *)text, strlen(text));
        }
        if (why != NULL) {
            fputs(",\"why\":", s->out);
            cli_json_string(s->out, (const unsigned char *)why, strlen(why));
        }
        fputc('}', s->out);
        s->first_name = 0;
        return;
    }
    fprintf(s->out, "%s %s ", outcome_word(what, s->dry_run), rtype);
    cli_repr(s->out, e->name, e->len);
    fprintf(s->out, " (run %s)", journal);
    if (err != 0) {
        fprintf(s->out, ": %s", strerror(err));
    } else if (why != NULL) {
        fprintf(s->out, ": %s", why);
    }
    fputc('\n', s->out);
}

static const char *run_word(enum rt_sweep_run what)
{
    switch (what) {
    case RT_SWEEP_ALIVE:
        return "alive";
    case RT_SWEEP_DONE:
        return "swept";
    case RT_SWEEP_PARTLY:
        return "partly swept";
    default:
        return "ignored";
    }
}

static void on_run(void *ctx, const char *journal,
                   const struct rt_runinfo *info, enum rt_sweep_run what,
                   const char *why)
{
    struct sweeping *s = ctx;
    if (s->json) {
        open_run(s, journal);
        fprintf(s->out, "],\"state\":\"%s\"", run_word(what));
        if (info != NULL) {
            char started[40];
            cli_time(started, sizeof(started),
                     info->tracker_time != 0 ? info->tracker_time : info->time);
            fprintf(s->out, ",\"tracker_pid\":%llu,\"started\":\"%s\"",
                    (unsigned long long)info->tracker_pid, started);
        }
        if (why != NULL) {
            fputs(",\"why\":", s->out);
            cli_json_string(s->out, (const unsigned char *)why, strlen(why));
        }
        fputc('}', s->out);
        s->open = 0;
        return;
    }
    if (what == RT_SWEEP_ALIVE) {
        fprintf(s->out, "run %s: alive, not touched\n", journal);
    } else if (what == RT_SWEEP_BAD) {
        fprintf(s->out, "journal %s: %s\n", journal, why != NULL ? why : "bad");
    } else {
        fprintf(s->out, "run %s: %s%s%s\n", journal, run_word(what),
                why != NULL ? ": " : "", why != NULL ? why : "");
    }
}

int cli_sweep(int argc, char **argv)
{
    struct sweeping s = {0, 0, 1, 1, 0, stdout};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            s.json = 1;
        } else if (strcmp(argv[i], "--dry-run") == 0) {
            s.dry_run = 1;
        } else if (strcmp(argv[i], "--help") == 0) {
            fputs(sweep_usage, stdout);
            return CLI_OK;
        } else {
            cli_error("sweep: unknown argument '%s'", argv[i]);
            fputs(sweep_usage, stderr);
            return CLI_USAGE;
        }
    }
    char path[4096];
    int dir = cli_state_dir(path, sizeof(path));
    if (dir == -1) {
        return CLI_USAGE;
    }
    struct rt_sweep_stats st = {0};
    if (s.json) {
        fputs("{\"state_dir\":", stdout);
        cli_json_string(stdout, (const unsigned char *)path, strlen(path));
        fprintf(stdout, ",\"dry_run\":%s,\"runs\":[",
                s.dry_run ? "true" : "false");
    }
    if (dir >= 0) {
        struct rt_sweep_opts o = {s.dry_run, NULL, &s, on_run, on_name};
        fflush(stdout);
        if (rt__sweep_dir(dir, &o, &st) < 0) {
            cli_error("state directory %s cannot be read", path);
            return CLI_USAGE;
        }
    }
    unsigned behind = st.left + st.failed;
    if (s.json) {
        fprintf(stdout,
                "],\"removed\":%u,\"failed\":%u,\"left\":%u,\"dropped\":%u,"
                "\"runs_alive\":%u,\"bad_journals\":%u}\n",
                st.removed, st.failed, st.left, st.dropped, st.alive, st.bad);
    } else {
        printf("%s %u, failed %u, left %u, dropped %u; runs alive %u\n",
               s.dry_run ? "would remove" : "removed", st.removed, st.failed,
               st.left, st.dropped, st.alive);
    }
    return behind > 0 ? CLI_LEFT : CLI_OK;
}
