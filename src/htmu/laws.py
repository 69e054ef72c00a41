r"""The HTMP law of Hodgkinson, Wang & Mahoney (arXiv 2506.03470) as scipy.stats laws.

Parametrisation
---------------
Aspect ratio ``0 < gamma < 1`` (γ) and eigenvalue repulsion ``kappa > 0`` (κ); put

.. math::

    s = \kappa/(2\gamma),\quad b = \kappa/2,\quad a = \kappa/(2\gamma) - \kappa/2 - 1
    \;(a + b + 1 = s),\quad y = s x .

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

How |U|² is computed (``htmu._hyperu``): by Kummer's transformation and the Laplace integral
``U(b, c, z) = z^(1−c)/Γ(s) ∫ e^(−zt) t^(s−1) (1+t)^(−b) dt`` along a ray of the upper-left
quadrant chosen per point (steepest-descent-like, from the closed-form stationary points of the
integrand), Gauss–Legendre on sinh-mapped pieces, adaptive order, all in log space.  No per-point
mpmath, no per-parameter tables, no breakdown at integer c = −a (γ = 0.5, κ = 2) or large |c|.
When a call has at least ``FAST_MIN_POINTS`` points of one (γ, κ) (a likelihood), the density
comes instead from one march of a Riccati equation along log y (``htmu._riccati``): the
logarithmic derivative h of U on the cut gives log|U| through its real part and the density
through the Wronskian identity Im h = y W/|U|², and is solved by Newton–Chebyshev collocation on
panels from one independently computed point, so the cost of a call does not grow with its
points (about 0.6–6 ms per call for κ ≤ 100, ``benchmarks/bench_laws.py``).  If the march cannot
certify a panel it gives way to adaptive Chebyshev panels on quadrature nodes
(``htmu._fastlogpdf``), which give way to the per-point quadrature.

The CDF is built per (γ, κ) by Gauss–Legendre quadrature of the density on panels in log x
(cached for the last few parameter pairs), with the exact power-law behaviour below y = 10⁻¹²
and the exponential tail asymptotics beyond the point where the density underflows; ``ppf`` and
``isf`` bracket the root with that table and finish with safeguarded Newton steps.

References
----------
L. Hodgkinson, Z. Wang, M. W. Mahoney, "Models of Heavy-Tailed Mechanistic Universality",
ICML 2025, arXiv:2506.03470.
DLMF §13.2, §13.4 (Kummer's transformation and integral representations of U).
"""

from __future__ import annotations

import warnings
from functools import lru_cache

import numpy as np
from numpy.polynomial.legendre import leggauss
from scipy import stats
from scipy.special import gammaln

from htmu._fastlogpdf import log_abs_integral_panels
from htmu._hyperu import log_abs_integral
from htmu._riccati import MarchFailed, htmp_logpdf_march, log_abs_integral_march

__all__ = [
    "HTMPAccuracyWarning",
    "htmp",
    "htmp_logpdf",
    "invhtmp",
    "marchenko_pastur",
    "mp_logpdf",
    "stieltjes",
]


class HTMPAccuracyWarning(RuntimeWarning):
    """The quadrature for |U| did not reach its tolerance at some points."""


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


def _mp_cdf(x, gamma):
    # x = 1 + γ + 2√γ cos θ turns ρ dx into 2 sin²θ / (π (A + B cos θ)) dθ, A = 1 + γ, B = 2√γ
    x, gamma = np.broadcast_arrays(np.asarray(x, float), np.asarray(gamma, float))
    lo, hi = _mp_edges(gamma)
    r = np.sqrt(gamma)
    A, B = 1 + gamma, 2 * r
    ct = np.clip((x - A) / np.where(B > 0, B, 1.0), -1.0, 1.0)
    th = np.arccos(ct)

    def H(t):
        at = np.arctan((1 - r) / (1 + r) * np.tan(t / 2)) if np.ndim(t) else None
        return (A * t - B * np.sin(t)) / B**2 - (1 - gamma) / (2 * gamma) * at

    with np.errstate(divide="ignore"):  # tan(π/2) = inf gives arctan = π/2, as wanted
        Hpi = (A * np.pi) / B**2 - (1 - gamma) / (2 * gamma) * (np.pi / 2)
        Ht = H(np.atleast_1d(th)).reshape(th.shape)
    F = (2 / np.pi) * (Hpi - Ht)
    return np.where(x <= lo, 0.0, np.where(x >= hi, 1.0, np.clip(F, 0.0, 1.0)))


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
        # reflect through the symmetric θ-parametrisation: 1 − F evaluated directly is fine here
        return 1.0 - _mp_cdf(x, gamma)

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


#: from this many points of one (γ, κ) on, log|I| comes from one Riccati march along log y
#: (``htmu._riccati``) instead of a quadrature per point
FAST_MIN_POINTS = 16
#: below y = TINY_Y · s the per-point quadrature loses accuracy (its peak finder), so such points
#: take the march even when they are few
TINY_Y = 1e-25


def _march_pays(y, s):
    """Whether points y of one (s, b) go to the march rather than to the per-point quadrature."""
    return y.size >= FAST_MIN_POINTS or (y.size > 0 and y.min() < TINY_Y * s)


def _log_abs_integral(y, s, b):
    """log|I(y)| for 1-d arrays: one Riccati march when many points share (s, b).

    If the march cannot certify its result (``MarchFailed``), the points are served by adaptive
    Chebyshev panels whose nodes are computed by quadrature (``htmu._fastlogpdf``), which fall
    back on the per-point quadrature where they cannot certify themselves.  Conversely, points
    where the per-point quadrature cannot confirm its tolerance are recomputed by a march of
    their (s, b) (κ ≈ 10³ just outside the MP edges: off by 0.24 in log ρ otherwise); only what
    neither method certifies is reported as unconfirmed.
    """
    if s.min() == s.max() and b.min() == b.max() and _march_pays(y, s[0]):
        try:
            return log_abs_integral_march(y, float(s[0]), float(b[0]))
        except MarchFailed:
            return log_abs_integral_panels(y, float(s[0]), float(b[0]))
    val, ok = log_abs_integral(y, s, b)
    if not ok.all():
        pairs = np.unique(np.stack([s[~ok], b[~ok]], 1), axis=0)
        for s_, b_ in pairs:
            sel = ~ok & (s == s_) & (b == b_)
            try:
                val[sel], ok[sel] = log_abs_integral_march(y[sel], float(s_), float(b_))
            except MarchFailed:
                pass
    return val, ok


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


def _logpdf_core(x, gamma, kappa):
    """Direct-form log density, elementwise over broadcast arrays (parameters assumed valid)."""
    if np.ndim(gamma) == 0 and np.ndim(kappa) == 0 and np.isfinite(kappa):
        # the common case (a likelihood): many points of one (γ, κ), one Riccati march
        x = np.asarray(x, dtype=float)
        s, b = float(kappa) / (2 * float(gamma)), float(kappa) / 2
        y_far = Y_FAR * (b + 2) * (s + 2)
        all_near = x.ndim == 1 and x.size >= FAST_MIN_POINTS and x.min() > 0 and s * x.max() < y_far
        if all_near:
            try:  # every point inside the march's range (the usual case: skip the masks)
                return htmp_logpdf_march(x, s, b)
            except MarchFailed:
                pass  # to the general path below (not the masked march: same points, same failure)
        with np.errstate(over="ignore"):
            y = s * x
        inside = (x > 0) & (x < np.inf)
        far = inside & (y >= y_far)
        near = inside & ~far
        if not all_near and _march_pays(y[near], s):
            try:
                out = np.full(x.shape, -np.inf)
                out[near] = htmp_logpdf_march(x[near], s, b)
                if far.any():
                    out[far] = _logpdf_far(y[far], s, b)
                return out
            except MarchFailed:
                pass  # the general path below (quadrature-backed panels)
    x, gamma, kappa = np.broadcast_arrays(*(np.asarray(v, float) for v in (x, gamma, kappa)))
    out = np.full(x.shape, -np.inf)
    fin = np.isfinite(kappa)
    mp = ~fin & (x > 0)
    if mp.any():
        out[mp] = mp_logpdf(x[mp], gamma[mp])
    sel = fin & (x > 0) & np.isfinite(x)
    if sel.any():
        g, k, xx = gamma[sel], kappa[sel], x[sel]
        s, b = k / (2 * g), k / 2
        with np.errstate(over="ignore"):
            y = s * xx
        far = y >= Y_FAR * (b + 2) * (s + 2)
        vals = np.empty(y.shape)
        if far.any():
            vals[far] = _logpdf_far(y[far], s[far], b[far])
        near = ~far
        if near.any():
            s, b, y = s[near], b[near], y[near]
            li, ok = _log_abs_integral(y, s, b)
            # log ρ = log s + a log y − y − lnΓ(b+1) − lnΓ(s) − 2 log|U|,  log|U| = (s−b) log y − lnΓ(s) + log|I|
            vals[near] = np.log(s) - (s - b + 1) * np.log(y) - y - gammaln(b + 1) + gammaln(s) - 2 * li
            if not ok.all():
                warnings.warn(
                    f"HTMP density: quadrature tolerance not met at {np.sum(~ok)} of {ok.size} points",
                    HTMPAccuracyWarning,
                    stacklevel=3,
                )
        out[sel] = vals
    return out


def htmp_logpdf(x, gamma, kappa):
    r"""log density of the standard (mean-1) direct-form HTMP(γ, κ) law, vectorised.

    .. math::

        \log\rho(x) = \log s + a\log y - y - \log\Gamma(b + 1) - \log\Gamma(s) - 2\log|U(b, -a, -y)|

    with s = κ/(2γ), b = κ/2, a = s − b − 1, y = s x (Hodgkinson, Wang & Mahoney,
    arXiv:2506.03470).  No cache across calls (a new (γ, κ) on every call costs the same): meant
    for likelihood optimisation.  A call with at least ``FAST_MIN_POINTS`` points of one (γ, κ)
    solves one Riccati equation along log y for all of them (``htmu._riccati``): 0.6–6 ms per
    call for κ ≤ 100 and 1000 points, about 20 ms at κ = 10³ (``benchmarks/bench_laws.py``).
    Fewer points, or points whose (γ, κ) differ, take the per-point quadrature (``htmu._hyperu``,
    about 0.2–0.5 ms per point).  Accurate to about 1e-10 absolute in log ρ for 0 < γ < 1,
    10⁻³ ≤ κ ≤ 10³ (tested against 40-digit mpmath on a grid covering integer c, large |c| and
    both tails).  Points where the per-point quadrature cannot confirm 1e-9 (κ ≈ 10³ just outside
    the MP edges) are recomputed by the march, and points with y = s x < ``TINY_Y``·s go to it
    directly; beyond y = ``Y_FAR``(b + 2)(s + 2) U's asymptotic series is used.  Only a value no
    method certifies is returned with an ``HTMPAccuracyWarning`` saying at how many points.

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
        If neither the quadrature nor the march certifies some points.
    """
    gamma, kappa = _check_params(gamma, kappa)
    return _logpdf_core(x, gamma, kappa)


# ---------------------------------------------------------------------------------------------
# CDF table per (γ, κ)
# ---------------------------------------------------------------------------------------------

_NGL = 16
_H_COARSE = 0.25  # panel width in log x over the tails
_XG, _WG = leggauss(_NGL)


def _panel_integral(v0, v1, gamma, kappa):
    """∫_{e^v0}^{e^v1} ρ(x) dx = ∫ ρ(e^v) e^v dv by Gauss–Legendre (arrays v0, v1)."""
    v0, v1 = np.asarray(v0, float), np.asarray(v1, float)
    half = 0.5 * (v1 - v0)
    v = v0[..., None] + half[..., None] * (_XG + 1)
    lp = _logpdf_core(np.exp(v), gamma, kappa)
    return half * (np.exp(lp + v) * _WG).sum(-1)


# Legendre transform on the Gauss nodes: nodal values -> Legendre coefficients (degree NGL − 1)
_LEG_T = (np.arange(_NGL)[:, None] + 0.5) * np.polynomial.legendre.legvander(_XG, _NGL - 1).T * _WG


def _panel_antiderivatives(v0, v1, gamma, kappa):
    """Per panel: the integral, and Legendre coefficients of ∫_{−1}^{t} (ρ e^v)(half) dt'.

    The density times e^v is interpolated at the 16 Gauss nodes of each panel and integrated
    exactly, so F inside a panel is a polynomial evaluation (no further density calls); its error
    is that of the Gauss rule on the panel.
    """
    half = 0.5 * (v1 - v0)
    v = v0[:, None] + half[:, None] * (_XG + 1)
    vals = np.exp(_logpdf_core(np.exp(v), gamma, kappa) + v) * half[:, None]
    coef = vals @ _LEG_T.T  # (panels, NGL) Legendre coefficients of the integrand in t
    anti = np.polynomial.legendre.legint(coef, lbnd=-1, axis=1)
    return (vals * _WG).sum(-1), coef, anti


def _legval_rows(t, coefs):
    """Legendre series with per-row coefficients coefs[i] evaluated at t[i] (Clenshaw)."""
    t = np.asarray(t, float)
    b1 = np.zeros(t.shape)
    b2 = np.zeros(t.shape)
    n = coefs.shape[-1]
    for j in range(n - 1, 0, -1):
        b1, b2 = coefs[..., j] + (2 * j + 1) / (j + 1) * t * b1 - (j + 1) / (j + 2) * b2, b1
    return coefs[..., 0] + t * b1 - 0.5 * b2


def _left_cdf(x, gamma, kappa):
    """F(x) for y = s x ≤ 1e-12 (array x, scalars γ, κ), by the phase formula.

    F(x) = (2/(πκ)) [arg U(b, c, −y − i0) − arg U(b, c, −i0)] (htmp-facts §1; the density is the
    derivative of the phase because the Wronskian of the Kummer equation is ∝ y^a e^(−y)).  Here
    U(−i0) = Γ(s − b)/Γ(s) > 0 and arg U(−y − i0) = arg I − π(s − b); for tiny y the phase change
    is below π, so the principal argument is the unwrapped one.  Accurate in absolute terms
    (≈ 1e-15/(πb)), which is what the tables need: for κ → 0 most of the mass lies below y = 1e-12.
    """
    s, b = kappa / (2 * gamma), kappa / 2
    x = np.asarray(x, float)
    y = s * x
    if s - b >= 1:
        # a + 1 ≥ 1: ρ = K x^a (1 + O(y)) and F = x ρ(x)/(a + 1) (1 + O(y)) holds to ~1e-12
        # *relative* accuracy, better than the phase in the far tail where F is tiny
        return x * np.exp(_logpdf_core(x, gamma, kappa)) / (s - b)
    _, _, arg = log_abs_integral(y, np.full(y.shape, s), np.full(y.shape, b), return_arg=True)
    d = np.angle(np.exp(1j * (arg - np.pi * (s - b))))
    return np.abs(d) / (np.pi * b)


class _CdfTable:
    """Cumulative integrals of ρ on a log-x grid, for one finite (γ, κ)."""

    Y_LO = 1e-12

    def __init__(self, gamma: float, kappa: float):
        self.gamma, self.kappa = gamma, kappa
        s, b = kappa / (2 * gamma), kappa / 2
        self.s, self.b, self.a = s, b, s - b - 1
        self.v_lo = np.log(self.Y_LO / s)
        # right end: scan outward from the mean until log ρ < −760 (ρ underflows beyond)
        v_hi = 0.0
        while v_hi < 80.0:
            chunk = v_hi + 0.25 * np.arange(1, 9)
            lp = _logpdf_core(np.exp(chunk), gamma, kappa)
            below = np.nonzero(lp < -760)[0]
            if below.size:
                v_hi = chunk[below[0]]
                break
            v_hi = chunk[-1]
        self.v_hi = v_hi
        # panels: fine over the bulk (around the MP edges, where large κ makes the density steep),
        # coarse over the smooth power-law / exponential tails
        lo_e, hi_e = _mp_edges(gamma)
        f0 = max(self.v_lo, np.log(0.5 * lo_e))
        f1 = min(self.v_hi, np.log(2.0 * hi_e))
        h_fine = 0.02 if kappa >= 100 else 0.05

        def grid(a, b_, h):
            return np.linspace(a, b_, max(int(np.ceil((b_ - a) / h)), 1) + 1)

        parts = [grid(self.v_lo, f0, _H_COARSE), grid(f0, f1, h_fine), grid(f1, self.v_hi, _H_COARSE)]
        self.v = np.unique(np.concatenate(parts))
        panels, self.coef, self.anti = _panel_antiderivatives(self.v[:-1], self.v[1:], gamma, kappa)
        self.left = float(_left_cdf(np.array([np.exp(self.v_lo)]), gamma, kappa)[0])
        self.right = float(self._right_tail(np.exp(self.v_hi)))
        self.C = self.left + np.concatenate([[0.0], np.cumsum(panels)])
        self.S = self.right + np.concatenate([np.cumsum(panels[::-1])[::-1], [0.0]])
        self.total = self.C[-1] + self.right

    def _right_tail(self, x):
        # ∫_x^∞ ρ with ρ ∝ y^p e^(−y), p = a + κ: ρ(x) x / (y − p) (leading term, y ≫ p);
        # only used where ρ < e^(−760), i.e. for values that underflow anyway
        y = self.s * x
        p = self.a + self.kappa
        lp = _logpdf_core(x, self.gamma, self.kappa)
        return np.exp(lp) * x / np.maximum(y - p, 1.0)

    def _index(self, x):
        v = np.log(x)
        return np.clip(np.searchsorted(self.v, v, side="right") - 1, 0, self.v.size - 2), v

    def _split(self, x):
        x = np.asarray(x, float)
        pos = x > 0
        xp = np.where(pos, x, 1.0)
        low = pos & (xp < np.exp(self.v_lo))
        high = pos & (xp >= np.exp(self.v_hi))
        mid = pos & ~low & ~high
        return x, pos, low, mid, high

    def cdf(self, x):
        x, pos, low, mid, high = self._split(x)
        out = np.zeros(x.shape)
        if low.any():
            out[low] = _left_cdf(x[low], self.gamma, self.kappa)
        if high.any():
            out[high] = 1.0 - self._right_tail(x[high])
        if mid.any():
            k, v = self._index(x[mid])
            out[mid] = self.C[k] + self._partial(k, v)
        return np.clip(out, 0.0, 1.0)

    def sf(self, x):
        x, pos, low, mid, high = self._split(x)
        out = np.ones(x.shape)
        if low.any():
            out[low] = 1.0 - _left_cdf(x[low], self.gamma, self.kappa)
        if high.any():
            out[high] = self._right_tail(x[high])
        if mid.any():
            k, v = self._index(x[mid])
            out[mid] = self.S[k + 1] + (self.C[k + 1] - self.C[k]) - self._partial(k, v)
        return np.clip(out, 0.0, 1.0)

    def _partial(self, k, v):
        """∫ from the left edge of panel k to e^v of ρ, from the panel's interpolant."""
        t = 2 * (v - self.v[k]) / (self.v[k + 1] - self.v[k]) - 1
        return _legval_rows(t, self.anti[k])

    def density_v(self, v):
        """ρ(e^v) e^v from the panel interpolants (inside the table)."""
        k = np.clip(np.searchsorted(self.v, v, side="right") - 1, 0, self.v.size - 2)
        t = 2 * (v - self.v[k]) / (self.v[k + 1] - self.v[k]) - 1
        half = 0.5 * (self.v[k + 1] - self.v[k])
        return _legval_rows(t, self.coef[k]) / half

    def solve(self, q, upper):
        """x with cdf(x) = q (``upper=False``) or sf(x) = q (``upper=True``), 0 < q < 1.

        The table brackets the root in one panel (or in a tail beyond the table); safeguarded
        Newton steps in v = log x, with bisection whenever a step leaves the bracket, finish it.
        """
        q = np.asarray(q, float)
        lower_q = q if not upper else 1.0 - q  # only used to locate the bracket
        if upper:
            k = self.S.size - 1 - np.searchsorted(self.S[::-1], q, side="left")
        else:
            k = np.searchsorted(self.C, q, side="right") - 1
        kk = np.clip(k, 0, self.v.size - 2)
        lo, hi = self.v[kk].copy(), self.v[kk + 1].copy()
        left_tail = lower_q < self.C[0] if not upper else q > self.S[0]
        right_tail = q < self.S[-1] if upper else q > self.C[-1]
        # below the table the law is a power law x^(a+1): a generous bracket in log x
        # (for tiny κ, a + 1 is tiny and the root can lie below the smallest double: clamp at
        # x = 1e-250, a documented limitation of ppf for q below F(1e-250))
        span = 50.0 / max(self.a + 1, 1e-3)
        lo = np.where(left_tail, max(self.v_lo - span, np.log(1e-250)), lo)
        hi = np.where(left_tail, self.v_lo, hi)
        lo = np.where(right_tail, self.v_hi, lo)
        hi = np.where(right_tail, self.v_hi + 10.0, hi)
        f = (lambda v: self.sf(np.exp(v))) if upper else (lambda v: self.cdf(np.exp(v)))
        sign = -1.0 if upper else 1.0
        v = 0.5 * (lo + hi)
        for _ in range(200):
            g = sign * (f(v) - q)  # increasing in v
            lo = np.where(g < 0, v, lo)
            hi = np.where(g < 0, hi, v)
            inside = (v > self.v_lo) & (v < self.v_hi)
            dens = np.where(inside, self.density_v(np.clip(v, self.v_lo, self.v_hi)), np.nan)
            if (~inside).any():
                dens[~inside] = np.exp(_logpdf_core(np.exp(v[~inside]), self.gamma, self.kappa) + v[~inside])
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                vn = v - g / dens  # Newton; rejected below when it leaves the bracket
            ok = np.isfinite(vn) & (vn > lo) & (vn < hi)
            vn = np.where(ok, vn, 0.5 * (lo + hi))
            small = np.abs(vn - v) <= 1e-13 * np.maximum(1.0, np.abs(v))
            v = vn
            if np.all(small | (hi - lo <= 1e-13 * np.maximum(1.0, np.abs(v)))):
                break
        return np.exp(v)


@lru_cache(maxsize=16)
def _table(gamma: float, kappa: float) -> _CdfTable:
    return _CdfTable(gamma, kappa)


def _by_params(func, x, gamma, kappa):
    """Apply func(table, x_subset) for each distinct (γ, κ); κ = inf is handled by the caller."""
    x, gamma, kappa = np.broadcast_arrays(*(np.asarray(v, float) for v in (x, gamma, kappa)))
    out = np.empty(x.shape)
    pairs = np.stack([gamma.ravel(), kappa.ravel()], -1)
    uniq, inv = np.unique(pairs, axis=0, return_inverse=True)
    inv = inv.reshape(x.shape)
    for i, (g, k) in enumerate(uniq):
        sel = inv == i
        out[sel] = func(_table(float(g), float(k)), x[sel])
    return out


def _split_mp(x, gamma, kappa, finite_func, mp_func):
    x, gamma, kappa = np.broadcast_arrays(*(np.asarray(v, float) for v in (x, gamma, kappa)))
    out = np.empty(x.shape)
    fin = np.isfinite(kappa)
    if fin.any():
        out[fin] = _by_params(finite_func, x[fin], gamma[fin], kappa[fin])
    if (~fin).any():
        out[~fin] = mp_func(x[~fin], gamma[~fin])
    return out


def _mp_ppf(q, gamma):
    return marchenko_pastur._ppf(np.asarray(q, float), np.asarray(gamma, float))


def _direct_cdf(x, g, k):
    return _split_mp(x, g, k, lambda t, xx: t.cdf(xx), _mp_cdf)


def _direct_sf(x, g, k):
    return _split_mp(x, g, k, lambda t, xx: t.sf(xx), lambda xx, gg: 1.0 - _mp_cdf(xx, gg))


def _direct_ppf(q, g, k):
    return _split_mp(q, g, k, lambda t, qq: t.solve(qq, upper=False), _mp_ppf)


def _direct_isf(q, g, k):
    return _split_mp(q, g, k, lambda t, qq: t.solve(qq, upper=True), lambda qq, gg: _mp_ppf(1 - qq, gg))


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


# ---------------------------------------------------------------------------------------------
# The two laws
# ---------------------------------------------------------------------------------------------


class htmp_gen(stats.rv_continuous):
    r"""HTMP(γ, κ), the standard direct form with mean 1 (Hodgkinson, Wang & Mahoney 2025).

    .. math::

        f(x; \gamma, \kappa) = \frac{s\, y^{a} e^{-y}}{\Gamma(\kappa/2 + 1)\,\Gamma(s)\,
        |U(\kappa/2, -a, -y)|^{2}},\qquad s = \frac{\kappa}{2\gamma},\ a = s - \frac{\kappa}{2} - 1,\ y = s x,

    for x > 0, 0 < γ < 1, κ > 0 (``kappa=numpy.inf``: Marchenko–Pastur MP(γ), unit mean).
    Mean 1, variance γ(1 + 2/κ).  ``loc`` and ``scale`` act as in scipy.stats.  See the module
    docstring for the numerical method; :func:`htmp_logpdf` is the same density as a plain
    function.

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
        return _direct_cdf(x, gamma, kappa)

    def _sf(self, x, gamma, kappa):
        return _direct_sf(x, gamma, kappa)

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
        return _direct_sf(1 / np.asarray(x, float), gamma, kappa)

    def _sf(self, x, gamma, kappa):
        return _direct_cdf(1 / np.asarray(x, float), gamma, kappa)

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
