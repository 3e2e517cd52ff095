# leaktop: build everything into build/. `make`, `make test`, `make demo`, `make bench`.
OUT := build
CLANG ?= clang
BPFTOOL ?= bpftool
PROTOC_C ?= protoc-c
CC ?= gcc
CXX ?= g++
ARCH := x86

WARNINGS := -Wall -Wextra -Wshadow -Wformat=2 -Wmissing-prototypes -Wstrict-prototypes \
	    -Wno-unused-parameter -Werror
CFLAGS ?= -O2 -g
ALL_CFLAGS := -std=gnu11 -D_GNU_SOURCE $(CFLAGS) $(WARNINGS) -I$(OUT) -Isrc -I. -MMD -MP
LDLIBS := -lbpf -ldw -lelf -lz -lcapstone -lprotobuf-c -lmicrohttpd -lncursesw -lstdc++ -lpthread -lm
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

SRCS := $(wildcard src/*.c src/*/*.c)
LIB_SRCS := $(filter-out src/main.c,$(SRCS))
OBJS := $(patsubst src/%.c,$(OUT)/obj/%.o,$(SRCS))
LIB_OBJS := $(patsubst src/%.c,$(OUT)/obj/%.o,$(LIB_SRCS))
SAN_OBJS := $(patsubst src/%.c,$(OUT)/asan/%.o,$(SRCS))
# protoc-c turns each proto/NAME.proto into build/NAME.pb-c.[ch] (pprof's profile.proto)
PROTOS := $(wildcard proto/*.proto)
PROTO_HDRS := $(patsubst proto/%.proto,$(OUT)/%.pb-c.h,$(PROTOS))
PROTO_SAN_OBJS := $(patsubst proto/%.proto,$(OUT)/asan/%.pb-c.o,$(PROTOS))
OBJS += $(patsubst proto/%.proto,$(OUT)/obj/%.pb-c.o,$(PROTOS))
LIB_OBJS += $(patsubst proto/%.proto,$(OUT)/obj/%.pb-c.o,$(PROTOS))
SAN_OBJS += $(PROTO_SAN_OBJS)

# Text compiled in: the default suppressions (src/model/default.supp), as a C string.
GEN_HDRS := $(OUT)/model/default_supp.h

BPF_SRCS := $(wildcard bpf/*.bpf.c)
SKELS := $(patsubst bpf/%.bpf.c,$(OUT)/%.skel.h,$(BPF_SRCS))

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUT)/tests/%,$(UNIT_SRCS))

WL_C := $(filter-out tests/workloads/lib%.c tests/workloads/%_static.c tests/workloads/%_nofp.c,$(wildcard tests/workloads/*.c))
WL_CXX := $(wildcard tests/workloads/*.cc)
WL_LIB := $(wildcard tests/workloads/lib*.c)
WL_STATIC := $(wildcard tests/workloads/*_static.c)
WL_NOFP := $(filter-out tests/workloads/lib%,$(wildcard tests/workloads/*_nofp.c))
WL_NOFP_CXX := $(wildcard tests/workloads/*_nofp.cc)
WL_CXX := $(filter-out $(WL_NOFP_CXX),$(WL_CXX))
WORKLOADS := $(patsubst tests/workloads/%.c,$(OUT)/workloads/%,$(WL_C) $(WL_STATIC) $(WL_NOFP)) \
	     $(patsubst tests/workloads/%_nofp.c,$(OUT)/workloads/%_withfp,$(WL_NOFP)) \
	     $(patsubst tests/workloads/%.cc,$(OUT)/workloads/%,$(WL_NOFP_CXX)) \
	     $(patsubst tests/workloads/%.cc,$(OUT)/workloads/%,$(WL_CXX)) \
	     $(patsubst tests/workloads/%.c,$(OUT)/workloads/%.so,$(WL_LIB)) \
	     $(patsubst tests/workloads/%.go,$(OUT)/workloads/%,$(wildcard tests/workloads/*.go))
# Workloads keep frame pointers and no optimisation, so every allocation site is a frame of its own.
WL_FLAGS := -O0 -g -fno-omit-frame-pointer -fno-inline -pthread

.PHONY: all deps test unit-test integration-test demo bench clean format fuzz workloads install \
	uninstall
.DELETE_ON_ERROR:
.SECONDARY:

all: $(OUT)/leaktop

# scripts/install-deps: the build set for build/leaktop, the test set (which holds the build set)
# for the workloads, unit tests, fuzzing, the demo and the benchmarks.
deps: $(OUT)/.deps-test-ok
$(OUT)/.deps-build-ok: scripts/install-deps
	@mkdir -p $(OUT)
	scripts/install-deps build
	@touch $@
$(OUT)/.deps-test-ok: scripts/install-deps
	@mkdir -p $(OUT)
	scripts/install-deps test
	@touch $@

# --- BPF: clang, then bpftool gen object (links and strips DWARF), then the skeleton header.
$(OUT)/%.tmp.bpf.o: bpf/%.bpf.c bpf/leaktop.h bpf/ages.h $(wildcard bpf/*.bpf.h) vmlinux/$(ARCH)/vmlinux.h | $(OUT)/.deps-build-ok
	@mkdir -p $(@D)
	$(CLANG) -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_$(ARCH) -Ivmlinux/$(ARCH) -Ibpf -c $< -o $@
$(OUT)/%.bpf.o: $(OUT)/%.tmp.bpf.o
	$(BPFTOOL) gen object $@ $<
$(OUT)/%.skel.h: $(OUT)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

# --- protobuf: generated C, then compiled like our own
$(OUT)/%.pb-c.c $(OUT)/%.pb-c.h: proto/%.proto | $(OUT)/.deps-build-ok
	@mkdir -p $(@D)
	$(PROTOC_C) --c_out=$(OUT) --proto_path=proto $<
$(OUT)/obj/%.pb-c.o: $(OUT)/%.pb-c.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@
$(OUT)/asan/%.pb-c.o: $(OUT)/%.pb-c.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -c $< -o $@

# --- the HTML report's page (src/output/report_html.tmpl), built into the binary as a C array
$(OUT)/output/report_html.h: src/output/report_html.tmpl | $(OUT)/.deps-build-ok
	@mkdir -p $(@D)
	cd src/output && xxd -i report_html.tmpl > $(abspath $@).tmp
	mv $@.tmp $@
$(OUT)/obj/output/out_html.o $(OUT)/asan/output/out_html.o $(OUT)/fuzz/obj/output/out_html.o: \
	$(OUT)/output/report_html.h
# --- text compiled in: each line a C string literal, backslashes and quotes escaped
$(OUT)/model/default_supp.h: src/model/default.supp
	@mkdir -p $(@D)
	{ echo '/* Generated from $< by the Makefile. */'; \
	  echo 'static const char suppress_default_text[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/\t"/' -e 's/$$/\\n"/' $<; \
	  echo ';'; } > $@

# --- user space (every object waits for the skeletons and generated headers; -MMD tracks the rest)
$(OUT)/obj/%.o: src/%.c | $(SKELS) $(PROTO_HDRS) $(GEN_HDRS) $(OUT)/.deps-build-ok
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@
$(OUT)/asan/%.o: src/%.c | $(SKELS) $(PROTO_HDRS) $(GEN_HDRS) $(OUT)/.deps-build-ok
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -c $< -o $@

$(OUT)/leaktop: $(OBJS)
	$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@
$(OUT)/asan/leaktop: $(SAN_OBJS)
	$(CC) $(CFLAGS) $(SAN_FLAGS) $^ $(LDLIBS) -o $@

$(OUT)/libleaktop.a: $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

# --- unit tests: cmocka, no root, no BPF
$(OUT)/tests/%: tests/unit/%.c | $(OUT)/.deps-test-ok
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -Itests/unit $< $(patsubst src/%.c,$(OUT)/asan/%.o,$(LIB_SRCS)) \
		$(PROTO_SAN_OBJS) -lcmocka $(LDLIBS) -o $@
$(UNIT_BINS): $(patsubst src/%.c,$(OUT)/asan/%.o,$(LIB_SRCS)) $(PROTO_SAN_OBJS)

# --- unit-test ELF fixtures (symbolize)
# Files the procmaps, elf_file and symbolize tests read (never run): a PIE and a non-PIE executable,
# a shared library, a C++ library, a stripped copy, split-debug copies found by .gnu_debuglink
# (beside the file and in .debug/), a debuglink to a foreign debug file, a copy with compressed
# debug sections, and the maps texts. The tests find them beside themselves (build/fixtures).
FX_DIR := $(OUT)/fixtures
FX_SRC := tests/unit/elfsrc
FX_FLAGS := -g -O0 -fno-omit-frame-pointer -fcf-protection=none -Wl,--build-id=sha1
FX_FILES := $(addprefix $(FX_DIR)/,prog prog_nopie prog_stripped prog_split prog_split.debug \
	    prog_zdebug prog_badlink prog_badlink.debug libfx.so libfx_split.so \
	    .debug/libfx_split.so.debug libwidget.so frames_fp frames_nofp frames_dbgframe \
	    frames_nofde cfi_highreg cfi_deepstate libdataonly.so lto_prog) \
	    $(patsubst tests/unit/fixtures/%,$(FX_DIR)/%,$(wildcard tests/unit/fixtures/*.maps))

$(FX_DIR)/prog: $(FX_SRC)/prog.c $(FX_SRC)/fx_lines.h
	@mkdir -p $(@D)
	$(CC) $(FX_FLAGS) -fPIE -pie $< -o $@
$(FX_DIR)/prog_nopie: $(FX_SRC)/prog.c $(FX_SRC)/fx_lines.h
	@mkdir -p $(@D)
	$(CC) $(FX_FLAGS) -fno-pie -no-pie $< -o $@
$(FX_DIR)/libfx.so: $(FX_SRC)/libfx.c $(FX_SRC)/libfx.map $(FX_SRC)/fx_lines.h
	@mkdir -p $(@D)
	$(CC) $(FX_FLAGS) -fPIC -shared -Wl,--version-script=$(FX_SRC)/libfx.map $< -o $@
# A function inlined into another unit by link-time optimisation: its abstract origin lies in the
# unit it came from.
$(FX_DIR)/lto_prog: $(FX_SRC)/lto_inl.c $(FX_SRC)/lto_main.c $(FX_SRC)/fx_lines.h
	@mkdir -p $(@D)
	$(CC) $(FX_FLAGS) -O2 -flto $(FX_SRC)/lto_inl.c $(FX_SRC)/lto_main.c -o $@
$(FX_DIR)/libdataonly.so: $(FX_SRC)/dataonly.c
	@mkdir -p $(@D)
	$(CC) $(FX_FLAGS) -fPIC -shared $< -o $@
$(FX_DIR)/libwidget.so: $(FX_SRC)/widget.cc $(FX_SRC)/fx_lines.h
	@mkdir -p $(@D)
	$(CXX) $(FX_FLAGS) -fPIC -shared $< -o $@
# The unwind tables' fixtures: one source -O2 with and without frame pointers, and with its CFI in
# .debug_frame only (no unwind tables for its own functions in .eh_frame).
$(FX_DIR)/frames_fp: $(FX_SRC)/frames.c
	@mkdir -p $(@D)
	$(CC) -O2 -g -fcf-protection=none -fno-omit-frame-pointer $< -o $@
$(FX_DIR)/frames_nofp: $(FX_SRC)/frames.c
	@mkdir -p $(@D)
	$(CC) -O2 -g -fcf-protection=none -fomit-frame-pointer $< -o $@
$(FX_DIR)/frames_dbgframe: $(FX_SRC)/frames.c
	@mkdir -p $(@D)
	$(CC) -O2 -g -fcf-protection=none -fomit-frame-pointer -fno-asynchronous-unwind-tables \
		-fno-unwind-tables $< -o $@
# CFI that names a register numbered in the hundreds of millions, or nests remembered states deep.
$(FX_DIR)/cfi_highreg: $(FX_SRC)/cfi_bomb.S
	@mkdir -p $(@D)
	$(CC) -DHIGH_REGISTER $< -o $@
$(FX_DIR)/cfi_deepstate: $(FX_SRC)/cfi_bomb.S
	@mkdir -p $(@D)
	$(CC) $< -o $@
# CFI sections without a single FDE: .eh_frame renamed away, an empty .debug_frame added.
$(FX_DIR)/frames_nofde: $(FX_DIR)/frames_fp
	objcopy --rename-section .eh_frame=.eh_frame_gone --add-section .debug_frame=/dev/null $< $@
$(FX_DIR)/prog_stripped: $(FX_DIR)/prog
	strip --strip-all $< -o $@
$(FX_DIR)/prog_split.debug: $(FX_DIR)/prog
	objcopy --only-keep-debug $< $@
$(FX_DIR)/prog_split: $(FX_DIR)/prog $(FX_DIR)/prog_split.debug
	objcopy --strip-all --add-gnu-debuglink=$(FX_DIR)/prog_split.debug $< $@
$(FX_DIR)/.debug/libfx_split.so.debug: $(FX_DIR)/libfx.so
	@mkdir -p $(@D)
	objcopy --only-keep-debug $< $@
$(FX_DIR)/libfx_split.so: $(FX_DIR)/libfx.so $(FX_DIR)/.debug/libfx_split.so.debug
	objcopy --strip-debug --add-gnu-debuglink=$(FX_DIR)/.debug/libfx_split.so.debug $< $@
# A debuglink to the debug file of another build (libfx.so): it must be refused.
$(FX_DIR)/prog_badlink.debug: $(FX_DIR)/libfx.so
	objcopy --only-keep-debug $< $@
$(FX_DIR)/prog_badlink: $(FX_DIR)/prog_stripped $(FX_DIR)/prog_badlink.debug
	objcopy --add-gnu-debuglink=$(FX_DIR)/prog_badlink.debug $< $@
$(FX_DIR)/prog_zdebug: $(FX_DIR)/prog
	objcopy --compress-debug-sections=zlib $< $@
$(FX_DIR)/%.maps: tests/unit/fixtures/%.maps
	@mkdir -p $(@D)
	cp $< $@
$(OUT)/tests/test_procmaps $(OUT)/tests/test_elf_file $(OUT)/tests/test_symbolize: $(FX_FILES)
$(OUT)/tests/test_pprof $(OUT)/tests/test_unwind $(OUT)/tests/test_frame: $(FX_FILES)
# --- end of unit-test ELF fixtures

# --- workloads
$(OUT)/workloads/%: tests/workloads/%.c | $(OUT)/.deps-test-ok
	@mkdir -p $(@D)
	$(CC) $(WL_FLAGS) $< -o $@ -ldl
$(OUT)/workloads/%: tests/workloads/%.cc | $(OUT)/.deps-test-ok
	@mkdir -p $(@D)
	$(CXX) $(WL_FLAGS) $< -o $@ -ldl
$(OUT)/workloads/%.so: tests/workloads/%.c | $(OUT)/.deps-test-ok
	@mkdir -p $(@D)
	$(CC) $(WL_FLAGS) -shared -fPIC $< -o $@
$(OUT)/workloads/%_nofp.so: tests/workloads/%_nofp.c | $(OUT)/.deps-test-ok
	@mkdir -p $(@D)
	$(CC) -O2 -g -fomit-frame-pointer -shared -fPIC $< -o $@
$(OUT)/workloads/%_static: tests/workloads/%_static.c | $(OUT)/.deps-test-ok
	@mkdir -p $(@D)
	$(CC) $(WL_FLAGS) -static $< -o $@
$(OUT)/workloads/%_nofp: tests/workloads/%_nofp.c | $(OUT)/.deps-test-ok
	@mkdir -p $(@D)
	$(CC) -O2 -g -fomit-frame-pointer -pthread $< -o $@
# The same source with frame pointers: the reference stack of the unwinding tests.
$(OUT)/workloads/%_withfp: tests/workloads/%_nofp.c | $(OUT)/.deps-test-ok
	@mkdir -p $(@D)
	$(CC) -O2 -g -fno-omit-frame-pointer -pthread $< -o $@
$(OUT)/workloads/%_nofp: tests/workloads/%_nofp.cc | $(OUT)/.deps-test-ok
	@mkdir -p $(@D)
	$(CXX) -O2 -g -fomit-frame-pointer -pthread $< -o $@

# Go workloads (Debian's golang-go): std only, offline, caches under build/.
$(OUT)/workloads/%: tests/workloads/%.go | $(OUT)/.deps-test-ok
	@mkdir -p $(@D)
	GOCACHE=$(abspath $(OUT))/go/cache GOPATH=$(abspath $(OUT))/go/path GOTOOLCHAIN=local \
		GO111MODULE=off GOFLAGS= go build -o $@ $<

# The PostgreSQL extension of the service tests (tests/workloads/pg_leak): built with PGXS against
# postgresql-server-dev-15, out of tree into build/workloads/pg_leak with its .control and .sql
# beside it (tests/integration/services.py copies the three into each throwaway cluster).
PG_CONFIG ?= /usr/lib/postgresql/15/bin/pg_config
PG_LEAK_SRC := tests/workloads/pg_leak
PG_LEAK := $(OUT)/workloads/pg_leak/pg_leak.so
$(PG_LEAK): $(PG_LEAK_SRC)/pg_leak.c $(PG_LEAK_SRC)/Makefile $(PG_LEAK_SRC)/pg_leak.control \
	    $(PG_LEAK_SRC)/pg_leak--1.0.sql | $(OUT)/.deps-test-ok
	@mkdir -p $(@D)
	$(MAKE) -C $(@D) -f $(CURDIR)/$(PG_LEAK_SRC)/Makefile PG_CONFIG=$(PG_CONFIG) with_llvm=no
	cp $(PG_LEAK_SRC)/pg_leak.control $(PG_LEAK_SRC)/pg_leak--1.0.sql $(@D)/
	touch $@

workloads: $(WORKLOADS) $(PG_LEAK)

# --- fuzzing: libFuzzer harnesses, built with clang against the sources compiled again with the
# fuzzer's coverage and ASan/UBSan (build/fuzz/obj; the archive lets each harness link only what it
# uses). Each harness has seeds: its stored corpus (tests/fuzz/corpus/NAME, text inputs only) plus
# files the build makes (the unit-test ELF fixtures). `make test` replays the seeds once each;
# `make fuzz` mutates them for FUZZ_SECONDS per harness, keeping what it finds in build/fuzz/corpus.
FUZZ_CC ?= clang-14
FUZZ_SECONDS ?= 60
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS := -std=gnu11 -D_GNU_SOURCE -O1 -g $(WARNINGS) -I$(OUT) -Isrc -I. -MMD -MP $(FUZZ_SAN)
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZERS ?= $(FUZZ_NAMES)
FUZZ_BINS := $(patsubst %,$(OUT)/fuzz/fuzz_%,$(FUZZ_NAMES))
FUZZ_OBJS := $(patsubst src/%.c,$(OUT)/fuzz/obj/%.o,$(LIB_SRCS)) \
	     $(patsubst proto/%.proto,$(OUT)/fuzz/obj/%.pb-c.o,$(PROTOS))
FUZZ_ELF_SEEDS := $(addprefix $(FX_DIR)/,prog prog_nopie prog_stripped prog_split prog_split.debug \
		  prog_zdebug prog_badlink libfx.so libfx_split.so libwidget.so frames_fp frames_nofp \
		  frames_dbgframe frames_nofde cfi_highreg cfi_deepstate libdataonly.so lto_prog)
FUZZ_GEN_SEEDS_elf := $(FUZZ_ELF_SEEDS)
FUZZ_GEN_SEEDS_unwind := $(FUZZ_ELF_SEEDS)
FUZZ_GEN_SEEDS_procmaps := $(wildcard tests/unit/fixtures/*.maps)

$(OUT)/fuzz/obj/%.o: src/%.c | $(SKELS) $(PROTO_HDRS) $(GEN_HDRS) $(OUT)/.deps-test-ok
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@
$(OUT)/fuzz/obj/%.pb-c.o: $(OUT)/%.pb-c.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@
$(OUT)/fuzz/libleaktop.a: $(FUZZ_OBJS)
	rm -f $@ && ar rcs $@ $^
$(OUT)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(OUT)/fuzz/libleaktop.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -Itests/fuzz $< $(OUT)/fuzz/libleaktop.a \
		$(LDLIBS) -o $@

# A copy, so that the seeds stay what the sources say however long `make fuzz` ran.
define FUZZ_SEED_RULE
$(OUT)/fuzz/seeds/$(1).stamp: $(wildcard tests/fuzz/corpus/$(1)/*) $(FUZZ_GEN_SEEDS_$(1))
	rm -rf $(OUT)/fuzz/seeds/$(1) && mkdir -p $(OUT)/fuzz/seeds/$(1)
	$$(if $$^,cp $$^ $(OUT)/fuzz/seeds/$(1)/)
	touch $$@
endef
$(foreach h,$(FUZZ_NAMES),$(eval $(call FUZZ_SEED_RULE,$(h))))
FUZZ_SEEDS := $(patsubst %,$(OUT)/fuzz/seeds/%.stamp,$(FUZZ_NAMES))

# New inputs go into the first directory given, build/fuzz/corpus/NAME; crashes into build/fuzz/.
fuzz: $(FUZZ_BINS) $(FUZZ_SEEDS)
	@set -e; for h in $(FUZZERS); do \
		mkdir -p $(OUT)/fuzz/corpus/$$h; \
		echo "=== fuzz: $$h for $(FUZZ_SECONDS) s"; \
		$(OUT)/fuzz/fuzz_$$h -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=$(OUT)/fuzz/$$h- $(OUT)/fuzz/corpus/$$h $(OUT)/fuzz/seeds/$$h; \
	done

# --- the README's two commands
test: $(OUT)/leaktop $(OUT)/asan/leaktop $(UNIT_BINS) $(WORKLOADS) $(PG_LEAK) $(FUZZ_BINS) $(FUZZ_SEEDS)
	tests/run-all $(OUT)

demo: $(OUT)/leaktop $(OUT)/workloads/demo
	$(OUT)/leaktop -n 5 -- $(OUT)/workloads/demo 10

bench: $(OUT)/leaktop $(OUT)/bench/malloc_bench $(OUT)/bench/new_bench $(OUT)/workloads/reach \
       $(OUT)/bench/stacks_bench
	scripts/bench $(OUT)

# --- install: PREFIX (default /usr/local) and DESTDIR, as GNU packages honour them. The binary goes
# to sbin: it needs root (or CAP_BPF, CAP_PERFMON, CAP_SYS_RESOURCE), like bpftool, and its man page
# is in section 8, system administration. The unit's ExecStart is rewritten to that path.
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
DATADIR ?= $(PREFIX)/share/leaktop
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
# The binary installed (the install test gives the one it tests)
INSTALL_BIN ?= $(OUT)/leaktop

install: $(INSTALL_BIN)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DATADIR) \
		$(DESTDIR)$(BASHCOMPDIR)
	install -m 0755 $(INSTALL_BIN) $(DESTDIR)$(SBINDIR)/leaktop
	install -m 0644 docs/leaktop.8 $(DESTDIR)$(MANDIR)/man8/leaktop.8
	install -m 0644 scripts/leaktop.bash-completion $(DESTDIR)$(BASHCOMPDIR)/leaktop
	install -m 0644 src/model/default.supp $(DESTDIR)$(DATADIR)/default.supp
	install -m 0644 scripts/leaktop.rules.yml $(DESTDIR)$(DATADIR)/leaktop.rules.yml
	sed 's|/usr/local/sbin/leaktop|$(SBINDIR)/leaktop|g' scripts/leaktop-record.service \
		> $(DESTDIR)$(DATADIR)/leaktop-record.service
	chmod 0644 $(DESTDIR)$(DATADIR)/leaktop-record.service

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/leaktop $(DESTDIR)$(MANDIR)/man8/leaktop.8 \
		$(DESTDIR)$(BASHCOMPDIR)/leaktop $(DESTDIR)$(DATADIR)/default.supp \
		$(DESTDIR)$(DATADIR)/leaktop.rules.yml $(DESTDIR)$(DATADIR)/leaktop-record.service
	-rmdir $(DESTDIR)$(DATADIR)

format:
	clang-format -i src/*.[ch] src/*/*.[ch] bpf/*.[ch] tests/unit/*.[ch] tests/workloads/*.c tests/workloads/*/*.c \
		tests/workloads/*.cc

clean:
	rm -rf $(OUT)

-include $(wildcard $(OUT)/obj/*.d $(OUT)/obj/*/*.d $(OUT)/asan/*.d $(OUT)/asan/*/*.d \
	   $(OUT)/tests/*.d $(OUT)/fuzz/*.d $(OUT)/fuzz/obj/*/*.d)

# --- bench tools (probecost): the cost of a uprobe per hit by the instruction it sits on (needs root)
$(OUT)/bench/probecost: tests/bench/probecost.c $(OUT)/probecost.skel.h $(OUT)/obj/trace/probepoint.o
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $< $(OUT)/obj/trace/probepoint.o -lbpf -lelf -lz -lcapstone -ldl -o $@
-include $(wildcard $(OUT)/bench/*.d)
# --- bench workloads
$(OUT)/bench/malloc_bench: tests/bench/malloc_bench.c | $(OUT)/.deps-test-ok
	@mkdir -p $(@D)
	$(CC) -O2 -g -fno-omit-frame-pointer $< -o $@
$(OUT)/bench/stacks_bench: tests/bench/stacks_bench.c | $(OUT)/.deps-test-ok
	@mkdir -p $(@D)
	$(CC) -O2 -g -fno-omit-frame-pointer -fno-optimize-sibling-calls -fno-ipa-icf $< -o $@
$(OUT)/bench/new_bench: tests/bench/new_bench.cc | $(OUT)/.deps-test-ok
	@mkdir -p $(@D)
	$(CXX) -O2 -g -fno-omit-frame-pointer $< -o $@
