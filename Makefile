# htmu: `make run` runs the whole study on the bundled default config; `make test` runs the test suite.
# Both create .venv on first use (torch/torchvision install from this machine's disk on the dev machines).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONFIG ?= config/config.yaml
CORES ?= all
SNAKEMAKE := PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake
# Snakemake parses --configfile itself, before the workflow's own checks, and names neither the file nor the line
# of a YAML error; this check does, in one line.
CHECK_CONFIG := PYTHONPATH="$(CURDIR)/src" $(BIN)/python -m htmu.study.config --schema workflow/schemas/config.schema.yaml

.PHONY: help venv run report test test-slurm lint format bench paper dryrun clean

help:
	@echo "make run     create .venv, run the whole DAG on $(CONFIG), write results/ and results/report.html"
	@echo "make test    create .venv if needed, run the test suite"
	@echo "make test-slurm  as root on a Debian 12 machine: install SLURM, start a one-node cluster, run a tiny study through profiles/slurm (~8 min)"
	@echo "make lint    ruff, snakefmt --check, snakemake --lint on both configs"
	@echo "make bench   speed/memory benchmarks, select_law's confusion matrix and the coverage study of the kappa"
	@echo "             interval over its whole grid (hours on 2 cores; numbers and reproduction commands printed)"
	@echo "make paper   the full CIFAR-10 study of config/paper.yaml (needs CIFAR-10 and, sensibly, GPUs)"
	@echo "make dryrun  plan the DAG of CONFIG without running it"

venv: $(STAMP)

$(STAMP): requirements.txt requirements-compare.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -r requirements.txt -r requirements-compare.txt
	$(BIN)/pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

run: $(STAMP)
	@$(CHECK_CONFIG) $(CONFIG)
	$(SNAKEMAKE) --cores $(CORES) --configfile $(CONFIG) --rerun-incomplete --keep-going --printshellcmds
	$(MAKE) --no-print-directory report CONFIG=$(CONFIG)

report: $(STAMP)
	@$(CHECK_CONFIG) $(CONFIG)
	$(SNAKEMAKE) --cores 1 --configfile $(CONFIG) --report results/report.html
	@echo "report: results/report.html"

test: $(STAMP)
	$(BIN)/python -m pytest

test-slurm: $(STAMP)
	SNAKEMAKE=$(CURDIR)/$(BIN)/snakemake tests/slurm/run-slurm-test.sh

lint: $(STAMP)
	$(BIN)/ruff check src scripts tests benchmarks
	$(BIN)/ruff format --check src scripts tests benchmarks
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(SNAKEMAKE) --lint --configfile config/config.yaml
	@# the workflow refuses paper.yaml where no CIFAR-10 copy is found; linting needs none
	@overlay=$$(mktemp --suffix=.yaml) && echo 'dataset: {download: true}' > $$overlay && \
	  $(SNAKEMAKE) --lint --configfile config/paper.yaml $$overlay; rc=$$?; rm -f $$overlay; exit $$rc

format: $(STAMP)
	$(BIN)/ruff format src scripts tests benchmarks
	$(BIN)/snakefmt Snakefile workflow/rules

bench: $(STAMP)
	@set -e; for b in benchmarks/bench_*.py benchmarks/selection_confusion.py benchmarks/coverage_study.py; do \
	  echo "== $$b"; PYTHONPATH=src $(BIN)/python $$b; done

paper: $(STAMP)
	@$(CHECK_CONFIG) config/paper.yaml
	$(SNAKEMAKE) --cores $(CORES) --configfile config/paper.yaml --rerun-incomplete --keep-going
	$(MAKE) --no-print-directory report CONFIG=config/paper.yaml

dryrun: $(STAMP)
	@$(CHECK_CONFIG) $(CONFIG)
	$(SNAKEMAKE) -n --quiet rules --configfile $(CONFIG)

clean:
	rm -rf results .snakemake
