"""The study's figures, each a :class:`matplotlib.figure.Figure` built without pyplot's global state.

Every function tolerates missing data: a panel with nothing to draw says "no data" (and why) instead of
raising. Densities are drawn through an injectable ``pdf`` argument (:data:`htmu.plotting.PdfFn`), defaulting to the
package laws :data:`htmu.laws.marchenko_pastur`, :data:`htmu.laws.htmp` and :data:`htmu.laws.invhtmp`.

Every figure of a fitted spectrum draws the law :func:`htmu.fit.selection.select_law` selected for it (the
``selected`` rows of ``results/fits.csv``) and labels it with that law, κ with its interval, and the phase (the
thresholds of :mod:`htmu.fit.selection`, a convention of htmu, not of the paper).

References
----------
L. Hodgkinson, Z. Wang, M. W. Mahoney, "Models of Heavy-Tailed Mechanistic Universality", ICML 2025,
arXiv:2506.03470 (Figures 1 and 2).
C. H. Martin, M. W. Mahoney, "Implicit self-regularization in deep neural networks", JMLR 22 (2021)
(the "5+1 phases", their Figure 12).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from scipy import optimize, stats

from htmu.plotting import (
    TEXT_BOX,
    PdfFn,
    draw_pdf,
    fmt_kappa,
    kappa_text,
    log_hist,
    new_figure,
    no_data,
    package_pdf,
    positive,
)
from htmu.stats import spearman_with_ci
from htmu.study.claims import SPECTRUM_KEYS, kappa_rank, scaling_verdict, spectrum_rows

__all__ = [
    "FIGURES",
    "FigureSpec",
    "InvGammaFit",
    "fig_correlation",
    "fig_ensemble",
    "fig_estimator",
    "fig_kappa_accuracy",
    "fig_ntk",
    "fig_phases",
    "fig_scaling",
    "fig_structure",
    "fit_invgamma_lower",
]


# ----------------------------------------------------------------------------------------------- helpers


def _is_empty(obj: object) -> bool:
    if obj is None:
        return True
    if isinstance(obj, xr.Dataset):
        return "spectrum" not in obj.sizes or obj.sizes["spectrum"] == 0
    return len(obj) == 0  # type: ignore[arg-type]


def _spectrum_meta(spectra: xr.Dataset) -> pd.DataFrame:
    """Coordinates along ``spectrum`` as a DataFrame (row i ↔ spectrum i)."""
    cols = {name: np.asarray(c.values) for name, c in spectra.coords.items() if c.dims == ("spectrum",)}
    return pd.DataFrame(cols, index=pd.RangeIndex(spectra.sizes["spectrum"]))


def _eigenvalues(spectra: xr.Dataset, i: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Finite eigenvalues of spectrum ``i`` and their quadrature weights (None unless the store has them).

    Stochastic-Lanczos spectra store nodes with weights (variable ``weight``); a histogram of the nodes
    without their weights would misstate the density.
    """
    ev = np.asarray(spectra["eigenvalue"].isel(spectrum=i).values, dtype=float)
    w = None
    if "weight" in spectra.data_vars:
        w = np.asarray(spectra["weight"].isel(spectrum=i).values, dtype=float)
        if not np.any(np.isfinite(w)):
            w = None
    keep = np.isfinite(ev) & (np.isfinite(w) if w is not None else True)
    return ev[keep], (w[keep] if w is not None else None)


def _lambda_label(meta_row: pd.Series, default: str) -> str:
    """Axis label from the store's ``convention`` (e.g. "eig(W W^T), ...") when it has one."""
    conv = str(meta_row.get("convention", ""))
    if conv.startswith("eig(") and ")" in conv:
        return f"eigenvalue λ of {conv[4 : conv.index(')')]} (arbitrary units)"
    return default


def _same(a: object, b: object) -> bool:
    """Equality across the types a CSV round trip produces (100 vs 100.0 vs "100")."""
    try:
        fa, fb = float(a), float(b)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(a) == str(b)
    if math.isnan(fa) and math.isnan(fb):
        return True
    return fa == fb


def _matching(
    fits: pd.DataFrame | None, meta_row: pd.Series, keys: Sequence[str] = SPECTRUM_KEYS
) -> pd.DataFrame:
    """Rows of ``fits`` describing the spectrum whose coordinates are ``meta_row``.

    The initialisation is shared by every batch size of a seed: its store names the first batch size, its fit
    rows none (:func:`htmu.study.pipeline.aggregate_fits`), so batch size is not matched at stage ``init``.
    """
    if fits is None or len(fits) == 0:
        return pd.DataFrame()
    skip = {"epoch"} | ({"batch_size"} if str(meta_row.get("stage", "")) == "init" else set())
    common = [k for k in keys if k in fits.columns and k in meta_row.index and k not in skip]
    mask = np.ones(len(fits), dtype=bool)
    for k in common:
        target = meta_row[k]
        mask &= np.array([_same(v, target) for v in fits[k].to_numpy()])
    return fits[mask]


def _filter(df: pd.DataFrame, **conditions: object) -> pd.DataFrame:
    for col, val in conditions.items():
        if val is None or col not in df.columns:
            continue
        df = df[np.array([_same(v, val) for v in df[col].to_numpy()], dtype=bool)]
    return df


def _num(row: pd.Series, key: str) -> float:
    try:
        return float(row.get(key, math.nan))
    except (TypeError, ValueError):
        return math.nan


def _selected(fits: pd.DataFrame | None, meta_row: pd.Series) -> pd.Series | None:
    """The selected row (law, phase, κ, scale) of the spectrum whose coordinates are ``meta_row``, if fitted."""
    if fits is None or len(fits) == 0 or "selected" not in fits.columns:
        return None
    rows = spectrum_rows(_matching(fits, meta_row))
    return rows.iloc[0] if len(rows) else None


def _draw_selected(ax: Axes, pdf: PdfFn, sel: pd.Series | None, x: np.ndarray, ev: np.ndarray) -> list[str]:
    """Draw the selected law's density over the histogram of ``ev``; return the panel's text lines.

    MP: MP(γ) at the fitted scale. MP+spikes: the MP bulk (γ and mass of the bulk's n − k eigenvalues, its
    scale) and the k largest eigenvalues marked as ticks along the bottom. HTMP: the selected form at its κ and
    scale (not drawable when only an upper bound on κ is known: rank collapse). The text gives the law, κ with
    its interval and α, the phase, and the evidence: the MP test's p-value (of the bulk for MP+spikes), or the
    selection's reason for rejecting the MP laws.
    """
    if sel is None:
        return ["no fit"]
    law, phase = str(sel.get("law", "")), str(sel.get("phase", ""))
    if not law:
        return [f"no law ({sel.get('law_status', '') or sel.get('status', '') or 'not fitted'})"]
    gamma, scale = _num(sel, "gamma"), _num(sel, "law_scale")
    kappa = _num(sel, "law_kappa")
    style = {"color": "C3", "lw": 1.8}
    lines = [f"law: {law}"]
    note = ""
    if law == "MP":
        note = draw_pdf(ax, pdf, "mp", x, "selected: MP", style, gamma=gamma, scale=scale)
    elif law == "MP+spikes":
        n, k = int(_num(sel, "n_eigs")), int(_num(sel, "n_spikes"))
        note = draw_pdf(ax, pdf, "mp", x, f"selected: MP bulk + {k} spike{'s' * (k != 1)}", style,
                         weight=(n - k) / n, gamma=gamma * (n - k) / n, scale=scale)  # fmt: skip
        spikes = np.sort(ev)[-k:] if k else np.empty(0)
        from matplotlib.transforms import blended_transform_factory

        ax.plot(spikes, np.full(spikes.size, 0.06), ls="none", marker="|", ms=14, mew=2, color="C3",
                transform=blended_transform_factory(ax.transData, ax.transAxes))  # fmt: skip
        lines[0] += f" ({k} spike{'s' * (k != 1)}, ticks)"
    else:
        form = str(sel.get("form", "direct"))
        if math.isnan(kappa):
            note = "density not drawn: κ is only bounded above"
        else:
            note = draw_pdf(
                ax, pdf, form, x, f"selected: {law}", style, gamma=gamma, kappa=kappa, scale=scale
            )
    lines.append(kappa_text(kappa, _num(sel, "law_kappa_lo"), _num(sel, "law_kappa_hi")))
    alpha = _num(sel, "alpha")
    if math.isfinite(alpha):
        lines[-1] += f", α = {alpha:.3g}"
    lines.append(f"phase: {phase}")
    # why: the calibrated MP tests behind MP laws, the selection's own reason for an HTMP law
    if law == "MP" and math.isfinite(_num(sel, "mp_p")):
        lines.append(f"MP test p = {_num(sel, 'mp_p'):.2g}")
    elif law == "MP+spikes" and math.isfinite(_num(sel, "spikes_p")):
        p_bulk = _num(sel, "spikes_p")
        from htmu.fit.selection import MP_LEVEL

        lines.append(
            f"MP test of the bulk p = {p_bulk:.2g}"
            if p_bulk >= MP_LEVEL
            else f"bulk MP to within 1% (Wishart test p = {p_bulk:.2g})"
        )
    elif law.startswith("HTMP") and isinstance(sel.get("law_message"), str):
        lines.append(f"why not MP: {sel['law_message'].split(';')[0]}")
    return lines + ([note] if note else [])


def _outcome_text(sel: pd.Series | None) -> str:
    """'test acc 0.971, training ok' for a trained network (empty for the initialisation)."""
    if sel is None:
        return ""
    train = sel.get("train_status", "")
    if train is None or (isinstance(train, float) and math.isnan(train)) or train == "":
        return ""
    acc = _num(sel, "test_acc")
    return (f"test acc {acc:.3f}, " if math.isfinite(acc) else "") + f"training {train}"


def _finite(series: pd.Series) -> np.ndarray:
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)


# ----------------------------------------------------------------------------------------------- Figure 2


def fig_phases(
    spectra: xr.Dataset | None,
    fits: pd.DataFrame | None,
    arch: str = "minialexnet",
    layer: str = "fc1",
    stage: str = "final",
    seed: int | None = None,
    *,
    matrix: str = "weight",
    dataset: str | None = None,
    pdf: PdfFn = package_pdf,
) -> Figure:
    """The "5+1 phases" of training (the paper's Figure 2): one panel per batch size, descending.

    Each panel shows the layer's eigenvalue histogram (log-spaced bins, density per unit λ), the
    Marchenko–Pastur density MP(γ) at scale = mean eigenvalue (MP has mean ``scale``; dashed) and the density of
    the law selected for the spectrum (solid; see :func:`_draw_selected`: MP at its fitted scale, MP+spikes as
    its bulk with the spikes marked, HTMP in the selected form at its κ and scale), with the law, κ with its
    interval and α, the phase, and the run's test accuracy and training status.

    Parameters
    ----------
    spectra : xarray.Dataset or None
        ``results/spectra.nc`` (``eigenvalue(spectrum, k)`` and coordinates on ``spectrum``).
    fits : DataFrame or None
        ``results/fits.csv``.
    arch, layer, stage : str
        Which spectra to show.
    seed : int or None
        Seed to show; the smallest available per batch size when None.
    matrix : str
        Matrix kind (``"weight"`` for the paper's figure).
    dataset : str or None
        Dataset to show; the first (sorted) when None.
    pdf : PdfFn
        Density function (injectable for tests).

    Returns
    -------
    Figure
    """
    title = f"5+1 phases of training: {arch} {layer} ({matrix}, stage {stage})"
    meta = pd.DataFrame() if _is_empty(spectra) else _spectrum_meta(spectra)
    if len(meta):
        meta = _filter(meta, arch=arch, layer=layer, stage=stage, matrix=matrix)
        if len(meta) and "dataset" in meta:
            dataset = dataset if dataset is not None else sorted(meta["dataset"].astype(str).unique())[0]
            meta = _filter(meta, dataset=dataset)
    missing = [c for c in ("arch", "layer", "stage", "matrix", "batch_size") if len(meta) and c not in meta]
    batch_sizes = (
        sorted(pd.to_numeric(meta["batch_size"]).unique(), reverse=True) if len(meta) and not missing else []
    )
    if not batch_sizes:
        fig, axes = new_figure(1, 1)
        reason = (
            f"spectra lack coordinates {missing}" if missing else f"no {matrix} spectra for {arch} {layer}"
        )
        no_data(axes[0, 0], reason + ("" if missing else f" at stage {stage}"))
        fig.suptitle(title)
        return fig

    ncols = min(3, len(batch_sizes))
    nrows = math.ceil(len(batch_sizes) / ncols)
    fig, axes = new_figure(nrows, ncols)
    for ax in axes.flat[len(batch_sizes) :]:
        ax.set_visible(False)
    for ax, bs in zip(axes.flat, batch_sizes, strict=False):
        sub = meta[pd.to_numeric(meta["batch_size"]) == bs]
        seeds = sorted(pd.to_numeric(sub["seed"]).unique()) if "seed" in sub else [None]
        chosen = seed if seed is not None else seeds[0]
        if chosen is not None:
            sub = sub[pd.to_numeric(sub["seed"]) == chosen]
        ax.set_title(f"batch size {int(bs)}" + (f", seed {int(chosen)}" if chosen is not None else ""))
        if len(sub) == 0:
            no_data(ax, f"seed {chosen} not available")
            continue
        _phase_panel(ax, spectra, fits, sub.loc[int(sub.index[0])], int(sub.index[0]), matrix, pdf)
    fig.suptitle(title)
    return fig


def _phase_panel(ax: Axes, spectra: xr.Dataset, fits: pd.DataFrame | None, row_meta: pd.Series, i: int,
                 matrix: str, pdf: PdfFn) -> None:  # fmt: skip
    """One panel of :func:`fig_phases`: spectrum ``i``'s histogram, MP at its mean, the selected law, the text."""
    ev, w, n_nonpos = positive(*_eigenvalues(spectra, i))
    if ev.size < 2:
        no_data(ax, f"{ev.size} positive eigenvalues (status {row_meta.get('status', '?')})")
        return
    x = log_hist(ax, ev, w)
    gamma = float(row_meta.get("gamma", math.nan))
    notes = []
    if math.isfinite(gamma):
        notes.append(draw_pdf(ax, pdf, "mp", x, f"MP(γ={gamma:.3g}) at the mean", {"color": "k", "ls": "--", "lw": 1},
                              gamma=gamma, scale=float(np.average(ev, weights=w))))  # fmt: skip
    sel = _selected(fits, row_meta)
    lines = _draw_selected(ax, pdf, sel, x, ev)
    outcome = _outcome_text(sel)
    if outcome:
        lines.append(outcome)
    if n_nonpos:
        lines.append(f"{n_nonpos} eigenvalues ≤ 0 not shown")
    lines += [n for n in notes if n]
    ax.text(0.03, 0.03, "\n".join(lines), transform=ax.transAxes, fontsize=7, va="bottom", bbox=TEXT_BOX)
    ax.set_xlabel(_lambda_label(row_meta, f"eigenvalue λ of the {matrix} Gram matrix (arbitrary units)"))
    ax.set_ylabel("density p(λ) (per unit λ)")
    ax.legend(fontsize=7, loc="upper right")


# ----------------------------------------------------------------------------------------------- Figure 1


@dataclass(frozen=True)
class InvGammaFit:
    """Inverse-Gamma law fitted to the eigenvalues below a threshold; ``status`` says why if it failed."""

    shape: float
    scale: float
    threshold: float
    n_used: int
    n_total: int
    status: str

    def pdf_below(self, x: np.ndarray) -> np.ndarray:
        """Density of the whole sample implied below ``threshold``: (n_used/n_total) f(x)/F(threshold)."""
        f = stats.invgamma.pdf(x, self.shape, scale=self.scale)
        norm = stats.invgamma.cdf(self.threshold, self.shape, scale=self.scale)
        return np.where(x <= self.threshold, (self.n_used / self.n_total) * f / norm, np.nan)


def fit_invgamma_lower(eigenvalues: np.ndarray, quantile: float = 0.5, min_points: int = 10) -> InvGammaFit:
    """Fit an inverse-Gamma law to the lowest eigenvalues by truncated maximum likelihood.

    With threshold t the ``quantile`` of the positive eigenvalues, maximise over shape a and scale s

    .. math:: \\sum_{\\lambda_i \\le t} \\log f(\\lambda_i; a, s) - m \\log F(t; a, s),

    f, F the inverse-Gamma density and CDF (``scipy.stats.invgamma``, location 0), m the number of points
    used. Conditioning on λ ≤ t makes the fit describe the law near zero only, which is what the paper's
    Figure 1 shows (the inverse-Gamma behaviour λ^(−(1+κ/(2γ)+κ/2)) e^(−c/λ) of the inverse form near 0).

    Parameters
    ----------
    eigenvalues : ndarray
        Spectrum; non-positive and non-finite values are ignored.
    quantile : float
        Fraction of the positive eigenvalues used, in (0, 1].
    min_points : int
        Fewer points than this give ``status="too_few"``.

    Returns
    -------
    InvGammaFit
    """
    if not 0 < quantile <= 1:
        raise ValueError(f"quantile must be in (0, 1], got {quantile!r}")
    ev = np.asarray(eigenvalues, dtype=float)
    ev = ev[np.isfinite(ev) & (ev > 0)]
    if ev.size == 0:
        return InvGammaFit(math.nan, math.nan, math.nan, 0, 0, "too_few")
    t = float(np.quantile(ev, quantile))
    low = ev[ev <= t]
    if low.size < min_points:
        return InvGammaFit(math.nan, math.nan, t, int(low.size), int(ev.size), "too_few")
    # start from the moments of 1/λ (Gamma(a, rate s) for an untruncated law); optimise in logs so both
    # parameters stay positive
    inv = 1.0 / low
    a0 = max(inv.mean() ** 2 / inv.var(), 1e-3) if inv.var() > 0 else 1.0
    s0 = a0 / inv.mean()

    def nll(theta: np.ndarray) -> float:
        a, s = np.exp(theta)
        # trial points far from the optimum overflow scipy's CDF; such points get an explicit penalty below
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            val = -(
                stats.invgamma.logpdf(low, a, scale=s).sum() - low.size * stats.invgamma.logcdf(t, a, scale=s)
            )
        return float(val) if np.isfinite(val) else 1e300

    res = optimize.minimize(
        nll, np.log([a0, s0]), method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-8, "maxiter": 4000}
    )
    a, s = np.exp(res.x)
    status = "ok" if res.success else "no_convergence"
    return InvGammaFit(float(a), float(s), t, int(low.size), int(ev.size), status)


def fig_ntk(
    spectra: xr.Dataset | None,
    fits: pd.DataFrame | None,
    *,
    stages: Sequence[str] = ("init", "final"),
    quantile: float = 0.5,
    pdf: PdfFn = package_pdf,
) -> Figure:
    """NTK spectra at initialisation and after training, per architecture (the paper's Figure 1).

    Rows are architectures, columns ``stages``. Each panel: histogram of the NTK eigenvalues (log-spaced
    bins; first dataset, batch size and seed), the inverse-Gamma law fitted to the eigenvalues below the
    ``quantile`` by :func:`fit_invgamma_lower` (drawn below that threshold), and the law selected for the
    spectrum (from ``fits``, drawn as in :func:`fig_phases`) with its κ, phase and the run's outcome.

    Parameters
    ----------
    spectra : xarray.Dataset or None
        Spectra (matrix ``"ntk"`` is used).
    fits : DataFrame or None
        Fits table.
    stages : sequence of str
        Stages to show, one column each.
    quantile : float
        Fraction of the lowest eigenvalues used by the inverse-Gamma fit.
    pdf : PdfFn
        Density function (injectable for tests).

    Returns
    -------
    Figure
    """
    title = "NTK spectral densities at initialisation and after training, inverse-Gamma near zero"
    meta = pd.DataFrame() if _is_empty(spectra) else _filter(_spectrum_meta(spectra), matrix="ntk")
    missing = [c for c in ("arch", "stage", "matrix") if len(meta) and c not in meta]
    archs = sorted(meta["arch"].astype(str).unique()) if len(meta) and not missing else []
    if not archs:
        fig, axes = new_figure(1, 1)
        no_data(axes[0, 0], f"spectra lack coordinates {missing}" if missing else "no NTK spectra")
        fig.suptitle(title)
        return fig
    fig, axes = new_figure(len(archs), len(stages))
    for r, arch in enumerate(archs):
        for c, stage in enumerate(stages):
            ax = axes[r, c]
            ax.set_title(f"{arch}, {stage}")
            sub = _filter(meta, arch=arch, stage=stage)
            for col in ("dataset", "batch_size", "seed"):
                if len(sub) and col in sub:
                    first = sorted(sub[col].unique(), key=str)[0]
                    sub = _filter(sub, **{col: first})
            if len(sub) == 0:
                no_data(ax, f"no {stage} NTK spectrum")
                continue
            i = int(sub.index[0])
            ev, w, n_nonpos = positive(*_eigenvalues(spectra, i))
            if ev.size < 2:
                no_data(ax, f"{ev.size} positive eigenvalues")
                continue
            x = log_hist(ax, ev, w)
            lines = []
            # the truncated fit needs the eigenvalues themselves, not quadrature nodes
            ig = fit_invgamma_lower(ev, quantile=quantile) if w is None else None
            if ig is None:
                lines.append("inverse-Gamma fit: not done (weighted SLQ nodes)")
            elif ig.status == "ok":
                xl = x[x <= ig.threshold]
                ax.plot(
                    xl, ig.pdf_below(xl), color="C2", lw=2, label=f"inverse-Gamma (lowest {quantile:.0%})"
                )
                lines.append(f"inv-Gamma shape {ig.shape:.3g}, scale {ig.scale:.3g}")
            else:
                lines.append(f"inverse-Gamma fit: {ig.status}")
            sel = _selected(fits, sub.loc[i])
            lines += _draw_selected(ax, pdf, sel, x, ev)
            outcome = _outcome_text(sel)
            if outcome:
                lines.append(outcome)
            if n_nonpos:
                lines.append(f"{n_nonpos} eigenvalues ≤ 0 not shown")
            ax.text(0.03, 0.03, "\n".join(lines), transform=ax.transAxes, fontsize=7, bbox=TEXT_BOX)
            ax.set_xlabel(_lambda_label(sub.loc[i], "NTK eigenvalue λ (arbitrary units)"))
            ax.set_ylabel("density p(λ) (per unit λ)")
            ax.legend(fontsize=7, loc="upper right")
    fig.suptitle(title)
    return fig


# ----------------------------------------------------------------------------------------------- κ vs accuracy


#: Marker of each law in the κ-accuracy figure.
_LAW_MARKERS = {"MP": "^", "MP+spikes": "P", "HTMP-direct": "o", "HTMP-inverse": "s"}


def fig_kappa_accuracy(
    fits: pd.DataFrame | None,
    matrix: str = "weight",
    layer: str | None = None,
    *,
    stage: str = "final",
    seed: int = 0,
    n_boot: int = 2000,
) -> Figure:
    """κ of the selected law against test accuracy across batch sizes and seeds, one colour per architecture.

    One point per spectrum, its marker the selected law (:data:`_LAW_MARKERS`). Finite κ on a log axis; laws MP
    and MP+spikes (κ = ∞) on a line above the data, the rank-collapse phase (κ → 0) on a line below
    (:func:`htmu.study.claims.kappa_rank`). Filled markers: networks that learned (training status ``ok``); only
    they enter Spearman's ρ between κ and test accuracy in the legend (percentile-bootstrap 95% interval,
    :func:`htmu.stats.spearman_with_ci`), as in the scorecard. Hollow markers: runs that collapsed or are
    undertrained, drawn but not counted; diverged runs have no fitted spectrum and are only counted.

    Parameters
    ----------
    fits : DataFrame or None
        Fits table.
    matrix : str
        Matrix kind.
    layer : str or None
        Layer; when None, per architecture ``"fc1"`` if it has one, else its first layer (sorted).
    stage : str
        Training stage.
    seed : int
        Seed of the bootstrap.
    n_boot : int
        Bootstrap resamples.

    Returns
    -------
    Figure
    """
    fig, axes = new_figure(1, 1, width=6.5, height=4.8)
    ax = axes[0, 0]
    ax.set_title(f"κ of the selected law against test accuracy ({matrix}, stage {stage})")
    need = {"arch", "selected", "law", "phase", "law_kappa", "test_acc", "train_status"}
    if _is_empty(fits) or not need <= set(fits.columns):
        no_data(ax, "fits empty" if _is_empty(fits) else f"fits lacks {sorted(need - set(fits.columns))}")
        return fig
    df = _filter(spectrum_rows(fits), matrix=matrix, stage=stage)
    rng = np.random.default_rng(seed)
    series = []
    for arch, g in df.groupby("arch", sort=True):
        layers = sorted(g["layer"].astype(str).unique()) if "layer" in g else [""]
        lay = layer if layer is not None else ("fc1" if "fc1" in layers else layers[0])
        g = (_filter(g, layer=lay) if "layer" in g else g).reset_index(drop=True)
        series.append((f"{arch} {lay}".strip(), g, kappa_rank(g), _finite(g["test_acc"])))
    drawable = [(k, a) for _, _, k, a in series if np.any(~np.isnan(k) & ~np.isnan(a))]
    if not drawable:
        no_data(ax, f"no fitted {matrix} spectra with test accuracy")
        return fig
    finite_all = np.concatenate([k[np.isfinite(k) & (k > 0)] for k, _ in drawable])
    kmax = float(finite_all.max()) if finite_all.size else 10.0
    kmin = float(finite_all.min()) if finite_all.size else 1.0
    y_inf, y_zero = kmax * 3.0, kmin / 3.0
    left_out: dict[str, int] = {}
    for j, (name, g, kap, acc) in enumerate(series):
        color = f"C{j % 10}"
        train = g["train_status"].to_numpy(str)
        learned = train == "ok"
        for t in train[~learned]:
            left_out[t] = left_out.get(t, 0) + 1
        drawn = ~np.isnan(kap) & ~np.isnan(acc)
        use = drawn & learned
        res = spearman_with_ci(kap[use], acc[use], rng=rng, n_boot=n_boot)
        y = np.where(np.isinf(kap), y_inf, np.where(kap == 0, y_zero, kap))
        first = True
        for law, marker in _LAW_MARKERS.items():
            m = g["law"].to_numpy(str) == law
            for filled in (True, False):
                sel = drawn & m & (learned == filled)
                if not sel.any():
                    continue
                ax.scatter(acc[sel], y[sel], marker=marker, s=36, color=color if filled else "none",
                           edgecolors=color, label=f"{name}: {res.text()}" if first else None)  # fmt: skip
                first = False
        bs = g["batch_size"].to_numpy() if "batch_size" in g else [None] * len(g)
        for a, k, b, ok in zip(acc[drawn], y[drawn], np.asarray(bs)[drawn], learned[drawn], strict=True):
            if b is not None and not (isinstance(b, float) and math.isnan(b)):
                ax.annotate(f"{int(b)}" + ("" if ok else "*"), (a, k), textcoords="offset points", xytext=(3, 3),
                            fontsize=6)  # fmt: skip
    for law, marker in _LAW_MARKERS.items():
        ax.scatter([], [], marker=marker, color="0.3", label=f"law {law}")
    ax.scatter(
        [], [], marker="o", color="none", edgecolors="0.3", label="hollow, *: training not ok (not in ρ)"
    )
    ax.axhline(y_inf, color="0.5", ls=":", lw=1)
    ax.axhline(y_zero, color="0.5", ls=":", lw=1)
    # named in the right margin, where no point can hide them
    ax.text(1.01, y_inf, "κ = ∞\n(MP laws)", transform=ax.get_yaxis_transform(), va="center", ha="left",
            fontsize=7)  # fmt: skip
    ax.text(1.01, y_zero, "κ → 0\n(rank\ncollapse)", transform=ax.get_yaxis_transform(), va="center",
            ha="left", fontsize=7)  # fmt: skip
    if left_out:
        ax.text(0.99, 0.02, "not in ρ: " + ", ".join(f"{v} {k}" for k, v in sorted(left_out.items())),
                transform=ax.transAxes, ha="right", fontsize=7)  # fmt: skip
    ax.set_yscale("log")
    ax.set_ylim(max(y_zero / 3.0, 1e-6), y_inf * 3.0)
    ax.set_xlabel("test accuracy (fraction correct)")
    ax.set_ylabel("κ of the selected law (dimensionless, log scale)")
    ax.legend(fontsize=6, title="Spearman ρ(κ, accuracy) over runs that learned, 95% bootstrap CI; labels: batch",
              title_fontsize=6, loc="best")  # fmt: skip
    return fig


# ----------------------------------------------------------------------------------------------- theory figures


def fig_ensemble(
    ens_rows: pd.DataFrame | None,
    ens_eigs: xr.Dataset | None,
    *,
    max_panels: int = 6,
    pdf: PdfFn = package_pdf,
) -> Figure:
    """Sampled high-temperature β-Laguerre spectra against the HTMP(γ, κ) density.

    One panel per case of ``ens_eigs`` (at most ``max_panels``): histogram of the rescaled eigenvalues
    x = γλ/κ, the HTMP density (mean 1, scale 1), and the median KS distance and κ̂ over the matching rows of
    ``ens_rows``.

    Parameters
    ----------
    ens_rows : DataFrame or None
        Ensemble rows (``gamma, kappa, draw, ks_vs_htmp, kappa_hat, ...``).
    ens_eigs : xarray.Dataset or None
        Eigenvalues, dims ``(case, k)`` with coordinates ``gamma``, ``kappa`` on ``case``; the variable
        ``eigenvalue`` (or the only data variable).
    max_panels : int
        Most cases drawn.
    pdf : PdfFn
        Density function (injectable for tests).

    Returns
    -------
    Figure
    """
    title = "High-temperature ensemble vs the HTMP law"
    ncase = 0 if ens_eigs is None or "case" not in ens_eigs.sizes else int(ens_eigs.sizes["case"])
    if ncase == 0:
        fig, axes = new_figure(1, 1)
        no_data(axes[0, 0], "no ensemble eigenvalues")
        fig.suptitle(title)
        return fig
    var = "eigenvalue" if "eigenvalue" in ens_eigs else next(iter(ens_eigs.data_vars))
    n = min(ncase, max_panels)
    ncols = min(3, n)
    fig, axes = new_figure(math.ceil(n / ncols), ncols)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    for c, ax in zip(range(n), axes.flat, strict=False):
        gamma = float(ens_eigs["gamma"].values[c])
        kappa = float(ens_eigs["kappa"].values[c])
        ax.set_title(f"γ = {gamma:.3g}, κ = {fmt_kappa(kappa)}")
        ev = np.asarray(ens_eigs[var].isel(case=c).values, dtype=float).ravel()
        ev, _, _ = positive(ev[np.isfinite(ev)])
        if ev.size < 2:
            no_data(ax, "no eigenvalues")
            continue
        x = log_hist(ax, ev, label="sampled")
        lines = [draw_pdf(ax, pdf, "direct", x, "HTMP(γ, κ)", {"color": "C3"}, gamma=gamma, kappa=kappa)]
        if ens_rows is not None and len(ens_rows) and {"gamma", "kappa"} <= set(ens_rows.columns):
            m = ens_rows[
                np.isclose(_finite(ens_rows["gamma"]), gamma) & np.isclose(_finite(ens_rows["kappa"]), kappa)
            ]
            if len(m) and "ks_vs_htmp" in m:
                lines.append(f"KS median {np.nanmedian(_finite(m['ks_vs_htmp'])):.4f} ({len(m)} draws)")
            if len(m) and "kappa_hat" in m:
                lines.append(f"κ̂ median {fmt_kappa(float(np.nanmedian(_finite(m['kappa_hat']))))}")
            if not len(m):
                lines.append("no KS rows for this case")
        else:
            lines.append("no KS rows")
        ax.text(
            0.03, 0.03, "\n".join(s for s in lines if s), transform=ax.transAxes, fontsize=7, bbox=TEXT_BOX
        )
        ax.set_xlabel("rescaled eigenvalue x = γλ/κ (dimensionless)")
        ax.set_ylabel("density p(x)")
        ax.legend(fontsize=7, loc="upper right")
    fig.suptitle(title)
    return fig


_GROUP_COLS = ("estimator", "method", "gamma", "kappa")


def _groups(df: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    cols = [c for c in _GROUP_COLS if c in df.columns]
    if not cols:
        return [("", df)]
    out = []
    for key, g in df.groupby(cols, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        out.append(
            (
                ", ".join(
                    f"{c}={v:.3g}" if isinstance(v, float) else f"{c}={v}"
                    for c, v in zip(cols, key, strict=True)
                ),
                g,
            )
        )
    return out


def fig_estimator(summary: pd.DataFrame | None) -> Figure:
    """Bias and coverage of the κ estimator against the number of eigenvalues n.

    Left: relative bias (bias/κ) when ``rel_bias`` (or ``relative_bias``) is present, else bias. Right: empirical coverage of the
    nominal 95% interval with its Wilson interval (``coverage_lo``, ``coverage_hi``) and the nominal 0.95 line.
    One line per group of the columns ``estimator, method, gamma, kappa`` present.

    Parameters
    ----------
    summary : DataFrame or None
        Estimator summary rows (``n, bias, rel_bias, coverage, coverage_lo, coverage_hi``).

    Returns
    -------
    Figure
    """
    fig, axes = new_figure(1, 2, width=5.0, height=3.8)
    ax_b, ax_c = axes[0]
    fig.suptitle("κ estimator: bias and coverage against sample size")
    if _is_empty(summary) or "n" not in summary.columns:
        no_data(ax_b, "no estimator summary")
        no_data(ax_c, "no estimator summary")
        return fig
    bias_col = next((c for c in ("rel_bias", "relative_bias", "bias") if c in summary.columns), None)
    for j, (name, g) in enumerate(_groups(summary)):
        g = g.sort_values("n")
        n = _finite(g["n"])
        if bias_col:
            ax_b.plot(n, _finite(g[bias_col]), "o-", color=f"C{j % 10}", label=name or None)
        if "coverage" in g:
            cov = _finite(g["coverage"])
            if {"coverage_lo", "coverage_hi"} <= set(g.columns):
                err = np.vstack([cov - _finite(g["coverage_lo"]), _finite(g["coverage_hi"]) - cov])
                ax_c.errorbar(
                    n,
                    cov,
                    yerr=np.clip(err, 0, None),
                    fmt="o-",
                    capsize=3,
                    color=f"C{j % 10}",
                    label=name or None,
                )
            else:
                ax_c.plot(n, cov, "o-", color=f"C{j % 10}", label=name or None)
    if bias_col:
        ax_b.axhline(0, color="k", lw=0.8)
        ax_b.set_xscale("log")
        ax_b.set_xlabel("number of eigenvalues n")
        ax_b.set_ylabel("relative bias (κ̂ − κ)/κ" if bias_col != "bias" else "bias κ̂ − κ (dimensionless)")
        ax_b.set_title("bias")
        if ax_b.get_legend_handles_labels()[0]:
            ax_b.legend(fontsize=7)
    else:
        no_data(ax_b, "no bias column")
    if "coverage" in summary:
        ax_c.axhline(0.95, color="k", ls="--", lw=1, label="nominal 0.95")
        ax_c.set_xscale("log")
        ax_c.set_ylim(0, 1.02)
        ax_c.set_xlabel("number of eigenvalues n")
        ax_c.set_ylabel("coverage of the 95% interval (fraction)")
        ax_c.set_title("coverage (Wilson 95% intervals)")
        ax_c.legend(fontsize=7)
    else:
        no_data(ax_c, "no coverage column")
    return fig


def fig_structure(rows: pd.DataFrame | None) -> Figure:
    """κ of the selected law against eigenvector freedom for each structure (points with κ intervals).

    Laws MP and MP+spikes (κ = ∞) are drawn as triangles on a line above the finite values, the rank-collapse
    phase (κ → 0) as down-triangles on a line below (:func:`htmu.study.claims.kappa_rank`). Filled circles: HTMP
    direct form; open circles: inverse form.

    Parameters
    ----------
    rows : DataFrame or None
        :func:`htmu.study.experiments.structure_experiment`'s table (``structure, freedom, law, phase, kappa, kappa_lo,
        kappa_hi, form``).

    Returns
    -------
    Figure
    """
    fig, axes = new_figure(1, 1, width=6.0, height=4.2)
    ax = axes[0, 0]
    ax.set_title("Eigenvector structure lowers κ (reduced eigenvector entropy)")
    if _is_empty(rows) or not {"structure", "freedom", "law", "phase", "kappa"} <= set(rows.columns):
        no_data(ax, "no structure rows")
        return fig
    kap = kappa_rank(rows, "kappa")
    fin = np.isfinite(kap) & (kap > 0)
    if not np.any(~np.isnan(kap)):
        no_data(ax, "no law selected")
        return fig
    kmax = float(kap[fin].max()) if fin.any() else 10.0
    kmin = float(kap[fin].min()) if fin.any() else 1.0
    y_inf, y_zero = kmax * 3.0, kmin / 3.0
    for j, (name, g) in enumerate(rows.assign(_k=kap).groupby("structure", sort=True)):
        g = g.sort_values("freedom")
        color = f"C{j % 10}"
        free, k = _finite(g["freedom"]), g["_k"].to_numpy(float)
        f = np.isfinite(k) & (k > 0)
        inverse = g["form"].astype(str).eq("inverse").to_numpy() if "form" in g else np.zeros(len(g), bool)
        if {"kappa_lo", "kappa_hi"} <= set(g.columns) and f.any():
            lo, hi = _finite(g["kappa_lo"])[f], _finite(g["kappa_hi"])[f]
            err = np.vstack([k[f] - lo, hi - k[f]])
            err = np.where(np.isfinite(err), np.clip(err, 0, None), 0.0)
            ax.errorbar(free[f], k[f], yerr=err, fmt="none", alpha=0.8, capsize=3, color=color)
        ax.scatter(free[f & ~inverse], k[f & ~inverse], marker="o", color=color, label=str(name))
        ax.scatter(free[f & inverse], k[f & inverse], marker="o", color="none", edgecolors=color)
        ax.scatter(free[np.isinf(k)], np.full(np.isinf(k).sum(), y_inf), marker="^", color=color)
        ax.scatter(free[k == 0], np.full((k == 0).sum(), y_zero), marker="v", color=color)
    ax.axhline(y_inf, color="0.5", ls=":", lw=1)
    ax.axhline(y_zero, color="0.5", ls=":", lw=1)
    ax.text(
        0.01, y_inf, " κ = ∞ (MP, MP+spikes)", transform=ax.get_yaxis_transform(), va="bottom", fontsize=7
    )
    ax.text(
        0.01, y_zero, " κ → 0 (rank collapse)", transform=ax.get_yaxis_transform(), va="bottom", fontsize=7
    )
    ax.set_yscale("log")
    ax.set_ylim(max(y_zero / 3.0, 1e-6), y_inf * 3.0)
    ax.set_xlabel("eigenvector freedom dim G / dim O(n) (0 fixed, 1 Haar)")
    ax.set_ylabel("κ of the selected law (dimensionless, log scale)")
    ax.legend(fontsize=7, title="structure (open: inverse form)", title_fontsize=7)
    return fig


def fig_correlation(rows: pd.DataFrame | None) -> Figure:
    """Output tail exponent against the input covariance exponent ("power law in, power law out").

    x: the covariance decay exponent α of the input (eigenvalues ∝ i^(−α)); y: the power-law tail exponent
    of the output spectrum with its interval (``tail_alpha_lo``/``tail_alpha_hi`` or
    ``tail_alpha_out_lo``/``tail_alpha_out_hi``). Rows whose tail fit is not ``ok`` (``tail_status``, else
    ``status``) are omitted and counted. Where the table gives the input's tail exponent
    (``tail_alpha_in_theory``, 1 + 1/α, and/or the measured ``tail_alpha_in``) it is drawn as the reference:
    "power law out" with the input's exponent would put the points on it. One colour per ``activation``
    (or ``gamma``) when present.

    Parameters
    ----------
    rows : DataFrame or None
        Correlation rows (``alpha_in, tail_alpha_out, tail_alpha_lo, tail_alpha_hi, kappa, status``).

    Returns
    -------
    Figure
    """
    fig, axes = new_figure(1, 1, width=5.5, height=4.2)
    ax = axes[0, 0]
    ax.set_title("Power law in, power law out: tail exponents")
    if _is_empty(rows) or not {"alpha_in", "tail_alpha_out"} <= set(rows.columns):
        no_data(ax, "no correlation rows")
        return fig
    status_col = next((c for c in ("tail_status", "status") if c in rows.columns), None)
    ok = rows if status_col is None else rows[rows[status_col].astype(str) == "ok"]
    a_in, a_out = _finite(ok["alpha_in"]), _finite(ok["tail_alpha_out"])
    keep = np.isfinite(a_in) & np.isfinite(a_out)
    if not keep.any():
        no_data(ax, "no finite tail exponents")
        return fig
    lo_col = next((c for c in ("tail_alpha_lo", "tail_alpha_out_lo") if c in ok.columns), None)
    hi_col = next((c for c in ("tail_alpha_hi", "tail_alpha_out_hi") if c in ok.columns), None)
    group_col = next((c for c in ("activation", "gamma") if c in ok.columns), None)
    groups = ok[group_col].astype(str).to_numpy() if group_col else np.full(len(ok), "")
    for j, name in enumerate(sorted(set(groups[keep]))):
        m = keep & (groups == name)
        err = None
        if lo_col and hi_col:
            err = np.vstack([a_out[m] - _finite(ok[lo_col])[m], _finite(ok[hi_col])[m] - a_out[m]])
            err = np.where(np.isfinite(err), np.clip(err, 0, None), 0.0)
        label = f"output tail ({group_col} = {name})" if group_col else "output tail"
        ax.errorbar(
            a_in[m], a_out[m], yerr=err, fmt="o", capsize=3, color=f"C{j % 10}", alpha=0.8, label=label
        )
    if "tail_alpha_in_theory" in ok.columns:
        ref = pd.DataFrame({"a": a_in, "t": _finite(ok["tail_alpha_in_theory"])})
        ref = ref[np.isfinite(ref["a"]) & np.isfinite(ref["t"])].groupby("a")["t"].first()
        ax.plot(ref.index, ref.to_numpy(), "k--", lw=1, label="input tail exponent (theory)")
    if "tail_alpha_in" in ok.columns:
        t_in = _finite(ok["tail_alpha_in"])
        f = np.isfinite(a_in) & np.isfinite(t_in)
        ax.scatter(
            a_in[f], t_in[f], facecolors="none", edgecolors="k", label="input tail exponent (measured)"
        )
    n_omitted = len(rows) - int(keep.sum())
    if n_omitted:
        ax.text(0.03, 0.97, f"{n_omitted} rows without an ok tail fit omitted", transform=ax.transAxes,
                va="top", fontsize=7)  # fmt: skip
    ax.set_xlabel("input covariance exponent α (eigenvalues ∝ i^(−α), dimensionless)")
    ax.set_ylabel("tail exponent of the spectral density (dimensionless)")
    ax.legend(fontsize=7)
    return fig


def fig_scaling(raw: pd.DataFrame | None, exponents: pd.DataFrame | None) -> Figure:
    """Ridge-regression error against n (Proposition 5.1): the local slope d log L / d log n, measured and derived.

    Left: the mean error L over draws against n per setup (marker) and (κ, γ, ℓ) case (colour). Then one panel
    per setup: the measured local slope between consecutive n (points, 95% interval) at the geometric midpoint,
    the deterministic equivalent's local slope out to large n (solid), its n → ∞ exponent derived in
    docs/scaling.md (dotted), the bound −2ℓ that no ridge error's n → ∞ exponent can beat (dash-dot; a
    finite-n local slope can, transiently) and Proposition 5.1's
    claimed exponent (dashed). The title carries the verdict of :func:`htmu.study.claims.scaling_verdict`.

    Parameters
    ----------
    raw : DataFrame or None
        :func:`htmu.study.experiments.scaling_experiment`'s table (``setup_label, kappa, gamma, ell, n, error``).
    exponents : DataFrame or None
        :func:`htmu.study.experiments.scaling_exponents`'s table.

    Returns
    -------
    Figure
    """
    keys = ["kappa", "gamma", "ell"]
    exp = (
        exponents
        if not _is_empty(exponents) and {*keys, "kind", "setup_label"} <= set(exponents.columns)
        else None
    )
    setups = list(dict.fromkeys(exp["setup_label"].astype(str))) if exp is not None else []
    fig, axes = new_figure(1, 1 + max(len(setups), 1), width=4.6, height=4.2)
    ax_l, slope_axes = axes[0][0], axes[0][1:]
    verdict, _, details = scaling_verdict(exponents)
    fig.suptitle(
        "Scaling law, Proposition 5.1: claimed L ≍ n^(−ℓ(2 + κ/(2γ) − κ/2)). "
        f"Verdict: {verdict}.\n{details.split('. ')[0].rstrip('.')}.",
        fontsize=9,
    )
    cases = sorted({tuple(k) for src in (raw, exp) if not _is_empty(src) and set(keys) <= set(src.columns)
                    for k in src[keys].to_numpy(float)})  # fmt: skip
    color = {c: f"C{j % 10}" for j, c in enumerate(cases)}

    def case_label(k: float, g: float, ell: float) -> str:
        return f"κ={fmt_kappa(k)}, γ={g:.3g}, ℓ={ell:.3g} (q={k * (1 - g) / (2 * g):.3g})"

    if _is_empty(raw) or not {*keys, "setup_label", "n", "error"} <= set(raw.columns):
        no_data(ax_l, "no raw scaling errors")
    else:
        markers = dict(zip(dict.fromkeys(raw["setup_label"].astype(str)), "os^vD", strict=False))
        for (label, *key), g in raw.groupby(["setup_label", *keys], sort=False):
            mean = g.groupby("n")["error"].mean()
            ax_l.plot(mean.index.to_numpy(float), mean.to_numpy(float), marker=markers.get(label, "o"), ms=4, lw=0.8,
                      color=color.get(tuple(key), "k"))  # fmt: skip
        for c in cases:
            ax_l.plot([], [], "-", color=color[c], label=case_label(*c))
        for label, mk in markers.items():
            ax_l.plot([], [], mk, color="k", ls="none", label=label)
        ax_l.set_xscale("log")
        ax_l.set_yscale("log")
        ax_l.set_xlabel("number of samples n")
        ax_l.set_ylabel("excess test error L (mean over draws)")
        ax_l.set_title("error against n", fontsize=9)
        ax_l.legend(fontsize=6)
    if exp is None:
        no_data(slope_axes[0], "no local slopes")
        return fig
    for ax, label in zip(slope_axes, setups, strict=True):
        sub = exp[exp["setup_label"].astype(str) == label]
        for key, g in sub.groupby(keys, sort=False):
            col = color.get(tuple(float(v) for v in key), "k")
            th = g[g["kind"] == "theory"].sort_values("n")
            ax.plot(_finite(th["n"]), _finite(th["slope"]), "-", color=col, lw=1)
            sim = g[g["kind"] == "simulation"]
            s, lo, hi = _finite(sim["slope"]), _finite(sim["slope_lo"]), _finite(sim["slope_hi"])
            err = np.where(np.isfinite([s - lo, hi - s]), np.clip([s - lo, hi - s], 0, None), 0.0)
            ax.errorbar(_finite(sim["n"]), s, yerr=err, fmt="o", ms=3, capsize=2, color=col)
            ax.axhline(float(g["derived_slope"].iloc[0]), color=col, ls=":", lw=1.2)
            ax.axhline(float(g["claimed_slope"].iloc[0]), color=col, ls="--", lw=1)
            if "bound_slope" in g:
                ax.axhline(float(g["bound_slope"].iloc[0]), color=col, ls="-.", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlabel("number of samples n")
        ax.set_ylabel("local slope d log L / d log n")
        ax.set_title(label, fontsize=9)
        ax.set_ylim(top=0.0)
    styles = [("o", "-", "measured (95% interval)"), ("", "-", "deterministic equivalent"),
              ("", ":", "derived n → ∞ exponent"), ("", "-.", "ridge bound −2ℓ on the n → ∞ exponent"),
              ("", "--", "claimed (Prop. 5.1)")]  # fmt: skip
    for mk, ls, text in styles:
        slope_axes[0].plot([], [], marker=mk, ls=ls if not mk else "none", color="k", label=text)
    slope_axes[0].legend(fontsize=6, loc="lower right", handlelength=4, framealpha=1)
    return fig


# ------------------------------------------------------------------------------------------------ registry


@dataclass(frozen=True)
class FigureSpec:
    """One figure of the study: how it is drawn, from which tables, with which caption.

    Attributes
    ----------
    draw : callable
        ``draw(*tables) -> Figure``, the tables in the order of ``inputs`` (None when missing: the panels say
        "no data").
    inputs : tuple of str
        The tables it reads: ``spectra``, ``fits`` or tables of :data:`htmu.study.experiments.EXPERIMENTS`.
    caption : str
        Its caption in the report, a file under ``workflow/report/``.
    """

    draw: Callable[..., Figure]
    inputs: tuple[str, ...]
    caption: str


#: Every figure of the study (``results/figures/<name>.<format>``), in the report's order.
FIGURES: dict[str, FigureSpec] = {
    "phases": FigureSpec(fig_phases, ("spectra", "fits"), "phases.rst"),
    "ntk": FigureSpec(fig_ntk, ("spectra", "fits"), "ntk.rst"),
    "kappa_accuracy": FigureSpec(fig_kappa_accuracy, ("fits",), "kappa_accuracy.rst"),
    "ensemble": FigureSpec(fig_ensemble, ("ensemble", "ensemble_eigs"), "ensemble.rst"),
    "estimator": FigureSpec(fig_estimator, ("estimator",), "estimator.rst"),
    "structure": FigureSpec(fig_structure, ("structure",), "structure.rst"),
    "correlation": FigureSpec(fig_correlation, ("correlation",), "correlation.rst"),
    "scaling": FigureSpec(fig_scaling, ("scaling_raw", "scaling"), "scaling.rst"),
}
