"""Drawing a spectrum and its law: the tool's figures (``htmu analyze --plots``) and the helpers the study's
figures share (:mod:`htmu.study.figures`).

Figures are :class:`matplotlib.figure.Figure` objects built without pyplot, so nothing here touches
matplotlib's global state (its backend, pyplot's figure registry): :func:`save_figure` writes files through
the figure's own canvas. Densities are drawn through an injectable ``pdf`` argument (see :data:`PdfFn`),
defaulting to the package laws (:func:`package_pdf`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = [
    "PdfFn",
    "draw_pdf",
    "fig_layer_esd",
    "fmt_kappa",
    "kappa_text",
    "log_hist",
    "new_figure",
    "no_data",
    "package_pdf",
    "positive",
    "save_figure",
]

#: ``pdf(law, x, *, gamma, kappa, scale) -> density`` with ``law`` one of ``"mp"``, ``"direct"``, ``"inverse"``.
PdfFn = Callable[..., np.ndarray]


NO_DATA_STYLE = {"ha": "center", "va": "center", "fontsize": 10, "color": "0.35"}


TEXT_BOX = {"boxstyle": "round", "facecolor": "white", "alpha": 0.85, "edgecolor": "0.7"}


def package_pdf(
    law: str, x: np.ndarray, *, gamma: float, kappa: float = math.inf, scale: float = 1.0
) -> np.ndarray:
    """Density of one of the package laws at ``x`` (the default ``pdf`` of every figure).

    Parameters
    ----------
    law : {"mp", "direct", "inverse"}
        Marchenko–Pastur MP(γ) (mean ``scale``), HTMP(γ, κ) (direct form) or its inverse form.
    x : ndarray
        Points (eigenvalues) at which to evaluate.
    gamma, kappa, scale : float
        Shapes and scale, as in :mod:`htmu.laws`.
    """
    from htmu import laws  # imported lazily: laws.py carries the mpmath machinery

    if law == "mp":
        return np.asarray(laws.marchenko_pastur.pdf(x, gamma, scale=scale), dtype=float)
    if law == "direct":
        return np.asarray(laws.htmp.pdf(x, gamma, kappa, scale=scale), dtype=float)
    if law == "inverse":
        return np.asarray(laws.invhtmp.pdf(x, gamma, kappa, scale=scale), dtype=float)
    raise ValueError(f"law must be 'mp', 'direct' or 'inverse', got {law!r}")


def save_figure(fig: Figure, stem: str | Path, formats: Sequence[str] = ("png", "pdf")) -> list[Path]:
    """Write ``fig`` as ``stem.<format>`` for each format, creating parent directories.

    Parameters
    ----------
    fig : Figure
        The figure to write.
    stem : str or Path
        Output path without suffix.
    formats : sequence of str
        File formats understood by matplotlib (``"png"``, ``"pdf"``, ``"svg"``, ...).

    Returns
    -------
    list of Path
        The files written, in the order of ``formats``.
    """
    if not formats:
        raise ValueError("formats must name at least one file format")
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = stem.with_name(f"{stem.name}.{fmt.lstrip('.')}")
        # the figure's own canvas picks the writer by format (Agg for raster ones): no backend is selected
        fig.savefig(path, format=fmt.lstrip("."), dpi=150)
        paths.append(path)
    return paths


def no_data(ax: Axes, reason: str = "") -> None:
    ax.text(
        0.5, 0.5, "no data" + (f"\n({reason})" if reason else ""), transform=ax.transAxes, **NO_DATA_STYLE
    )
    ax.set_xticks([])
    ax.set_yticks([])


def new_figure(nrows: int, ncols: int, width: float = 4.0, height: float = 3.2) -> tuple[Figure, np.ndarray]:
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = np.atleast_2d(fig.subplots(nrows, ncols, squeeze=False))
    return fig, axes


def positive(ev: np.ndarray, w: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None, int]:
    """Positive eigenvalues (a log axis cannot show the others), their weights, and how many were dropped."""
    keep = ev > 0
    return ev[keep], (w[keep] if w is not None else None), int(ev.size - keep.sum())


def log_hist(
    ax: Axes, ev: np.ndarray, weights: np.ndarray | None = None, label: str = "eigenvalues", color: str = "C0"
) -> np.ndarray:
    """Density histogram on log-spaced bins (density per unit λ, so it overlays a pdf in λ)."""
    lo, hi = ev.min(), ev.max()
    if hi <= lo:
        hi = lo * 1.01 + 1e-300
    nbins = int(np.clip(np.sqrt(ev.size), 10, 60))
    bins = np.geomspace(lo, hi, nbins + 1)
    ax.hist(ev, bins=bins, weights=weights, density=True, color=color, alpha=0.45, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    return np.geomspace(lo, hi, 200)  # density curves: smooth enough on log axes, and HTMP costs per point


def draw_pdf(
    ax: Axes,
    pdf: PdfFn,
    law: str,
    x: np.ndarray,
    label: str,
    style: dict,
    weight: float = 1.0,
    **params: float,
) -> str:
    """Draw ``weight`` times a density; a numerical failure is shown in the panel (returned as a note), not raised."""
    try:
        y = weight * np.asarray(pdf(law, x, **params), dtype=float)
    except (ValueError, ArithmeticError, RuntimeError) as err:
        return f"{label} not drawn: {type(err).__name__}: {err}"
    y = np.where(y > 0, y, np.nan)
    if not np.any(np.isfinite(y)):
        return f"{label} not drawn: density not positive on the range"
    ax.plot(x, y, label=label, **style)
    return ""


def fmt_kappa(k: float | None) -> str:
    """κ (or α) as figures and the scorecard write it: three significant digits, ``∞``, ``n/a`` when unknown."""
    if k is None or math.isnan(k):
        return "n/a"
    return "∞" if math.isinf(k) else f"{k:.3g}"


def kappa_text(k: float, lo: float, hi: float) -> str:
    """'κ = 5.5 [4.4, 6.6]' (no interval unless both ends are known); 'κ ≤ 0.01' when only an upper bound is."""
    if math.isnan(k) and math.isfinite(hi):
        return f"κ ≤ {fmt_kappa(hi)}"
    ci = f" [{fmt_kappa(lo)}, {fmt_kappa(hi)}]" if not (math.isnan(lo) or math.isnan(hi)) else ""
    return f"κ = {fmt_kappa(k)}{ci}"


#: Density drawn for each law of :func:`htmu.fit.selection.select_law` (see :func:`package_pdf`).
_LAW_PDF = {"MP": "mp", "MP+spikes": "mp", "HTMP-direct": "direct", "HTMP-inverse": "inverse"}


def fig_layer_esd(
    eigenvalues: np.ndarray,
    row: dict,
    *,
    scale: float = math.nan,
    mp_scale: float = math.nan,
    pdf: PdfFn = package_pdf,
) -> Figure:
    """One layer's eigenvalue histogram with MP(γ) and the selected law (``htmu analyze --plots``).

    The histogram uses log-spaced bins (density per unit λ, both axes logarithmic). Drawn on it:
    MP(γ) with mean ``mp_scale`` (the bulk fit behind ``mp_softrank``) and a dotted line at its upper
    edge λ₊; the law of ``row["law"]`` at ``row["kappa"]`` and ``scale`` (MP for the MP laws, the HTMP
    direct or inverse density otherwise). The title names the layer and its phase; a box gives law, κ
    with its interval and form, α, spikes and the status.

    Parameters
    ----------
    eigenvalues : ndarray
        The layer's eigenvalues (non-positive ones are counted, not drawn).
    row : dict
        The layer's row of :func:`htmu.analysis.analyze` (``layer``, ``gamma``, ``law``, ``phase``,
        ``kappa``, ``kappa_lo``, ``kappa_hi``, ``form``, ``alpha``, ``n_spikes``, ``status``).
    scale : float
        The selected law's scale (:class:`htmu.fit.selection.LawSelection`'s ``scale``).
    mp_scale : float
        Mean of the bulk's MP law (:func:`htmu.analysis.mp_bulk_scale`).
    pdf : PdfFn
        Density function (injectable for tests).

    Returns
    -------
    Figure
    """
    fig, axes = new_figure(1, 1, width=5.2, height=3.8)
    ax = axes[0, 0]
    layer = str(row.get("layer", ""))
    law, phase, status = (
        str(row.get("law", "") or ""),
        str(row.get("phase", "") or ""),
        str(row.get("status", "")),
    )
    fig.suptitle(f"{layer}: {phase}" if phase else f"{layer}: no law ({status.split(':')[0]})", fontsize=10)
    ev, _, n_nonpos = positive(np.asarray(eigenvalues, dtype=float))
    if ev.size < 2:
        no_data(ax, f"{ev.size} positive eigenvalues (status {status})")
        return fig
    x = log_hist(ax, ev)
    gamma = float(row.get("gamma", math.nan))
    notes = []
    if math.isfinite(gamma) and math.isfinite(mp_scale):
        if gamma < 1:
            notes.append(draw_pdf(ax, pdf, "mp", x, f"MP(γ={gamma:.3g}), bulk fit", {"color": "k", "ls": "--"},
                                   gamma=gamma, scale=mp_scale))  # fmt: skip
        else:
            notes.append("MP(γ=1) density not drawn (the package laws need γ < 1)")
        edge = mp_scale * (1 + math.sqrt(gamma)) ** 2
        ax.axvline(edge, color="k", ls=":", lw=1, label="MP edge λ₊")
    kind = _LAW_PDF.get(law)
    if kind is not None and status == "ok" and math.isfinite(scale):
        params = {"gamma": gamma, "scale": scale}
        if kind != "mp":
            params["kappa"] = float(row.get("kappa", math.nan))
        notes.append(draw_pdf(ax, pdf, kind, x, f"selected: {law}", {"color": "C3"}, **params))
    lines = [f"law: {law or 'none'}"]
    if law.startswith("MP"):
        lines.append("κ = ∞ (Marchenko–Pastur)")
    elif law:
        lines.append(
            f"{kappa_text(float(row.get('kappa', math.nan)), float(row.get('kappa_lo', math.nan)), float(row.get('kappa_hi', math.nan)))} ({row.get('form', '')} form)"
        )
        alpha = float(row.get("alpha", math.nan))
        lines.append(f"α = {fmt_kappa(alpha)}, spikes: {row.get('n_spikes', 0)}")
    lines.append(f"γ = {gamma:.3g}, {ev.size + n_nonpos} eigenvalues")
    if status != "ok":
        lines.append(f"status: {status}")
    if n_nonpos:
        lines.append(f"{n_nonpos} eigenvalues ≤ 0 not shown")
    lines += [n for n in notes if n]
    ax.text(0.03, 0.03, "\n".join(lines), transform=ax.transAxes, fontsize=7, va="bottom", bbox=TEXT_BOX)
    ax.set_xlabel("eigenvalue λ of W Wᵀ (smaller side)")
    ax.set_ylabel("density p(λ) (per unit λ)")
    ax.legend(fontsize=7, loc="best")
    return fig
