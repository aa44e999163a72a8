# nbmq: nbmqd, libnbmq, nbmqcat.  `make run` and `make check` are the two
# commands a newcomer types; everything else hangs off them.

PREFIX	?= /usr/local
DESTDIR	?=
O	?= build
CC	?= cc
SAN	?=

PKGS	 = libevent libinih check libsodium libsystemd
DEBPKGS	 = build-essential pkg-config libevent-dev libinih-dev check \
	   libsodium-dev libsystemd-dev python3

CFLAGS	?= -O2 -g
CFLAGS	+= -std=gnu11 -Wall -Wextra -Wshadow -Wstrict-prototypes \
	   -Wmissing-prototypes -Wno-unused-parameter -fno-strict-aliasing \
	   -D_GNU_SOURCE -Iclient-lib -Idaemon
ifeq ($(SAN),1)
CFLAGS	+= -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
	   -fno-sanitize-recover=undefined
LDFLAGS	+= -fsanitize=address,undefined
endif

EVENT_LIBS	= $(shell pkg-config --libs libevent 2>/dev/null || echo -levent)
INIH_LIBS	= $(shell pkg-config --libs inih 2>/dev/null || echo -linih)
CHECK_CFLAGS	= $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS	= $(shell pkg-config --libs check 2>/dev/null || echo -lcheck)

SOVER	= 0
LIBVER	= 0.1.0

# The pure core: linked by nbmqd and by the unit tests.
CORE_SRCS = daemon/opts.c daemon/addr.c daemon/frame.c daemon/msg.c \
	    daemon/outbox.c daemon/reasm.c daemon/hmap.c daemon/sock.c daemon/safe.c \
	    daemon/session.c daemon/log.c daemon/config.c \
	    client-lib/ipc-codec.c
# The libevent shell.
SHELL_SRCS = daemon/udp.c daemon/ipc.c daemon/daemon.c daemon/reload.c
LIB_SRCS  = client-lib/nbmq.c client-lib/ipc-codec.c

CORE_OBJS  = $(CORE_SRCS:%.c=$(O)/%.o)
SHELL_OBJS = $(SHELL_SRCS:%.c=$(O)/%.o)
LIB_OBJS   = $(LIB_SRCS:%.c=$(O)/pic/%.o)

UNIT_TESTS = $(patsubst tests/%.c,$(O)/tests/%,$(wildcard tests/test_*.c))

PROGS	= $(O)/nbmqd $(O)/nbmqcat
LIBS	= $(O)/libnbmq.so.$(LIBVER) $(O)/libnbmq.a $(O)/nbmq.pc

.PHONY: all deps run check check-unit check-int check-asan clean install \
	uninstall
all: $(PROGS) $(LIBS) $(UNIT_TESTS) $(O)/tests/apptool $(O)/examples/hello

deps:
	@if pkg-config --exists $(PKGS) 2>/dev/null && \
	    command -v python3 >/dev/null && command -v cc >/dev/null; then \
		echo "deps: all present"; \
	else \
		SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		echo "deps: installing $(DEBPKGS)"; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
		    --no-install-recommends $(DEBPKGS); \
	fi

$(O)/%.o: %.c daemon/nbmqd.h client-lib/nbmq.h client-lib/nbmq-protocol.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(O)/pic/%.o: %.c client-lib/nbmq.h client-lib/nbmq-protocol.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -fvisibility=hidden -c -o $@ $<

$(O)/nbmqd: $(O)/daemon/main.o $(SHELL_OBJS) $(CORE_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(EVENT_LIBS) $(INIH_LIBS) -lsystemd

$(O)/libnbmq.so.$(LIBVER): $(LIB_OBJS)
	$(CC) $(LDFLAGS) -shared -Wl,-soname,libnbmq.so.$(SOVER) -o $@ $^
	ln -sf libnbmq.so.$(LIBVER) $(O)/libnbmq.so.$(SOVER)
	ln -sf libnbmq.so.$(SOVER) $(O)/libnbmq.so

$(O)/libnbmq.a: $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(O)/nbmq.pc: client-lib/nbmq.pc.in
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(LIBVER)|' $< > $@

$(O)/nbmqcat: $(O)/client-lib/nbmqcat.o $(O)/libnbmq.a
	$(CC) $(LDFLAGS) -o $@ $^

# The README example, built the way a user builds it: against the
# installed-style header and the shared library.
$(O)/examples/hello: examples/hello.c client-lib/nbmq.h $(O)/libnbmq.so.$(LIBVER)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Wno-missing-prototypes -o $@ $< -L$(O) -lnbmq \
	    -Wl,-rpath,$(abspath $(O)) $(LDFLAGS)

$(O)/tests/apptool: $(O)/tests/apptool.o $(O)/libnbmq.a
	$(CC) $(LDFLAGS) -o $@ $^

$(O)/tests/test_%: $(O)/tests/test_%.o $(CORE_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(INIH_LIBS) -lsystemd

$(O)/tests/%.o: tests/%.c daemon/nbmqd.h client-lib/nbmq.h client-lib/nbmq-protocol.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CHECK_CFLAGS) -c -o $@ $<

# Unit tests, integration tests, then the same again under ASan+UBSan.
check: deps
	$(MAKE) all
	$(MAKE) check-unit check-int
	$(MAKE) check-asan

check-unit: all
	@set -e; for t in $(UNIT_TESTS); do echo "== $$t"; CK_FORK=yes $$t; done

check-int: all
	@O=$(O) tests/run-integration.sh

check-asan:
	$(MAKE) O=build/asan SAN=1 all
	$(MAKE) O=build/asan SAN=1 check-unit check-int

# A daemon in the foreground on the default config, everything under build/.
run: deps
	$(MAKE) $(PROGS) $(LIBS)
	@mkdir -p $(O)/run
	@echo "nbmqd: IPC socket $(CURDIR)/$(O)/run/nbmqd.sock"
	@echo "  in another terminal:  export NBMQ_SOCKET=$(CURDIR)/$(O)/run/nbmqd.sock"
	@echo "    $(O)/nbmqcat -b 127.0.0.1:7000 -r"
	@echo "    echo hello | $(O)/nbmqcat -c 127.0.0.1:7000"
	exec $(O)/nbmqd -c conf/nbmqd.conf -S $(CURDIR)/$(O)/run/nbmqd.sock

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin \
	    $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include
	install -m 755 $(O)/nbmqd $(DESTDIR)$(PREFIX)/sbin/nbmqd
	install -m 755 $(O)/nbmqcat $(DESTDIR)$(PREFIX)/bin/nbmqcat
	install -m 755 $(O)/libnbmq.so.$(LIBVER) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libnbmq.so.$(LIBVER) $(DESTDIR)$(PREFIX)/lib/libnbmq.so.$(SOVER)
	ln -sf libnbmq.so.$(SOVER) $(DESTDIR)$(PREFIX)/lib/libnbmq.so
	install -m 644 $(O)/libnbmq.a $(DESTDIR)$(PREFIX)/lib/
	install -m 644 $(O)/nbmq.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/
	install -m 644 client-lib/nbmq.h $(DESTDIR)$(PREFIX)/include/

clean:
	rm -rf build
