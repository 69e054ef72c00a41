# Shared helpers: config validation, wildcard constraints, target lists and resource functions.

import json
import os
import sys
from pathlib import Path

# The package lives in src/; jobs (local, conda or SLURM) import it from the workflow's checkout.
_SRC = str(Path(workflow.basedir) / "src")
sys.path.insert(0, _SRC)
# (set, not read: the jobs inherit it, also under --sdm conda and on SLURM where the Snakefile is re-evaluated)
os.environ.update(PYTHONPATH=os.pathsep.join(p for p in (_SRC, os.environ.get("PYTHONPATH")) if p))
# Shared cluster filesystems often lack POSIX locks; HDF5's locking then makes netCDF writes fail.
os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")

from htmu.study.claims import CLAIMS  # noqa: E402
from htmu.study.config import ConfigError, load_schema, parse_run, run_name, validate_config  # noqa: E402
from htmu.study.experiments import EXPERIMENTS  # noqa: E402
from htmu.study.figures import FIGURES  # noqa: E402

try:
    # Snakemake has moved into the working directory (--directory), from which the jobs read relative paths.
    _validated = validate_config(
        config, load_schema(workflow.source_path("../schemas/config.schema.yaml")), base_dir=os.getcwd()
    )
except ConfigError as _err:
    # One line, no traceback: the run stops before any job.
    print(f"htmu: invalid configuration: {_err}", file=sys.stderr)
    sys.exit(1)
# Keys in one order (sorted, at every depth): rules compare their params as text, so a config whose keys are
# merely written in another order must not rerun anything.
config.update(json.loads(json.dumps(_validated, sort_keys=True)))

ARCHS = config["architectures"]
BATCH_SIZES = config["batch_sizes"]
SEEDS = config["seeds"]
STAGES = config["spectra"]["stages"]
RUNS = [run_name(a, b, s) for a in ARCHS for b in BATCH_SIZES for s in SEEDS]
SNAPSHOT_STAGES = [f"epoch{e}" for e in config["training"]["snapshot_epochs"]]
FIG_FORMATS = config["report"]["figure_formats"]
REPORT_INTRO = (
    str(Path("results/report_intro.rst").resolve())
    if Path("results/report_intro.rst").exists()
    else "workflow/report/workflow.rst"
)


wildcard_constraints:
    arch="|".join(ARCHS),
    bs=r"\d+",
    seed=r"\d+",
    run=r"[a-z0-9]+_bs\d+_s\d+",
    stage=r"init|final|epoch\d+",


def subset_of(wildcards):
    return f"results/data/subset_s{parse_run(wildcards.run)[2]}.npz"


def spectra_jobs():
    """(run, stage) pairs with a spectra store.

    The initialisation depends on the seed alone (checked in tests/test_train.py), so the init spectra
    are taken once per (architecture, seed), from the run with the first configured batch size.
    """
    jobs = []
    for run in RUNS:
        arch, bs, _ = parse_run(run)
        for stage in STAGES:
            if stage != "init" or bs == BATCH_SIZES[0]:
                jobs.append((run, stage))
    return jobs


def spectra_files():
    return [f"results/spectra/{run}/{stage}.nc" for run, stage in spectra_jobs()]


def fit_files():
    return [f"results/fits/{run}/{stage}.csv" for run, stage in spectra_jobs()]


# Every result table the claims and figures read, by name (the experiments' from their registry).
TABLES = {
    "spectra": "results/spectra.nc",
    "fits": "results/fits.csv",
    **{table: f"results/theory/{file}" for e in EXPERIMENTS.values() for table, file in e.outputs.items()},
}


def tables_of(specs):
    """Named inputs of a rule: the tables that the given claims or figures read."""
    return {
        table: TABLES[table] for table in dict.fromkeys(t for spec in specs.values() for t in spec.inputs)
    }


def figure_files():
    return [f"results/figures/{name}.{ext}" for name in FIGURES for ext in FIG_FORMATS]


def all_outputs():
    return [
        "results/spectra.nc",
        "results/fits.csv",
        "results/fits.nc",
        "results/scorecard.csv",
        *figure_files(),
        "results/compare/weightwatcher.csv",
        "results/compare/correlations.csv",
        *[f"results/figures/compare_kappa_alpha.{ext}" for ext in FIG_FORMATS],
    ]


def gpu_request():
    """GPUs a training/NTK/Hessian job asks the cluster for: one when the config demands CUDA."""
    return 1 if config["training"]["device"] == "cuda" else 0


def train_mem_mb(wildcards):
    arch, _, _ = parse_run(wildcards.run)
    return 4000 + (8000 if arch in ("vgg11", "resnet9", "resnet18") else 0)


def train_runtime(wildcards):
    """Minutes: grows with epochs and with the number of optimiser steps (small batches)."""
    arch, bs, _ = parse_run(wildcards.run)
    heavy = arch in ("vgg11", "resnet9", "resnet18")
    return int(30 + config["epochs"] * (2 if heavy else 0.5) * max(1.0, 256 / bs))


def spectra_mem_mb(wildcards):
    n = config["spectra"]["ntk"]["n"] if "ntk" in config["spectra"]["matrices"] else 0
    return 4000 + config["spectra"]["ntk"]["max_memory_mb"] + int(8 * (10 * n) ** 2 * 3 / 2**20)
