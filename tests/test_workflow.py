"""The whole DAG on a tiny config in a temporary directory: every output of the README's contract exists."""

from __future__ import annotations

import json
import math
import os
import re
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
               "kappa_lo", "kappa_hi", "scale", "status", "test_acc", "train_status", "law", "phase", "law_kappa",
               "n_spikes", "alpha", "selected"}  # fmt: skip
SPECTRUM = ["arch", "batch_size", "seed", "stage", "matrix", "layer"]


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
    assert "long_name" in ds["law"].attrs and ds["law_kappa"].attrs["units"] == "1"
    assert {"config_hash", "git_commit"} <= set(ds.attrs)


def test_one_law_per_spectrum_on_both_rows(study):
    from htmu.fit.selection import LAWS, PHASES

    fits = pd.read_csv(study / "fits.csv", keep_default_na=False, na_values=[""])
    groups = fits.groupby(SPECTRUM, dropna=False)
    assert (groups.size() == 2).all() and (groups["selected"].sum() == 1).all()
    for col in ("law", "phase", "law_kappa", "n_spikes", "alpha", "law_status"):
        assert (groups[col].nunique(dropna=False) == 1).all(), col  # the spectrum's, on both rows
    sel = fits[fits["selected"]]
    has_law = sel["law"].notna()
    assert has_law.any() and (has_law == (sel["law_status"] == "ok")).all()
    assert sel.loc[has_law, "law"].isin(LAWS).all() and sel.loc[has_law, "phase"].isin(PHASES).all()
    mp = sel["law"].isin(["MP", "MP+spikes"])
    assert (sel.loc[mp, "law_kappa"] == math.inf).all() and (sel.loc[mp, "form"] == "direct").all()
    htmp = sel["law"].str.startswith("HTMP", na=False) & sel["law_kappa"].notna()
    assert (sel.loc[htmp, "kappa"] == sel.loc[htmp, "law_kappa"]).all()
    assert (sel.loc[htmp, "form"] == sel.loc[htmp, "law"].str.removeprefix("HTMP-")).all()


def test_diverged_run_flows_through_as_a_status(study):
    fits = pd.read_csv(study / "fits.csv")
    diverged = fits[(fits["train_status"] == "diverged") & (fits["stage"] == "final")]
    assert set(diverged["batch_size"]) == {2}  # lr = 20 diverges; lr = 40/200 does not
    assert (diverged["status"] == "diverged").all() and (diverged["law_status"] == "diverged").all()
    assert diverged["kappa"].isna().all() and diverged["law"].isna().all()
    assert (fits.loc[fits["batch_size"] == 200, "train_status"] != "diverged").all()
    # runs that did not diverge are fitted whatever their outcome (2 epochs: collapsed or undertrained here),
    # with the outcome carried on every row
    trained = fits[
        (fits["stage"] == "final") & (fits["train_status"] != "diverged") & (fits["layer"] == "fc1")
    ]
    assert len(trained) and trained["law"].notna().all()
    assert set(trained["train_status"]) <= {"ok", "collapsed", "undertrained"}


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
    # one row per architecture for each training claim
    trend = card[card["claim"].str.startswith("κ falls as batch size falls")]
    assert sorted(trend["claim"]) == ["κ falls as batch size falls (lenet fc1)",
                                      "κ falls as batch size falls (minialexnet fc1)"]  # fmt: skip
    html = (study / "report.html").read_text()
    # the scorecard's raw HTML survives into the report: coloured verdicts, folded details
    assert html.count("how decided</summary>") == len(card)
    assert (study / "report.html").stat().st_size > 10_000


def test_weightwatcher_comparison_sits_next_to_kappa(study):
    table = pd.read_csv(study / "compare/weightwatcher.csv")
    assert {"arch", "batch_size", "seed", "layer", "alpha", "kappa", "status"} <= set(table.columns)
    assert len(table) > 0
    assert (study / "compare/correlations.csv").exists()


def test_rerun_is_a_no_op(study):
    proc = snakemake(study.parent, "-n")
    assert "Nothing to be done" in proc.stdout + proc.stderr


# ------------------------------------------------------------------------------------ kill and resume
RESUME_RUN = "lenet_bs4_s0"
RESUME_OUTPUTS = ["metrics.csv", "model_epoch1.pt", "model_epoch4.pt", "model_final.pt", "model_init.pt",
                  "summary.json"]  # fmt: skip


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (Snakemake starts jobs from worker threads: read every thread's children)."""
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            out += [int(child), *_descendants(int(child))]
    return out


def _kill_after_next_checkpoint(cmd, env, checkpoint: Path, victim: str) -> float:
    """Start ``cmd``, SIGKILL the training job (or Snakemake and the job) once ``checkpoint`` is (re)written."""
    import signal
    import time

    before = checkpoint.stat().st_ino if checkpoint.exists() else None  # os.replace gives a new inode
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    while not (checkpoint.exists() and checkpoint.stat().st_ino != before):
        if proc.poll() is not None or time.perf_counter() - t0 > 600:
            proc.kill()
            pytest.fail(f"no new checkpoint appeared:\n{proc.communicate()[0][-4000:]}")
        time.sleep(0.005)
    jobs = _descendants(proc.pid)
    for pid in jobs if victim == "job" else [proc.pid, *jobs]:
        os.kill(pid, signal.SIGKILL)
    stdout = proc.communicate()[0]
    assert (
        proc.returncode != 0 and not (checkpoint.parents[2] / "train" / RESUME_RUN / "summary.json").exists()
    ), f"the job finished before the kill landed:\n{stdout[-3000:]}"
    return time.perf_counter() - t0


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="finds the job's process through /proc")
def test_killed_training_job_resumes_to_the_same_bits(tmp_path):
    import time

    from htmu.study.train import train

    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    cmd = [str(BIN / "snakemake"), "--snakefile", str(ROOT / "Snakefile"), "--directory", str(tmp_path),
           "--configfile", str(ROOT / "tests/configs/resume.yaml"), "--cores", "1",
           f"results/train/{RESUME_RUN}/summary.json", "--rerun-incomplete"]  # fmt: skip
    checkpoint = tmp_path / "results/resume" / RESUME_RUN / "checkpoint.pt"
    # 1. the job alone is killed after its first checkpoint; Snakemake deletes the outputs written so far
    t_first = _kill_after_next_checkpoint(cmd, env, checkpoint, "job")
    # 2. the rerun resumes, and is killed with Snakemake after its next checkpoint, as by a power loss
    t_second = _kill_after_next_checkpoint(cmd, env, checkpoint, "snakemake-and-job")
    log_path = tmp_path / f"results/logs/train/{RESUME_RUN}.log"
    log = log_path.read_text()  # read now: the next --rerun-incomplete deletes the incomplete job's log
    # a killed Snakemake leaves its lock behind; its own message says to remove it so
    subprocess.run([*cmd, "--unlock"], check=True, capture_output=True, env=env, timeout=300)
    # 3. the second rerun resumes again and finishes
    t0 = time.perf_counter()
    rerun = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    t_last = time.perf_counter() - t0
    log += log_path.read_text()
    assert rerun.returncode == 0, f"{rerun.stderr[-4000:]}\n{log[-4000:]}"
    resumed = [int(m) for m in re.findall(r"resuming from .* at epoch (\d+)", log)]
    assert len(resumed) == 2 and 1 <= resumed[0] < resumed[1] < 6, log[-3000:]
    out = tmp_path / "results/train" / RESUME_RUN
    assert json.loads((out / "summary.json").read_text())["resumed_from_epoch"] == resumed[1]
    assert sorted(p.name for p in out.iterdir()) == RESUME_OUTPUTS
    assert not checkpoint.parent.exists()  # removed once the outputs were written

    # the uninterrupted run, in this process, on the subset the workflow wrote
    t0 = time.perf_counter()
    ref = tmp_path / "reference"
    train("lenet", tmp_path / "results/data/subset_s0.npz", ref, batch_size=4, seed=0, epochs=6, lr_scale=0.2,
          snapshot_epochs=(1, 4), device="cpu", num_threads=1, log=lambda _line: None)  # fmt: skip
    t_ref = time.perf_counter() - t0
    for name in ("model_init.pt", "model_epoch1.pt", "model_epoch4.pt", "model_final.pt"):
        assert (ref / name).read_bytes() == (out / name).read_bytes(), name
    ref_rows, rows = (pd.read_csv(d / "metrics.csv").drop(columns="wall_s") for d in (ref, out))
    pd.testing.assert_frame_equal(ref_rows, rows, check_exact=True)
    print(f"\nkill-resume: killed after epoch {resumed[0]} at {t_first:.1f} s, after epoch {resumed[1]} at "
          f"{t_second:.1f} s; last rerun {t_last:.1f} s; reference run {t_ref:.1f} s")  # fmt: skip
