# coinbc build. `make help` lists the targets.
#
# Layout: every module folder (common game capture dataset model train eval)
# compiles into build/libcoinbc.a; cli/ links it into build/coinbc; each
# tests/test_*.c is its own cmocka program; bench/*.c are benchmark programs.

MODULES := common game capture dataset model train eval
CC      ?= gcc
MARCH   ?= $(shell grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo 2>/dev/null && echo x86-64-v3 || echo x86-64-v2)
# -ffp-contract=off: the engine must round exactly as procgen's spec says
# (the one fused multiply-add it needs is an explicit fmaf()).
CFLAGS  ?= -O2
CFLAGS  += -std=c11 -D_GNU_SOURCE -march=$(MARCH) -ffp-contract=off -Wall -Wextra -g \
           -MMD -MP -I. -pthread
LDLIBS  := -lopenblas -lpng -lz -lm -lpthread
BUILD   := build

ifeq ($(SANITIZE),1)
  BUILD   := build-san
  CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDFLAGS += -fsanitize=address,undefined
endif

LIB_SRC  := $(foreach m,$(MODULES),$(wildcard $(m)/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
# bench/ holds the benchmark functions behind `coinbc bench`, linked into the program.
CLI_SRC  := $(wildcard cli/*.c) $(wildcard bench/*.c)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TESTLIB_SRC := $(wildcard tests/support/*.c)
TESTLIB_OBJ := $(TESTLIB_SRC:%.c=$(BUILD)/%.o)

DEB_PKGS := gcc make libopenblas-dev libpng-dev zlib1g-dev libcmocka-dev pkg-config
DEB_TEST_PKGS := chromium

.PHONY: all deps test check bench clean help demo fuzz
.SECONDARY:
all: $(BUILD)/coinbc

help:
	@echo "make            build build/coinbc"
	@echo "make deps       install the Debian packages coinbc needs (apt-get, only if missing)"
	@echo "make test       deps + build + run every cmocka test program ('N passed, N failed')"
	@echo "make SANITIZE=1 test   the same tests under ASan+UBSan (build-san/)"
	@echo "make bench      run the benchmarks (figures on stdout)"
	@echo "make clean      remove build/ and build-san/"

# Installs only what is missing, so it is quick on a prepared machine.
deps:
	@missing=""; for p in $(DEB_PKGS) $(DEB_TEST_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null || \
	    { echo "deps: apt-get install$$missing failed" >&2; exit 1; }; \
	fi

$(BUILD)/libcoinbc.a: $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/coinbc: $(CLI_OBJ) $(BUILD)/libcoinbc.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libcoinbc.a $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(TESTLIB_OBJ) $(BUILD)/libcoinbc.a
	$(CC) $(LDFLAGS) -o $@ $< $(TESTLIB_OBJ) $(BUILD)/libcoinbc.a $(LDLIBS) -lcmocka

test: deps
	@$(MAKE) --no-print-directory $(BUILD)/coinbc $(TEST_BIN)
	@COINBC=$(BUILD)/coinbc sh tests/run_tests.sh $(TEST_BIN)

check: test

bench: deps $(BUILD)/coinbc
	$(BUILD)/coinbc bench all

clean:
	rm -rf build build-san

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
