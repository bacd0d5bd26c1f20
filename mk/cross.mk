# Across runtimes in one process (issue 6): gogroup objects made in Python and in Node, handed
# as C handles to C pthreads of a small library (examples/cross-runtime/cworkers.c, linked
# against libgogroup.so). Included by the root Makefile. See examples/cross-runtime/README.md.
#
# Needs nothing beyond the other runtimes' own prerequisites: ctypes is in Python's standard
# library, and the Node side is a plain-C N-API addon compiled with $(CC) against the
# node_api.h that ships with Node (no node-gyp, no npm package). Uses variables of mk/c.mk
# (C_WARN, C_STAGE, C_VALGRIND), mk/py.mk (PY) and mk/node.mk (NODE).

TEST_TARGETS += test-cross
DEMO_TARGETS += demo-cross
LINT_TARGETS += lint-cross

.PHONY: cross-lib test-cross demo-cross lint-cross cross-format

CROSS_SRC := examples/cross-runtime
CROSS_OUT := target/cross
CROSS_CFLAGS := $(C_WARN) -D_GNU_SOURCE -g -O1 -pthread -Iinclude -I$(CROSS_SRC) -Wl,-z,now
CROSS_LINK_GOGROUP := -L$(C_STAGE) -lgogroup -Wl,-rpath,$(abspath $(C_STAGE))
CROSS_LINK_WORKERS := -L$(CROSS_OUT) -lcworkers -Wl,-rpath,$(abspath $(CROSS_OUT))
# Node's own headers (node_api.h), next to its binary: /usr/bin/node -> /usr/include/node.
CROSS_NODE_INCLUDE ?= $(shell $(NODE) -p "require('path').resolve(process.execPath, '../../include/node')" 2>/dev/null)
CROSS_C_FILES := $(wildcard $(CROSS_SRC)/*.c $(CROSS_SRC)/*.h)
CROSS_ENV := CWORKERS_LIB=$(abspath $(CROSS_OUT))/libcworkers.so \
	CWORKERS_NODE_ADDON=$(abspath $(CROSS_OUT))/cworkers.node

$(CROSS_OUT)/libcworkers.so: $(CROSS_SRC)/cworkers.c $(CROSS_SRC)/cworkers.h include/gogroup.h | c-lib
	@mkdir -p $(@D)
	$(CC) $(CROSS_CFLAGS) -fPIC -shared $< -o $@ $(CROSS_LINK_GOGROUP)

$(CROSS_OUT)/test_cworkers: $(CROSS_SRC)/test_cworkers.c $(CROSS_OUT)/libcworkers.so
	$(CC) $(CROSS_CFLAGS) $< -o $@ $(CROSS_LINK_WORKERS) $(CROSS_LINK_GOGROUP)

# Undefined napi_* symbols are resolved from the node binary when it loads the addon.
$(CROSS_OUT)/cworkers.node: $(CROSS_SRC)/node_addon.c $(CROSS_OUT)/libcworkers.so
	@test -f "$(CROSS_NODE_INCLUDE)/node_api.h" || { \
		echo >&2 "ERROR: node_api.h not found in '$(CROSS_NODE_INCLUDE)' (set CROSS_NODE_INCLUDE)"; exit 1; }
	$(CC) $(CROSS_CFLAGS) -isystem $(CROSS_NODE_INCLUDE) -fPIC -shared $< -o $@ \
		$(CROSS_LINK_WORKERS) $(CROSS_LINK_GOGROUP)

cross-lib: c-lib $(CROSS_OUT)/libcworkers.so $(CROSS_OUT)/test_cworkers $(CROSS_OUT)/cworkers.node ## Build libcworkers.so, its C test and its Node addon (target/cross)

test-cross: cross-lib py-install node-addon ## Cross-runtime: C test (plain, valgrind), then Python -> C and Node -> C in one process each
	@echo '=== cross-runtime: cworkers from C (plain, then valgrind --leak-check=full) ==='
	@$(CROSS_OUT)/test_cworkers
	@$(C_VALGRIND) $(CROSS_OUT)/test_cworkers
	@echo '=== cross-runtime: Python -> C ==='
	@$(CROSS_ENV) $(PY) $(CROSS_SRC)/python_to_c.py
	@echo '=== cross-runtime: Node -> C ==='
	@$(CROSS_ENV) $(NODE) $(CROSS_SRC)/node_to_c.mjs

demo-cross: cross-lib py-install node-addon ## Run the cross-runtime demos: Python -> C and Node -> C
	@echo; echo '=== $(CROSS_SRC)/python_to_c.py ==='
	@$(CROSS_ENV) $(PY) $(CROSS_SRC)/python_to_c.py
	@echo; echo '=== $(CROSS_SRC)/node_to_c.mjs ==='
	@$(CROSS_ENV) $(NODE) $(CROSS_SRC)/node_to_c.mjs

lint-cross: $(C_CLANG_FORMAT) py-install ## clang-format (ffi-c/.clang-format), ruff and mypy --strict for examples/cross-runtime
	$(C_CLANG_FORMAT) --style=file:ffi-c/.clang-format --dry-run --Werror $(CROSS_C_FILES)
	$(PY_PIP) install $(PY_LINT_DEPS)
	$(PY) -m ruff check --config py/pyproject.toml $(CROSS_SRC)
	$(PY) -m ruff format --check --config py/pyproject.toml $(CROSS_SRC)
	$(PY) -m mypy --config-file py/pyproject.toml --strict $(CROSS_SRC)/python_to_c.py

cross-format: $(C_CLANG_FORMAT) ## clang-format the cross-runtime C sources in place
	$(C_CLANG_FORMAT) --style=file:ffi-c/.clang-format -i $(CROSS_C_FILES)
