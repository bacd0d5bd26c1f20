# Node binding (issue 5): the napi-rs addon in node/, its node:test suites, the typed-example
# check, the examples in examples/node and the side-by-side benchmark. Included by the root
# Makefile.
#
# Everything but Node, npm and Rust comes from the registries into node/node_modules (npm ci,
# pinned by node/package-lock.json). The addon is built by node/scripts/build.mjs (cargo only,
# the same script `npm install ./node` runs). The public classes are JS (node/lib/*.js) with
# hand-written typings (node/index.d.ts); the loader napi-rs generates for the addon and its
# typings (node/binding.js, node/binding.d.ts) are committed, and lint-node regenerates them
# with the pinned @napi-rs/cli in a target dir of their own (so the workspace's release build is
# never invalidated) and fails on any difference. lint-node-js runs the pinned Biome (biome.jsonc
# at the root: node/, examples/ and conformance/ JS and TS) without writing; fmt-node writes.

TEST_TARGETS += test-node
DEMO_TARGETS += demo-node
LINT_TARGETS += lint-node-js lint-node

.PHONY: node-deps node-addon test-node lint-node lint-node-js fmt-node node-generated demo-node \
	bench-node

NODE ?= node
NPM ?= npm
NODE_DIR := node
NODE_BIN := $(NODE_DIR)/node_modules/.bin
BIOME := $(NODE_BIN)/biome
# npm ci writes this file last: a complete node_modules.
NODE_DEPS_STAMP := $(NODE_DIR)/node_modules/.package-lock.json
NODE_GEN_DIR := target/napi
NODE_EXAMPLES := $(sort $(wildcard examples/node/*.mjs))
NODE_TS_EXAMPLES := $(sort $(wildcard examples/node/*.ts))

$(NODE_DEPS_STAMP): $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	cd $(NODE_DIR) && $(NPM) ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

node-deps: $(NODE_DEPS_STAMP) ## Install the Node binding's dev tools (npm ci in node/)

node-addon: ## Build the Node addon (release) with cargo, as `npm install` does
	cd $(NODE_DIR) && CARGO="$(CARGO)" CARGO_FLAGS="$(CARGO_FLAGS)" $(NODE) scripts/build.mjs

test-node: node-deps node-addon ## Build the Node addon and run its node:test suites
	cd $(NODE_DIR) && $(NODE) --expose-gc --test --test-concurrency=1 --test-timeout=120000 __test__/

NAPI_GENERATE = cd $(NODE_DIR) && ./node_modules/.bin/napi build --platform --js binding.js --dts binding.d.ts \
		--target-dir $(abspath $(NODE_GEN_DIR))/cargo --output-dir $(abspath $(NODE_GEN_DIR))/out

node-generated: node-deps ## Regenerate node/binding.js and node/binding.d.ts (napi build)
	$(NAPI_GENERATE)
	cp $(NODE_GEN_DIR)/out/binding.js $(NODE_GEN_DIR)/out/binding.d.ts $(NODE_DIR)/

lint-node: node-deps ## Fail if node/binding.js or binding.d.ts are stale; tsc --strict on the typed example
	$(NAPI_GENERATE) >/dev/null
	@for f in binding.js binding.d.ts; do \
		diff -u $(NODE_DIR)/$$f $(NODE_GEN_DIR)/out/$$f || { \
			echo >&2 "ERROR: node/$$f is stale: run 'make node-generated' and commit it"; exit 1; }; \
	done
	$(NODE_BIN)/tsc --noEmit --strict --target es2022 --module nodenext --moduleResolution nodenext \
		--lib es2022,esnext.disposable --types node --typeRoots $(NODE_DIR)/node_modules/@types \
		$(NODE_TS_EXAMPLES)

lint-node-js: node-deps ## Biome: lint and format check of the JS/TS (biome.jsonc); writes nothing
	@$(BIOME) check --error-on-warnings || { \
		echo >&2 '*****************************************************************************'; \
		echo >&2 'ERROR: lint-node-js: Biome found the lint or format problems above in the JS/TS.'; \
		echo >&2 '       `make fmt-node` formats and applies the safe fixes; fix the rest by hand.'; \
		echo >&2 '*****************************************************************************'; \
		exit 1; \
	}

fmt-node: node-deps ## Format the JS/TS and apply Biome's safe fixes (sorted imports included)
	$(BIOME) check --write

demo-node: node-deps node-addon ## Build the Node addon and run every example in examples/node
	@for f in $(NODE_EXAMPLES); do \
		echo; echo "=== $$f ==="; \
		$(NODE) "$$f"; \
	done

bench-node: node-deps node-addon ## Node benchmark: gogroup vs plain JS and AbortController (JSON lines)
	$(NODE) --expose-gc $(NODE_DIR)/bench/bench.mjs
