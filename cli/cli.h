/* SPDX-License-Identifier: MIT */
/* The resourcetracker command: what its subcommands share. */
#ifndef RT_CLI_H
#define RT_CLI_H

#include <stddef.h>
#include <stdio.h>

/* Exit statuses of list and sweep. */
enum {
    CLI_OK = 0,
    CLI_LEFT = 1,  /* sweep: something was left for a later sweep */
    CLI_USAGE = 2, /* a usage error, or no usable state directory */
};

int cli_list(int argc, char **argv);
int cli_sweep(int argc, char **argv);
int cli_run(int argc, char **argv);

/* "resourcetracker: " and the message, on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Opens the state directory as the library would find it. Returns its
 * descriptor, or -1 after saying why (then the caller exits with 2). */
int cli_state_dir(char *path, size_t len);

/* Writes the bytes NAME as a JSON string (quotes included): UTF-8 kept,
 * control characters escaped, undecodable bytes as \udcXX (Python's
 * surrogateescape, as the tracker's repr() shows them). */
void cli_json_string(FILE *out, const unsigned char *name, size_t len);

/* Writes NAME as the tracker's warnings quote it (Python's repr()). */
void cli_repr(FILE *out, const unsigned char *name, size_t len);

/* "YYYY-MM-DD HH:MM:SS UTC" for T seconds since 1970, into BUF (32). */
void cli_time(char *buf, size_t len, unsigned long long t);

/* Whether the journal open as FD is locked by a live run (its processes
 * hold it shared), judged from /proc/locks without taking the lock. 1
 * yes, 0 no, -1 cannot tell. */
int cli_run_locked(int fd);

#endif /* RT_CLI_H */
