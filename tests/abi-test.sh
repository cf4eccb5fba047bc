#!/bin/sh
# SPDX-License-Identifier: MIT
# The shared library exports exactly the API (the names in the version
# script, each declared in the public header), under a versioned soname;
# the header compiles as C11 and as C++ with every warning as an error.
set -eu
BUILD=${BUILD:-build}
CC=${CC:-cc}
fail() { echo "abi-test: $*" >&2; exit 1; }
tmp=$(mktemp -d /tmp/rt-abi-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

so=$BUILD/libresourcetracker.so.0
readelf -d "$so" | grep -q 'SONAME.*\[libresourcetracker.so.0\]' || fail "no soname libresourcetracker.so.0"
nm -D --defined-only "$so" | awk '$2 ~ /[TDBRW]/ {print $3}' | sed 's/@.*//' | sort -u > "$tmp/exported"
sed -n 's/^ *\(rt_[a-z_]*\);$/\1/p' src/resourcetracker.map | sort -u > "$tmp/api"
if ! cmp -s "$tmp/exported" "$tmp/api"; then
    echo "exported symbols differ from the API (< exported, > src/resourcetracker.map):" >&2
    diff "$tmp/exported" "$tmp/api" >&2 || true
    exit 1
fi
while read -r sym; do
    grep -q "RT_EXPORT[^;]*\\b$sym(" include/resourcetracker.h || fail "$sym is not declared in the header"
done < "$tmp/api"

flags="-Wall -Wextra -Wpedantic -Werror"
printf '#include <resourcetracker.h>\nint main(void) { return rt_ensure_running(); }\n' > "$tmp/c11.c"
$CC -std=c11 $flags -Iinclude -fsyntax-only "$tmp/c11.c" || fail "the header is not clean C11"
$CC -std=c11 -D_POSIX_C_SOURCE=200809L $flags -Iinclude -fsyntax-only "$tmp/c11.c" || fail "the header is not clean C11 with POSIX 2008"
cxxs=0
for cxx in g++ clang++; do
    command -v $cxx >/dev/null || continue
    cxxs=$((cxxs + 1))
    $cxx -std=c++11 $flags -Iinclude -c tests/header-test.cpp -o "$tmp/h.o" || fail "the header does not compile as C++ with $cxx"
    $cxx "$tmp/h.o" "$so" -o "$tmp/h" -pthread || fail "a C++ program does not link with $cxx"
done
[ "$cxxs" -gt 0 ] || fail "no C++ compiler (g++ or clang++) to compile the header as C++"
echo "abi-test: ok ($(wc -l < "$tmp/api") symbols, soname libresourcetracker.so.0, C11 and C++)"
