# Conformance (issue 6): one scenario suite, conformance/scenarios/*.json, run by a driver per
# runtime with real Go as the judge; conformance/run.py prints the scenario x runtime matrix.
# Included by the root Makefile. See conformance/README.md.
#
# A driver is built here and listed in conformance/run.py (DRIVERS); adding a runtime is one
# build rule below, one prerequisite of `conformance`, and one line there.

TEST_TARGETS += test-conformance
LINT_TARGETS += lint-conformance

.PHONY: conformance test-conformance conformance-drivers conformance-go conformance-rust \
	lint-conformance

GO ?= go
PYTHON ?= python3
CONFORMANCE_OUT := target/conformance
CONFORMANCE_RUST := --manifest-path conformance/drivers/rust/Cargo.toml --target-dir $(CONFORMANCE_OUT)

conformance-go: ## Build the Go reference driver (sync, x/sync/errgroup pinned in go.mod, context)
	@mkdir -p $(CONFORMANCE_OUT)
	cd conformance/go && $(GO) build -buildvcs=false -o $(abspath $(CONFORMANCE_OUT))/go-driver .

conformance-rust: ## Build the Rust (core) conformance driver (its own workspace and Cargo.lock)
	$(CARGO) build --release $(CONFORMANCE_RUST) $(CARGO_FLAGS)

conformance-drivers: conformance-go conformance-rust

conformance: conformance-drivers ## Run every driver on every scenario; print the matrix (fails on FAIL)
	$(PYTHON) conformance/run.py

test-conformance: conformance ## The conformance matrix, as part of `make test`

lint-conformance: require-rustfmt require-clippy ## gofmt, go vet, rustfmt and clippy for the conformance drivers
	@test -z "$$(cd conformance/go && gofmt -l .)" || { \
		echo >&2 'ERROR: gofmt: run `gofmt -w conformance/go`'; (cd conformance/go && gofmt -l .); exit 1; }
	cd conformance/go && $(GO) vet ./...
	$(CARGO) fmt --manifest-path conformance/drivers/rust/Cargo.toml -- --check
	$(CARGO) clippy --release $(CONFORMANCE_RUST) $(CARGO_FLAGS) -- -D warnings
