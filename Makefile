# xdpnat - build, test and demo.
#
#   make            build BPF objects, skeletons and the xdpnat binary
#   make deps       install the Debian packages needed (idempotent)
#   make demo       deps + build, then the main job in network namespaces
#   make check      deps + build, then every test (unit, bpf, fuzz, e2e)
#   make bench      the benchmark (tests/bench)
#   make install    PREFIX=/usr/local DESTDIR= (binary, man pages, example
#                   configuration, Grafana dashboard, systemd unit)

PREFIX  ?= /usr/local
DESTDIR ?=
SBINDIR ?= $(PREFIX)/sbin
# systemd looks here for units of /usr/local too
UNITDIR ?= $(PREFIX)/lib/systemd/system
BUILD   := build

CC      ?= gcc
CLANG   ?= clang
BPFTOOL ?= bpftool
ARCH    := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Iinclude -Ictl -I$(BUILD)
LDLIBS  := -lbpf -lxdp -lcurl -lmnl -ljson-c -lsystemd -lelf -lz -lpthread

BPF_CFLAGS := -O2 -g -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) \
	      -Wall -Werror -Iinclude -Ibpf -I$(BUILD)

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(BUILD)/%.bpf.o,$(BPF_SRCS))
BPF_SKELS := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))
BPF_HDRS  := $(wildcard bpf/*.h include/*.h)

# ctl/ is one folder per subsystem (common, config, daemon, wan, alg, cli, portmap)
# plus main.c. Base names are unique across folders, so a unit test
# tests/unit/test_NAME.c finds its module as ctl/*/NAME.c.
CTL_SRCS  := $(wildcard ctl/*.c ctl/*/*.c)
CTL_OBJS  := $(patsubst ctl/%.c,$(BUILD)/ctl/%.o,$(CTL_SRCS))
LIB_OBJS  := $(filter-out $(BUILD)/ctl/main.o,$(CTL_OBJS))
CTL_HDRS  := $(wildcard ctl/*.h ctl/*/*.h include/*.h)

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRCS))
TBPF_SRCS := $(wildcard tests/bpf/test_*.c)
TBPF_BINS := $(patsubst tests/bpf/%.c,$(BUILD)/tests/bpf/%,$(TBPF_SRCS))
TBPF_LIB  := $(filter-out $(TBPF_SRCS),$(wildcard tests/bpf/*.c))
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BUILD)/tests/fuzz/%,$(FUZZ_SRCS))
TEST_BPF_SRCS := $(wildcard tests/*/*.bpf.c)
TEST_BPF_OBJS := $(patsubst tests/%.bpf.c,$(BUILD)/tests/%.bpf.o,$(TEST_BPF_SRCS))

.PHONY: all deps demo check bench install clean tests
.PRECIOUS: $(BUILD)/%.skel.h $(BUILD)/%.bpf.o $(BUILD)/ctl/%.o
all: $(BUILD)/xdpnat $(BPF_OBJS)

tests: all $(UNIT_BINS) $(TBPF_BINS) $(FUZZ_BINS) $(TEST_BPF_OBJS)

$(BUILD)/vmlinux.h:
	@mkdir -p $(@D)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) $(BUILD)/vmlinux.h
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(BPFTOOL) gen skeleton $< > $@.tmp && mv $@.tmp $@

$(BUILD)/tests/%.bpf.o: tests/%.bpf.c $(BPF_HDRS) $(BUILD)/vmlinux.h
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/ctl/%.o: ctl/%.c $(CTL_HDRS) $(BPF_SKELS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

# the build named in xdpnat_build_info (metrics)
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo unknown)
$(BUILD)/ctl/daemon/metrics.o: CFLAGS += -DXDPNAT_VERSION='"$(VERSION)"'

$(BUILD)/xdpnat: $(CTL_OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# tests/unit/test_NAME.c links ctl/*/NAME.o (if there is one) plus the
# objects named in UNIT_DEPS_NAME, so a unit test builds without the rest
# of ctl/.
unit_mod = $(patsubst ctl/%.c,$(BUILD)/ctl/%.o,$(wildcard ctl/*/$(1).c))
UNIT_DEPS_addrwatch := $(call unit_mod,config) $(call unit_mod,nlsock)
UNIT_DEPS_linkinfo  := $(call unit_mod,nlsock)
UNIT_DEPS_ddns      := $(call unit_mod,config) $(call unit_mod,ddns_proto) $(call unit_mod,log) \
		       $(call unit_mod,runfiles)
UNIT_DEPS_gc        := $(call unit_mod,ctflow) $(call unit_mod,mapsweep) $(call unit_mod,maps) \
		       $(call unit_mod,cttab) $(call unit_mod,eimports) $(call unit_mod,udpkeyed)
UNIT_DEPS_wanstate  := $(call unit_mod,ctflow) $(call unit_mod,mapsweep) $(call unit_mod,maps) $(call unit_mod,log) \
		       $(call unit_mod,config) $(call unit_mod,cttab) $(call unit_mod,eimports)
UNIT_DEPS_flowlog_fmt := $(call unit_mod,flowdesc)
UNIT_DEPS_migrate   := $(call unit_mod,cttab)
UNIT_DEPS_udpkeyed  := $(call unit_mod,cttab)
UNIT_DEPS_cttab_race := $(call unit_mod,cttab)
UNIT_DEPS_alg_segment := $(call unit_mod,alg_ftp)
UNIT_DEPS_alg_session := $(call unit_mod,alg_ftp) $(call unit_mod,log) $(call unit_mod,maps) \
		       $(call unit_mod,cttab)
# metrics.c is the whole endpoint (maps, DDNS, HTTP thread): the rest of ctl/
UNIT_DEPS_metrics    = $(filter-out $(call unit_mod,metrics),$(LIB_OBJS))
UNIT_DEPS_portmap_table := $(call unit_mod,portmap_rate)
UNIT_DEPS_portmap_state := $(call unit_mod,portmap_table) $(call unit_mod,runfiles)
UNIT_DEPS_alg        := $(call unit_mod,alg_session) $(call unit_mod,alg_segment) \
		       $(call unit_mod,alg_xsk) $(UNIT_DEPS_alg_session)
.SECONDEXPANSION:
$(BUILD)/tests/unit/test_%: tests/unit/test_%.c $$(call unit_mod,$$*) $$(UNIT_DEPS_$$*) $(CTL_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(call unit_mod,$*) $(UNIT_DEPS_$*) $(LDLIBS) -lcmocka

$(BUILD)/tests/bpf/%: tests/bpf/%.c $(TBPF_LIB) $(LIB_OBJS) $(BPF_SKELS) $(wildcard tests/bpf/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/bpf -o $@ $< $(TBPF_LIB) $(LIB_OBJS) $(LDLIBS) -lcmocka

# libFuzzer targets: the controller's sources rebuilt with clang and sanitizers.
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -Iinclude -Ictl -I$(BUILD) \
	       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
# tests/fuzz/fuzz_NAME.c is built with the sources in FUZZ_SRCS_NAME.
fuzz_src = $(wildcard ctl/*/$(1).c)
FUZZ_SRCS_alg_ftp := $(call fuzz_src,alg_ftp)
FUZZ_SRCS_alg_segment := $(call fuzz_src,alg_segment) $(call fuzz_src,alg_ftp)
FUZZ_SRCS_metrics_req := $(call fuzz_src,metrics_req)
FUZZ_SRCS_pcp_codec := $(call fuzz_src,pcp_codec)
FUZZ_SRCS_flowlog_fmt := $(call fuzz_src,flowlog_fmt) $(call fuzz_src,flowdesc)
$(BUILD)/tests/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $$(FUZZ_SRCS_$$*) $(CTL_HDRS)
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_SRCS_$*) $(LDLIBS)

deps:
	@scripts/install-deps.sh

demo: deps
	$(MAKE) all
	demo/demo.sh

check: deps
	$(MAKE) tests
	tests/run.sh

bench: deps
	$(MAKE) tests
	tests/bench/run.sh

install: all
	install -D -m 0755 $(BUILD)/xdpnat $(DESTDIR)$(SBINDIR)/xdpnat
	install -D -m 0644 doc/xdpnat.8 $(DESTDIR)$(PREFIX)/share/man/man8/xdpnat.8
	install -D -m 0644 doc/xdpnat.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/xdpnat.conf.5
	install -D -m 0644 doc/xdpnat.conf.example $(DESTDIR)$(PREFIX)/share/doc/xdpnat/xdpnat.conf.example
	install -D -m 0644 doc/grafana-xdpnat.json $(DESTDIR)$(PREFIX)/share/doc/xdpnat/grafana-xdpnat.json
	@mkdir -p $(DESTDIR)$(UNITDIR)
	sed 's|@SBINDIR@|$(SBINDIR)|g' dist/xdpnat.service.in > $(DESTDIR)$(UNITDIR)/xdpnat.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/xdpnat.service

clean:
	rm -rf $(BUILD)
