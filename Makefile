# coinbc build. `make help` lists the targets.
#
# Layout: every module folder compiles into build/libcoinbc.a. MODULES is in
# dependency order: a module includes only the public headers of the ones
# before it (docs/ARCHITECTURE.md; tests/test_layout.c checks it). cli/ and
# bench/ (the benchmarks behind `coinbc bench`) link it into build/coinbc;
# each tests/test_*.c is its own cmocka program.

MODULES := common game dataset capture model run train eval exp
CC      ?= gcc
MARCH   ?= $(shell grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo 2>/dev/null && echo x86-64-v3 || echo x86-64-v2)
# -ffp-contract=off: the engine must round exactly as procgen's spec says
# (the one fused multiply-add it needs is an explicit fmaf()).
# -O3: GCC vectorizes the layer kernels' loops only there (at -O2 its cost
# model keeps loops of unknown length scalar); bench train: about 1.2x the
# samples/s of -O2. FP results are the same: no -ffast-math, no contraction.
CFLAGS  ?= -O3
CFLAGS  += -std=c11 -D_GNU_SOURCE -march=$(MARCH) -ffp-contract=off -Wall -Wextra -g \
           -MMD -MP -I. -pthread
LDLIBS  := -lopenblas -lpng -lz -ljansson -lm -lpthread
BUILD   := build

# MPI=1: build against Open MPI (mpicc) into build-mpi/; common/dist.c is the
# only file that includes mpi.h (docs/MPI.md). The default build needs no MPI.
ifeq ($(MPI),1)
  CC      := mpicc
  BUILD   := build-mpi
  CFLAGS  += -DCOINBC_MPI=1
endif

ifeq ($(SANITIZE),1)
  BUILD   := $(BUILD)-san
  CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDFLAGS += -fsanitize=address,undefined
endif

# SANITIZE=thread: ThreadSanitizer, into build-tsan/, for test-threads
ifeq ($(SANITIZE),thread)
  BUILD   := $(BUILD)-tsan
  CFLAGS  += -fsanitize=thread -fno-omit-frame-pointer
  LDFLAGS += -fsanitize=thread
endif

LIB_SRC  := $(foreach m,$(MODULES),$(wildcard $(m)/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
# bench/ holds the benchmark functions behind `coinbc bench`, linked into the program.
CLI_SRC  := $(wildcard cli/*.c) $(wildcard bench/*.c)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TESTLIB_SRC := $(filter-out tests/support/faultshim.c,$(wildcard tests/support/*.c))
TESTLIB_OBJ := $(TESTLIB_SRC:%.c=$(BUILD)/%.o)

# libjansson-dev: JSON of run and tune folders (run/); python3-optuna: the
# tune driver's TPE sampler, pruner and storage (tools/tune.py). (SciPy is the
# reference eval/stats.c was checked against; its figures are pasted into
# tests/test_stats.c, so neither the tests nor coinbc need it.)
DEB_PKGS := gcc make libopenblas-dev libpng-dev zlib1g-dev libcmocka-dev libjansson-dev pkg-config python3 python3-optuna
DEB_TEST_PKGS := chromium
ifeq ($(MPI),1)
  DEB_PKGS += libopenmpi-dev openmpi-bin
endif

.PHONY: all deps test test-mpi test-threads check bench clean help demo reproduce compare fuzz
.SECONDARY:
all: $(BUILD)/coinbc

help:
	@echo "make            build build/coinbc"
	@echo "make deps       install the Debian packages coinbc needs (apt-get, only if missing)"
	@echo "make test       deps + build + run every cmocka test program ('N passed, N failed')"
	@echo "make SANITIZE=1 test   the same tests under ASan+UBSan (build-san/)"
	@echo "make MPI=1 test        build against Open MPI (build-mpi/) and also run the mpirun tests (docs/MPI.md)"
	@echo "make MPI=1 test-mpi    only the mpirun tests (tests/test_mpi.c), as .ci/run does"
	@echo "make test-threads      the tests of the threaded code under ThreadSanitizer (build-tsan/)"
	@echo "make demo       the whole pipeline on a default: record, train mean and and, eval, rollout, report"
	@echo "make compare    docs/experiments/hard.json: tune 5 methods, 5 seeds of each best, probe, table (resumable; COMPARE_HOURS=2 per piece)"
	@echo "make reproduce  docs/experiments/reproduce.json: mean, and, sand, geomean at tau 0.8 x 3 seeds (hours)"
	@echo "make compare-NAME   any docs/experiments/NAME.json the same way"
	@echo "make bench      run the benchmarks (figures on stdout)"
	@echo "make clean      remove build/ and build-san/"
	@echo "make fuzz       build the libFuzzer targets tests/fuzz/*.c with clang and run each FUZZ_TIME (60) s"

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

$(BUILD)/%.o: %.c Makefile
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(TESTLIB_OBJ) $(BUILD)/libcoinbc.a
	$(CC) $(LDFLAGS) -o $@ $< $(TESTLIB_OBJ) $(BUILD)/libcoinbc.a $(LDLIBS) -lcmocka

# Allocation-failure injection: the library's malloc/calloc/realloc/free
# calls in this test program go through its counting wrappers.
$(BUILD)/tests/test_allocfail: LDFLAGS += -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free

# The LD_PRELOAD library of test_faults (no sanitizer: it is loaded into coinbc).
$(BUILD)/tests/faultshim.so: tests/support/faultshim.c Makefile
	@mkdir -p $(@D)
	$(CC) -std=c11 -O1 -g -Wall -Wextra -shared -fPIC -o $@ $< -ldl

test: deps
	@$(MAKE) --no-print-directory $(BUILD)/coinbc $(TEST_BIN) $(BUILD)/tests/faultshim.so
	@COINBC=$(BUILD)/coinbc sh tests/run_tests.sh $(TEST_BIN)

check: test

# The mpirun tests alone (tests/test_mpi.c, 2 ranks on localhost); with MPI=1
# they run for real, otherwise they report themselves skipped. `make MPI=1
# test` runs them along with everything else against the MPI build.
# The tests of the threaded code (the thread pool, the two-group and the
# single-chunk backward, the parallel combine and Adam) under ThreadSanitizer:
# a data race fails them. A child forked by test_common starts threads,
# which TSan allows only with die_after_fork=0. They run with address-space
# randomization off where setarch allows it: GCC 12's TSan cannot map its
# shadow memory on kernels that randomize more than 28 bits.
THREAD_TESTS := test_common test_model test_speed test_level_sums test_gemm512
test-threads: deps
	@$(MAKE) --no-print-directory SANITIZE=thread $(THREAD_TESTS:%=$(BUILD)-tsan/tests/%) $(BUILD)-tsan/coinbc
	@norand=""; setarch "$$(uname -m)" -R true 2>/dev/null && norand="setarch $$(uname -m) -R"; \
	  COINBC=$(BUILD)-tsan/coinbc TSAN_OPTIONS="die_after_fork=0 halt_on_error=1 exitcode=66" $$norand sh tests/run_tests.sh $(THREAD_TESTS:%=$(BUILD)-tsan/tests/%)

test-mpi: deps
	@$(MAKE) --no-print-directory $(BUILD)/coinbc $(BUILD)/tests/test_mpi
	@COINBC=$(BUILD)/coinbc sh tests/run_tests.sh $(BUILD)/tests/test_mpi

# The main job: record, capture, train mean and AND-mask, evaluate, play, report.
demo: deps
	@$(MAKE) --no-print-directory $(BUILD)/coinbc
	COINBC=$(BUILD)/coinbc sh tools/demo.sh

# The committed experiments (docs/experiments/NAME.json) through coinbc
# compare: resumable; COMPARE_HOURS=H makes pieces of at most H hours (exit
# status 3: run again). Records go to docs/results/compare/NAME (committed),
# datasets and checkpoints to out/compare/NAME (never committed).
COMPARE_HOURS ?=
compare-%: deps
	@$(MAKE) --no-print-directory $(BUILD)/coinbc
	$(BUILD)/coinbc compare docs/experiments/$*.json -o docs/results/compare/$* --work out/compare/$* \
	  $(if $(COMPARE_HOURS),--hours $(COMPARE_HOURS))

# The hard-mode comparison of five tuned methods (docs/RESULTS.md).
compare: compare-hard

# The older fixed-configuration experiment: mean, and, sand, geomean at tau 0.8, 3 seeds, easy mode.
reproduce: compare-reproduce

bench: deps $(BUILD)/coinbc
	$(BUILD)/coinbc bench all

clean:
	rm -rf build build-san build-tsan build-mpi build-mpi-san build-fuzz

# libFuzzer targets (tests/fuzz/fuzz_*.c), built with clang into build-fuzz/
# and run FUZZ_TIME seconds each on a copy of tests/fuzz/corpus/NAME (the
# repository's seeds stay as they are). Crashes are left in build-fuzz/.
FUZZ_CC    ?= clang
FUZZ_TIME  ?= 60
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -I. -pthread -fno-omit-frame-pointer \
              -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
FUZZ_LIB   := $(wildcard common/*.c dataset/*.c model/*.c run/*.c) $(filter-out capture/record.c,$(wildcard capture/*.c)) game/png.c
FUZZ_NAMES := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))

build-fuzz/obj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -MMD -MP -c -o $@ $<

build-fuzz/fuzz_%: build-fuzz/obj/tests/fuzz/fuzz_%.o $(FUZZ_LIB:%.c=build-fuzz/obj/%.o)
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $^ -lopenblas -lpng -lz -ljansson -lm -lpthread

fuzz:
	@if ! command -v $(FUZZ_CC) >/dev/null 2>&1; then \
	  echo "fuzz: $(FUZZ_CC) not found (apt-get install clang); nothing built"; exit 1; fi
	@$(MAKE) --no-print-directory $(FUZZ_NAMES:%=build-fuzz/%)
	@for t in $(FUZZ_NAMES); do \
	  c=build-fuzz/corpus-$${t#fuzz_}; mkdir -p $$c; \
	  [ -d tests/fuzz/corpus/$${t#fuzz_} ] && cp -n tests/fuzz/corpus/$${t#fuzz_}/* $$c/ 2>/dev/null; \
	  echo "fuzz: $$t for $(FUZZ_TIME) s"; \
	  (cd build-fuzz && ./$$t -max_total_time=$(FUZZ_TIME) -rss_limit_mb=2048 -print_final_stats=1 corpus-$${t#fuzz_} \
	     > $$t.log 2>&1) || { echo "fuzz: $$t FAILED, see build-fuzz/$$t.log"; tail -30 build-fuzz/$$t.log; exit 1; }; \
	  grep -E "^(Done|stat::number_of_executed_units|stat::peak_rss_mb)" build-fuzz/$$t.log | tr '\n' ' '; echo; \
	done

-include $(shell find build-fuzz -name '*.d' 2>/dev/null)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
