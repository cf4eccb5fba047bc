# libresourcetracker: one non-recursive GNU Makefile.
#
#   make                 library (static and shared), the resourcetracker
#                        command, the preload shim and the examples
#   make check           build and run the test suite (REPEAT=n runs it n times)
#   make demo            the leak demo: watch /dev/shm being cleaned up
#   make CC=clang check  the same with clang
#   make check SANITIZE=address,undefined
#
# Project flags come first and the user's CFLAGS last, so that
# "make CFLAGS=-O0" keeps every warning.

VERSION    := 0.1.0
SOVERSION  := 0
PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR     ?= $(PREFIX)/share/man
DESTDIR    ?=
BUILD      ?= build
SANITIZE   ?=
REPEAT     ?= 1

# "make V=1" shows every command.
ifeq ($(V),1)
  Q :=
  say = @true
else
  Q := @
  say = @printf '  %-7s %s\n' $(1) $(2)
endif

WARNINGS := -Wall -Wextra -Wpedantic -Werror -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wformat=2 -Wundef -Wvla -Wwrite-strings
BASEFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L -g -fstack-protector-strong \
             -Iinclude -Isrc -MMD -MP

ifeq ($(SANITIZE),)
  OPTFLAGS := -O2 -D_FORTIFY_SOURCE=2
  IMAGE_STRIP := -s
else
  # glibc warns about _FORTIFY_SOURCE without optimisation, and sanitizers
  # want frame pointers; the tracker image is built sanitized too.
  OPTFLAGS := -O1 -fno-omit-frame-pointer -fsanitize=$(SANITIZE) \
              -fno-sanitize-recover=all
  SANLDFLAGS := -fsanitize=$(SANITIZE)
  IMAGE_STRIP :=
endif

CFLAGS_ALL  = $(BASEFLAGS) $(WARNINGS) $(OPTFLAGS) $(CFLAGS)
LDFLAGS_ALL = -Wl,-z,relro,-z,now $(SANLDFLAGS) $(LDFLAGS)
LIBS        := -pthread -Wl,--as-needed -lrt -Wl,--no-as-needed

# A change of compiler or flags rebuilds everything: whatever is compiled
# or linked depends on this file, which records them and is rewritten only
# when they change.
FLAGS_FILE := $(BUILD)/flags
FLAGS_NOW  := $(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL)
$(shell mkdir -p $(BUILD) && [ "$$(cat $(FLAGS_FILE) 2>/dev/null)" = '$(FLAGS_NOW)' ] || printf '%s\n' '$(FLAGS_NOW)' > $(FLAGS_FILE))

# Modules of the tracker process (also linked into the library, for the fork
# path), and modules of the client side only.
TRACKER_SRCS := tracker wire registry slab rtypes rawipc rmtree pathres alive \
                fdio diag ledger journal recorder statedir ctl cleanup \
                objects guardian sweep idset procscan printable
CLIENT_SRCS  := client inherit launch wrappers

OBJ  := $(BUILD)/obj
PIC  := $(BUILD)/pic
IMG  := $(BUILD)/img
GEN  := $(BUILD)/gen
TOOL := $(BUILD)/tools

LIB_A      := $(BUILD)/libresourcetracker.a
LIB_SO     := $(BUILD)/libresourcetracker.so
LIB_SONAME := libresourcetracker.so.$(SOVERSION)
LIB_REAL   := $(BUILD)/libresourcetracker.so.$(VERSION)
IMAGE      := $(BUILD)/resource_tracker

LIB_NAMES := $(CLIENT_SRCS) $(TRACKER_SRCS) errtab tracker-image
LIB_OBJS  := $(addprefix $(OBJ)/,$(addsuffix .o,$(LIB_NAMES)))
LIB_PICS  := $(addprefix $(PIC)/,$(addsuffix .o,$(LIB_NAMES)))
IMG_OBJS  := $(addprefix $(IMG)/,$(addsuffix .o,tracker-main $(TRACKER_SRCS) errtab))

TEST_NAMES := test-wire test-registry test-fdio test-args test-cleanup test-signals \
              test-fork test-hygiene test-inherit test-garbage \
              test-concurrency test-types test-wrappers test-wrappers2 \
              test-spawn test-cpython test-pressure test-procscan test-paths \
              test-review test-review2 test-run test-journal test-death \
              test-sweep test-hostile

TEST_BINS  := $(addprefix $(BUILD)/tests/,$(TEST_NAMES))
TEST_HELPERS := $(BUILD)/tests/child $(BUILD)/tests/leaker
EXAMPLES   := $(addprefix $(BUILD)/examples/,leak-demo prefork-demo \
              spawn-demo spawn-worker py-worker preload-demo preload-leaker)

.DELETE_ON_ERROR:
# Keep object files of tests and examples between runs.
.SECONDARY:
.PHONY: all lib cli preload tests examples check demo prefork-demo spawn-demo \
        python-demo preload-demo \
        bench clean cmocka install uninstall asan tsan valgrind stress \
        random-kill fuzz lint format format-check check-musl check-tools

all: lib cli preload examples

lib: $(LIB_A) $(LIB_SO)

# ---- generated sources -----------------------------------------------------

$(TOOL)/%: tools/%.c
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)$(CC) -std=c11 -D_POSIX_C_SOURCE=200809L -O2 -Wall -Wextra -Werror -o $@ $<

$(GEN)/errtab.c: $(TOOL)/gen-errtab
	@mkdir -p $(@D)
	$(call say,GEN,$@)
	$(Q)$< > $@.tmp && mv $@.tmp $@

$(GEN)/tracker-image.c: $(IMAGE) $(TOOL)/bin2c
	@mkdir -p $(@D)
	$(call say,GEN,$@)
	$(Q)$(TOOL)/bin2c $< > $@.tmp && mv $@.tmp $@

# ---- the tracker image (an executable, embedded in the library) -------------

$(IMG)/%.o: src/%.c $(FLAGS_FILE)
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)$(CC) $(CFLAGS_ALL) -c -o $@ $<

$(IMG)/errtab.o: $(GEN)/errtab.c $(FLAGS_FILE)
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)$(CC) $(CFLAGS_ALL) -c -o $@ $<

$(IMAGE): $(IMG_OBJS) $(FLAGS_FILE)
	$(call say,CC,$@)
	$(Q)$(CC) $(LDFLAGS_ALL) $(IMAGE_STRIP) -o $@ $(IMG_OBJS) $(LIBS)

# ---- the library -------------------------------------------------------------

LIBFLAGS := -DRT_BUILDING_LIBRARY -fvisibility=hidden

$(OBJ)/%.o: src/%.c $(FLAGS_FILE)
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)$(CC) $(CFLAGS_ALL) $(LIBFLAGS) -c -o $@ $<

$(OBJ)/%.o: $(GEN)/%.c $(FLAGS_FILE)
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)$(CC) $(CFLAGS_ALL) $(LIBFLAGS) -c -o $@ $<

$(PIC)/%.o: src/%.c $(FLAGS_FILE)
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)$(CC) $(CFLAGS_ALL) $(LIBFLAGS) -fPIC -c -o $@ $<

$(PIC)/%.o: $(GEN)/%.c $(FLAGS_FILE)
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)$(CC) $(CFLAGS_ALL) $(LIBFLAGS) -fPIC -c -o $@ $<

$(LIB_A): $(LIB_OBJS)
	$(call say,AR,$@)
	$(Q)rm -f $@.tmp && $(AR) rcs $@.tmp $^ && mv $@.tmp $@

$(LIB_REAL): $(LIB_PICS) src/resourcetracker.map $(FLAGS_FILE)
	$(call say,CC,$@)
	$(Q)$(CC) -shared $(LDFLAGS_ALL) -Wl,-soname,$(LIB_SONAME) \
	    -Wl,--version-script=src/resourcetracker.map -o $@ $(LIB_PICS) $(LIBS)

$(LIB_SO): $(LIB_REAL)
	$(Q)ln -sf $(notdir $(LIB_REAL)) $(BUILD)/$(LIB_SONAME)
	$(Q)ln -sf $(LIB_SONAME) $@

# ---- the command ---------------------------------------------------------------

CLI      := $(BUILD)/resourcetracker
CLI_OBJS := $(addprefix $(BUILD)/cli/,$(addsuffix .o,resourcetracker common \
            cmd-list cmd-sweep cmd-run))
BINDIR   ?= $(PREFIX)/bin
PRELOAD_SO := libresourcetracker-preload.so

$(BUILD)/cli/%.o: cli/%.c $(FLAGS_FILE)
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)$(CC) $(CFLAGS_ALL) -Icli \
	    -DRT_PRELOAD_PATH='"$(LIBDIR)/$(PRELOAD_SO)"' -c -o $@ $<

# The command looks for the shim where it is installed: a change of LIBDIR
# (make install PREFIX=...) rebuilds it, as a change of flags would.
CLI_PATHS := $(BUILD)/cli/paths
$(shell mkdir -p $(BUILD)/cli && [ "$$(cat $(CLI_PATHS) 2>/dev/null)" = '$(LIBDIR)/$(PRELOAD_SO)' ] || printf '%s\n' '$(LIBDIR)/$(PRELOAD_SO)' > $(CLI_PATHS))
$(BUILD)/cli/cmd-run.o: $(CLI_PATHS)

$(CLI): $(CLI_OBJS) $(LIB_A)
	$(call say,CC,$@)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $(CLI_OBJS) $(LIB_A) $(LIBS)

cli: $(CLI)

# ---- the preload shim ----------------------------------------------------------

# libresourcetracker-preload.so: the library's own objects and
# preload/preload.c, exporting only the six calls it interposes (the
# version script). With SANITIZE, the shim alone is built without the
# sanitizers, from objects of its own: it is preloaded into programs built
# without them, and ASan's runtime must be the first library of a process
# (a sanitized shim would have to come before it, and cannot).
PRELOAD := $(BUILD)/$(PRELOAD_SO)
ifeq ($(SANITIZE),)
  PRELOAD_PIC     := $(PIC)
  PRELOAD_CFLAGS   = $(CFLAGS_ALL)
  PRELOAD_LDFLAGS  = $(LDFLAGS_ALL)
else
  PRELOAD_PIC     := $(BUILD)/preload-pic
  PRELOAD_CFLAGS   = $(BASEFLAGS) $(WARNINGS) -O2 -D_FORTIFY_SOURCE=2 $(CFLAGS)
  PRELOAD_LDFLAGS  = -Wl,-z,relro,-z,now $(LDFLAGS)

$(PRELOAD_PIC)/%.o: src/%.c $(FLAGS_FILE)
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)$(CC) $(PRELOAD_CFLAGS) $(LIBFLAGS) -fPIC -c -o $@ $<

$(PRELOAD_PIC)/%.o: $(GEN)/%.c $(FLAGS_FILE)
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)$(CC) $(PRELOAD_CFLAGS) $(LIBFLAGS) -fPIC -c -o $@ $<
endif
# The library's objects first: its constructor (the fork handler) runs
# before the shim's.
PRELOAD_OBJS := $(addprefix $(PRELOAD_PIC)/,$(addsuffix .o,$(LIB_NAMES))) \
                $(BUILD)/preload/preload.o

$(BUILD)/preload/preload.o: preload/preload.c $(FLAGS_FILE)
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)$(CC) $(PRELOAD_CFLAGS) $(LIBFLAGS) -fPIC -c -o $@ $<

$(PRELOAD): $(PRELOAD_OBJS) preload/preload.map $(FLAGS_FILE)
	$(call say,CC,$@)
	$(Q)$(CC) -shared $(PRELOAD_LDFLAGS) -Wl,-soname,$(PRELOAD_SO) \
	    -Wl,--version-script=preload/preload.map -o $@ $(PRELOAD_OBJS) \
	    $(LIBS) -Wl,--as-needed -ldl -Wl,--no-as-needed

preload: $(PRELOAD)

# ---- install -----------------------------------------------------------------

MAN1 := $(wildcard man/man1/*.1)
MAN3 := $(wildcard man/man3/*.3)
MAN7 := $(wildcard man/man7/*.7)

# The CMake package (find_package(resourcetracker)), written at install time
# with the install's paths; the version file also carries the size of a
# pointer for $(CC), so that a 32-bit consumer does not take a 64-bit library
# (CMAKE_SUBST takes it from the shell variable the install recipe sets).
CMAKEDIR := $(LIBDIR)/cmake/resourcetracker
CMAKE_FILES := resourcetracker-config.cmake resourcetracker-config-version.cmake
CMAKE_SUBST = -e 's|@VERSION@|$(VERSION)|' \
              -e 's|@VERSION_MAJOR@|$(firstword $(subst ., ,$(VERSION)))|' \
              -e 's|@SOVERSION@|$(SOVERSION)|' \
              -e 's|@LIB_REAL@|$(notdir $(LIB_REAL))|' -e 's|@LIB_SONAME@|$(LIB_SONAME)|' \
              -e 's|@CMAKEDIR@|$(CMAKEDIR)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
              -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e "s|@SIZEOF_VOID_P@|$$sizeof_void_p|"

install: lib cli preload
	install -D -m 644 include/resourcetracker.h $(DESTDIR)$(INCLUDEDIR)/resourcetracker.h
	install -D -m 755 $(CLI) $(DESTDIR)$(BINDIR)/resourcetracker
	install -D -m 755 $(PRELOAD) $(DESTDIR)$(LIBDIR)/$(PRELOAD_SO)
	install -D -m 644 $(LIB_A) $(DESTDIR)$(LIBDIR)/libresourcetracker.a
	install -D -m 755 $(LIB_REAL) $(DESTDIR)$(LIBDIR)/$(notdir $(LIB_REAL))
	ln -sf $(notdir $(LIB_REAL)) $(DESTDIR)$(LIBDIR)/$(LIB_SONAME)
	ln -sf $(LIB_SONAME) $(DESTDIR)$(LIBDIR)/libresourcetracker.so
	mkdir -p $(DESTDIR)$(LIBDIR)/pkgconfig
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	    src/resourcetracker.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/resourcetracker.pc
	mkdir -p $(DESTDIR)$(CMAKEDIR)
	sizeof_void_p=$$($(CC) $(CFLAGS) -dM -E -x c /dev/null | sed -n 's/^#define __SIZEOF_POINTER__ //p'); \
	for f in $(CMAKE_FILES); do \
	  sed $(CMAKE_SUBST) cmake/$$f.in > $(DESTDIR)$(CMAKEDIR)/$$f && \
	    chmod 644 $(DESTDIR)$(CMAKEDIR)/$$f || exit 1; \
	done
	$(foreach m,$(MAN1),install -D -m 644 $(m) $(DESTDIR)$(MANDIR)/man1/$(notdir $(m)) &&) true
	$(foreach m,$(MAN3),install -D -m 644 $(m) $(DESTDIR)$(MANDIR)/man3/$(notdir $(m)) &&) true
	$(foreach m,$(MAN7),install -D -m 644 $(m) $(DESTDIR)$(MANDIR)/man7/$(notdir $(m)) &&) true

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/resourcetracker.h
	rm -f $(DESTDIR)$(BINDIR)/resourcetracker $(DESTDIR)$(LIBDIR)/$(PRELOAD_SO)
	rm -f $(DESTDIR)$(LIBDIR)/libresourcetracker.a $(DESTDIR)$(LIBDIR)/$(notdir $(LIB_REAL))
	rm -f $(DESTDIR)$(LIBDIR)/$(LIB_SONAME) $(DESTDIR)$(LIBDIR)/libresourcetracker.so
	rm -f $(DESTDIR)$(LIBDIR)/pkgconfig/resourcetracker.pc
	rm -f $(addprefix $(DESTDIR)$(CMAKEDIR)/,$(CMAKE_FILES))
	rmdir $(DESTDIR)$(CMAKEDIR) 2>/dev/null || true
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(MAN1)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man3/,$(notdir $(MAN3)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man7/,$(notdir $(MAN7)))

# ---- tests -------------------------------------------------------------------

CMOCKA_CFLAGS ?= $(shell pkg-config --cflags cmocka 2>/dev/null)
CMOCKA_LIBS   ?= $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

# The suite needs cmocka. As root on Debian it installs it; elsewhere it says
# exactly what is missing.
cmocka:
	@if ! printf '#include <stdarg.h>\n#include <stddef.h>\n#include <stdint.h>\n#include <setjmp.h>\n#include <cmocka.h>\n' \
	    | $(CC) $(CMOCKA_CFLAGS) -E -x c - >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "cmocka is missing: installing libcmocka-dev"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y libcmocka-dev >/dev/null \
	      || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y libcmocka-dev >/dev/null; }; \
	  else \
	    echo "The test suite needs cmocka: install libcmocka-dev (Debian/Ubuntu), libcmocka-devel (Fedora) or cmocka (Alpine, Homebrew)." >&2; \
	    exit 1; \
	  fi; \
	fi

$(BUILD)/tests/%.o: tests/%.c $(FLAGS_FILE) | cmocka
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)$(CC) $(CFLAGS_ALL) $(CMOCKA_CFLAGS) -Itests -c -o $@ $<

TEST_COMMON := $(BUILD)/tests/util.o $(BUILD)/tests/proc.o
$(BUILD)/tests/test-%: $(BUILD)/tests/test-%.o $(TEST_COMMON) $(LIB_A)
	$(call say,CC,$@)
	$(Q)$(CC) $(LDFLAGS_ALL) $(TEST_WRAP) -o $@ $< $(TEST_COMMON) $(LIB_A) $(CMOCKA_LIBS) $(LIBS)

# test-wrappers2 watches the library from inside: the identity hook and
# getrandom(2) are sent to the test's own functions at link time.
$(BUILD)/tests/test-wrappers2: TEST_WRAP := -Wl,--wrap=rt__client_identify \
    -Wl,--wrap=getrandom

# test-review2 runs the command's sweep; the tests of a tracker's death and
# of the sweep run the command too, and load the shared library into
# python3.
$(BUILD)/tests/test-review2: | $(CLI)
$(BUILD)/tests/test-death: $(CLI) $(LIB_SO)
$(BUILD)/tests/test-sweep $(BUILD)/tests/test-hostile: $(CLI)

$(BUILD)/tests/child: $(BUILD)/tests/child.o $(LIB_A)
	$(call say,CC,$@)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $< $(LIB_A) $(LIBS)

# A program built without the library, for the tests of run --preload: no
# -lresourcetracker, no header of ours, and no sanitizer (it stands for any
# program, and ASan's runtime would refuse to follow the shim).
$(BUILD)/tests/leaker: tests/leaker.c $(FLAGS_FILE)
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)$(CC) $(PRELOAD_CFLAGS) $(PRELOAD_LDFLAGS) -o $@ $< -pthread \
	    -Wl,--as-needed -lrt -Wl,--no-as-needed

tests: $(TEST_BINS) $(TEST_HELPERS) $(CLI) $(PRELOAD)

# Each binary runs in order, pure units first; REPEAT=n runs the whole suite
# n times and stops at the first failure. Then the checks of what is
# shipped: exported symbols and the header (C11, C++), install through
# pkg-config and through CMake's find_package (shared and static).
SCRIPT_TESTS := tests/abi-test.sh tests/install-test.sh tests/cmake-test.sh \
                tests/check-man.sh

# Those checks use a few common tools besides cmocka. As root on Debian the
# missing ones are installed; elsewhere they are named (Debian's names).
CHECK_TOOLS := pkg-config:pkg-config nm:binutils readelf:binutils \
               man:man-db groff:groff cmake:cmake
check-tools:
	@missing=""; \
	for tp in $(CHECK_TOOLS); do \
	  command -v $${tp%%:*} >/dev/null 2>&1 || missing="$$missing $${tp#*:}"; \
	done; \
	command -v g++ >/dev/null 2>&1 || command -v clang++ >/dev/null 2>&1 \
	  || missing="$$missing g++"; \
	[ -z "$$missing" ] && exit 0; \
	missing=$$(printf '%s\n' $$missing | sort -u | tr '\n' ' '); \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "make check: installing $$missing"; \
	  apt-get update -qq >/dev/null && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else \
	  echo "make check also needs these tools (Debian packages): $$missing" >&2; \
	  exit 1; \
	fi

# Where the tests find the helpers, the command and the shim of this build.
TEST_ENV = RT_TEST_CHILD=$(abspath $(BUILD)/tests/child) \
           RT_TEST_LEAKER=$(abspath $(BUILD)/tests/leaker) \
           RT_TEST_CLI=$(abspath $(CLI)) \
           RESOURCE_TRACKER_PRELOAD=$(abspath $(PRELOAD))

check: check-tools all tests
	@set -e; for i in $$(seq 1 $(REPEAT)); do \
	  [ $(REPEAT) = 1 ] || echo "== round $$i of $(REPEAT)"; \
	  for t in $(TEST_NAMES); do \
	    $(TEST_ENV) $(BUILD)/tests/$$t || { echo "FAILED: $$t"; exit 1; }; \
	  done; \
	done
	@set -e; for t in $(SCRIPT_TESTS); do \
	  BUILD=$(BUILD) CC="$(CC)" MAKE="$(MAKE)" SANITIZE="$(SANITIZE)" $$t \
	    || { echo "FAILED: $$t"; exit 1; }; \
	done; echo "All tests passed."

# ---- sanitizers and analysers --------------------------------------------------

# The whole suite with AddressSanitizer and UndefinedBehaviorSanitizer: the
# library, the tracker it embeds and the tests.
asan:
	$(MAKE) check SANITIZE=address,undefined BUILD=$(BUILD)-asan

# ThreadSanitizer (clang) over the tests that use threads.
TSAN_TESTS := test-concurrency test-signals test-fork test-hygiene \
              test-types test-wrappers
tsan:
	$(MAKE) tests CC=clang SANITIZE=thread BUILD=$(BUILD)-tsan
	@set -e; for t in $(TSAN_TESTS); do \
	  RT_TEST_TIMEOUT_MULTIPLIER=5 RT_TEST_CHILD=$(abspath $(BUILD)-tsan/tests/child) \
	    $(BUILD)-tsan/tests/$$t || { echo "FAILED under TSan: $$t"; exit 1; }; \
	done; echo "TSan: all passed."

# valgrind memcheck over the whole suite (or VALGRIND_TESTS), every process
# traced (the tracker included): any error or definite leak fails.
VALGRIND := valgrind -q --vgdb=no --trace-children=yes \
            --trace-children-skip='*python*,*pyenv*' --error-exitcode=99 \
            --leak-check=full --show-leak-kinds=definite \
            --errors-for-leak-kinds=definite
VALGRIND_TESTS ?= $(TEST_NAMES)
valgrind: all tests
	@set -e; for t in $(VALGRIND_TESTS); do \
	  RT_TEST_VALGRIND=1 RT_TEST_TIMEOUT_MULTIPLIER=30 \
	  RT_TEST_CHILD=$(abspath $(BUILD)/tests/child) \
	    $(VALGRIND) $(BUILD)/tests/$$t || { echo "FAILED under valgrind: $$t"; exit 1; }; \
	done; echo "valgrind: all passed."

# Stress: 64 processes (some with threads) registering and unregistering
# thousands of names, then SIGKILLed with a known set left registered.
# Random kill: workers creating and destroying objects through the wrappers,
# each SIGKILLed at a random instant; nothing may be left. It runs twice:
# as is, and with the tracker (and now and then its guardian) SIGKILLed at
# random too. CI runs them at the sizes below; the defaults of the programs
# are larger.
STRESS_ARGS ?= 64 2000
RANDOM_KILL_ARGS ?= 1000

$(BUILD)/tests/stress $(BUILD)/tests/random-kill: $(BUILD)/tests/%: tests/%.c tests/proc.c $(LIB_A)
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)$(CC) $(CFLAGS_ALL) -Itests $(LDFLAGS_ALL) -o $@ $< tests/proc.c $(LIB_A) $(LIBS)

stress: $(BUILD)/tests/stress
	$(BUILD)/tests/stress $(STRESS_ARGS)

random-kill: $(BUILD)/tests/random-kill
	$(BUILD)/tests/random-kill $(RANDOM_KILL_ARGS)
	$(BUILD)/tests/random-kill --kill-tracker $(RANDOM_KILL_ARGS)

# libFuzzer (clang) over the line parser, the registry and the quoting
# (fuzz-wire, seeds in tests/corpus), and over the journal's reader, replay
# and snapshots (fuzz-journal, seeds in tests/corpus-journal). FUZZ_SECONDS
# bounds the whole run, split between the two; the seeds are only read.
FUZZ_SECONDS ?= 60
FUZZ := $(BUILD)/fuzz/fuzz-wire
FUZZ_JOURNAL := $(BUILD)/fuzz/fuzz-journal
FUZZ_FLAGS = $(BASEFLAGS) $(WARNINGS) -O1 -fsanitize=fuzzer,address,undefined
$(FUZZ): tests/fuzz-wire.c src/wire.c src/registry.c src/slab.c src/diag.c \
         src/printable.c src/fdio.c $(GEN)/errtab.c
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)clang $(FUZZ_FLAGS) -o $@ $(filter %.c,$^)

# The registries' memory is counted through mmap and munmap.
$(FUZZ_JOURNAL): tests/fuzz-journal.c src/journal.c src/recorder.c \
                 src/ledger.c src/registry.c src/slab.c src/wire.c \
                 src/rtypes.c src/rawipc.c src/rmtree.c src/pathres.c \
                 src/objects.c src/fdio.c src/diag.c src/printable.c $(GEN)/errtab.c
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)clang $(FUZZ_FLAGS) -Wl,--wrap=mmap -Wl,--wrap=munmap \
	    -o $@ $(filter %.c,$^)

fuzz: $(FUZZ) $(FUZZ_JOURNAL)
	@half=$$(( $(FUZZ_SECONDS) / 2 )); [ $$half -ge 1 ] || half=1; \
	rest=$$(( $(FUZZ_SECONDS) - half )); [ $$rest -ge 1 ] || rest=1; \
	echo "fuzz-wire: $$half s"; tests/fuzz-run.sh $(FUZZ) $$half && \
	echo "fuzz-journal: $$rest s" && \
	MAX_LEN=16384 tests/fuzz-run.sh $(FUZZ_JOURNAL) $$rest

# Static analysis with the checked-in configurations.
lint: $(GEN)/errtab.c
	cppcheck --quiet --error-exitcode=1 --std=c11 --enable=warning,performance,portability \
	    --inline-suppr --suppressions-list=.cppcheck-suppressions \
	    -D__linux__ -D__GNUC__ -Iinclude -Isrc -Icli src cli preload tests \
	    examples bench
	clang-tidy --quiet $(wildcard src/*.c preload/*.c) -- $(BASEFLAGS) \
	    -DRT_BUILDING_LIBRARY
	clang-tidy --quiet $(wildcard cli/*.c) -- $(BASEFLAGS) -Icli

# The library and the suite built with musl-gcc (cmocka built from Debian's
# source for it) and run.
check-musl:
	tests/musl-check.sh $(BUILD)-musl

# Every C file as .clang-format says.
FORMATTED := $(wildcard src/*.c src/*.h include/*.h tests/*.c tests/*.h \
               tests/*.cpp examples/*.c bench/*.c tools/*.c cli/*.c cli/*.h \
               preload/*.c)
format-check:
	clang-format --dry-run --Werror $(FORMATTED)

format:
	clang-format -i $(FORMATTED)

# ---- examples ----------------------------------------------------------------

$(BUILD)/examples/%: examples/%.c $(LIB_A)
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $< $(LIB_A) $(LIBS)

# The preload demo and its leaker know nothing of the library: built
# without it (and without sanitizers, as the shim they meet).
$(BUILD)/examples/preload-demo $(BUILD)/examples/preload-leaker: \
    $(BUILD)/examples/%: examples/%.c $(FLAGS_FILE)
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)$(CC) $(PRELOAD_CFLAGS) $(PRELOAD_LDFLAGS) -o $@ $< \
	    -Wl,--as-needed -lrt -pthread -Wl,--no-as-needed

examples: $(EXAMPLES)

demo: $(BUILD)/examples/leak-demo
	@$(BUILD)/examples/leak-demo

prefork-demo: $(BUILD)/examples/prefork-demo
	@$(BUILD)/examples/prefork-demo

spawn-demo: $(BUILD)/examples/spawn-demo $(BUILD)/examples/spawn-worker
	@$(BUILD)/examples/spawn-demo $(BUILD)/examples/spawn-worker

# An unmodified program, SIGKILLed, alone and under run --preload.
preload-demo: $(CLI) $(PRELOAD) $(BUILD)/examples/preload-demo \
              $(BUILD)/examples/preload-leaker
	@RESOURCE_TRACKER_PRELOAD=$(abspath $(PRELOAD)) \
	    $(BUILD)/examples/preload-demo $(CLI) $(BUILD)/examples/preload-leaker

# A Python parent (CPython's own tracker) with C workers sharing it.
python-demo: $(BUILD)/examples/py-worker
	@python3 examples/python-parent.py $(BUILD)/examples/py-worker

# ---- benchmark -----------------------------------------------------------------

BENCH := $(BUILD)/bench/bench
BENCH_HELPER := $(BUILD)/bench/shm-pairs
BENCH_ARGS ?=

$(BENCH): bench/bench.c $(LIB_A)
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $< $(LIB_A) $(LIBS)

# A program built without the library, for the preload shim's figures.
$(BENCH_HELPER): bench/shm-pairs.c $(FLAGS_FILE)
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $< $(LIBS)

# Ours beside the kernel's floor and CPython's tracker, in one run; the last
# line printed is a JSON object with every figure. BENCH_ARGS=--quick for a
# smoke run. The preload shim is measured when it has been built; without
# it, its figures are skipped with a note.
bench: $(BENCH) $(IMAGE) $(CLI) $(BENCH_HELPER)
	@$(BENCH) --image $(IMAGE) --driver bench/cpython_tracker.py \
	    --cli $(CLI) --preload $(BUILD)/$(PRELOAD_SO) --helper $(BENCH_HELPER) \
	    $(BENCH_ARGS)

clean:
	rm -rf $(BUILD)

-include $(wildcard $(BUILD)/*/*.d)
