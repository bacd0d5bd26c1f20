# gogroup — one Makefile for every language. `make` (or `make help`) lists the targets.
#
# Needs only the toolchains: Rust (with the clippy and rustfmt components) today; Go, Python and
# Node once their bindings land. Every other tool is installed by this Makefile from its registry
# into a local folder (.venv, node/node_modules, target/tools), never system-wide.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

CARGO ?= cargo
# Builds and tests use the committed Cargo.lock; `make test CARGO_FLAGS=` lifts that.
CARGO_FLAGS ?= --locked
# Loom models build with `--cfg loom` in their own target dir, so they never invalidate target/.
LOOM_TARGET_DIR := target/loom
LOOM_MAX_PREEMPTIONS ?= 2
# Rust examples: every examples/rust/NAME.rs is registered as [[example]] NAME in core/Cargo.toml.
RUST_EXAMPLES := $(sort $(basename $(notdir $(wildcard examples/rust/*.rs))))

# Each runtime's targets live in mk/<runtime>.mk and register themselves here, so that adding a
# binding never edits another's lines: `TEST_TARGETS += test-py`, `DEMO_TARGETS += demo-py`,
# `LINT_TARGETS += lint-py`.
TEST_TARGETS := test-rust test-loom
DEMO_TARGETS := demo-rust
LINT_TARGETS := fmt-check clippy
-include $(sort $(wildcard mk/*.mk))

.PHONY: help demo demo-rust test lint fmt fmt-check clippy test-rust test-loom loom bench \
	require-rustfmt require-clippy

help: ## List the targets and what they do (default)
	@echo 'Usage: make <target>'
	@echo
	@awk 'BEGIN { FS = ":.*## " } /^[a-zA-Z0-9_ -]+:.*## / { printf "  %-18s %s\n", $$1, $$2 }' \
		$(MAKEFILE_LIST)

demo: $(DEMO_TARGETS) ## Build everything and run the examples in every language

demo-rust: ## Build and run every example in examples/rust (release)
	$(CARGO) build --release -p gogroup --examples $(CARGO_FLAGS)
	@for name in $(RUST_EXAMPLES); do \
		echo; echo "=== examples/rust/$$name.rs ==="; \
		$(CARGO) run --release -p gogroup --example "$$name" $(CARGO_FLAGS) --quiet; \
	done

test: lint $(TEST_TARGETS) ## Everything CI runs: lint, then every runtime's tests

lint: $(LINT_TARGETS) ## Every linter: rustfmt, clippy -D warnings, and each runtime's own

fmt: require-rustfmt ## Format all Rust code in the workspace
	$(CARGO) fmt --all

fmt-check: require-rustfmt ## Fail if any Rust code is not rustfmt-formatted
	$(CARGO) fmt --all -- --check

clippy: require-clippy ## Run clippy on every crate and target, warnings are errors
	$(CARGO) clippy --workspace --all-targets $(CARGO_FLAGS) -- -D warnings

test-rust: ## Run core's unit, integration and doc tests
	env -u RUST_TEST_THREADS $(CARGO) test -p gogroup $(CARGO_FLAGS)

test-loom loom: ## Model-check core's concurrency with loom (tests named loom_*)
	RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=$(LOOM_MAX_PREEMPTIONS) \
		$(CARGO) test -p gogroup --lib --release $(CARGO_FLAGS) --target-dir $(LOOM_TARGET_DIR) loom_

bench: ## Run the side-by-side benchmarks (bench/run.sh)
	@if [[ -f bench/run.sh ]]; then \
		bash bench/run.sh; \
	else \
		echo >&2 'ERROR: bench/run.sh does not exist yet; nothing was benchmarked.'; \
		exit 1; \
	fi

# Rust components are not toolchains of their own: say loudly how to get them.
require-rustfmt:
	@$(CARGO) fmt --version >/dev/null 2>&1 || { \
		echo >&2 '************************************************************'; \
		echo >&2 'ERROR: rustfmt is not installed: rustup component add rustfmt'; \
		echo >&2 '************************************************************'; \
		exit 1; \
	}

require-clippy:
	@$(CARGO) clippy --version >/dev/null 2>&1 || { \
		echo >&2 '**********************************************************'; \
		echo >&2 'ERROR: clippy is not installed: rustup component add clippy'; \
		echo >&2 '**********************************************************'; \
		exit 1; \
	}
