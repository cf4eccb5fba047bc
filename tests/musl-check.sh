#!/bin/sh
# SPDX-License-Identifier: MIT
# The library and the whole test suite built with musl (Debian's musl-tools)
# and run. cmocka has no musl package, so its source (Debian's) is built
# with musl-gcc first. As root on Debian, what is missing is installed.
# Usage: tests/musl-check.sh [BUILD-DIR]   (default build-musl)
set -eu
BUILD=${1:-build-musl}
fail() { echo "musl-check: $*" >&2; exit 1; }
root() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; }

if ! command -v musl-gcc >/dev/null; then
    root || fail "musl-gcc is missing: install musl-tools"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq musl-tools >/dev/null
fi

cm=$BUILD/cmocka
if [ ! -f "$cm/libcmocka.a" ]; then
    mkdir -p "$cm"
    src=$(ls -d "$cm"/cmocka-*/ 2>/dev/null | head -n 1 || true)
    if [ -z "$src" ]; then
        root || fail "cmocka's source is needed: run 'apt-get source cmocka' in $cm"
        if ! grep -rqs '^Types: deb-src' /etc/apt/sources.list.d/ &&
           ! grep -qs '^deb-src' /etc/apt/sources.list; then
            # Debian's own archive, for source packages too.
            printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
                > /etc/apt/sources.list.d/rt-debian-src.sources
            apt-get update -qq >/dev/null
        fi
        (cd "$cm" && apt-get source -qq --download-only cmocka >/dev/null 2>&1) ||
            fail "apt-get source cmocka failed"
        (cd "$cm" && tar xf cmocka_*.orig.tar.xz)
        src=$(ls -d "$cm"/cmocka-*/ | head -n 1)
    fi
    musl-gcc -std=gnu99 -O2 -w -DHAVE_SIGNAL_H -DHAVE_STRSIGNAL -I"$src/include" -c "$src/src/cmocka.c" -o "$cm/cmocka.o"
    ar rcs "$cm/libcmocka.a" "$cm/cmocka.o"
    cp "$src/include/cmocka.h" "$cm/"
fi

make check CC=musl-gcc BUILD="$BUILD" CFLAGS=-DRT_MUSL \
    CMOCKA_CFLAGS="-I$(pwd)/$cm" CMOCKA_LIBS="$(pwd)/$cm/libcmocka.a"
