# hcdl - build, test, benchmark, demo, install, package.
#
#   make                    build build/lua5.4/hcdl/core.so
#   make LUA=luajit         the same sources for LuaJIT (lua5.1 lua5.2 lua5.3 too)
#   make check              the README's test command (the suites below on $(LUA))
#   make test               busted suite on $(LUA); last line "N passed, N failed"
#                           (SPECS=tests/x_spec.lua ... runs only those files)
#                           (BUSTED_ARGS=--exclude-tags=once leaves out the specs of
#                           real hosts and packaging, which need no second run)
#   make test-all           the suite on lua5.1 lua5.2 lua5.3 lua5.4 luajit
#   make asan               the suite under AddressSanitizer + UBSan
#   make valgrind           the suite under valgrind (leaks and errors fail)
#   eval "$(make -s env)"   module paths for every built Lua, to use the checkout uninstalled
#   make demo               the main job, end to end
#   make bench              benchmarks in bench/
#   make install            install for $(LUA) under $(PREFIX): library, bin/hcdl, bash completion, man page
#   make uninstall          remove what `make install` put there (same LUA and PREFIX)
#   make rock               a binary rock for $(LUA) (luarocks make + luarocks pack), offline
#   make dist               the release: archive of tag v$(VERSION), rockspec, source rock
#   make release-rockspec   hcdl-$(VERSION)-1.rockspec, from hcdl-scm-1.rockspec
#   make completion         regenerate contrib/hcdl.bash-completion from the command rows

LUA ?= lua5.4
LUAS := lua5.1 lua5.2 lua5.3 lua5.4 luajit
PREFIX ?= /usr/local

# LuaRocks passes the interpreter's full path (LUA=/usr/bin/lua5.4).
LUA_NAME := $(notdir $(LUA))
ifeq ($(LUA_NAME),luajit)
  LUA_INC ?= /usr/include/luajit-2.1
  LUA_ABI := 5.1
else ifeq ($(LUA_NAME),lua5.1)
  LUA_INC ?= /usr/include/lua5.1
  LUA_ABI := 5.1
else ifeq ($(LUA_NAME),lua5.2)
  LUA_INC ?= /usr/include/lua5.2
  LUA_ABI := 5.2
else ifeq ($(LUA_NAME),lua5.3)
  LUA_INC ?= /usr/include/lua5.3
  LUA_ABI := 5.3
else ifeq ($(LUA_NAME),lua5.4)
  LUA_INC ?= /usr/include/lua5.4
  LUA_ABI := 5.4
else
  $(error LUA must be one of $(LUAS) (or a path to one of them))
endif

# The version lives here and nowhere else: the C module gets it with -D,
# the release rockspec is named after it, and tests/packaging_spec.lua
# checks both against hcdl.version.
VERSION := 0.1.0
SRCS := $(wildcard src/*.c)
HDRS := $(wildcard src/*.h)
BUILD ?= build/$(LUA_NAME)
SO := $(BUILD)/hcdl/core.so
OBJS := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(SRCS))

CC ?= cc
CFLAGS ?= -O2 -g
WARN := -std=c99 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
        -Wmissing-prototypes -Wpointer-arith -Wformat=2
ALL_CFLAGS := $(WARN) $(CFLAGS) -fPIC -fvisibility=hidden \
              -DHCDL_VERSION='"$(VERSION)"' -I$(LUA_INC) $(EXTRA_CFLAGS)
# No liblua: the host process provides the Lua API.
LIBS := -lcurl -lcrypto -lz -lpthread
# ISA-L (Debian libisal-dev) gives SIMD CRC-64/CRC-32 when its header is
# there; otherwise src/crc.c's portable tables (HCDL_NO_ISAL=1 forces them).
ifeq ($(HCDL_NO_ISAL),)
  HAVE_ISAL := $(shell printf '\043include <isa-l/crc64.h>\n' | $(or $(CC),cc) -E -x c - >/dev/null 2>&1 && echo 1)
endif
ifeq ($(HAVE_ISAL),1)
  ALL_CFLAGS += -DHCDL_HAVE_ISAL
  LIBS += -lisal
endif
ALL_LDFLAGS := -shared $(LDFLAGS) $(EXTRA_LDFLAGS)

ROOT := $(abspath .)
# Paths go through the environment: busted --lua re-runs itself through a
# shell without quoting, so ';' cannot appear in its arguments.  Every
# versioned variable is set too, so a user's own LUA_CPATH_5_4 cannot
# shadow the build under test.
TEST_LPATH := $(ROOT)/lua/?.lua;$(ROOT)/lua/?/init.lua;$(ROOT)/?.lua;;
TEST_CPATH := $(ROOT)/$(BUILD)/?.so;;
TEST_ENV := LUA_PATH='$(TEST_LPATH)' LUA_CPATH='$(TEST_CPATH)' \
            LUA_PATH_5_2='$(TEST_LPATH)' LUA_CPATH_5_2='$(TEST_CPATH)' \
            LUA_PATH_5_3='$(TEST_LPATH)' LUA_CPATH_5_3='$(TEST_CPATH)' \
            LUA_PATH_5_4='$(TEST_LPATH)' LUA_CPATH_5_4='$(TEST_CPATH)' \
            HCDL_ROOT='$(ROOT)' HCDL_BUILD='$(ROOT)/$(BUILD)' HCDL_LUA='$(LUA)'
BUSTED := $(TEST_ENV) busted --lua=$(LUA) -o $(ROOT)/tests/support/summary.lua \
          --pattern=_spec $(BUSTED_ARGS)

.PHONY: all check test-emulator test test-all asan valgrind env bench bench-sign bench-api install install-lib \
        uninstall luarocks-build rock dist release-rockspec completion clean demo nvim

all: $(SO)

$(BUILD)/obj/%.o: src/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(SO): $(OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $(OBJS) $(LIBS)

# SPECS narrows a run to some spec files (make test SPECS=tests/sign_spec.lua);
# BUSTED_ARGS=--pattern cannot, since --pattern=_spec is already given.
SPECS ?= tests

test: $(SO)
	$(BUSTED) $(SPECS)

# The emulator's own tests (Python): official-signer acceptance, tampering,
# every API's limits and errors, the object store, every fault.
test-emulator:
	HCDL_NO_SKIP=$${HCDL_NO_SKIP:-1} python3 tests/emulator/run_tests.py

# The README's test command: the emulator's suite, then hcdl's on $(LUA).
check: test-emulator test

# Every build runs even when one fails; the exit status says whether any did.
test-all:
	@rc=0; for l in $(LUAS); do \
	  echo "== $$l"; $(MAKE) --no-print-directory LUA=$$l test || rc=1; done; exit $$rc

# ASan/UBSan: a separate build; the interpreter is not instrumented, so the
# runtime is preloaded.  Leak checking stays on for our allocations.
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
asan:
	$(MAKE) --no-print-directory BUILD=build/asan-$(LUA) \
	  EXTRA_CFLAGS='$(ASAN_FLAGS)' EXTRA_LDFLAGS='$(ASAN_FLAGS)' CFLAGS='-O1 -g' all
	LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)" \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=23 \
	LSAN_OPTIONS=suppressions=$(ROOT)/tests/support/lsan.supp:print_suppressions=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  $(MAKE) --no-print-directory BUILD=build/asan-$(LUA) test

# busted runs inside the interpreter valgrind watches (no --lua re-exec).
valgrind: $(SO)
	$(TEST_ENV) valgrind --quiet --error-exitcode=24 --leak-check=full \
	  --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
	  --suppressions=$(ROOT)/tests/support/valgrind.supp \
	  $(LUA) $$(command -v busted) -o $(ROOT)/tests/support/summary.lua --pattern=_spec $(BUSTED_ARGS) $(SPECS)

# Every Lua's variables, built or not (a missing build gets a message on
# stderr, and its interpreter's "no file" list names the path to build).
env:
	@tools/make-env '$(ROOT)' $(LUAS)

# A Neovim plugin install (lazy.nvim: build = "make nvim"): the module for
# LuaJIT at lua/hcdl/core.so, where Neovim's runtimepath loader finds it
# with the clone on the runtimepath.  Inside Neovim, vim.json stands in for
# lua-cjson.
nvim:
	$(MAKE) --no-print-directory LUA=luajit BUILD=build/luajit all
	cp build/luajit/hcdl/core.so lua/hcdl/core.so

# The main job: the quickstart against the bundled emulator.
demo: $(SO)
	@scripts/demo $(LUA)

bench: bench-sign bench-api

bench-sign: $(SO)
	bench/sign

bench-api: $(SO)
	bench/api

# Where `make install` puts things: the layout Debian's interpreters search
# under /usr/local; any other PREFIX works through the installed command,
# and `make install` prints the variables library users then need.
BINDIR ?= $(PREFIX)/bin
LUADIR ?= $(PREFIX)/share/lua/$(LUA_ABI)
LIBDIR ?= $(PREFIX)/lib/lua/$(LUA_ABI)
COMPLETIONSDIR ?= $(PREFIX)/share/bash-completion/completions
MANDIR ?= $(PREFIX)/share/man
LUA_FILES := $(patsubst lua/%,%,$(wildcard lua/*.lua lua/hcdl/*.lua lua/hcdl/*/*.lua))
LUA_BIN = $(shell command -v $(LUA) 2>/dev/null)

# The library alone: hcdl.core and the Lua modules.  LuaRocks' install pass
# runs this too, with the rock's own LUADIR and LIBDIR.
install-lib: $(SO)
	install -d '$(DESTDIR)$(LIBDIR)/hcdl'
	install -m 0755 $(SO) '$(DESTDIR)$(LIBDIR)/hcdl/core.so'
	for f in $(LUA_FILES); do install -D -m 0644 "lua/$$f" "$(DESTDIR)$(LUADIR)/$$f" || exit 1; done

# The command is generated for the interpreter hcdl.core was built for,
# with this install's directories first on its module path.
install: install-lib
	@test -n '$(LUA_BIN)' || { echo "make install: $(LUA) is not on PATH; the hcdl command needs it" >&2; exit 1; }
	install -d '$(DESTDIR)$(BINDIR)' '$(DESTDIR)$(COMPLETIONSDIR)'
	tools/make-launcher '$(LUA_BIN)' '$(LUADIR)' '$(LIBDIR)' bin/hcdl.lua >'$(DESTDIR)$(BINDIR)/hcdl.tmp'
	chmod 0755 '$(DESTDIR)$(BINDIR)/hcdl.tmp'
	mv -f '$(DESTDIR)$(BINDIR)/hcdl.tmp' '$(DESTDIR)$(BINDIR)/hcdl'
	install -m 0644 contrib/hcdl.bash-completion '$(DESTDIR)$(COMPLETIONSDIR)/hcdl'
	install -D -m 0644 doc/hcdl.1 '$(DESTDIR)$(MANDIR)/man1/hcdl.1'
	@tools/path-hint '$(LUA_BIN)' '$(LUA_ABI)' '$(LUADIR)' '$(LIBDIR)'

# The command and its completion go only with the Lua they were made for
# (another `make install LUA=...` may have replaced them since).
uninstall:
	rm -f '$(DESTDIR)$(LIBDIR)/hcdl/core.so'
	for f in $(LUA_FILES); do rm -f "$(DESTDIR)$(LUADIR)/$$f"; done
	for d in '$(DESTDIR)$(LUADIR)/hcdl' '$(DESTDIR)$(LIBDIR)/hcdl'; do \
	  [ ! -d "$$d" ] || find "$$d" -depth -type d -empty -delete; done
	if [ "$$(head -n 1 '$(DESTDIR)$(BINDIR)/hcdl' 2>/dev/null)" = '#!$(LUA_BIN)' ]; then \
	  rm -f '$(DESTDIR)$(BINDIR)/hcdl' '$(DESTDIR)$(COMPLETIONSDIR)/hcdl' '$(DESTDIR)$(MANDIR)/man1/hcdl.1'; fi

# LuaRocks' build pass (hcdl-*.rockspec: build.type = "make", BUILD =
# build/luarocks): the module with this Makefile's flags, from scratch each
# time (the last `luarocks make` may have been for another Lua), outside
# src/ and outside ./?.so.
luarocks-build:
	rm -rf '$(BUILD)'
	$(MAKE) --no-print-directory all

# A binary rock of this checkout, offline: built and installed into a
# private tree, then packed from it (`luarocks pack hcdl scm-1`).
LUAROCKS = LUAROCKS_CONFIG=$(ROOT)/tools/luarocks-debian.lua $(if $(filter luajit,$(LUA_NAME)),HCDL_LUAJIT=1) \
           luarocks --lua-version=$(LUA_ABI)
rock:
	rm -rf build/rocktree-$(LUA_NAME)
	$(LUAROCKS) --tree='$(ROOT)/build/rocktree-$(LUA_NAME)' make hcdl-scm-1.rockspec
	mkdir -p build/dist
	cd build/dist && $(LUAROCKS) --tree='$(ROOT)/build/rocktree-$(LUA_NAME)' pack hcdl scm-1

# The release, from the tag alone (never from the work tree): the archive
# hcdl-$(VERSION).tar.gz the release rockspec names, and the source rock
# (what `luarocks pack` makes: the rockspec and the archive, zipped).
DIST := build/dist
dist:
	@git rev-parse -q --verify 'refs/tags/v$(VERSION)' >/dev/null || \
	  { echo "make dist: no tag v$(VERSION); tag the release first: git tag -a v$(VERSION)" >&2; exit 1; }
	mkdir -p $(DIST)
	git archive --format=tar --prefix=hcdl-$(VERSION)/ v$(VERSION) | gzip -n >$(DIST)/hcdl-$(VERSION).tar.gz
	git show v$(VERSION):hcdl-$(VERSION)-1.rockspec >$(DIST)/hcdl-$(VERSION)-1.rockspec
	cd $(DIST) && rm -f hcdl-$(VERSION)-1.src.rock && \
	  zip -q hcdl-$(VERSION)-1.src.rock hcdl-$(VERSION)-1.rockspec hcdl-$(VERSION).tar.gz

# The release rockspec, made from the scm one for $(VERSION) (commit it
# before tagging v$(VERSION)).
release-rockspec:
	$(LUA) tools/make-release-rockspec $(VERSION) >hcdl-$(VERSION)-1.rockspec

# The bash completion is generated from the command rows
# (lua/hcdl/cli/rows.lua, by lua/hcdl/cli/args.lua); tests/cli_spec.lua checks it is up to date.
completion:
	$(TEST_ENV) $(LUA) tools/make-completion >contrib/hcdl.bash-completion

# (hcdl/core.so and src/*.o: what LuaRocks' builtin build used to leave)
clean:
	rm -rf build
	rm -f hcdl/core.so src/*.o
	[ ! -d hcdl ] || rmdir hcdl
