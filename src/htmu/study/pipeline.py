"""One function per workflow stage, on plain paths and dicts.

The Snakemake scripts in ``scripts/`` only unpack ``snakemake.*`` and call these; the functions know
nothing about Snakemake, so each stage can be run and tested on its own. Every function writes its
outputs atomically (through :mod:`htmu.study.stores` or a temporary name) and stamps provenance.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from htmu._io import write_csv_atomic as _write_csv_atomic
from htmu._io import write_text_atomic
from htmu.study.config import parse_run
from htmu.study.provenance import provenance_attrs

log = logging.getLogger("htmu")

#: Columns of results/fits.csv, in order (the outputs contract of the README). One row per (spectrum, form):
#: the spectrum's keys; the law selected for the spectrum (:func:`htmu.fit.selection.select_law`, the same on both
#: rows: ``law``, ``phase``, ``law_kappa`` with its interval, ``law_scale``, ``n_spikes``, ``alpha``,
#: ``law_status``, ``law_message``) and its evidence (``mp_*``: the MP test of the whole spectrum, log-likelihood,
#: statistic z of m2/m1^2 and p-value; ``spikes_*``: the MP fit of the bulk without the outliers, the largest
#: eigenvalue's Tracy-Widom statistic and the MP test of the bulk); then this form's HTMP fit
#: (:class:`htmu.fit.estimate.FitResult`); ``selected`` is true on the row of the form whose kappa the selection
#: reports (the direct row for MP laws, and for spectra without a law, so that the selected rows list every
#: spectrum once); the run's outcome.
FIT_COLUMNS = [
    "dataset", "arch", "batch_size", "seed", "stage", "epoch", "matrix", "layer", "gamma", "n_eigs",
    "law", "phase", "law_kappa", "law_kappa_lo", "law_kappa_hi", "law_scale", "n_spikes", "alpha", "law_status",
    "law_message", "mp_loglik", "mp_stat", "mp_p", "spikes_loglik", "spikes_stat", "spikes_p",
    "form", "selected", "kappa", "kappa_lo", "kappa_hi", "kappa_debiased", "scale", "loglik", "ks", "status",
    "message", "p_mp", "n_censored", "floor", "n_structural_zeros", "n_boot", "method",
    "test_acc", "train_acc", "train_status",
]  # fmt: skip
#: The HTMP forms fitted to every spectrum (both, by :func:`htmu.fit.selection.select_law`).
FORMS = ("direct", "inverse")


# --------------------------------------------------------------------------------------------- logging
@contextlib.contextmanager
def job_log(path: str | os.PathLike | None) -> Iterator[logging.Logger]:
    """Send stdout, stderr and the ``htmu`` logger to ``path`` for the duration of a job.

    An exception is written to the log with its traceback and re-raised, so the workflow engine
    reports the failure and points at the log.
    """
    if path is None:
        yield log
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", buffering=1) as fh:
        handler = logging.StreamHandler(fh)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        try:
            with contextlib.redirect_stdout(fh), contextlib.redirect_stderr(fh):
                yield log
        except BaseException:
            fh.write(traceback.format_exc())
            raise
        finally:
            log.removeHandler(handler)


# ------------------------------------------------------------------------------------------------ data
def run_subset(dataset: Mapping[str, Any], seed: int, out: str | os.PathLike) -> dict:
    """Draw the seeded random subset and save its indices (see :func:`htmu.study.data.write_subset`)."""
    from htmu.study.data import write_subset

    t0 = time.perf_counter()
    meta = write_subset(dict(dataset), int(seed), out)
    log.info("subset %s seed %d: %s (%.1f s)", dataset["name"], seed, meta, time.perf_counter() - t0)
    return meta


# -------------------------------------------------------------------------------------------- training
def run_train(
    run: str,
    subset: str | os.PathLike,
    out_dir: str | os.PathLike,
    training: Mapping[str, Any],
    epochs: int,
    resume_dir: str | os.PathLike | None = None,
) -> dict:
    """Train one (architecture, batch size, seed) and write its checkpoints, metrics and summary.

    ``training`` is the validated config section (every key present: :func:`htmu.study.config.validate_config`).
    ``resume_dir`` holds the resume state while the job runs (see :mod:`htmu.study.train`); the workflow keeps it
    outside the job's declared outputs, which Snakemake deletes when a job was interrupted.
    """
    from htmu.study.train import resolve_device, train

    arch, batch_size, seed = parse_run(run)
    summary = train(
        arch, subset, out_dir,
        batch_size=batch_size, seed=seed, epochs=int(epochs), lr=training["lr"], lr_scale=training["lr_scale"],
        momentum=training["momentum"], weight_decay=training["weight_decay"], schedule=training["schedule"],
        init=training["init"], snapshot_epochs=tuple(training["snapshot_epochs"]),
        device=resolve_device(training["device"], "training.device"), num_threads=training["threads"],
        resume_dir=resume_dir, log=lambda msg: log.info("%s", msg),
    )  # fmt: skip
    log.info("training %s finished: %s", run, summary)
    return summary


# --------------------------------------------------------------------------------------------- spectra
def _status_records(matrices: Sequence[str], status: str):
    from htmu.spectra import SpectrumRecord

    return [
        SpectrumRecord(matrix=m, layer="all", eigenvalues=np.empty(0), gamma=float("nan"), n_rows=0, n_cols=0,
                       convention="", method="none", status=status)
        for m in matrices
    ]  # fmt: skip


def run_spectra(
    model_path: str | os.PathLike,
    summary_path: str | os.PathLike,
    subset_path: str | os.PathLike,
    out: str | os.PathLike,
    spectra: Mapping[str, Any],
    run: str,
    stage: str,
    device: str,
    *,
    config: Mapping[str, Any] | None = None,
) -> None:
    """Compute the configured spectra of one checkpoint and write them as one NetCDF store.

    ``spectra`` is the validated config section, ``device`` the configured ``training.device`` (``"auto"``
    included); ``config``, the whole configuration, is only recorded in the store's provenance.

    A diverged run still gets a store: weights spectra carry ``status="nonfinite_weights"`` and the
    kernel spectra ``status="diverged"``, so the failure flows through the DAG to the fits table.
    """
    import torch

    from htmu.spectra import ck_spectrum, hessian_spectrum, ntk_spectrum, weight_spectra
    from htmu.study.data import load_subset
    from htmu.study.stores import spectra_to_dataset, write_netcdf
    from htmu.study.train import load_checkpoint, resolve_device

    arch, batch_size, seed = parse_run(run)
    model, header = load_checkpoint(model_path)
    device = str(resolve_device(device, "training.device"))
    model = model.to(device)
    summary = json.loads(Path(summary_path).read_text())
    subset = load_subset(subset_path)
    finite = all(bool(torch.isfinite(p).all()) for p in model.parameters())
    records = []
    for matrix in spectra["matrices"]:
        t0 = time.perf_counter()
        if matrix == "weight":
            records += weight_spectra(model)
        elif not finite:
            records += _status_records([matrix], "diverged")
        elif matrix == "ntk":
            archs = spectra["ntk"]["architectures"]
            if archs is not None and arch not in archs:
                continue
            x = subset.x_train[: spectra["ntk"]["n"]].to(device)
            records.append(
                ntk_spectrum(model, x, max_memory_mb=spectra["ntk"]["max_memory_mb"], device=device)
            )
        elif matrix == "ck":
            n = spectra["ck"]["n"]
            x = subset.x_train if n is None else subset.x_train[:n]
            with torch.no_grad():
                records.append(ck_spectrum(model, x.to(device)))
        elif matrix == "hessian":
            hcfg = spectra["hessian"]
            archs = hcfg["architectures"]
            if archs is not None and arch not in archs:
                continue
            n = hcfg["n"]
            records += hessian_spectrum(
                model, subset.x_train[:n].to(device), subset.y_train[:n].to(device), method=hcfg["method"],
                layer=hcfg["layer"], top_k=hcfg["top_k"], slq_probes=hcfg["slq_probes"],
                slq_steps=hcfg["slq_steps"], rng=np.random.default_rng(seed),
                max_exact_params=hcfg["max_exact_params"],
            )  # fmt: skip
        log.info("%s %s %s: %.2f s", run, stage, matrix, time.perf_counter() - t0)
    coords = {
        "dataset": subset.meta["name"],
        "arch": arch, "batch_size": batch_size, "seed": seed, "stage": stage,
        "epoch": int(header.get("epoch", 0)), "train_status": summary.get("status", "ok"),
    }  # fmt: skip
    attrs = provenance_attrs(config, seed, rule="spectra", checkpoint=str(model_path), device=device)
    write_netcdf(spectra_to_dataset(records, coords, attrs), out)


def run_combine_spectra(paths: Sequence[str | os.PathLike], out: str | os.PathLike) -> None:
    from htmu.study.stores import combine_spectra

    combine_spectra(list(paths), out)
    log.info("combined %d spectra files into %s", len(paths), out)


# ------------------------------------------------------------------------------------------------ fits
def fit_rows(coords: Mapping[str, Any], eigenvalues: np.ndarray, fit: Mapping[str, Any], rng) -> list[dict]:
    """Select the law of one spectrum and report both HTMP forms: two rows (see :data:`FIT_COLUMNS`).

    :func:`htmu.fit.selection.select_law` is called once per spectrum (it fits both forms itself). A spectrum that
    cannot be fitted keeps both rows, with ``status`` and ``law_status`` saying why: ``diverged`` (every stage
    after the initialisation of a diverged run: its weights may be finite yet meaningless), the store's own
    status, ``too_few`` (fewer than ``fit["min_eigenvalues"]``), ``no_aspect_ratio`` (e.g. a Hessian block:
    no Gram structure) or ``gamma_out_of_range``. Runs that collapsed or are undertrained are fitted; their
    ``train_status`` travels with the rows. The store's ``rank`` (exactly-zero rows or columns of the factor,
    e.g. dead ReLU units in the conjugate kernel) marks structural zeros, which the fits drop, and its ``floor``
    the eigenvalues' accuracy when coarser than float64's (the NTK's float32 products). A spectrum that
    select_law refuses gets status ``invalid`` with the reason; the store's other spectra are still fitted.
    """
    from htmu.fit.selection import select_law

    base = {k: coords.get(k) for k in ("dataset", "arch", "batch_size", "seed", "stage", "epoch", "matrix",
                                       "layer", "gamma", "train_status")}  # fmt: skip
    base["n_eigs"] = int(eigenvalues.size)
    status = coords.get("status", "ok")
    diverged_run = coords.get("train_status") == "diverged" and coords.get("stage") != "init"
    gamma = float(coords.get("gamma", np.nan))
    reason = None
    if diverged_run or status in ("diverged", "nonfinite_weights"):
        reason = "diverged"
    elif status != "ok":
        reason = status
    elif eigenvalues.size < fit["min_eigenvalues"]:
        reason = "too_few"
    elif not np.isfinite(gamma):
        reason = "no_aspect_ratio"
    elif not 0 < gamma < 1:
        reason = "gamma_out_of_range"
    if reason is not None:
        return [dict(base, form=form, selected=form == "direct", status=reason, law="", phase="",
                     law_status=reason, n_spikes=0) for form in FORMS]  # fmt: skip
    rank = coords.get("rank")
    rank = int(rank) if rank is not None and 0 < int(rank) < eigenvalues.size else None
    floor = coords.get("floor")
    floor = float(floor) if floor is not None and np.isfinite(floor) else None
    try:
        sel = select_law(eigenvalues, gamma, rng=rng, ci=fit["ci"], rank=rank, floor=floor)
    except ValueError as err:  # a spectrum no law can take (say, negative beyond its noise): the others go on
        return [dict(base, form=form, selected=form == "direct", status="invalid", message=str(err), law="",
                     phase="", law_status="invalid", law_message=str(err), n_spikes=0) for form in FORMS]  # fmt: skip
    spectrum = {
        "law": sel.law, "phase": sel.phase, "law_kappa": sel.kappa, "law_kappa_lo": sel.kappa_ci[0],
        "law_kappa_hi": sel.kappa_ci[1], "law_scale": sel.scale, "n_spikes": sel.n_spikes, "alpha": sel.alpha,
        "law_status": sel.status, "law_message": sel.message,
    }  # fmt: skip
    ev = sel.evidence.set_index("candidate") if len(sel.evidence) else None
    for prefix, candidate in (("mp", "MP"), ("spikes", "MP+spikes")):
        for col, field in (("loglik", "loglik"), ("stat", "statistic"), ("p", "p_value")):
            found = ev is not None and candidate in ev.index
            spectrum[f"{prefix}_{col}"] = float(ev.loc[candidate, field]) if found else np.nan
    chosen = sel.form if sel.law else "direct"
    rows = []
    for form in FORMS:
        f = sel.fits[form]
        rows.append(dict(
            base, **spectrum, form=form, selected=form == chosen, kappa=f.kappa, kappa_lo=f.kappa_ci[0],
            kappa_hi=f.kappa_ci[1], kappa_debiased=f.kappa_debiased, scale=f.scale, loglik=f.loglik, ks=f.ks,
            status=f.status, message=f.message, p_mp=f.p_mp, n_censored=f.n_censored, floor=f.floor,
            n_structural_zeros=f.n_structural_zeros, n_boot=f.n_boot, method=f.method,
        ))  # fmt: skip
    return rows


def run_fit(
    spectra_path: str | os.PathLike, out: str | os.PathLike, fit: Mapping[str, Any], seed: int
) -> None:
    """Select the law of every spectrum of one store; write one CSV row per (spectrum, form)."""
    from htmu.study.stores import iter_spectra, read_spectra

    rng = np.random.default_rng(seed)
    rows = []
    for coords, eigs in iter_spectra(read_spectra(spectra_path)):
        t0 = time.perf_counter()
        new = fit_rows(coords, eigs, fit, rng)
        rows += new
        log.info(
            "fit %s/%s (%d eigenvalues): %s %s, %s in %.2f s",
            coords.get("matrix"),
            coords.get("layer"),
            eigs.size,
            new[0]["law"] or new[0]["law_status"],
            new[0]["phase"],
            [(r["form"], r.get("kappa"), r["status"]) for r in new],
            time.perf_counter() - t0,
        )
    _write_csv_atomic(pd.DataFrame(rows).reindex(columns=FIT_COLUMNS), out)


def aggregate_fits(
    fit_paths: Sequence[str | os.PathLike],
    summary_paths: Sequence[str | os.PathLike],
    out_csv: str | os.PathLike,
    out_nc: str | os.PathLike,
    config: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Join all fits with the training metrics of their run; write results/fits.csv and fits.nc.

    ``config``, the whole configuration, is only recorded in the provenance of fits.nc.
    """
    import xarray as xr

    from htmu.study.stores import write_netcdf

    fits = pd.concat([pd.read_csv(p) for p in fit_paths], ignore_index=True)
    metrics = []
    for p in summary_paths:
        s = json.loads(Path(p).read_text())
        arch, bs, seed = parse_run(Path(p).parent.name)
        metrics.append({"arch": arch, "batch_size": bs, "seed": seed, "test_acc": s["final_test_acc"],
                        "train_acc": s["final_train_acc"], "train_status": s["status"]})  # fmt: skip
    metrics = pd.DataFrame(metrics)
    fits = fits.drop(columns=["test_acc", "train_acc", "train_status"]).merge(
        metrics, on=["arch", "batch_size", "seed"], how="left", validate="many_to_one"
    )
    # The initialisation is shared by every batch size of a seed (one init store per architecture and
    # seed): its rows name no batch size and carry no end-of-training metrics.
    init = fits["stage"] == "init"
    fits["batch_size"] = fits["batch_size"].astype("Int64").mask(init)
    fits.loc[init, ["test_acc", "train_acc"]] = np.nan
    fits.loc[init, "train_status"] = np.nan
    fits = fits.reindex(columns=FIT_COLUMNS)
    _write_csv_atomic(fits, out_csv)
    # netCDF has no missing integers: batch_size becomes float with NaN for the init rows
    ds = xr.Dataset.from_dataframe(fits.astype({"batch_size": "float64"}).rename_axis("fit"))
    ds["batch_size"].attrs["comment"] = "NaN for stage init, which every batch size of a seed shares"
    units = {"kappa": "1", "kappa_lo": "1", "kappa_hi": "1", "kappa_debiased": "1", "law_kappa": "1",
             "law_kappa_lo": "1", "law_kappa_hi": "1", "alpha": "1", "gamma": "1", "scale": "eigenvalue units",
             "law_scale": "eigenvalue units", "floor": "eigenvalue units", "test_acc": "1", "train_acc": "1",
             "loglik": "nat", "mp_loglik": "nat", "spikes_loglik": "nat"}  # fmt: skip
    for name, unit in units.items():
        ds[name].attrs["units"] = unit
    long_names = {
        "kappa": "HTMP eigenvalue repulsion kappa of this form's fit (inf: Marchenko-Pastur)",
        "law": "law selected for the spectrum (htmu.fit.selection.select_law): MP, MP+spikes, HTMP-direct, HTMP-inverse",
        "phase": "phase of the spectrum (Martin & Mahoney's 5+1 phases, htmu's thresholds on alpha)",
        "law_kappa": "kappa of the selected law (inf for MP and MP+spikes)",
        "law_scale": "scale of the selected law (MP laws: mean of the bulk)",
        "n_spikes": "outliers of the MP+spikes law (0 for the other laws)",
        "alpha": "tail exponent 1 + kappa (1 - gamma)/(2 gamma) of the selected law",
        "selected": "this row's form is the one whose kappa the selection reports (direct for MP laws)",
        "train_status": "training outcome of the run: ok, diverged, collapsed or undertrained",
    }  # fmt: skip
    for name, text in long_names.items():
        ds[name].attrs["long_name"] = text
    ds.attrs.update(provenance_attrs(config, None, rule="aggregate_fits"))
    ds.attrs["title"] = "htmu fits of every stored spectrum"
    write_netcdf(ds, out_nc)
    log.info("aggregated %d fit rows from %d files", len(fits), len(fit_paths))
    return fits


# ------------------------------------------------------------------------------------------------ tables
def read_table(path: str | os.PathLike) -> pd.DataFrame | Any:
    """A result table: a CSV file as a DataFrame, a NetCDF file (spectra, ensemble draws) as a Dataset."""
    from htmu._io import read_netcdf

    return read_netcdf(path) if Path(path).suffix == ".nc" else pd.read_csv(path)


def _write_table(table: pd.DataFrame | Any, path: str | os.PathLike, attrs: Mapping[str, Any]) -> None:
    """A DataFrame as CSV; a Dataset as NetCDF, stamped with ``attrs`` (provenance)."""
    from htmu._io import write_netcdf

    if isinstance(table, pd.DataFrame):
        _write_csv_atomic(table, path)
    else:
        table.attrs.update(attrs)
        write_netcdf(table, path)


# ---------------------------------------------------------------------------------------------- theory
def run_theory(
    experiment: str,
    params: Mapping[str, Any],
    seed: int,
    outputs: Mapping[str, str | os.PathLike],
    config: Mapping[str, Any] | None = None,
) -> None:
    """Run one experiment of :data:`htmu.study.experiments.EXPERIMENTS` and write its tables.

    Parameters
    ----------
    experiment : str
        Its name.
    params : mapping
        Its validated config section ``theory.<experiment>``.
    seed : int
        ``theory.seed``; the experiment draws from ``default_rng([seed, stream])`` with its own stream.
    outputs : mapping of str to path
        Table name -> file, for every table the experiment writes.
    config : mapping, optional
        The whole configuration, recorded in the provenance of NetCDF outputs.
    """
    from htmu.study.experiments import EXPERIMENTS

    if experiment not in EXPERIMENTS:
        raise ValueError(f"unknown theory experiment {experiment!r}; known: {sorted(EXPERIMENTS)}")
    spec = EXPERIMENTS[experiment]
    if set(outputs) != set(spec.outputs):
        raise ValueError(
            f"outputs: {experiment} writes the tables {sorted(spec.outputs)}, got {sorted(outputs)}"
        )
    t0 = time.perf_counter()
    tables = spec.run(dict(params), np.random.default_rng([seed, spec.stream]))
    attrs = provenance_attrs(config, seed, rule=f"theory_{experiment}")
    for name, path in outputs.items():
        _write_table(tables[name], path, attrs)
    log.info("theory %s done in %.1f s", experiment, time.perf_counter() - t0)


# --------------------------------------------------------------------------------- figures and tables
def make_figures(
    inputs: Mapping[str, str | os.PathLike],
    out_dir: str | os.PathLike,
    figures: Sequence[str],
    formats: Sequence[str],
) -> list[Path]:
    """Draw figures of :data:`htmu.study.figures.FIGURES` from the study's tables (``inputs``: name -> file).

    A table a figure reads that is not among ``inputs`` is drawn as missing ("no data").
    """
    from htmu.plotting import save_figure
    from htmu.study.figures import FIGURES

    unknown = [name for name in figures if name not in FIGURES]
    if unknown:
        raise ValueError(f"figures: unknown {unknown}; known: {list(FIGURES)}")
    tables = {name: read_table(path) for name, path in inputs.items()}
    written = []
    for name in figures:
        t0 = time.perf_counter()
        spec = FIGURES[name]
        written += save_figure(
            spec.draw(*[tables.get(t) for t in spec.inputs]), Path(out_dir) / name, formats
        )
        log.info("figure %s: %.1f s", name, time.perf_counter() - t0)
    return written


def make_scorecard(
    inputs: Mapping[str, str | os.PathLike],
    out_csv: str | os.PathLike,
    out_rst: str | os.PathLike,
    intro: str,
) -> pd.DataFrame:
    """Turn each claim of the paper into a verdict row (:data:`htmu.study.claims.CLAIMS`).

    ``inputs`` maps the tables the claims read to their files. ``out_rst`` is the report's introduction: the
    text ``intro`` followed by the scorecard table, so that the HTML report opens with the verdicts.
    """
    from htmu.study.claims import build_scorecard, scorecard_rst

    tables = {name: read_table(path) for name, path in inputs.items()}
    card = build_scorecard(tables.pop("fits", None), **tables)
    _write_csv_atomic(card, out_csv)
    write_text_atomic(f"{intro.rstrip()}\n\nScorecard\n---------\n\n{scorecard_rst(card)}\n", out_rst)
    for row in card.itertuples():
        log.info("%s: %s (%s)", row.claim, row.verdict, row.ours)
    return card
