# datagov developer tasks. `make help` lists them. Every target sets up
# .venv on first use (and again when pyproject.toml changes).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install demo demo-fashion tour test test-fast lint format bench clean-workspace

help: ## Show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install datagov with its dev tools

demo: $(STAMP) ## Run the main job end to end in this repository's workspace
	$(BIN)/datagov --workspace . demo

# Fashion-MNIST's 70,000 real images, as Debian packages them (MIT; IDX files).
FASHION := /usr/share/datasets/fashion-mnist
$(FASHION):
	apt-get update -qq && apt-get install -y -qq --no-install-recommends dataset-fashion-mnist

demo-fashion: $(STAMP) $(FASHION) ## The same job on Fashion-MNIST's 70,000 images (installs Debian's package if absent; minutes)
	$(BIN)/datagov --workspace . demo --fashion

TOUR ?= tour
tour: $(STAMP) ## Make a workspace ./tour with the example files the README's command examples use
	$(BIN)/datagov init $(TOUR)
	$(BIN)/python examples/make_tour.py $(TOUR)

# The desk's browser test drives Debian's Chromium (Playwright's own download needs the internet).
CHROMIUM ?= /usr/bin/chromium
export DATAGOV_CHROMIUM := $(CHROMIUM)
$(CHROMIUM):
	apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium

test: $(STAMP) $(CHROMIUM) $(FASHION) ## Run the whole test suite (what CI runs; installs Chromium and Fashion-MNIST if missing)
	$(BIN)/python -m pytest

test-fast: $(STAMP) ## Run the tests not marked slow
	$(BIN)/python -m pytest -m "not slow"

lint: $(STAMP) ## Check style and types (ruff, mypy)
	$(BIN)/ruff check datagov tests bench examples
	$(BIN)/ruff format --check datagov tests bench examples
	$(BIN)/mypy

format: $(STAMP) ## Format the code with ruff
	$(BIN)/ruff format datagov tests bench examples
	$(BIN)/ruff check --fix datagov tests bench examples

bench: $(STAMP) ## Run the benchmarks (minutes; prints ratios against same-run baselines)
	$(BIN)/python bench/run.py

clean-workspace: ## Remove this workspace's catalog state (keeps catalog/README.md)
	find catalog -mindepth 1 ! -name README.md ! -name .gitignore -delete
