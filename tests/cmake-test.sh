#!/bin/sh
# SPDX-License-Identifier: MIT
# The CMake package: installs into a DESTDIR staging tree whose prefix does
# not exist (so only a relocatable package can work), checks the version
# rule, builds tests/cmake-consumer against the shared and the static
# library, runs both and checks what each links; then the same from a real
# install found through a link to its lib directory (as /lib -> /usr/lib),
# with static chosen by RESOURCETRACKER_USE_STATIC_LIBS and a version range;
# then that a missing archive fails the search; and uninstalls both.
# Usage: tests/cmake-test.sh (CC, BUILD, SANITIZE and MAKE from the
# environment, as make passes them).
set -eu
CC=${CC:-cc}
BUILD=${BUILD:-build}
# A sanitized library needs its runtime in the programs that link it.
SAN=${SANITIZE:+-fsanitize=$SANITIZE}
MAKE=${MAKE:-make}
fail() { echo "cmake-test: $*" >&2; exit 1; }
command -v cmake >/dev/null || fail "cmake is not installed"
src=$(pwd)
[ -f "$src/tests/cmake-consumer/CMakeLists.txt" ] || fail "run it from the top of the tree"
tmp=$(mktemp -d /tmp/rt-cmake-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# Runs a command with its output kept in a log, shown if it fails.
logged() {
    log=$tmp/$1.log
    shift
    "$@" >"$log" 2>&1 || { cat "$log" >&2; fail "failed: $*"; }
}
install_to() { # DESTDIR PREFIX
    logged install "$MAKE" -s install DESTDIR="$1" PREFIX="$2" BUILD="$BUILD" \
        CC="$CC" SANITIZE="${SANITIZE:-}"
}
uninstall_from() { # DESTDIR PREFIX
    logged uninstall "$MAKE" -s uninstall DESTDIR="$1" PREFIX="$2" BUILD="$BUILD" \
        SANITIZE="${SANITIZE:-}"
    left=$(find "$1$2" -type f -o -type l)
    [ -z "$left" ] || fail "uninstall left: $left"
    [ ! -e "$1$2/lib/cmake/resourcetracker" ] || fail "uninstall left the cmake directory"
}
configure() { # BUILDDIR PREFIX_PATH ARGS...
    dir=$1 path=$2
    shift 2
    env CC="$CC" cmake -S "$src/tests/cmake-consumer" -B "$dir" -G "Unix Makefiles" \
        -DCMAKE_PREFIX_PATH="$path" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
        -DCMAKE_C_FLAGS="$SAN" -DCMAKE_EXE_LINKER_FLAGS="$SAN" "$@"
}
# The program named links the shared library, or not.
links_shared() { readelf -d "$1" | grep -q 'NEEDED.*\[libresourcetracker\.so\.0\]'; }
# A build took the package and the header from where it should have.
came_from() { # BUILDDIR CMAKEDIR INCLUDEDIR
    grep -qx "resourcetracker_DIR:PATH=$2" "$1/CMakeCache.txt" \
        || fail "$1: the package was not taken from $2"
    grep -q -- "-isystem $3 " "$1/compile_commands.json" \
        || fail "$1: the header directory $3 is not used"
}
# The archive brings librt along.
links_rt() { grep -q -- '-lrt' "$1/CMakeFiles/$2.dir/link.txt" || fail "$1/$2: no -lrt"; }
run() { # PROGRAM [ENV...]
    prog=$1
    shift
    env "$@" "$prog" "/rt-cmake-$$-$(basename "$prog")" || fail "$prog failed"
}

version=$(sed -n 's/^VERSION *:= *//p' Makefile)
major=${version%%.*}
minor=${version#*.}
minor=${minor%%.*}

# 1. DESTDIR staging tree, under a prefix that must not exist.
prefix=/rt-cmake-test-nonexistent-$$/usr
[ ! -e "${prefix%/usr}" ] || fail "$prefix exists"
stage=$tmp/stage
tree=$stage$prefix
install_to "$stage" "$prefix"
cmakedir=$tree/lib/cmake/resourcetracker
[ -f "$cmakedir/resourcetracker-config.cmake" ] || fail "make install did not install the CMake package"

# 2. The version rule (SameMajorVersion) and the pointer size check.
cat > "$tmp/version.cmake" <<'EOF'
string(REGEX MATCH "^[0-9]+" PACKAGE_FIND_VERSION_MAJOR "${WANT}")
set(PACKAGE_FIND_VERSION "${WANT}")
if(DEFINED PTR)
    set(CMAKE_SIZEOF_VOID_P ${PTR})
endif()
include("${FILE}")
message("compatible=${PACKAGE_VERSION_COMPATIBLE} exact=${PACKAGE_VERSION_EXACT} unsuitable=${PACKAGE_VERSION_UNSUITABLE}")
EOF
check_version() { # WANT EXPECTED [PTR]
    got=$(cmake -DFILE="$cmakedir/resourcetracker-config-version.cmake" -DWANT="$1" \
        ${3:+-DPTR=$3} -P "$tmp/version.cmake" 2>&1)
    [ "$got" = "$2" ] || fail "version $version asked as $1${3:+ (pointer size $3)}: $got, not $2"
}
check_version "$version" "compatible=TRUE exact=TRUE unsuitable="
check_version "$major" "compatible=TRUE exact= unsuitable="
check_version "$major.$((minor + 1))" "compatible=FALSE exact= unsuitable="
check_version "$((major + 1))" "compatible=FALSE exact= unsuitable="
check_version "$version" "compatible=TRUE exact=TRUE unsuitable=TRUE" 2

# 3. The consumer from the staging tree: resourcetracker::resourcetracker is
# the shared library, resourcetracker::resourcetracker_static the archive.
b=$tmp/staged
logged configure-staged configure "$b" "$tree" -DRT_WANT="$major.$minor"
came_from "$b" "$cmakedir" "$tree/include"
logged build-staged cmake --build "$b"
links_shared "$b/consumer" || fail "consumer does not link libresourcetracker.so.0"
! links_shared "$b/consumer-static" || fail "consumer-static links the shared library"
links_rt "$b" consumer-static
# ldd is glibc's; a program built with musl-gcc is listed by its own loader.
interp=$(readelf -l "$b/consumer" | sed -n 's/.*interpreter: \(.*\)]/\1/p')
case "$interp" in
*ld-musl*) lister="$interp --list" ;;
*) lister=ldd ;;
esac
LD_LIBRARY_PATH=$tree/lib $lister "$b/consumer" \
    | grep -q "libresourcetracker\.so\.0 => $tree/lib/libresourcetracker\.so\.0 " \
    || fail "consumer does not load the staged libresourcetracker.so.0"
run "$b/consumer" LD_LIBRARY_PATH="$tree/lib"
run "$b/consumer-static"

# 4. A real install, found through a link to its lib directory: the
# installed paths hold, not the ones relative to the link. Static is made the
# default by RESOURCETRACKER_USE_STATIC_LIBS; the request is a version range.
real=$tmp/real
install_to "" "$real"
mkdir "$tmp/merged"
ln -s "$real/lib" "$tmp/merged/lib"
b=$tmp/linked
logged configure-linked configure "$b" "$tmp/merged" -DRESOURCETRACKER_USE_STATIC_LIBS=ON \
    -DRT_WANT="$major.$minor...<$((major + 1))"
came_from "$b" "$tmp/merged/lib/cmake/resourcetracker" "$real/include"
logged build-linked cmake --build "$b"
! links_shared "$b/consumer" || fail "consumer links the shared library with RESOURCETRACKER_USE_STATIC_LIBS"
links_rt "$b" consumer
run "$b/consumer"

# 5. Without the archive, asking for the static component fails, and says why.
rm "$real/lib/libresourcetracker.a"
if configure "$tmp/nostatic" "$real" -DRT_WANT="$major.$minor" >"$tmp/nostatic.log" 2>&1; then
    fail "find_package succeeded without libresourcetracker.a"
fi
grep -q "static library is not installed" "$tmp/nostatic.log" \
    || { cat "$tmp/nostatic.log" >&2; fail "no reason given for the missing archive"; }

uninstall_from "$stage" "$prefix"
uninstall_from "" "$real"
echo "cmake-test: ok (shared and static targets, staged and linked installs, versions)"
