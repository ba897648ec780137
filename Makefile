# Two entry points for a fresh machine: `make run` and `make test` (README).
# Both install what they need first; installing twice is quick and changes nothing.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
DATA_DIR ?= .certsmith
LISTEN ?= 127.0.0.1:6443

.PHONY: install run test check lint pytest bench bench-components

install:
	@bash scripts/install.sh "$(VENV)"

run: install
	$(VENV)/bin/certsmith serve --data-dir "$(DATA_DIR)" --listen "$(LISTEN)"

# The CI command: lint, types, import layers, then the whole test suite.
test: install
	@$(MAKE) --no-print-directory check pytest

check:
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy src tests bench
	$(VENV)/bin/lint-imports

# pytest exits 5 when it collected nothing: that is a failure here, never a pass.
pytest:
	@set +e; $(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$rc

# Issue 9's suite: installs the peers (bench/setup.sh), runs every scenario against a real
# serve, prints the table and writes bench/results/<date>.json. BENCH_ARGS=--quick for small
# sizes (a few minutes), BENCH_ARGS="--only 1,4" for a subset.
bench: install
	@bash bench/setup.sh "$(VENV)"
	nice -n 10 $(PY) bench/suite.py $(BENCH_ARGS)

# The component benchmarks; the API server one writes bench/results/<date>-apiserver.json, the
# Certificates one (controllers on) bench/results/<date>-certificates.json.
bench-components: install
	$(PY) bench/storage_bench.py
	$(PY) bench/apiserver_bench.py
	$(PY) bench/certificates_bench.py
	$(PY) bench/acme_client_bench.py
	$(PY) bench/acme_bench.py
