r"""The HTMP law of Hodgkinson, Wang & Mahoney (arXiv 2506.03470) as scipy.stats laws.

Parametrisation
---------------
Aspect ratio ``0 < gamma < 1`` (γ) and eigenvalue repulsion ``kappa > 0`` (κ); put

.. math::

    s = \kappa/(2\gamma),\quad b = \kappa/2,\quad a = \kappa/(2\gamma) - \kappa/2 - 1
    \;(a + b + 1 = s),\quad \varepsilon = a + 1 = s - b,\quad y = s x .

The standard ("direct") HTMP(γ, κ) density on ``(0, ∞)``, with mean 1, is

.. math::

    \rho(x) = \frac{s\, y^{a} e^{-y}}{\Gamma(\kappa/2 + 1)\,\Gamma(\kappa/(2\gamma))\,
              |U(\kappa/2, -a, -y)|^{2}},

with Tricomi's U on its branch cut (both sides are conjugate; only the modulus enters).
E x = 1 and Var x = γ(1 + 2/κ); κ → ∞ gives Marchenko–Pastur MP(γ) with unit mean
(``kappa=numpy.inf`` is exactly that); near 0, ρ ~ x^a; at ∞, ρ ~ y^(a+κ) e^(−y).

The "inverse" form (the paper's Theorem 4.1) is the law of Λ = 1/X, density λ⁻² ρ(1/λ): an
inverse-Gamma-like lower tail and a power-law upper tail λ^(−(2 + a)) = λ^(−(1 + κ/(2γ) − κ/2)).
Its moments follow from the Stieltjes transform at 0 (below): E Λ = s/a for a > 0 and
E Λ² = s²(a + b)/(a²(a − 1)) for a > 1 (infinite otherwise).

How the density is computed: two ways, one per kind of call.
* Many points of one (γ, κ) (a likelihood), and every call with κ > ``KAPPA_QUAD``, s > ``S_QUAD``
  or a point with y < ``TINY_Y``·s: one march of a Riccati equation along v = log y
  (``htmu._riccati``).  With h = y U'/U on the cut, ℓ = log Im h is log of the density of v up to
  a constant (ρ_x dx = e^ℓ/(π b) dv); (Re h − p/2, ℓ) solve a real system integrated by Radau
  collocation on adaptive panels from one independently computed point, so the cost of a call
  does not grow with its points (1000 points: 0.4–5 ms for κ ≤ 100, 10–35 ms for κ = 10³–10⁶,
  ``benchmarks/bench_laws.py``).
* A few points (``FAST_MIN_POINTS``): per-point quadrature of U's Laplace integral on a ray
  (``htmu._hyperu``), adaptive Gauss–Legendre in log space.
* Beyond y = ``Y_FAR``(b + 2)(s + 2), U's asymptotic series.
A value that its method cannot certify (the march fails, or the quadrature does not reach its
tolerance) is returned as NaN with an ``HTMPAccuracyWarning`` saying how many: never a number
known to be off.

The distribution function.  ``F`` is the integral of e^ℓ/(π b) over v.  Per (γ, κ) (cached for
the last 16 pairs) one march from y = ``_CdfTable.Y_LO`` to where the density of v falls below
e^(−800) gives ℓ on panels; 16-point Gauss–Legendre on sub-panels of them gives F and 1 − F on a
table (integrated from each side, so neither is a difference), the mass below y = Y_LO comes
from the phase formula below, and the whole is certified by adding up to 1 (to 1e-10).  ``ppf``
and ``isf`` bracket the root with the table and finish with safeguarded Newton steps in log y
(regula falsi on the phase formula below the table).  Against adaptive quadrature of the density
the largest error of cdf/sf on κ ∈ {10³, …, 10⁶} × γ ∈ {0.1, 0.3255, 0.5, 0.9} is 2e-15.  From
κ = ``KAPPA_MP`` = 10⁸ on they are Marchenko–Pastur's (within 5e-9: sup |F − F_MP| ≈ 1/(2κ)).
The left tail has a closed form through the phase of U:
F(x) = arg U(b, c, −y − i0)/(π b), with Im U = π y^ε M(s, 1 + ε, −y)/(Γ(1 + ε) Γ(b)) exactly (the
connection formula's singular parts are all real) and Re U from the connection formula
(0 < ε < 0.95) or from its regular terms where the rest is negligible (small y, ε ≥ 0.95).  In
the deep tails, where F or 1 − F underflow, :func:`htmp_logcdf` and :func:`htmp_logsf` work in
log space without the table: the phase formula on the left, U's asymptotic series integrated by
Gauss–Laguerre far right, and otherwise the integral of e^(ℓ − ℓ(x)) on geometric intervals from
x outward along one march.

References
----------
L. Hodgkinson, Z. Wang, M. W. Mahoney, "Models of Heavy-Tailed Mechanistic Universality",
ICML 2025, arXiv:2506.03470.
DLMF §13.2, §13.4, §13.7 (Kummer's transformation, the connection formula, integral
representations and the asymptotic series of U).
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from functools import lru_cache

import numpy as np
from numpy.polynomial import legendre as L
from numpy.polynomial.laguerre import laggauss
from scipy import stats
from scipy.special import gammaln

from htmu._hyperu import log_abs_integral
from htmu._riccati import MarchFailed, march

__all__ = [
    "HTMPAccuracyWarning",
    "forget_march",
    "htmp",
    "htmp_logcdf",
    "htmp_logpdf",
    "htmp_logsf",
    "invhtmp",
    "marchenko_pastur",
    "mp_logpdf",
    "stieltjes",
]


class HTMPAccuracyWarning(RuntimeWarning):
    """Some values could not be certified to the law's tolerance; they are returned as NaN."""


def _warn_uncertified(what: str, bad: np.ndarray) -> None:
    if bad.any():
        warnings.warn(
            f"HTMP {what}: {int(bad.sum())} of {bad.size} values could not be certified; returned as NaN",
            HTMPAccuracyWarning,
            stacklevel=4,
        )


# ---------------------------------------------------------------------------------------------
# Marchenko–Pastur with unit mean
# ---------------------------------------------------------------------------------------------


def _mp_edges(gamma):
    r = np.sqrt(gamma)
    return (1 - r) ** 2, (1 + r) ** 2


def mp_logpdf(x, gamma):
    r"""log density of MP(γ) with unit mean, ``sqrt((x₊ − x)(x − x₋)) / (2π γ x)`` on [x₋, x₊].

    Parameters
    ----------
    x : array_like
        Points.
    gamma : array_like
        Aspect ratio, 0 < γ < 1; x± = (1 ± √γ)².

    Returns
    -------
    numpy.ndarray
        log density, ``-inf`` outside the support.
    """
    x, gamma = np.broadcast_arrays(np.asarray(x, float), np.asarray(gamma, float))
    lo, hi = _mp_edges(gamma)
    inside = (x > lo) & (x < hi)
    xs = np.where(inside, x, 1.0)
    val = 0.5 * np.log((hi - xs) * (xs - lo)) - np.log(2 * np.pi * gamma * xs)
    return np.where(inside, val, -np.inf)


def _mp_cdf_sf(x, gamma):
    """(F, 1 − F) of MP(γ), each from its own integral (1 − F is not a difference)."""
    # x = 1 + γ + 2√γ cos θ turns ρ dx into 2 sin²θ / (π (A + B cos θ)) dθ, A = 1 + γ, B = 2√γ;
    # with H its antiderivative (H(0) = 0, H(π) = π/2), 1 − F = (2/π) H(θ) and F = (2/π)(H(π) − H(θ))
    x, gamma = np.broadcast_arrays(np.asarray(x, float), np.asarray(gamma, float))
    lo, hi = _mp_edges(gamma)
    r = np.sqrt(gamma)
    A, B = 1 + gamma, 2 * r
    ct = np.clip((x - A) / np.where(B > 0, B, 1.0), -1.0, 1.0)
    th = np.arccos(ct)
    k = (1 - r) / (1 + r)
    C = (1 - gamma) / (2 * gamma)
    tp = np.pi - th
    with np.errstate(divide="ignore"):  # tan(π/2) = inf gives arctan = π/2, as wanted
        sf = (2 / np.pi) * ((A * th - B * np.sin(th)) / B**2 - C * np.arctan(k * np.tan(th / 2)))
        # H(π) − H(θ), using π/2 − arctan(k tan(θ/2)) = arctan(tan(θ'/2)/k), θ' = π − θ
        F = (2 / np.pi) * ((A * tp + B * np.sin(tp)) / B**2 - C * np.arctan(np.tan(tp / 2) / k))
    F = np.where(x <= lo, 0.0, np.where(x >= hi, 1.0, np.clip(F, 0.0, 1.0)))
    sf = np.where(x <= lo, 1.0, np.where(x >= hi, 0.0, np.clip(sf, 0.0, 1.0)))
    return F, sf


def _mp_cdf(x, gamma):
    return _mp_cdf_sf(x, gamma)[0]


def _bisect(f, lo, hi, target, iters=200):
    """Vectorised bisection for increasing f on [lo, hi]."""
    lo, hi, target = np.broadcast_arrays(*(np.array(v, float) for v in (lo, hi, target)))
    lo, hi = lo.copy(), hi.copy()
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        up = f(mid) < target
        lo = np.where(up, mid, lo)
        hi = np.where(up, hi, mid)
        if np.all(hi - lo <= 4e-16 * np.abs(hi)):
            break
    return 0.5 * (lo + hi)


class marchenko_pastur_gen(stats.rv_continuous):
    r"""Marchenko–Pastur law MP(γ) with unit mean, 0 < γ < 1.

    .. math:: f(x) = \frac{\sqrt{(x_+ - x)(x - x_-)}}{2\pi\gamma x}, \quad x_\pm = (1 \pm \sqrt\gamma)^2

    Mean 1, variance γ.  The κ → ∞ limit of ``htmp``.  CDF in closed form (substitution
    x = 1 + γ + 2√γ cos θ); ``ppf`` by bisection on it.
    """

    def _argcheck(self, gamma):
        return (gamma > 0) & (gamma < 1)

    def _get_support(self, gamma):
        return _mp_edges(np.asarray(gamma, float))

    def _logpdf(self, x, gamma):
        return mp_logpdf(x, gamma)

    def _pdf(self, x, gamma):
        return np.exp(mp_logpdf(x, gamma))

    def _cdf(self, x, gamma):
        return _mp_cdf(x, gamma)

    def _sf(self, x, gamma):
        return _mp_cdf_sf(x, gamma)[1]

    def _ppf(self, q, gamma):
        lo, hi = _mp_edges(np.asarray(gamma, float))
        return _bisect(lambda x: _mp_cdf(x, gamma), lo, hi, q)

    def _stats(self, gamma):
        return 1.0, gamma, None, None


marchenko_pastur = marchenko_pastur_gen(a=0.0, name="marchenko_pastur", shapes="gamma")


# ---------------------------------------------------------------------------------------------
# HTMP density
# ---------------------------------------------------------------------------------------------


def _check_params(gamma, kappa):
    gamma = np.asarray(gamma, float)
    kappa = np.asarray(kappa, float)
    if not np.all((gamma > 0) & (gamma < 1)):
        raise ValueError("gamma must lie in (0, 1)")
    if not np.all(kappa > 0):
        raise ValueError("kappa must be > 0 (numpy.inf for Marchenko-Pastur)")
    return gamma, kappa


#: from this many points of one (γ, κ) on, the density comes from one Riccati march along log y
#: (``htmu._riccati``) instead of a quadrature per point
FAST_MIN_POINTS = 16
#: below y = TINY_Y · s the per-point quadrature loses accuracy (its peak finder), so such points
#: take the march even when they are few
TINY_Y = 1e-25
#: the per-point quadrature is certified for κ ≤ KAPPA_QUAD and s = κ/(2γ) ≤ S_QUAD (within 3.3e-11
#: of the march on 800 points per (γ, κ), every point confirmed); beyond, it stops confirming its
#: tolerance just outside the MP edges (κ = 10³: off by 0.24 there), so the march serves every call
KAPPA_QUAD, S_QUAD = 100.0, 1000.0
#: beyond y = Y_FAR (b + 2)(s + 2) the density is its asymptotic series (``_logpdf_far``)
Y_FAR = 1e6


def _logpdf_far(y, s, b):
    """log ρ in the far right tail, y ≥ Y_FAR (b + 2)(s + 2), from U's asymptotic series.

    U(b, c, −y ∓ i0) = (−y ∓ i0)^(−b) Σ_k (b)_k (s)_k / k! · y^(−k) (DLMF 13.7.3; its terms are
    positive on the cut), so |U| = y^(−b) (1 + bs/y + b(b+1)s(s+1)/(2y²) + O(y^(−3))), the
    neglected term below 1e-18 relative there.  Used where the quadrature and the march would
    overflow (y beyond ~1e300 gives −inf).
    """
    t1 = b * s / y
    t2 = t1 * (b + 1) * (s + 1) / (2 * y)
    with np.errstate(invalid="ignore", over="ignore"):
        val = np.log(s) + (s + b - 1) * np.log(y) - y - gammaln(b + 1) - gammaln(s) - 2 * np.log1p(t1 + t2)
    return np.where(np.isfinite(y), val, -np.inf)


def _quadrature_serves(y, s, b):
    """Whether these points of one (s, b) go to the per-point quadrature rather than the march."""
    return 0 < y.size < FAST_MIN_POINTS and 2 * b <= KAPPA_QUAD and s <= S_QUAD and y.min() >= TINY_Y * s


_LAST_MARCH = threading.local()


def forget_march() -> None:
    """Drop this thread's last march (:func:`_march_covering`): the next call marches from scratch, as a benchmark
    of one call's cost needs."""
    _LAST_MARCH.value = None


def _march_covering(s, b, v_lo, v_hi):
    """The march of (s, b) over at least [v_lo, v_hi]: this thread's last one when it covers the range.

    A likelihood maximised over the scale calls the law at one (γ, κ) with points that move a little from call to
    call; the march (most of a call's cost) does not depend on the points, only on the range they span. The last
    march of each thread is kept; a call of the same (s, b) inside its range reuses it, one outside marches
    anew over the union of both ranges. Every march certifies its whole range, so reuse changes a value by
    rounding only. (A wider margin marched ahead of need cost more than it saved: measured, 0.5 in v made
    ``select_law`` on an MP spectrum of 256 eigenvalues slower.)
    """
    last = getattr(_LAST_MARCH, "value", None)
    sol = None
    if last is not None and last[0] == (s, b):
        if last[1].v_lo <= v_lo and v_hi <= last[1].v_hi:
            return last[1]
        with contextlib.suppress(MarchFailed):  # the union is wider than asked: then march just what is asked
            sol = march(s, b, min(v_lo, last[1].v_lo), max(v_hi, last[1].v_hi))
    if sol is None:
        sol = march(s, b, v_lo, v_hi)
    _LAST_MARCH.value = ((s, b), sol)
    return sol


def _logpdf_one(x, s, b):
    """log ρ at points 0 < x < ∞ (1-d) of one (s, b) that the march serves, or beyond Y_FAR;
    returns (value, certified), NaN where not certified."""
    with np.errstate(over="ignore"):
        y = s * x
    out = np.empty(x.shape)
    ok = np.ones(x.shape, dtype=bool)
    far = y >= Y_FAR * (b + 2) * (s + 2)
    if far.any():
        out[far] = _logpdf_far(y[far], s, b)
    near = ~far
    if near.any():
        # log x + log s, not log y: a subnormal y = s x has lost relative precision (γ = 0.3255,
        # κ = 5.5, x = 5e-324: log ρ off by 0.26) or underflowed to 0 (s < 1: one v = −inf failed
        # the march for every point of the call)
        vn = np.log(x[near]) + np.log(s)
        try:
            out[near] = _march_covering(s, b, float(vn.min()), float(vn.max())).logpdf(x[near])
        except MarchFailed:
            ok[near] = False
    out[~ok] = np.nan
    return out, ok


def _logpdf_quadrature(x, s, b):
    """log ρ at points x of parameters s, b (1-d arrays alike) by the per-point quadrature."""
    y = s * x
    li, ok = log_abs_integral(y, s, b)
    # log ρ = log s + a log y − y − lnΓ(b+1) − lnΓ(s) − 2 log|U|,  log|U| = (s−b) log y − lnΓ(s) + log|I|
    out = np.log(s) - (s - b + 1) * np.log(y) - y - gammaln(b + 1) + gammaln(s) - 2 * li
    return np.where(ok, out, np.nan), ok


def _pairs(gamma, kappa):
    """The distinct finite (γ, κ) among broadcast arrays and, for each, the mask of its entries."""
    fin = np.isfinite(kappa)
    if not fin.any():
        return []
    if gamma.size and np.all(gamma == gamma.flat[0]) and np.all(kappa == kappa.flat[0]):
        return [(float(gamma.flat[0]), float(kappa.flat[0]), fin)]
    pairs = np.stack([gamma[fin], kappa[fin]], -1)
    uniq, inv = np.unique(pairs, axis=0, return_inverse=True)
    out = []
    idx = np.flatnonzero(fin)
    for i, (g, k) in enumerate(uniq):
        mask = np.zeros(gamma.shape, dtype=bool)
        mask.flat[idx[inv.ravel() == i]] = True
        out.append((float(g), float(k), mask))
    return out


def _logpdf_core(x, gamma, kappa):
    """Direct-form log density, elementwise over broadcast arrays (parameters assumed valid)."""
    x, gamma, kappa = np.broadcast_arrays(*(np.asarray(v, float) for v in (x, gamma, kappa)))
    out = np.full(x.shape, -np.inf)
    bad = np.zeros(x.shape, dtype=bool)
    mp_ = ~np.isfinite(kappa) & (x > 0)
    if mp_.any():
        out[mp_] = mp_logpdf(x[mp_], gamma[mp_])
    quad = np.zeros(x.shape, dtype=bool)  # points of pairs the per-point quadrature serves
    for g, k, mask in _pairs(gamma, kappa):
        sel = mask & (x > 0) & (x < np.inf)
        if not sel.any():
            continue
        s, b = k / (2 * g), k / 2
        with np.errstate(over="ignore"):
            y = s * x[sel]
        if _quadrature_serves(y[y < Y_FAR * (b + 2) * (s + 2)], s, b):
            quad |= sel
            continue
        out[sel], ok = _logpdf_one(x[sel], s, b)
        bad[sel] = ~ok
    if quad.any():
        # one vectorised call for all of them, whatever their (γ, κ)
        g, k = gamma[quad], kappa[quad]
        out[quad], ok = _logpdf_quadrature(x[quad], k / (2 * g), k / 2)
        bad[quad] = ~ok
    _warn_uncertified("density", bad)
    return out


def htmp_logpdf(x, gamma, kappa):
    r"""log density of the standard (mean-1) direct-form HTMP(γ, κ) law, vectorised.

    .. math::

        \log\rho(x) = \log s + a\log y - y - \log\Gamma(b + 1) - \log\Gamma(s) - 2\log|U(b, -a, -y)|

    with s = κ/(2γ), b = κ/2, a = s − b − 1, y = s x (Hodgkinson, Wang & Mahoney,
    arXiv:2506.03470).  No cache across (γ, κ) (a new one on every call costs the same; consecutive
    calls at the same (γ, κ) in one thread reuse its march when it spans their points): meant
    for likelihood optimisation.  The points of each distinct (γ, κ) are served together: at least
    ``FAST_MIN_POINTS`` of them, or κ > ``KAPPA_QUAD``, s > ``S_QUAD`` or a point with
    y < ``TINY_Y``·s, by one Riccati march along log y (``htmu._riccati``; 1000 points in 0.4–5 ms
    for κ ≤ 100 and 10–35 ms for κ = 10³–10⁶, ``benchmarks/bench_laws.py``); fewer points by the
    per-point quadrature (``htmu._hyperu``, about 0.3–1 ms per point); beyond y = ``Y_FAR``(b + 2)(s + 2)
    by U's asymptotic series.  Accurate to 1e-8 absolute in log ρ for 0 < γ < 1, 10⁻⁵ ≤ κ ≤ 10⁶
    (tested against 40-digit mpmath: ``mpmath.hyperu`` up to κ = 10³, within 2e-14 for κ ≤ 10³;
    beyond, quadrature of U's Laplace integral on a steepest-descent contour, within 1.2e-9 where
    |log ρ| ≈ 2·10⁴ (6e-14 relative); integer c, large |c|, both tails and the MP edges, and one
    call whose points span x = 5e-324 to 10³).  A value its method cannot certify is NaN, with
    an ``HTMPAccuracyWarning``.

    Parameters
    ----------
    x : array_like
        Points; ``x <= 0`` gives ``-inf`` (support (0, ∞)).
    gamma : array_like
        Aspect ratio, 0 < γ < 1.
    kappa : array_like
        Repulsion κ > 0; ``numpy.inf`` gives Marchenko–Pastur MP(γ) with unit mean.

    Returns
    -------
    numpy.ndarray
        log ρ(x), broadcast over the arguments.

    Raises
    ------
    ValueError
        If gamma is outside (0, 1) or kappa is not positive.

    Warns
    -----
    HTMPAccuracyWarning
        If some values could not be certified (they are NaN).
    """
    gamma, kappa = _check_params(gamma, kappa)
    return _logpdf_core(x, gamma, kappa)


# ---------------------------------------------------------------------------------------------
# Tails in log space
# ---------------------------------------------------------------------------------------------

#: the connection formula gives U (hence its phase) where c = 1 − ε > C_CONNECT (htmu._riccati
#: uses it there for its initial value too); closer to c = 0 it loses digits
C_CONNECT = 0.05


def _kummer_series(a, c, z):
    """M(a, c, z) for an array z by its power series; returns (value, certified).

    Certified where the series converged and its terms cost at most 1e-12 of the sum to rounding.
    """
    z = np.asarray(z, float)
    term = np.ones(z.shape)
    total = np.ones(z.shape)
    big = np.ones(z.shape)
    for k in range(2000):
        term = term * ((a + k) / (c + k) / (k + 1)) * z
        total = total + term
        big = np.maximum(big, np.abs(term))
        if np.all(np.abs(term) <= 1e-17 * np.abs(total)) and np.all(
            np.abs(z) * (abs(a) + k + 1) <= (k + 2) * (c + k + 1)
        ):
            break
    ok = (np.abs(term) <= 1e-16 * np.abs(total)) & (big <= 1e4 * np.abs(total))
    return total, ok


def _log_cdf_phase(v, s, b):
    """log F at points v = log y (1-d) from the phase of U, in closed form; (value, certified).

    F(x) = arg U(b, c, −y − i0)/(π b), c = 1 − ε (the density is the phase's derivative, as the
    Wronskian of Kummer's equation is ∝ y^a e^(−y); arg U = 0 at y = 0 for ε > 0).  By the
    connection formula U = Γ(ε)/Γ(s) M(b, c, z) + Γ(−ε)/Γ(b) z^ε M(s, 1 + ε, z), z = y e^(−iπ), both
    Kummer functions real: so Im U = π y^ε M(s, 1 + ε, −y)/(Γ(1 + ε) Γ(b)) exactly, whatever ε
    (Γ(−ε) sin(πε) = −π/Γ(1 + ε): no pole), and

        Re U = Γ(ε)/Γ(s) M(b, c, −y) − Γ(1 − ε) cos(πε) y^ε M(s, 1 + ε, −y)/(ε Γ(b)).

    * c > C_CONNECT (0 < ε < 0.95): Re U as written (c is away from 0 and 1);
      arg U = atan2(Im U, Re U), the principal value being the phase where it cannot have wrapped
      (b ≤ 1, or Re U > 0 with F < 1/(4b));
    * otherwise (ε ≥ 0.95) the two terms have poles at integer ε that cancel; for small y the
      second and the terms of M(b, c, −y) from k > ε − 1/2 on are negligible, and Re U is
      Γ(ε)/Γ(s) times the remaining terms — certified where what is dropped (bounded by the first
      two dropped terms, twice, and the y^ε term) is below 1e-15 of it, and where F is known to
      be small enough for the principal value (Markov: F ≤ x E[1/X] = y/(ε − 1) ≤ 1/(4b)).

    Everything is in logs (y^ε underflows long before F does).  The Kummer series are certified
    for the small y of a left tail (and fail, hence are not certified, where they cancel).
    """
    v = np.asarray(v, float)
    eps = s - b
    with np.errstate(under="ignore", over="ignore", invalid="ignore", divide="ignore"):
        y = np.exp(v)
        m2, ok = _kummer_series(s, 1 + eps, -y)
        log_im = np.log(np.pi) + eps * v + np.log(m2) - gammaln(1 + eps) - gammaln(b)
        if 1 - eps > C_CONNECT:
            m1, ok1 = _kummer_series(b, 1 - eps, -y)
            ok &= ok1
            re = (
                np.exp(gammaln(eps) - gammaln(s)) * m1
                - np.exp(gammaln(1 - eps) - gammaln(b) + eps * v) * np.cos(np.pi * eps) / eps * m2
            )
            log_re = np.log(np.abs(re))
            re_pos = re > 0
            branch = (b <= 1) | re_pos
        else:
            # the regular terms of M(b, 1 − ε, −y): k < K, K = ⌊ε + 1/2⌋, so every factor
            # (j + 1 − ε) of their denominators is at least 1/2 (they fall geometrically for small y)
            n_keep = int(np.floor(eps + 0.5))
            term = np.ones(y.shape)
            m1 = np.ones(y.shape)
            for k in range(n_keep - 1):
                term = term * ((b + k) / (1 - eps + k) / (k + 1)) * -y
                m1 = m1 + term
                if np.all(np.abs(term) <= 1e-18 * np.abs(m1)):
                    break
            # the dropped ones, from k = K on: |(b)_K/((1 − ε)_K K!)| y^K for the first (infinite at
            # integer ε: then nothing is certified), the next one a factor of it
            log_drop1 = (
                gammaln(b + n_keep)
                - gammaln(b)
                - (gammaln(1 - eps + n_keep) - gammaln(1 - eps))
                - gammaln(n_keep + 1)
                + n_keep * v
            )
            drop1 = np.exp(np.minimum(log_drop1, 700.0))
            drop2 = drop1 * np.abs((b + n_keep) / np.float64(1 - eps + n_keep) / (n_keep + 1)) * y
            # |Γ(1 − ε) cos(πε)| Γ(s)/(ε Γ(b) Γ(ε)) = π |cot(πε)| Γ(s)/(ε Γ(ε)² Γ(b))
            log_second = (
                np.log(np.pi * np.abs(np.cos(np.pi * eps) / np.sin(np.pi * eps)))
                - np.log(eps)
                - 2 * gammaln(eps)
                + gammaln(s)
                - gammaln(b)
                + eps * v
                + np.log(np.abs(m2))
            )
            dropped = 2 * (np.abs(drop1) + np.abs(drop2)) + np.exp(np.minimum(log_second, 700.0))
            ok &= (m1 > 0) & (dropped <= 1e-15 * m1)
            log_re = gammaln(eps) - gammaln(s) + np.log(m1)
            branch = (eps > 1) & (y / max(eps - 1, 1e-300) <= 1 / (4 * b))
            re_pos = m1 > 0
        log_r = log_im - log_re  # log tan(arg) where Re U > 0
        small = re_pos & (log_r < np.log(1e-8))
        # where the phase is not small, Re U and Im U are of one size: atan2 on their ratio
        arg = np.where(small, 0.0, np.arctan2(np.exp(np.minimum(log_r, 700.0)), np.where(re_pos, 1.0, -1.0)))
        # arctan(r) = r (1 − r²/3 + …): the log of the phase without underflow
        log_arg = np.where(small, log_r - np.exp(2 * log_r) / 3, np.log(arg))
        log_f = log_arg - np.log(np.pi * b)
        ok &= branch & ((b <= 1) | (log_f < -np.log(4 * b)))
    ok &= np.isfinite(log_f)
    return np.where(ok, log_f, np.nan), ok


def _log_u_series(y, s, b):
    """log Σ_k (b)_k (s)_k/(k! y^k), |U(b, c, −y ∓ i0)| = y^(−b) × that sum (DLMF 13.7.3, terms
    positive on the cut), truncated before its smallest term; returns (value, certified): where
    the first omitted term is below 1e-16 of the sum."""
    y = np.asarray(y, float)
    term = np.ones(y.shape)
    total = np.ones(y.shape)
    live = np.ones(y.shape, dtype=bool)
    for k in range(200):
        nxt = term * ((b + k) * (s + k) / (k + 1)) / y
        live &= nxt < term  # past the smallest term the asymptotic series diverges
        total = np.where(live, total + nxt, total)
        term = np.where(live, nxt, term)
        if not live.any() or np.all(term <= 1e-17 * total):
            break
    return np.log(total), term <= 1e-16 * total


#: Gauss–Laguerre rule for the far right tail
_LAG_U, _LAG_W = laggauss(40)


def _log_sf_far(y, s, b):
    """log P(X > x) at y = s x far right (1-d), from U's asymptotic series; (value, certified).

    P(X > x) = ∫_y^∞ ρ_y = ρ_y(y) ∫_0^∞ e^(−u) f(u) du with f = e^u ρ_y(y + u)/ρ_y(y) =
    (1 + u/y)^(s+b−1) (Σ(y)/Σ(y + u))², Σ the series of ``_log_u_series``: smooth and slowly
    growing (like e^(u (s+b−1)/y)) for y ≥ 10 (s + b + 1), where a 40-point Gauss–Laguerre rule
    integrates it to rounding.
    """

    def log_rho(t):
        ls, ok_ = _log_u_series(t, s, b)
        return (s + b - 1) * np.log(t) - t - gammaln(b + 1) - gammaln(s) - 2 * ls, ok_

    y = np.asarray(y, float)
    l0, ok = log_rho(y)
    lt, okt = log_rho(y[:, None] + _LAG_U)
    with np.errstate(over="ignore"):
        val = l0 + np.log(np.sum(_LAG_W * np.exp(lt - l0[:, None] + _LAG_U), -1))
    ok &= okt.all(-1) & (y >= 10 * (s + b + 1)) & np.isfinite(val)
    return np.where(ok, val, np.nan), ok


#: Gauss–Legendre rule for integrals of the density of v = log y
_NGL = 16
_XG, _WG = L.leggauss(_NGL)
#: a tail march goes on until the density of v has fallen e^(−EXTEND) below its value at the points
EXTEND = 60.0


def _log_tail_march(v, s, b, right: bool):
    """log P(X > x) (``right``) or log P(X < x) at v = log y (1-d), all in that tail; (value, certified).

    One march covers the points and goes on outward until ℓ has fallen by ``EXTEND``.  For each
    point the integral of e^(ℓ(w) − ℓ(v)) over w beyond v is taken on intervals [2^(j−1), 2^j]·h
    (j = 0…12, the first [0, h]) by Gauss–Legendre: beyond the MP edges ℓ is concave (ℓ' = −2g
    with g = ±√(−D) growing away from the bulk), so the integrand falls at least like e^(−u/h) with
    h = 1/|ℓ'(v)|, and h ≤ 1/√|ℓ''(v)| keeps the first interval within the width of a steeper
    fall.  Certified where the march is and the integrand has fallen below e^(−40) by the end.
    """
    v = np.asarray(v, float)
    try:
        sol = march(s, b, float(v.min()), float(v.max()), extend=(None, EXTEND) if right else (EXTEND, None))
    except MarchFailed:
        return np.full(v.shape, np.nan), np.zeros(v.shape, dtype=bool)
    d = 1e-4 * np.maximum(1.0, np.abs(v)) / np.sqrt(1 + 2 * b)
    lm, l0, lp = (sol.ell(np.clip(v + k * d, sol.v_lo, sol.v_hi)) for k in (-1, 0, 1))
    sign = 1.0 if right else -1.0
    decay = -sign * (lp - lm) / (2 * d)
    curv = np.abs(lp - 2 * l0 + lm) / d**2
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.minimum(1 / np.maximum(decay, 1e-300), 1 / np.sqrt(curv))
    h = np.where(np.isfinite(h), h, 1 / np.maximum(decay, 1e-300))
    edges = np.concatenate([[0.0], 2.0 ** np.arange(13)])  # in units of h
    lo_, hi_ = edges[:-1], edges[1:]
    u = h[:, None, None] * (lo_[:, None] + 0.5 * (hi_ - lo_)[:, None] * (_XG + 1))
    w = v[:, None, None] + sign * u
    inside = (w >= sol.v_lo) & (w <= sol.v_hi)
    ell = sol.ell(np.clip(w, sol.v_lo, sol.v_hi).ravel()).reshape(w.shape)
    with np.errstate(under="ignore"):
        f = np.where(inside, np.exp(np.minimum(ell - l0[:, None, None], 700.0)), 0.0)
    total = np.sum(f * (0.5 * (hi_ - lo_)[:, None] * _WG), (-2, -1)) * h
    # the integrand must have died by the last node (or the march ended before it, which it does
    # only e^(−EXTEND) below the farthest point, ℓ falling monotonically in a tail)
    died = ~inside[:, -1, -1] | (ell[:, -1, -1] - l0 < -40.0)
    ok = (decay > 0) & died & (total > 0) & np.isfinite(total)
    with np.errstate(divide="ignore", invalid="ignore"):
        val = l0 - np.log(np.pi * b) + np.log(total)
    return np.where(ok, val, np.nan), ok


# ---------------------------------------------------------------------------------------------
# Distribution function per (γ, κ)
# ---------------------------------------------------------------------------------------------

# Legendre transform on the Gauss nodes: nodal values -> Legendre coefficients (degree NGL − 1)
_LEG_T = (np.arange(_NGL)[:, None] + 0.5) * L.legvander(_XG, _NGL - 1).T * _WG


def _legval_rows(t, coefs):
    """Legendre series with per-row coefficients coefs[i] evaluated at t[i] (Clenshaw)."""
    t = np.asarray(t, float)
    b1 = np.zeros(t.shape)
    b2 = np.zeros(t.shape)
    n = coefs.shape[-1]
    for j in range(n - 1, 0, -1):
        b1, b2 = coefs[..., j] + (2 * j + 1) / (j + 1) * t * b1 - (j + 1) / (j + 2) * b2, b1
    return coefs[..., 0] + t * b1 - 0.5 * b2


class TableNotCertified(RuntimeError):
    """The CDF table of one (γ, κ) failed its own checks."""


class _CdfTable:
    """F and 1 − F of one finite (γ, κ) on panels in v = log y, from one march.

    The march runs from v = log ``Y_LO`` (or from where the density of v falls below e^``STOP``,
    whichever comes first) to where it falls below e^``STOP`` on the right.  Each of its panels
    is cut into at least 4 sub-panels, over which ℓ changes by at most 1, and on each the density
    of v, e^ℓ/(π b), is interpolated at 16 Gauss–Legendre nodes and integrated exactly from either
    end (so 1 − F is never a difference).  The mass below Y_LO is the phase formula's
    (``_log_cdf_phase``), or 1 minus the rest where that is not certified; the table is
    certified only if the parts add up to 1 within ``TOTAL_TOL``.
    """

    Y_LO = 1e-12
    STOP = -800.0
    TOTAL_TOL = 1e-10

    def __init__(self, gamma: float, kappa: float):
        self.gamma, self.kappa = gamma, kappa
        s, b = kappa / (2 * gamma), kappa / 2
        self.s, self.b = s, b
        lpb = np.log(np.pi * b)
        sol = march(s, b, np.log(self.Y_LO), 745.0, stop_ell=lpb + self.STOP)
        if sol.v_hi >= 745.0:
            raise TableNotCertified("the density does not die out on the right")
        lefts, rights = [], []
        for lo, hi, vals in sol.panels:
            m = int(min(max(4, np.ceil(vals.max() - vals.min())), 400))
            e = np.linspace(lo, hi, m + 1)
            lefts.append(e[:-1])
            rights.append(e[1:])
        v0, v1 = np.concatenate(lefts), np.concatenate(rights)
        self.v = np.concatenate([v0, v1[-1:]])
        half = 0.5 * (v1 - v0)
        nodes = v0[:, None] + half[:, None] * (_XG + 1)
        ell = sol.ell(nodes.ravel()).reshape(nodes.shape)
        vals = np.exp(ell - lpb) * half[:, None]  # the integrand in the panels' local t ∈ [−1, 1]
        self.coef = vals @ _LEG_T.T
        self.anti_l = L.legint(self.coef, lbnd=-1, axis=1)  # ∫ from the panel's left end
        self.anti_r = L.legint(self.coef, lbnd=1, axis=1)  # −∫ to the panel's right end
        panels = (vals * _WG).sum(-1)
        self.sol = sol
        # mass below the table
        if sol.v_lo > np.log(self.Y_LO) + 1e-9:  # the march stopped early: the density had died
            f0, f0_ok = 0.0, True
        else:
            lf, ok = _log_cdf_phase(np.array([sol.v_lo]), s, b)
            f0, f0_ok = float(np.exp(lf[0])) if ok[0] else np.nan, bool(ok[0])
        rest = float(panels.sum())
        if not f0_ok:
            f0 = 1.0 - rest
            if f0 < -self.TOTAL_TOL:
                raise TableNotCertified(f"the density integrates to {rest} above y = {self.Y_LO}")
            f0 = max(f0, 0.0)
        elif abs(f0 + rest - 1.0) > self.TOTAL_TOL:
            raise TableNotCertified(f"F(Y_LO) + the table = {f0 + rest!r}, not 1")
        self.f0 = f0
        self.C = f0 + np.concatenate([[0.0], np.cumsum(panels)])
        self.S = np.concatenate([np.cumsum(panels[::-1])[::-1], [0.0]])

    def _where(self, v):
        k = np.clip(np.searchsorted(self.v, v, side="right") - 1, 0, self.v.size - 2)
        t = 2 * (v - self.v[k]) / (self.v[k + 1] - self.v[k]) - 1
        return k, t

    def cdf_v(self, v):
        """F at v inside [v[0], v[-1]]."""
        k, t = self._where(v)
        return self.C[k] + _legval_rows(t, self.anti_l[k])

    def sf_v(self, v):
        """1 − F at v inside [v[0], v[-1]]."""
        k, t = self._where(v)
        return self.S[k + 1] - _legval_rows(t, self.anti_r[k])

    def density_v(self, v):
        """Density of v = log y (= of log x) at v inside the table, from the panel interpolants."""
        k, t = self._where(v)
        return _legval_rows(t, self.coef[k]) / (0.5 * (self.v[k + 1] - self.v[k]))


@lru_cache(maxsize=16)
def _table(gamma: float, kappa: float):
    """The CDF table of (γ, κ), or None if it could not be certified (its values are then NaN)."""
    try:
        return _CdfTable(gamma, kappa)
    except (MarchFailed, TableNotCertified):
        return None


def _edges_v(s, b):
    """log y at the MP edges, y± = s (1 ± √γ)² = (√s ± √b)², and where the right tail's route starts."""
    lo, hi = (np.sqrt(s) - np.sqrt(b)) ** 2, (np.sqrt(s) + np.sqrt(b)) ** 2
    return np.log(lo), np.log(hi + 1.0)


def _log_cdf_left(v, s, b):
    """log F at v = log y ≤ log y₋ (1-d): the phase of U in closed form where its error bound is
    certified, the tail march elsewhere; (value, certified)."""
    val, ok = _log_cdf_phase(v, s, b)
    if not ok.all():
        val[~ok], ok[~ok] = _log_tail_march(v[~ok], s, b, right=False)
    return val, ok


def _log_sf_right(v, s, b):
    """log(1 − F) at v = log y in the right tail (1-d): U's series far out, else the tail march."""
    with np.errstate(over="ignore"):
        val, ok = _log_sf_far(np.exp(v), s, b)
    if not ok.all():
        val[~ok], ok[~ok] = _log_tail_march(v[~ok], s, b, right=True)
    return val, ok


def _log_cdf_sf_one(x, gamma, kappa):
    """(log F, log(1 − F), certified) at points x (1-d) of one finite (γ, κ)."""
    s, b = kappa / (2 * gamma), kappa / 2
    n = x.size
    lf = np.full(n, np.nan)
    ls = np.full(n, np.nan)
    ok = np.ones(n, dtype=bool)
    pos = x > 0
    lf[~pos], ls[~pos] = -np.inf, 0.0
    top = x == np.inf
    lf[top], ls[top] = 0.0, -np.inf
    with np.errstate(divide="ignore", over="ignore"):
        v = np.log(np.where(pos & ~top, x, 1.0)) + np.log(s)
    v_left, v_right = _edges_v(s, b)
    left = pos & ~top & (v <= v_left)
    right = pos & ~top & (v >= v_right)
    mid = pos & ~top & ~left & ~right
    if left.any():
        lf[left], ok[left] = _log_cdf_left(v[left], s, b)
        ls[left] = np.log1p(-np.exp(lf[left]))
    if right.any():
        ls[right], ok[right] = _log_sf_right(v[right], s, b)
        lf[right] = np.log1p(-np.exp(ls[right]))
    if mid.any():
        t = _table(gamma, kappa)
        if t is None:
            ok[mid] = False
        else:
            vm = np.clip(v[mid], t.v[0], t.v[-1])
            with np.errstate(divide="ignore"):
                lf[mid] = np.log(np.clip(t.cdf_v(vm), 0.0, 1.0))
                ls[mid] = np.log(np.clip(t.sf_v(vm), 0.0, 1.0))
    lf[~ok], ls[~ok] = np.nan, np.nan
    return lf, ls, ok


def _cdf_sf_one(x, gamma, kappa):
    """(F, 1 − F, certified) at points x (1-d) of one finite (γ, κ), the table serving the bulk."""
    s, b = kappa / (2 * gamma), kappa / 2
    F = np.full(x.size, np.nan)
    S = np.full(x.size, np.nan)
    ok = np.ones(x.size, dtype=bool)
    pos = x > 0
    F[~pos], S[~pos] = 0.0, 1.0
    top = x == np.inf
    F[top], S[top] = 1.0, 0.0
    inner = pos & ~top
    if not inner.any():
        return F, S, ok
    t = _table(gamma, kappa)
    if t is None:
        ok[inner] = False
        return F, S, ok
    v = np.log(np.where(inner, x, 1.0)) + np.log(s)
    below = inner & (v < t.v[0])
    above = inner & (v > t.v[-1])
    mid = inner & ~below & ~above
    F[above], S[above] = 1.0, 0.0  # 1 − F < e^(−800) there: 0 is its nearest double
    if mid.any():
        F[mid] = np.clip(t.cdf_v(v[mid]), 0.0, 1.0)
        S[mid] = np.clip(t.sf_v(v[mid]), 0.0, 1.0)
    if below.any():
        if t.f0 == 0.0:  # the density had died before y = Y_LO: F there < e^(−800)
            F[below], S[below] = 0.0, 1.0
        else:
            lf, ok[below] = _log_cdf_left(v[below], s, b)
            F[below], S[below] = np.exp(lf), -np.expm1(lf)
    F[~ok], S[~ok] = np.nan, np.nan
    return F, S, ok


def _solve_one(q, gamma, kappa, upper):
    """x with F(x) = q (``upper=False``) or 1 − F(x) = q (``upper=True``), 0 < q < 1, (value, certified).

    The table brackets the root in one sub-panel, where safeguarded Newton steps in v = log y
    (bisection whenever a step leaves the bracket) finish it.  Below the table (the mass under
    y = Y_LO, most of it for κ → 0) the root of log F(v) = log q is found by regula falsi on the
    phase formula, in v, so that quantiles below the smallest double come out as 0 (their
    nearest double) rather than as a clamp.
    """
    s, b = kappa / (2 * gamma), kappa / 2
    q = np.asarray(q, float)
    out = np.full(q.shape, np.nan)
    ok = np.ones(q.shape, dtype=bool)
    t = _table(gamma, kappa)
    if t is None:
        return out, ~ok
    lower_q = 1.0 - q if upper else q  # F at the root (only for the left tail, where F is small)
    in_left = (q > t.S[0]) if upper else (q < t.C[0])
    mid = ~in_left
    if mid.any():
        qm = q[mid]
        if upper:
            k = t.S.size - 1 - np.searchsorted(t.S[::-1], qm, side="left")
        else:
            k = np.searchsorted(t.C, qm, side="right") - 1
        k = np.clip(k, 0, t.v.size - 2)
        lo, hi = t.v[k].copy(), t.v[k + 1].copy()
        f = (lambda v: t.sf_v(v)) if upper else (lambda v: t.cdf_v(v))
        sign = -1.0 if upper else 1.0
        v = 0.5 * (lo + hi)
        for _ in range(100):
            g = sign * (f(v) - qm)  # increasing in v
            lo = np.where(g < 0, v, lo)
            hi = np.where(g < 0, hi, v)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                vn = v - g / t.density_v(v)
            good = np.isfinite(vn) & (vn > lo) & (vn < hi)
            vn = np.where(good, vn, 0.5 * (lo + hi))
            # to a few ulps of v: where the density of v is steep (κ large, near the MP edges)
            # an error δv is one of δv·d log q/dv ~ 10³ δv in q
            ulps = 8 * np.finfo(float).eps * np.maximum(1.0, np.abs(v))
            done = np.abs(vn - v) <= ulps
            v = vn
            if np.all(done | (hi - lo <= ulps)):
                break
        out[mid] = v
    if in_left.any():
        target = np.log(lower_q[in_left]) if not upper else np.log1p(-q[in_left])
        out[in_left], ok[in_left] = _solve_left(target, s, b, t)
    with np.errstate(under="ignore"):
        return np.exp(out) / s, ok


def _solve_left(target, s, b, t):
    """v with log F(v) = target < log F(v[0]) of the table ``t`` (regula falsi, Illinois)."""
    hi = np.full(target.shape, t.v[0])
    f_hi = np.full(target.shape, np.log(t.C[0])) - target  # > 0
    eps = s - b
    # F ~ y^ε far left: step down until below the target
    lo = hi - (f_hi / max(eps, 1e-300)) * 1.5 - 1.0
    ok = np.ones(target.shape, dtype=bool)
    for _ in range(60):
        val, okv = _log_cdf_left(lo, s, b)
        f_lo = val - target
        ok &= okv
        if np.all(~ok | (f_lo < 0)):
            break
        lo = np.where(f_lo < 0, lo, hi - 4 * (hi - lo))
    side = np.zeros(target.shape, dtype=int)  # which end the last step replaced (+1: hi)
    v = lo
    for _ in range(200):
        with np.errstate(divide="ignore", invalid="ignore"):
            v = (lo * f_hi - hi * f_lo) / (f_hi - f_lo)  # the secant's root (f_lo < 0 < f_hi)
        v = np.where((v > lo) & (v < hi), v, 0.5 * (lo + hi))
        fv, okv = _log_cdf_left(v, s, b)
        ok &= okv
        fv = fv - target
        pos = fv > 0
        # Illinois: when the same end is replaced twice running, halve the value kept at the other
        f_lo = np.where(pos, np.where(side == 1, 0.5 * f_lo, f_lo), fv)
        f_hi = np.where(pos, fv, np.where(side == -1, 0.5 * f_hi, f_hi))
        lo = np.where(pos, lo, v)
        hi = np.where(pos, v, hi)
        side = np.where(pos, 1, -1)
        if np.all(~ok | (hi - lo <= 1e-14 * np.maximum(1.0, np.abs(v))) | (np.abs(fv) <= 1e-15)):
            break
    return np.where(ok, v, np.nan), ok


def _by_pairs(func, what, x, gamma, kappa, mp_func, n_out):
    """Apply func(x_subset, γ, κ) -> (*values, certified) per distinct finite (γ, κ); κ = ∞ by
    mp_func(x, γ) -> values.  Uncertified values are NaN, with one HTMPAccuracyWarning."""
    x, gamma, kappa = np.broadcast_arrays(*(np.asarray(v, float) for v in (x, gamma, kappa)))
    outs = [np.full(x.shape, np.nan) for _ in range(n_out)]
    bad = np.zeros(x.shape, dtype=bool)
    mp_ = ~np.isfinite(kappa)
    if mp_.any():
        vals = mp_func(x[mp_], gamma[mp_])
        for o, val in zip(outs, vals, strict=True):
            o[mp_] = val
    for g, k, mask in _pairs(gamma, kappa):
        *vals, ok = func(x[mask], g, k)
        for o, val in zip(outs, vals, strict=True):
            o[mask] = val
        bad[mask] = ~ok
    _warn_uncertified(what, bad)
    return outs


def _mp_log_cdf_sf(x, gamma):
    F, S = _mp_cdf_sf(x, gamma)
    with np.errstate(divide="ignore"):
        return np.log(F), np.log(S)


def htmp_logcdf(x, gamma, kappa):
    r"""log F(x), F the distribution function of the standard (mean-1) direct-form HTMP(γ, κ) law.

    Accurate in log space where F underflows: the left tail (x below the lower MP edge
    (1 − √γ)²) by the phase of U, F = arg U(κ/2, −a, −y − i0)/(π κ/2) with y = κ x/(2γ), whose
    imaginary part is in closed form and whose real part comes from the connection formula
    (ε = κ(1 − γ)/(2γ) < 0.95) or from the density; where that is not certified, by integrating the
    density outward from x along one Riccati march, in log space.  Neither builds the per-(γ, κ)
    table, so one point deep in the left tail costs well under a millisecond (phase formula) to a
    few milliseconds (march): meant for a censored likelihood at a new κ on every call.  In the
    bulk, log of the table's F (``htmp.cdf``); in the right tail log1p(−(1 − F)) from
    :func:`htmp_logsf`'s routes.

    Parameters
    ----------
    x : array_like
        Points (x ≤ 0 gives −inf).
    gamma : float
        Aspect ratio, 0 < γ < 1.
    kappa : float
        Repulsion κ > 0; ``numpy.inf`` gives Marchenko–Pastur's (−inf below its support).

    Returns
    -------
    numpy.ndarray
        log F(x), the shape of x.

    Raises
    ------
    ValueError
        If gamma is outside (0, 1) or kappa is not positive.

    Warns
    -----
    HTMPAccuracyWarning
        If some values could not be certified (they are NaN).
    """
    gamma, kappa = _check_params(gamma, kappa)
    return _by_pairs(_log_cdf_sf_one, "log CDF", x, gamma, kappa, _mp_log_cdf_sf, 2)[0]


def htmp_logsf(x, gamma, kappa):
    r"""log(1 − F(x)) of the standard (mean-1) direct-form HTMP(γ, κ) law.

    Accurate in log space where 1 − F underflows (1e-1000 and beyond): in the right tail
    (y = κ x/(2γ) beyond (√s + √b)² + 1, i.e. past the upper MP edge (1 + √γ)²) far out from the
    asymptotic series of U (density ~ y^(a+κ) e^(−y)) integrated by Gauss–Laguerre, nearer by
    integrating the density outward from x along one Riccati march in log space; neither builds
    the per-(γ, κ) table.  In the bulk, log of the table's 1 − F (``htmp.sf``); in the left tail
    log1p(−F) from :func:`htmp_logcdf`'s routes.

    Parameters
    ----------
    x : array_like
        Points (x ≤ 0 gives 0).
    gamma : float
        Aspect ratio, 0 < γ < 1.
    kappa : float
        Repulsion κ > 0; ``numpy.inf`` gives Marchenko–Pastur's (−inf above its support).

    Returns
    -------
    numpy.ndarray
        log(1 − F(x)), the shape of x.

    Raises
    ------
    ValueError
        If gamma is outside (0, 1) or kappa is not positive.

    Warns
    -----
    HTMPAccuracyWarning
        If some values could not be certified (they are NaN).
    """
    gamma, kappa = _check_params(gamma, kappa)
    return _by_pairs(_log_cdf_sf_one, "log SF", x, gamma, kappa, _mp_log_cdf_sf, 2)[1]


#: from this κ on, cdf, sf, ppf and isf are Marchenko–Pastur's: measured sup_x |F_HTMP − F_MP| · κ
#: = 0.46–0.496 for κ = 10⁴…10⁷ and γ = 0.1…0.9 (rising towards 1/2), so below 5e-9 here
KAPPA_MP = 1e8


def _mp_beyond(kappa):
    kappa = np.asarray(kappa, float)
    return np.where(kappa >= KAPPA_MP, np.inf, kappa)


def _direct_cdf_sf(x, g, k):
    return _by_pairs(_cdf_sf_one, "CDF", x, g, _mp_beyond(k), _mp_cdf_sf, 2)


def _mp_ppf(q, gamma):
    return (marchenko_pastur._ppf(np.asarray(q, float), np.asarray(gamma, float)),)


def _direct_ppf(q, g, k):
    return _by_pairs(
        lambda qq, gg, kk: _solve_one(qq, gg, kk, False), "ppf", q, g, _mp_beyond(k), _mp_ppf, 1
    )[0]


def _direct_isf(q, g, k):
    return _by_pairs(
        lambda qq, gg, kk: _solve_one(qq, gg, kk, True),
        "isf",
        q,
        g,
        _mp_beyond(k),
        lambda qq, gg: _mp_ppf(1 - qq, gg),
        1,
    )[0]


def _inverse_moments(gamma, kappa):
    """(E Λ, Var Λ) for Λ = 1/X, X ~ HTMP(γ, κ); inf where the moment diverges, nan for Var if E Λ = inf."""
    gamma, kappa = np.broadcast_arrays(np.asarray(gamma, float), np.asarray(kappa, float))
    fin = np.isfinite(kappa)
    kf = np.where(fin, kappa, 1.0)
    s, b = kf / (2 * gamma), kf / 2
    a = s - b - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        m1 = np.where(a > 0, s / a, np.inf)
        m2 = np.where(a > 1, s**2 * (a + b) / (a**2 * (a - 1)), np.inf)
        var = np.where(a > 1, m2 - m1**2, np.where(a > 0, np.inf, np.nan))
    # κ = ∞: inverse MP, E Λ = 1/(1 − γ), Var Λ = γ/(1 − γ)³
    m1 = np.where(fin, m1, 1 / (1 - gamma))
    var = np.where(fin, var, gamma / (1 - gamma) ** 3)
    return m1, var


class htmp_gen(stats.rv_continuous):
    r"""HTMP(γ, κ), the standard direct form with mean 1 (Hodgkinson, Wang & Mahoney 2025).

    .. math::

        f(x; \gamma, \kappa) = \frac{s\, y^{a} e^{-y}}{\Gamma(\kappa/2 + 1)\,\Gamma(s)\,
        |U(\kappa/2, -a, -y)|^{2}},\qquad s = \frac{\kappa}{2\gamma},\ a = s - \frac{\kappa}{2} - 1,\ y = s x,

    for x > 0, 0 < γ < 1, κ > 0 (``kappa=numpy.inf``: Marchenko–Pastur MP(γ), unit mean).
    Mean 1, variance γ(1 + 2/κ).  ``loc`` and ``scale`` act as in scipy.stats.  See the module
    docstring for the numerical method; :func:`htmp_logpdf`, :func:`htmp_logcdf` and
    :func:`htmp_logsf` are the same functions as plain functions.  ``cdf``, ``sf``, ``ppf`` and
    ``isf`` are accurate to 1e-8 or better (tested for κ up to 10⁶); a value that cannot be
    certified is NaN with an ``HTMPAccuracyWarning``.

    References
    ----------
    L. Hodgkinson, Z. Wang, M. W. Mahoney, arXiv:2506.03470 (ICML 2025), §1 of
    ``/work/shared/reference/htmp-facts.md``.
    """

    def _argcheck(self, gamma, kappa):
        return (gamma > 0) & (gamma < 1) & (kappa > 0)

    def _logpdf(self, x, gamma, kappa):
        return _logpdf_core(x, gamma, kappa)

    def _pdf(self, x, gamma, kappa):
        return np.exp(_logpdf_core(x, gamma, kappa))

    def _cdf(self, x, gamma, kappa):
        return _direct_cdf_sf(x, gamma, kappa)[0]

    def _sf(self, x, gamma, kappa):
        return _direct_cdf_sf(x, gamma, kappa)[1]

    def _logcdf(self, x, gamma, kappa):
        return _by_pairs(_log_cdf_sf_one, "log CDF", x, gamma, kappa, _mp_log_cdf_sf, 2)[0]

    def _logsf(self, x, gamma, kappa):
        return _by_pairs(_log_cdf_sf_one, "log SF", x, gamma, kappa, _mp_log_cdf_sf, 2)[1]

    def _ppf(self, q, gamma, kappa):
        return _direct_ppf(q, gamma, kappa)

    def _isf(self, q, gamma, kappa):
        return _direct_isf(q, gamma, kappa)

    def _stats(self, gamma, kappa):
        gamma, kappa = np.broadcast_arrays(np.asarray(gamma, float), np.asarray(kappa, float))
        return np.ones(gamma.shape), gamma * (1 + 2 / kappa), None, None


class invhtmp_gen(stats.rv_continuous):
    r"""Inverse-form HTMP(γ, κ): the law of Λ = 1/X for X ~ ``htmp(γ, κ)`` (Theorem 4.1).

    .. math:: f(\lambda; \gamma, \kappa) = \lambda^{-2}\, \rho(1/\lambda; \gamma, \kappa),\quad \lambda > 0,

    with an upper power-law tail λ^(−(1 + κ/(2γ) − κ/2)).  With a = κ/(2γ) − κ/2 − 1 and
    s = κ/(2γ): E Λ = s/a (a > 0, else inf), E Λ² = s²(a + κ/2)/(a²(a − 1)) (a > 1, else inf),
    from the Stieltjes transform at 0.  κ = inf gives inverse MP: mean 1/(1 − γ),
    variance γ/(1 − γ)³.
    """

    def _argcheck(self, gamma, kappa):
        return (gamma > 0) & (gamma < 1) & (kappa > 0)

    def _logpdf(self, x, gamma, kappa):
        x = np.asarray(x, float)
        with np.errstate(divide="ignore"):
            xi = np.where(x > 0, 1 / np.where(x > 0, x, 1.0), -1.0)
            return np.where(x > 0, _logpdf_core(xi, gamma, kappa) - 2 * np.log(np.abs(x)), -np.inf)

    def _pdf(self, x, gamma, kappa):
        return np.exp(self._logpdf(x, gamma, kappa))

    def _cdf(self, x, gamma, kappa):
        return _direct_cdf_sf(1 / np.asarray(x, float), gamma, kappa)[1]

    def _sf(self, x, gamma, kappa):
        return _direct_cdf_sf(1 / np.asarray(x, float), gamma, kappa)[0]

    def _logcdf(self, x, gamma, kappa):
        return _by_pairs(
            _log_cdf_sf_one, "log CDF", 1 / np.asarray(x, float), gamma, kappa, _mp_log_cdf_sf, 2
        )[1]

    def _logsf(self, x, gamma, kappa):
        return _by_pairs(
            _log_cdf_sf_one, "log SF", 1 / np.asarray(x, float), gamma, kappa, _mp_log_cdf_sf, 2
        )[0]

    def _ppf(self, q, gamma, kappa):
        return 1 / _direct_isf(q, gamma, kappa)

    def _isf(self, q, gamma, kappa):
        return 1 / _direct_ppf(q, gamma, kappa)

    def _stats(self, gamma, kappa):
        m, v = _inverse_moments(gamma, kappa)
        return m, v, None, None


htmp = htmp_gen(a=0.0, name="htmp", shapes="gamma, kappa")
invhtmp = invhtmp_gen(a=0.0, name="invhtmp", shapes="gamma, kappa")


def stieltjes(z, gamma, kappa, dps: int = 30):
    r"""Stieltjes transform G(z) = ∫ ρ(t) / (t − z) dt of the direct-form HTMP(γ, κ) law.

    In y = s x the transform is U(b + 1, 1 − a, −z_y) / U(b, −a, −z_y) (htmp-facts §1); in x,

    .. math:: G(z) = s\, \frac{U(\kappa/2 + 1,\, 1 - a,\, -s z)}{U(\kappa/2,\, -a,\, -s z)},

    analytic off [0, ∞); on the support pass ``z = x + 1e-30j`` for the limit from above
    (Im G(x + i0) = π ρ(x)).  G(0⁻) = E[1/X] = s/a.  Evaluated with ``mpmath.hyperu`` at ``dps``
    digits, point by point: a reference-grade helper, not for hot loops.  κ = inf gives the
    MP transform (1 − γ − z − √((z − 1 − γ)² − 4γ)) / (2γz), branch with G ~ −1/z.

    Parameters
    ----------
    z : array_like of complex
        Points off [0, ∞).
    gamma, kappa : float
        Shape parameters (0 < γ < 1, κ > 0 or inf).
    dps : int
        mpmath working digits.

    Returns
    -------
    numpy.ndarray of complex
    """
    import mpmath as mp

    gamma, kappa = _check_params(gamma, kappa)
    g, k = float(gamma), float(kappa)
    z = np.asarray(z, complex)
    if not np.isfinite(k):
        sq = np.sqrt((z - 1 - g) ** 2 - 4 * g + 0j)
        G = (1 - g - z - sq) / (2 * g * z)
        G2 = (1 - g - z + sq) / (2 * g * z)
        # pick the branch with Im G > 0 for Im z > 0 (Herglotz) and G ~ −1/z at infinity
        pick = np.where(np.abs(z * G + 1) < np.abs(z * G2 + 1), G, G2)
        return pick

    def one(zz):
        with mp.workdps(dps):
            s = mp.mpf(k) / (2 * mp.mpf(g))
            b = mp.mpf(k) / 2
            a = s - b - 1
            w = -s * mp.mpc(zz)
            return complex(s * mp.hyperu(b + 1, 1 - a, w) / mp.hyperu(b, -a, w))

    return np.vectorize(one, otypes=[complex])(z)
