# hcdl - build, test, benchmark, demo, install.
#
#   make                    build build/lua5.4/hcdl/core.so
#   make LUA=luajit         the same sources for LuaJIT (lua5.1 lua5.2 lua5.3 too)
#   make check              the README's test command (the suites below on $(LUA))
#   make test               busted suite on $(LUA); last line "N passed, N failed"
#   make test-all           the suite on lua5.1 lua5.2 lua5.3 lua5.4 luajit
#   make asan               the suite under AddressSanitizer + UBSan
#   make valgrind           the suite under valgrind (leaks and errors fail)
#   eval "$(make -s env)"   LUA_PATH/LUA_CPATH for using the checkout uninstalled
#   make demo               the main job, end to end
#   make bench              benchmarks in bench/
#   make install            install for $(LUA) under $(PREFIX)

LUA ?= lua5.4
LUAS := lua5.1 lua5.2 lua5.3 lua5.4 luajit
PREFIX ?= /usr/local

ifeq ($(LUA),luajit)
  LUA_INC ?= /usr/include/luajit-2.1
  LUA_ABI := 5.1
else ifeq ($(LUA),lua5.1)
  LUA_INC ?= /usr/include/lua5.1
  LUA_ABI := 5.1
else ifeq ($(LUA),lua5.2)
  LUA_INC ?= /usr/include/lua5.2
  LUA_ABI := 5.2
else ifeq ($(LUA),lua5.3)
  LUA_INC ?= /usr/include/lua5.3
  LUA_ABI := 5.3
else ifeq ($(LUA),lua5.4)
  LUA_INC ?= /usr/include/lua5.4
  LUA_ABI := 5.4
else
  $(error LUA must be one of $(LUAS))
endif

VERSION := 0.1.0
SRCS := $(wildcard src/*.c)
HDRS := $(wildcard src/*.h)
BUILD ?= build/$(LUA)
SO := $(BUILD)/hcdl/core.so
OBJS := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(SRCS))

CC ?= cc
CFLAGS ?= -O2 -g
WARN := -std=c99 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
        -Wmissing-prototypes -Wpointer-arith -Wformat=2
ALL_CFLAGS := $(WARN) $(CFLAGS) -fPIC -fvisibility=hidden \
              -DHCDL_VERSION='"$(VERSION)"' -I$(LUA_INC) $(EXTRA_CFLAGS)
# No liblua: the host process provides the Lua API.
LIBS := -lcurl -lcrypto -lpthread
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

.PHONY: nvim all check test-emulator test test-all asan valgrind env bench bench-sign bench-api install clean demo

all: $(SO)

$(BUILD)/obj/%.o: src/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(SO): $(OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $(OBJS) $(LIBS)

test: $(SO)
	$(BUSTED) tests

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
	  $(LUA) $$(command -v busted) -o $(ROOT)/tests/support/summary.lua --pattern=_spec tests

env: $(SO)
	@echo "export LUA_PATH='$(ROOT)/lua/?.lua;$(ROOT)/lua/?/init.lua;;'"
	@for l in lua5.2 lua5.3 lua5.4; do v=$${l#lua}; \
	  echo "export LUA_CPATH_$$(echo $$v | tr . _)='$(ROOT)/build/$$l/?.so;;'"; done
	@if [ -d build/luajit ]; then d=luajit; else d=lua5.1; fi; \
	  echo "export LUA_CPATH='$(ROOT)/build/'$$d'/?.so;;'"

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

install: $(SO)
	install -d $(DESTDIR)$(PREFIX)/lib/lua/$(LUA_ABI)/hcdl $(DESTDIR)$(PREFIX)/share/lua/$(LUA_ABI)/hcdl \
	  $(DESTDIR)$(PREFIX)/share/lua/$(LUA_ABI)/hcdl/credentials
	install -m 0755 $(SO) $(DESTDIR)$(PREFIX)/lib/lua/$(LUA_ABI)/hcdl/core.so
	install -m 0644 lua/hcdl.lua $(DESTDIR)$(PREFIX)/share/lua/$(LUA_ABI)/hcdl.lua
	for f in lua/hcdl/*.lua lua/hcdl/credentials/*.lua; do [ -e "$$f" ] || continue; \
	  install -m 0644 "$$f" $(DESTDIR)$(PREFIX)/share/lua/$(LUA_ABI)/$${f#lua/}; done

clean:
	rm -rf build
