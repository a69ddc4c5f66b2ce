# mcops — one plain GNU Makefile.
#
#   make            build libmcops.a and every binary into bin/
#   make check      unit tests, integration tests, a short fuzz pass (SAN=1: ASan+UBSan)
#   make bench      benchmarks against peers (memcached, lsof, ss)
#   make demo       run the local deployment (the README's run command)
#   make drill      the incident drill against the whole toolkit (docs/drill.md)
#   make fuzz       longer fuzz runs (FUZZ_SECONDS per target; FUZZ_RUNS=N stops one at N runs)
#   make install    binaries, units, man pages, the example configuration (PREFIX, DESTDIR)
#   make deb        the Debian package mcops_VERSION_ARCH.deb in build/deb/
#   make clean
#
# The targets a newcomer types (demo, check, bench) first run scripts/setup, which
# installs the Debian packages the build and tests need and is silent when all are there.

.DEFAULT_GOAL := all

SAN ?= 0

# Where `make install` puts things. DESTDIR is prepended to every path (a staging
# directory); the programs are built knowing SYSCONFDIR and STATEDIR without it.
PREFIX ?= /usr/local
DESTDIR ?=
SYSCONFDIR ?= /etc/mcops
STATEDIR ?= /var/lib/mcops
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
MANDIR ?= $(PREFIX)/share/man
ifneq ($(CI),)
WERROR ?= 1
endif
WERROR ?= 0

ifeq ($(SAN),1)
FLAVOR := san
BINDIR := build/san/bin
else
FLAVOR := rel
BINDIR := bin
endif
# `make install` builds a flavor of its own, whose default paths are the installed
# ones (lib/paths.h): a build in the checkout keeps etc/ and var/ relative.
ifeq ($(INSTALL_BUILD),1)
FLAVOR := inst
BINDIR := build/inst/bin
endif
OBJDIR := build/$(FLAVOR)

CC ?= cc
WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla \
	-Wwrite-strings -Wno-unused-parameter
ifeq ($(WERROR),1)
WARN += -Werror
endif
CPPFLAGS += -D_GNU_SOURCE -Ilib
ifeq ($(INSTALL_BUILD),1)
CPPFLAGS += -DMCOPS_SYSCONFDIR='"$(SYSCONFDIR)"' -DMCOPS_STATEDIR='"$(STATEDIR)"'
endif
CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -pthread $(WARN)
LDFLAGS += -pthread
ifeq ($(SAN),1)
CFLAGS += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

# Recursive (=) on purpose: pkg-config runs only when a recipe needs it, so that
# `make check` can install the packages (scripts/setup) before they are looked up.
# Every object is compiled with every package's flags (they are only -I and -D); each
# program links only the packages it uses, listed below.
PKGS_ALL = libevent libevent_pthreads libevent_openssl openssl sqlite3 jansson libcurl libstrophe inih
pkgcflags = $(shell pkg-config --cflags $(1) 2>/dev/null)
pkglibs = $(shell pkg-config --libs $(1) 2>/dev/null)
CPPFLAGS_PKG = $(call pkgcflags,$(PKGS_ALL))
LIBS_ALL = $(call pkglibs,$(PKGS_ALL)) -lm

# --- what each program links -------------------------------------------------------
# PKGS_<program>: its pkg-config packages; LDLIBS_<program>: other libraries (-lm).
# A program links these and nothing else, as redis's and OpenSSH's Makefiles list
# theirs. Debian's GCC passes --as-needed to the linker unless a sanitizer is on
# (`gcc -dumpspecs`: %{!fsanitize=*:--as-needed}), so a list that is too long does not
# show in a release build: check a list with `readelf -d PROGRAM | grep NEEDED` on a
# release build (what the linker kept) and by linking with SAN=1. A list that is too
# short fails to link. A program without a PKGS_ line links every package and the
# build says so: give it one.
PKGS_mcd := libevent libevent_pthreads openssl inih
PKGS_mctl := sqlite3 jansson inih
LDLIBS_mctl := -lm
PKGS_mcmon := libevent sqlite3 jansson inih
LDLIBS_mcmon := -lm
PKGS_mcalert := libevent sqlite3 jansson libcurl libstrophe inih
PKGS_mcstatus := libevent sqlite3 jansson libcurl inih
# unit tests (each also links cmocka)
PKGS_test_alerter_text := libevent sqlite3 jansson libstrophe inih
PKGS_test_alerter_remedy := sqlite3 jansson inih
PKGS_test_clock :=
PKGS_test_cluster := inih
PKGS_test_config := inih
PKGS_test_conncount :=
PKGS_test_detect := inih
LDLIBS_test_detect := -lm
PKGS_test_detect_tail := inih
LDLIBS_test_detect_tail := -lm
LDLIBS_test_kinds := -lm
PKGS_test_errbuf :=
PKGS_test_escalation := sqlite3 jansson inih
PKGS_test_heavy :=
PKGS_test_histogram :=
PKGS_test_httpd := libevent
PKGS_test_binproto := libevent libevent_pthreads openssl inih
PKGS_test_ilog := sqlite3 jansson
PKGS_test_ilog_escalate := sqlite3 jansson
PKGS_test_ilog_heartbeat := sqlite3 jansson
PKGS_test_ilog_maintenance := sqlite3 jansson inih
PKGS_test_ilog_outbox := sqlite3 jansson
PKGS_test_ilog_pages := sqlite3 jansson
PKGS_test_history := libevent sqlite3 jansson inih
LDLIBS_test_history := -lm
PKGS_test_ilog_remedy := sqlite3 jansson
PKGS_test_ketama := libcrypto
PKGS_test_kinds := sqlite3 jansson inih
PKGS_test_log :=
PKGS_test_maintwindow := inih
PKGS_test_mcclient :=
PKGS_test_mcconn := libevent
PKGS_test_mcreply :=
PKGS_test_mctl_time := sqlite3 jansson inih
PKGS_test_svgchart := sqlite3 jansson inih expat
LDLIBS_test_svgchart := -lm
PKGS_test_postmortem := sqlite3 jansson inih
LDLIBS_test_postmortem := -lm
PKGS_test_monconfig := inih
LDLIBS_test_monconfig := -lm
PKGS_test_monstate := jansson
PKGS_test_nodestats :=
LDLIBS_test_nodestats := -lm
PKGS_test_who :=
PKGS_test_impact := libevent sqlite3 jansson inih
LDLIBS_test_impact := -lm
LDLIBS_test_who := -lm
PKGS_test_parse :=
PKGS_test_pending := sqlite3 jansson
PKGS_test_promtext :=
PKGS_test_rate :=
PKGS_test_proto :=
PKGS_test_proxy_backend := inih libcrypto
PKGS_test_rotation := sqlite3 jansson inih
PKGS_test_sha256 := libcrypto
PKGS_test_sdnotify :=
PKGS_test_prefixstats :=
PKGS_test_sources :=
PKGS_test_status_model := sqlite3 jansson inih
PKGS_test_status_maintenance := sqlite3 jansson inih
PKGS_test_status_sinks := jansson inih
PKGS_test_status_groups := sqlite3 jansson inih zlib
PKGS_test_subscribers := libevent sqlite3 jansson libcurl inih
PKGS_test_statuspage_text := sqlite3 jansson inih
PKGS_test_store :=
PKGS_test_tenant_registry :=
PKGS_test_tenants :=
PKGS_test_tenants_edit :=
PKGS_test_utctime :=
PKGS_test_watch := libevent sqlite3 jansson inih
LDLIBS_test_watch := -lm
PKGS_test_watch_proxy := libevent sqlite3 jansson inih
LDLIBS_test_watch_proxy := -lm
PKGS_test_watch_who := libevent sqlite3 jansson inih
LDLIBS_test_watch_who := -lm
PKGS_test_watchdog := sqlite3 jansson libcurl inih
PKGS_test_xmpp := libstrophe
# test tools and benchmarks
PKGS_faultproxy := libevent
PKGS_ilog_writer := sqlite3 jansson
PKGS_incident_writer := sqlite3 jansson
PKGS_ketama_place := libcrypto
LDLIBS_ketama_place := -lm
PKGS_stormgen := inih
PKGS_closedloop := inih
PKGS_conncount_cost :=
PKGS_newconn := inih
PKGS_probe_floor := inih
PKGS_sources_mem :=
PKGS_start_peer :=
PKGS_start_peer_crypto := libcrypto
PKGS_status_history := sqlite3 jansson
# fuzz targets (clang links the sanitizers' own -lm, -lpthread, -ldl)
PKGS_fuzz_alertmanager := libevent sqlite3 jansson inih
PKGS_fuzz_chat := sqlite3 jansson libstrophe inih
PKGS_fuzz_cluster := inih
PKGS_fuzz_config := libevent sqlite3 jansson libcurl inih
PKGS_fuzz_conncount :=
PKGS_fuzz_httpd := libevent
PKGS_fuzz_binproto := libevent libevent_pthreads openssl inih
PKGS_fuzz_mcd := libevent libevent_pthreads openssl inih
PKGS_fuzz_mcclient := inih
PKGS_fuzz_mcconn := libevent sqlite3 jansson inih
PKGS_fuzz_mcreply :=
PKGS_fuzz_monstate := jansson
PKGS_fuzz_proto :=
PKGS_fuzz_proxyconf := inih openssl
PKGS_fuzz_sinkreply := jansson inih
PKGS_fuzz_statuspage := sqlite3 jansson inih
PKGS_fuzz_subform := libevent sqlite3 jansson libcurl inih
PKGS_fuzz_store :=
PKGS_fuzz_tenants :=
# $(call program_libs,NAME): the link flags of program NAME.
program_libs = $(if $(filter undefined,$(origin PKGS_$(1))),$(warning $(1) has no PKGS_$(1) \
	in the Makefile: linking every package)$(LIBS_ALL),$(call pkglibs,$(PKGS_$(1))) $(LDLIBS_$(1)))

# Each binary: its folder (and its packages, PKGS_<binary> above).
BINARIES := mcd mctl mcmon mcalert mcstatus
DIR_mcd := cache
DIR_mctl := cli
DIR_mcmon := monitor
DIR_mcalert := alerter
DIR_mcstatus := statuspage
# The status site renderer (lib/statussite/: configuration, model, renderers, site
# writing; public header statussite.h) is an archive of its own, linked by the two
# binaries that render the site: mcstatus and `mctl statuspage render`.
STATUSSITE_SRC := $(wildcard lib/statussite/*.c)
STATUSSITE_OBJ := $(STATUSSITE_SRC:%.c=$(OBJDIR)/%.o)
STATUSSITE := $(OBJDIR)/libstatussite.a
$(STATUSSITE): $(STATUSSITE_OBJ)
	@mkdir -p $(@D)
	@rm -f $@
	$(AR) rcs $@ $^
# Archives a binary links besides its own folder's and libmcops.a.
EXTRA_mctl = $(STATUSSITE)
EXTRA_mcstatus = $(STATUSSITE)

LIB_SRC := $(wildcard lib/*.c lib/ilog/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(OBJDIR)/%.o)
LIBMCOPS := $(OBJDIR)/libmcops.a

# A binary's folder: main.c plus the rest, which goes into an archive that the unit
# tests link too (tests call modules without a process).
define binary_rules
$(1)_SRC := $$(filter-out $$(DIR_$(1))/main.c,$$(wildcard $$(DIR_$(1))/*.c))
$(1)_OBJ := $$($(1)_SRC:%.c=$$(OBJDIR)/%.o)
$(1)_LIB := $$(OBJDIR)/lib$$(DIR_$(1)).a
$$($(1)_LIB): $$($(1)_OBJ)
	@mkdir -p $$(@D)
	@rm -f $$@
	$$(AR) rcs $$@ $$^
ifneq ($$(wildcard $$(DIR_$(1))/main.c),)
BUILT_BINARIES += $$(BINDIR)/$(1)
$$(BINDIR)/$(1): $$(OBJDIR)/$$(DIR_$(1))/main.o $$($(1)_LIB) $$(EXTRA_$(1)) $$(LIBMCOPS)
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(call program_libs,$(1))
endif
endef
$(foreach b,$(BINARIES),$(eval $(call binary_rules,$(b))))
FOLDER_LIBS := $(foreach b,$(BINARIES),$(if $($(b)_OBJ),$($(b)_LIB))) $(STATUSSITE)

FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_OBJDIR := build/fuzz
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_OBJDIR)/%)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(OBJDIR)/tests/%)
# What the unit tests share (temporary directories, a fake clock, a temporary
# incident log; the detector tests' simulated world, detect_world.c): an archive, so
# that a test links only the parts it calls (the temporary log, helper_ilog.c, brings
# SQLite; the world, monitor/detect; a watch over a configuration, watch_fixture.c).
UNIT_HELPER_OBJ := $(OBJDIR)/tests/unit/helper.o $(OBJDIR)/tests/unit/helper_ilog.o \
	$(OBJDIR)/tests/unit/detect_world.o $(OBJDIR)/tests/unit/watch_fixture.o
UNIT_HELPER_LIB := $(OBJDIR)/tests/unit/libtesthelper.a
TOOL_SRC := $(wildcard tests/tools/*.c bench/*.c)
TOOL_BIN := $(TOOL_SRC:%.c=$(OBJDIR)/%)

.PHONY: all install _install deb _deb units setup check _check unit integration fuzz fuzz-short bench _bench demo _demo drill _drill clean tools

all: $(BUILT_BINARIES) tools

tools: $(TOOL_BIN)

$(LIBMCOPS): $(LIB_OBJ)
	@mkdir -p $(@D)
	@rm -f $@
	$(AR) rcs $@ $^

$(OBJDIR)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CPPFLAGS_PKG) $(CFLAGS) -MMD -MP -c -o $@ $<

# Named here, the objects are not intermediate files that make would remove.
$(UNIT_HELPER_LIB): $(UNIT_HELPER_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^
# They include module headers by their folder ("monitor/detect.h"), as the tests do.
$(UNIT_HELPER_OBJ): CPPFLAGS += -I.
# The unit-test rule below tracks helper.h only.
$(OBJDIR)/tests/test_detect $(OBJDIR)/tests/test_detect_tail $(OBJDIR)/tests/test_watch_proxy \
    $(OBJDIR)/tests/test_watch_who: \
	tests/unit/detect_world.h
$(OBJDIR)/tests/test_watch $(OBJDIR)/tests/test_watch_proxy $(OBJDIR)/tests/test_watch_who \
    $(OBJDIR)/tests/test_history: \
	tests/unit/watch_fixture.h

$(OBJDIR)/tests/%: tests/unit/%.c tests/unit/helper.h $(UNIT_HELPER_LIB) $(FOLDER_LIBS) $(LIBMCOPS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -I. $(CPPFLAGS_PKG) $(CFLAGS) -o $@ $< $(UNIT_HELPER_LIB) \
		$(FOLDER_LIBS) $(LIBMCOPS) $(LDFLAGS) $(call program_libs,$*) $(call pkglibs,cmocka)

$(OBJDIR)/tests/tools/%: tests/tools/%.c $(LIBMCOPS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CPPFLAGS_PKG) $(CFLAGS) -o $@ $< $(LIBMCOPS) $(LDFLAGS) \
		$(call program_libs,$*)

$(OBJDIR)/bench/%: bench/%.c $(LIBMCOPS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CPPFLAGS_PKG) $(CFLAGS) -o $@ $< $(LIBMCOPS) $(LDFLAGS) \
		$(call program_libs,$*)

# sources_mem measures mcd's per-source table (cache/sources.h): it links mcd's
# folder archive besides libmcops.
$(OBJDIR)/bench/sources_mem: bench/sources_mem.c $(mcd_LIB) $(LIBMCOPS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -I. $(CPPFLAGS_PKG) $(CFLAGS) -o $@ $< $(mcd_LIB) $(LIBMCOPS) \
		$(LDFLAGS) $(call program_libs,sources_mem)

setup:
	@scripts/setup

# --- tests -----------------------------------------------------------------------

check: setup
	@$(MAKE) --no-print-directory _check

# The drill times the toolkit against the issue's bounds (docs/drill.md): it runs the
# release binaries even under SAN=1, whose 2-5x slower code is latency noise as large
# as the 5-15 ms tails the drill plays; the sanitizers check the same code in the unit
# and integration tests.
_check: all $(UNIT_BIN) $(FUZZ_BIN)
ifeq ($(SAN),1)
	@$(MAKE) --no-print-directory SAN=0 all
endif
	@MCOPS_BIN=$(abspath $(BINDIR)) MCOPS_TOOLS=$(abspath $(OBJDIR)) \
		DRILL_BIN=$(abspath bin) DRILL_TOOLS=$(abspath build/rel) \
		scripts/check $(UNIT_BIN) -- $(FUZZ_BIN)

unit: $(UNIT_BIN)
	@scripts/run-unit $(UNIT_BIN)

integration: all
	@MCOPS_BIN=$(abspath $(BINDIR)) MCOPS_TOOLS=$(abspath $(OBJDIR)) scripts/run-integration $(T)

# --- fuzzing (clang + libFuzzer) ---------------------------------------------------

FUZZ_CFLAGS := -g -O1 -std=c11 -fsanitize=fuzzer-no-link,address,undefined
FUZZ_SECONDS ?= 60
FUZZ_SHORT_SECONDS ?= 10
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_OBJDIR)/%.o)
FUZZ_FOLDER_OBJ := $(foreach b,$(BINARIES),$($(b)_SRC:%.c=$(FUZZ_OBJDIR)/%.o)) \
	$(STATUSSITE_SRC:%.c=$(FUZZ_OBJDIR)/%.o)

# -MMD as for the other flavors: without it a changed header left these objects stale
# (a struct's new layout unseen by half the target).
$(FUZZ_OBJDIR)/%.o: %.c
	@mkdir -p $(@D)
	clang $(CPPFLAGS) $(CPPFLAGS_PKG) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

$(FUZZ_OBJDIR)/libfuzzmcops.a: $(FUZZ_LIB_OBJ) $(FUZZ_FOLDER_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(FUZZ_OBJDIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJDIR)/libfuzzmcops.a
	clang $(CPPFLAGS) -I. $(CPPFLAGS_PKG) $(FUZZ_CFLAGS) -MMD -MP -fsanitize=fuzzer -o $@ $< \
		$(FUZZ_OBJDIR)/libfuzzmcops.a $(call program_libs,fuzz_$*) -pthread

fuzz-short: $(FUZZ_BIN)
	@scripts/run-fuzz $(FUZZ_SHORT_SECONDS) $(FUZZ_BIN)

fuzz: setup
	@$(MAKE) --no-print-directory _fuzz
_fuzz: $(FUZZ_BIN)
	@scripts/run-fuzz $(FUZZ_SECONDS) $(FUZZ_BIN)

# --- installing: make install, the systemd units, make deb -------------------------

# The units, with the installed paths filled in (dist/systemd/*.in; tests verify them).
UNIT_IN := $(wildcard dist/systemd/*.service.in)
UNITS := $(UNIT_IN:dist/systemd/%.in=build/units/%)
UNIT_SBINDIR ?= $(PREFIX)/sbin
units: $(UNITS)
build/units/%: dist/systemd/%.in FORCE
	@mkdir -p $(@D)
	sed -e 's|@SBINDIR@|$(UNIT_SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
		-e 's|@STATEDIR@|$(STATEDIR)|g' $< > $@.tmp && mv $@.tmp $@
FORCE:

MAN_PAGES := $(wildcard man/*.[158])

# The daemons in sbin/, mctl in bin/; the example configuration only where there is
# none (an operator's edited file is never overwritten); the state directory and the
# site in it. The system user and the secrets are the package's (debian/postinst) or
# the operator's (README, "Installing on a server").
install:
	@$(MAKE) --no-print-directory INSTALL_BUILD=1 SAN=0 _install
_install: $(BUILT_BINARIES) $(UNITS)
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin \
		$(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSCONFDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(BINDIR)/mcd $(BINDIR)/mcmon $(BINDIR)/mcalert $(BINDIR)/mcstatus \
		$(DESTDIR)$(PREFIX)/sbin/
	install -m 0755 $(BINDIR)/mctl $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 $(UNITS) $(DESTDIR)$(SYSTEMDUNITDIR)/
	install -m 0644 man/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 man/*.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 man/*.8 $(DESTDIR)$(MANDIR)/man8/
	[ -e $(DESTDIR)$(SYSCONFDIR)/mcops.conf ] || \
		install -m 0644 dist/mcops.conf $(DESTDIR)$(SYSCONFDIR)/mcops.conf
	install -d -m 0755 $(DESTDIR)$(STATEDIR) $(DESTDIR)$(STATEDIR)/www

# The Debian package, built by dpkg-buildpackage from debian/ in a copy of the tree
# (build/deb/src), so that the checkout's bin/ and build/ stay as they are.
MCOPS_VERSION = $(shell dpkg-parsechangelog -l debian/changelog -S Version 2>/dev/null)
deb: setup
	@$(MAKE) --no-print-directory _deb
_deb:
	rm -rf build/deb && mkdir -p build/deb/src
	tar -C . --exclude=./build --exclude=./bin --exclude=./var --exclude=./.git -cf - . | \
		tar -C build/deb/src -xf -
	cd build/deb/src && dpkg-buildpackage -b -us -uc -j2 >../build.log 2>&1 || \
		{ tail -40 ../build.log; exit 1; }
	@ls build/deb/mcops_$(MCOPS_VERSION)_*.deb

# --- benchmarks, demo ------------------------------------------------------------

bench: setup
	@$(MAKE) --no-print-directory SAN=0 _bench

_bench: all
	@MCOPS_BIN=$(abspath bin) MCOPS_TOOLS=$(abspath build/rel) scripts/run-bench $(B)

demo: setup
	@$(MAKE) --no-print-directory SAN=0 _demo

_demo: all
	@scripts/demo

# The incident drill (docs/drill.md): the whole toolkit on the proxy tier, the outages played and timed.
drill: setup
	@$(MAKE) --no-print-directory _drill

_drill: all
	@MCOPS_BIN=$(abspath $(BINDIR)) MCOPS_TOOLS=$(abspath $(OBJDIR)) /usr/bin/python3 tests/drill/drill.py

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)
