r"""WeightWatcher's power-law metrics next to htmu's HTMP :math:`\kappa` on the same layers.

WeightWatcher [1]_ fits a power law :math:`p(\lambda) \propto \lambda^{-\alpha}` to the upper tail of each
layer's eigenvalues and reports ``alpha`` with the norm metrics ``alpha_weighted``, ``log_norm``,
``stable_rank`` and ``mp_softrank``. htmu fits the HTMP law instead. For the inverse form (the density of
the matrix itself, Theorem 4.1 of [2]_) the upper tail is a power law with exponent

.. math:: \alpha = 1 + \frac{\kappa (1 - \gamma)}{2 \gamma}

(:func:`alpha_from_kappa`), so the two tools can be compared layer by layer.

Isolation
    ``import weightwatcher`` silences Python warnings process-wide and configures logging globally. htmu
    therefore never imports it in its own process: :func:`run_compare` runs ``python -m htmu.study.compare ww``
    in a subprocess (:func:`_ww_main`) and reads back a CSV. Without the optional extra the comparison is
    skipped with one line (:data:`SKIP_STATUS`) and every output is still written, with that ``status``.

Conventions (checked, not assumed)
    * Linear layers: WeightWatcher 0.7.7's ESD is the squared singular values of ``W``, i.e. the
      eigenvalues of the raw :math:`W W^T` (smaller side), with no normalisation (``normalize`` was
      removed in 0.6.5 and ``w_norm`` stays 1 for dense layers). This is htmu's convention exactly; the
      subprocess checks it on every layer (:math:`\sum\lambda` and :math:`\lambda_{max}` against htmu's
      own eigenvalues, column ``esd_rel_diff``) and marks a mismatch in ``status``.
    * Conv layers: WeightWatcher splits a ``(out, in, k, k)`` kernel into :math:`k^2` slices of shape
      ``out x in`` and pools their eigenvalues (``pool=True``); in ``analyze`` it also multiplies the
      weights by :math:`\sqrt{c/2}` (``conv2d_norm=True``, :math:`c` = ``conv2d_count``, 1 when pooling,
      so the eigenvalues are halved; :math:`k^2` per slice with ``pool=False``). htmu uses the single
      ``out x (in k k)`` matrix. The two ESDs describe different matrices, so conv layers are left out by
      default (``layer_types=("linear",)``); when asked for, they are reported with ``comparable=False``.
    * WeightWatcher skips layers with more than ``max_evals = 15000`` eigenvalues; such a layer gets
      ``status="skipped: ..."`` here instead of disappearing.

Power-law fitter and the powerlaw clamp
    WeightWatcher 0.7.7's default ``alpha`` (``fit="PL"``, ``pl_package="ww"``) comes from its own
    closed-form maximum-likelihood fitter (``WW_powerlaw.WWFit``, Clauset et al. [3]_ with a KS choice of
    :math:`x_{min}`); its truncated-power-law and ``fix_fingers`` paths call ``powerlaw.Fit``.
    powerlaw 2.0.0 bounds ``alpha`` to ``[0, 3]`` by default (``Power_Law.DEFAULT_PARAMETER_RANGES``) and
    no longer accepts the ``distribution=`` keyword WeightWatcher passes (so those paths return -1);
    powerlaw 1.5 has neither problem (its only constraint is ``alpha > 1``), and 1.4.x lacks the
    ``xmin_distribution`` keyword WeightWatcher also passes. The extra pins ``weightwatcher==0.7.7`` with
    ``powerlaw==1.5`` (:data:`WW_PIN`, :data:`POWERLAW_PIN`); the subprocess nevertheless proves, on every
    run, that both code paths recover Pareto exponents 3.5 and 6 (:func:`clamp_selfcheck`), and marks
    every row invalid if they do not.

References
----------
.. [1] C. H. Martin, M. W. Mahoney, "Implicit self-regularization in deep neural networks: evidence from
   random matrix theory and implications for learning", JMLR 22 (2021); C. H. Martin, T. S. Peng,
   M. W. Mahoney, "Predicting trends in the quality of state-of-the-art neural networks without access
   to training or testing data", Nature Communications 12 (2021) (``alpha_weighted``, ``log_norm``).
.. [2] L. Hodgkinson, Z. Wang, M. W. Mahoney, "Models of heavy-tailed mechanistic universality",
   ICML 2025.
.. [3] A. Clauset, C. R. Shalizi, M. E. J. Newman, "Power-law distributions in empirical data",
   SIAM Review 51 (2009).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from htmu._io import write_csv_atomic
from htmu.study.config import parse_run

log = logging.getLogger("htmu")

__all__ = [
    "COMPARE_COLUMNS",
    "CORRELATION_COLUMNS",
    "POWERLAW_PIN",
    "SKIP_STATUS",
    "WW_METRICS",
    "WW_PIN",
    "alpha_from_kappa",
    "clamp_selfcheck",
    "fig_kappa_alpha",
    "join_fits",
    "pareto_sample",
    "rank_correlations",
    "run_compare",
    "skipped_table",
    "weightwatcher_available",
]

WW_PIN = "0.7.7"
POWERLAW_PIN = "1.5"
SKIP_STATUS = "skipped: weightwatcher not installed (pip install .[compare])"
#: WeightWatcher's per-layer metrics carried into the table.
WW_METRICS: tuple[str, ...] = ("alpha", "alpha_weighted", "log_norm", "stable_rank", "mp_softrank")
#: Metrics correlated with test accuracy (``kappa`` is htmu's, the rest WeightWatcher's).
CORRELATION_METRICS: tuple[str, ...] = ("kappa", *WW_METRICS)
LAYER_TYPES: tuple[str, ...] = ("linear", "conv")
_WW_TYPE = {"linear": "dense", "conv": "conv2d"}
#: Exit status of ``python -m htmu.study.compare`` when weightwatcher is not importable.
_EXIT_MISSING = 3
#: Relative tolerance of the Linear-layer ESD convention check (float64 SVD against float64 eigvalsh).
ESD_RTOL = 1e-8

_KEYS = ["arch", "batch_size", "seed", "layer"]
#: Columns written by the WeightWatcher subprocess (one row per analysed layer).
WW_COLUMNS: list[str] = [
    "checkpoint", "layer", "layer_type", "comparable", "ww_N", "ww_M", "ww_num_evals", *WW_METRICS,
    "ww_xmin", "ww_num_pl_spikes", "ww_status", "esd_rel_diff", "htmu_n_eigs", "status",
]  # fmt: skip
#: Columns of results/compare/weightwatcher.csv.
COMPARE_COLUMNS: list[str] = [
    *_KEYS, "layer_type", "comparable", "gamma", "n_eigs", "ww_num_evals", *WW_METRICS, "ww_xmin",
    "ww_num_pl_spikes", "ww_status", "esd_rel_diff", "law", "phase", "kappa", "kappa_lo", "kappa_hi", "form",
    "n_spikes", "law_status", "kappa_inverse", "kappa_inverse_lo", "kappa_inverse_hi", "fit_status_inverse",
    "alpha_theory", "test_acc", "train_status", "ww_version", "powerlaw_version", "status",
]  # fmt: skip
CORRELATION_COLUMNS: list[str] = ["arch", "layer", "metric", "n", "rho", "lo", "hi", "p", "status"]


# --------------------------------------------------------------------------------------------- theory
def alpha_from_kappa(kappa: float | np.ndarray, gamma: float | np.ndarray) -> np.ndarray:
    r"""Power-law exponent of the inverse HTMP form's upper tail.

    The inverse form has density :math:`\lambda^{-2}\rho(1/\lambda)` and :math:`\rho(x) \sim x^{a}` as
    :math:`x \to 0` with :math:`a = \kappa/(2\gamma) - \kappa/2 - 1`, so its tail decays like
    :math:`\lambda^{-(2 + a)}`:

    .. math:: \alpha = 1 + \frac{\kappa (1 - \gamma)}{2\gamma}.

    :math:`\kappa = \infty` (Marchenko--Pastur, compact support) gives :math:`\alpha = \infty`.

    Parameters
    ----------
    kappa : float or array_like
        HTMP eigenvalue repulsion, :math:`\kappa > 0` (``inf`` allowed).
    gamma : float or array_like
        Aspect ratio :math:`0 < \gamma < 1`; broadcast against ``kappa``.

    Returns
    -------
    numpy.ndarray
        :math:`\alpha`, same broadcast shape (0-d for scalars).

    References
    ----------
    L. Hodgkinson, Z. Wang, M. W. Mahoney, ICML 2025, Theorem 4.1.
    """
    k = np.asarray(kappa, dtype=float)
    g = np.asarray(gamma, dtype=float)
    if np.any(np.isnan(k)) or np.any(k <= 0):
        raise ValueError(f"kappa must be > 0 (inf allowed), got {kappa!r}")
    if np.any(~np.isfinite(g)) or np.any((g <= 0) | (g >= 1)):
        raise ValueError(f"gamma must lie in (0, 1), got {gamma!r}")
    return 1.0 + k * (1.0 - g) / (2.0 * g)


# ------------------------------------------------------------------------------ the powerlaw clamp
def pareto_sample(alpha: float, n: int, rng: np.random.Generator, xmin: float = 1.0) -> np.ndarray:
    r"""Draw ``n`` points with density :math:`(\alpha-1) x_{min}^{\alpha-1} x^{-\alpha}` on :math:`[x_{min}, \infty)`.

    Inverse-CDF sampling: :math:`x = x_{min} U^{-1/(\alpha-1)}`, :math:`U \sim \mathrm{Uniform}(0, 1]`.
    """
    if not alpha > 1:
        raise ValueError(f"alpha must be > 1, got {alpha!r}")
    if not xmin > 0:
        raise ValueError(f"xmin must be > 0, got {xmin!r}")
    if int(n) < 2:
        raise ValueError(f"n must be at least 2, got {n!r}")
    u = 1.0 - rng.random(int(n))  # (0, 1]
    return xmin * u ** (-1.0 / (alpha - 1.0))


def clamp_selfcheck(
    fit_alpha: Callable[[np.ndarray], tuple[float, int]],
    rng: np.random.Generator,
    alphas: Sequence[float] = (3.5, 6.0),
    n: int = 1000,
    z: float = 4.0,
) -> list[dict]:
    r"""Check that a power-law fitter recovers known exponents (and therefore does not clamp them).

    For each :math:`\alpha` a Pareto sample of size ``n`` (:func:`pareto_sample`) is fitted; the fit
    passes when :math:`|\hat\alpha - \alpha| \le z\,\sigma` with the maximum-likelihood standard error
    :math:`\sigma = (\alpha - 1)/\sqrt{n_{tail}}` on the :math:`n_{tail}` points above the fitted
    :math:`x_{min}` (Clauset et al. 2009, eq. 3.2). A fitter clamped at 3 misses 3.5 by
    :math:`0.5 \cdot \sqrt{n}/2.5 \approx 6\sigma` at ``n = 1000`` (all points in the tail) and 6 by
    far more. A fitter that raises fails the check (``error`` holds the exception): that is what
    WeightWatcher's truncated-power-law path does with powerlaw 2.0, before reporting ``alpha = -1``.

    Parameters
    ----------
    fit_alpha : callable
        ``fit_alpha(sample) -> (alpha_hat, n_tail)``.
    rng : numpy.random.Generator
    alphas : sequence of float
        True exponents, each > 1.
    n : int
        Sample size.
    z : float
        Tolerance in standard errors.

    Returns
    -------
    list of dict
        One per exponent: ``alpha_true``, ``alpha_fit``, ``n_tail``, ``se``, ``z_score``, ``ok``,
        ``error``.
    """
    out = []
    for a in alphas:
        sample = pareto_sample(float(a), n, rng)
        try:
            a_hat, n_tail = fit_alpha(sample)
        except Exception as err:  # noqa: BLE001 (a fitter that raises fails the check, with its reason)
            out.append({"alpha_true": float(a), "alpha_fit": math.nan, "n_tail": 0, "se": math.nan,
                        "z_score": math.inf, "ok": False, "error": f"{type(err).__name__}: {err}"})  # fmt: skip
            continue
        a_hat, n_tail = float(a_hat), int(n_tail)
        se = (a - 1.0) / math.sqrt(max(n_tail, 1))
        zs = abs(a_hat - a) / se if math.isfinite(a_hat) else math.inf
        out.append({"alpha_true": float(a), "alpha_fit": a_hat, "n_tail": n_tail, "se": se, "z_score": zs,
                    "ok": bool(zs <= z), "error": ""})  # fmt: skip
    return out


# ------------------------------------------------------------------------------------- availability
def weightwatcher_available() -> bool:
    """Whether the ``weightwatcher`` package is importable here, found without importing it (see the notes).

    A plain module of that name (e.g. a script called ``weightwatcher.py`` on ``sys.path``) does not count.
    """
    spec = importlib.util.find_spec("weightwatcher")
    return spec is not None and spec.submodule_search_locations is not None


# -------------------------------------------------------------------------------------------- join
def _final_weight_fits(fits: pd.DataFrame) -> pd.DataFrame:
    sel = fits
    if "stage" in sel:
        sel = sel[sel["stage"].astype(str) == "final"]
    if "matrix" in sel:
        sel = sel[sel["matrix"].astype(str) == "weight"]
    return sel.reset_index(drop=True)


def _htmu_side(fits: pd.DataFrame) -> pd.DataFrame:
    """One row per (arch, batch_size, seed, layer): the selected law and its κ, plus the inverse form's fit."""
    from htmu.study.claims import kappa_rank, spectrum_rows

    cols = [*_KEYS, "gamma", "n_eigs", "law", "phase", "kappa", "kappa_lo", "kappa_hi", "form", "n_spikes",
            "law_status", "test_acc", "train_status"]  # fmt: skip
    inv_cols = [*_KEYS, "kappa_inverse", "kappa_inverse_lo", "kappa_inverse_hi", "fit_status_inverse"]
    fw = _final_weight_fits(fits)
    if fw.empty:
        return pd.DataFrame(columns=cols + inv_cols[len(_KEYS) :])
    sel = spectrum_rows(fw)
    # the selected law's κ on the rank scale: inf for MP laws, 0 at rank collapse
    sel = sel.assign(
        kappa=kappa_rank(sel),
        kappa_lo=sel.get("law_kappa_lo", np.nan),
        kappa_hi=sel.get("law_kappa_hi", np.nan),
    )
    sel = sel.reindex(columns=cols)
    inv = fw[fw["form"].astype(str) == "inverse"]
    inv = inv.rename(columns={"kappa": "kappa_inverse", "kappa_lo": "kappa_inverse_lo",
                              "kappa_hi": "kappa_inverse_hi", "status": "fit_status_inverse"})  # fmt: skip
    return sel.merge(inv.reindex(columns=inv_cols), on=_KEYS, how="left", validate="one_to_one")


def _alpha_theory(kappa: pd.Series, gamma: pd.Series) -> np.ndarray:
    k = pd.to_numeric(kappa, errors="coerce").to_numpy(float)
    g = pd.to_numeric(gamma, errors="coerce").to_numpy(float)
    out = np.full(k.shape, np.nan)
    ok = ~np.isnan(k) & (k > 0) & (g > 0) & (g < 1)
    out[ok] = alpha_from_kappa(k[ok], g[ok])
    return out


def join_fits(ww: pd.DataFrame, fits: pd.DataFrame) -> pd.DataFrame:
    r"""Put htmu's fits next to WeightWatcher's rows, one row per (arch, batch_size, seed, layer).

    From ``fits`` (the ``results/fits.csv`` table) only ``stage == "final"`` weight spectra are used.
    ``law``, ``phase``, ``kappa`` and ``form`` are the law selected for the spectrum
    (:func:`htmu.fit.selection.select_law`; ``kappa`` on the rank scale of :func:`htmu.study.claims.kappa_rank`:
    ``inf`` for MP and MP+spikes, 0 at rank collapse); ``kappa_inverse*`` are the inverse form's fit, whose
    tail gives ``alpha_theory`` :math:`= 1 + \kappa_{inv}(1-\gamma)/(2\gamma)`.
    A WeightWatcher row without a matching fit keeps its metrics and gets ``status="no_fit: ..."``.

    Parameters
    ----------
    ww : DataFrame
        Keys ``arch``, ``batch_size``, ``seed``, ``layer`` and the WeightWatcher columns.
    fits : DataFrame
        The ``results/fits.csv`` table.

    Returns
    -------
    DataFrame
        Columns :data:`COMPARE_COLUMNS`.
    """
    missing = [k for k in _KEYS if k not in ww.columns]
    if missing:
        raise ValueError(f"ww: missing key columns {missing}")
    missing = [k for k in [*_KEYS, "form", "kappa", "selected", "law", "phase", "law_kappa", "status"]
               if k not in fits.columns]  # fmt: skip
    if missing:
        raise ValueError(f"fits: missing columns {missing}")
    side = _htmu_side(fits)
    left = ww.copy()
    for k in ("batch_size", "seed"):
        left[k] = left[k].astype(int)
        side[k] = side[k].astype(int)
    out = left.merge(side, on=_KEYS, how="left", validate="one_to_one", indicator=True)
    status = out["status"].astype(object).where(out["status"].notna(), "ok")
    nofit = (out["_merge"] == "left_only") & (status == "ok")
    status[nofit] = "no_fit: no final weight spectrum of this layer in fits.csv"
    out["status"] = status
    out["alpha_theory"] = _alpha_theory(out["kappa_inverse"], out["gamma"])
    return out.drop(columns="_merge").reindex(columns=COMPARE_COLUMNS)


def skipped_table(fits: pd.DataFrame, status: str = SKIP_STATUS) -> pd.DataFrame:
    """htmu's side alone, WeightWatcher's columns empty and ``status`` saying why (all final weight layers)."""
    side = _htmu_side(fits)
    side["alpha_theory"] = _alpha_theory(side["kappa_inverse"], side["gamma"])
    side["status"] = status
    return side.reindex(columns=COMPARE_COLUMNS)


# ------------------------------------------------------------------------------------ correlations
def rank_correlations(
    table: pd.DataFrame,
    rng: np.random.Generator,
    n_boot: int = 1000,
    metrics: Sequence[str] = CORRELATION_METRICS,
) -> pd.DataFrame:
    r"""Spearman's :math:`\rho` of each metric with test accuracy, per (arch, layer), across runs.

    The runs of one architecture (batch sizes × seeds) are the observations. Only rows with
    ``status == "ok"`` and ``train_status == "ok"`` (networks that learned: a diverged, collapsed or undertrained
    run is no evidence) and a non-NaN metric enter; ``kappa = inf`` (MP laws) ranks above every finite κ. :math:`\rho`, its
    percentile-bootstrap 95% interval and p-value come from :func:`htmu.stats.spearman_ci`.

    Parameters
    ----------
    table : DataFrame
        :data:`COMPARE_COLUMNS` (the output of :func:`join_fits`).
    rng : numpy.random.Generator
        Bootstrap resampling.
    n_boot : int
    metrics : sequence of str

    Returns
    -------
    DataFrame
        :data:`CORRELATION_COLUMNS`; ``status`` is ``"ok"``, ``"too_few: n=..."`` (fewer than 3 runs)
        or ``"constant: ..."`` (a variable without spread, ρ undefined).
    """
    from htmu.stats import spearman_ci

    rows = []
    if table.empty:
        return pd.DataFrame(columns=CORRELATION_COLUMNS)
    usable = table[(table["status"].astype(str) == "ok") & (table["train_status"].astype(str) == "ok")]
    groups = table.groupby(["arch", "layer"], sort=True).size().index
    for arch, layer in groups:
        sub = usable[(usable["arch"] == arch) & (usable["layer"] == layer)]
        for metric in metrics:
            x = pd.to_numeric(sub[metric], errors="coerce").to_numpy(float)
            y = pd.to_numeric(sub["test_acc"], errors="coerce").to_numpy(float)
            keep = ~np.isnan(x) & np.isfinite(y)
            x, y = x[keep], y[keep]
            row = {"arch": arch, "layer": layer, "metric": metric, "n": int(x.size), "rho": np.nan,
                   "lo": np.nan, "hi": np.nan, "p": np.nan}  # fmt: skip
            if x.size < 3:
                row["status"] = f"too_few: n={x.size} usable runs (need 3)"
            elif np.unique(x).size == 1 or np.unique(y).size == 1:
                row["status"] = (
                    "constant: " + ("metric" if np.unique(x).size == 1 else "test_acc") + " has no spread"
                )
            else:
                rho, lo, hi, p = spearman_ci(x, y, rng, n_boot=n_boot)
                row.update(rho=rho, lo=lo, hi=hi, p=p, status="ok")
            rows.append(row)
    return pd.DataFrame(rows, columns=CORRELATION_COLUMNS)


# ------------------------------------------------------------------------------------------- figure
#: Marker of each selected law in the κ–α figure.
_LAW_MARKERS = {"HTMP-inverse": "s", "HTMP-direct": "o", "MP": "^", "MP+spikes": "P"}


def fig_kappa_alpha(table: pd.DataFrame, reason: str = ""):
    r"""WeightWatcher's α against the κ of htmu's selected law, one panel per architecture.

    Each layer has its colour; the line of that colour is the relation :math:`\alpha = 1 + \kappa(1-\gamma)/
    (2\gamma)` of the inverse HTMP form's tail at the layer's :math:`\gamma`. The marker is the law
    :func:`htmu.fit.selection.select_law` selected (:data:`_LAW_MARKERS`); the line applies to the HTMP-inverse
    points. Laws MP and MP+spikes (:math:`\kappa = \infty`) are drawn at the right edge, the rank-collapse phase
    (:math:`\kappa \to 0`) at the left edge. Hollow markers: runs whose training is not ``ok``.

    Parameters
    ----------
    table : DataFrame
        :data:`COMPARE_COLUMNS`.
    reason : str
        Shown instead of data when the table has no usable row (e.g. :data:`SKIP_STATUS`).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    ok = table[(table["status"].astype(str) == "ok")] if not table.empty else table
    ok = ok[pd.to_numeric(ok["alpha"], errors="coerce").notna()] if not ok.empty else ok
    if not ok.empty:
        ok = ok[pd.to_numeric(ok["kappa"], errors="coerce").notna()]
    archs = sorted(ok["arch"].astype(str).unique()) if not ok.empty else []
    fig = Figure(figsize=(4.6 * max(1, len(archs)), 3.8), layout="constrained")
    axes = fig.subplots(1, max(1, len(archs)), squeeze=False)[0]
    if not archs:
        ax = axes[0]
        statuses = sorted(set(table["status"].astype(str))) if not table.empty else []
        text = reason or ("; ".join(statuses) if statuses else "no rows")
        ax.text(0.5, 0.5, "no data\n" + text, ha="center", va="center", wrap=True, transform=ax.transAxes)
        ax.set_xlabel(r"htmu $\kappa$ of the selected law")
        ax.set_ylabel(r"WeightWatcher $\alpha$")
        return fig
    for ax, arch in zip(axes, archs, strict=True):
        sub = ok[ok["arch"].astype(str) == arch]
        k = pd.to_numeric(sub["kappa"], errors="coerce").to_numpy(float)
        finite = k[np.isfinite(k) & (k > 0)]
        lo = max(min(finite.min() / 3, 0.05), 1e-3) if finite.size else 0.05
        hi = max(finite.max() * 3, 50.0) if finite.size else 50.0
        x_inf, x_zero = hi * 2, lo / 2
        grid = np.geomspace(lo, hi, 200)
        for i, (layer, lsub) in enumerate(sub.groupby("layer", sort=True)):
            color = f"C{i % 10}"
            gam = pd.to_numeric(lsub["gamma"], errors="coerce").dropna()
            if not gam.empty and 0 < gam.iloc[0] < 1:
                ax.plot(grid, alpha_from_kappa(grid, gam.iloc[0]), color=color, lw=1, alpha=0.7)
            kx = pd.to_numeric(lsub["kappa"], errors="coerce").to_numpy(float)
            kx = np.where(np.isinf(kx), x_inf, np.where(kx == 0, x_zero, kx))
            ay = pd.to_numeric(lsub["alpha"], errors="coerce").to_numpy(float)
            laws = lsub["law"].astype(str).to_numpy()
            learned = (lsub["train_status"].astype(str) == "ok").to_numpy()
            label = f"{layer} (γ={gam.iloc[0]:.3g})" if not gam.empty else str(layer)
            for law, marker in _LAW_MARKERS.items():
                for filled in (True, False):
                    m = (laws == law) & (learned == filled)
                    if m.any():
                        ax.scatter(kx[m], ay[m], marker=marker, s=28, zorder=3, edgecolors=color,
                                   color=color if filled else "none", label=label)  # fmt: skip
                        label = None
        for law, marker in _LAW_MARKERS.items():
            ax.scatter([], [], marker=marker, color="0.3", s=28, label=f"law {law}")
        ax.axvline(x_inf / 1.4, color="0.6", lw=0.8, ls=":")
        ax.axvline(x_zero * 1.4, color="0.6", lw=0.8, ls=":")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(x_zero / 1.6, x_inf * 1.6)
        ax.annotate("∞ (MP)", (x_inf, 1), xycoords=("data", "axes fraction"), ha="center", va="bottom",
                    fontsize=8)  # fmt: skip
        ax.annotate(
            "→0", (x_zero, 1), xycoords=("data", "axes fraction"), ha="center", va="bottom", fontsize=8
        )
        ax.set_xlabel(r"htmu $\kappa$ of the selected law (hollow: training not ok)")
        ax.set_ylabel(r"WeightWatcher $\alpha$")
        ax.set_title(
            f"{arch}: lines $\\alpha = 1 + \\kappa(1-\\gamma)/(2\\gamma)$ (inverse form)",
            fontsize=9,
            pad=14,  # above the "->0" and "inf (MP)" marks, which sit on the axes' top edge
        )
        ax.legend(fontsize=6)
    return fig


def _save(fig, paths: Sequence[str | os.PathLike]) -> None:
    for p in paths:
        p = Path(p)
        p.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(p, format=p.suffix.lstrip("."), dpi=150)


# ---------------------------------------------------------------------------------------- pipeline
def run_compare(
    checkpoints: Sequence[str | os.PathLike],
    fits_csv: str | os.PathLike,
    out_csv: str | os.PathLike,
    corr_csv: str | os.PathLike,
    figures: Sequence[str | os.PathLike],
    seed: int = 0,
    layer_types: Sequence[str] = ("linear",),
    n_boot: int = 1000,
    python: str | None = None,
    available: bool | None = None,
) -> str:
    """Run WeightWatcher on every checkpoint (in a subprocess), join, correlate, plot; write all outputs.

    Parameters
    ----------
    checkpoints : sequence of path-like
        ``results/train/{arch}_bs{B}_s{S}/model_final.pt``; the run is read from the parent folder's name.
    fits_csv : path-like
        ``results/fits.csv``.
    out_csv, corr_csv : path-like
        The joined table (:data:`COMPARE_COLUMNS`) and the correlations (:data:`CORRELATION_COLUMNS`).
    figures : sequence of path-like
        The κ–α figure, one path per format (suffix = format).
    seed : int
        Seed of the bootstrap and of the clamp self-check.
    layer_types : sequence of {"linear", "conv"}
        Layers to analyse (conv ESDs follow different conventions: see the module notes).
    n_boot : int
    python : str, optional
        Interpreter of the subprocess (default: this one).
    available : bool, optional
        ``False`` skips without starting the subprocess (for tests); by default the subprocess decides
        (exit status 3 and one line when weightwatcher is not importable there).

    Returns
    -------
    str
        ``"ok"`` or :data:`SKIP_STATUS` (or another reason) when WeightWatcher did not run; the outputs
        are written either way.
    """
    bad = [t for t in layer_types if t not in LAYER_TYPES]
    if bad or not layer_types:
        raise ValueError(
            f"layer_types: {bad or list(layer_types)} not a non-empty subset of {list(LAYER_TYPES)}"
        )
    fits = pd.read_csv(fits_csv)
    rng = np.random.default_rng(seed)
    # availability is decided by the interpreter that runs WeightWatcher (it exits with _EXIT_MISSING),
    # not here: this process's sys.path may differ (Snakemake appends the scripts folder, for instance)
    result = (
        None
        if available is False
        else _run_ww_subprocess(checkpoints, layer_types, seed, python or sys.executable)
    )
    if result is None:
        log.warning("htmu: WeightWatcher comparison %s", SKIP_STATUS)
        table, status = skipped_table(fits), SKIP_STATUS
    else:
        ww, meta = result
        log.info("weightwatcher %s, powerlaw %s; clamp self-check: %s", meta.get("ww_version"),
                 meta.get("powerlaw_version"), meta.get("selfcheck"))  # fmt: skip
        table = join_fits(ww, fits)
        table["ww_version"] = meta.get("ww_version")
        table["powerlaw_version"] = meta.get("powerlaw_version")
        status = "ok"
    write_csv_atomic(table, out_csv)
    write_csv_atomic(rank_correlations(table, rng, n_boot=n_boot), corr_csv)
    reason = "" if status == "ok" else status
    _save(fig_kappa_alpha(table, reason), figures)
    log.info("compare: %d rows written to %s", len(table), out_csv)
    return status


def _run_ww_subprocess(
    checkpoints: Sequence[str | os.PathLike], layer_types: Sequence[str], seed: int, python: str
) -> tuple[pd.DataFrame, dict] | None:
    """Rows and metadata from ``python -m htmu.study.compare ww``; None when weightwatcher is missing there."""
    ckpts = [str(Path(c).resolve()) for c in checkpoints]
    with tempfile.TemporaryDirectory(prefix="htmu-ww-") as tmp:
        rows_csv, meta_json = Path(tmp) / "ww.csv", Path(tmp) / "meta.json"
        cmd = [python, "-m", "htmu.study.compare", "ww", "--out", str(rows_csv), "--meta", str(meta_json),
               "--seed", str(seed), "--layer-types", *layer_types, "--", *ckpts]  # fmt: skip
        env = dict(os.environ)
        src = str(Path(__file__).resolve().parents[2])  # src/, the folder above htmu/study/
        env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
        # cwd=tmp: WeightWatcher's default image folder (ww-img) must not land in the workflow's tree
        proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, check=False)
        if proc.returncode == _EXIT_MISSING:
            return None
        for line in (proc.stdout + proc.stderr).splitlines():
            log.info("[weightwatcher] %s", line)
        if proc.returncode != 0:
            raise RuntimeError(f"weightwatcher subprocess failed (exit {proc.returncode}); see the log above")
        ww = pd.read_csv(rows_csv)
        meta = json.loads(meta_json.read_text())
    runs = [parse_run(Path(c).parent.name) for c in ww["checkpoint"]]
    ww["arch"] = [r[0] for r in runs]
    ww["batch_size"] = [r[1] for r in runs]
    ww["seed"] = [r[2] for r in runs]
    if not meta.get("selfcheck_powerlaw_ok", False):
        log.warning("weightwatcher's powerlaw-package path fails the clamp self-check (powerlaw %s): its "
                    "TPL/fix_fingers fits are unreliable; the table uses the default path only",
                    meta.get("powerlaw_version"))  # fmt: skip
    if not meta.get("selfcheck_ok", False):
        bad = "invalid: power-law fitter failed the clamp self-check (Pareto alpha 3.5/6 not recovered)"
        ww["status"] = [bad if s == "ok" else s for s in ww["status"]]
    return ww, meta


# --------------------------------------------------------------------- the subprocess (imports WW)
def _ww_fitters() -> dict[str, Callable[[np.ndarray], tuple[float, int]]]:
    """WeightWatcher's two power-law code paths, as used by ``WeightWatcher.fit_powerlaw`` (xmin automatic)."""
    import contextlib
    import io

    from weightwatcher.WW_powerlaw import pl_fit

    def make(package: str):
        def fit(x: np.ndarray) -> tuple[float, int]:
            # powerlaw 1.x prints its xmin progress to stdout; WeightWatcher redirects it the same way
            with contextlib.redirect_stdout(io.StringIO()):
                f = pl_fit(data=x, xmax=None, distribution="power_law", pl_package=package)
            return float(f.alpha), int(np.sum(np.asarray(x) >= f.xmin))

        return fit

    return {"ww": make("ww"), "powerlaw": make("powerlaw")}


def _ww_layer_rows(watcher, model, names: dict[str, str], ckpt: str) -> list[dict]:
    from htmu.spectra import weight_spectra

    rows = []
    # filter by WeightWatcher's layer type ("dense", "conv2d"): its `name` column is only the last part
    # of the qualified name ("features.0" -> "0"), so rows are matched on `longname` below
    ww_types = sorted({_WW_TYPE[t] for t in names.values()})
    details = watcher.analyze(layers=ww_types, mp_fit=True, plot=False)
    by_name = {str(r["longname"]): r for _, r in details.iterrows()} if len(details) else {}
    htmu = {r.layer: r for r in weight_spectra(model, layers=list(names))}
    for name, kind in names.items():
        row = {"checkpoint": ckpt, "layer": name, "layer_type": kind, "comparable": kind == "linear",
               "htmu_n_eigs": int(htmu[name].eigenvalues.size)}  # fmt: skip
        d = by_name.get(name)
        if d is None:
            w = dict(model.named_modules())[name].weight
            row["status"] = (f"skipped: weightwatcher did not analyse this layer (shape {tuple(w.shape)}; it skips "
                             "layers with more than max_evals=15000 eigenvalues or fewer than min_evals=8)")  # fmt: skip
            rows.append(row)
            continue
        row.update({"ww_N": int(d["N"]), "ww_M": int(d["M"]), "ww_num_evals": int(d["num_evals"]),
                    "ww_xmin": float(d["xmin"]), "ww_num_pl_spikes": int(d["num_pl_spikes"]),
                    "ww_status": str(d["status"])})  # fmt: skip
        for m in WW_METRICS:
            row[m] = float(d[m])
        eig = htmu[name].eigenvalues
        if eig.size:
            rel = max(
                abs(float(d["norm"]) - eig.sum()) / eig.sum(),
                abs(float(d["spectral_norm"]) - eig.max()) / eig.max(),
            )
            row["esd_rel_diff"] = rel
        status = "ok"
        if str(d["status"]) != "success" or float(d["alpha"]) == -1:
            # WeightWatcher's failure sentinel: alpha = -1; keep the number out of every statistic
            for m in ("alpha", "alpha_weighted"):
                row[m] = math.nan
            status = f"failed: weightwatcher fit status {d['status']!s} (alpha sentinel -1)"
        elif kind == "linear" and (
            int(d["num_evals"]) != eig.size or not row.get("esd_rel_diff", 1) <= ESD_RTOL
        ):
            status = (f"convention_mismatch: weightwatcher ESD != htmu eig(W W^T) (n {int(d['num_evals'])} vs "
                      f"{eig.size}, rel diff {row.get('esd_rel_diff')})")  # fmt: skip
        row["status"] = status
        rows.append(row)
    return rows


def _ww_main(args: argparse.Namespace) -> int:
    if not weightwatcher_available():
        print(f"htmu: WeightWatcher comparison {SKIP_STATUS}", file=sys.stderr)
        return _EXIT_MISSING
    import importlib.metadata as md

    import torch
    import weightwatcher as ww
    from torch import nn

    from htmu.study.train import load_checkpoint

    rng = np.random.default_rng(args.seed)
    selfcheck = {pkg: clamp_selfcheck(fit, rng) for pkg, fit in _ww_fitters().items()}
    meta = {
        "ww_version": md.version("weightwatcher"),
        "powerlaw_version": md.version("powerlaw"),
        "selfcheck": selfcheck,
        # the table's alpha comes from the "ww" path (analyze with fit="PL", pl_package="ww"); the
        # powerlaw path (TPL, fix_fingers) is checked and reported too, but not used here
        "selfcheck_ok": all(r["ok"] for r in selfcheck["ww"]),
        "selfcheck_powerlaw_ok": all(r["ok"] for r in selfcheck["powerlaw"]),
    }
    types = {"linear": (nn.Linear,), "conv": (nn.Conv2d,)}
    wanted = tuple(c for t in args.layer_types for c in types[t])
    rows = []
    for ckpt in args.checkpoints:
        model, header = load_checkpoint(ckpt)
        names = {n: ("linear" if isinstance(m, nn.Linear) else "conv") for n, m in model.named_modules()
                 if isinstance(m, wanted)}  # fmt: skip
        if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
            rows += [{"checkpoint": ckpt, "layer": n, "layer_type": t, "comparable": t == "linear",
                      "status": f"diverged: non-finite weights (training status {header.get('status')})"}
                     for n, t in names.items()]  # fmt: skip
            continue
        try:
            rows += _ww_layer_rows(ww.WeightWatcher(model=model), model, names, ckpt)
        except Exception as err:  # noqa: BLE001 (one failed model is a status, not a crashed DAG)
            msg = f"{type(err).__name__}: {err}".splitlines()[0]
            rows += [{"checkpoint": ckpt, "layer": n, "layer_type": t, "comparable": t == "linear",
                      "status": f"failed: weightwatcher raised {msg}"} for n, t in names.items()]  # fmt: skip
    pd.DataFrame(rows).reindex(columns=WW_COLUMNS).to_csv(args.out, index=False)
    Path(args.meta).write_text(json.dumps(meta, indent=2))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m htmu.study.compare ww --out rows.csv --meta meta.json [--layer-types linear conv] -- CKPT...``."""
    parser = argparse.ArgumentParser(prog="python -m htmu.study.compare", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("ww", help="run WeightWatcher on checkpoints (this process imports weightwatcher)")
    p.add_argument("--out", required=True, help="per-layer CSV to write")
    p.add_argument("--meta", required=True, help="JSON with versions and the clamp self-check")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--layer-types", nargs="+", choices=LAYER_TYPES, default=["linear"])
    p.add_argument("checkpoints", nargs="+")
    p = sub.add_parser("selfcheck", help="print the clamp self-check of WeightWatcher's fitters as JSON")
    p.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.command == "ww":
        return _ww_main(args)
    if not weightwatcher_available():
        print(f"htmu: WeightWatcher comparison {SKIP_STATUS}", file=sys.stderr)
        return _EXIT_MISSING
    rng = np.random.default_rng(args.seed)
    print(json.dumps({pkg: clamp_selfcheck(fit, rng) for pkg, fit in _ww_fitters().items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
