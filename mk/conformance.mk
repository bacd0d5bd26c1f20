# Conformance (issue 6): one scenario suite, conformance/scenarios/*.json, run by a driver per
# runtime with real Go as the judge; conformance/run.py prints the scenario x runtime matrix.
# Included by the root Makefile. See conformance/README.md.
#
# A driver is built here and listed in conformance/run.py (DRIVERS); adding a runtime is one
# build rule below, one prerequisite of `conformance`, and one line there.

TEST_TARGETS += test-conformance
LINT_TARGETS += lint-conformance

.PHONY: conformance test-conformance conformance-drivers conformance-go conformance-rust \
	conformance-c conformance-python conformance-node lint-conformance

GO ?= go
PYTHON ?= python3
CONFORMANCE_OUT := target/conformance
CONFORMANCE_RUST := --manifest-path conformance/drivers/rust/Cargo.toml --target-dir $(CONFORMANCE_OUT)

conformance-go: ## Build the Go reference driver (sync, x/sync/errgroup pinned in go.mod, context)
	@mkdir -p $(CONFORMANCE_OUT)
	cd conformance/go && $(GO) build -buildvcs=false -o $(abspath $(CONFORMANCE_OUT))/go-driver .

conformance-rust: ## Build the Rust (core) conformance driver (its own workspace and Cargo.lock)
	$(CARGO) build --release $(CONFORMANCE_RUST) $(CARGO_FLAGS)

# The C driver: strict C11 against include/gogroup.h, linked to the staged libgogroup (mk/c.mk)
# as the C tests are. Its JSON reader (json.c) is the driver's own.
CONFORMANCE_C_SRC := $(sort $(wildcard conformance/drivers/c/*.c))
CONFORMANCE_C_HDR := $(sort $(wildcard conformance/drivers/c/*.h))

$(CONFORMANCE_OUT)/c-driver: $(CONFORMANCE_C_SRC) $(CONFORMANCE_C_HDR) include/gogroup.h | c-lib
	@mkdir -p $(@D)
	$(CC) $(C_FLAGS) $(CONFORMANCE_C_SRC) -o $@ $(C_LINK)

conformance-c: $(CONFORMANCE_OUT)/c-driver ## Build the C conformance driver (through libgogroup)

# The Python and Node drivers are scripts run on the installed package (.venv, mk/py.mk) and the
# built addon (node/, mk/node.mk).
conformance-python: py-install ## Install the Python package the Python conformance driver uses

conformance-node: node-addon ## Build the Node addon the Node conformance driver uses

conformance-drivers: conformance-go conformance-rust conformance-c conformance-python conformance-node

conformance: conformance-drivers ## Run every driver on every scenario; print the matrix (fails on FAIL)
	$(PYTHON) conformance/run.py

test-conformance: conformance ## The conformance matrix, as part of `make test`

lint-conformance: require-rustfmt require-clippy py-install $(C_CLANG_FORMAT) ## gofmt, go vet, rustfmt, clippy, strict C + clang-format, ruff + mypy, node --check for the drivers
	@test -z "$$(cd conformance/go && gofmt -l .)" || { \
		echo >&2 'ERROR: gofmt: run `gofmt -w conformance/go`'; (cd conformance/go && gofmt -l .); exit 1; }
	cd conformance/go && $(GO) vet ./...
	$(CARGO) fmt --manifest-path conformance/drivers/rust/Cargo.toml -- --check
	$(CARGO) clippy --release $(CONFORMANCE_RUST) $(CARGO_FLAGS) -- -D warnings
	$(CC) $(C_WARN) -D_GNU_SOURCE -Iinclude -fsyntax-only $(CONFORMANCE_C_SRC)
	$(C_CLANG_FORMAT) --style=file:ffi-c/.clang-format --dry-run --Werror $(CONFORMANCE_C_SRC) \
		$(CONFORMANCE_C_HDR)
	$(PY_PIP) install $(PY_LINT_DEPS)
	$(PY) -m ruff check --config py/pyproject.toml conformance/drivers/python
	$(PY) -m ruff format --check --config py/pyproject.toml conformance/drivers/python
	$(PY) -m mypy --config-file py/pyproject.toml --strict conformance/drivers/python/driver.py
	$(NODE) --check conformance/drivers/node/driver.mjs
