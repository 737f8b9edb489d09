# The two commands a new user needs: `make demo` and `make test`. Both set everything up first.
PY := .venv/bin/python
export PYTHONUNBUFFERED := 1

.PHONY: setup demo test bench clean

setup:
	@bash scripts/bootstrap.sh

demo: setup
	$(PY) -m scripts.demo

test: setup
	$(PY) -m pytest -q -rs

bench: setup
	$(PY) -m benchmarks.photos_quality
	$(PY) -m benchmarks.photos_sweep
	$(PY) -m benchmarks.quality
	$(PY) -m benchmarks.overhead
	$(PY) -m benchmarks.photos_time
	$(PY) -m benchmarks.photos_counts
	$(PY) -m benchmarks.photos_budget
	$(PY) -m benchmarks.split_runs

clean:
	rm -rf .venv .cache out
