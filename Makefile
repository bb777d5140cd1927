# The two commands of the README: `make demo` and `make test`.
.PHONY: setup setup-test demo test test-only test-pg lint bench

setup:
	./scripts/setup.sh

setup-test:
	./scripts/setup.sh --test

demo: setup
	.venv/bin/ushiro demo --data-dir ./ushiro-data

test: setup-test test-only

test-only:
	.venv/bin/python -m pytest -q

test-pg: setup-test
	USHIRO_TEST_DB=postgres .venv/bin/python -m pytest -q

lint:
	.venv/bin/ruff check src tests bench scripts
	.venv/bin/mypy src
	.venv/bin/lint-imports

bench:
	.venv/bin/python bench/intake.py --mode load
	.venv/bin/python bench/intake.py --mode crash
