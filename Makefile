# The commands a newcomer runs; see README.md. PYTHON may be overridden: make test PYTHON=.venv/bin/python
PYTHON ?= $(shell command -v python3 || command -v python)

.PHONY: demo test lint bench clean

demo:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e .
	$(PYTHON) -m fmsearch.demo
	$(PYTHON) -m service.demo demo-out/stdlib
	$(PYTHON) -m fmsearch bulletin contamination/examples/stdlib-humaneval.toml --out demo-out/bulletin

test:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e ".[test]"
	$(PYTHON) -m pytest -q

lint:
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

bench:
	$(PYTHON) bench/core.py

# numba's cache notices edits only to a kernel's own file: drop every compiled kernel after editing a helper module.
clean:
	find . -name "*.nbi" -delete -o -name "*.nbc" -delete
