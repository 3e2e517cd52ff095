# leaktop: build everything into build/. `make`, `make test`, `make demo`, `make bench`.
OUT := build
CLANG ?= clang
BPFTOOL ?= bpftool
CC ?= gcc
CXX ?= g++
ARCH := x86

WARNINGS := -Wall -Wextra -Wshadow -Wformat=2 -Wmissing-prototypes -Wstrict-prototypes \
	    -Wno-unused-parameter -Werror
CFLAGS ?= -O2 -g
ALL_CFLAGS := -std=gnu11 -D_GNU_SOURCE $(CFLAGS) $(WARNINGS) -I$(OUT) -Isrc -MMD -MP
LDLIBS := -lbpf -ldw -lelf -lz -lcapstone -lstdc++ -lpthread
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

SRCS := $(wildcard src/*.c)
LIB_SRCS := $(filter-out src/main.c,$(SRCS))
OBJS := $(patsubst src/%.c,$(OUT)/obj/%.o,$(SRCS))
LIB_OBJS := $(patsubst src/%.c,$(OUT)/obj/%.o,$(LIB_SRCS))
SAN_OBJS := $(patsubst src/%.c,$(OUT)/asan/%.o,$(SRCS))

BPF_SRCS := $(wildcard bpf/*.bpf.c)
SKELS := $(patsubst bpf/%.bpf.c,$(OUT)/%.skel.h,$(BPF_SRCS))

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUT)/tests/%,$(UNIT_SRCS))

WL_C := $(filter-out tests/workloads/lib%.c tests/workloads/%_static.c tests/workloads/%_nofp.c,$(wildcard tests/workloads/*.c))
WL_CXX := $(wildcard tests/workloads/*.cc)
WL_LIB := $(wildcard tests/workloads/lib*.c)
WL_STATIC := $(wildcard tests/workloads/*_static.c)
WL_NOFP := $(wildcard tests/workloads/*_nofp.c)
WORKLOADS := $(patsubst tests/workloads/%.c,$(OUT)/workloads/%,$(WL_C) $(WL_STATIC) $(WL_NOFP)) \
	     $(patsubst tests/workloads/%.cc,$(OUT)/workloads/%,$(WL_CXX)) \
	     $(patsubst tests/workloads/%.c,$(OUT)/workloads/%.so,$(WL_LIB))
# Workloads keep frame pointers and no optimisation, so every allocation site is a frame of its own.
WL_FLAGS := -O0 -g -fno-omit-frame-pointer -fno-inline -pthread

.PHONY: all deps test unit-test integration-test demo bench clean format
.DELETE_ON_ERROR:
.SECONDARY:

all: $(OUT)/leaktop

deps: $(OUT)/.deps-ok
$(OUT)/.deps-ok: scripts/install-deps
	@mkdir -p $(OUT)
	scripts/install-deps
	@touch $@

# --- BPF: clang, then bpftool gen object (links and strips DWARF), then the skeleton header.
$(OUT)/%.tmp.bpf.o: bpf/%.bpf.c bpf/leaktop.h $(wildcard bpf/*.bpf.h) vmlinux/$(ARCH)/vmlinux.h | $(OUT)/.deps-ok
	@mkdir -p $(@D)
	$(CLANG) -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_$(ARCH) -Ivmlinux/$(ARCH) -Ibpf -c $< -o $@
$(OUT)/%.bpf.o: $(OUT)/%.tmp.bpf.o
	$(BPFTOOL) gen object $@ $<
$(OUT)/%.skel.h: $(OUT)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

# --- user space (every object waits for the skeletons; -MMD tracks the rest)
$(OUT)/obj/%.o: src/%.c $(SKELS) | $(OUT)/.deps-ok
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@
$(OUT)/asan/%.o: src/%.c $(SKELS) | $(OUT)/.deps-ok
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -c $< -o $@

$(OUT)/leaktop: $(OBJS)
	$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@
$(OUT)/asan/leaktop: $(SAN_OBJS)
	$(CC) $(CFLAGS) $(SAN_FLAGS) $^ $(LDLIBS) -o $@

$(OUT)/libleaktop.a: $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

# --- unit tests: cmocka, no root, no BPF
$(OUT)/tests/%: tests/unit/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -Itests/unit $< $(patsubst src/%.c,$(OUT)/asan/%.o,$(LIB_SRCS)) \
		-lcmocka $(LDLIBS) -o $@
$(UNIT_BINS): $(patsubst src/%.c,$(OUT)/asan/%.o,$(LIB_SRCS))

# --- workloads
$(OUT)/workloads/%: tests/workloads/%.c | $(OUT)/.deps-ok
	@mkdir -p $(@D)
	$(CC) $(WL_FLAGS) $< -o $@ -ldl
$(OUT)/workloads/%: tests/workloads/%.cc | $(OUT)/.deps-ok
	@mkdir -p $(@D)
	$(CXX) $(WL_FLAGS) $< -o $@ -ldl
$(OUT)/workloads/%.so: tests/workloads/%.c | $(OUT)/.deps-ok
	@mkdir -p $(@D)
	$(CC) $(WL_FLAGS) -shared -fPIC $< -o $@
$(OUT)/workloads/%_static: tests/workloads/%_static.c | $(OUT)/.deps-ok
	@mkdir -p $(@D)
	$(CC) $(WL_FLAGS) -static $< -o $@
$(OUT)/workloads/%_nofp: tests/workloads/%_nofp.c | $(OUT)/.deps-ok
	@mkdir -p $(@D)
	$(CC) -O2 -g -fomit-frame-pointer -pthread $< -o $@

workloads: $(WORKLOADS)

# --- the README's two commands
test: $(OUT)/leaktop $(OUT)/asan/leaktop $(UNIT_BINS) $(WORKLOADS)
	tests/run-all $(OUT)

demo: $(OUT)/leaktop $(OUT)/workloads/demo
	$(OUT)/leaktop -d 10 -n 5 -- $(OUT)/workloads/demo 12

bench: $(OUT)/leaktop $(WORKLOADS)
	scripts/bench $(OUT)

format:
	clang-format -i src/*.[ch] bpf/*.[ch] tests/unit/*.[ch] tests/workloads/*.c tests/workloads/*.cc

clean:
	rm -rf $(OUT)

-include $(wildcard $(OUT)/obj/*.d $(OUT)/asan/*.d $(OUT)/tests/*.d)
