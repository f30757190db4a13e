# The commands of the quick start: `make run` and `make test`, and the proof builds (`make
# test-asan`, `make test-tsan`, `make fuzz`; docs/architecture.md, "Proof"). Each installs
# missing Debian packages first, then configures and builds.
BUILD_DIR ?= build
ASAN_BUILD_DIR ?= build-asan
TSAN_BUILD_DIR ?= build-tsan
FUZZ_BUILD_DIR ?= build-fuzz
CMAKE_FLAGS ?=
JOBS ?= $(shell nproc)
# Seconds each fuzz target runs in `make fuzz`.
FUZZ_SECONDS ?= 60

.PHONY: all deps deps-test deps-bench deps-fuzz configure build run test stub test-asan \
	test-tsan fuzz bench profile clean

all: build

deps:
	@scripts/install-deps.sh build

deps-test:
	@scripts/install-deps.sh test

deps-bench:
	@scripts/install-deps.sh bench

deps-fuzz:
	@scripts/install-deps.sh fuzz

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja $(CMAKE_FLAGS)

configure: $(BUILD_DIR)/build.ninja

build: deps configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	@scripts/run.sh $(BUILD_DIR)

test: deps-test configure
	cmake --build $(BUILD_DIR) -j $(JOBS)
	ctest --test-dir $(BUILD_DIR) --output-on-failure

# The unit and system tests against sanitized binaries: only the proxy and the unit tests are
# built sanitized; the system tests' stand-in backend is the normal build's (test equipment),
# and the deploy checks (no proxy code in them) are left to `make test`.
SANITIZED_TARGETS = sluice unit_tests
STUB_BIN = $(abspath $(BUILD_DIR))/upstream_stub/upstream-stub

stub: deps-test configure
	cmake --build $(BUILD_DIR) -j $(JOBS) --target upstream-stub

test-asan: stub
	cmake -S . -B $(ASAN_BUILD_DIR) -G Ninja -DSLUICE_SANITIZE=address,undefined \
	  -DSLUICE_UPSTREAM_STUB=$(STUB_BIN) $(CMAKE_FLAGS)
	cmake --build $(ASAN_BUILD_DIR) -j $(JOBS) --target $(SANITIZED_TARGETS)
	ctest --test-dir $(ASAN_BUILD_DIR) -L 'unit|system' --output-on-failure

test-tsan: stub
	cmake -S . -B $(TSAN_BUILD_DIR) -G Ninja -DSLUICE_SANITIZE=thread \
	  -DSLUICE_UPSTREAM_STUB=$(STUB_BIN) $(CMAKE_FLAGS)
	cmake --build $(TSAN_BUILD_DIR) -j $(JOBS) --target $(SANITIZED_TARGETS)
	ctest --test-dir $(TSAN_BUILD_DIR) -L 'unit|system' --output-on-failure

# Each libFuzzer target for FUZZ_SECONDS on the committed corpus (fuzz/run.sh); a crash fails
# and prints its reproducer.
fuzz: deps-fuzz
	cmake -S . -B $(FUZZ_BUILD_DIR) -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DSLUICE_FUZZ=ON \
	  -DSLUICE_SANITIZE=address,undefined $(CMAKE_FLAGS)
	cmake --build $(FUZZ_BUILD_DIR) -j $(JOBS) --target fuzz_targets
	fuzz/run.sh $(FUZZ_BUILD_DIR) $(FUZZ_SECONDS)

bench: deps-bench build
	bench/run.sh $(BUILD_DIR)

profile: deps-bench build
	bench/profile.sh $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR) $(ASAN_BUILD_DIR) $(TSAN_BUILD_DIR) $(FUZZ_BUILD_DIR)
