# Two entry points (see README): `make run` and `make test`. Both create the
# virtual environment from requirements.lock on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
BACKENDS := tensorflow jax torch

.PHONY: run test lint clean

$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

run: $(VENV)/.installed
	$(BIN)/python pipelines/local_runner.py kddcup99_sample

test: $(VENV)/.installed
	$(BIN)/ruff check keras_synthad pipelines tests benchmarks examples
	@for backend in $(BACKENDS); do \
		echo "=== KERAS_BACKEND=$$backend"; \
		KERAS_BACKEND=$$backend $(BIN)/pytest -q -n 2 --dist loadfile || exit 1; \
	done

lint: $(VENV)/.installed
	$(BIN)/ruff check keras_synthad pipelines tests benchmarks examples
	$(BIN)/ruff format --check keras_synthad pipelines tests benchmarks examples

clean:
	rm -rf $(VENV) synthad_output
