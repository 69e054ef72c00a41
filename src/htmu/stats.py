"""Statistics helpers shared by the tool and the study: random generators, the Kolmogorov distance, rank
correlation with a bootstrap interval, binomial intervals.

* :func:`as_rng` -- a ``numpy.random.Generator`` from a generator or a seed (what every ``rng`` argument takes).
* :func:`ks_statistic` -- the Kolmogorov distance of a sample to a continuous law, with left-censored points.
* :func:`spearman_ci` -- Spearman's rank correlation with a percentile-bootstrap 95% interval and its p-value;
  :func:`spearman_with_ci` the same with failures returned as a status (:class:`SpearmanResult`), for claims
  computed on whatever data a run produced.
* :func:`wilson_interval` -- Wilson score interval of a binomial proportion.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["SpearmanResult", "as_rng", "ks_statistic", "spearman_ci", "spearman_with_ci", "wilson_interval"]

#: Two-sided 95% standard-normal quantile, Phi^{-1}(0.975) (scipy.stats.norm.ppf(0.975) to the last bit, which
#: tests/test_stats.py checks; a literal so that importing this module does not import scipy.stats).
Z95 = 1.959963984540054


def as_rng(rng: np.random.Generator | int | None, *, default_seed: int | None = None) -> np.random.Generator:
    """A ``numpy.random.Generator`` from ``rng``: a generator as it is, a non-negative int as the seed of a new one.

    ``None`` seeds a new generator with ``default_seed`` where the caller names one (the estimators: the same
    spectrum always gets the same interval), and is refused where it does not (a draw that must be asked for).

    Raises
    ------
    ValueError
        Anything else (a negative or non-integer seed, None without a default), naming ``rng``.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None and default_seed is not None:
        rng = default_seed
    if isinstance(rng, int | np.integer) and not isinstance(rng, bool) and rng >= 0:
        return np.random.default_rng(int(rng))
    allowed = "a numpy.random.Generator or an int seed >= 0" + (
        " (or None)" if default_seed is not None else ""
    )
    raise ValueError(f"rng must be {allowed}, got {rng!r}")


def ks_statistic(
    cdf_values: Sequence[float] | np.ndarray, *, n: int | None = None, n_below: int = 0
) -> float:
    r"""Kolmogorov distance :math:`\sup_x |F_n(x) - F(x)|` of a sample from a continuous law.

    The supremum is attained at a sample point, on either side of its jump:
    :math:`\max_i \max(i/n - F(x_{(i)}),\ F(x_{(i)}) - (i-1)/n)`.

    Parameters
    ----------
    cdf_values : array_like
        :math:`F` at the observed points, in any order.
    n : int, optional
        The sample size :math:`n` of the empirical CDF (default: the observed points and ``n_below``).
    n_below : int
        Points known only to lie below every observed one (left-censored): the empirical CDF starts at
        ``n_below / n``.

    Returns
    -------
    float
    """
    f = np.sort(np.asarray(cdf_values, dtype=float))
    n = f.size + n_below if n is None else n
    i = np.arange(1, f.size + 1) + n_below
    return float(max(np.max(i / n - f), np.max(f - (i - 1) / n)))


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _pearson_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Pearson correlation; NaN where a row is constant (rank correlation undefined)."""
    a = a - a.mean(axis=-1, keepdims=True)
    b = b - b.mean(axis=-1, keepdims=True)
    den = np.sqrt((a * a).sum(axis=-1) * (b * b).sum(axis=-1))
    num = (a * b).sum(axis=-1)
    out = np.full(num.shape, np.nan)
    ok = den > 0
    out[ok] = num[ok] / den[ok]
    return np.clip(out, -1.0, 1.0)


def spearman_ci(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    rng: np.random.Generator,
    n_boot: int = 1000,
) -> tuple[float, float, float, float]:
    r"""Spearman rank correlation with a percentile-bootstrap 95% interval and its p-value.

    :math:`\rho` is the Pearson correlation of the (average, for ties) ranks of ``x`` and ``y``; the
    two-sided p-value uses :math:`t = \rho\sqrt{(m-2)/(1-\rho^2)}` with :math:`m - 2` degrees of freedom
    (the same approximation as :func:`scipy.stats.spearmanr`). The interval is the 2.5% and 97.5%
    percentiles of :math:`\rho` over ``n_boot`` resamples of the pairs with replacement; resamples in
    which either variable is constant (undefined :math:`\rho`) are left out of the percentiles.

    Infinite values are allowed (they rank above or below every finite value, e.g. ``kappa = inf`` for a
    Marchenko--Pastur spectrum); NaN is not.

    Parameters
    ----------
    x, y : array_like
        Paired observations, same length, at least 3.
    rng : numpy.random.Generator
        Source of the bootstrap resamples.
    n_boot : int, optional
        Number of bootstrap resamples (default 1000), at least 10.

    Returns
    -------
    rho, lo, hi, p : float
        Rank correlation, bootstrap interval and two-sided p-value. ``lo`` and ``hi`` are NaN only if no
        resample had a defined correlation; ``rho`` and ``p`` are NaN if ``x`` or ``y`` is constant.

    References
    ----------
    C. Spearman (1904); B. Efron and R. Tibshirani, "An Introduction to the Bootstrap" (1993), ch. 13.
    """
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    n_boot = _check_int(n_boot, "n_boot", 10)
    xa = np.asarray(x, dtype=float).ravel()
    ya = np.asarray(y, dtype=float).ravel()
    if xa.size != ya.size:
        raise ValueError(f"x and y must have the same length, got {xa.size} and {ya.size}")
    if xa.size < 3:
        raise ValueError(f"x and y need at least 3 pairs, got {xa.size}")
    if np.isnan(xa).any() or np.isnan(ya).any():
        raise ValueError("x and y must not contain NaN (drop failed observations first)")
    from scipy import stats

    m = xa.size
    rho = float(_pearson_rows(stats.rankdata(xa)[None, :], stats.rankdata(ya)[None, :])[0])
    if np.isnan(rho):
        p = np.nan
    elif abs(rho) == 1.0:
        p = 0.0
    else:
        t = rho * math.sqrt((m - 2) / (1.0 - rho * rho))
        p = float(2.0 * stats.t.sf(abs(t), m - 2))
    idx = rng.integers(0, m, size=(n_boot, m))
    boot = _pearson_rows(stats.rankdata(xa[idx], axis=1), stats.rankdata(ya[idx], axis=1))
    boot = boot[np.isfinite(boot)]
    if boot.size == 0:
        lo = hi = np.nan
    else:
        lo, hi = (float(v) for v in np.percentile(boot, [2.5, 97.5]))
    return rho, lo, hi, p


@dataclass(frozen=True)
class SpearmanResult:
    """Spearman's ρ with a percentile-bootstrap interval; ``status`` says why ρ is missing, if it is."""

    rho: float
    lo: float
    hi: float
    n: int
    status: str

    def text(self) -> str:
        if self.status != "ok":
            return f"ρ not computed ({self.status}, n={self.n})"
        return f"ρ = {self.rho:+.2f} [{self.lo:+.2f}, {self.hi:+.2f}] (n={self.n})"


def spearman_with_ci(
    x: Iterable[float], y: Iterable[float], *, rng: np.random.Generator, n_boot: int = 1000
) -> SpearmanResult:
    """Spearman's ρ with a percentile-bootstrap 95% interval, failures returned as a status.

    A thin wrapper of :func:`spearman_ci` (pairs resampled; ``±inf`` ranks at the ends, so
    κ = ∞ sits above every finite κ) that drops pairs with a NaN first and turns its preconditions into
    statuses instead of exceptions, for claims computed on whatever data a run produced.

    Parameters
    ----------
    x, y : array_like
        Paired observations of equal length; pairs with a NaN are removed.
    rng : numpy.random.Generator
        Source of the bootstrap resamples.
    n_boot : int
        Bootstrap resamples (at least 10).

    Returns
    -------
    SpearmanResult
        ``status`` is ``"ok"``, ``"too_few"`` (fewer than 3 pairs) or ``"constant"`` (a variable has a
        single value, or no resample had a defined ρ).
    """
    xa = np.asarray(list(x), dtype=float)
    ya = np.asarray(list(y), dtype=float)
    if xa.shape != ya.shape:
        raise ValueError(f"x and y must have the same length, got {xa.shape} and {ya.shape}")
    keep = ~(np.isnan(xa) | np.isnan(ya))
    xa, ya = xa[keep], ya[keep]
    n = int(xa.size)
    if n < 3:
        return SpearmanResult(math.nan, math.nan, math.nan, n, "too_few")
    if np.unique(xa).size < 2 or np.unique(ya).size < 2:
        return SpearmanResult(math.nan, math.nan, math.nan, n, "constant")
    rho, lo, hi, _ = spearman_ci(xa, ya, rng, n_boot=n_boot)
    if math.isnan(lo) or math.isnan(hi):
        return SpearmanResult(float(rho), math.nan, math.nan, n, "constant")
    return SpearmanResult(float(rho), float(lo), float(hi), n, "ok")


def wilson_interval(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    r"""Wilson score interval for a binomial proportion.

    .. math::
        \frac{\hat p + z^2/(2m)}{1 + z^2/m} \pm
        \frac{z}{1 + z^2/m}\sqrt{\frac{\hat p(1-\hat p)}{m} + \frac{z^2}{4m^2}},
        \qquad \hat p = k/m,

    the two roots in :math:`p` of :math:`(\hat p - p)^2 = z^2 p(1-p)/m`.

    Parameters
    ----------
    successes, trials : int
        :math:`k` and :math:`m`, ``0 <= k <= m``, ``m >= 1``.
    z : float
        Normal quantile (default :math:`\Phi^{-1}(0.975)`, a 95% interval).

    Returns
    -------
    (lo, hi) : tuple of float

    References
    ----------
    E. B. Wilson, "Probable inference, the law of succession, and statistical inference", JASA 22 (1927).
    """
    trials = _check_int(trials, "trials", 1)
    if (
        isinstance(successes, bool)
        or not isinstance(successes, int | np.integer)
        or not (0 <= successes <= trials)
    ):
        raise ValueError(f"successes must be an integer in [0, trials={trials}], got {successes!r}")
    p = successes / trials
    denom = 1.0 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z / denom * math.sqrt(p * (1.0 - p) / trials + z * z / (4.0 * trials * trials))
    return max(0.0, centre - half), min(1.0, centre + half)
