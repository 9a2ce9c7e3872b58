# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Build: bpf/mcguard.bpf.c -> .output/mcguard.bpf.o -> .output/mcguard.skel.h
# -> .output/mcguard (the one binary). Every build product goes to .output/.

.DEFAULT_GOAL := all
OUTPUT ?= .output
CLANG ?= clang
BPFTOOL ?= bpftool
CC ?= cc
PKG_CONFIG ?= pkg-config
PREFIX ?= /usr/local
DESTDIR ?=
SYSTEMD_UNIT_DIR ?= /etc/systemd/system
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

# Map the machine name onto the kernel's ARCH names used by vmlinux/ and clang.
ARCH ?= $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
VMLINUX_DIR := vmlinux/$(subst x86,x86_64,$(subst arm64,aarch64,$(ARCH)))
VMLINUX_H := $(VMLINUX_DIR)/vmlinux.h

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

# Linked libraries, and libraries that mcguard opens with dlopen() only in the
# mode that uses them (user/dynload.h): their headers are needed, their
# sonames are compiled in.
LINK_PKGS := libbpf json-c libconfig
DLOPEN_PKGS := libmicrohttpd libcurl
DEP_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(LINK_PKGS) $(DLOPEN_PKGS) 2>/dev/null)
DEP_LIBS := $(shell $(PKG_CONFIG) --libs $(LINK_PKGS) 2>/dev/null || \
	      echo -lbpf -ljson-c -lconfig) -lelf -lz -lpthread -ldl
# The SONAME of the development library the compiler would link, or $(2).
soname = $(or $(shell objdump -p "$$($(CC) -print-file-name=$(1).so)" 2>/dev/null | \
		      awk '$$1 == "SONAME" { print $$2 }'),$(2))
DLOPEN_CFLAGS := -DMCG_MICROHTTPD_SONAME='"$(call soname,libmicrohttpd,libmicrohttpd.so.12)"' \
		 -DMCG_CURL_SONAME='"$(call soname,libcurl,libcurl.so.4)"'

CFLAGS ?= -O2 -g
CFLAGS += -Wall -Wextra -Werror -std=gnu11 -D_GNU_SOURCE -Iinclude -Iuser -I$(OUTPUT) $(DEP_CFLAGS) \
	  -DMCG_VERSION='"$(VERSION)"' $(DLOPEN_CFLAGS)
BPF_CFLAGS := -O2 -g -Wall -Werror -target bpf -D__TARGET_ARCH_$(ARCH) -Iinclude -I$(VMLINUX_DIR)

ifeq ($(SANITIZE),1)
CFLAGS += -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
endif

# Objects depend on the compiler flags, so SANITIZE=1 and back rebuild everything.
FLAGS_STAMP := $(OUTPUT)/.flags-$(shell echo '$(CC) $(CFLAGS) $(LDFLAGS)' | md5sum | cut -c1-12)
$(FLAGS_STAMP): | $(OUTPUT)
	$(Q)rm -f $(OUTPUT)/.flags-* && touch $@

USER_SRCS := $(wildcard user/*.c)
USER_OBJS := $(patsubst user/%.c,$(OUTPUT)/user/%.o,$(USER_SRCS))
# Objects with no main() and no skeleton, linked into the unit tests too.
LIB_OBJS := $(OUTPUT)/user/spec.o $(OUTPUT)/user/format.o $(OUTPUT)/user/parse.o \
	    $(OUTPUT)/user/policy.o $(OUTPUT)/user/config.o $(OUTPUT)/user/netfilter.o \
	    $(OUTPUT)/user/engine.o $(OUTPUT)/user/pod.o

UNIT_TESTS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(wildcard tests/unit/test_*.c))
# Helper programs that the root tests run, and the build with fault points.
TEST_HELPERS := $(OUTPUT)/tests/iouring_probe $(OUTPUT)/mcguard-faults
FAULT_OBJS := $(patsubst user/%.c,$(OUTPUT)/faults/%.o,$(USER_SRCS))

# The benchmark driver links the event formatter and cgroup helpers it measures.
BENCH_OBJS := $(patsubst bench/%.c,$(OUTPUT)/bench/%.o,$(filter-out %.bpf.c,$(wildcard bench/*.c)))
BENCH_BIN := $(OUTPUT)/bench/mcgbench

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all clean check check-unit check-root deps install demo vmlinux fuzz soak bench

all: $(OUTPUT)/mcguard

$(VMLINUX_H):
	@echo "No $(VMLINUX_H) for ARCH=$(ARCH) ($(shell uname -m))." >&2
	@echo "Generate it on a kernel with BTF: make vmlinux" >&2
	@exit 1

# Regenerate the kernel type header from the running kernel's BTF.
vmlinux:
	$(Q)mkdir -p $(VMLINUX_DIR)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $(VMLINUX_H)

$(OUTPUT) $(OUTPUT)/user $(OUTPUT)/tests $(OUTPUT)/bench:
	$(Q)mkdir -p $@

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c $(VMLINUX_H) Makefile | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MMD -MP -c $< -o $@.tmp
	$(Q)$(BPFTOOL) gen object $@ $@.tmp && rm -f $@.tmp

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(notdir $*)_bpf > $@

$(OUTPUT)/user/%.o: user/%.c Makefile $(FLAGS_STAMP) | $(OUTPUT)/user
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

# The loaders include the skeletons, so they wait for them.
$(OUTPUT)/user/guard.o: $(OUTPUT)/mcguard.skel.h
$(OUTPUT)/user/holders.o: $(OUTPUT)/mcguard_holders.skel.h

$(OUTPUT)/mcguard: $(USER_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(DEP_LIBS) -o $@

$(OUTPUT)/tests/%: tests/unit/%.c $(LIB_OBJS) Makefile $(FLAGS_STAMP) | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -DMCG_TEST_DATA='"$(CURDIR)/tests/unit/data"' -MMD -MP $< \
		$(LIB_OBJS) $(DEP_LIBS) -lcmocka -o $@

$(OUTPUT)/faults:
	$(Q)mkdir -p $@

$(OUTPUT)/faults/%.o: user/%.c Makefile $(FLAGS_STAMP) $(OUTPUT)/mcguard.skel.h \
		      $(OUTPUT)/mcguard_holders.skel.h | $(OUTPUT)/faults
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -DMCG_FAULT_INJECTION -MMD -MP -c $< -o $@

$(OUTPUT)/mcguard-faults: $(FAULT_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(DEP_LIBS) -o $@

$(OUTPUT)/tests/iouring_probe: tests/iouring_probe.c Makefile | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) -O2 -Wall -Wextra -Werror -D_GNU_SOURCE $< -o $@

# libFuzzer targets: the parsers and the event decoder, built with clang.
FUZZ_TARGETS := spec config event
FUZZ_SOURCES := user/spec.c user/parse.c user/format.c user/policy.c user/config.c user/pod.c
FUZZ_BINARIES := $(patsubst %,$(OUTPUT)/fuzz/fuzz_%,$(FUZZ_TARGETS))
FUZZ_SECONDS ?= 600

$(OUTPUT)/fuzz:
	$(Q)mkdir -p $@

$(OUTPUT)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_SOURCES) Makefile | $(OUTPUT)/fuzz
	$(call msg,FUZZ-CC,$@)
	$(Q)$(CLANG) -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Iinclude -Iuser \
		$(DEP_CFLAGS) $< $(FUZZ_SOURCES) $(DEP_LIBS) -o $@

# Run each target for FUZZ_SECONDS from the seed corpus, then the kept crashers.
fuzz: $(FUZZ_BINARIES)
	$(Q)./tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The long soak: SOAK_CYCLES attach/detach cycles and a fifth as many daemon
# watch cycles, counting pins, links, programs, descriptors and watches.
SOAK_CYCLES ?= 10000
soak: all
	$(Q)SOAK_CYCLES=$(SOAK_CYCLES) /usr/bin/python3 -m pytest -p no:cacheprovider -s \
		tests/integration/test_hardening.py -k soak

$(OUTPUT)/bench/%.bpf.o: bench/%.bpf.c $(VMLINUX_H) Makefile | $(OUTPUT)/bench
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MMD -MP -c $< -o $@.tmp
	$(Q)$(BPFTOOL) gen object $@ $@.tmp && rm -f $@.tmp

$(OUTPUT)/bench/%.o: bench/%.c Makefile | $(OUTPUT)/bench
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -I$(OUTPUT)/bench -pthread -MMD -MP -c $< -o $@

$(OUTPUT)/bench/skb_attach.o: $(OUTPUT)/bench/skb_filter.skel.h

$(BENCH_BIN): $(BENCH_OBJS) $(OUTPUT)/user/format.o $(OUTPUT)/user/cgroup.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -pthread $^ $(DEP_LIBS) -lm -o $@

# Benchmarks as root, not part of check: installs what is missing, builds, and
# writes .output/bench/results/report.md. BENCHMARKS.md describes them.
bench:
	$(Q)./bench/deps.sh
	$(Q)$(MAKE) --no-print-directory $(OUTPUT)/mcguard $(BENCH_BIN) $(OUTPUT)/bench/floor.bpf.o
	$(Q)./bench/run.sh

# Install the build and test packages that are missing (Debian and Ubuntu).
deps:
	$(Q)./tests/deps.sh

check-unit: $(UNIT_TESTS)
	$(Q)./tests/run-unit.sh $(UNIT_TESTS)

check-root: $(OUTPUT)/mcguard $(TEST_HELPERS)
	$(Q)./tests/run-root.sh

# Every test layer: unit tests, then root integration and end-to-end tests.
check: deps
	$(Q)$(MAKE) --no-print-directory all $(UNIT_TESTS) $(TEST_HELPERS) $(FUZZ_BINARIES)
	$(Q)./tests/run-all.sh $(UNIT_TESTS)

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)./tests/demo.sh

install: $(OUTPUT)/mcguard
	install -D -m 0755 $(OUTPUT)/mcguard $(DESTDIR)$(PREFIX)/sbin/mcguard
	install -D -m 0644 man/mcguard.8 $(DESTDIR)$(PREFIX)/share/man/man8/mcguard.8
	install -D -m 0644 deploy/systemd/mcguard.service \
		$(DESTDIR)$(SYSTEMD_UNIT_DIR)/mcguard.service
	sed -i 's|/usr/local/sbin/mcguard|$(PREFIX)/sbin/mcguard|' \
		$(DESTDIR)$(SYSTEMD_UNIT_DIR)/mcguard.service
	test -e $(DESTDIR)/etc/mcguard/mcguard.conf || \
		install -D -m 0644 deploy/mcguard.conf $(DESTDIR)/etc/mcguard/mcguard.conf

clean:
	rm -rf $(OUTPUT)

-include $(wildcard $(OUTPUT)/*.d $(OUTPUT)/user/*.d $(OUTPUT)/faults/*.d $(OUTPUT)/tests/*.d \
		   $(OUTPUT)/bench/*.d)
