# Python binding (py/, crate gogroup-py → package gogroup). Included by the root Makefile.
#
# Needs only python3 (3.9+) and the Rust toolchain: the venv, maturin (the PEP 517 backend pip
# fetches for `pip install ./py`) and the pinned test and lint tools all come from PyPI.
# pip builds the wheel in release mode in its own target dir, so it never fights `cargo test`
# over target/debug, nor rebuilds pyo3 whenever the two environments alternate.

PYTHON ?= python3
PY_VENV := .venv
PY := $(PY_VENV)/bin/python
PY_PIP := $(PY) -m pip --disable-pip-version-check -q
PY_BUILD_ENV := CARGO_TARGET_DIR=$(CURDIR)/target/maturin
# Keep in step with [project.optional-dependencies] in py/pyproject.toml.
PY_TEST_DEPS := pytest==9.2.0
PY_LINT_DEPS := mypy==2.4.1 ruff==0.17.6
PY_EXAMPLES := $(sort $(wildcard examples/python/*.py))

TEST_TARGETS += test-py
DEMO_TARGETS += demo-py
LINT_TARGETS += lint-py

.PHONY: test-py lint-py demo-py bench-py py-install py-venv

$(PY):
	$(PYTHON) -m venv $(PY_VENV)

py-venv: $(PY)

py-install: py-venv ## Build the Python package and install it into .venv (pip install ./py)
	$(PY_BUILD_ENV) $(PY_PIP) install --force-reinstall --no-deps ./py
	$(PY_PIP) install $(PY_TEST_DEPS)

test-py: py-install ## Python binding: pytest, including every docstring example (native ones too)
	cd py && $(abspath $(PY)) -m pytest -q tests

lint-py: py-install ## Python binding: ruff, mypy --strict (examples, tests), stubtest (.pyi vs module)
	$(PY_PIP) install $(PY_LINT_DEPS)
	$(PY) -m ruff check --config py/pyproject.toml py examples/python
	$(PY) -m ruff format --check --config py/pyproject.toml py examples/python
	MYPYPATH=py/tests $(PY) -m mypy --config-file py/pyproject.toml --strict \
		examples/python py/tests/*.py py/bench/bench.py
	$(PY) -m mypy.stubtest gogroup --mypy-config-file py/pyproject.toml
	$(CARGO) clippy -p gogroup-py --all-targets $(CARGO_FLAGS) -- -D warnings

demo-py: py-install ## Build the Python package and run every example in examples/python
	@for example in $(PY_EXAMPLES); do \
		echo; echo "=== $$example ==="; \
		$(PY) "$$example"; \
	done

bench-py: py-install ## Python binding: gogroup vs ThreadPoolExecutor, asyncio.TaskGroup, Event (JSON lines)
	$(PY) py/bench/bench.py
