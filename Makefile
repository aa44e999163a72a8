# SPDX-License-Identifier: ISC
# nbmq: nbmqd, libnbmq, nbmqcat.  `make run` and `make check` are the two
# commands a newcomer types; everything else hangs off them.

PREFIX	?= /usr/local
# The configuration: /etc for the system's prefixes, else under PREFIX
# (make PREFIX=/opt/nbmq: /opt/nbmq/etc/nbmq/nbmqd.conf).  nbmqd is built
# with it as its default -c: pass the same PREFIX or SYSCONFDIR to make
# and to make install.
SYSCONFDIR ?= $(if $(filter /usr /usr/local,$(PREFIX)),/etc,$(PREFIX)/etc)
DESTDIR	?=
O	?= build
CC	?= cc
SAN	?=

PKGS	 = libevent inih check libsodium libsystemd hiredis
DEBPKGS	 = build-essential pkg-config libevent-dev libinih-dev check \
	   libsodium-dev libsystemd-dev libhiredis-dev redis-server python3 \
	   clang libclang-rt-dev gcovr valgrind strace man-db \
	   stun-client coturn tshark iptables nftables iproute2 systemd \
	   prometheus python3-prometheus-client python3-pytest python3-dev

# CPPFLAGS, CFLAGS and LDFLAGS are the builder's: what nbmq needs is in
# NBMQ_CPPFLAGS and NBMQ_CFLAGS and stays whatever they are set to (make
# CFLAGS=-O0 builds); the builder's come after nbmq's, so they win, and
# the sanitizers' (SAN) after both.  Every object compiled also writes
# its header dependencies (DEPFLAGS) next to it, in a .d file.
CFLAGS	?= -O2 -g
NBMQ_CPPFLAGS	= -D_GNU_SOURCE -Iinclude -Iclient-lib -Icommon -Ictl -Idaemon
NBMQ_CFLAGS	= -std=gnu11 -Wall -Wextra -Wshadow -Wstrict-prototypes \
	   -Wmissing-prototypes -Wno-unused-parameter -fno-strict-aliasing
DEPFLAGS	= -MMD -MP
# Hardening by default, as Debian builds packages: stack protector, PIE,
# full RELRO, and _FORTIFY_SOURCE where it works (optimised builds: the
# sanitizer and coverage builds leave it out).  HARDEN= turns it off.
HARDEN		?= 1
ifeq ($(HARDEN),1)
NBMQ_CFLAGS	+= -fstack-protector-strong -fPIE
RELRO_LDFLAGS	 = -Wl,-z,relro -Wl,-z,now
NBMQ_LDFLAGS	 = -pie $(RELRO_LDFLAGS)
ifeq ($(SAN),)
NBMQ_CPPFLAGS	+= -D_FORTIFY_SOURCE=2
endif
endif
SAN_CFLAGS	=
SAN_LDFLAGS	=
ifeq ($(SAN),1)
SAN_CFLAGS	= -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
	   -fno-sanitize-recover=undefined
SAN_LDFLAGS	= -fsanitize=address,undefined
endif
# libFuzzer targets (CC=clang): objects instrumented, the fuzzer linked in
# by the fuzz_% rule only.
ifeq ($(SAN),fuzz)
SAN_CFLAGS	= -O1 -fsanitize=fuzzer-no-link,address,undefined \
	   -fno-omit-frame-pointer -fno-sanitize-recover=undefined
SAN_LDFLAGS	= -fsanitize=address,undefined
endif
# gcov (make coverage): no optimisation, so lines and branches map back.
ifeq ($(SAN),cov)
SAN_CFLAGS	= -O0 --coverage
SAN_LDFLAGS	= --coverage
endif
ALL_CFLAGS	= $(NBMQ_CPPFLAGS) $(CPPFLAGS) $(NBMQ_CFLAGS) $(CFLAGS) \
		  $(SAN_CFLAGS)
ALL_LDFLAGS	= $(NBMQ_LDFLAGS) $(LDFLAGS) $(SAN_LDFLAGS)
SHLIB_LDFLAGS	= $(RELRO_LDFLAGS) $(LDFLAGS) $(SAN_LDFLAGS)

EVENT_LIBS	= $(shell pkg-config --libs libevent 2>/dev/null || echo -levent)
INIH_LIBS	= $(shell pkg-config --libs inih 2>/dev/null || echo -linih)
CHECK_CFLAGS	= $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS	= $(shell pkg-config --libs check 2>/dev/null || echo -lcheck)
SODIUM_LIBS	= $(shell pkg-config --libs libsodium 2>/dev/null || echo -lsodium)
HIREDIS_LIBS	= $(shell pkg-config --libs hiredis 2>/dev/null || echo -lhiredis)

# The version is NBMQ_VERSION in client-lib/nbmq.h, and only there: the
# programs print it, the library and nbmq.pc take it from here.
SOVER	= 0
LIBVER	:= $(shell sed -n 's/.*define NBMQ_VERSION[^"]*"\([^"]*\)".*/\1/p' \
	    client-lib/nbmq.h)

# The pure core: time and I/O passed in; it calls no clock, socket,
# libevent or file function of its own, and includes nbmqd.h, never the
# shell's shell.h or a libevent header (tests/purity.sh, in make check).
PURE_SRCS = daemon/opts.c daemon/addr.c daemon/frame.c daemon/msg.c \
	    daemon/outbox.c daemon/reasm.c daemon/hmap.c daemon/sock.c daemon/sockout.c \
	    daemon/safe.c \
	    daemon/session.c \
	    daemon/stun.c daemon/stunsrv.c daemon/stuncli.c \
	    daemon/crypt.c daemon/crypt_sodium.c daemon/pace.c daemon/window.c \
	    common/ipc-codec.c
# Beside it: what is read from the system at start-up and reload (the
# configuration, access control's names, keys and plugins) and the log.
# Linked with it wherever the core is (the unit tests, the simulator).
CONF_SRCS = daemon/config.c daemon/acl.c daemon/cryptconf.c daemon/log.c
CORE_SRCS = $(PURE_SRCS) $(CONF_SRCS)
# The libevent shell, and in it delivery to the applications (deliver.c:
# the shell's types, shell.h, but no clock, socket or libevent call; unit
# tested, so linked with the core into the unit tests).
SHELL_PURE_SRCS = daemon/deliver.c
SHELL_SRCS = daemon/metrics.c common/promtext.c daemon/udp.c daemon/ipc.c daemon/ipcreq.c daemon/daemon.c \
	     daemon/reload.c \
	     daemon/ctl.c daemon/stunidx.c $(SHELL_PURE_SRCS)
LIB_SRCS  = client-lib/nbmq.c common/ipc-codec.c

CORE_OBJS  = $(CORE_SRCS:%.c=$(O)/%.o)
PURE_OBJS  = $(PURE_SRCS:%.c=$(O)/%.o)
CONF_OBJS  = $(CONF_SRCS:%.c=$(O)/%.o)
SHELL_PURE_OBJS = $(SHELL_PURE_SRCS:%.c=$(O)/%.o)
SHELL_OBJS = $(SHELL_SRCS:%.c=$(O)/%.o)
LIB_OBJS   = $(LIB_SRCS:%.c=$(O)/pic/%.o)

UNIT_TESTS = $(patsubst tests/%.c,$(O)/tests/%,$(wildcard tests/test_*.c))

PROGS	= $(O)/nbmqd $(O)/nbmqcat $(O)/nbmqctl
LIBS	= $(O)/libnbmq.so.$(LIBVER) $(O)/libnbmq.a $(O)/nbmq.pc

.PHONY: all tests deps deb run check check-purity check-layers check-unit check-int check-asan clean install \
	uninstall fuzz check-fuzz coverage check-coverage check-valgrind \
	check-valgrind-all sim check-sim mutants check-mutants check-asan-all
# The Python binding's optional C part (client-lib/python/nbmq/_speedups.c:
# send() and recv() at a third of their ctypes cost), built next to the
# package's .py files so that PYTHONPATH=client-lib/python finds it.  It
# links nothing of nbmq (it is handed the functions ctypes loaded), so one
# plain build serves every O= and SAN= build; without Python.h (package
# python3-dev) the binding stays on ctypes alone.
PY_INC	:= $(shell /usr/bin/python3 -c 'import sysconfig; \
	    print(sysconfig.get_paths()["include"])' 2>/dev/null)
PY_EXT	:= $(shell /usr/bin/python3 -c 'import sysconfig; \
	    print(sysconfig.get_config_var("EXT_SUFFIX"))' 2>/dev/null)
ifneq ($(and $(PY_EXT),$(wildcard $(PY_INC)/Python.h)),)
PY_SPEEDUPS	= client-lib/python/nbmq/_speedups$(PY_EXT)
endif

# Plain make builds what is installed and the examples: no test library
# needed.  `make tests` adds the test programs (Check, the simulator, the
# test tools); every check target builds them.
all: $(PROGS) $(LIBS) $(O)/examples/hello $(PY_SPEEDUPS)
tests: all $(UNIT_TESTS) $(O)/tests/apptool

PY_CFLAGS	= $(filter-out --coverage -fprofile-arcs -ftest-coverage \
	    -fsanitize=%,$(CFLAGS))
client-lib/python/nbmq/_speedups$(PY_EXT): client-lib/python/nbmq/_speedups.c
	$(CC) -shared -fPIC -Wall -Wextra -Wno-missing-field-initializers \
	    $(CPPFLAGS) -I$(PY_INC) $(PY_CFLAGS) $(RELRO_LDFLAGS) \
	    $(filter-out --coverage -fsanitize=%,$(LDFLAGS)) \
	    -o $@.$$$$.tmp $< && mv -f $@.$$$$.tmp $@

deps:
	@if pkg-config --exists $(PKGS) 2>/dev/null && \
	    command -v python3 >/dev/null && command -v cc >/dev/null && \
	    command -v clang >/dev/null && command -v gcovr >/dev/null && \
	    [ -f "$$(clang -print-file-name=libclang_rt.fuzzer-$$(uname -m).a)" ] && \
	    command -v valgrind >/dev/null && command -v stun >/dev/null && \
	    command -v turnutils_stunclient >/dev/null && \
	    command -v tshark >/dev/null && command -v iptables >/dev/null && \
	    command -v nft >/dev/null && command -v ip >/dev/null && \
	    command -v strace >/dev/null && command -v man >/dev/null && \
	    command -v systemd-analyze >/dev/null && \
	    command -v promtool >/dev/null && \
	    command -v redis-server >/dev/null && \
	    /usr/bin/python3 -c 'import prometheus_client, pytest' \
	    2>/dev/null && [ -f "$(PY_INC)/Python.h" ]; then \
		echo "deps: all present"; \
	else \
		SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		echo "deps: installing $(DEBPKGS)"; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
		    --no-install-recommends $(DEBPKGS); \
	fi

# Headers: an object is rebuilt when a header it included changed (its
# .d, from DEPFLAGS).  An object without a .d (a tree built before they
# existed) is rebuilt once: a .d named as a target without a rule counts
# as new when it is missing (named, not found by a pattern: an
# intermediate file that is missing would not count).
DEPS	= $(patsubst %.c,$(O)/%.d,$(wildcard daemon/*.c client-lib/*.c \
	    common/*.c ctl/*.c tests/*.c tests/fuzz/*.c)) $(LIB_SRCS:%.c=$(O)/pic/%.d)
$(O)/%.o: %.c $(O)/%.d
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(O)/pic/%.o: %.c $(O)/pic/%.d
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -fPIC -fvisibility=hidden -c -o $@ $<

$(DEPS):
-include $(wildcard $(DEPS))
# Objects are kept, test_*.o included (found by a pattern, they would be
# intermediate files and deleted; the next make, reading their .d, would
# then build them again).
.SECONDARY: $(DEPS:.d=.o)

$(O)/nbmqd: $(O)/daemon/main.o $(SHELL_OBJS) $(CORE_OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(EVENT_LIBS) $(INIH_LIBS) -lsystemd \
	    $(SODIUM_LIBS) $(HIREDIS_LIBS)

$(O)/libnbmq.so.$(LIBVER): $(LIB_OBJS)
	$(CC) $(SHLIB_LDFLAGS) -shared -Wl,-soname,libnbmq.so.$(SOVER) -o $@ $^
	ln -sf libnbmq.so.$(LIBVER) $(O)/libnbmq.so.$(SOVER)
	ln -sf libnbmq.so.$(SOVER) $(O)/libnbmq.so

$(O)/libnbmq.a: $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(O)/nbmq.pc: client-lib/nbmq.pc.in
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(LIBVER)|' \
	    -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	    $< > $@

# nbmqd's default configuration file follows SYSCONFDIR.
$(O)/daemon/main.o: NBMQ_CPPFLAGS += \
	-DNBMQD_CONF='"$(SYSCONFDIR)/nbmq/nbmqd.conf"'

$(O)/nbmqcat: $(O)/client-lib/nbmqcat.o $(O)/libnbmq.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^

# nbmqctl speaks the IPC itself, through the control client it shares
# with the bench (ctlclient.c) over the protocol's codec.
CTL_OBJS = $(O)/ctl/ctlclient.o $(O)/common/ipc-codec.o \
	   $(O)/common/promtext.o
$(O)/nbmqctl: $(O)/ctl/nbmqctl.o $(CTL_OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(SODIUM_LIBS)

# The README example, built the way a user builds it: against the
# installed-style header and the shared library.
$(O)/examples/hello: examples/hello.c client-lib/nbmq.h $(O)/libnbmq.so.$(LIBVER)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes -o $@ $< -L$(O) -lnbmq \
	    -Wl,-rpath,$(abspath $(O)) $(ALL_LDFLAGS)

# Encryption: the encryptor interface's users, and the example plugin
# (not secure: it shows the interface), built as a user would build one.
$(O)/daemon/crypt.o $(O)/daemon/crypt_sodium.o: include/nbmq_encryptor.h \
    daemon/crypt_sodium.h
$(O)/tests/test_crypt.o: include/nbmq_encryptor.h daemon/crypt_sodium.h
all: $(O)/examples/encryptor_xor.so
$(O)/examples/encryptor_xor.so: examples/encryptor_xor.c \
    include/nbmq_encryptor.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fPIC -shared -o $@ $< $(SHLIB_LDFLAGS)

$(O)/tests/apptool: $(O)/tests/apptool.o $(O)/libnbmq.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^

# test_lib includes the library itself (tests/test_lib.c).
$(O)/tests/test_lib.o: client-lib/nbmq.c
# Every unit test links tests/unit.c (the runner, allocations that fail on
# demand: alloc_fail_in) and the fake network (tests/fakenet.c: fake ops,
# clock and datagram queues between cores), as chrony links test.o.
WRAP_LDFLAGS	= -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc
UNIT_OBJS	= $(O)/tests/unit.o $(O)/tests/fakenet.o
$(O)/tests/test_%: $(O)/tests/test_%.o $(UNIT_OBJS) $(CORE_OBJS) \
    $(SHELL_PURE_OBJS)
	$(CC) $(ALL_LDFLAGS) $(WRAP_LDFLAGS) -o $@ $^ $(CHECK_LIBS) \
	    $(INIH_LIBS) -lsystemd $(SODIUM_LIBS)

$(O)/tests/%.o: tests/%.c $(O)/tests/%.d
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) $(CHECK_CFLAGS) -c -o $@ $<

# Unit tests and the simulator; the integration tests once, on the build
# instrumented for coverage, which then holds every file to its floor
# (make coverage; CI runs them again on the optimised build: make
# check-int); a sample of the mutation gate (make mutants); much of it
# again under ASan+UBSan; the fuzz corpora (crashes found kept as
# regressions) replayed once; valgrind.  (make fuzz: each fuzz target for
# a while, outside make check.)
# make check builds four trees (optimised, coverage, ASan, fuzz): each on
# every CPU.  (Only the builds: tests keep their own pace and output.)
BUILD_J	?= -j$(shell nproc 2>/dev/null || echo 1)

check: deps
	@O=$(O) tests/stage.sh tests $(MAKE) $(BUILD_J) tests
	@O=$(O) tests/stage.sh unit+sim $(MAKE) -j2 -Otarget check-unit check-sim
	@O=$(O) tests/stage.sh coverage $(MAKE) coverage
	@O=$(O) tests/stage.sh mutants $(MAKE) check-mutants
	@O=$(O) tests/stage.sh asan $(MAKE) check-asan
	@O=$(O) tests/stage.sh fuzz $(MAKE) check-fuzz
	@O=$(O) tests/stage.sh valgrind $(MAKE) check-valgrind
	@cat $(O)/check-stages.txt

check-unit: tests check-purity check-layers
	@set -e; for t in $(UNIT_TESTS); do echo "== $$t"; CK_FORK=yes $$t; done

# The core's boundary: its objects call no clock, socket, libevent or file
# function of their own, and neither they nor those beside them include
# the shell's header or libevent's (tests/purity.sh); the shell's pure
# delivery calls none either.
check-purity: $(PURE_OBJS) $(CONF_OBJS) $(SHELL_PURE_OBJS)
	@tests/purity.sh $(PURE_OBJS) --beside $(CONF_OBJS) \
	    --shell $(SHELL_PURE_OBJS)

# The daemon's files import in one direction: no cycle between the core's
# files nor between the shell's but those tests/layers-known.txt lists,
# and no call from the core into the shell (tests/layers.py, from nm).
check-layers: $(CORE_OBJS) $(SHELL_OBJS) $(O)/daemon/main.o
	@/usr/bin/python3 tests/layers.py --core $(CORE_OBJS) \
	    --shell $(SHELL_OBJS) $(O)/daemon/main.o

# A test part skipped for a tool that make deps installs fails under make
# (tests/lib.sh, have): the tools are part of the check, not optional.
# NBMQ_STRICT_TOOLS=0 make check-int lets them be skipped, said as such.
NBMQ_STRICT_TOOLS ?= 1
export NBMQ_STRICT_TOOLS

check-int: tests
	@O=$(O) tests/run-integration.sh

# Under ASan+UBSan: the unit tests, 200 seeds of the simulator, and the
# integration tests of ASAN_INT (every one in CI: check-asan-all).  The
# subset leaves out the slow floods and timings (int_floods, int_restart,
# int_ipcbounds, int_connfail, int_ctl, int_service, int_stun, int_hsflood:
# about 2.5 minutes under ASan) and the command-line and configuration
# tests whose code the unit tests run under ASan (int_config, int_usage,
# int_credential, int_nbmqcat, int_example), so that make check stays
# near 10 minutes.
ASAN_INT ?= tests/int_one_daemon.sh tests/int_two_daemons.sh \
	    tests/int_types.sh tests/int_safe.sh tests/int_exactly_once.sh \
	    tests/int_compat.sh tests/int_faults.sh tests/int_batch.sh \
	    tests/int_crypt.sh tests/int_claims.sh tests/int_ipc_raw.sh \
	    tests/int_appgone.sh tests/int_liveness.sh tests/int_metrics.sh \
	    tests/int_access.sh tests/int_redis.sh
check-asan:
	$(MAKE) $(BUILD_J) O=build/asan SAN=1 tests
	$(MAKE) -j2 -Otarget O=build/asan SAN=1 SIM_CHECK_SEEDS=200 \
	    check-unit check-sim
	INT_TESTS="$(ASAN_INT)" $(MAKE) O=build/asan SAN=1 check-int

check-asan-all:
	$(MAKE) $(BUILD_J) O=build/asan SAN=1 tests
	$(MAKE) O=build/asan SAN=1 check-int

# The deterministic simulator of the core (tests/sim.c): `make sim` runs
# SEEDS seeds from SIM_SEED (stopping after SIM_SECONDS of them, when
# set: CI's bounded run); make check runs SIM_CHECK_SEEDS (~15 s).  A
# failure prints its seed and the command that replays it, traced.
SEEDS		?= 100000
SIM_SEED	?= 1
SIM_SECONDS	?= 0
SIM_CHECK_SEEDS	?= 2000
tests: $(O)/tests/sim
$(O)/tests/sim: $(O)/tests/sim.o $(CORE_OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(INIH_LIBS) -lsystemd $(SODIUM_LIBS)

sim: tests
	$(O)/tests/sim -s $(SIM_SEED) -n $(SEEDS) -t $(SIM_SECONDS)

check-sim: tests
	$(O)/tests/sim -n $(SIM_CHECK_SEEDS)

# The mutation gate (tests/mutants.sh): each deliberate bug of
# tests/mutants.txt in turn, in a scratch copy of the tracked tree with its
# own incremental build (build/mutants), against the tests named for it.
# Fails on any survivor (a bug no test notices) or stale record (a text no
# longer in its file).  `make mutants` runs them all, two at a time (CI;
# 4 min of CPU: 5 to 7 min on 2 cores shared with other work);
# MUTANTS="id ..." runs those.  make check runs a sample of
# MUTANTS_CHECK_SAMPLE (about a minute), drawn anew every run: the seed is
# printed, and MUTANTS_SEED=N with MUTANTS_SAMPLE=K draws it again.
MUTANTS			?=
MUTANTS_CHECK_SAMPLE	?= 6
mutants:
	@MAKE="$(MAKE)" MUTANTS_DIR=$(CURDIR)/build/mutants \
	    tests/mutants.sh $(MUTANTS)

check-mutants:
	@MAKE="$(MAKE)" MUTANTS_DIR=$(CURDIR)/build/mutants-sample \
	    MUTANTS_SAMPLE=$${MUTANTS_SAMPLE:-$(MUTANTS_CHECK_SAMPLE)} \
	    MUTANTS_BASELINE=0 MUTANTS_JOBS=1 tests/mutants.sh

# Test helper: UDP and IPC floods (tests/int_floods.sh).
tests: $(O)/tests/floodtool
$(O)/tests/floodtool: $(O)/tests/floodtool.o $(O)/libnbmq.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(SODIUM_LIBS)

# libFuzzer targets (tests/fuzz/fuzz_*.c), built with clang under
# ASan+UBSan in build/fuzz.  `make fuzz` runs each for FUZZ_SECONDS and
# fails on any crash, leak or timeout; `make check-fuzz` runs each once
# over its seed corpus, where every crash found is kept as a regression.
FUZZ_SECONDS	?= 60
FUZZ_CC		?= clang
$(O)/tests/fuzz/fuzz_%: $(O)/tests/fuzz/fuzz_%.o $(CORE_OBJS)
	$(CC) $(ALL_LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(INIH_LIBS) -lsystemd \
	    $(SODIUM_LIBS)
$(O)/tests/fuzz/fuzz_ipc.o: client-lib/nbmq.c

fuzz:
	@FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_CC=$(FUZZ_CC) MAKE="$(MAKE)" \
	    tests/fuzz/run.sh fuzz

check-fuzz:
	@FUZZ_CC=$(FUZZ_CC) MAKE="$(MAKE)" BUILD_J="$(BUILD_J)" tests/fuzz/run.sh replay

# Coverage: gcc --coverage in build/cov, the unit and integration tests,
# then line and branch coverage of every daemon and client-lib file, held
# to the floors of tests/coverage-floors.txt (per file, per tree) by
# tests/coverage-check.sh.  Fails when coverage falls below one.
# The unit tests' output goes to build/cov/tests.log (failures shown); the
# integration tests' is shown as they run: make check runs them here.
COV_UNIT = $(patsubst $(O)/%,build/cov/%,$(UNIT_TESTS))
coverage:
	@mkdir -p build
	@$(MAKE) -s $(BUILD_J) O=build/cov SAN=cov tests 2>build/cov-build.log || \
	    { cat build/cov-build.log; exit 1; }
	@find build/cov -name '*.gcda' -delete
	@echo "coverage: unit tests in build/cov (log: build/cov/tests.log), then the integration tests"
	@rc=0; : >build/cov/tests.log; \
	for t in $(COV_UNIT); do CK_FORK=yes $$t >>build/cov/tests.log 2>&1 || \
	    { echo "FAIL $$t"; rc=1; }; done; \
	SAN=cov O=build/cov tests/run-integration.sh || rc=1; \
	tests/coverage-check.sh build/cov || rc=1; exit $$rc

# Quicker, for a developer: the unit tests alone under gcov (build/cov)
# hold session.c and sock.c to their thresholds (the daemon-wide figure
# needs the integration tests too: make coverage).
check-coverage:
	@mkdir -p build
	@$(MAKE) -s $(BUILD_J) O=build/cov SAN=cov tests 2>build/cov-build.log || \
	    { cat build/cov-build.log; exit 1; }
	@find build/cov -name '*.gcda' -delete
	@rc=0; for t in $(COV_UNIT); do \
	    CK_FORK=yes $$t >build/cov/unit.log 2>&1 || \
	    { cat build/cov/unit.log; rc=1; }; done; \
	tests/coverage-check.sh --core build/cov || rc=1; exit $$rc

# valgrind: the unit tests, then the integration tests of VALGRIND_INT
# with every daemon under valgrind --leak-check=full (tests/lib.sh);
# any error or leak fails.
# (The floods and the 10,000-message exchanges take minutes under valgrind:
# VALGRIND_INT="tests/int_*.sh" runs them all.)
VALGRIND_INT ?= tests/int_types.sh tests/int_faults.sh tests/int_example.sh
# The longest under valgrind start first, so that neither worker is left
# with one of them at the end (test_ext ~25 s, test_lib ~20 s, the rest
# 1 to 10 s each).
VALGRIND_FIRST = $(O)/tests/test_ext $(O)/tests/test_lib
check-valgrind: tests
	@echo "== valgrind: $(UNIT_TESTS)"
	@printf '%s\n' $(VALGRIND_FIRST) $(filter-out $(VALGRIND_FIRST), \
	    $(UNIT_TESTS)) | xargs -P 2 -I {} sh -c \
	    'CK_FORK=no valgrind -q --leak-check=full --error-exitcode=99 \
	    {} >{}.valgrind.log 2>&1 || { echo "valgrind {}:"; \
	    tail -n 40 {}.valgrind.log; exit 255; }'
	@set -e; for t in $(VALGRIND_INT); do \
	    O=$(O) VALGRIND=1 sh $$t; done

# Every integration test with the daemon under valgrind (about 3.5 min;
# CI runs it, make check runs the subset above to stay well under 10 min).
check-valgrind-all: tests
	$(MAKE) check-valgrind VALGRIND_INT="$(wildcard tests/int_*.sh)"

# Debian packages (debian/: nbmqd, libnbmq0, libnbmq-dev, nbmq-tools) from
# a copy of the tracked tree, the unit tests run by the build, lintian
# without error (tests/deb.sh); the .debs in build/deb/.  Installs
# debhelper and lintian first if missing (not make deps: make check does
# not build packages; CI runs make deb).
DEB_DEBPKGS	= debhelper lintian dpkg-dev fakeroot
deb:
	@if ! command -v dh >/dev/null || ! command -v lintian >/dev/null; then \
		SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
		    --no-install-recommends $(DEB_DEBPKGS) $(DEBPKGS); \
	fi
	tests/deb.sh

# A daemon in the foreground on the default config (RUN_CONF=FILE: yours),
# everything under build/.
RUN_CONF	?= conf/nbmqd.conf
run: deps
	$(MAKE) $(PROGS) $(LIBS)
	@mkdir -p $(O)/run
	@echo "nbmqd: IPC socket $(CURDIR)/$(O)/run/nbmqd.sock"
	@echo "  in another terminal:  export NBMQ_SOCKET=$(CURDIR)/$(O)/run/nbmqd.sock"
	@echo "    $(O)/nbmqcat -b 127.0.0.1:7000 -r"
	@echo "    echo hello | $(O)/nbmqcat -c 127.0.0.1:7000"
	exec $(O)/nbmqd -c $(RUN_CONF) -S $(CURDIR)/$(O)/run/nbmqd.sock

# Install paths.  The unit and the sysusers snippet go under PREFIX too
# (systemd also reads /usr/local/lib); the configuration under SYSCONFDIR
# (at the top: nbmqd is built with it), never over an existing file.
# uninstall keeps the configuration.
BINDIR		?= $(PREFIX)/bin
SBINDIR		?= $(PREFIX)/sbin
LIBDIR		?= $(PREFIX)/lib
INCLUDEDIR	?= $(PREFIX)/include
MANDIR		?= $(PREFIX)/share/man
SYSTEMDUNITDIR	?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR	?= $(PREFIX)/lib/sysusers.d

install: $(PROGS) $(LIBS)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) \
	    $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR) \
	    $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
	    $(DESTDIR)$(SYSCONFDIR)/nbmq
	install -m 755 $(O)/nbmqd $(DESTDIR)$(SBINDIR)/nbmqd
	install -m 755 $(O)/nbmqctl $(DESTDIR)$(BINDIR)/nbmqctl
	install -m 755 $(O)/nbmqcat $(DESTDIR)$(BINDIR)/nbmqcat
	install -m 755 $(O)/libnbmq.so.$(LIBVER) $(DESTDIR)$(LIBDIR)/
	ln -sf libnbmq.so.$(LIBVER) $(DESTDIR)$(LIBDIR)/libnbmq.so.$(SOVER)
	ln -sf libnbmq.so.$(SOVER) $(DESTDIR)$(LIBDIR)/libnbmq.so
	install -m 644 $(O)/libnbmq.a $(DESTDIR)$(LIBDIR)/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(LIBVER)|' \
	    -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	    client-lib/nbmq.pc.in >$(O)/nbmq.pc.install
	install -m 644 $(O)/nbmq.pc.install $(DESTDIR)$(LIBDIR)/pkgconfig/nbmq.pc
	install -m 644 client-lib/nbmq.h include/nbmq_encryptor.h \
	    $(DESTDIR)$(INCLUDEDIR)/
	sed -e 's|/usr/local/sbin/|$(SBINDIR)/|g' \
	    -e 's|/etc/nbmq/|$(SYSCONFDIR)/nbmq/|g' \
	    systemd/nbmqd.service >$(O)/nbmqd.service.install
	install -m 644 $(O)/nbmqd.service.install \
	    $(DESTDIR)$(SYSTEMDUNITDIR)/nbmqd.service
	install -m 644 systemd/nbmqd.sysusers $(DESTDIR)$(SYSUSERSDIR)/nbmqd.conf
	if [ -e $(DESTDIR)$(SYSCONFDIR)/nbmq/nbmqd.conf ]; then \
		echo "install: keeping $(DESTDIR)$(SYSCONFDIR)/nbmq/nbmqd.conf"; \
	else \
		install -m 644 conf/nbmqd.conf \
		    $(DESTDIR)$(SYSCONFDIR)/nbmq/nbmqd.conf; \
	fi
	for f in docs/*.[1-8]; do \
		[ -f "$$f" ] || continue; \
		d=$(DESTDIR)$(MANDIR)/man$${f##*.}; \
		install -d $$d && install -m 644 $$f $$d/ || exit 1; \
	done
	if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && \
	    command -v ldconfig >/dev/null; then ldconfig; fi

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/nbmqd $(DESTDIR)$(BINDIR)/nbmqctl \
	    $(DESTDIR)$(BINDIR)/nbmqcat \
	    $(DESTDIR)$(LIBDIR)/libnbmq.so.$(LIBVER) \
	    $(DESTDIR)$(LIBDIR)/libnbmq.so.$(SOVER) \
	    $(DESTDIR)$(LIBDIR)/libnbmq.so $(DESTDIR)$(LIBDIR)/libnbmq.a \
	    $(DESTDIR)$(LIBDIR)/pkgconfig/nbmq.pc \
	    $(DESTDIR)$(INCLUDEDIR)/nbmq.h \
	    $(DESTDIR)$(INCLUDEDIR)/nbmq_encryptor.h \
	    $(DESTDIR)$(SYSTEMDUNITDIR)/nbmqd.service \
	    $(DESTDIR)$(SYSUSERSDIR)/nbmqd.conf \
	    $(DESTDIR)$(MANDIR)/man8/nbmqd.8 $(DESTDIR)$(MANDIR)/man8/nbmqctl.8 \
	    $(DESTDIR)$(MANDIR)/man1/nbmqcat.1 \
	    $(DESTDIR)$(MANDIR)/man5/nbmqd.conf.5 \
	    $(DESTDIR)$(MANDIR)/man3/libnbmq.3
	@echo "uninstall: $(DESTDIR)$(SYSCONFDIR)/nbmq/nbmqd.conf is kept"

clean:
	rm -rf build client-lib/python/nbmq/_speedups*.so

# make bench: nbmq against raw-socket baselines through two real daemons
# and real applications (bench/nbmqbench.c).  Its own build in build/bench,
# -O2 and never sanitizers; not part of check.  BENCH_ARGS: e.g. --json.
BENCH_O		= build/bench
BENCH_ARGS	?=
# The peers set beside nbmq (libzmq, ENet) come with the bench's own
# dependency step, not make deps: make check does not need them.
BENCH_DEBPKGS	= libzmq3-dev libenet-dev python3-zmq
.PHONY: bench bench-deps bench-veth
bench-deps: deps
	@if ! pkg-config --exists libzmq || [ ! -f /usr/include/enet/enet.h ] || \
	    ! /usr/bin/python3 -c 'import zmq' 2>/dev/null; then \
		SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		echo "bench: installing $(BENCH_DEBPKGS)"; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
		    --no-install-recommends $(BENCH_DEBPKGS); \
	fi
bench: bench-deps
	$(MAKE) O=$(BENCH_O) SAN= $(BENCH_O)/nbmqd $(BENCH_O)/nbmqbench \
	    $(BENCH_O)/cryptbench $(BENCH_O)/pyperf
	$(BENCH_O)/nbmqbench --nbmqd $(BENCH_O)/nbmqd \
	    --json-file $(BENCH_O)/latest.json $(BENCH_ARGS)
	$(BENCH_O)/cryptbench
	/usr/bin/python3 bench/pybench.py --nbmqd $(BENCH_O)/nbmqd \
	    --lib $(BENCH_O)/libnbmq.so.$(SOVER) --cperf $(BENCH_O)/pyperf \
	    --json-file $(BENCH_O)/python.json

# The same cases across a veth pair between two network namespaces, raw
# UDP over the same veth as the baseline (bench/veth.c; root).
bench-veth: bench-deps
	$(MAKE) O=$(BENCH_O) SAN= $(BENCH_O)/nbmqd $(BENCH_O)/nbmqbench
	$(BENCH_O)/nbmqbench --veth --nbmqd $(BENCH_O)/nbmqd \
	    --json-file $(BENCH_O)/veth.json $(BENCH_ARGS)

# The Python cases' C reference (bench/pybench.py): tests/pyperf.c on the
# library as installed.
$(O)/pyperf: tests/pyperf.c $(O)/libnbmq.so.$(LIBVER)
	$(CC) $(ALL_CFLAGS) -o $@ tests/pyperf.c $(O)/libnbmq.so.$(SOVER) \
	    -Wl,-rpath,$(CURDIR)/$(O)

# The cost of encryption in the core, as a ratio to plain (bench/cryptbench.c).
$(O)/cryptbench: bench/cryptbench.c $(CORE_OBJS)
	$(CC) $(ALL_CFLAGS) -O2 -o $@ bench/cryptbench.c $(CORE_OBJS) \
	    $(INIH_LIBS) -lsystemd $(SODIUM_LIBS) $(ALL_LDFLAGS)

# nbmqbench, a file a job: nbmqbench.c (the cases, main), proc.c, baseline.c,
# apps.c, daemons.c, idle.c, report.c, veth.c (bench/bench.h); the daemons'
# counters through the control client nbmqctl uses (ctlclient.c).
BENCH_SRCS = bench/nbmqbench.c bench/proc.c bench/baseline.c bench/apps.c \
	     bench/daemons.c bench/idle.c bench/report.c bench/peers.c \
	     bench/veth.c
$(O)/nbmqbench: $(BENCH_SRCS) bench/bench.h client-lib/nbmq.h \
    ctl/ctlclient.h $(O)/ctl/ctlclient.o $(O)/libnbmq.a
	$(CC) $(ALL_CFLAGS) -O2 -o $@ $(BENCH_SRCS) $(O)/ctl/ctlclient.o \
	    $(O)/libnbmq.a $(ALL_LDFLAGS) $(SODIUM_LIBS) -lzmq -lenet -lm
