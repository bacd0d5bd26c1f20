# C ABI (issue 3): libgogroup.so / libgogroup.a / gogroup.pc / include/gogroup.h, the C tests,
# the C example and the C benchmark. Included by the root Makefile.
#
# The Rust library is built once (release) and staged under target/c/lib with the file names
# C users link against; tests, the demo and the benchmark all reuse it.

TEST_TARGETS += test-c
DEMO_TARGETS += demo-c
LINT_TARGETS += lint-c

.PHONY: c-lib header check-header check-header-compiles c-format-check c-format lint-c test-c test-c-plain test-c-asan \
	test-c-valgrind install demo-c bench-c c-bench-bin

C_VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
C_MAJOR := $(word 1,$(subst ., ,$(C_VERSION)))
C_MINOR := $(word 2,$(subst ., ,$(C_VERSION)))
# The SONAME's version: 0.<minor> while the major is 0 (cargo semver), else <major>. ffi-c/build.rs
# computes the same for the linker.
C_ABI := $(if $(filter 0,$(C_MAJOR)),0.$(C_MINOR),$(C_MAJOR))
C_OUT := target/c
# The shipped library is built with fat LTO in its own target dir, so it never invalidates the
# workspace's release builds in target/release. `cargo rustc --crate-type` leaves the rlib out:
# rustc skips LTO when one of the crate types is an rlib.
C_CARGO_DIR := $(C_OUT)/cargo
C_STAGE := $(C_OUT)/lib
C_TEST_SRC := $(sort $(wildcard ffi-c/tests/c/test_*.c))
# test_cross_copy loads the library itself (dlopen), so it is built and run apart.
C_TESTS := $(filter-out test_cross_copy,$(basename $(notdir $(C_TEST_SRC))))
# What a static link against libgogroup.a needs (rustc --print native-static-libs, on Linux).
C_STATIC_LIBS := -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
PREFIX ?= /usr/local
DESTDIR ?=

CC ?= cc
C_WARN := -std=c11 -Wall -Wextra -Wpedantic -Werror
# -z now: resolve every symbol at start-up. gogroup's pool threads may still be running when a
# short test's main() returns, and lazy PLT binding racing process exit crashed once under
# valgrind; eager binding takes that race away (Rust's own libraries are linked this way).
C_FLAGS := $(C_WARN) -D_GNU_SOURCE -g -O1 -pthread -Iinclude -Wl,-z,now
C_SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
C_LINK := -L$(C_STAGE) -lgogroup -Wl,-rpath,$(abspath $(C_STAGE))
# --child-silent-after-fork: a fork child (test_fork.c) holds the memory of the parent's other
# threads without the threads (POSIX fork), which valgrind would report as lost; the child
# reports its checks through a pipe instead.
C_VALGRIND := valgrind -q --leak-check=full --errors-for-leak-kinds=definite,possible \
	--suppressions=ffi-c/tests/c/valgrind.supp \
	--error-exitcode=1 --fair-sched=yes --child-silent-after-fork=yes
C_PREFIX := $(abspath target/c-prefix)

c-lib: ## Build libgogroup.so (with SONAME) and libgogroup.a into target/c/lib (release, LTO)
	CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
		$(CARGO) rustc --release -p gogroup-ffi --lib --crate-type cdylib --crate-type staticlib \
		--target-dir $(C_CARGO_DIR) $(CARGO_FLAGS)
	@mkdir -p $(C_STAGE)
	@cp -f $(C_CARGO_DIR)/release/libgogroup_ffi.so $(C_STAGE)/libgogroup.so.$(C_VERSION)
	@ln -sf libgogroup.so.$(C_VERSION) $(C_STAGE)/libgogroup.so.$(C_ABI)
	@ln -sf libgogroup.so.$(C_ABI) $(C_STAGE)/libgogroup.so
	@cp -f $(C_CARGO_DIR)/release/libgogroup_ffi.a $(C_STAGE)/libgogroup.a
	@echo "staged $(C_STAGE): $$(readelf -d $(C_STAGE)/libgogroup.so | sed -n 's/.*SONAME.*\[\(.*\)\]/SONAME \1/p')"

header: ## Regenerate include/gogroup.h with the pinned cbindgen (ffi-c, feature gen-header)
	$(CARGO) build -p gogroup-ffi --features gen-header --target-dir target/header $(CARGO_FLAGS)

check-header: ## Fail if include/gogroup.h is not what `make header` would generate
	GOGROUP_HEADER_OUT=$(abspath target/header/gogroup.h) \
		$(CARGO) build -p gogroup-ffi --features gen-header --target-dir target/header $(CARGO_FLAGS)
	@diff -u include/gogroup.h target/header/gogroup.h || { \
		echo >&2 'ERROR: include/gogroup.h is stale: run `make header` and commit it.'; exit 1; }

check-header-compiles: ## Compile include/gogroup.h alone as C11 and as C++ with -Werror
	$(CC) $(C_WARN) -fsyntax-only -x c include/gogroup.h
	$(CXX) -std=c++17 -Wall -Wextra -Wpedantic -Werror -fsyntax-only -x c++ include/gogroup.h

# clang-format, pinned, from its PyPI wheel into target/tools (nothing system-wide).
C_CLANG_FORMAT_VERSION := 23.1.5
C_CLANG_FORMAT := target/tools/clang-format-$(C_CLANG_FORMAT_VERSION)/bin/clang-format
C_FORMAT_FILES = $(sort $(wildcard ffi-c/tests/c/*.c ffi-c/tests/c/*.h ffi-c/bench/*.c examples/c/*.c))

$(C_CLANG_FORMAT):
	python3 -m venv target/tools/clang-format-$(C_CLANG_FORMAT_VERSION)
	target/tools/clang-format-$(C_CLANG_FORMAT_VERSION)/bin/pip install -q \
		clang-format==$(C_CLANG_FORMAT_VERSION)

c-format-check: $(C_CLANG_FORMAT) ## Fail if the C sources are not clang-formatted (ffi-c/.clang-format)
	$(C_CLANG_FORMAT) --style=file:ffi-c/.clang-format --dry-run --Werror $(C_FORMAT_FILES)

c-format: $(C_CLANG_FORMAT) ## clang-format the C sources in place
	$(C_CLANG_FORMAT) --style=file:ffi-c/.clang-format -i $(C_FORMAT_FILES)

lint-c: check-header check-header-compiles c-format-check ## C linters: header freshness, header compiles as C11/C++, clang-format

# ---- tests ---------------------------------------------------------------------------------

$(C_OUT)/tests/plain/%: ffi-c/tests/c/%.c ffi-c/tests/c/common.h include/gogroup.h | c-lib
	@mkdir -p $(@D)
	$(CC) $(C_FLAGS) -DEXPECTED_CRATE_VERSION='"$(C_VERSION)"' $< -o $@ $(C_LINK)

$(C_OUT)/tests/asan/%: ffi-c/tests/c/%.c ffi-c/tests/c/common.h include/gogroup.h | c-lib
	@mkdir -p $(@D)
	$(CC) $(C_FLAGS) $(C_SAN) -DEXPECTED_CRATE_VERSION='"$(C_VERSION)"' $< -o $@ $(C_LINK)

$(C_OUT)/tests/plain/test_cross_copy: ffi-c/tests/c/test_cross_copy.c ffi-c/tests/c/common.h \
		include/gogroup.h
	@mkdir -p $(@D)
	$(CC) $(C_FLAGS) $< -o $@ -ldl

$(C_OUT)/tests/asan/test_cross_copy: ffi-c/tests/c/test_cross_copy.c ffi-c/tests/c/common.h \
		include/gogroup.h
	@mkdir -p $(@D)
	$(CC) $(C_FLAGS) $(C_SAN) $< -o $@ -ldl

# The static library, linked into one test, proves libgogroup.a is complete.
$(C_OUT)/tests/static/test_version: ffi-c/tests/c/test_version.c ffi-c/tests/c/common.h \
		include/gogroup.h | c-lib
	@mkdir -p $(@D)
	$(CC) $(C_FLAGS) -DEXPECTED_CRATE_VERSION='"$(C_VERSION)"' $< -o $@ \
		$(C_STAGE)/libgogroup.a $(C_STATIC_LIBS)

C_PLAIN_BINS := $(addprefix $(C_OUT)/tests/plain/,$(C_TESTS) test_cross_copy)
C_ASAN_BINS := $(addprefix $(C_OUT)/tests/asan/,$(C_TESTS) test_cross_copy)
# Two distinct files: the loader would hand back the first copy for the same file.
C_COPIES := $(C_OUT)/copies/a/libgogroup.so $(C_OUT)/copies/b/libgogroup.so

$(C_OUT)/copies/%/libgogroup.so: c-lib
	@mkdir -p $(@D)
	@cp -f $(C_STAGE)/libgogroup.so.$(C_VERSION) $@

test-c-plain: c-lib $(C_PLAIN_BINS) $(C_OUT)/tests/static/test_version $(C_COPIES)
	@echo '=== C tests (plain) ==='
	@for t in $(C_TESTS); do $(C_OUT)/tests/plain/$$t; done
	@$(C_OUT)/tests/static/test_version
	@$(C_OUT)/tests/plain/test_cross_copy $(C_COPIES)

test-c-asan: c-lib $(C_ASAN_BINS) $(C_COPIES)
	@echo '=== C tests (ASan + UBSan) ==='
	@for t in $(C_TESTS); do \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1 \
			$(C_OUT)/tests/asan/$$t; \
	done
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1 \
		$(C_OUT)/tests/asan/test_cross_copy $(C_COPIES)

test-c-valgrind: c-lib $(C_PLAIN_BINS) $(C_COPIES)
	@echo '=== C tests (valgrind --leak-check=full) ==='
	@for t in $(C_TESTS); do \
		GOGROUP_TEST_SCALE=valgrind $(C_VALGRIND) $(C_OUT)/tests/plain/$$t; \
	done
	@GOGROUP_TEST_SCALE=valgrind $(C_VALGRIND) $(C_OUT)/tests/plain/test_cross_copy $(C_COPIES)

test-c: ## C tests in ffi-c/tests/c: plain, under ASan+UBSan, and under valgrind
	@$(MAKE) --no-print-directory c-lib
	@$(MAKE) --no-print-directory test-c-plain test-c-asan test-c-valgrind

# ---- install, demo, bench ------------------------------------------------------------------

install: c-lib ## Install lib, header and gogroup.pc under $(DESTDIR)$(PREFIX) (default /usr/local)
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include
	install -m 755 $(C_STAGE)/libgogroup.so.$(C_VERSION) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libgogroup.so.$(C_VERSION) $(DESTDIR)$(PREFIX)/lib/libgogroup.so.$(C_ABI)
	ln -sf libgogroup.so.$(C_ABI) $(DESTDIR)$(PREFIX)/lib/libgogroup.so
	install -m 644 $(C_STAGE)/libgogroup.a $(DESTDIR)$(PREFIX)/lib/
	install -m 644 include/gogroup.h $(DESTDIR)$(PREFIX)/include/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(C_VERSION)|' \
		-e 's|@STATIC_LIBS@|$(C_STATIC_LIBS)|' ffi-c/gogroup.pc.in \
		> $(DESTDIR)$(PREFIX)/lib/pkgconfig/gogroup.pc

demo-c: ## Install into target/c-prefix, build examples/c through pkg-config, run them
	@$(MAKE) --no-print-directory install PREFIX=$(C_PREFIX) DESTDIR=
	@mkdir -p $(C_OUT)/examples
	@set -e; export PKG_CONFIG_PATH=$(C_PREFIX)/lib/pkgconfig; \
	for src in $(sort $(wildcard examples/c/*.c)); do \
		name=$$(basename $$src .c); \
		echo; echo "=== $$src (pkg-config: $$(pkg-config --modversion gogroup)) ==="; \
		$(CC) $(C_WARN) -D_GNU_SOURCE -pthread $$(pkg-config --cflags gogroup) $$src \
			-o $(C_OUT)/examples/$$name $$(pkg-config --libs gogroup) \
			-Wl,-rpath,$$(pkg-config --variable=libdir gogroup); \
		$(C_OUT)/examples/$$name; \
	done

c-bench-bin: c-lib
	@mkdir -p $(C_OUT)/bench
	$(CC) $(C_WARN) -D_GNU_SOURCE -O2 -pthread -Iinclude ffi-c/bench/bench.c \
		-o $(C_OUT)/bench/bench $(C_LINK)

bench-c: c-bench-bin ## C benchmark (ffi-c/bench): JSON lines, the workload names of bench/src/main.rs
	$(C_OUT)/bench/bench $(C_BENCH_ARGS)
