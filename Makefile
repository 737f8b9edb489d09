# The two commands a new user needs: `make demo` and `make test`. Both set everything up first.
PY := .venv/bin/python
export PYTHONUNBUFFERED := 1

.PHONY: setup demo test bench clean

setup:
	@bash scripts/bootstrap.sh

demo: setup
	$(PY) scripts/demo.py

test: setup
	$(PY) -m pytest -q -rs

bench: setup
	$(PY) benchmarks/photos_quality.py
	$(PY) benchmarks/photos_quality.py --sweep
	$(PY) benchmarks/quality.py
	$(PY) benchmarks/overhead.py
	$(PY) benchmarks/photos_time.py

clean:
	rm -rf .venv .cache out
