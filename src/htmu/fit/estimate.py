r"""Estimators of the HTMP parameter kappa, with intervals calibrated on the ensemble itself.

What is implemented, and why
----------------------------
The paper's own estimator (Algorithm 1, Appendix G) is not available to us, so this module offers
maximum likelihood (the default) and three simpler estimators of :math:`(\kappa, \text{scale})`, and
calibrates their uncertainty by simulation from the ensemble instead of by iid asymptotics:

``method="mle"`` (default)
    Joint maximum likelihood of :math:`(\log\kappa, \log s)`: direct form :math:`x/s \sim
    \mathrm{HTMP}(\gamma,\kappa)`, inverse form :math:`s/\lambda \sim \mathrm{HTMP}(\gamma,\kappa)` (density
    :math:`s\lambda^{-2}\rho(s/\lambda)`), evaluated by the law itself (:mod:`htmu.fit._likelihood`). Eigenvalues
    at or below the floor enter as left-censored observations (below).
``method="moments"``
    From :math:`\mathrm{Var}\,x = \gamma(1 + 2/\kappa)` for a mean-1 law:
    :math:`\hat\kappa = 2\gamma/(m_2/m_1^2 - 1 - \gamma)`; a denominator :math:`\le 0` gives ``kappa = inf``.
    Censored eigenvalues count as 0 (direct form) or make the moments infinite (inverse form).
``method="ks"``
    Minimum Kolmogorov--Smirnov distance between the empirical CDF and the law's (:data:`htmu.laws.htmp`).
``method="stieltjes"``
    Least squares between the empirical Stieltjes transform of the standardised eigenvalues and the law's
    (:func:`htmu.laws.stieltjes`) at ``STIELTJES_POINTS``. Slow (mpmath per point): an option, not a default.

The numerical floor: censoring, not dropping
    A float64 symmetric eigensolver returns eigenvalues to an absolute accuracy of about
    :math:`n\varepsilon\max|\lambda|` (:func:`htmu.ensembles.eigensolver_floor`, the default ``floor``);
    below it the values are noise of that size. At small :math:`\kappa` those eigenvalues are the law's lower
    tail, :math:`P(x < t) \sim t^{\kappa(1-\gamma)/(2\gamma)}` (at :math:`\gamma = 0.3255, \kappa = 0.01`
    half of them are below :math:`10^{-20}`), not the zeros of a rank-deficient matrix. They enter the
    likelihood as left-censored observations: :math:`n_c\log F(t/s)` (direct form) or
    :math:`n_c\log(1 - F(s/t))` (inverse form). Zeros implied by the matrix's *shape* are different: pass
    ``rank`` (e.g. :math:`d` for the Gram of :math:`n > d` points with :math:`d` features) and the
    :math:`n - \mathrm{rank}` smallest eigenvalues are dropped, with :math:`\gamma` adjusted to
    :math:`\gamma\,\mathrm{rank}/n` (the nonzero eigenvalues of a rank-:math:`r` Gram :math:`W W^\top` of an
    :math:`n \times m` matrix are those of an :math:`r \times m` one).

Honest intervals
    Eigenvalues are dependent (repulsion) and the finite-n ensemble is not the limit law, so the iid Fisher
    interval is wrong in centre and width. A parametric bootstrap *from the ensemble*
    (:func:`htmu.ensembles.sample_htmp_ensemble`, exact to the smallest eigenvalue) at the fitted
    :math:`(\hat\kappa, \hat s)` draws B replicate spectra, passes them through the same floor, and refits
    them, giving the bias :math:`b` and spread :math:`\sigma` of :math:`\log\hat\kappa`. The 95% interval is
    :math:`\exp(\log\hat\kappa - b \pm t_{B-1,0.975}\,\sigma\sqrt{1 + 1/B})` (basic bootstrap in
    :math:`\log\kappa`, the Monte-Carlo error of b and sigma folded in through Student's t);
    ``kappa_debiased`` is :math:`\hat\kappa e^{-b}`. Where :math:`|b|` exceeds ``BIAS_ITERATE`` (next to MP, and
    at the rank-collapse end), a second bootstrap on the same random numbers measures the bias again at the
    corrected estimate and replaces it: the bias at :math:`\hat\kappa` is the bias at the truth only to first
    order. A replicate whose estimate sits at an end of ``KAPPA_BOUNDS``
    (too few eigenvalues above its floor, or MP-like) is censored, not a number. With any such replicate the
    median and IQR replace the mean and sd; with a quarter or more at one end the interval is one-sided, open at
    that end, its other end the profile-likelihood bound, and there is no ``kappa_debiased``
    (``_bootstrap_interval``). The status stays ``"ok"``: it describes the data, not the replicates, so that a
    fit's status (and the phase :func:`htmu.fit.selection.select_law` reads from it) does not depend on ``ci``.

    *The MP end.* :math:`\kappa = \infty` (Marchenko--Pastur, the real Wishart ensemble) belongs to the
    interval when a calibrated test cannot reject it: the statistic :math:`R = m_2/m_1^2` of the
    direct-form variable (:math:`x`, or :math:`1/\lambda` in the inverse form) against its exact finite-n
    distribution under the real Wishart ensemble of the same size and aspect ratio, simulated from the
    bidiagonal model's traces (:func:`mp_test`). Then the upper end is ``inf`` (a one-sided interval) and
    the message says so. An MLE at the top of ``KAPPA_BOUNDS`` gives ``kappa = inf``, status ``"mp_like"``.

    *The rank-collapse end.* When fewer than ``MIN_OBSERVED`` eigenvalues remain above the floor, or the MLE
    sits at the bottom of ``KAPPA_BOUNDS``, the data say only "kappa is tiny": status ``"rank_collapse"`` with
    the one-sided interval :math:`(0, \kappa_{hi}]`.

    Speed: the point stage of the last few spectra is remembered (``_point_stage``), so a fit without its
    interval followed by the same fit with it pays for the point estimate once; every replicate is refitted
    from one law call per node of a shared grid in :math:`\log\kappa` and pass over the scale
    (all replicates in the same call; see ``SCALE_PASSES``), and replicate spectra are drawn in parallel threads. Above
    ``N_BOOT_MAX`` eigenvalues, replicates of ``N_BOOT_MAX`` eigenvalues are used and their bias and spread
    rescaled by :math:`n_b/n` and :math:`\sqrt{n_b/n}` (the orders of a finite-n bias and of the
    fluctuations of linear statistics at fixed :math:`\kappa`); ``benchmarks/coverage_study.py`` checks the
    coverage this gives.

Input handling
    Eigenvalues must be a 1-D real array: 2-D, complex and masked arrays are refused with a message that
    says what to pass. NaN/inf values, negative values below ``-floor``, gamma outside (0, 1), unknown forms or
    methods, and ``n_boot < 5`` raise ``ValueError``. The fit is invariant to the units of the eigenvalues
    (they are normalised internally). Statuses: ``"ok"``, ``"mp_like"``, ``"rank_collapse"``, ``"too_few"``
    (fewer than ``MIN_EIGENVALUES``), ``"degenerate"`` (a spectrum far narrower than any law of this gamma
    allows, e.g. all values equal) and ``"no_convergence"``. Failed fits carry NaN numbers *and* the status.
"""

from __future__ import annotations

import collections
import functools
import hashlib
import math
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import numpy as np
from scipy import optimize, stats

from htmu.ensembles import eigensolver_floor, sample_htmp_ensemble
from htmu.fit import _likelihood as lik
from htmu.stats import as_rng, ks_statistic

__all__ = [
    "FitResult",
    "PowerLawResult",
    "fit_htmp",
    "fit_mp",
    "fit_powerlaw",
    "kappa_lower_bound",
    "forget_point_fits",
    "fit_units",
    "mp_test",
    "MIN_EIGENVALUES",
    "MIN_OBSERVED",
    "KAPPA_BOUNDS",
    "N_BOOT_MAX",
]

MIN_EIGENVALUES = 20
#: eigenvalues above the floor needed to say more than "kappa is tiny"
MIN_OBSERVED = 10
KAPPA_BOUNDS = lik.KAPPA_BOUNDS
#: bootstrap replicates are drawn with at most this many eigenvalues (bias and spread rescaled)
N_BOOT_MAX = 2000
MIN_TAIL = 10
STIELTJES_POINTS = np.array([0.25 + 0.5j, 0.75 + 0.5j, 1.5 + 0.5j, 3.0 + 0.5j, 1.0 + 2.0j])
FORMS = ("direct", "inverse")
METHODS = ("mle", "moments", "ks", "stieltjes")
STATUSES = ("ok", "mp_like", "rank_collapse", "too_few", "degenerate", "no_convergence")
#: significance of the MP test that puts kappa = inf into the interval
MP_LEVEL = 0.05
_NAN2 = (math.nan, math.nan)


@dataclass(frozen=True)
class FitResult:
    """Result of fitting HTMP (or MP) to one spectrum.

    Attributes
    ----------
    kappa : float
        Point estimate of kappa (``inf`` for MP-like spectra, NaN when no fit was possible).
    scale : float
        Direct form: ``x / scale ~ htmp``; inverse form: ``scale / lambda ~ htmp`` (the data's units).
    kappa_ci : tuple of float
        95% interval for kappa (NaN when not computed); ``(lo, inf)`` when MP cannot be rejected,
        ``(0, hi)`` at rank collapse.
    loglik : float
        Log-likelihood of the eigenvalues, in the data's own units, at the estimate (censored ones included).
    ks : float
        Kolmogorov--Smirnov distance between the empirical and the fitted CDF (above the floor).
    status : str
        One of ``STATUSES``; ``message`` says why.
    method, form : str
        The estimator and the form fitted.
    gamma : float
        Aspect ratio used (adjusted when structural zeros were dropped).
    n : int
        Eigenvalues in the likelihood (censored ones included, structural zeros not).
    n_censored : int
        Eigenvalues at or below the floor (left-censored).
    floor : float
        The numerical floor used (data units).
    n_structural_zeros : int
        Eigenvalues dropped as zeros implied by the matrix's shape (``rank``).
    kappa_debiased : float
        ``kappa`` corrected by the bootstrap bias of log kappa (NaN without interval).
    n_boot : int
        Bootstrap replicates behind ``kappa_ci``.
    p_mp : float
        p-value of the calibrated test of kappa = inf (:func:`mp_test`; NaN when not run).
    message : str
        Human-readable detail behind the status and the interval.
    """

    kappa: float
    scale: float
    kappa_ci: tuple[float, float]
    loglik: float
    ks: float
    status: str
    method: str
    form: str
    gamma: float
    n: int
    n_censored: int = 0
    floor: float = 0.0
    n_structural_zeros: int = 0
    kappa_debiased: float = math.nan
    n_boot: int = 0
    p_mp: float = math.nan
    message: str = ""

    def to_dict(self) -> dict:
        """Plain-Python dictionary of all fields (``kappa_ci`` as a list)."""
        d = asdict(self)
        d["kappa_ci"] = list(self.kappa_ci)
        return d


@dataclass(frozen=True)
class PowerLawResult:
    """Continuous power law ``p(x) = (alpha - 1)/xmin (x/xmin)^(-alpha)`` on ``x >= xmin``."""

    alpha: float
    alpha_se: float
    xmin: float
    ks: float
    loglik: float
    n_tail: int
    n: int
    status: str
    message: str = ""

    def to_dict(self) -> dict:
        """Plain-Python dictionary of all fields."""
        return asdict(self)


# --------------------------------------------------------------------------------------------------
# input handling


def as_spectrum(eigenvalues, name: str = "eigenvalues") -> np.ndarray:
    """Check that ``eigenvalues`` is one spectrum: a finite 1-D real array. Returns it as float64.

    Refused, with a message saying what to pass instead: masked arrays (pass ``.compressed()``), complex
    values (eigenvalues of a symmetric matrix are real), arrays that are not 1-D (pass ``.ravel()`` if
    pooling several spectra is really meant), NaN and infinite values.
    """
    if isinstance(eigenvalues, np.ma.MaskedArray):
        raise ValueError(
            f"{name}: masked arrays are not accepted; pass {name}.compressed() (the unmasked values)"
        )
    arr = np.asarray(eigenvalues)
    if np.iscomplexobj(arr):
        raise ValueError(
            f"{name} are complex; a symmetric matrix has real eigenvalues: pass the real part explicitly "
            "if that is what you mean"
        )
    if arr.ndim != 1:
        raise ValueError(
            f"{name} must be a 1-D array of one spectrum, got shape {arr.shape}; pass {name}.ravel() if you "
            "really mean to pool them"
        )
    try:
        x = arr.astype(float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numbers, got dtype {arr.dtype}") from None
    if np.isnan(x).any():
        raise ValueError(f"{name} contain {int(np.isnan(x).sum())} NaN value(s)")
    if np.isinf(x).any():
        raise ValueError(f"{name} contain {int(np.isinf(x).sum())} infinite value(s)")
    return x


def _check_gamma(gamma: float) -> float:
    try:
        g = float(gamma)
    except (TypeError, ValueError):
        raise ValueError(f"gamma must be a number in (0, 1), got {gamma!r}") from None
    if not (math.isfinite(g) and 0.0 < g < 1.0):
        raise ValueError(f"gamma must lie in (0, 1), got {gamma!r}")
    return g


def _check_form(form: str) -> None:
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}, got {form!r}")


@dataclass(frozen=True)
class _Prepared:
    spec: lik.Spectrum | None  # None when the screen failed
    gamma: float
    n: int
    floor: float
    n_structural_zeros: int
    fail: str | None
    message: str


def _prepare(eigenvalues, gamma: float, form: str, floor: float | None, rank: int | None) -> _Prepared:
    g = _check_gamma(gamma)
    lam = as_spectrum(eigenvalues)
    n0 = lam.size
    t = eigensolver_floor(lam) if floor is None else float(floor)
    if not (math.isfinite(t) and t >= 0):
        raise ValueError(f"floor must be a finite number >= 0, got {floor!r}")
    neg = lam < -t
    if neg.any():
        raise ValueError(
            f"eigenvalues contain {int(neg.sum())} negative value(s) below -floor = {-t:.3g} (min {lam.min():.6g}); "
            "a Gram or kernel matrix has none beyond its numerical noise"
        )
    lam = np.sort(lam)
    msgs = []
    n_struct = 0
    if rank is not None:
        if not isinstance(rank, int | np.integer) or isinstance(rank, bool) or not 1 <= rank <= n0:
            raise ValueError(
                f"rank must be an integer in [1, {n0}] (the number of eigenvalues), got {rank!r}"
            )
        n_struct = n0 - int(rank)
        if n_struct and lam[n_struct - 1] > t:
            raise ValueError(
                f"rank {rank} implies {n_struct} structural zeros, but the {n_struct}-th smallest eigenvalue "
                f"{lam[n_struct - 1]:.3g} is above the floor {t:.3g}"
            )
        if n_struct:
            lam = lam[n_struct:]
            g = g * lam.size / n0
            msgs.append(
                f"dropped {n_struct} structural zero(s) (rank {rank}); gamma adjusted {gamma:.6g} -> {g:.6g}"
            )
    obs = lam[lam > t]
    n_c = int(lam.size - obs.size)
    if n_c:
        msgs.append(f"{n_c} eigenvalue(s) at or below the floor {t:.3g} enter as left-censored")
    common = {"gamma": g, "n": int(lam.size), "floor": t, "n_structural_zeros": n_struct}
    if lam.size < MIN_EIGENVALUES:
        return _Prepared(
            None, **common, fail="too_few", message=f"{lam.size} eigenvalues < {MIN_EIGENVALUES}"
        )
    # Screen: every candidate law of this gamma has a relative variance of the direct-form variable of at
    # least about gamma (MP: gamma; HTMP: gamma (1 + 2/kappa)); a spectrum far narrower is degenerate.
    z = lam if form == "direct" else (obs.min() / obs if n_c == 0 else None)  # scaled: squares stay numbers
    if z is not None and z.size and np.max(np.abs(z)) > 0:
        z = z / np.max(np.abs(z))
        v = float(np.var(z) / np.mean(z) ** 2)
        if v < g / 4:
            return _Prepared(
                None, **common, fail="degenerate",
                message=f"relative variance {v:.3g} is far below gamma/4 = {g / 4:.3g}: no MP or HTMP law "
                        f"with gamma {g:.4g} describes so narrow a spectrum (all equal? wrong gamma?)",
            )  # fmt: skip
    if obs.size == 0:
        return _Prepared(
            None, **common, fail="degenerate",
            message=f"no eigenvalue above the floor {t:.3g}: the matrix is zero to working precision",
        )  # fmt: skip
    ref = float(np.exp(np.median(np.log(obs))))
    spec = lik.Spectrum(x=obs / ref, n_censored=n_c, t=t / ref, ref=ref, gamma=g, form=form)
    return _Prepared(spec, **common, fail=None, message="; ".join(msgs))


def _failed(prep: _Prepared, method: str, form: str, status: str, message: str) -> FitResult:
    return FitResult(
        kappa=math.nan, scale=math.nan, kappa_ci=_NAN2, loglik=math.nan, ks=math.nan, status=status,
        method=method, form=form, gamma=prep.gamma, n=prep.n,
        n_censored=prep.spec.n_censored if prep.spec is not None else 0, floor=prep.floor,
        n_structural_zeros=prep.n_structural_zeros, message=_join(message, prep.message),
    )  # fmt: skip


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


# --------------------------------------------------------------------------------------------------
# the MP (kappa = inf) test


#: above this size the Wishart null of R is simulated at this size and rescaled (its deviations from the limit
#: 1 + gamma, and its spread, are both of order 1/n)
N_NULL_MAX = 1000


@functools.lru_cache(maxsize=64)
def _wishart_r_null(n: int, gamma: float) -> tuple[float, float]:
    """Mean and sd of R = m2/m1^2 of real Wishart spectra of size n and aspect ratio gamma (simulated).

    The traces of T = B B^T for the bidiagonal model (beta = 1) are sums of its chi-square entries:
    tr T = sum(d_i^2 + s_i^2), tr T^2 = sum (d_i^2 + s_{i-1}^2)^2 + 2 sum d_i^2 s_i^2, so the exact finite-n
    law of R costs O(n) per draw, without eigenvalues: 500 draws (the test uses their mean and spread). Above ``N_NULL_MAX`` the simulation runs at
    that size and the offset from 1 + gamma and the spread are rescaled by N_NULL_MAX / n. Draws use a fixed
    seed: the test is a function of the data alone.
    """
    n_sim = min(n, N_NULL_MAX)
    draws = 500
    rng = np.random.default_rng([20251201, n_sim])
    m = n_sim / gamma
    i = np.arange(1, n_sim + 1, dtype=float)
    out = np.empty(draws)
    chunk = max(1, int(2e6 // n_sim))
    for a in range(0, draws, chunk):
        k = min(chunk, draws - a)
        d = rng.chisquare(np.broadcast_to(m - i + 1.0, (k, n_sim)))
        s = rng.chisquare(np.broadcast_to(n_sim - i[:-1], (k, n_sim - 1)))
        diag = d.copy()
        diag[:, 1:] += s
        t1 = diag.sum(1)
        t2 = (diag**2).sum(1) + 2.0 * (d[:, :-1] * s).sum(1)
        out[a : a + k] = n_sim * t2 / t1**2
    shrink = n_sim / n
    return float(1 + gamma + (out.mean() - 1 - gamma) * shrink), float(out.std(ddof=1) * shrink)


def mp_test(z, gamma: float) -> tuple[float, float]:
    r"""Calibrated test of Marchenko--Pastur (kappa = inf) for a direct-form spectrum.

    Statistic :math:`R = m_2/m_1^2` of the values (scale-free). Under the real Wishart ensemble of the same
    size and aspect ratio it is close to normal with mean about :math:`1 + \gamma` and a standard deviation of
    order :math:`1/n` (linear spectral statistics do not average like iid data); both are taken from
    simulation of the exact finite-n ensemble (:func:`_wishart_r_null`). Every HTMP law with finite kappa
    has the larger :math:`1 + \gamma(1 + 2/\kappa)`, so the test is one-sided.

    Parameters
    ----------
    z : array_like
        The direct-form variable: eigenvalues (direct form) or their reciprocals (inverse form).
    gamma : float
        Aspect ratio in (0, 1] (1: a square matrix).

    Returns
    -------
    (p, statistic) : tuple of float
        The one-sided p-value and the standardised statistic :math:`(R - \mu)/\sigma`.
    """
    raw = np.asarray(z) if not isinstance(z, np.ma.MaskedArray) else None
    if raw is not None and raw.dtype.kind == "f" and np.isposinf(raw).any():
        return 0.0, math.inf  # the inverse form's censored eigenvalues: far from any MP spectrum
    z = as_spectrum(z, "z")
    g = float(gamma)
    if not (math.isfinite(g) and 0.0 < g <= 1.0):  # gamma = 1 (square) is fine for MP
        raise ValueError(f"gamma must lie in (0, 1], got {gamma!r}")
    mu, sd = _wishart_r_null(int(z.size), round(g, 12))
    z = z / np.max(np.abs(z))  # R is scale-free; its squares are not, in floating point
    r = float(np.mean(z**2) / np.mean(z) ** 2)
    stat = (r - mu) / sd
    return float(stats.norm.sf(stat)), stat


def _direct_variable(prep: _Prepared, eigenvalues_sorted: np.ndarray) -> np.ndarray:
    """x (direct form, censored as 0) or 1/lambda (inverse form, censored as inf) for the MP test."""
    spec = prep.spec
    x = spec.x * spec.ref
    if spec.form == "direct":
        return np.concatenate([np.zeros(spec.n_censored), x])
    return np.concatenate([np.full(spec.n_censored, np.inf), 1.0 / x])


# --------------------------------------------------------------------------------------------------
# point estimates


def _moments(spec: lik.Spectrum) -> tuple[float, float]:
    """(kappa, log scale) by the method of moments, in the spectrum's normalised units."""
    g = spec.gamma
    if spec.form == "direct":
        z = np.concatenate([np.zeros(spec.n_censored), spec.x])
    else:
        if spec.n_censored:
            return 0.0, math.log(1.0 / np.mean(1.0 / spec.x))
        z = 1.0 / spec.x
    m1, m2 = float(np.mean(z)), float(np.mean(z**2))
    denom = m2 / m1**2 - 1 - g
    kappa = 2 * g / denom if denom > 0 else math.inf
    return kappa, math.log(m1) if spec.form == "direct" else -math.log(m1)


def _mle(spec: lik.Spectrum) -> tuple[lik.Profile, lik.ProfilePoint]:
    k0, ls0 = _moments(spec)
    u0 = math.log(min(max(k0, 1e-3), 1e2)) if k0 > 0 else math.log(1e-3)
    prof = lik.Profile(spec, ls0)
    return prof, lik.maximise(prof, u0)


def _ks(spec: lik.Spectrum, kappa: float, log_scale: float) -> float:
    """KS distance above the floor: the empirical CDF (censored mass below t) against the law's CDF."""
    from htmu.laws import htmp, marchenko_pastur

    z = spec.z(log_scale)
    g = spec.gamma
    if math.isinf(kappa):
        f = marchenko_pastur.cdf(z, g)
    else:
        f = htmp.cdf(z, g, kappa)
    if spec.form == "inverse":
        f = 1.0 - f  # P(lambda <= x) = P(z >= s/x)
    return ks_statistic(f, n=spec.n, n_below=spec.n_censored)


def _ks_objective(spec: lik.Spectrum) -> Callable[[np.ndarray], float]:
    def obj(theta):
        return _ks(spec, math.exp(theta[0]), theta[1])

    return obj


def _stieltjes_objective(spec: lik.Spectrum) -> Callable[[np.ndarray], float]:
    from htmu.laws import stieltjes

    w = STIELTJES_POINTS

    def obj(theta):
        z = spec.z(theta[1])
        if spec.n_censored:  # censored: direct-form values ~ 0, inverse-form ~ inf
            z = np.concatenate([np.zeros(spec.n_censored) if spec.form == "direct" else [], z])
        emp = np.mean(1.0 / (z[:, None] - w[None, :]), axis=0)
        if spec.form == "inverse" and spec.n_censored:
            emp = emp * (z.size / spec.n)
        model = stieltjes(w, spec.gamma, math.exp(theta[0]))
        return float(np.sum(np.abs(emp - model) ** 2))

    return obj


@dataclass(frozen=True)
class _Point:
    kappa: float  # inf: at the top of KAPPA_BOUNDS; at the bottom: the bound itself
    log_scale: float  # normalised units
    ok: bool
    message: str = ""
    at_top: bool = False
    at_bottom: bool = False


def _point_fit(spec: lik.Spectrum, method: str) -> tuple[_Point, lik.Profile | None]:
    if method == "mle":
        try:
            prof, best = _mle(spec)
        except RuntimeError as exc:
            return _Point(math.nan, math.nan, False, str(exc)), None
        top, bottom = best.u >= lik.U_MAX - 1e-3, best.u <= lik.U_MIN + 1e-3
        return _Point(math.inf if top else math.exp(best.u), best.log_scale, True, "", top, bottom), prof
    if method == "moments":
        if spec.form == "inverse" and spec.n_censored:
            why = (f"the method of moments needs every eigenvalue in the inverse form; {spec.n_censored} are at or "
                   "below the floor (use method='mle', which censors them)")  # fmt: skip
            return _Point(math.nan, math.nan, False, why), None
        k, ls = _moments(spec)
        return _Point(k, ls, True, "", math.isinf(k), k <= KAPPA_BOUNDS[0]), None
    obj = (_ks_objective if method == "ks" else _stieltjes_objective)(spec)
    k0, ls0 = _moments(spec)
    th0 = np.array([math.log(min(max(k0, 1e-2), 1e2)) if k0 > 0 else math.log(1e-2), ls0])
    res = optimize.minimize(
        obj, th0, method="Nelder-Mead", bounds=[(lik.U_MIN, lik.U_MAX), (ls0 - 2.0, ls0 + 2.0)],
        options={"xatol": 1e-3, "fatol": 1e-9, "maxiter": 400,
                 "initial_simplex": th0 + np.array([[0, 0], [0.3, 0], [0, 0.05]])},
    )  # fmt: skip
    if not res.success:
        return _Point(math.nan, math.nan, False, f"Nelder-Mead: {res.message}"), None
    top, bottom = res.x[0] >= lik.U_MAX - 1e-2, res.x[0] <= lik.U_MIN + 1e-2
    return _Point(math.inf if top else math.exp(res.x[0]), float(res.x[1]), True, "", top, bottom), None


# --------------------------------------------------------------------------------------------------
# bootstrap calibration


@dataclass(frozen=True)
class _Boot:
    """How the bootstrap draws its replicates."""

    n_boot: int
    n_b: int  # eigenvalues per replicate
    rng: np.random.Generator
    own_floor: (
        bool  # each replicate through its own eigensolver floor (default), else the data's absolute floor
    )
    tick: Callable[[int], None]  # progress: called with the number of replicates just drawn


def _replicates(spec: lik.Spectrum, kappa: float, log_scale: float, boot: _Boot) -> list[lik.Spectrum]:
    """``n_boot`` ensemble spectra at (kappa, scale), through the same floor as the data, drawn in threads.

    The floor is applied as to the data: each replicate's own ``n eps max`` when the data's floor was the
    default, else the caller's absolute floor. In the inverse form at tiny kappa the smallest z can lie below
    the smallest double (dqds returns 0); the replicate's largest eigenvalue is then unknown, and its ratio to
    the others so large that only it survives the floor: such a replicate is one eigenvalue above the floor.
    """
    scale = math.exp(log_scale)
    g, n_b = spec.gamma, boot.n_b

    def one(child):
        z = sample_htmp_ensemble(n_b, g, kappa, child)
        if spec.form == "inverse" and not np.all(z > 0):
            x = np.array(
                [scale / max(float(z[z > 0].min()), np.finfo(float).tiny) if np.any(z > 0) else scale]
            )
            boot.tick(1)
            return lik.Spectrum(x=x, n_censored=n_b - 1, t=spec.t, ref=spec.ref, gamma=g, form=spec.form)
        x = scale * z if spec.form == "direct" else scale / z
        t = eigensolver_floor(x) if boot.own_floor else spec.t
        obs = np.sort(x[x > t])
        boot.tick(1)
        return lik.Spectrum(x=obs, n_censored=int(n_b - obs.size), t=t, ref=spec.ref, gamma=g, form=spec.form)

    children = boot.rng.spawn(boot.n_boot)
    # threads only from the main thread of the main process: a caller that already runs fits in a pool of
    # threads or processes (htmu.analyze) keeps its cores, instead of nesting a pool per fit
    alone = threading.current_thread() is threading.main_thread() and multiprocessing.parent_process() is None
    workers = min(boot.n_boot, os.cpu_count() or 1) if alone else 1
    if workers <= 1:
        return [one(c) for c in children]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, children))


#: The replicate refits share a stencil in log kappa (nodes at u_hat + sigma_u * STENCIL, sigma_u the profile
#: likelihood's iid standard error) and J_SCALES log scales per node: one law call per node and pass serves every
#: replicate, and a quadratic in the scale, then a polynomial in log kappa, gives each replicate's maximum. The scale
#: is maximised in SCALE_PASSES, each a quadratic through J_SCALES scales centred on the replicate's vertex of the
#: pass before, its half-width that many standard errors of the scale: a quadratic as wide as 3 standard errors (one
#: pass) misjudged the maximum over the scale by up to 0.3 nats where the likelihood is skewed in the scale (next to MP,
#: and at kappa = 1e-3), and so each replicate's log kappa by -0.03 to -0.09 on average, all one way: the bootstrap
#: bias was wrong by that much (the corrected estimate 7% high at kappa = 1e-3). Two passes agree with full refits
#: to 1e-3 on average (``tests/test_estimate.py``). A replicate whose quadratic is not concave or whose maximum lies
#: beyond the stencil's reach is refitted in full.
STENCIL = np.array([-1.5, -0.75, 0.0, 0.75, 1.5])
J_SCALES = 3
SCALE_PASSES = (1.5, 0.5)


def _quadratic_vertex(t: np.ndarray, vals: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row-wise vertex of the quadratic through (t, vals[row]): (argmax, max, concave)."""
    a2, a1, a0 = np.linalg.lstsq(np.vander(t, 3), vals.T, rcond=None)[0]
    concave = a2 < 0
    with np.errstate(divide="ignore", invalid="ignore"):
        tv = np.where(concave, -a1 / (2 * a2), 0.0)
    return tv, a2 * tv**2 + a1 * tv + a0, concave


def _stencil_fit(spec, prof, reps, centre, sigma, n_b):
    """Each replicate's log-kappa maximum from the stencil at ``centre + sigma * STENCIL``, and whether it can be
    trusted (concave quadratics with vertices inside the stencil)."""
    nodes = np.clip(centre + sigma * STENCIL, lik.U_MIN, lik.U_MAX)
    t = np.linspace(-1.0, 1.0, J_SCALES)
    table = np.empty((len(reps), nodes.size))
    trusted = np.ones(len(reps), dtype=bool)
    for k, u in enumerate(nodes):
        p = prof(float(u))
        sd = 1.0 / math.sqrt(max(p.curvature, 1e-6) * n_b / spec.n) if math.isfinite(p.curvature) else 1 / 3
        at = np.full(len(reps), p.log_scale)  # each replicate's best log scale so far
        for width in SCALE_PASSES:
            tv, table[:, k], concave = _quadratic_vertex(
                t, lik.loglik_table(reps, math.exp(u), at[:, None] + width * sd * t)
            )
            at = at + width * sd * np.clip(np.where(concave, tv, 0.0), -1.5, 1.5)
        trusted &= concave & (np.abs(tv) <= 1.0)
    half = 0.5 * (nodes[-1] - nodes[0])
    if half <= 0:
        return np.full(len(reps), centre), np.zeros(len(reps), dtype=bool)
    tn = (nodes - 0.5 * (nodes[0] + nodes[-1])) / half
    coef = np.linalg.lstsq(np.vander(tn, nodes.size), table.T, rcond=None)[0]  # exact interpolant
    fine = np.linspace(-1.0, 1.0, 401)
    curves = np.vander(fine, nodes.size) @ coef  # (fine, reps)
    k = np.argmax(curves, axis=0)
    inside = (k > 0) & (k < fine.size - 1)
    return 0.5 * (nodes[0] + nodes[-1]) + half * fine[k], trusted & inside


def _bootstrap_mle(spec, prof, best, boot: _Boot):
    """log kappa of each replicate's MLE (see ``STENCIL``); also the number refitted in full.

    The first stencil is as wide as the iid standard error; when many replicates fall outside it, a second
    stencil as wide as their observed spread (median absolute deviation) is tried before full refits.
    """
    g_u = _u_curvature(prof, best.u)
    n_b = boot.n_b
    sigma_u = (1.0 / math.sqrt(g_u) if g_u > 0 else 0.5) * math.sqrt(spec.n / n_b)
    reps = _replicates(spec, math.exp(best.u), best.log_scale, boot)
    u_b, trusted = _stencil_fit(spec, prof, reps, best.u, sigma_u, n_b)
    if trusted.mean() < 0.75:
        finite = u_b[np.isfinite(u_b)]
        spread = 1.4826 * float(np.median(np.abs(finite - np.median(finite)))) if finite.size > 3 else 0.0
        if spread > sigma_u:
            u_2, trusted_2 = _stencil_fit(spec, prof, reps, best.u, spread, n_b)
            take = trusted_2 & ~trusted
            u_b[take], trusted = u_2[take], trusted | trusted_2
    # a replicate with too few eigenvalues above its floor would be called rank collapse: kappa below resolution
    few = np.array([r.x.size < MIN_OBSERVED for r in reps])
    u_b[few], trusted[few] = lik.U_MIN, True
    for i in np.nonzero(~trusted)[0]:
        u_b[i] = lik.maximise(lik.Profile(reps[i], best.log_scale), best.u).u
    return np.clip(u_b, lik.U_MIN, lik.U_MAX), int((~trusted).sum())


@dataclass(frozen=True)
class _Interval:
    """The bootstrap's verdict in log kappa: the interval and the bias-corrected centre, or (all NaN) which end of
    the search range holds a quarter or more of the replicates, and what was done, in words."""

    lo: float
    hi: float
    centre: float
    note: str
    open_low: bool = False
    open_high: bool = False


def _bootstrap_interval(logk: np.ndarray, log_kappa: float, shrink: float) -> _Interval:
    """Basic bootstrap interval in log kappa from the replicates' estimates ``logk`` (clipped to the search range).

    Without replicates at an end of the search range: bias = mean - log kappa-hat, spread = sd, both rescaled by
    ``shrink`` (see the module notes), Student's t with B - 1 degrees of freedom. A replicate at an end is
    censored: its log kappa is only known to lie beyond (``U_MIN``: too few eigenvalues above its floor, or rank
    collapse; ``U_MAX``: MP-like), so it has no value to average. With fewer than a quarter of the replicates at
    each end, rank statistics, which such values do not disturb, replace the moments: bias = median - log
    kappa-hat, spread = IQR / 1.349, half-width t * spread * sqrt(1 + pi / (2B)) (a median's variance is pi/2
    times a mean's). With a quarter or more at an end, the replicates' distribution is cut there and a
    reflected interval is meaningless (measured: inverse form, gamma 0.3255, kappa 0.1, n 500, a median-based
    centre put kappa_debiased at up to 37 times the truth): no interval, ``open_low`` / ``open_high`` say where,
    and the caller falls back on one-sided profile-likelihood bounds.
    """
    b = logk.size
    eps = 1e-9
    n_low, n_high = int(np.sum(logk <= lik.U_MIN + eps)), int(np.sum(logk >= lik.U_MAX - eps))
    t = float(stats.t.ppf(0.975, b - 1))
    if not n_low and not n_high:
        bias = float(np.mean(logk) - log_kappa) * shrink
        half = t * float(np.std(logk, ddof=1)) * math.sqrt(shrink) * math.sqrt(1 + 1 / b)
        centre = log_kappa - bias
        return _Interval(centre - half, centre + half, centre, "")
    note = f"{n_low} replicate(s) at the bottom of the search range and {n_high} at the top"
    open_low, open_high = n_low >= b / 4, n_high >= b / 4
    if open_low or open_high:
        return _Interval(math.nan, math.nan, math.nan, note, open_low, open_high)
    q25, med, q75 = (float(q) for q in np.quantile(logk, [0.25, 0.5, 0.75]))
    centre = log_kappa - (med - log_kappa) * shrink
    half = t * (q75 - q25) / 1.349 * math.sqrt(shrink) * math.sqrt(1 + math.pi / (2 * b))
    return _Interval(centre - half, centre + half, centre, f"{note}: median and IQR")


#: The bias measured at kappa-hat is the bias at the truth only to first order: the corrected estimate
#: u - b(u_hat) is off by about -b' b, which matters where the bias is large and changes fast (next to MP,
#: b = 0.2 at kappa = 100, n = 1000, and growing with kappa). Where the first correction exceeds BIAS_ITERATE in
#: log kappa, a second bootstrap at the corrected estimate, on the same random numbers, measures the bias there and
#: replaces it (one step of the iterated bootstrap; P. Hall, *The Bootstrap and Edgeworth Expansion*, 1992, sec.
#: 1.4): the error drops to second order. The spread keeps the first bootstrap's. Away from the ends the bias is a
#: few percent and the second bootstrap is not run. The MLE only: the other methods refit every replicate in full,
#: and a second round would double their cost.
BIAS_ITERATE = 0.05
SECOND_STAGE = "second bootstrap at the corrected kappa"


def _second_bootstrap(first: _Interval, second: _Interval, log_kappa: float) -> _Interval:
    """The interval with the bias measured at the corrected estimate (``second``, centred on ``first.centre``).

    The bias there is ``first.centre - second.centre``; the half-width stays the first bootstrap's. When a quarter
    or more of the second bootstrap's replicates sit at an end of the search range, its bias is not a number: the
    first interval stands, and its note says so.
    """
    if not math.isfinite(second.centre):
        return _Interval(first.lo, first.hi, first.centre, _join(
            first.note, "a second bootstrap at the corrected kappa had a quarter or more of its replicates at an end "
                        "of the search range: the bias is the first bootstrap's"))  # fmt: skip
    centre = log_kappa - (first.centre - second.centre)
    half = 0.5 * (first.hi - first.lo)
    note = f"bias measured again at the corrected kappa {math.exp(first.centre):.4g}"
    note = _join(first.note, f"{note} ({second.note})" if second.note else note)
    return _Interval(centre - half, centre + half, centre, note)


def _u_curvature(prof: lik.Profile, u: float, h: float = 0.05) -> float:
    """-d^2 l_p / du^2 at u by central differences (the iid information; only sets the grid's width)."""
    lo, hi = max(lik.U_MIN, u - h), min(lik.U_MAX, u + h)
    if hi - lo < 1.5 * h:
        return 0.0
    fm, f0, fp = prof(lo).loglik, prof(u).loglik, prof(hi).loglik
    return -(fp - 2 * f0 + fm) / (0.5 * (hi - lo)) ** 2


def _bootstrap_refit(spec, method, kappa, log_scale, boot: _Boot):
    """log kappa of full refits of ensemble replicates (methods other than the MLE)."""
    out = []
    for r in _replicates(spec, kappa, log_scale, boot):
        pt, _ = _point_fit(r, method)
        if not pt.ok:
            raise RuntimeError(f"a bootstrap refit failed ({pt.message})")
        out.append(math.log(min(max(pt.kappa, KAPPA_BOUNDS[0]), KAPPA_BOUNDS[1])))
    return np.array(out)


def fit_units(n_boot: int = 20, ci: bool = True) -> int:
    """Progress units of one :func:`fit_htmp` call (its ``progress`` argument), without a second bootstrap's."""
    return 2 + (n_boot if ci else 0)


#: one-sided 95% profile-likelihood drops, by direction. Up (an upper bound of kappa, the rank-collapse end):
#: the iid chi2_1(0.90)/2. Down (a lower bound, always next to MP: MP-like fits, intervals open above, MP laws):
#: chi2_1(0.95)/2, calibrated by simulation. Near MP the signed root of the likelihood ratio is skewed towards
#: kappa-hat > kappa at n = 500 (one draw in ten dropped more than chi2_1(0.90)/2 that way, against one in twenty
#: nominal), and with the iid drop the interval covered kappa = 100 in only 0.86 of 100 draws (direct form,
#: gamma 0.9; 0.88 and 0.89 in the inverse form at gamma 0.1 and 0.3255); with this drop 0.91, 0.93, 0.93
#: (``benchmarks/coverage_study.py --kappas 100 --ns 500``).
_PROFILE_DROP_UP = 0.5 * float(stats.chi2.ppf(0.90, 1))
_PROFILE_DROP_DOWN = 0.5 * float(stats.chi2.ppf(0.95, 1))


#: a profile-likelihood bound is located to this in log kappa (1% in kappa)
_BOUND_XTOL = 1e-2


def _profile_bound(prof: lik.Profile, u_hat: float, direction: float, top: float) -> float:
    """log kappa where the profile likelihood has dropped from ``top``, its value at ``u_hat``, by
    ``_PROFILE_DROP_UP`` searching up (``direction = +1``) or ``_PROFILE_DROP_DOWN`` searching down (one-sided
    95%); the search bound when it never drops that far.

    The search starts from the farthest point the profile has already evaluated on that side that has not dropped
    that far (the point fit leaves several), in steps of doubling length, and Brent's method locates the crossing
    to ``_BOUND_XTOL``.
    """
    edge = lik.U_MAX if direction > 0 else lik.U_MIN
    drop = _PROFILE_DROP_UP if direction > 0 else _PROFILE_DROP_DOWN

    def below(u):
        return prof.exact(u) - (top - drop)

    # the profile's own values (quartics, see lik.Profile.exact) pick the start, with a margin for their error; the
    # exact values decide
    known = [
        p.u for p in prof.points.values() if (p.u - u_hat) * direction >= 0 and p.loglik > top - drop + 0.1
    ]
    a, step = max(known, key=lambda u: (u - u_hat) * direction, default=u_hat), 0.5
    if below(a) < 0:
        a = u_hat
    while True:
        b = min(max(a + direction * step, lik.U_MIN), lik.U_MAX)
        if below(b) < 0:
            return float(optimize.brentq(below, *sorted((a, b)), xtol=_BOUND_XTOL))
        if b == edge:
            return edge
        a, step = b, 2 * step


def kappa_lower_bound(
    eigenvalues, gamma: float, *, floor: float | None = None, rank: int | None = None
) -> float:
    """One-sided 95% profile-likelihood lower bound of kappa in the direct form: the smallest kappa whose profile
    log-likelihood lies within ``_PROFILE_DROP_DOWN`` of the maximum (as an ``"mp_like"`` fit's interval).

    For a spectrum whose law is MP (kappa = inf), where an interval [lo, inf) says only how far from MP the data
    still allow kappa to be: :func:`htmu.fit.selection.select_law` reports it for its MP laws. It needs the point
    fit alone (shared with :func:`fit_htmp` through the point-stage memo), no bootstrap. NaN when the point fit
    fails or the spectrum cannot be fitted.
    """
    prep = _prepare(eigenvalues, gamma, "direct", floor, rank)
    if prep.fail:
        return math.nan
    pt, prof, ll_norm, *_ = _point_stage(prep, "mle")
    if not pt.ok or prof is None:
        return math.nan
    u_hat = lik.U_MAX if pt.at_top else lik.U_MIN if pt.at_bottom else math.log(pt.kappa)
    return math.exp(_profile_bound(prof, u_hat, -1.0, ll_norm))


#: the point stages of the last few spectra fitted (see :func:`_point_stage`)
_POINT_MEMO: collections.OrderedDict[bytes, tuple] = collections.OrderedDict()
_POINT_MEMO_SIZE = 8
_POINT_MEMO_LOCK = threading.Lock()


def forget_point_fits() -> None:
    """Drop the remembered point stages (:func:`_point_stage`): the next fit of any spectrum starts from scratch, as
    a benchmark of one fit's cost needs."""
    with _POINT_MEMO_LOCK:
        _POINT_MEMO.clear()


def _point_stage(prep: _Prepared, method: str) -> tuple[_Point, lik.Profile | None, float, float, float]:
    """The point estimate and what depends on it alone: (point, profile, log-likelihood in normalised units, KS
    distance, MP test's p-value).

    Deterministic in the prepared spectrum and the method, so the last ``_POINT_MEMO_SIZE`` are remembered: a
    caller that fits a spectrum without its interval and then again with it (``select_law`` does, for the law it
    reports) pays for the point fit once. A remembered profile is handed out as a copy with the points it had
    after the point fit, so that a fit's result never depends on the fits before it.
    """
    spec = prep.spec
    key = hashlib.blake2b(
        spec.x.tobytes() + repr((spec.n_censored, spec.t, spec.ref, spec.gamma, spec.form, method)).encode()
    ).digest()
    with _POINT_MEMO_LOCK:
        hit = _POINT_MEMO.get(key)
        if hit is not None:
            _POINT_MEMO.move_to_end(key)
    if hit is None:
        pt, prof = _point_fit(spec, method)
        ll_norm = ks = p_mp = math.nan
        if pt.ok:
            # at the top: the profile's own kappa there, exp(U_MAX) (not the rounded 1e3: the law reuses the march
            # of that kappa); at the bottom: the bound itself
            k_eval = math.exp(lik.U_MAX) if math.isinf(pt.kappa) else pt.kappa
            # the exact log-likelihood at the estimate (the profile's value comes from a fitted polynomial)
            ll_norm = float(lik.loglik_table([spec], k_eval, np.array([[pt.log_scale]]))[0, 0])
            ks = _ks(spec, pt.kappa, pt.log_scale) if spec.x.size else math.nan  # kappa = inf: MP's CDF
            p_mp, _ = mp_test(_direct_variable(prep, None), spec.gamma)
        hit = (pt, None if prof is None else prof.copy(), ll_norm, ks, p_mp)
        with _POINT_MEMO_LOCK:
            _POINT_MEMO[key] = hit
            while len(_POINT_MEMO) > _POINT_MEMO_SIZE:
                _POINT_MEMO.popitem(last=False)
    pt, prof, ll_norm, ks, p_mp = hit
    return pt, None if prof is None else prof.copy(), ll_norm, ks, p_mp


# Long by design: the estimator's procedure read top to bottom (checks, the point fit, the MP end, the
# interval, the result), each step a call of a helper above; split, its state would travel between them.
def fit_htmp(
    eigenvalues,
    gamma: float,
    form: str = "direct",
    method: str = "mle",
    rng: np.random.Generator | int | None = None,
    ci: bool = True,
    n_boot: int = 20,
    *,
    floor: float | None = None,
    rank: int | None = None,
    progress: Callable[[int, str], None] | None = None,
) -> FitResult:
    r"""Fit the HTMP law to one spectrum: kappa, scale and a calibrated 95% interval for kappa.

    Direct form: :math:`x/s \sim \mathrm{HTMP}(\gamma, \kappa)`, density :math:`\rho(x/s)/s`. Inverse form:
    :math:`s/\lambda \sim \mathrm{HTMP}(\gamma, \kappa)`, density :math:`s\,\lambda^{-2}\rho(s/\lambda)`
    (Theorem 4.1 of the paper). See the module docstring for the estimators, the floor, the interval and
    the input handling.

    Parameters
    ----------
    eigenvalues : array_like
        Eigenvalues of one matrix (1-D, any order, any units).
    gamma : float
        Aspect ratio in (0, 1) of the matrix that produced them.
    form : {"direct", "inverse"}
        Which law the eigenvalues follow (see above).
    method : {"mle", "moments", "ks", "stieltjes"}
        Estimator.
    rng : numpy.random.Generator, int or None
        Randomness of the bootstrap; ``None`` uses the fixed seed 0 (reproducible).
    ci : bool
        Compute the interval (``kappa_ci``, ``kappa_debiased``).
    n_boot : int
        Bootstrap replicates, at least 5 (Student's t with B - 1 degrees of freedom accounts for B).
    floor : float, optional
        Eigenvalues at or below it are left-censored; default the eigensolver's accuracy ``n eps max|lambda|``.
        Negative eigenvalues below ``-floor`` are an error.
    rank : int, optional
        The rank implied by the matrix's shape, when below the number of eigenvalues: the
        ``n - rank`` smallest are structural zeros, dropped, and gamma becomes ``gamma rank / n``.
    progress : callable, optional
        ``progress(units, stage)`` is called as work completes: 1 unit for the point estimate, 1 per bootstrap
        replicate drawn (from worker threads: the callable must be thread-safe, as ``tqdm.update`` is) and 1 for
        the interval; :func:`fit_units` gives the total. A second bootstrap (see ``BIAS_ITERATE``) reports its
        replicates under its own stage name, ``SECOND_STAGE``, beyond that total. Meant for progress bars on long
        fits.

    Returns
    -------
    FitResult

    References
    ----------
    Hodgkinson, Wang & Mahoney (2025); B. Efron & R. Tibshirani, *An Introduction to the Bootstrap*
    (1993), ch. 13 (basic/bias-corrected bootstrap intervals).
    """
    _check_form(form)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if not isinstance(n_boot, int | np.integer) or isinstance(n_boot, bool) or n_boot < 5:
        raise ValueError(f"n_boot must be an integer >= 5, got {n_boot!r}")
    gen = as_rng(rng, default_seed=0)  # None: a fixed seed, the same spectrum always gets the same interval
    if progress is None:

        def progress(units: int, stage: str) -> None:
            return None

    prep = _prepare(eigenvalues, gamma, form, floor, rank)
    if prep.fail:
        return _failed(prep, method, form, prep.fail, "")
    spec = prep.spec
    pt, prof, ll_norm, ks, p_mp = _point_stage(prep, method)
    progress(1, "point estimate")
    if not pt.ok:
        return _failed(prep, method, form, "no_convergence", pt.message)
    few = spec.x.size < MIN_OBSERVED
    status, msg = "ok", ""
    if few or pt.at_bottom:
        status = "rank_collapse"
        msg = (
            f"only {spec.x.size} eigenvalue(s) above the floor" if few else
            f"kappa at the bottom of the search interval {KAPPA_BOUNDS[0]:g}"
        ) + ": the data say only that kappa is tiny"  # fmt: skip
    elif pt.at_top:
        status = "mp_like"
        msg = f"kappa at the top of the search interval {KAPPA_BOUNDS[1]:g}: indistinguishable from Marchenko-Pastur"
    kappa = pt.kappa
    k_eval = KAPPA_BOUNDS[1] if math.isinf(kappa) else kappa
    if pt.at_bottom:
        kappa = math.nan  # the search bound is not an estimate: only the interval (0, hi] is
    loglik = spec.in_data_units(ll_norm)

    kappa_ci, kappa_deb, nb = _NAN2, math.nan, 0

    def bound(u: float, direction: float) -> float:
        """kappa at the one-sided 95% profile-likelihood bound from log kappa u (NaN without a profile)."""
        return math.exp(_profile_bound(prof, u, direction, ll_norm)) if prof is not None else math.nan

    if ci:
        if status == "ok":
            n_b = min(spec.n, N_BOOT_MAX)
            seed = int(gen.integers(2**63))  # the replicates' random numbers, shared by a second bootstrap

            def boot(stage: str) -> _Boot:
                return _Boot(
                    n_boot, n_b, np.random.default_rng(seed), floor is None, lambda k: progress(k, stage)
                )

            try:
                if method == "mle":
                    logk, n_full = _bootstrap_mle(
                        spec, prof, prof(math.log(kappa)), boot("bootstrap replicates")
                    )
                else:
                    logk = _bootstrap_refit(spec, method, kappa, pt.log_scale, boot("bootstrap replicates"))
                    n_full = n_boot
                # replicates smaller than the data: bias and spread rescaled by n_b / n
                iv = _bootstrap_interval(logk, math.log(kappa), n_b / spec.n)
                if method == "mle" and abs(iv.centre - math.log(kappa)) > BIAS_ITERATE:
                    second = _bootstrap_mle(spec, prof, prof(iv.centre), boot(SECOND_STAGE))[0]
                    iv = _second_bootstrap(
                        iv, _bootstrap_interval(second, iv.centre, n_b / spec.n), math.log(kappa)
                    )
            except RuntimeError as exc:
                return _failed(prep, method, form, "no_convergence", f"bootstrap: {exc}")
            nb = int(n_boot)
            msg = _join(msg, f"interval: ensemble bootstrap, {n_boot} replicates of {n_b} eigenvalues "
                             f"({n_full} refitted in full)", iv.note)  # fmt: skip
            if math.isfinite(iv.centre):
                kappa_ci, kappa_deb = (math.exp(iv.lo), math.exp(iv.hi)), math.exp(iv.centre)
            else:  # one-sided: the open end from the replicates, the other from the profile likelihood
                lo = 0.0 if iv.open_low else bound(math.log(kappa), -1.0)
                hi = math.inf if iv.open_high else bound(math.log(kappa), +1.0)
                kappa_ci = (lo, hi)
                msg = _join(msg, "a quarter or more of the replicates at an end of the search range: one-sided "
                                 "interval, its finite end a profile-likelihood bound")  # fmt: skip
            if p_mp >= MP_LEVEL:
                kappa_ci = (kappa_ci[0], math.inf)
                msg = _join(
                    msg, f"MP not rejected (p = {p_mp:.3g}): the interval is one-sided, upper bound inf"
                )
        elif status == "mp_like":
            kappa_ci = (bound(lik.U_MAX, -1.0), math.inf)
            msg = _join(msg, "interval: one-sided profile-likelihood bound [lo, inf)")
        elif prof is not None:  # rank collapse
            kappa_ci = (0.0, bound(math.log(k_eval), +1.0))
            msg = _join(msg, "interval: one-sided profile-likelihood bound (0, hi]")
        else:
            msg = _join(msg, f"no interval for status {status} with method {method}")
    progress(1, "interval")
    return FitResult(
        kappa=float(kappa), scale=float(math.exp(pt.log_scale) * spec.ref), kappa_ci=tuple(map(float, kappa_ci)),
        loglik=float(loglik), ks=float(ks), status=status, method=method, form=form, gamma=spec.gamma, n=spec.n,
        n_censored=spec.n_censored, floor=prep.floor, n_structural_zeros=prep.n_structural_zeros,
        kappa_debiased=kappa_deb, n_boot=nb, p_mp=p_mp, message=_join(msg, prep.message),
    )  # fmt: skip


def fit_mp(eigenvalues, gamma: float, form: str = "direct", *, floor: float | None = None,
           rank: int | None = None) -> FitResult:  # fmt: skip
    r"""Fit Marchenko--Pastur (kappa = inf): the scale by maximum likelihood.

    Direct form :math:`x/s \sim \mathrm{MP}(\gamma)` (mean 1, support :math:`[(1-\sqrt\gamma)^2,
    (1+\sqrt\gamma)^2]`); inverse form :math:`s/\lambda \sim \mathrm{MP}(\gamma)` (the law of 1/X).
    The support is compact, so the likelihood is finite only for scales mapping every eigenvalue inside it;
    when no scale does (finite-n edge fluctuations, outliers, a heavy tail, censored eigenvalues), the result
    has ``loglik = -inf``, status ``"outside_support"`` and the moment scale. ``floor`` and ``rank`` as in
    :func:`fit_htmp`.

    Returns
    -------
    FitResult
        With ``kappa = inf`` and ``kappa_ci = (inf, inf)``.
    """
    from htmu.laws import mp_logpdf

    _check_form(form)
    prep = _prepare(eigenvalues, gamma, form, floor, rank)
    if prep.fail:
        return _failed(prep, "mle", form, prep.fail, "")
    spec = prep.spec
    g = spec.gamma
    lo_z, hi_z = (1 - math.sqrt(g)) ** 2, (1 + math.sqrt(g)) ** 2
    logx = spec.logx
    # feasible log scales: every z inside the support
    if form == "direct":
        ls_lo, ls_hi = logx[-1] - math.log(hi_z), logx[0] - math.log(lo_z)
    else:
        ls_lo, ls_hi = math.log(lo_z) + logx[-1], math.log(hi_z) + logx[0]
    _, ls_mom = _moments(spec)

    def ll(ls: float) -> float:
        lp = mp_logpdf(spec.z(ls), g)
        jac = -spec.x.size * ls if form == "direct" else spec.x.size * ls - 2 * logx.sum()
        return float(np.sum(lp) + jac)

    status, msg = "ok", ""
    if spec.n_censored == 0 and ls_lo < ls_hi:
        r = optimize.minimize_scalar(lambda v: -ll(v), bounds=(ls_lo, ls_hi), method="bounded",
                                     options={"xatol": 1e-10})  # fmt: skip
        ls, loglik = float(r.x), -float(r.fun)
    else:
        ls, loglik = ls_mom, -math.inf
        n_out = int(np.sum((spec.z(ls) <= lo_z) | (spec.z(ls) >= hi_z))) + spec.n_censored
        status = "outside_support"
        msg = (
            f"the eigenvalues' range exceeds MP's support ratio {hi_z / lo_z:.4g}: no scale gives a finite "
            f"likelihood ({n_out} outside at the moment scale)"
        )
    if not math.isfinite(loglik):
        status = "outside_support"
    ks = _ks(spec, math.inf, ls)
    return FitResult(
        kappa=math.inf, scale=float(math.exp(ls) * spec.ref), kappa_ci=(math.inf, math.inf),
        loglik=spec.in_data_units(loglik), ks=ks, status=status, method="mle", form=form, gamma=g, n=spec.n,
        n_censored=spec.n_censored, floor=prep.floor, n_structural_zeros=prep.n_structural_zeros,
        message=_join(msg, prep.message),
    )  # fmt: skip


def _powerlaw_alpha(tail_log_sum: float, n_tail: int) -> float:
    return 1.0 + n_tail / tail_log_sum


def fit_powerlaw(eigenvalues, xmin: float | None = None, max_candidates: int = 1000) -> PowerLawResult:
    r"""Continuous power-law fit of the upper tail by the Clauset--Shalizi--Newman method.

    :math:`p(x) = \frac{\alpha - 1}{x_{\min}}(x/x_{\min})^{-\alpha}` on :math:`x \ge x_{\min}`, with the
    maximum-likelihood :math:`\hat\alpha = 1 + n_t / \sum_{x_i \ge x_{\min}} \log(x_i/x_{\min})` and
    standard error :math:`(\hat\alpha - 1)/\sqrt{n_t}`. Without ``xmin``, it is chosen among the
    observed values (at most ``max_candidates`` of them, evenly spaced in rank, keeping at least
    ``MIN_TAIL`` = 10 tail points) to minimise the KS distance between the tail and the fit. No bound is
    put on alpha (unlike powerlaw 2.0, which clamps it at 3).

    Parameters
    ----------
    eigenvalues : array_like
        Positive values (zeros and negatives are rejected).
    xmin : float, optional
        Fixed lower cut-off.
    max_candidates : int
        Cap on the number of xmin candidates scanned.

    Returns
    -------
    PowerLawResult

    References
    ----------
    A. Clauset, C. R. Shalizi, M. E. J. Newman, "Power-law distributions in empirical data", SIAM Review
    51 (2009) 661.
    """
    x = as_spectrum(eigenvalues)
    if (x <= 0).any():
        raise ValueError(f"eigenvalues must be positive for a power-law fit ({int((x <= 0).sum())} are not)")
    x = np.sort(x)
    n = x.size
    logx = np.log(x)

    def ks_at(k: int) -> tuple[float, float]:
        t = logx[k:]
        nt = t.size
        s = float(np.sum(t) - nt * t[0])
        if s <= 0:
            return math.nan, math.inf
        alpha = _powerlaw_alpha(s, nt)
        return alpha, ks_statistic(1.0 - np.exp((1.0 - alpha) * (t - t[0])))

    if xmin is not None:
        if not (math.isfinite(xmin) and xmin > 0):
            raise ValueError(f"xmin must be positive and finite, got {xmin!r}")
        k = int(np.searchsorted(x, xmin, side="left"))
        if n - k < MIN_TAIL:
            return PowerLawResult(math.nan, math.nan, float(xmin), math.nan, math.nan, n - k, n, "too_few")
        # alpha uses the given xmin, not the smallest tail point
        t = logx[k:]
        nt = t.size
        alpha = _powerlaw_alpha(float(np.sum(t) - nt * math.log(xmin)), nt)
        ks = ks_statistic(1.0 - np.exp((1.0 - alpha) * (t - math.log(xmin))))
        x0 = float(xmin)
    else:
        if n < MIN_TAIL + 1:
            return PowerLawResult(math.nan, math.nan, math.nan, math.nan, math.nan, 0, n, "too_few")
        last = n - MIN_TAIL
        ks_idx = np.unique(np.linspace(0, last, min(max_candidates, last + 1)).round().astype(int))
        best = (math.inf, -1, math.nan)
        for k in ks_idx:
            if k > 0 and x[k] == x[k - 1]:
                continue
            alpha, d = ks_at(int(k))
            if d < best[0]:
                best = (d, int(k), alpha)
        ks, k, alpha = best
        if k < 0:
            return PowerLawResult(math.nan, math.nan, math.nan, math.nan, math.nan, 0, n, "no_convergence")
        nt = n - k
        x0 = float(x[k])
    loglik = float(nt * math.log((alpha - 1) / x0) - alpha * np.sum(logx[n - nt :] - math.log(x0)))
    return PowerLawResult(
        alpha=float(alpha),
        alpha_se=float((alpha - 1) / math.sqrt(nt)),
        xmin=x0,
        ks=float(ks),
        loglik=loglik,
        n_tail=int(nt),
        n=int(n),
        status="ok",
    )
