"""The whole DAG on a tiny config in a temporary directory: every output of the README's contract exists."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
pytestmark = [pytest.mark.workflow, pytest.mark.slow]

FIT_COLUMNS = {"dataset", "arch", "batch_size", "seed", "stage", "matrix", "layer", "gamma", "form", "kappa",
               "kappa_lo", "kappa_hi", "scale", "status", "test_acc", "train_status", "law", "phase", "law_kappa",
               "n_spikes", "alpha", "selected"}  # fmt: skip
SPECTRUM = ["arch", "batch_size", "seed", "stage", "matrix", "layer"]


def snakemake(workdir: Path, *args: str, config: Path = ROOT / "tests/configs/tiny.yaml",
              snakefile: Path = ROOT / "Snakefile") -> subprocess.CompletedProcess:  # fmt: skip
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    cmd = [str(BIN / "snakemake"), "--snakefile", str(snakefile), "--directory", str(workdir),
           "--configfile", str(config), "--cores", "2", *args]  # fmt: skip
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
    """One row per Linear layer of every final checkpoint, WeightWatcher's alpha beside the fits' kappa.

    With the optional extra installed (checked here independently of htmu) every row is WeightWatcher's
    measurement on the same eigenvalues as htmu's; without it every row says it was skipped.
    """
    import importlib.util

    from htmu.study.compare import CORRELATION_METRICS, SKIP_STATUS

    table = pd.read_csv(study / "compare/weightwatcher.csv", keep_default_na=False, na_values=[""])
    linear = {"lenet": ["fc1", "fc2", "fc3"], "minialexnet": ["fc1", "fc2"]}  # tiny.yaml's architectures
    expected = {(a, b, layer) for a, layers in linear.items() for b in (200, 2) for layer in layers}
    correlations = pd.read_csv(study / "compare/correlations.csv")
    if importlib.util.find_spec("weightwatcher") is None or importlib.util.find_spec("powerlaw") is None:
        assert (table["status"] == SKIP_STATUS).all() and len(table) > 0
        return
    assert set(zip(table["arch"], table["batch_size"], table["layer"], strict=True)) == expected
    assert (table["status"] == "ok").all(), table["status"].tolist()
    # WeightWatcher saw the same eigenvalues as htmu (its sum and largest eigenvalue), and measured an alpha
    assert (table["esd_rel_diff"] <= 1e-8).all() and (table["alpha"] > 1).all()
    # kappa is the fits' selected law's kappa of the same final weight spectrum, on the claims' rank scale
    # (MP laws: inf; phase rank-collapse: 0; no law: NaN)
    fits = pd.read_csv(study / "fits.csv", keep_default_na=False, na_values=[""])
    sel = fits[fits["selected"] & (fits["stage"] == "final") & (fits["matrix"] == "weight")]
    joined = table.merge(sel, on=["arch", "batch_size", "seed", "layer"], suffixes=("", "_fits"))
    assert len(joined) == len(table)
    law, phase = joined["law_fits"].fillna(""), joined["phase_fits"].fillna("")
    rank = np.where(
        law.isin(["MP", "MP+spikes"]),
        np.inf,
        np.where(law.str.startswith("HTMP"), joined["law_kappa"], np.nan),
    )
    rank = np.where(phase == "rank-collapse", 0.0, rank)
    np.testing.assert_array_equal(joined["kappa"].to_numpy(float), rank)
    # one rank correlation (or the reason there is none) per architecture, layer and metric
    assert len(correlations) == len(CORRELATION_METRICS) * sum(map(len, linear.values()))
    assert correlations["status"].notna().all()


def test_rerun_is_a_no_op(study):
    proc = snakemake(study.parent, "-n")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def _planned(proc: subprocess.CompletedProcess) -> dict[str, int]:
    """The job counts of a dry run's ``Job stats`` table (empty when nothing is to be done)."""
    out = proc.stdout + proc.stderr
    if "Nothing to be done" in out:
        return {}
    table = out.split("Job stats:", 1)[1].split("total", 1)[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, flags=re.M)}


def test_flipping_fit_ci_reruns_the_fits_and_what_reads_them(study, tmp_path):
    """Rules receive only the params they use: a fit setting reruns no spectra, no training, no theory."""
    config = yaml.safe_load((ROOT / "tests/configs/tiny.yaml").read_text())
    config["fit"]["ci"] = not config["fit"]["ci"]
    flipped = tmp_path / "flipped.yaml"
    flipped.write_text(yaml.safe_dump(config))
    planned = _planned(snakemake(study.parent, "-n", config=flipped))
    n_stores = len(list((study / "spectra").glob("*/*.nc")))
    assert planned == {
        "fit": n_stores,
        "aggregate_fits": 1,
        "figures": 1,
        "scorecard": 1,
        "weightwatcher": 1,
        "all": 1,
    }


def test_moving_the_checkout_reruns_nothing(study, tmp_path):
    """No absolute path of the checkout in any rule's params: a copy elsewhere finds the study up to date."""
    moved = tmp_path / "elsewhere"
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True)  # fmt: skip
    for name in files.stdout.split("\0"):
        if name and (ROOT / name).is_file():
            (moved / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, moved / name)
    assert _planned(snakemake(study.parent, "-n", snakefile=moved / "Snakefile")) == {}


def test_synthetic_study_with_a_snapshot_stage(tmp_path):
    """The second test config: the synthetic data set (power-law covariance) and spectra at a snapshot epoch."""
    config = ROOT / "tests/configs/synthetic.yaml"
    snakemake(tmp_path, config=config)
    results = tmp_path / "results"
    stages = {p.stem for p in (results / "spectra").glob("*/*.nc")}
    assert stages == {"init", "epoch1", "final"}
    fits = pd.read_csv(results / "fits.csv")
    assert set(fits["stage"]) == {"init", "epoch1", "final"} and set(fits["dataset"]) == {"synthetic"}
    epoch1 = xr.load_dataset(next((results / "spectra").glob("*/epoch1.nc")), engine="netcdf4")
    assert set(epoch1["epoch"].values) == {1}
    meta = json.loads(str(np.load(results / "data/subset_s0.npz")["meta_json"]))
    assert meta["config"]["covariance"] == "power_law"  # the schema's default, not a second one in the code
    assert (results / "scorecard.csv").exists() and (results / "compare/weightwatcher.csv").exists()
    assert "Nothing to be done" in (lambda p: p.stdout + p.stderr)(snakemake(tmp_path, "-n", config=config))


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
