"""The whole DAG on a tiny config in a temporary directory: every output of the README's contract exists."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import xarray as xr

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
pytestmark = [pytest.mark.workflow, pytest.mark.slow]

FIT_COLUMNS = {"dataset", "arch", "batch_size", "seed", "stage", "matrix", "layer", "gamma", "form", "kappa",
               "kappa_lo", "kappa_hi", "scale", "status", "test_acc"}  # fmt: skip


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    cmd = [str(BIN / "snakemake"), "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir),
           "--configfile", str(ROOT / "tests/configs/tiny.yaml"), "--cores", "2", *args]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1200)
    if proc.returncode != 0:
        logs = "\n".join(
            f"--- {p}\n{p.read_text()[-3000:]}" for p in sorted(workdir.glob("results/logs/**/*.log"))
        )
        pytest.fail(f"snakemake {' '.join(args)} failed:\n{proc.stderr[-6000:]}\n{logs[-20000:]}")
    return proc


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("study")
    snakemake(workdir)
    snakemake(workdir, "--report", str(workdir / "results/report.html"))
    return workdir / "results"


def test_one_store_per_spectra_job_and_the_aggregate(study):
    files = sorted((study / "spectra").glob("*/*.nc"))
    # final per (arch, batch size); init once per (arch, seed): it does not depend on the batch size
    assert len(files) == 2 * 2 + 2
    ds = xr.load_dataset(study / "spectra.nc", engine="netcdf4")
    assert set(ds["matrix"].values) == {"weight", "ck", "ntk", "hessian"}
    assert {"git_commit", "htmu_version"} <= set(ds.attrs) or all(
        "config_hash" in xr.load_dataset(f, engine="netcdf4").attrs for f in files
    )
    one = xr.load_dataset(files[0], engine="netcdf4")
    for key in ("config_hash", "seed", "htmu_version", "git_commit"):
        assert key in one.attrs, key
    assert one["eigenvalue"].dtype == "float64" and "units" in one["eigenvalue"].attrs


def test_fits_table_has_the_contract_columns_and_statuses(study):
    fits = pd.read_csv(study / "fits.csv")
    assert FIT_COLUMNS <= set(fits.columns)
    assert set(fits["form"]) == {"direct", "inverse"}
    assert set(fits["stage"]) == {"init", "final"}
    assert fits.loc[fits["stage"] == "init", "batch_size"].isna().all()
    ok = fits[fits["status"] == "ok"]
    assert len(ok) > 0 and ok["kappa"].notna().all()
    # the fc1 matrix of MiniAlexNet is the paper's Figure 2 matrix, gamma = 1000/3072
    fc1 = fits[(fits["arch"] == "minialexnet") & (fits["layer"] == "fc1")]
    assert len(fc1) and all(math.isclose(g, 1000 / 3072, rel_tol=1e-9) for g in fc1["gamma"])
    ds = xr.load_dataset(study / "fits.nc", engine="netcdf4")
    assert ds.sizes["fit"] == len(fits)


def test_diverged_run_flows_through_as_a_status(study):
    fits = pd.read_csv(study / "fits.csv")
    diverged = fits[(fits["train_status"] == "diverged") & (fits["stage"] == "final")]
    assert set(diverged["batch_size"]) == {2}  # lr = 20 diverges; lr = 40/256 does not
    assert (diverged["status"] == "diverged").all()
    assert diverged["kappa"].isna().all()
    assert (fits.loc[fits["batch_size"] == 256, "train_status"] == "ok").all()


def test_figures_scorecard_and_report(study):
    for name in (
        "phases",
        "ntk",
        "kappa_accuracy",
        "ensemble",
        "estimator",
        "structure",
        "correlation",
        "scaling",
    ):
        for ext in ("png", "pdf"):
            assert (study / "figures" / f"{name}.{ext}").stat().st_size > 1000, name
    card = pd.read_csv(study / "scorecard.csv")
    assert {"claim", "paper_value", "ours", "verdict"} <= set(card.columns)
    verdicts = {"reproduced", "not reproduced", "inconclusive", "not run", "not testable as stated"}
    assert set(card["verdict"]) <= verdicts
    # tiny.yaml's (κ, γ, ℓ) = (2, 0.5, 0.5): the claimed exponent is beyond the ridge bound (docs/scaling.md)
    assert card.loc[card["claim"].str.startswith("scaling"), "verdict"].item() == "not testable as stated"
    assert (study / "report.html").stat().st_size > 10_000


def test_weightwatcher_comparison_sits_next_to_kappa(study):
    table = pd.read_csv(study / "compare/weightwatcher.csv")
    assert {"arch", "batch_size", "seed", "layer", "alpha", "kappa", "status"} <= set(table.columns)
    assert len(table) > 0
    assert (study / "compare/correlations.csv").exists()


def test_rerun_is_a_no_op(study):
    proc = snakemake(study.parent, "-n")
    assert "Nothing to be done" in proc.stdout + proc.stderr
