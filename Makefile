# atomcode-telemetryd — agent, client library and CLI.
#
#   make            build everything into $(BUILD)/
#   make run        build and run the agent in the foreground, in a private
#                   home under build/ with the loopback test collector
#   make deps       install missing build dependencies (apt-get)
#   make check      build and run every unit and integration test
#   make check-browser  the `view` page in headless Chromium
#   make check PORTABLE=1  the same with every Linux-only branch switched
#                   off (build-portable/; README "macOS and BSD")
#   make asan/ubsan the same suite under AddressSanitizer / UBSan
#   make bench      benchmarks, one table (and the syslog-ng peer table)
#   make bench-peer only the syslog-ng peer table
#   make install    PREFIX=/usr/local DESTDIR=
#   make vocab      regenerate proto/vocab/en*.txt from Debian's word list
#
# Missing build dependencies: `make deps` installs them (scripts/deps.sh,
# apt-get); `make check` and `make run` do it themselves; a plain `make`
# only says what is missing.

VERSION    = 0.1.0
SOVERSION  = 0
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
LIBDIR    ?= $(PREFIX)/lib
INCDIR    ?= $(PREFIX)/include
MANDIR    ?= $(PREFIX)/share/man
PCDIR     ?= $(LIBDIR)/pkgconfig
DESTDIR   ?=

# PORTABLE=1: the macOS/BSD branches of proto/port.c and agent/watch.c
# instead of the Linux ones, in a build directory of their own.
ifeq ($(PORTABLE),1)
BUILD     ?= build-portable
PORT_CFLAGS = -DATC_PORTABLE=1
endif
BUILD     ?= build
CC        ?= cc
CFLAGS    ?= -O2 -g
WERROR    ?=
WARN       = -Wall -Wextra -Wshadow -Wpointer-arith -Wstrict-prototypes \
             -Wmissing-prototypes -Wno-unused-parameter $(WERROR)
PKGS       = libevent jansson inih libcurl uuid zlib libdeflate
# Recursive (=) so pkg-config runs after scripts/deps.sh installed it.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS = $(shell pkg-config --libs cmocka 2>/dev/null)
# The library reads config.toml with its own scanner: no inih (the CLI
# reads telemetryd.conf, an INI file, for `view`).
LIB_LIBS   = $(shell pkg-config --libs jansson uuid 2>/dev/null)
CLI_LIBS   = $(shell pkg-config --libs jansson inih uuid 2>/dev/null)
# The agent loads libcurl on demand (agent/curl_dl.c): headers only here.
AGENT_LIBS = $(shell pkg-config --libs libevent jansson inih uuid libdeflate 2>/dev/null) -ldl
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -DATC_VERSION='"$(VERSION)"' -fPIC \
             -Iinclude -Iproto $(PORT_CFLAGS) $(WARN) $(CFLAGS) $(PKG_CFLAGS)

PROTO_SRC  = $(sort $(wildcard proto/*.c))
SHIM_SRC   = $(sort $(filter-out client/cli%.c,$(wildcard client/*.c)))
CLI_SRC    = $(sort $(wildcard client/cli*.c))
AGENT_SRC  = $(sort $(filter-out agent/main.c,$(wildcard agent/*.c)))
UNIT_SRC   = $(sort $(wildcard tests/unit/test_*.c))
TOOL_SRC   = $(sort $(wildcard tests/tools/*.c))
BENCH_SRC  = $(sort $(wildcard tests/bench/*.c))

obj        = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
# The firewall's vocabulary: a hash table generated from proto/vocab/ by
# scripts/mkvocab.c (a build tool) into $(BUILD)/gen/vocab_table.c.
VOCAB_LISTS = -w proto/vocab/en.txt -n proto/vocab/en-names.txt \
              -t proto/vocab/errno.txt -t proto/vocab/http.txt \
              -t proto/vocab/tech.txt -h proto/vocab/hosts.txt \
              -s proto/vocab/namespaces.txt
MKVOCAB    = $(BUILD)/tools/mkvocab
VOCAB_C    = $(BUILD)/gen/vocab_table.c
VOCAB_OBJ  = $(BUILD)/obj/gen/vocab_table.o
PROTO_OBJ  = $(call obj,$(PROTO_SRC)) $(VOCAB_OBJ)
SHIM_OBJ   = $(call obj,$(SHIM_SRC))
CLI_OBJ    = $(call obj,$(CLI_SRC))
AGENT_OBJ  = $(call obj,$(AGENT_SRC))

LIB_A      = $(BUILD)/libatomcode-telemetry.a
# The same objects with every symbol global: for the agent, the CLI and the
# tests, which use the internals. The installed .a exports only atc_*.
LIB_INT    = $(BUILD)/libatc-internal.a
LIB_RELOC  = $(BUILD)/obj/libatomcode-telemetry.o
GEN_SCHEMA = $(BUILD)/gen_schema
LIB_SO     = $(BUILD)/libatomcode-telemetry.so.$(SOVERSION)
AGENT_A    = $(BUILD)/libagent.a
AGENTD     = $(BUILD)/atomcode-telemetryd
CLI        = $(BUILD)/atomcode-telemetry
PCFILE     = $(BUILD)/atomcode-telemetry.pc
UNIT_BIN   = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
TOOL_BIN   = $(patsubst tests/tools/%.c,$(BUILD)/tests/%,$(TOOL_SRC))
# Fault injection (LD_PRELOAD) for tests; never sanitized: it is preloaded.
FAULT_SO   = $(BUILD)/tests/libfault.so
BENCH_BIN  = $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
DEPS_OK    = $(BUILD)/.deps-ok

.PHONY: all run check check-browser asan ubsan bench lint standin install \
        install-user-service uninstall clean deps format demo fuzz chaos schema vocab
all: $(AGENTD) $(CLI) $(LIB_A) $(LIB_SO) $(PCFILE)

# A plain build only checks the build dependencies and says what to run;
# `make deps` installs them (apt-get, with sudo when not root), and so do
# `make check` and `make run` (target-specific: their prerequisites see it).
DEPS_MODE ?= check
check run: DEPS_MODE = install
deps:
	@mkdir -p $(BUILD)
	@DEPS_MODE=install sh scripts/deps.sh && touch $(DEPS_OK)
$(DEPS_OK):
	@mkdir -p $(BUILD)
	@DEPS_MODE=$(DEPS_MODE) sh scripts/deps.sh && touch $(DEPS_OK)

$(BUILD)/obj/%.o: %.c $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(MKVOCAB): scripts/mkvocab.c proto/vocab.h
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O2 -Iproto $(WARN) -o $@ scripts/mkvocab.c

$(VOCAB_C): $(MKVOCAB) $(wildcard proto/vocab/*.txt) Makefile
	@mkdir -p $(dir $@)
	$(MKVOCAB) $@ $(VOCAB_LISTS)

$(VOCAB_OBJ): $(VOCAB_C) $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# Regenerate proto/vocab/en.txt and en-names.txt from Debian's word list
# (package wamerican); tests/integration/vocab.sh checks they are in sync.
vocab:
	sh scripts/vocab-en.sh /usr/share/dict/american-english proto/vocab

$(LIB_INT): $(PROTO_OBJ) $(SHIM_OBJ)
	@rm -f $@
	ar rcs $@ $^

# One relocatable object in which only atc_* stays global: a program that
# defines config_read or buf_add links against the .a as against the .so.
$(LIB_RELOC): $(PROTO_OBJ) $(SHIM_OBJ)
	$(LD) -r -o $@.tmp $^
	objcopy --wildcard --keep-global-symbol='atc_*' $@.tmp $@
	@rm -f $@.tmp

$(LIB_A): $(LIB_RELOC)
	@rm -f $@
	ar rcs $@ $^

$(LIB_SO): $(PROTO_OBJ) $(SHIM_OBJ)
	$(CC) -shared -Wl,-soname,libatomcode-telemetry.so.$(SOVERSION) \
	    -Wl,--version-script=client/libatomcode-telemetry.map \
	    $(CFLAGS) -o $@ $^ $(LIB_LIBS)
	ln -sf libatomcode-telemetry.so.$(SOVERSION) $(BUILD)/libatomcode-telemetry.so

$(AGENT_A): $(AGENT_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(AGENTD): $(BUILD)/obj/agent/main.o $(AGENT_A) $(LIB_INT)
	$(CC) $(CFLAGS) -o $@ $^ $(AGENT_LIBS)

# The CLI uses the library's dependencies and inih (no libevent, no libcurl).
$(CLI): $(CLI_OBJ) $(LIB_INT)
	$(CC) $(CFLAGS) -o $@ $^ $(CLI_LIBS)

$(PCFILE): client/atomcode-telemetry.pc.in Makefile
	@mkdir -p $(BUILD)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCDIR@|$(INCDIR)|' -e 's|@VERSION@|$(VERSION)|' $< > $@

$(BUILD)/tests/%: tests/unit/%.c $(AGENT_A) $(LIB_INT) $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Iagent -Iclient -o $@ $< $(AGENT_A) $(LIB_INT) \
	    $(PKG_LIBS) $(CMOCKA_LIBS)

$(FAULT_SO): tests/fault/fault.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra $(WERROR) -O2 -fPIC -shared \
	    -o $@ $< -ldl -lpthread

# The macOS branches of proto/port.c, compiled into the test against the
# stand-in headers and run with fakes of the macOS calls.
$(BUILD)/tests/test_port_darwin: ALL_CFLAGS += -Itests/portable
$(BUILD)/tests/test_port_darwin: proto/port.c

$(BUILD)/tests/%: tests/tools/%.c $(AGENT_A) $(LIB_INT) $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Iagent -Iclient -o $@ $< $(AGENT_A) $(LIB_INT) $(PKG_LIBS)

$(BUILD)/bench/%: tests/bench/%.c $(AGENT_A) $(LIB_INT) $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Iagent -Iclient -o $@ $< $(AGENT_A) $(LIB_INT) $(PKG_LIBS)

$(GEN_SCHEMA): scripts/gen_schema.c $(LIB_INT) $(DEPS_OK)
	$(CC) $(ALL_CFLAGS) -Iclient -o $@ $< $(LIB_INT) $(PKG_LIBS)

# Rewrite the files generated from the schema tables in proto/record.c.
schema: $(GEN_SCHEMA)
	$(GEN_SCHEMA) header >include/atomcode/telemetry-events.h
	$(GEN_SCHEMA) man >man/atomcode-telemetry-events.7
	$(GEN_SCHEMA) rust >bindings/rust/src/schema.rs

# Safe by default: a private ATOMCODE_HOME under $(BUILD) and the loopback
# test collector (scripts/run.sh prints both); never ~/.atomcode.
run: all
	@sh scripts/run.sh $(BUILD)

check: lint standin all $(UNIT_BIN) $(TOOL_BIN) $(FAULT_SO) $(GEN_SCHEMA)
	@ATC_PORTABLE=$(PORTABLE) sh tests/run.sh $(BUILD)

# `view` in headless Chromium (fails when chromium is missing; `make check`
# runs the same test and skips it with a message instead).
check-browser: all
	@VIEW_BROWSER_REQUIRED=1 sh tests/run.sh $(BUILD) view_browser

# Sanitizer builds live in their own build directories.
SAN_CFLAGS = -O1 -g -fno-omit-frame-pointer
asan:
	$(MAKE) BUILD=build-asan CFLAGS="$(SAN_CFLAGS) -fsanitize=address,undefined \
	    -fno-sanitize-recover=all" check
ubsan:
	$(MAKE) BUILD=build-ubsan CFLAGS="$(SAN_CFLAGS) -fsanitize=undefined \
	    -fno-sanitize-recover=all" check

# The peer part of the bench runs syslog-ng (Debian: syslog-ng-core, which
# replaces another system logger such as rsyslog, so that case is left to
# the user). Without it the bench runs and says the peer part is missing.
PEER_DEPS  = EXTRA_DEBS="syslog-ng-core syslog-ng-mod-http" \
             EXTRA_CHECK='syslog-ng -V | grep -q "^Available-Modules:.*http"' \
             EXTRA_REFUSE="rsyslog" sh scripts/deps.sh --check-tools

bench: all $(BENCH_BIN) $(TOOL_BIN)
	-@$(PEER_DEPS)
	@sh tests/bench/run.sh $(BUILD)

# Only the peer part: syslog-ng beside the agent (README "Performance").
.PHONY: bench-peer
bench-peer: all $(BENCH_BIN) $(TOOL_BIN)
	-@$(PEER_DEPS)
	@BENCH_ONLY=peer sh tests/bench/run.sh $(BUILD)

# libFuzzer targets (clang): FUZZ_SECONDS per target.
FUZZ_SECONDS ?= 60
fuzz:
	@sh tests/fuzz/run.sh $(FUZZ_SECONDS)

# Chaos scenarios (bounded, loopback only).
chaos: all $(TOOL_BIN) $(FAULT_SO)
	@sh tests/chaos/run.sh $(BUILD)

demo: all
	@sh scripts/demo.sh $(BUILD)

lint:
	@sh scripts/lint.sh

# The macOS branches compiled on Linux against tests/portable's stand-in
# headers (kqueue, launchd, getpeereid, renamex_np, _NSGetExecutablePath):
# syntax and types only, nothing is linked or run (README "macOS and BSD").
STANDIN_SRC = proto/port.c proto/sock.c agent/watch.c agent/main.c \
              agent/server.c client/shim.c client/spawn.c client/cli.c \
              client/cli_view.c \
              proto/queue.c proto/identity.c
standin: $(DEPS_OK)
	@for f in $(STANDIN_SRC); do \
	    $(CC) -std=c11 -D_GNU_SOURCE -DATC_VERSION='"$(VERSION)"' \
	        -DATC_STANDIN_DARWIN=1 -Itests/portable -Iinclude -Iproto \
	        $(WARN) -Werror $(PKG_CFLAGS) -fsyntax-only $$f \
	        || exit 1; done; echo "standin: $(words $(STANDIN_SRC)) files compile with the macOS branches"

format:
	clang-format -i agent/*.c agent/*.h client/*.c client/*.h proto/*.c proto/*.h

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PCDIR) \
	    $(DESTDIR)$(INCDIR)/atomcode
	install -m 0755 $(AGENTD) $(CLI) $(DESTDIR)$(BINDIR)/
	install -m 0644 $(LIB_A) $(DESTDIR)$(LIBDIR)/
	install -m 0755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf libatomcode-telemetry.so.$(SOVERSION) \
	    $(DESTDIR)$(LIBDIR)/libatomcode-telemetry.so
	install -m 0644 include/atomcode/telemetry.h \
	    include/atomcode/telemetry-events.h $(DESTDIR)$(INCDIR)/atomcode/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCDIR@|$(INCDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	    client/atomcode-telemetry.pc.in >$(DESTDIR)$(PCDIR)/atomcode-telemetry.pc
	chmod 0644 $(DESTDIR)$(PCDIR)/atomcode-telemetry.pc
	if [ -d man ] && ls man/*.[0-9] >/dev/null 2>&1; then \
	    for m in man/*.[0-9]; do s=$${m##*.}; \
	        install -d $(DESTDIR)$(MANDIR)/man$$s; \
	        install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/; done; fi

install-user-service:
	@sh scripts/install-user-service.sh $(BINDIR)

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/atomcode-telemetryd $(DESTDIR)$(BINDIR)/atomcode-telemetry \
	    $(DESTDIR)$(LIBDIR)/libatomcode-telemetry.* $(DESTDIR)$(PCDIR)/atomcode-telemetry.pc \
	    $(DESTDIR)$(INCDIR)/atomcode/telemetry.h \
	    $(DESTDIR)$(INCDIR)/atomcode/telemetry-events.h
	for m in man/*.[0-9]; do s=$${m##*.}; \
	    rm -f $(DESTDIR)$(MANDIR)/man$$s/$${m##*/}; done
	-rmdir $(DESTDIR)$(INCDIR)/atomcode 2>/dev/null

clean:
	rm -rf build build-asan build-ubsan build-portable

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
