/* SPDX-License-Identifier: MIT */
/* What the subcommands of resourcetracker share. */
#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "diag.h"
#include "statedir.h"

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("resourcetracker: ", stderr);
    /* clang 14's analyzer loses the va_start above (a false
     * valist.Uninitialized, as in src/wrappers.c). */
    vfprintf(stderr, fmt, ap); /* NOLINT */
    fputc('\n', stderr);
    va_end(ap);
}

int cli_state_dir(char *path, size_t len)
{
    if (rt__state_dir_path(path, len) < 0) {
        cli_error("state directory: path too long");
        return -1;
    }
    char why[96] = "";
    struct stat st;
    /* Looking is not creating: a directory that is not there holds no
     * journal, and an empty one is made only by the library. */
    if (lstat(path, &st) < 0 && errno == ENOENT) {
        return -2;
    }
    int fd = rt__state_open_dir(path, why, sizeof(why));
    if (fd < 0) {
        cli_error("state directory %s %s", path, why);
        return -1;
    }
    return fd;
}

void cli_json_string(FILE *out, const unsigned char *name, size_t len)
{
    fputc('"', out);
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = rt__diag_utf8_decode(name + i, len - i, &cp);
        unsigned char c = name[i];
        if (n == 0) {
            fprintf(out, "\\udc%02x", c);
            i++;
            continue;
        }
        if (c == '"' || c == '\\') {
            fprintf(out, "\\%c", c);
        } else if (c < 0x20 || c == 0x7F) {
            fprintf(out, "\\u%04x", c);
        } else {
            fwrite(name + i, 1, n, out);
        }
        i += n;
    }
    fputc('"', out);
}

void cli_repr(FILE *out, const unsigned char *name, size_t len)
{
    size_t cap = 10 * len + 3;
    char *buf = malloc(cap);
    size_t pos = 0;
    if (buf != NULL && rt__diag_repr(buf, cap, &pos, name, len) == 0) {
        fwrite(buf, 1, pos, out);
    }
    free(buf);
}

void cli_time(char *buf, size_t len, unsigned long long t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (t == 0 || gmtime_r(&tt, &tm) == NULL ||
        strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0) {
        snprintf(buf, len, "unknown");
    }
}

int cli_run_locked(int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0) {
        return -1;
    }
    FILE *f = fopen("/proc/locks", "re");
    if (f == NULL) {
        /* Without /proc: try the lock itself, for an instant. */
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            (void)flock(fd, LOCK_UN);
            return 0;
        }
        return errno == EWOULDBLOCK ? 1 : -1;
    }
    char line[256];
    int held = 0;
    while (!held && fgets(line, sizeof(line), f) != NULL) {
        /* "1: FLOCK  ADVISORY  READ  1234 fd:01:5678 0 EOF". The kernel
         * writes these numbers: a line sscanf cannot convert does not
         * match, which is all that matters (hence the NOLINT). */
        unsigned maj;
        unsigned min;
        unsigned long long ino;
        char kind[16];
        if (sscanf(line, "%*[^:]: %15s %*s %*s %*d %x:%x:%llu", /* NOLINT */
                   kind, &maj, &min, &ino) == 4 &&
            strcmp(kind, "FLOCK") == 0 && makedev(maj, min) == st.st_dev &&
            ino == (unsigned long long)st.st_ino) {
            held = 1;
        }
    }
    fclose(f);
    return held;
}
