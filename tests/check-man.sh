#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Checks the man pages under man/:
#   - every page renders with no warning, through man(1) exactly as a user
#     would see it and through groff with every warning enabled;
#   - every rt_* symbol exported in src/resourcetracker.map has a page
#     man/man3/SYMBOL.3 (a page of its own or a .so link), and the page it
#     resolves to names the symbol in its NAME section;
#   - the command has its page, man/man1/resourcetracker.1, which has a
#     section for each subcommand the command's usage names and documents
#     every option the sources of the command (cli/*.c) accept.
# Exit status 0 when all is well, 1 otherwise. Needs man (man-db) and groff.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
root=$PWD
map=src/resourcetracker.map

missing=()
command -v man >/dev/null 2>&1 || missing+=(man)
command -v groff >/dev/null 2>&1 || missing+=(groff)
if [ ${#missing[@]} -gt 0 ]; then
    echo "check-man.sh: cannot check the man pages, not installed: ${missing[*]}" \
        "(Debian/Ubuntu: apt-get install man-db groff)" >&2
    exit 1
fi
if [ ! -d man ]; then
    echo "check-man.sh: no man/ directory in $root" >&2
    exit 1
fi

status=0
fail() {
    echo "check-man.sh: $*" >&2
    status=1
}

# Every page, by its path relative to man/: that is where a ".so man3/x.3"
# line is resolved from, so the pages are rendered from inside man/.
mapfile -t pages < <(cd man && find . -type f -name '*.[1-9]*' | sed 's|^\./||' | LC_ALL=C sort)
if [ ${#pages[@]} -eq 0 ]; then
    fail "no pages under man/"
fi

errs=$(mktemp)
trap 'rm -f "$errs"' EXIT

for page in "${pages[@]}"; do
    # As a user reads it: man-db with its default warnings.
    (cd man && LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 MANPAGER=cat \
        PAGER=cat MAN_DISABLE_SECCOMP=1 man --warnings -l "$page") \
        >/dev/null 2>"$errs"
    if [ -s "$errs" ]; then
        fail "man/$page: man --warnings -l printed:"
        sed 's/^/    /' "$errs" >&2
    fi
    # Every groff warning enabled.
    (cd man && LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$page") 2>"$errs"
    if [ -s "$errs" ]; then
        fail "man/$page: groff -man -Tutf8 -ww -z printed:"
        sed 's/^/    /' "$errs" >&2
    fi
done

# The page a page file stands for: itself, or the target of its .so line.
resolve() {
    local page=$1
    local first
    first=$(head -n 1 "man/$page")
    case $first in
    .so\ *) echo "${first#.so }" ;;
    *) echo "$page" ;;
    esac
}

# Every exported rt_* symbol of the version script.
mapfile -t symbols < <(sed -n 's/^[[:space:]]*\(rt_[A-Za-z0-9_]*\)[[:space:]]*;.*$/\1/p' "$map")
if [ ${#symbols[@]} -eq 0 ]; then
    fail "no rt_* symbol found in $map"
fi
for sym in "${symbols[@]}"; do
    page=man3/$sym.3
    if [ ! -f "man/$page" ]; then
        fail "$sym is exported in $map but man/$page does not exist"
        continue
    fi
    target=$(resolve "$page")
    if [ ! -f "man/$target" ]; then
        fail "man/$page: .so target man/$target does not exist"
        continue
    fi
    # The NAME section: the lines after ".SH NAME" up to the next ".SH".
    if ! sed -n '/^\.SH NAME/,/^\.SH /p' "man/$target" |
        grep -Eq "(^|[^A-Za-z0-9_])$sym([^A-Za-z0-9_]|\$)"; then
        fail "man/$target (page of $sym) does not name $sym in its NAME section"
    fi
done

# The command's page: its subcommands ("resourcetracker NAME" in the usage
# of cli/resourcetracker.c) each under ".SS NAME", and every option compared
# with in cli/*.c ("--wait") written as groff writes it ("\-\-wait").
cmdpage=man/man1/resourcetracker.1
mapfile -t subcommands < <(sed -n 's/^ *"\(usage: \| *\)resourcetracker \([a-z][a-z]*\) .*/\2/p' \
    cli/resourcetracker.c | LC_ALL=C sort -u)
mapfile -t options < <(grep -ho 'strcmp([^,]*, "--[a-z][a-z-]*")' cli/*.c |
    sed 's/.*"\(--[a-z-]*\)")/\1/' | LC_ALL=C sort -u)
if [ ! -f "$cmdpage" ]; then
    fail "$cmdpage does not exist"
elif [ ${#subcommands[@]} -eq 0 ] || [ ${#options[@]} -eq 0 ]; then
    fail "no subcommand or option found in cli/*.c"
else
    for sub in "${subcommands[@]}"; do
        grep -q "^\.SS $sub\$" "$cmdpage" || fail "$cmdpage has no section for '$sub'"
    done
    for opt in "${options[@]}"; do
        grep -qF -- "${opt//-/\\-}" "$cmdpage" || fail "$cmdpage does not document $opt"
    done
fi

if [ $status -eq 0 ]; then
    echo "check-man.sh: ${#pages[@]} pages render clean; all ${#symbols[@]} exported symbols have a page;" \
        "resourcetracker(1) covers ${#subcommands[@]} subcommands and ${#options[@]} options"
fi
exit $status
