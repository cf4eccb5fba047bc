#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs into a temporary prefix, builds a program outside the tree with
# nothing but pkg-config (shared, then static), runs both, checks the man
# pages are found, and uninstalls. Usage: tests/install-test.sh (CC and
# BUILD from the environment, as make passes them).
set -eu
CC=${CC:-cc}
BUILD=${BUILD:-build}
# A sanitized library needs its runtime in the programs that link it.
SAN=${SANITIZE:+-fsanitize=$SANITIZE}
MAKE=${MAKE:-make}
tmp=$(mktemp -d /tmp/rt-install-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "install-test: $*" >&2; exit 1; }

prefix=$tmp/prefix
$MAKE -s install PREFIX="$prefix" BUILD="$BUILD" CC="$CC" SANITIZE="${SANITIZE:-}" >/dev/null
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
pkg-config --exists resourcetracker || fail "pkg-config does not find resourcetracker"

name=/rt-install-$$
cat > "$tmp/app.c" <<APP
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include <resourcetracker.h>

int main(void)
{
    int fd = rt_shm_open("$name", O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0 || rt_tracker_pid() <= 0) {
        perror("rt_shm_open");
        return 1;
    }
    close(fd);
    return 0; /* the segment is left for the tracker to remove */
}
APP
cd "$tmp"
# shellcheck disable=SC2046
$CC -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror $SAN app.c -o app-shared \
    $(pkg-config --cflags --libs resourcetracker) -Wl,-rpath,"$prefix/lib"
# shellcheck disable=SC2046
$CC -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror $SAN app.c -o app-static \
    $(pkg-config --cflags resourcetracker) \
    $(pkg-config --static --libs resourcetracker | sed 's/-lresourcetracker/-l:libresourcetracker.a/')
readelf -d app-shared | grep -q 'NEEDED.*libresourcetracker.so.0' \
    || fail "the shared build does not use libresourcetracker.so.0"
if readelf -d app-static | grep -q libresourcetracker; then
    fail "the static build still needs the shared library"
fi

gone() {
    i=0
    while [ -e "/dev/shm/${name#/}" ]; do
        i=$((i + 1))
        [ $i -lt 500 ] || return 1
        sleep 0.01
    done
}
for app in app-shared app-static; do
    ./$app 2>"$tmp/$app.err" || fail "$app failed: $(cat "$tmp/$app.err")"
    gone || { rm -f "/dev/shm/${name#/}"; fail "$app: the tracker did not remove $name"; }
    grep -q "leaked shared_memory" "$tmp/$app.err" || fail "$app: no leak report"
done

if command -v man >/dev/null && [ -d "$OLDPWD/man" ]; then
    MANPATH="$prefix/share/man" man -w rt_register >/dev/null \
        || fail "man rt_register not found after install"
    MANPATH="$prefix/share/man" man -w 1 resourcetracker >/dev/null \
        || fail "man 1 resourcetracker not found after install"
fi

# The command, and the shim it finds where it was installed (not the build
# tree's): a program built without the library, under run --preload.
"$prefix/bin/resourcetracker" --version >/dev/null || fail "no resourcetracker command"
[ -f "$prefix/lib/libresourcetracker-preload.so" ] || fail "no preload shim installed"
leaker=$OLDPWD/$BUILD/tests/leaker
case $BUILD in /*) leaker=$BUILD/tests/leaker ;; esac
if [ -x "$leaker" ]; then
    env -u RESOURCE_TRACKER_PRELOAD "$prefix/bin/resourcetracker" run --wait \
        --preload -- "$leaker" shm "$name" >/dev/null 2>"$tmp/run.err" \
        || fail "run --preload failed: $(cat "$tmp/run.err")"
    [ ! -e "/dev/shm/${name#/}" ] || { rm -f "/dev/shm/${name#/}"; fail "run --preload: $name left"; }
    grep -q "leaked shared_memory" "$tmp/run.err" || fail "run --preload: no leak report"
fi

$MAKE -s -C "$OLDPWD" uninstall PREFIX="$prefix" BUILD="$BUILD" SANITIZE="${SANITIZE:-}" >/dev/null
left=$(find "$prefix" -type f -o -type l)
[ -z "$left" ] || fail "uninstall left: $left"
echo "install-test: ok (shared and static builds through pkg-config)"
