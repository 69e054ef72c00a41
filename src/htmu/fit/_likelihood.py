r"""The HTMP log-likelihood of a spectrum with a numerical floor, evaluated the way the fits need it.

One object per spectrum, :class:`Spectrum`: the eigenvalues above the floor (observed), normalised by a
reference value so that every fit is invariant to the data's units, and the number at or below the floor
(left-censored: known only to lie below it). Its log-likelihood in :math:`\theta = (\log\kappa, \log s)`,

* direct form (:math:`x/s \sim \mathrm{HTMP}(\gamma, \kappa)`):
  :math:`\ell = \sum_{\rm obs}[\log\rho(x_i/s) - \log s] + n_c \log F(t/s)`;
* inverse form (:math:`s/\lambda \sim \mathrm{HTMP}(\gamma, \kappa)`, density
  :math:`s\lambda^{-2}\rho(s/\lambda)`):
  :math:`\ell = \sum_{\rm obs}[\log\rho(s/x_i) + \log s - 2\log x_i] + n_c \log(1 - F(s/t))`,

with :math:`t` the floor and :math:`F` the law's CDF, is computed by the law itself
(:func:`htmu.laws.htmp_logpdf`, :func:`htmu.laws.htmp_logcdf`, :func:`htmu.laws.htmp_logsf`).

The law's fast path costs about the same for one point as for a hundred thousand points of one
:math:`(\gamma, \kappa)` (one Riccati march, then cheap interpolation), so everything here is organised
around one law call per :math:`\kappa`: all scales of a profile, and all bootstrap replicates, share it.
:func:`loglik_table` is that call.

The profile likelihood :math:`\ell_p(\log\kappa) = \max_s \ell` is found on a small grid of scales per
:math:`\kappa` (:func:`profile`), and :math:`\log\kappa` by a bracketing search and Brent's method
(:func:`maximise`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.polynomial import chebyshev as cheb
from scipy import optimize

from htmu.laws import htmp_logcdf, htmp_logpdf, htmp_logsf

#: search interval of kappa; an optimum at the top means "indistinguishable from MP", at the bottom
#: "below what the data resolve" (rank collapse)
KAPPA_BOUNDS = (1e-4, 1e3)
U_MIN, U_MAX = math.log(KAPPA_BOUNDS[0]), math.log(KAPPA_BOUNDS[1])
#: scales per profile evaluation
N_SCALES = 9


@dataclass(frozen=True)
class Spectrum:
    """Eigenvalues ready for the likelihood.

    Attributes
    ----------
    x : numpy.ndarray
        Observed eigenvalues (above the floor), sorted, divided by ``ref``.
    n_censored : int
        Eigenvalues at or below the floor.
    t : float
        The floor divided by ``ref`` (0 when nothing is censored and no floor applies).
    ref : float
        Normalisation: eigenvalue = ``ref * x``. Fitted scales are in units of ``ref``.
    gamma : float
        Aspect ratio of the law.
    form : str
        ``"direct"`` or ``"inverse"``.
    """

    x: np.ndarray
    n_censored: int
    t: float
    ref: float
    gamma: float
    form: str

    @property
    def n(self) -> int:
        return int(self.x.size + self.n_censored)

    @property
    def logx(self) -> np.ndarray:
        return np.log(self.x)

    def z(self, log_scale: float) -> np.ndarray:
        """The standardised variable (direct: x/s, inverse: s/x), HTMP(gamma, kappa) under the model."""
        return np.exp(self.logx - log_scale) if self.form == "direct" else np.exp(log_scale - self.logx)

    def in_data_units(self, loglik: float) -> float:
        """Log-likelihood of the eigenvalues in their own units (the normalisation's Jacobian)."""
        return loglik - self.x.size * math.log(self.ref)


def _censored_logprob(t: np.ndarray, log_scales: np.ndarray, gamma: float, kappa: float, form: str):
    """log P(eigenvalue <= t) at each scale: log F(t/s) (direct) or log(1 - F(s/t)) (inverse)."""
    if form == "direct":
        return htmp_logcdf(t * np.exp(-log_scales), gamma, kappa)
    return htmp_logsf(np.exp(log_scales) / t, gamma, kappa)


def loglik_table(spectra: Sequence[Spectrum], kappa: float, log_scales: np.ndarray) -> np.ndarray:
    """Log-likelihoods (normalised units) of several spectra at one kappa and per-spectrum scales.

    Parameters
    ----------
    spectra : sequence of Spectrum
        All of one gamma and form.
    kappa : float
        Finite, positive.
    log_scales : numpy.ndarray
        Shape ``(len(spectra), J)``: the J log-scales at which each spectrum is evaluated.

    Returns
    -------
    numpy.ndarray
        Shape ``(len(spectra), J)``. One law call serves all of them.
    """
    gamma, form = spectra[0].gamma, spectra[0].form
    ls = np.asarray(log_scales, dtype=float)
    sizes = np.array([s.x.size for s in spectra])
    logx = np.concatenate([s.logx for s in spectra])  # (N,)
    owner = np.repeat(np.arange(len(spectra)), sizes)
    lz = logx[None, :] - ls[owner].T if form == "direct" else ls[owner].T - logx[None, :]  # (J, N)
    lp = htmp_logpdf(np.exp(lz).ravel(), gamma, kappa).reshape(lz.shape)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    sums = np.add.reduceat(lp, starts, axis=1).T if logx.size else np.zeros_like(ls)  # (P, J)
    sums[sizes == 0] = 0.0
    if form == "direct":
        out = sums - sizes[:, None] * ls
    else:
        sum_logx = np.array([s.logx.sum() for s in spectra])
        out = sums + sizes[:, None] * ls - 2.0 * sum_logx[:, None]
    cens = np.array([s.n_censored for s in spectra])
    if cens.any():
        rows = np.nonzero(cens)[0]
        t = np.array([spectra[i].t for i in rows])[:, None] * np.ones_like(ls[rows])
        logp = _censored_logprob(t.ravel(), ls[rows].ravel(), gamma, kappa, form).reshape(t.shape)
        out[rows] += cens[rows, None] * logp
    return out


@dataclass(frozen=True)
class ProfilePoint:
    """The profile likelihood at one log kappa: its value, the best log scale and the curvature there."""

    u: float
    loglik: float
    log_scale: float
    curvature: float  # -d^2 loglik / d(log s)^2 at the best scale


def _poly_max(t: np.ndarray, values: np.ndarray, degree: int) -> tuple[float, float, float]:
    """Maximum on [-1, 1] of the least-squares polynomial through (t, values): (t*, value, -second derivative)."""
    coef = cheb.chebfit(t, values, degree)
    d1 = cheb.chebder(coef)
    crit = cheb.chebroots(d1)
    cand = [-1.0, 1.0, *[float(r.real) for r in crit if abs(r.imag) < 1e-9 and -1 <= r.real <= 1]]
    vals = cheb.chebval(cand, coef)
    k = int(np.argmax(vals))
    return cand[k], float(vals[k]), float(-cheb.chebval(cand[k], cheb.chebder(d1)))


#: a grid whose log-likelihoods span more than this (nats) is far wider than the peak: it is narrowed first
PEAK_RANGE = 50.0
#: the profile's scales keep every standardised eigenvalue inside [e^-LOG_Z_MAX, e^LOG_Z_MAX]: beyond, the
#: likelihood of a spectrum is not a number (the density underflows) and no sensible scale lies there
LOG_Z_MAX = 690.0


def profile(spectrum: Spectrum, u: float, centre: float, width: float) -> ProfilePoint:
    """Profile log-likelihood at log kappa ``u``: maximise over the log scale on grids around ``centre``.

    ``N_SCALES`` log scales on ``centre +- width`` in one law call. While the best of them is at an end of
    the grid, the grid moves that way with doubled width (a geometric search, for nearly flat likelihoods);
    once the maximum is inside, the grid narrows onto the best point while its values span more than
    ``PEAK_RANGE``, then to about three standard deviations of the peak, and a quartic through it gives the
    maximum and its scale (the maximum is the quartic's: :meth:`Profile.exact` evaluates the log-likelihood there).
    A likelihood still rising at the edge of the admissible scales (``LOG_Z_MAX``) returns its value there, with
    curvature NaN.
    """
    kappa = math.exp(u)
    logx = spectrum.logx
    lo = float(logx.max()) - LOG_Z_MAX if logx.size else centre - LOG_Z_MAX
    hi = float(logx.min()) + LOG_Z_MAX if logx.size else centre + LOG_Z_MAX
    t = np.linspace(-1.0, 1.0, N_SCALES)
    seen: set[tuple[float, float]] = set()
    best = (-math.inf, centre)  # best evaluated (log-likelihood, log scale)
    for _ in range(80):
        centre = min(max(centre, lo + width), hi - width) if hi - lo > 2 * width else 0.5 * (lo + hi)
        width = min(width, 0.5 * (hi - lo))
        if (centre, width) in seen:
            # a grid seen before: pinned against the admissible range, or cycling on a likelihood that is not
            # smooth at this resolution; the best point evaluated is the answer
            return ProfilePoint(u, best[0], best[1], math.nan)
        seen.add((centre, width))
        ls = centre + width * t
        vals = loglik_table([spectrum], kappa, ls[None, :])[0]
        finite = np.isfinite(vals)
        if finite.any() and np.nanmax(np.where(finite, vals, np.nan)) > best[0]:
            k_best = int(np.nanargmax(np.where(finite, vals, np.nan)))
            best = (float(vals[k_best]), float(ls[k_best]))
        if not finite.any():
            if width >= 0.5 * (hi - lo):
                return ProfilePoint(u, -math.inf, centre, math.nan)
            width *= 2.0
            continue
        k = int(np.argmax(np.where(finite, vals, -np.inf)))
        if k in (0, N_SCALES - 1) or not finite.all():
            if (k == 0 and ls[0] <= lo + 1e-9) or (k == N_SCALES - 1 and ls[-1] >= hi - 1e-9):
                return ProfilePoint(u, float(vals[k]), float(ls[k]), math.nan)
            # move the grid so that its far end lies beyond the best point, twice as wide
            centre, width = float(ls[k]) + (width if k else -width), 2.0 * width
            continue
        if vals[k] - vals.min() > PEAK_RANGE:
            # the grid is far wider than the peak (a quartic through it would be meaningless): shrink onto the
            # best point and its two neighbours
            centre, width = float(ls[k]), width / 4.0
            continue
        tt, val, curv = _poly_max(t, vals, 4)
        sd = width / math.sqrt(curv) if curv > 0 else math.inf
        if abs(tt) >= 0.8 or width > 4.0 * sd:
            centre = centre + width * tt
            width = max(min(width, 3.0 * sd), width / 8.0)
            continue
        return ProfilePoint(u, val, centre + width * tt, curv / width**2)
    raise RuntimeError(f"profile at kappa {kappa:.4g}: the best scale could not be located")


class Profile:
    """Memoised profile likelihood of one spectrum, warm-started from the nearest evaluated kappa."""

    def __init__(self, spectrum: Spectrum, log_scale0: float, width0: float = 0.25):
        self.spectrum = spectrum
        self.points: dict[float, ProfilePoint] = {}
        self.exact_values: dict[float, float] = {}
        self.log_scale0 = log_scale0
        self.width0 = width0

    def exact(self, u: float) -> float:
        """The log-likelihood evaluated at log kappa ``u`` and the profile's best scale there.

        The profile's own value is the maximum of a quartic through a grid of scales: good enough to search on,
        but it can overshoot a sharp peak (by 0.04 nats on an MP spectrum of 300 eigenvalues at kappa = 1e3).
        What is reported, or compared against a threshold, is evaluated; it reuses the law's march at ``u``.
        """
        p = self(u)
        if p.u not in self.exact_values:
            self.exact_values[p.u] = (
                float(loglik_table([self.spectrum], math.exp(p.u), np.array([[p.log_scale]]))[0, 0])
                if math.isfinite(p.loglik)
                else p.loglik
            )
        return self.exact_values[p.u]

    def copy(self) -> Profile:
        """A profile of the same spectrum with the points evaluated so far (later ones are not shared)."""
        other = Profile(self.spectrum, self.log_scale0, self.width0)
        other.points = dict(self.points)
        other.exact_values = dict(self.exact_values)
        return other

    def __call__(self, u: float) -> ProfilePoint:
        u = float(min(max(u, U_MIN), U_MAX))
        if u in self.points:
            return self.points[u]
        if self.points:
            near = min(self.points.values(), key=lambda p: abs(p.u - u))
            centre = near.log_scale
            width = 3.0 / math.sqrt(near.curvature) if near.curvature > 0 else self.width0
            width = min(max(width, 1e-3), 1.0)
        else:
            centre, width = self.log_scale0, self.width0
        p = profile(self.spectrum, u, centre, width)
        self.points[u] = p
        return p


#: the maximum's log kappa is resolved to this fraction of its standard error (from the bracket's curvature),
#: within [U_TOL_MIN, U_TOL_MAX] (1e-3 to 2% in kappa): the log-likelihood then lies within about
#: 0.5 * U_TOL_REL**2 = 0.00125 nats of the maximum, and a flat profile is not resolved far below its statistical
#: error
U_TOL_REL, U_TOL_MIN, U_TOL_MAX = 0.05, 1e-3, 0.02


def maximise(prof: Profile, u0: float) -> ProfilePoint:
    """Maximise the profile likelihood over log kappa in [U_MIN, U_MAX], starting at ``u0``.

    Steps of doubling length bracket the maximum (or reach a bound): three points a < b < c with b the highest.
    Brent's method then finishes inside the bracket, to ``U_TOL_REL`` times the standard error that the
    bracket's curvature implies (within ``U_TOL_MIN``, ``U_TOL_MAX``): a fixed 1e-3 resolved flat profiles far below
    their statistical error (the inverse form of an MP spectrum of 256 eigenvalues: 13 evaluations after the
    bracket, now 9). The result is the best point evaluated; its ``u`` is a bound when the likelihood keeps rising
    towards it.
    """
    u0 = min(max(u0, U_MIN), U_MAX)
    step = 1.0
    a, b = u0, min(u0 + step, U_MAX)
    if b == a:
        b = a - step
    fa, fb = prof(a).loglik, prof(b).loglik
    if fb < fa:  # go the other way
        a, b, fa, fb = b, a, fb, fa
    direction = 1.0 if b > a else -1.0
    while True:
        step *= 2.0
        c = min(max(b + direction * step, U_MIN), U_MAX)
        fc = prof(c).loglik
        if fc <= fb or c in (U_MIN, U_MAX):
            if fc > fb:  # still rising at the bound
                return prof(c)
            break
        a, b, fa, fb = b, c, fb, fc
    lo, hi = sorted((a, c))
    # -l'' of the parabola through the bracket sets the tolerance; a bracket pinned at a bound of the range (c = b,
    # the likelihood still rising at the bound when the search starts near it) says nothing: the finest tolerance
    curvature = -2.0 * ((fc - fb) / (c - b) - (fb - fa) / (b - a)) / (c - a) if (a - b) * (b - c) else 0.0
    tol = min(max(U_TOL_REL / math.sqrt(curvature), U_TOL_MIN), U_TOL_MAX) if curvature > 0 else U_TOL_MIN
    optimize.minimize_scalar(
        lambda u: -prof(u).loglik, bounds=(lo, hi), method="bounded", options={"xatol": tol}
    )
    return max(prof.points.values(), key=lambda p: p.loglik)
