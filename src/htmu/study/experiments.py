"""Checks of the theory on sampled random matrices, independent of any trained network.

Each experiment is a pure function of its sizes and an explicit ``numpy.random.Generator`` and returns
tidy data (one row per observation) for the Snakemake scripts to save and the figures to draw:

* :func:`ensemble_check` -- does the high-temperature beta-Laguerre ensemble follow HTMP, and does the
  estimator recover its kappa?
* :func:`estimator_study` / :func:`summarise_estimator` -- bias and interval coverage of the kappa
  estimator against the matrix size n.
* :func:`structure_experiment` / :func:`structure_trend` -- "reduced eigenvector entropy gives a smaller
  kappa and heavier tails".
* :func:`correlation_experiment` -- "power law in, power law out" through a random linear layer (free
  multiplicative convolution).
* :func:`scaling_experiment` / :func:`scaling_exponents` -- the ridge-regression scaling law of
  Proposition 5.1: local slopes of the error against n in the setups derived in docs/scaling.md, next to
  :func:`derived_slope` and the deterministic equivalent :func:`ridge_equivalent`.

The random-matrix samplers and estimators come from :mod:`htmu.ensembles`, :mod:`htmu.laws` and
:mod:`htmu.fit.estimate`; every experiment also accepts them as arguments (``sampler=``, ``fit=``, ...) so that
it can be checked against samplers and estimators with known behaviour.

:data:`EXPERIMENTS` is what the workflow runs: one rule per experiment, with the tables it writes, the schema of
its config section (with the defaults) and its random stream (:class:`Experiment`).

References
----------
L. Hodgkinson, Z. Wang, M. W. Mahoney, "Models of Heavy-Tailed Mechanistic Universality", ICML 2025
(arXiv:2506.03470).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from htmu.stats import Z95, ks_statistic, spearman_ci, wilson_interval

if TYPE_CHECKING:  # imported where used: the workflow imports this module to plan its DAG
    import xarray as xr

__all__ = [
    "EXPERIMENTS",
    "Experiment",
    "ensemble_check",
    "estimator_study",
    "summarise_estimator",
    "structure_experiment",
    "structure_trend",
    "eigenvector_freedom",
    "correlation_experiment",
    "scaling_experiment",
    "scaling_exponents",
    "ridge_exact_error",
    "claimed_slope",
    "derived_slope",
    "ridge_equivalent",
    "kappa_moments",
]

Sampler = Callable[..., np.ndarray]
FitFn = Callable[..., Any]


# --------------------------------------------------------------------------------------------------
# argument checks and access to the package's samplers and estimators
# --------------------------------------------------------------------------------------------------


def _check_rng(rng: Any, name: str = "rng") -> None:
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"{name} must be a numpy.random.Generator, got {type(rng).__name__}")


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_gamma(gamma: Any, name: str = "gamma") -> float:
    if not (isinstance(gamma, int | float | np.number) and np.isfinite(gamma) and 0.0 < gamma < 1.0):
        raise ValueError(f"{name} must lie in (0, 1), got {gamma!r}")
    return float(gamma)


def _check_kappa(kappa: Any, name: str = "kappa") -> float:
    if not (isinstance(kappa, int | float | np.number) and np.isfinite(kappa) and kappa > 0.0):
        raise ValueError(f"{name} must be a finite number > 0, got {kappa!r}")
    return float(kappa)


def _check_ns(ns: Any, name: str = "ns", minimum: int = 2) -> list[int]:
    values = list(ns)
    if not values:
        raise ValueError(f"{name} must be a non-empty sequence of integers >= {minimum}")
    return [_check_int(v, f"{name}[{i}]", minimum) for i, v in enumerate(values)]


def _default_sampler() -> Sampler:
    from htmu.ensembles import sample_htmp_ensemble

    return sample_htmp_ensemble


def _default_fit() -> FitFn:
    from htmu.fit.estimate import fit_htmp

    return fit_htmp


def _default_cdf() -> Callable[[np.ndarray, float, float], np.ndarray]:
    from htmu.laws import htmp

    return lambda x, gamma, kappa: htmp.cdf(x, gamma, kappa)


def _default_select() -> FitFn:
    from htmu.fit.selection import select_law

    return select_law


def _default_tail() -> FitFn:
    from htmu.fit.estimate import fit_powerlaw

    return fit_powerlaw


def _selection_fields(sel: Any) -> dict[str, Any]:
    """The decision of a :class:`htmu.fit.selection.LawSelection` (or any object with those attributes)."""
    return {
        "law": str(sel.law), "phase": str(sel.phase), "kappa": float(sel.kappa), "kappa_lo": float(sel.kappa_ci[0]),
        "kappa_hi": float(sel.kappa_ci[1]), "form": str(sel.form), "n_spikes": int(sel.n_spikes),
        "alpha": float(sel.alpha), "status": str(sel.status),
    }  # fmt: skip


def _tail_fit(eigenvalues: np.ndarray, tail: FitFn) -> Any:
    """Power-law tail of the eigenvalues above the eigensolver's floor (below it they carry no digits)."""
    from htmu.ensembles import eigensolver_floor

    x = np.asarray(eigenvalues, dtype=float)
    return tail(x[x > eigensolver_floor(x)])


def _fit_fields(result: Any) -> dict[str, Any]:
    """kappa, its interval and status of a fit result (``FitResult`` or any object with those attributes)."""
    ci = getattr(result, "kappa_ci", None)
    lo, hi = (np.nan, np.nan) if ci is None else (float(ci[0]), float(ci[1]))
    return {
        "kappa_hat": float(result.kappa),
        "kappa_lo": lo,
        "kappa_hi": hi,
        "status": str(result.status),
    }


def kappa_moments(eigenvalues: np.ndarray, gamma: float) -> float:
    r"""Method-of-moments kappa of a direct-form spectrum, from :math:`\mathrm{Var}\,x = \gamma(1 + 2/\kappa)`.

    For a mean-1 HTMP law the relative variance is :math:`\gamma(1 + 2/\kappa)`, so
    :math:`\hat\kappa = 2\gamma / (m_2/m_1^2 - 1 - \gamma)` (scale-free). A denominator :math:`\le 0`
    (a spectrum no more dispersed than Marchenko--Pastur) gives ``inf``, the MP member. Needs no
    optimiser, so it never fails; it is cruder than the likelihood fit.
    """
    x = np.asarray(eigenvalues, dtype=float)
    excess = float(np.mean(x * x) / np.mean(x) ** 2 - 1.0 - gamma)
    return 2.0 * gamma / excess if excess > 0 else math.inf


# --------------------------------------------------------------------------------------------------
# 6. Spearman correlation with a bootstrap interval (used by the others)
# --------------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------------
# 1. the ensemble against the law
# --------------------------------------------------------------------------------------------------


def ensemble_check(
    grid: Sequence[tuple[float, float]],
    n: int,
    draws: int,
    rng: np.random.Generator,
    *,
    sampler: Sampler | None = None,
    fit: FitFn | None = None,
    cdf: Callable[[np.ndarray, float, float], np.ndarray] | None = None,
) -> tuple[pd.DataFrame, xr.Dataset]:
    r"""Sample the high-temperature ensemble, compare each spectrum with HTMP and re-estimate kappa.

    For each :math:`(\gamma, \kappa)` in ``grid``, ``draws`` independent spectra of size ``n`` are drawn
    from the Dumitriu--Edelman beta-Laguerre ensemble with Dyson index :math:`\kappa/n` (direct form,
    mean 1; :func:`htmu.ensembles.sample_htmp_ensemble`). Each spectrum gets its Kolmogorov distance to
    the HTMP law, :math:`D = \sup_x |F_n(x) - F_{\gamma,\kappa}(x)|`, and a maximum-likelihood fit of
    :math:`\kappa` in the direct form with :math:`\gamma` known. Under the null (and for large ``n``)
    :math:`\sqrt n\, D` follows the Kolmogorov law (median about 0.83), so :math:`D` should be about
    :math:`0.83/\sqrt n` plus the finite-n bias of the ensemble.

    Parameters
    ----------
    grid : sequence of (gamma, kappa)
        Cases, gamma in (0, 1), kappa > 0.
    n : int
        Eigenvalues per spectrum (default 1000).
    draws : int
        Spectra per case (default 3).
    rng : numpy.random.Generator
        Source of randomness (required).
    sampler : callable, optional
        ``sampler(n, gamma, kappa, rng) -> eigenvalues``; default the ensemble above.
    fit : callable, optional
        ``fit(eigenvalues, gamma, form="direct", rng=rng, ci=True)`` returning an object with ``kappa``,
        ``kappa_ci`` and ``status``; default :func:`htmu.fit.estimate.fit_htmp`.
    cdf : callable, optional
        ``cdf(x, gamma, kappa)``; default ``htmu.laws.htmp.cdf``.

    Returns
    -------
    table : pandas.DataFrame
        One row per spectrum: ``gamma``, ``kappa`` (true), ``draw``, ``n``, ``ks_vs_htmp`` (:math:`D`),
        ``kappa_hat``, ``kappa_lo``, ``kappa_hi`` (95% interval), ``status`` (the fit's).
    eigs : xarray.Dataset
        ``eigenvalue`` (dims ``case``, ``k``; the ``draws * n`` pooled eigenvalues of a case, each draw
        sorted, draws one after another) and ``draw`` (same dims), with coordinates ``gamma(case)`` and
        ``kappa(case)``: for histograms against the density.
    """
    if rng is None:
        raise ValueError("rng must be a numpy.random.Generator, got None")
    _check_rng(rng)
    n = _check_int(n, "n", 2)
    draws = _check_int(draws, "draws", 1)
    cases = [(_check_gamma(g, "grid gamma"), _check_kappa(k, "grid kappa")) for g, k in grid]
    if not cases:
        raise ValueError("grid must hold at least one (gamma, kappa) pair")
    sampler = sampler or _default_sampler()
    fit = fit or _default_fit()
    cdf = cdf or _default_cdf()

    rows = []
    pooled = np.empty((len(cases), draws * n))
    for c, (gamma, kappa) in enumerate(cases):
        for d in range(draws):
            eigs = np.sort(np.asarray(sampler(n, gamma, kappa, rng), dtype=float))
            pooled[c, d * n : (d + 1) * n] = eigs
            ks = ks_statistic(cdf(eigs, gamma, kappa))
            rows.append(
                {"gamma": gamma, "kappa": kappa, "draw": d, "n": n, "ks_vs_htmp": ks}
                | _fit_fields(fit(eigs, gamma, form="direct", rng=rng, ci=True))
            )
    table = pd.DataFrame(rows)
    draw_index = np.broadcast_to(np.repeat(np.arange(draws), n), pooled.shape)
    import xarray as xr

    ds = xr.Dataset(
        {
            "eigenvalue": (
                ("case", "k"),
                pooled,
                {
                    "long_name": "eigenvalue of the high-temperature beta-Laguerre ensemble (direct form)",
                    "units": "1",
                },
            ),
            "draw": (("case", "k"), draw_index.copy(), {"long_name": "independent draw index"}),
        },
        coords={
            "case": np.arange(len(cases)),
            "gamma": ("case", [g for g, _ in cases], {"long_name": "aspect ratio"}),
            "kappa": ("case", [k for _, k in cases], {"long_name": "true HTMP kappa"}),
        },
        attrs={"n": n, "draws": draws, "form": "direct"},
    )
    return table, ds


# --------------------------------------------------------------------------------------------------
# 2. bias and coverage of the estimator
# --------------------------------------------------------------------------------------------------


def estimator_study(
    gamma: float,
    kappa: float,
    ns: Sequence[int],
    draws: int,
    rng: np.random.Generator,
    *,
    sampler: Sampler | None = None,
    fit: FitFn | None = None,
    form: str = "direct",
) -> pd.DataFrame:
    r"""Fit kappa on many ensemble spectra with known kappa, for several sizes n.

    Each spectrum is drawn with ``sampler(n, gamma, kappa, rng)`` (default the high-temperature ensemble,
    direct form); ``form="inverse"`` fits the reciprocal eigenvalues :math:`1/x` in the inverse form,
    which follow the inverse HTMP law when :math:`x` follows the direct one.

    Parameters
    ----------
    gamma, kappa : float
        True parameters.
    ns : sequence of int
        Matrix sizes.
    draws : int
        Spectra per size.
    rng : numpy.random.Generator
        Source of randomness (required).
    sampler, fit : callable, optional
        As in :func:`ensemble_check`.
    form : {"direct", "inverse"}
        Which form to fit.

    Returns
    -------
    pandas.DataFrame
        One row per (n, draw): ``gamma``, ``kappa`` (true), ``form``, ``n``, ``draw``, ``kappa_hat``,
        ``lo``, ``hi`` (95% interval), ``covered`` (nullable boolean: ``lo <= kappa <= hi``, missing when
        the fit gave no finite interval) and ``status``.
    """
    if rng is None:
        raise ValueError("rng must be a numpy.random.Generator, got None")
    _check_rng(rng)
    gamma = _check_gamma(gamma)
    kappa = _check_kappa(kappa)
    ns = _check_ns(ns)
    draws = _check_int(draws, "draws", 1)
    if form not in ("direct", "inverse"):
        raise ValueError(f"form must be 'direct' or 'inverse', got {form!r}")
    sampler = sampler or _default_sampler()
    fit = fit or _default_fit()

    rows = []
    for n in ns:
        for d in range(draws):
            eigs = np.asarray(sampler(n, gamma, kappa, rng), dtype=float)
            if form == "inverse":
                eigs = np.sort(1.0 / eigs)
            f = _fit_fields(fit(eigs, gamma, form=form, rng=rng, ci=True))
            lo, hi = f["kappa_lo"], f["kappa_hi"]
            covered = bool(lo <= kappa <= hi) if np.isfinite(lo) and np.isfinite(hi) else pd.NA
            rows.append(
                {
                    "gamma": gamma,
                    "kappa": kappa,
                    "form": form,
                    "n": n,
                    "draw": d,
                    "kappa_hat": f["kappa_hat"],
                    "lo": lo,
                    "hi": hi,
                    "covered": covered,
                    "status": f["status"],
                }
            )
    df = pd.DataFrame(rows)
    df["covered"] = df["covered"].astype("boolean")
    return df


def summarise_estimator(df: pd.DataFrame) -> pd.DataFrame:
    r"""Per-n bias and interval coverage of :func:`estimator_study`'s table.

    Bias is :math:`\overline{\hat\kappa} - \kappa` over the fits with a finite :math:`\hat\kappa`
    (relative bias divides by :math:`\kappa`); coverage is the fraction of finite 95% intervals that
    contain :math:`\kappa`, with its Wilson 95% interval (:func:`wilson_interval`).

    Returns
    -------
    pandas.DataFrame
        One row per ``n``: ``n``, ``kappa``, ``n_draws``, ``n_estimates`` (finite kappa_hat),
        ``n_intervals`` (finite intervals), ``mean_kappa_hat``, ``bias``, ``relative_bias``,
        ``sd_kappa_hat``, ``coverage``, ``coverage_lo``, ``coverage_hi`` (NaN when there is no
        estimate or no interval at that n).
    """
    required = {"n", "kappa", "kappa_hat", "covered"}
    missing = required - set(df.columns)
    if missing:
        raise ValueError(f"df is missing columns {sorted(missing)}")
    out = []
    for n, g in df.groupby("n", sort=True):
        kappa = float(g["kappa"].iloc[0])
        est = g["kappa_hat"].to_numpy(dtype=float)
        est = est[np.isfinite(est)]
        cov = g["covered"].dropna().astype(bool)
        row = {
            "n": int(n),
            "kappa": kappa,
            "n_draws": len(g),
            "n_estimates": est.size,
            "n_intervals": len(cov),
            "mean_kappa_hat": float(est.mean()) if est.size else np.nan,
            "sd_kappa_hat": float(est.std(ddof=1)) if est.size > 1 else np.nan,
        }
        row["bias"] = row["mean_kappa_hat"] - kappa
        row["relative_bias"] = row["bias"] / kappa
        if len(cov):
            k = int(cov.sum())
            row["coverage"] = k / len(cov)
            row["coverage_lo"], row["coverage_hi"] = wilson_interval(k, len(cov))
        else:
            row["coverage"] = row["coverage_lo"] = row["coverage_hi"] = np.nan
        out.append(row)
    cols = [
        "n",
        "kappa",
        "n_draws",
        "n_estimates",
        "n_intervals",
        "mean_kappa_hat",
        "bias",
        "relative_bias",
        "sd_kappa_hat",
        "coverage",
        "coverage_lo",
        "coverage_hi",
    ]
    return pd.DataFrame(out, columns=cols)


# --------------------------------------------------------------------------------------------------
# 3. eigenvector structure against kappa
# --------------------------------------------------------------------------------------------------


def _block_sizes(n: int, block_size: int) -> list[int]:
    sizes = [block_size] * (n // block_size)
    if n % block_size:
        sizes.append(n % block_size)
    return sizes


def _kronecker_factor(n: int) -> int:
    """Largest divisor of n not above sqrt(n): the most balanced Kronecker factorisation."""
    return max(f for f in range(1, math.isqrt(n) + 1) if n % f == 0)


def eigenvector_freedom(
    structure: str, n: int, *, block_size: int | None = None, factor: int | None = None
) -> float:
    r"""Normalised dimension of the group the eigenvectors of a structured matrix range over.

    The eigenvectors of an :math:`n \times n` symmetric matrix form an element of the orthogonal group
    :math:`O(n)`, of dimension :math:`n(n-1)/2`. A structure confines them to a subgroup :math:`G`;
    the freedom is :math:`\dim G / \dim O(n)` in [0, 1]:

    * ``"haar"``: :math:`G = O(n)`, freedom 1;
    * ``"block_diagonal"`` with blocks :math:`b_1, \dots, b_k`: :math:`G = \prod O(b_j)`,
      :math:`\sum_j b_j(b_j-1)/2`;
    * ``"kronecker"`` :math:`n = n_1 n_2`: :math:`G = O(n_1) \otimes O(n_2)`,
      :math:`n_1(n_1-1)/2 + n_2(n_2-1)/2`;
    * ``"fixed_eigenvectors"``: :math:`G` is the finite group of signed permutations, freedom 0.

    Parameters
    ----------
    structure : {"haar", "block_diagonal", "kronecker", "fixed_eigenvectors"}
    n : int
        Matrix size, at least 2.
    block_size : int, optional
        Rows per block (``"block_diagonal"``; the last block takes the remainder, as in
        :func:`htmu.ensembles.sample_structured`).
    factor : int, optional
        :math:`n_1` (``"kronecker"``), a divisor of n; default the largest divisor not above
        :math:`\sqrt n`.
    """
    n = _check_int(n, "n", 2)
    dim_o = n * (n - 1) / 2
    if structure == "haar":
        return 1.0
    if structure == "fixed_eigenvectors":
        return 0.0
    if structure == "block_diagonal":
        if block_size is None:
            raise ValueError("block_size is required for structure='block_diagonal'")
        b = _check_int(block_size, "block_size", 1)
        if b > n:
            raise ValueError(f"block_size must be at most n={n}, got {b}")
        return sum(s * (s - 1) / 2 for s in _block_sizes(n, b)) / dim_o
    if structure == "kronecker":
        n1 = _kronecker_factor(n) if factor is None else _check_int(factor, "factor", 1)
        if n % n1:
            raise ValueError(f"factor must divide n={n}, got {n1}")
        n2 = n // n1
        return (n1 * (n1 - 1) / 2 + n2 * (n2 - 1) / 2) / dim_o
    raise ValueError(
        "structure must be one of 'haar', 'block_diagonal', 'kronecker', 'fixed_eigenvectors', "
        f"got {structure!r}"
    )


def structure_experiment(
    n: int,
    gamma: float,
    draws: int,
    rng: np.random.Generator,
    *,
    block_counts: Sequence[int] = (2, 5, 10, 25, 50),
    sampler: Sampler | None = None,
    select: FitFn | None = None,
    tail: FitFn | None = None,
) -> pd.DataFrame:
    r"""Select the law of Wishart-like spectra whose eigenvector freedom is reduced step by step.

    The paper's claim: less eigenvector entropy gives heavier tails and a smaller fitted :math:`\kappa`
    (Haar eigenvectors give Marchenko--Pastur, :math:`\kappa = \infty`; fixed eigenvectors give
    Gamma/inverse-Gamma-like tails, :math:`\kappa \to 0`). The matrices are
    :func:`htmu.ensembles.sample_structured` Gram matrices :math:`W W^\top/\text{cols}` (mean eigenvalue 1,
    aspect ratio :math:`\gamma`): Haar; block-diagonal with :math:`k` blocks for each :math:`k` in
    ``block_counts`` (block size :math:`\lfloor n/k \rfloor`, more blocks = less freedom); Kronecker
    :math:`W_1 \otimes W_2` with the most balanced factorisation of ``n``; fixed eigenvectors.

    **Law.** These are Gram (covariance-like) matrices of Gaussian weights, the analogue of :math:`W W^\top`
    for a weight matrix, with :math:`\gamma` known. One call of :func:`htmu.fit.selection.select_law` per spectrum
    gives the law (MP, MP+spikes, or HTMP in the form with the larger likelihood), its :math:`\kappa` with the
    bootstrap interval (:math:`\infty` for the MP laws) and the phase; ``tail_alpha`` is the
    Clauset--Shalizi--Newman exponent of the upper tail (:func:`htmu.fit.estimate.fit_powerlaw`; a larger alpha
    is a lighter tail).

    Parameters
    ----------
    n : int
        Matrix size (default 500).
    gamma : float
        Aspect ratio in (0, 1) (default 0.5).
    draws : int
        Independent matrices per structure (default 3).
    rng : numpy.random.Generator
        Source of randomness (required).
    block_counts : sequence of int
        Numbers of diagonal blocks, each in [2, n].
    sampler : callable, optional
        ``sampler(n, gamma, structure, rng, **kw)``; default :func:`htmu.ensembles.sample_structured`.
    select : callable, optional
        ``select(eigenvalues, gamma, rng=rng, ci=True)`` returning an object with ``law``, ``phase``,
        ``kappa``, ``kappa_ci``, ``form``, ``n_spikes``, ``alpha`` and ``status``; default
        :func:`htmu.fit.selection.select_law`.
    tail : callable, optional
        ``tail(eigenvalues)`` returning an object with ``alpha``, ``alpha_se``, ``xmin``, ``n_tail`` and
        ``status``; default :func:`htmu.fit.estimate.fit_powerlaw` (on the eigenvalues above the eigensolver's
        floor).

    Returns
    -------
    pandas.DataFrame
        One row per (structure setting, draw): ``structure``, ``label``, ``block_size`` and
        ``n_blocks`` (Haar: one block of n; fixed eigenvectors: n blocks of 1; missing for Kronecker),
        ``factor`` (Kronecker :math:`n_1`, else missing), ``freedom`` (:func:`eigenvector_freedom`), ``n``, ``gamma``,
        ``draw``, the selection's ``law``, ``phase``, ``kappa``, ``kappa_lo``, ``kappa_hi``, ``form``,
        ``n_spikes``, ``alpha`` and ``status``, ``kappa_moments`` (:func:`kappa_moments`: never fails,
        ``inf`` for MP-like spectra), ``tail_alpha``, ``tail_alpha_se``, ``tail_xmin``, ``tail_n``,
        ``tail_status``.
    """
    if rng is None:
        raise ValueError("rng must be a numpy.random.Generator, got None")
    _check_rng(rng)
    n = _check_int(n, "n", 4)
    gamma = _check_gamma(gamma)
    draws = _check_int(draws, "draws", 1)
    counts = [_check_int(k, "block_counts", 2) for k in block_counts]
    if any(k > n for k in counts):
        raise ValueError(f"block_counts must be at most n={n}, got {list(block_counts)}")
    if sampler is None:
        from htmu.ensembles import sample_structured as sampler
    select = select or _default_select()
    tail = tail or _default_tail()

    factor = _kronecker_factor(n)
    settings: list[tuple[str, str, dict[str, int]]] = [("haar", "haar", {})]
    for k in sorted(set(counts)):
        b = n // k
        settings.append(("block_diagonal", f"block_diagonal(k={k})", {"block_size": b}))
    settings.append(("kronecker", f"kronecker({factor}x{n // factor})", {"factor": factor}))
    settings.append(("fixed_eigenvectors", "fixed_eigenvectors", {}))

    rows = []
    for structure, label, kw in settings:
        freedom = eigenvector_freedom(structure, n, **kw)
        # Haar is one block of n, fixed eigenvectors n blocks of 1; Kronecker is not block-diagonal.
        block_size, n_blocks = {
            "haar": (n, 1),
            "fixed_eigenvectors": (1, n),
            "kronecker": (pd.NA, pd.NA),
        }.get(structure, (kw.get("block_size"), None))
        if structure == "block_diagonal":
            n_blocks = len(_block_sizes(n, block_size))
        for d in range(draws):
            eigs = np.sort(np.asarray(sampler(n, gamma, structure, rng, **kw), dtype=float))
            sel = _selection_fields(select(eigs, gamma, rng=rng, ci=True))
            pl = _tail_fit(eigs, tail)
            rows.append(
                {
                    "structure": structure,
                    "label": label,
                    "block_size": block_size,
                    "n_blocks": n_blocks,
                    "factor": kw.get("factor", pd.NA),
                    "freedom": freedom,
                    "n": n,
                    "gamma": gamma,
                    "draw": d,
                    **sel,
                    "kappa_moments": kappa_moments(eigs, gamma),
                    "tail_alpha": float(pl.alpha),
                    "tail_alpha_se": float(getattr(pl, "alpha_se", np.nan)),
                    "tail_xmin": float(pl.xmin),
                    "tail_n": int(pl.n_tail),
                    "tail_status": str(pl.status),
                }
            )
    df = pd.DataFrame(rows)
    for col in ("block_size", "n_blocks", "factor"):
        df[col] = df[col].astype("Int64")
    return df


def structure_trend(
    df: pd.DataFrame,
    rng: np.random.Generator | None = None,
    n_boot: int = 1000,
    *,
    x: str = "freedom",
    y: str = "kappa",
) -> pd.DataFrame:
    r"""Spearman correlation between eigenvector freedom and fitted kappa, with a bootstrap interval.

    The claim predicts a positive correlation (more freedom, larger :math:`\kappa`). Rows with a NaN
    ``kappa`` (a failed fit) are left out and counted (``n_dropped``): when the failures are the
    high-freedom (MP-like) spectra this biases the trend, so compare with ``y="kappa_moments"``.
    ``kappa = inf`` (a Marchenko--Pastur fit) is kept: it ranks above every finite value. The interval
    resamples rows (:func:`spearman_ci`).

    Parameters
    ----------
    df : pandas.DataFrame
        :func:`structure_experiment`'s table.
    rng : numpy.random.Generator, optional
        Bootstrap randomness; ``None`` means ``numpy.random.default_rng(0)`` so that the summary of a
        saved table is reproducible.
    n_boot : int
        Bootstrap resamples.
    x, y : str
        Columns to correlate.

    Returns
    -------
    pandas.DataFrame
        One row: ``x``, ``y``, ``rho``, ``lo``, ``hi``, ``p``, ``n_used``, ``n_dropped``.
    """
    for col in (x, y):
        if col not in df.columns:
            raise ValueError(f"df has no column {col!r}")
    rng = np.random.default_rng(0) if rng is None else rng
    _check_rng(rng)
    xv = df[x].to_numpy(dtype=float)
    yv = df[y].to_numpy(dtype=float)
    keep = ~(np.isnan(xv) | np.isnan(yv))
    rho, lo, hi, p = spearman_ci(xv[keep], yv[keep], rng, n_boot=n_boot)
    return pd.DataFrame(
        [
            {
                "x": x,
                "y": y,
                "rho": rho,
                "lo": lo,
                "hi": hi,
                "p": p,
                "n_used": int(keep.sum()),
                "n_dropped": int((~keep).sum()),
            }
        ]
    )


# --------------------------------------------------------------------------------------------------
# 4. power law in, power law out
# --------------------------------------------------------------------------------------------------


def correlation_experiment(
    n: int,
    gamma: float,
    alphas: Sequence[float],
    draws: int,
    rng: np.random.Generator,
    *,
    activation: str = "linear",
    select: FitFn | None = None,
    tail: FitFn | None = None,
) -> pd.DataFrame:
    r"""Propagate a power-law input covariance through a random layer and fit the output spectrum.

    Setup. Output dimension :math:`n`, samples :math:`m = \mathrm{round}(n/\gamma)`, input dimension
    :math:`d = \mathrm{round}(n/\sqrt\gamma)`, so that both factors below have aspect ratio
    :math:`\sqrt\gamma` and none is square (a square Gaussian factor has eigenvalues near 0, which would
    wreck the inverse-form fit through :math:`1/\lambda`). Inputs
    :math:`X = \Sigma^{1/2} G` (:math:`d \times m`, :math:`G` iid N(0, 1)) with
    :math:`\Sigma = \mathrm{diag}(\sigma_k)`, :math:`\sigma_k \propto k^{-\alpha}`, normalised to mean 1
    (:math:`\alpha = 0` is isotropic). A Gaussian weight :math:`W` (:math:`n \times d`, entries
    N(0, 1/d)) gives :math:`Y = W X` (``activation="linear"``, the default: then the output Gram
    :math:`Y Y^\top/m` is the free multiplicative convolution of MP laws with the law of :math:`\Sigma` in
    the large-n limit, the "power law in, power law out" mechanism) or :math:`Y = \mathrm{ReLU}(W X)`
    (``"relu"``; its Gram has an outlier from the non-zero mean, which the tail fit will see). The output
    spectrum is scaled to mean 1.

    The input's eigenvalue density has the upper tail :math:`\sigma^{-(1 + 1/\alpha)}` (the
    :math:`k^{-\alpha}` sequence has :math:`\#\{\sigma_k > t\} \propto t^{-1/\alpha}`), so
    ``tail_alpha_in_theory`` is :math:`1 + 1/\alpha` (infinite for :math:`\alpha = 0`: no power law). The
    input's sample covariance :math:`X X^\top/m` and the output are treated the same way: the power-law tail
    above the eigensolver's floor (:func:`htmu.fit.estimate.fit_powerlaw`, interval
    :math:`\hat\alpha \pm 1.96\,\mathrm{se}`) and the law selected by :func:`htmu.fit.selection.select_law`
    (with the bootstrap interval of :math:`\kappa` for the output only: the input's :math:`\kappa` is reported
    without one).

    Parameters
    ----------
    n : int
        Output dimension (number of eigenvalues fitted), default 300.
    gamma : float
        :math:`n/m`, in (0, 1).
    alphas : sequence of float
        Covariance decay exponents, each >= 0.
    draws : int
        Independent (X, W) per alpha.
    rng : numpy.random.Generator
        Source of randomness (required).
    activation : {"linear", "relu"}
    select, tail : callable, optional
        As in :func:`structure_experiment`.

    Returns
    -------
    pandas.DataFrame
        One row per (alpha, draw): ``alpha_in``, ``draw``, ``n``, ``d``, ``m``, ``gamma``, ``activation``,
        ``tail_alpha_in_theory``, ``tail_alpha_in`` (fitted on :math:`X X^\top/m`), ``tail_alpha_out``,
        ``tail_alpha_out_lo``, ``tail_alpha_out_hi``, ``tail_n_out``, ``law_in`` and ``kappa_in`` (the
        input's selection, aspect ratio :math:`d/m`), the output's ``law``, ``phase``, ``kappa``,
        ``kappa_lo``, ``kappa_hi``, ``form``, ``n_spikes``, ``alpha`` and ``status``, and ``tail_status``
        (the output's power-law fit).
    """
    if rng is None:
        raise ValueError("rng must be a numpy.random.Generator, got None")
    _check_rng(rng)
    n = _check_int(n, "n", 4)
    gamma = _check_gamma(gamma)
    draws = _check_int(draws, "draws", 1)
    alpha_list = [float(a) for a in alphas]
    if not alpha_list or any(not np.isfinite(a) or a < 0 for a in alpha_list):
        raise ValueError(f"alphas must be finite numbers >= 0, got {list(alphas)!r}")
    if activation not in ("linear", "relu"):
        raise ValueError(f"activation must be 'linear' or 'relu', got {activation!r}")
    select = select or _default_select()
    tail = tail or _default_tail()

    m = int(round(n / gamma))
    d = int(round(n / math.sqrt(gamma)))
    k = np.arange(1, d + 1, dtype=float)
    rows = []
    for alpha in alpha_list:
        sigma = k ** (-alpha)
        sigma /= sigma.mean()
        for r in range(draws):
            x = np.sqrt(sigma)[:, None] * rng.standard_normal((d, m))
            w = rng.standard_normal((n, d)) / math.sqrt(d)
            y = w @ x
            if activation == "relu":
                y = np.maximum(y, 0.0)
            eig_in = np.linalg.eigvalsh(x @ x.T / m)
            eig_out = np.linalg.eigvalsh(y @ y.T / m)
            eig_in = np.sort(eig_in / eig_in.mean())
            eig_out = np.sort(eig_out / eig_out.mean())
            # the input Gram X X^T/m is d x d with aspect ratio d/m, the output's is n/m = gamma
            sel_in = select(eig_in, d / m, rng=rng, ci=False)
            sel_out = _selection_fields(select(eig_out, gamma, rng=rng, ci=True))
            pl_in, pl_out = _tail_fit(eig_in, tail), _tail_fit(eig_out, tail)
            se = float(getattr(pl_out, "alpha_se", np.nan))
            rows.append(
                {
                    "alpha_in": alpha,
                    "draw": r,
                    "n": n,
                    "d": d,
                    "m": m,
                    "gamma": gamma,
                    "activation": activation,
                    "tail_alpha_in_theory": np.inf if alpha == 0 else 1.0 + 1.0 / alpha,
                    "tail_alpha_in": float(pl_in.alpha),
                    "tail_alpha_out": float(pl_out.alpha),
                    "tail_alpha_out_lo": float(pl_out.alpha) - Z95 * se,
                    "tail_alpha_out_hi": float(pl_out.alpha) + Z95 * se,
                    "tail_n_out": int(pl_out.n_tail),
                    "law_in": str(sel_in.law),
                    "kappa_in": float(sel_in.kappa),
                    **sel_out,
                    "tail_status": str(pl_out.status),
                }
            )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------------
# --------------------------------------------------------------------------------------------------
# 5. the scaling law of Proposition 5.1 (the derivation is docs/scaling.md)
# --------------------------------------------------------------------------------------------------

#: (kappa, gamma, ell) of the default sweep: q = κ(1 − γ)/(2γ) = 0.5 twice, where κ and γ enter the derived
#: exponent, and the paper's (κ, γ) = (5.5, 0.3255), q = 5.7, where the derived exponent is 2ℓ.
#: The setups of :func:`scaling_experiment`, each with its spectral form.
SCALING_SETUPS = {"proportional": "direct", "fixed_d": "inverse"}
#: A local slope counts as asymptotic when the deterministic equivalent's local slope at that n lies within
#: this of its n → ∞ exponent (htmu convention).
ASYMPTOTIC_TOL = 0.03


def _edge_exponent(kappa: float, gamma: float) -> float:
    # q = a + 1 = κ(1 − γ)/(2γ): the direct-form density behaves like x^(q − 1) near 0
    return kappa * (1.0 - gamma) / (2.0 * gamma)


def _log_edge_constant(kappa: float, gamma: float) -> float:
    # log c0 with rho(x) ~ c0 x^(q - 1) as x -> 0: the HTMP density with U(κ/2, −a, 0) = Γ(q)/Γ(s)
    from scipy.special import gammaln

    s, q = kappa / (2.0 * gamma), _edge_exponent(kappa, gamma)
    return float(q * math.log(s) + gammaln(s) - gammaln(kappa / 2.0 + 1.0) - 2.0 * gammaln(q))


def claimed_slope(kappa: float, gamma: float, ell: float) -> float:
    r"""Proposition 5.1's exponent of n as stated: :math:`-\ell\,(2 + \kappa/(2\gamma) - \kappa/2)`.

    Equal to :math:`-\ell(2 + q)` with :math:`q = \kappa(1 - \gamma)/(2\gamma) > 0`, hence steeper than the
    ridge bound :math:`-2\ell` for every :math:`\gamma < 1` (docs/scaling.md, section 2).
    """
    return -ell * (2.0 + kappa / (2.0 * gamma) - kappa / 2.0)


def derived_slope(kappa: float, gamma: float, ell: float, setup: str, form: str, sigma: float) -> float:
    r"""The n → ∞ exponent of the ridge error derived in docs/scaling.md, :math:`\lim d\log L/d\log n`.

    With :math:`\mu = n^{-\ell}` and :math:`q = \kappa(1 - \gamma)/(2\gamma)`:

    * ``setup="fixed_d"`` (d features, n → ∞), either form: :math:`-\min(2\ell, 1)` if ``sigma > 0``
      (bias :math:`\mu^2 \overline{1/\lambda}`, variance :math:`\sigma^2 d/n`), :math:`-2\ell` if ``sigma == 0``;
    * ``setup="proportional"`` (p/n → c in (0, 1)): 0 if ``sigma > 0`` (the variance tends to
      :math:`\sigma^2 c/(1 - c)`); else :math:`-\ell\min(1 + q, 2)` for the direct form (density
      :math:`\propto x^{q-1}` near 0; a logarithmic factor at q = 1) and :math:`-2\ell` for the inverse form
      (no mass near 0, :math:`E\,\Lambda^{-1} = 1`).

    Parameters
    ----------
    kappa, gamma, ell : float
        HTMP parameters (κ > 0, γ in (0, 1)) and the ridge exponent ℓ in (0, 1).
    setup : {"fixed_d", "proportional"}
    form : {"direct", "inverse"}
        Spectral form of the feature covariance.
    sigma : float
        Label-noise standard deviation, >= 0.

    Returns
    -------
    float
    """
    if setup not in SCALING_SETUPS:
        raise ValueError(f"setup must be one of {sorted(SCALING_SETUPS)}, got {setup!r}")
    if form not in ("direct", "inverse"):
        raise ValueError(f"form must be 'direct' or 'inverse', got {form!r}")
    if setup == "fixed_d":
        return -min(2.0 * ell, 1.0) if sigma > 0 else -2.0 * ell
    if sigma > 0:
        return 0.0
    if form == "inverse":
        return -2.0 * ell
    return -ell * min(1.0 + _edge_exponent(kappa, gamma), 2.0)


def ridge_exact_error(s: np.ndarray, n: int, lam: np.ndarray, mu: float, sigma: float) -> tuple[float, float]:
    r"""Excess test error of ridge regression, averaged exactly over teacher and noise.

    Model: :math:`y = \Phi\theta^* + \sigma\varepsilon` with n training rows, :math:`\theta^* \sim
    N(0, I_p/p)`, :math:`\varepsilon \sim N(0, I_n)`, test inputs with covariance
    :math:`\Lambda = \mathrm{diag}(\lambda)`. With :math:`S = \Phi^\top\Phi/n` and
    :math:`A = (S + \mu I)^{-1}`, the ridge estimator :math:`\hat\theta = A\Phi^\top y/n` has
    :math:`\hat\theta - \theta^* = -\mu A\theta^* + A\Phi^\top\sigma\varepsilon/n`, so

    .. math::
        \mathbb E_{\theta^*,\varepsilon}\,(\hat\theta - \theta^*)^\top\Lambda(\hat\theta - \theta^*)
        = \underbrace{\frac{\mu^2}{p}\operatorname{tr}(A\Lambda A)}_{\text{bias}}
        + \underbrace{\frac{\sigma^2}{n}\operatorname{tr}(A\Lambda A S)}_{\text{variance}}.

    Parameters
    ----------
    s : numpy.ndarray
        Gram matrix :math:`S = \Phi^\top\Phi/n` of the training features, ``(p, p)``.
    n : int
        Number of training rows.
    lam : numpy.ndarray
        Diagonal of the test covariance, ``(p,)``.
    mu : float
        Ridge, > 0.
    sigma : float
        Noise standard deviation, >= 0.

    Returns
    -------
    (bias, variance) : tuple of float
    """
    p = s.shape[0]
    # A Lambda A via a Cholesky solve: S + mu I is symmetric positive definite for mu > 0.
    chol = np.linalg.cholesky(s + mu * np.eye(p))
    a = np.linalg.solve(chol.T, np.linalg.solve(chol, np.eye(p)))
    ala = a @ (lam[:, None] * a)
    bias = mu * mu / p * float(np.trace(ala))
    variance = sigma * sigma / n * float(np.sum(ala * s))
    return bias, variance


def _gaussian_gram(n: int, lam: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    r""":math:`S = \Phi^\top\Phi/n` for :math:`\Phi = Z\Lambda^{1/2}`, Z an n x p iid N(0, 1) matrix.

    For n >= p, :math:`Z^\top Z` is drawn by Bartlett's decomposition (:math:`TT^\top`, T lower triangular
    with :math:`T_{ii}^2 \sim \chi^2_{n-i+1}` and N(0, 1) below the diagonal): the same law at
    :math:`O(p^3)` instead of :math:`O(np^2)`.
    """
    p = lam.size
    if n >= p:
        t = np.tril(rng.standard_normal((p, p)), -1)
        t[np.diag_indices(p)] = np.sqrt(rng.chisquare(n - np.arange(p)))
        w = t @ t.T
    else:
        z = rng.standard_normal((n, p))
        w = z.T @ z
    root = np.sqrt(lam)
    return root[:, None] * w * root[None, :] / n


def ridge_equivalent(
    lam: np.ndarray, weights: np.ndarray, ratio: float, mu: float, sigma: float
) -> tuple[float, float, float]:
    r"""Deterministic equivalent of :func:`ridge_exact_error`'s bias and variance, and the effective ridge.

    For Gaussian features with covariance spectrum :math:`\{\lambda_i\}` (weights :math:`w_i`, summing to 1:
    :math:`w_i = 1/p` for p eigenvalues, or quadrature weights of a law), p/n = ``ratio``, the effective ridge
    :math:`m` solves :math:`\mu = m\,(1 - c\sum_i w_i\lambda_i/(\lambda_i + m))` with c = ``ratio``, and with
    :math:`D_2 = c\sum_i w_i\lambda_i^2/(\lambda_i + m)^2`

    .. math::
        B = \frac{m^2 \sum_i w_i \lambda_i/(\lambda_i + m)^2}{1 - D_2},\qquad
        V = \sigma^2\,\frac{D_2}{1 - D_2}.

    These are the n, p → ∞ limits of the expected bias and variance (isotropic teacher of unit norm); see
    docs/scaling.md, section 5, and F. Bach, SIAM J. Math. Data Sci. 6 (2024).

    Parameters
    ----------
    lam, weights : numpy.ndarray
        Eigenvalues (> 0) and their weights (>= 0, summing to 1).
    ratio : float
        p/n, > 0 (ratio → 0 is the classical fixed-dimension limit).
    mu : float
        Ridge, > 0.
    sigma : float
        Noise standard deviation, >= 0.

    Returns
    -------
    (bias, variance, mu_eff) : tuple of float
    """
    from scipy.optimize import brentq

    lam, w = np.asarray(lam, dtype=float), np.asarray(weights, dtype=float)
    if not (ratio > 0 and mu > 0 and sigma >= 0):
        raise ValueError(f"need ratio > 0, mu > 0, sigma >= 0; got {ratio!r}, {mu!r}, {sigma!r}")

    def excess(m: float) -> float:
        return m * (1.0 - ratio * float(np.sum(w * lam / (lam + m)))) - mu

    # The root lies in [mu, mu/(1 - c)] for c < 1 (the bracket m - c m <= mu), in [mu, mu + c E lambda] else.
    upper = mu / (1.0 - ratio) if ratio < 1 else mu + ratio * float(np.sum(w * lam))
    m = brentq(excess, mu, upper, xtol=1e-300, rtol=1e-14) if excess(upper) > 0 else upper
    d2 = ratio * float(np.sum(w * lam**2 / (lam + m) ** 2))
    bias = m * m * float(np.sum(w * lam / (lam + m) ** 2)) / (1.0 - d2)
    return bias, sigma * sigma * d2 / (1.0 - d2), m


def _htmp_quadrature(
    kappa: float, gamma: float, form: str, order: int = 16, per_decade: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    r"""Nodes and weights of the HTMP(γ, κ) law (``form="direct"``) or of its inverse.

    Gauss–Legendre in log x on panels from where the direct-form CDF is 1e-16 (below, the exact edge
    :math:`c_0 x^{q-1}`, on which the mass is uniform in :math:`(x/x_0)^q`) to ``htmp.isf(1e-17)``. The
    inverse form uses the same nodes, :math:`\lambda = 1/x`. Checked against the law's Stieltjes transform
    in 30-digit mpmath (tests/test_scaling.py).
    """
    from numpy.polynomial.legendre import leggauss

    from htmu.laws import htmp, htmp_logpdf

    q, log_c0 = _edge_exponent(kappa, gamma), _log_edge_constant(kappa, gamma)
    log_lo = max((math.log(1e-16 * q) - log_c0) / q, math.log(1e-300))
    log_hi = math.log(float(htmp.isf(1e-17, gamma, kappa)))
    t, gw = leggauss(order)
    edges = np.linspace(log_lo, log_hi, max(2, math.ceil((log_hi - log_lo) / math.log(10) * per_decade)) + 1)
    half = (edges[1:] - edges[:-1])[:, None] / 2.0
    log_x = ((edges[1:] + edges[:-1])[:, None] / 2.0 + half * t).ravel()
    x = np.exp(log_x)
    w = np.exp(htmp_logpdf(x, gamma, kappa) + log_x) * (half * gw).ravel()
    mass_lo = math.exp(log_c0 + q * log_lo) / q
    x_lo = math.exp(log_lo) * ((t + 1.0) / 2.0) ** (1.0 / q)
    x, w = np.concatenate([x_lo, x]), np.concatenate([mass_lo * gw / 2.0, w])
    return (x if form == "direct" else 1.0 / x), w


def _fixed_spectrum(d: int, kappa: float, gamma: float, form: str) -> tuple[np.ndarray, np.ndarray]:
    # the d quantiles F^-1((i - 1/2)/d) of the law, equal weights: the spectrum of a fixed-d setup
    from htmu.laws import htmp

    x = np.asarray(htmp.ppf((np.arange(d) + 0.5) / d, gamma, kappa), dtype=float)
    return (x if form == "direct" else 1.0 / x), np.full(d, 1.0 / d)


def _setup_label(setup: str, form: str, sigma: float, ratio: float, p: int) -> str:
    size = f"p = {ratio:g}·n" if setup == "proportional" else f"fixed d = {p}"
    return f"{size}, {form} form, σ = {sigma:g}"


# Long by design: the checks of every argument of the two setups, then one loop over (setup, case, n, draw)
# building the rows; the numerics are in ridge_exact_error and the samplers.
def scaling_experiment(
    grid: Sequence[tuple[float, float, float]],
    ns: Sequence[int],
    draws: int,
    rng: np.random.Generator,
    *,
    ratio: float,
    d: int,
    sigma: float,
    spectrum: str | Sampler,
) -> pd.DataFrame:
    r"""Generalisation error of ridge regression on Master-Model features against the sample size n.

    Proposition 5.1 of the paper states that ridge regression on fixed features whose spectrum follows
    the Master Model, with ridge :math:`\mu = n^{-\ell}`, :math:`\ell \in (0, 1)`, has generalisation
    error :math:`L \asymp n^{-\ell(2 + \kappa/(2\gamma) - \kappa/2)}` for isotropic :math:`\Sigma`. The
    paper's exact setup is not available. docs/scaling.md derives the exponent for each reading of it and
    shows that none gives the claimed one: the ridge bias is at least of order :math:`\mu^2 = n^{-2\ell}`
    for every spectrum, and the claim is steeper than :math:`-2\ell` whenever :math:`\gamma < 1`. This
    experiment measures the error in two setups whose exponents the derivation predicts
    (:func:`derived_slope`):

    * ``"proportional"``: :math:`p = \mathrm{ratio}\cdot n` features (default p = n/10), covariance
      :math:`\Lambda = \mathrm{diag}(x_1..x_p)` in the HTMP **direct** form (mean 1, density
      :math:`\propto x^{q-1}` near 0, :math:`q = \kappa(1-\gamma)/(2\gamma)`), no label noise: the only
      reading in which κ and γ enter the exponent, :math:`-\ell\min(1 + q, 2)`. (With noise its error
      tends to :math:`\sigma^2 c/(1 - c)`, not to 0.)
    * ``"fixed_d"`` (control): :math:`d` features (default 50), **inverse** form
      :math:`\lambda_j = 1/x_j` (power-law upper tail :math:`\lambda^{-(1+q)}`), noise ``sigma``:
      exponent :math:`-\min(2\ell, 1)`.

    In both, :math:`x_1..x_p` are the p quantiles :math:`F^{-1}((i - 1/2)/p)` of HTMP(γ, κ)
    (``spectrum="quantiles"``, the default: the population law itself, so that the error of a draw varies
    only through the features) or a draw of the high-temperature beta-Laguerre ensemble of size p
    (``spectrum="ensemble"``, :func:`htmu.ensembles.sample_htmp_ensemble`: the same limit, with the
    ensemble's fluctuations of the smallest eigenvalues, which make the error of a draw spread by 5-20% for
    q < 1). :math:`\Phi = Z\Lambda^{1/2}` with :math:`Z` iid N(0, 1) and fresh for each draw (only
    :math:`\Phi^\top\Phi` enters, drawn from its Wishart law by :func:`_gaussian_gram`), teacher
    :math:`\theta^* \sim N(0, I_p/p)`, :math:`\hat\theta = (\Phi^\top\Phi/n + \mu I)^{-1}\Phi^\top y/n`,
    and :math:`L` is the excess test error averaged **exactly** over teacher and noise
    (:func:`ridge_exact_error`).

    Parameters
    ----------
    grid : sequence of (kappa, gamma, ell)
        kappa > 0, gamma in (0, 1), ell in (0, 1).
    ns : sequence of int
        Sample sizes, at least 3 distinct.
    draws : int
        Independent (spectrum, features) per (setup, case, n), at least 2 (the slopes' intervals need a
        spread).
    rng : numpy.random.Generator
        Source of randomness (required).
    ratio : float
        p/n of the proportional setup, in (0, 1); ``ratio * min(ns)`` must be at least 2.
    d : int
        Number of features of the fixed-d control, >= 2.
    sigma : float
        Label-noise standard deviation of the fixed-d control, >= 0.
    spectrum : {"quantiles", "ensemble"} or callable
        Source of the direct-form eigenvalues x (above); a callable ``spectrum(p, gamma, kappa, rng) -> x``
        (p positive values) is called once per draw. The inverse form takes ``1/x``.

    Returns
    -------
    pandas.DataFrame
        One row per (setup, case, n, draw): ``setup``, ``form``, ``spectrum``, ``setup_label``, ``kappa``, ``gamma``,
        ``ell``, ``ratio`` (NaN for fixed_d), ``n``, ``p``, ``draw``, ``sigma``, ``mu``, ``error``
        (= ``bias`` + ``variance``), ``bias``, ``variance``, ``lambda_min``, ``lambda_max``.
    """
    if rng is None:
        raise ValueError("rng must be a numpy.random.Generator, got None")
    _check_rng(rng)
    ns = _check_ns(ns, minimum=2)
    if len(set(ns)) < 3:
        raise ValueError(f"ns must hold at least 3 distinct sizes, got {ns}")
    draws = _check_int(draws, "draws", 2)
    d = _check_int(d, "d", 2)
    if not (np.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"sigma must be a finite number >= 0, got {sigma!r}")
    if not (isinstance(ratio, int | float) and 0.0 < ratio < 1.0):
        raise ValueError(f"ratio must lie in (0, 1), got {ratio!r}")
    if round(ratio * min(ns)) < 2:
        raise ValueError(f"ratio * min(ns) must be at least 2 features, got {ratio} * {min(ns)}")
    cases = []
    for i, case in enumerate(grid):
        if len(case) != 3:
            raise ValueError(f"grid[{i}] must be (kappa, gamma, ell), got {case!r}")
        kappa, gamma, ell = case
        ell = float(ell)
        if not (0.0 < ell < 1.0):
            raise ValueError(f"grid[{i}] ell must lie in (0, 1), got {ell!r}")
        cases.append((_check_kappa(kappa, f"grid[{i}] kappa"), _check_gamma(gamma, f"grid[{i}] gamma"), ell))
    if not cases:
        raise ValueError("grid must hold at least one (kappa, gamma, ell) triple")
    if spectrum == "quantiles":
        draw_spectrum, fixed = None, True
    elif spectrum == "ensemble":
        draw_spectrum, fixed = _default_sampler(), False
    elif callable(spectrum):
        draw_spectrum, fixed, spectrum = spectrum, False, getattr(spectrum, "__name__", "callable")
    else:
        raise ValueError(f"spectrum must be 'quantiles', 'ensemble' or a callable, got {spectrum!r}")

    rows = []
    for setup, form in SCALING_SETUPS.items():
        noise = 0.0 if setup == "proportional" else float(sigma)
        for kappa, gamma, ell in cases:
            for n in ns:
                p = round(ratio * n) if setup == "proportional" else d
                mu = float(n) ** (-ell)
                if fixed:
                    x = _fixed_spectrum(p, kappa, gamma, "direct")[0]
                for r in range(draws):
                    if not fixed:
                        x = np.asarray(draw_spectrum(p, gamma, kappa, rng), dtype=float)
                    if x.shape != (p,) or not np.all(x > 0):
                        raise ValueError("spectrum must return p positive eigenvalues")
                    lam = x if form == "direct" else 1.0 / x
                    bias, var = ridge_exact_error(_gaussian_gram(n, lam, rng), n, lam, mu, noise)
                    rows.append(
                        {
                            "setup": setup,
                            "form": form,
                            "spectrum": spectrum,
                            "setup_label": _setup_label(setup, form, noise, ratio, p),
                            "kappa": kappa,
                            "gamma": gamma,
                            "ell": ell,
                            "ratio": ratio if setup == "proportional" else np.nan,
                            "n": n,
                            "p": p,
                            "draw": r,
                            "sigma": noise,
                            "mu": mu,
                            "error": bias + var,
                            "bias": bias,
                            "variance": var,
                            "lambda_min": float(lam.min()),
                            "lambda_max": float(lam.max()),
                        }
                    )
    return pd.DataFrame(rows)


def _secant_slope(n1: float, e1: np.ndarray, n2: float, e2: np.ndarray) -> tuple[float, float, float]:
    """Secant slope of log(mean error) between two sizes, with its approximate 95% interval.

    Delta method: Var log(mean) = s²/(k mean²) from the k draws at each size; Student's t with
    Welch–Satterthwaite degrees of freedom. The interval is NaN when either size has fewer than 2 draws.
    """
    span = math.log(n2 / n1)
    parts = []
    for e in (np.asarray(e1, dtype=float), np.asarray(e2, dtype=float)):
        m = float(e.mean())
        parts.append(
            (math.log(m), float(e.var(ddof=1)) / (e.size * m * m) if e.size > 1 else math.nan, e.size)
        )
    (l1, v1, k1), (l2, v2, k2) = parts
    slope = (l2 - l1) / span
    if not (min(k1, k2) >= 2 and v1 + v2 > 0):
        return slope, math.nan, math.nan
    dof = (v1 + v2) ** 2 / (v1**2 / (k1 - 1) + v2**2 / (k2 - 1))
    from scipy import stats

    half = float(stats.t.ppf(0.975, dof)) * math.sqrt(v1 + v2) / span
    return slope, slope - half, slope + half


# Long by design: one pass over the cases, the simulated local slopes with their intervals, then the
# deterministic equivalent's slopes on a grid, both rows in one layout.
def scaling_exponents(
    df: pd.DataFrame, *, n_max_theory: float = 1e8, points: int = 40, tol: float = ASYMPTOTIC_TOL
) -> pd.DataFrame:
    r"""Local slopes :math:`d\log L/d\log n` of :func:`scaling_experiment`, measured and derived.

    Two kinds of rows per (setup, κ, γ, ℓ):

    * ``kind="simulation"``, one per pair of consecutive sizes :math:`n_1 < n_2`: the secant slope
      :math:`\log(\bar L_2/\bar L_1)/\log(n_2/n_1)` of the mean error over draws, at the geometric midpoint
      ``n``, with a 95% interval from the delta method (variance of :math:`\log\bar L` =
      :math:`s^2/(k\bar L^2)` from the k draws) and Student's t with Welch–Satterthwaite degrees of freedom;
      ``theory_slope`` is the secant of the deterministic equivalent (:func:`ridge_equivalent`) over the same
      pair: on the population law (:func:`_htmp_quadrature`) for the proportional setup, on the law's d
      quantiles for the fixed-d one. The interval is approximate
      (first-order in the draws' spread); read it with ``draws``.
    * ``kind="theory"``: the deterministic equivalent's local slope on a log grid of n from the smallest
      simulated n to ``n_max_theory``, to show where the asymptotic regime begins.

    ``derived_slope`` is the n → ∞ exponent (:func:`derived_slope`), ``claimed_slope`` Proposition 5.1's
    (:func:`claimed_slope`), ``bound_slope`` = :math:`-2\ell`, below which no ridge error can fall
    (docs/scaling.md, section 2). ``asymptotic`` says whether ``theory_slope`` lies within ``tol`` of
    ``derived_slope``: only there may a measured slope be read as the exponent. ``agrees_theory`` says
    whether ``theory_slope`` lies inside the measured interval.

    Parameters
    ----------
    df : pandas.DataFrame
        :func:`scaling_experiment`'s table.
    n_max_theory : float
        Largest n of the theory rows.
    points : int
        Theory rows per case.
    tol : float
        Tolerance of ``asymptotic``.

    Returns
    -------
    pandas.DataFrame
        ``kind``, ``setup``, ``form``, ``setup_label``, ``kappa``, ``gamma``, ``ell``, ``sigma``, ``n_lo``,
        ``n_hi``, ``n``, ``slope``, ``slope_lo``, ``slope_hi``, ``theory_slope``, ``derived_slope``,
        ``claimed_slope``, ``bound_slope``, ``asymptotic``, ``agrees_theory``, ``draws``.
    """
    keys = ["setup", "form", "setup_label", "kappa", "gamma", "ell", "sigma"]
    required = {*keys, "ratio", "n", "p", "draw", "error"}
    missing = required - set(df.columns)
    if missing:
        raise ValueError(f"df is missing columns {sorted(missing)}")
    points = _check_int(points, "points", 3)
    out = []
    quad: dict[tuple[float, float, str], tuple[np.ndarray, np.ndarray]] = {}
    for key, g in df.groupby(keys, sort=False):
        setup, form, label, kappa, gamma, ell, sigma = key
        size = g.groupby("n")["p"].first()
        if setup == "proportional":
            if (kappa, gamma, form) not in quad:
                quad[(kappa, gamma, form)] = _htmp_quadrature(kappa, gamma, form)
            lam, w = quad[(kappa, gamma, form)]
        else:
            lam, w = _fixed_spectrum(int(size.iloc[0]), kappa, gamma, form)
        # p/n of the equivalent: the simulated one at simulated sizes (p is rounded), else the setup's
        requested = float(g["ratio"].iloc[0]) if setup == "proportional" else math.nan

        def error_at(n: float, p: float) -> float:
            b, v, _ = ridge_equivalent(lam, w, p / n, n ** (-ell), sigma)  # noqa: B023 (used in this iteration)
            return b + v

        common = {
            "setup": setup,
            "form": form,
            "setup_label": label,
            "kappa": kappa,
            "gamma": gamma,
            "ell": ell,
            "sigma": sigma,
            "derived_slope": derived_slope(kappa, gamma, ell, setup, form, sigma),
            "claimed_slope": claimed_slope(kappa, gamma, ell),
            "bound_slope": -2.0 * ell,
        }
        ns = np.sort(g["n"].unique()).astype(float)
        if ns.size < 2:
            raise ValueError(f"case {key} needs at least 2 sizes")
        for n1, n2 in zip(ns[:-1], ns[1:], strict=True):
            e1 = g.loc[g["n"] == n1, "error"].to_numpy(float)
            e2 = g.loc[g["n"] == n2, "error"].to_numpy(float)
            slope, lo, hi = _secant_slope(n1, e1, n2, e2)
            span = math.log(n2 / n1)
            th = math.log(error_at(n2, size[n2]) / error_at(n1, size[n1])) / span
            out.append(
                {
                    "kind": "simulation",
                    **common,
                    "n_lo": int(n1),
                    "n_hi": int(n2),
                    "n": math.sqrt(n1 * n2),
                    "slope": slope,
                    "slope_lo": lo,
                    "slope_hi": hi,
                    "theory_slope": th,
                    "draws": int(min(e1.size, e2.size)),
                }
            )
        step = 1.02  # central difference in log n; the equivalent is smooth in n
        for n in np.geomspace(ns[0], max(n_max_theory, ns[-1]), points):
            up, down = n * step, n / step
            if setup == "proportional":
                th = math.log(error_at(up, requested * up) / error_at(down, requested * down))
            else:
                th = math.log(error_at(up, size.iloc[0]) / error_at(down, size.iloc[0]))
            th /= math.log(step**2)
            out.append(
                {
                    "kind": "theory",
                    **common,
                    "n_lo": np.nan,
                    "n_hi": np.nan,
                    "n": float(n),
                    "slope": th,
                    "slope_lo": np.nan,
                    "slope_hi": np.nan,
                    "theory_slope": th,
                    "draws": 0,
                }
            )
    res = pd.DataFrame(out)
    res["asymptotic"] = (res["theory_slope"] - res["derived_slope"]).abs() <= tol
    inside = (res["slope_lo"] <= res["theory_slope"]) & (res["theory_slope"] <= res["slope_hi"])
    res["agrees_theory"] = inside.astype("boolean").mask(res["kind"] == "theory")  # NA: not a measurement
    cols = ["kind", *keys[:3], "kappa", "gamma", "ell", "sigma", "n_lo", "n_hi", "n", "slope", "slope_lo",
            "slope_hi", "theory_slope", "derived_slope", "claimed_slope", "bound_slope", "asymptotic",
            "agrees_theory", "draws"]  # fmt: skip
    return res[cols]


# --------------------------------------------------------------------------------------------------
# the registry: what the workflow runs
# --------------------------------------------------------------------------------------------------

#: What an experiment returns: table name -> DataFrame (written as CSV) or Dataset (written as NetCDF).
Tables = dict[str, "pd.DataFrame | xr.Dataset"]


@dataclass(frozen=True)
class Experiment:
    """One experiment of the workflow: rule ``theory_<name>``, config section ``theory.<name>``.

    Attributes
    ----------
    run : callable
        ``run(params, rng) -> Tables``: the experiment on its validated config section.
    outputs : mapping of str to str
        Table name -> file under ``results/theory/`` (``.csv`` for a DataFrame, ``.nc`` for a Dataset). Claims
        and figures name the tables they read; names are unique across the study.
    params : mapping
        JSON Schema ``properties`` of the config section ``theory.<name>``, each with its default: the
        workflow's schema takes them from here (:func:`htmu.study.config.load_schema`), so that the defaults
        live in one place.
    stream : int
        The experiment's random stream: its generator is ``default_rng([theory.seed, stream])``. Fixed per
        experiment (unique), so that adding an experiment changes no other's numbers.
    check : callable, optional
        ``check(params) -> message or None``: a constraint between the section's keys that JSON Schema cannot
        state (the message names the key).
    mem_mb, runtime : int
        Cluster resources of the rule (MB, minutes).
    """

    run: Callable[[dict[str, Any], np.random.Generator], Tables]
    outputs: dict[str, str]
    params: dict[str, dict[str, Any]]
    stream: int
    check: Callable[[dict[str, Any]], str | None] | None = None
    mem_mb: int = 4000
    runtime: int = 60

    def defaults(self) -> dict[str, Any]:
        """The section's default values (a fresh copy)."""
        return {key: copy.deepcopy(spec["default"]) for key, spec in self.params.items()}


def _int(minimum: int, default: int, description: str = "") -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "integer", "minimum": minimum, "default": default}
    return spec | ({"description": description} if description else {})


def _number(bounds: dict[str, float], default: float, description: str = "") -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "number", **bounds, "default": default}
    return spec | ({"description": description} if description else {})


def _array(items: dict[str, Any], min_items: int, default: list, description: str = "") -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "array", "minItems": min_items, "items": items, "default": default}
    return spec | ({"description": description} if description else {})


def _tuples(titles: dict[str, dict[str, Any]], default: list, description: str) -> dict[str, Any]:
    """An array of fixed-length tuples whose entries say what they are through their titles."""
    items = [{"title": title, "type": "number", **bounds} for title, bounds in titles.items()]
    return {
        "type": "array",
        "minItems": 1,
        "items": {"type": "array", "minItems": len(items), "maxItems": len(items), "items": items},
        "default": default,
        "description": description,
    }


_UNIT = {"exclusiveMinimum": 0, "exclusiveMaximum": 1}
_POSITIVE = {"exclusiveMinimum": 0}


def _run_ensemble(c: dict[str, Any], rng: np.random.Generator) -> Tables:
    rows, eigs = ensemble_check([tuple(g) for g in c["grid"]], c["n"], c["draws"], rng)
    return {"ensemble": rows, "ensemble_eigs": eigs}


def _run_estimator(c: dict[str, Any], rng: np.random.Generator) -> Tables:
    rows = estimator_study(c["gamma"], c["kappa"], c["ns"], c["draws"], rng)
    return {"estimator_draws": rows, "estimator": summarise_estimator(rows)}


def _run_structure(c: dict[str, Any], rng: np.random.Generator) -> Tables:
    return {"structure": structure_experiment(c["n"], c["gamma"], c["draws"], rng)}


def _run_correlation(c: dict[str, Any], rng: np.random.Generator) -> Tables:
    return {"correlation": correlation_experiment(c["n"], c["gamma"], c["alphas"], c["draws"], rng)}


def _run_scaling(c: dict[str, Any], rng: np.random.Generator) -> Tables:
    raw = scaling_experiment([tuple(g) for g in c["grid"]], c["ns"], c["draws"], rng, ratio=c["ratio"], d=c["d"],
                             sigma=c["sigma"], spectrum=c["spectrum"])  # fmt: skip
    return {"scaling_raw": raw, "scaling": scaling_exponents(raw)}


def _check_scaling(c: dict[str, Any]) -> str | None:
    if c["ratio"] * min(c["ns"]) < 2:
        return (
            f"config key 'theory.scaling.ratio': {c['ratio']} x min(ns) = {c['ratio'] * min(c['ns']):g} is below "
            "the 2 features the proportional setup needs"
        )
    return None


#: Every experiment of the workflow, in the order of its rules. To add one: write its function above, a
#: ``_run_<name>`` and an entry here; its claim goes into :data:`htmu.study.claims.CLAIMS`.
EXPERIMENTS: dict[str, Experiment] = {
    "ensemble": Experiment(
        _run_ensemble,
        outputs={"ensemble": "ensemble.csv", "ensemble_eigs": "ensemble_eigs.nc"},
        params={
            "n": _int(20, 1000),
            "draws": _int(1, 3),
            "grid": _tuples({"gamma": _UNIT, "kappa": _POSITIVE}, [[0.3255, 1.9], [0.3255, 5.5], [0.5, 2.0], [0.25, 6.0]],
                            "(gamma, kappa) pairs sampled from the high-temperature ensemble."),
        },
        stream=1,
    ),
    "estimator": Experiment(
        _run_estimator,
        outputs={"estimator_draws": "estimator.csv", "estimator": "estimator_summary.csv"},
        params={
            "ns": _array({"type": "integer", "minimum": 20}, 1, [200, 500, 1000]),
            "draws": _int(2, 20),
            "gamma": _number(_UNIT, 0.3255),
            "kappa": _number(_POSITIVE, 5.5),
        },
        stream=2,
    ),
    "structure": Experiment(
        _run_structure,
        outputs={"structure": "structure.csv"},
        params={"n": _int(20, 500), "gamma": _number(_UNIT, 0.5), "draws": _int(1, 3)},
        stream=4,
    ),
    "correlation": Experiment(
        _run_correlation,
        outputs={"correlation": "correlation.csv"},
        params={
            "n": _int(20, 300),
            "gamma": _number(_UNIT, 0.5),
            "alphas": _array({"type": "number", "minimum": 0}, 2, [0.0, 0.5, 1.0, 1.5]),
            "draws": _int(1, 3),
        },
        stream=0,
    ),
    "scaling": Experiment(
        _run_scaling,
        outputs={"scaling_raw": "scaling.csv", "scaling": "scaling_exponents.csv"},
        params={
            "ns": _array({"type": "integer", "minimum": 10}, 3, [200, 400, 800, 1600, 3200, 6400],
                         "Sample sizes; ratio * min(ns) must be at least 2 features."),
            "grid": _tuples({"kappa": _POSITIVE, "gamma": _UNIT, "ell": _UNIT},
                            [[1.0, 0.5, 0.9], [1.0, 0.5, 0.6], [5.5, 0.3255, 0.5]],
                            "(kappa, gamma, ell) triples: gamma in (0, 1), ell in (0, 1); ridge mu = n^-ell."),
            "draws": _int(2, 3),
            "ratio": _number(_UNIT, 0.1, "p/n of the proportional setup (direct form, no noise)."),
            "d": _int(2, 50, "Features of the fixed-d control (inverse form)."),
            "sigma": _number({"minimum": 0}, 0.1, "Label noise of the fixed-d control."),
            "spectrum": {"type": "string", "enum": ["quantiles", "ensemble"], "default": "quantiles",
                         "description": "Feature spectrum: the HTMP law's p quantiles, or a draw of the "
                         "beta-Laguerre ensemble."},
        },
        stream=3,
        check=_check_scaling,
    ),
}  # fmt: skip
