# Benchmarks (issues 2 and 7): everything `make bench` (bench/run.sh) needs, built from a fresh
# checkout. Included by the root Makefile; the root `bench` target runs bench/run.sh, which runs
# `make bench-deps` first.
#
# Tools come from the registries only: Go modules (x/sync, pinned in bench/go/go.sum), crates
# (Cargo.lock), PyPI (maturin, through py-install) and npm (p-limit, pinned in
# node/bench/package-lock.json, installed into node/bench/node_modules).

.PHONY: bench-deps bench-rust-bin bench-go-bin bench-node-peers bench-quick

GO ?= go
NPM ?= npm
BENCH_GO_BIN = $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)/release/gogroup-bench-go
BENCH_NODE_STAMP := node/bench/node_modules/.package-lock.json

bench-rust-bin: ## Build the Rust bench binary (release)
	$(CARGO) build --release -p gogroup-bench $(CARGO_FLAGS)

bench-go-bin: ## Build the Go side of the benchmarks
	cd bench/go && $(GO) build -buildvcs=false -o $(BENCH_GO_BIN) .

$(BENCH_NODE_STAMP): node/bench/package.json node/bench/package-lock.json
	cd node/bench && $(NPM) ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

bench-node-peers: $(BENCH_NODE_STAMP) ## Install the Node bench's pinned peers (p-limit) from npm

bench-deps: bench-rust-bin bench-go-bin c-bench-bin py-install node-deps node-addon bench-node-peers ## Build everything `make bench` runs

bench-quick: ## Smoke run of the whole benchmark (QUICK=1: two to three minutes, numbers meaningless)
	QUICK=1 bash bench/run.sh
