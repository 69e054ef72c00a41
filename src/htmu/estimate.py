r"""Estimators of the HTMP parameter kappa, with intervals calibrated on the ensemble itself.

What is implemented, and why
----------------------------
The paper's own estimator (Algorithm 1, Appendix G, with a CLT in Proposition G.5) is not available to
us, so this module offers four estimators of :math:`(\kappa, \text{scale})` and calibrates their
uncertainty by simulation instead of by iid asymptotics:

``method="mle"`` (default)
    Joint maximum likelihood of :math:`(\log\kappa, \log s)` treating the eigenvalues as a sample from the
    HTMP law: direct form :math:`x/s \sim \mathrm{HTMP}(\gamma,\kappa)`, inverse form
    :math:`s/\lambda \sim \mathrm{HTMP}(\gamma,\kappa)` (density :math:`s\lambda^{-2}\rho(s/\lambda)`).
    :math:`\kappa` is searched in ``KAPPA_BOUNDS`` = [1e-3, 1e3]; an optimum at the upper bound means the
    data cannot be told from Marchenko--Pastur: status ``"mp_like"``, ``kappa = inf``.
``method="moments"``
    From :math:`\mathrm{Var}\,x = \gamma(1 + 2/\kappa)` for a mean-1 law:
    :math:`\hat\kappa = 2\gamma/(m_2/m_1^2 - 1 - \gamma)`; a denominator :math:`\le 0` (MP-like or
    under-dispersed) gives ``kappa = inf``, status ``"mp_like"``.
``method="ks"``
    Minimum Kolmogorov--Smirnov distance between the empirical and the model CDF.
``method="stieltjes"``
    Least squares between the empirical Stieltjes transform :math:`\frac1n\sum_i (z_i - w)^{-1}` of the
    standardised eigenvalues and the model's :math:`\int \rho(t)/(t - w)\,dt` (by quadrature of the
    density) at the points ``STIELTJES_POINTS`` off the real axis.

Honest intervals
    Eigenvalues are dependent (repulsion) and the finite-n ensemble is not the limit law, so the iid
    Fisher interval is wrong in both centre and width (a trial at n = 1000, kappa = 5.5 gave an MLE of
    5.99 +- 0.32). We use a parametric bootstrap *from the ensemble* (:func:`htmu.ensembles.
    sample_htmp_ensemble`) at the fitted :math:`(\hat\kappa, \hat s)`: B replicate spectra of the same
    size are refitted, giving the bias :math:`b` and spread :math:`\sigma` of :math:`\log\hat\kappa`.
    The 95% interval is :math:`\exp(\log\hat\kappa - b \pm t_{B-1,0.975}\,\sigma\sqrt{1 + 1/B})` (basic
    bootstrap in log kappa with the Monte-Carlo error of b and sigma folded in through Student's t).
    For the MLE the replicate fits are chord-Newton iterations from :math:`\hat\theta` with the observed
    information of the original fit (``boot_steps`` steps; B = 30 by default); the other methods refit
    each replicate fully (slow for ``"ks"`` and ``"stieltjes"``). ``kappa_debiased`` is
    :math:`\hat\kappa e^{-b}`. The coverage is checked in ``tests/test_estimate.py`` and
    ``benchmarks/coverage_study.py``.

Speed
    :func:`htmu.laws.htmp_logpdf` is exact but costs about 0.3 ms per point, and a fit with its bootstrap
    needs thousands of log-likelihood evaluations of n points. The optimisers therefore work on a
    Chebyshev interpolant of :math:`\log\rho(e^u; \gamma, e^\ell)` over a box in
    :math:`(u = \log z, \ell = \log\kappa)` around the data and the current estimate (64 x 7 exact
    evaluations; the box follows the optimum), with exact evaluation outside the box. At the optimum
    the exact log-likelihood is computed; if it differs from the interpolated one by more than
    ``_SURROGATE_TOL`` (0.02 nats) the interpolant is refined and the fit repeated. The reported
    ``loglik`` is always the exact one.

Input handling
    NaN/inf eigenvalues, negative eigenvalues beyond the numerical-zero tolerance, gamma outside (0, 1)
    and unknown forms/methods raise ``ValueError``. Eigenvalues with :math:`|\lambda| \le
    \max|\lambda|\cdot n\cdot\varepsilon` are numerical zeros (rank deficiency): they are dropped,
    ``n_dropped`` reports them, and gamma is adjusted to :math:`\gamma r/n` because the r nonzero
    eigenvalues of a rank-r Gram matrix :math:`W W^\top` (W of size n x m) are those of an r x m matrix
    (aspect ratio r/m). Fewer than ``MIN_EIGENVALUES`` = 20 eigenvalues give status ``"too_few"``; a
    participation ratio :math:`(\sum z)^2/\sum z^2` of the direct-form variable (:math:`z = x`, or
    :math:`1/\lambda` for the inverse form) below ``RANK_COLLAPSE_PR`` = 3 gives
    ``"rank_collapse"``; an optimiser failure gives ``"no_convergence"``. Failed fits carry NaN numbers
    *and* the status; qualifiers are appended with ``+`` (e.g. ``"ok+zeros_dropped"``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import optimize, stats

from htmu.ensembles import sample_htmp_ensemble

__all__ = [
    "FitResult",
    "PowerLawResult",
    "LawComparison",
    "fit_htmp",
    "fit_mp",
    "fit_powerlaw",
    "compare_laws",
    "MIN_EIGENVALUES",
    "KAPPA_BOUNDS",
    "RANK_COLLAPSE_PR",
]

MIN_EIGENVALUES = 20
KAPPA_BOUNDS = (1e-3, 1e3)
RANK_COLLAPSE_PR = 3.0
MIN_TAIL = 10
STIELTJES_POINTS = np.array([0.25 + 0.5j, 0.75 + 0.5j, 1.5 + 0.5j, 3.0 + 0.5j, 1.0 + 2.0j])
FORMS = ("direct", "inverse")
METHODS = ("mle", "moments", "ks", "stieltjes")
_NAN2 = (math.nan, math.nan)


@dataclass(frozen=True)
class FitResult:
    """Result of fitting HTMP (or MP) to one spectrum.

    Attributes
    ----------
    kappa : float
        Point estimate of kappa (``inf`` for MP-like spectra, NaN when no fit was possible).
    scale : float
        Direct form: ``x / scale ~ htmp``; inverse form: ``scale / lambda ~ htmp``.
    kappa_ci : tuple of float
        95% interval for kappa, calibrated by the ensemble bootstrap (NaN when not computed).
    loglik : float
        Log-likelihood of the eigenvalues, in the data's own units, at the estimate.
    ks : float
        Kolmogorov--Smirnov distance between the empirical and the fitted CDF.
    status : str
        ``"ok"``, ``"mp_like"``, ``"kappa_at_lower_bound"``, ``"too_few"``, ``"rank_collapse"``,
        ``"no_convergence"``, ``"outside_support"`` (MP only), with ``+`` qualifiers such as
        ``"+zeros_dropped"``, ``"+no_interval"``.
    method, form : str
        The estimator and the form fitted.
    n : int
        Number of eigenvalues used (after dropping zeros).
    gamma : float
        Aspect ratio used (adjusted when zeros were dropped).
    n_dropped : int
        Number of numerical-zero eigenvalues dropped.
    kappa_debiased : float
        ``kappa`` corrected by the bootstrap bias of log kappa (NaN without interval).
    n_boot : int
        Number of bootstrap replicates behind ``kappa_ci``.
    message : str
        Human-readable detail behind the status.
    """

    kappa: float
    scale: float
    kappa_ci: tuple[float, float]
    loglik: float
    ks: float
    status: str
    method: str
    n: int
    gamma: float
    form: str
    n_dropped: int
    kappa_debiased: float = math.nan
    n_boot: int = 0
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


@dataclass(frozen=True)
class LawComparison:
    """MP vs HTMP vs power law (tail) for one spectrum; see :func:`compare_laws`."""

    htmp: FitResult
    mp: FitResult
    powerlaw: PowerLawResult
    loglik_htmp: float
    loglik_mp_proxy: float
    lr_htmp_vs_mp: float
    p_htmp_vs_mp: float
    loglik_tail_htmp: float
    loglik_tail_powerlaw: float
    vuong_z_htmp_vs_powerlaw: float
    p_htmp_vs_powerlaw: float
    preferred: str
    notes: list[str] = field(default_factory=list)

    def to_row(self) -> dict:
        """One flat row: the HTMP fit, the MP comparison and the power-law tail (for CSV tables).

        ``loglik_mp`` is the MP proxy's (HTMP at the kappa cap) log-likelihood used by the test;
        ``loglik_mp_exact`` the exact compact-support MP one (possibly ``-inf``).
        """
        h, p = self.htmp, self.powerlaw
        return {
            "kappa": h.kappa,
            "kappa_lo": h.kappa_ci[0],
            "kappa_hi": h.kappa_ci[1],
            "kappa_debiased": h.kappa_debiased,
            "scale": h.scale,
            "loglik": h.loglik,
            "ks": h.ks,
            "status": h.status,
            "message": h.message,
            "preferred": self.preferred,
            "loglik_mp": self.loglik_mp_proxy,
            "loglik_mp_exact": self.mp.loglik,
            "loglik_htmp": self.loglik_htmp,
            "lr_htmp_vs_mp": self.lr_htmp_vs_mp,
            "p_htmp_vs_mp": self.p_htmp_vs_mp,
            "p_htmp_vs_powerlaw": self.p_htmp_vs_powerlaw,
            "alpha_tail": p.alpha,
            "alpha_tail_se": p.alpha_se,
            "xmin": p.xmin,
            "n_tail": p.n_tail,
            "method": h.method,
            "n_dropped": h.n_dropped,
        }

    def to_dict(self) -> dict:
        """Nested plain-Python dictionary."""
        d = asdict(self)
        d["htmp"] = self.htmp.to_dict()
        d["mp"] = self.mp.to_dict()
        d["powerlaw"] = self.powerlaw.to_dict()
        return d


# --------------------------------------------------------------------------------------------------
# input handling


@dataclass(frozen=True)
class _Prepared:
    x: np.ndarray  # sorted positive eigenvalues
    gamma: float
    n_dropped: int
    fail: str | None  # "too_few" / "rank_collapse" / None
    message: str


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


def _prepare(eigenvalues, gamma: float, form: str) -> _Prepared:
    g = _check_gamma(gamma)
    lam = np.asarray(eigenvalues, dtype=float).ravel()
    if np.isnan(lam).any():
        raise ValueError(f"eigenvalues contain {int(np.isnan(lam).sum())} NaN value(s)")
    if np.isinf(lam).any():
        raise ValueError(f"eigenvalues contain {int(np.isinf(lam).sum())} infinite value(s)")
    n0 = lam.size
    if n0 == 0:
        return _Prepared(lam, g, 0, "too_few", "no eigenvalues")
    # Eigenvalues of a Gram matrix computed in floating point have absolute error ~ max|lam| n eps, so
    # anything within that of zero (either sign) is a numerical zero, not a negative eigenvalue.
    tol = float(np.max(np.abs(lam))) * n0 * np.finfo(float).eps
    neg = lam < -tol
    if neg.any():
        raise ValueError(
            f"eigenvalues contain {int(neg.sum())} negative value(s) beyond the numerical-zero "
            f"tolerance {tol:.3g} (min {lam.min():.6g})"
        )
    keep = lam > tol
    x = np.sort(lam[keep])
    n_dropped = int(n0 - x.size)
    msg = ""
    if n_dropped:
        g = g * x.size / n0
        msg = (
            f"dropped {n_dropped} numerical-zero eigenvalue(s) (<= {tol:.3g}); "
            f"gamma adjusted {float(gamma):.6g} -> {g:.6g} (rank r: gamma r/n)"
        )
    if x.size < MIN_EIGENVALUES:
        return _Prepared(x, g, n_dropped, "too_few", f"{x.size} nonzero eigenvalues < {MIN_EIGENVALUES}")
    # Judge collapse on the direct-form variable (x, or 1/lambda for the inverse form): its HTMP variance
    # gamma (1 + 2/kappa) is finite for every kappa, whereas the inverse form's own upper tail may have
    # infinite variance without any collapse.
    zc = x if form == "direct" else 1.0 / x
    pr = float(zc.sum() ** 2 / np.sum(zc**2))
    if pr < RANK_COLLAPSE_PR:
        return _Prepared(
            x,
            g,
            n_dropped,
            "rank_collapse",
            f"participation ratio {pr:.3g} < {RANK_COLLAPSE_PR}: nearly all mass in a few eigenvalues",
        )
    return _Prepared(x, g, n_dropped, None, msg)


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def _status(base: str, prep: _Prepared, *extra: str) -> str:
    quals = [e for e in extra if e]
    if prep.n_dropped:
        quals.append("zeros_dropped")
    return "+".join([base, *quals])


def _failed(prep: _Prepared, method: str, form: str, status: str, message: str) -> FitResult:
    return FitResult(
        kappa=math.nan,
        scale=math.nan,
        kappa_ci=_NAN2,
        loglik=math.nan,
        ks=math.nan,
        status=_status(status, prep),
        method=method,
        n=int(prep.x.size),
        gamma=prep.gamma,
        form=form,
        n_dropped=prep.n_dropped,
        message=_join(message, prep.message),
    )


# --------------------------------------------------------------------------------------------------
# densities and CDFs of the standardised variable z (direct: z = x/s, inverse: z = s/lambda)


def _mp_logpdf(z: np.ndarray, gamma: float) -> np.ndarray:
    """Marchenko--Pastur log-density (mean 1), -inf outside its support."""
    lo, hi = (1 - math.sqrt(gamma)) ** 2, (1 + math.sqrt(gamma)) ** 2
    z = np.asarray(z, dtype=float)
    inside = (z > lo) & (z < hi)
    out = np.full(z.shape, -np.inf)
    zi = z[inside]
    out[inside] = 0.5 * np.log((hi - zi) * (zi - lo)) - np.log(2 * math.pi * gamma * zi)
    return out


def _htmp_logpdf(z: np.ndarray, gamma: float, kappa: float) -> np.ndarray:
    """Exact standard log-density: MP for kappa = inf, else :func:`htmu.laws.htmp_logpdf`."""
    z = np.asarray(z, dtype=float)
    if math.isinf(kappa):
        return _mp_logpdf(z, gamma)
    from htmu.laws import htmp_logpdf  # imported lazily: the law module is heavier than this one

    return np.asarray(htmp_logpdf(z, gamma, kappa), dtype=float)


def _cheb_nodes(a: float, b: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Chebyshev points of the second kind on [a, b] and their barycentric weights."""
    j = np.arange(n)
    t = 0.5 * (a + b) + 0.5 * (b - a) * np.cos(np.pi * j / (n - 1))
    w = (-1.0) ** j
    w[[0, -1]] *= 0.5
    return t, w


def _bary_matrix(t: np.ndarray, nodes: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Rows of barycentric interpolation weights: ``M @ f(nodes) = p(t)``."""
    d = t[:, None] - nodes[None, :]
    hit = d == 0.0
    d[hit] = 1.0
    c = w[None, :] / d
    m = c / c.sum(axis=1, keepdims=True)
    rows = hit.any(axis=1)
    if rows.any():
        m[rows] = hit[rows].astype(float)
    return m


class _Surrogate:
    r"""Chebyshev interpolant of :math:`\log\rho(e^u; \gamma, e^\ell)` on a box in :math:`(u, \ell)`.

    Why: :func:`htmu.laws.htmp_logpdf` is exact but costs about a quarter of a millisecond per point,
    and a fit with its bootstrap needs thousands of likelihood evaluations of 1000 points. The log
    density is analytic in :math:`u = \log x` and :math:`\ell = \log\kappa`, so a tensor Chebyshev
    interpolant on a box around the data and the current estimate is accurate with a few hundred exact
    evaluations; points outside the box are evaluated exactly. The fit checks the interpolant against
    the exact log-likelihood at its optimum (``_SURROGATE_TOL``) and refines it when needed.
    """

    def __init__(self, gamma: float, u0: float, u1: float, l0: float, l1: float, n_u: int = 64, n_k: int = 7):
        self.gamma, self.u0, self.u1, self.l0, self.l1 = gamma, u0, u1, l0, l1
        self.tu, self.wu = _cheb_nodes(u0, u1, n_u)
        if l1 > l0:
            self.tl, self.wl = _cheb_nodes(l0, l1, n_k)
        else:
            self.tl, self.wl = np.array([l0]), np.array([1.0])
        zu = np.exp(self.tu)
        self.table = np.array([_htmp_logpdf(zu, gamma, math.exp(lk)) for lk in self.tl])
        self.finite = bool(np.all(np.isfinite(self.table)))
        # Chebyshev coefficients in u per kappa node (interpolation at the Chebyshev-Lobatto points),
        # evaluated by Clenshaw's recurrence: O(n n_u) with no n x n_u matrix.
        tt = np.cos(np.pi * np.arange(n_u) / (n_u - 1))
        vander = np.polynomial.chebyshev.chebvander(tt, n_u - 1)
        self.coef = np.linalg.solve(vander, self.table.T).T if self.finite else None

    def __call__(self, z: np.ndarray, logk: float) -> np.ndarray:
        logk = min(max(logk, self.l0), self.l1)
        if self.tl.size > 1:
            wk = _bary_matrix(np.array([logk]), self.tl, self.wl)[0]
        else:
            wk = np.ones(1)
        u = np.log(z)
        inside = (u >= self.u0) & (u <= self.u1)
        if self.coef is None:
            return _htmp_logpdf(z, self.gamma, math.exp(logk))
        c = wk @ self.coef
        t = (2.0 * u - (self.u0 + self.u1)) / (self.u1 - self.u0)
        if inside.all():
            return np.polynomial.chebyshev.chebval(t, c)
        out = np.empty(z.shape)
        out[inside] = np.polynomial.chebyshev.chebval(t[inside], c)
        out[~inside] = _htmp_logpdf(z[~inside], self.gamma, math.exp(logk))
        return out


_SURROGATE_TOL = 0.02  # |exact - interpolated| log-likelihood at the optimum, in nats


def _z_cdf(z_sorted: np.ndarray, gamma: float, kappa: float, logpdf=None, n_grid: int = 600) -> np.ndarray:
    r"""CDF of the standard HTMP (or MP for kappa = inf) at sorted points, by quadrature of the density.

    Trapezoid rule in :math:`u = \log z` (where :math:`\rho(e^u)e^u` is smooth) on a grid from
    :math:`\log\min(z_{\min}, 10^{-4}/s) - 1` (or :math:`\log z_{\min} - 3` when :math:`a \ge 4`) to :math:`\log z_{\max}`; the mass below the grid start :math:`\epsilon` is
    :math:`\approx \rho(\epsilon)\epsilon/(a + 1)` from the :math:`x^a` behaviour at 0. ``logpdf``
    (a callable of z) replaces the exact density, e.g. by a surrogate.
    """
    if logpdf is None:

        def logpdf(t):
            return _htmp_logpdf(t, gamma, kappa)

    if math.isinf(kappa):
        u = np.linspace(math.log((1 - math.sqrt(gamma)) ** 2), math.log((1 + math.sqrt(gamma)) ** 2), n_grid)
        left = 0.0
        f = np.exp(logpdf(np.exp(u)) + u)
    else:
        a = kappa / (2 * gamma) - kappa / 2 - 1
        zmin = max(float(z_sorted[0]), 1e-300)
        if a + 1 < 5:
            # start where rho ~ z^a holds (s z << 1), so that the left-tail correction is accurate
            u_start = math.log(min(zmin, 1e-4 * 2 * gamma / kappa)) - 1.0
        else:
            # rho vanishes like z^a, a >= 4, at 0: the mass below zmin e^-3 is below e^-15 of that below zmin
            u_start = math.log(zmin) - 3.0
        u = np.linspace(u_start, math.log(max(float(z_sorted[-1]), zmin * 2)), n_grid)
        lf = logpdf(np.exp(u))
        left = float(np.exp(lf[0] + u[0]) / (a + 1))
        f = np.exp(lf + u)
    f[~np.isfinite(f)] = 0.0
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (f[1:] + f[:-1]) * np.diff(u))]) + left
    return np.clip(np.interp(np.log(z_sorted), u, cum), 0.0, 1.0)


def _ks(z: np.ndarray, gamma: float, kappa: float, logpdf=None) -> float:
    zs = np.sort(z)
    f = _z_cdf(zs, gamma, kappa, logpdf)
    n = zs.size
    i = np.arange(1, n + 1)
    return float(max(np.max(i / n - f), np.max(f - (i - 1) / n)))


def _standardise(x: np.ndarray, scale: float, form: str) -> np.ndarray:
    return x / scale if form == "direct" else scale / x


def _loglik_data(x: np.ndarray, gamma: float, kappa: float, scale: float, form: str) -> float:
    """Exact log-likelihood of the eigenvalues in their own units (Jacobian included)."""
    lp = _htmp_logpdf(_standardise(x, scale, form), gamma, kappa)
    if form == "direct":
        return float(np.sum(lp) - x.size * math.log(scale))
    return float(np.sum(lp) + x.size * math.log(scale) - 2 * np.sum(np.log(x)))


# --------------------------------------------------------------------------------------------------
# estimators on prepared data


def _moments(x: np.ndarray, gamma: float, form: str) -> tuple[float, float]:
    z = x if form == "direct" else 1.0 / x
    m1 = float(np.mean(z))
    m2 = float(np.mean(z**2))
    denom = m2 / m1**2 - 1 - gamma
    scale = m1 if form == "direct" else 1.0 / m1
    kappa = 2 * gamma / denom if denom > 0 else math.inf
    return kappa, scale


def _start(x: np.ndarray, gamma: float, form: str) -> np.ndarray:
    k0, s0 = _moments(x, gamma, form)
    k0 = min(max(k0, 1e-2), 1e2)
    return np.array([math.log(k0), math.log(s0)])


_LOGK_LO, _LOGK_HI = math.log(KAPPA_BOUNDS[0]), math.log(KAPPA_BOUNDS[1])
_HALF_K = 1.0  # half-width of the surrogate's log-kappa box
_HALF_S = 0.5  # half-width of the log-scale search box around the start
_U_PAD = 1.0  # padding of the surrogate's log-z box beyond the data at the extreme scales


def _u_box(x: np.ndarray, log_scale: float, form: str, pad_left: float = _U_PAD) -> tuple[float, float]:
    lx0, lx1 = math.log(x[0]), math.log(x[-1])
    if form == "direct":  # u = log x - log s
        return lx0 - log_scale - _HALF_S - pad_left, lx1 - log_scale + _HALF_S + _U_PAD
    return log_scale - lx1 - _HALF_S - pad_left, log_scale - lx0 + _HALF_S + _U_PAD  # u = log s - log lambda


def _make_negll(x: np.ndarray, form: str, logpdf) -> Callable[[np.ndarray], float]:
    """Negative log-likelihood of (log kappa, log scale) given ``logpdf(z, log_kappa)``."""
    n = x.size
    logx = np.log(x)
    const = 0.0 if form == "direct" else -2.0 * float(np.sum(logx))

    def negll(theta: np.ndarray) -> float:
        ls = float(theta[1])
        if form == "direct":
            v = np.sum(logpdf(np.exp(logx - ls), theta[0])) - n * ls
        else:
            v = np.sum(logpdf(np.exp(ls - logx), theta[0])) + n * ls + const
        v = float(v)
        # A non-finite log-likelihood is outside the usable region: a large finite penalty keeps the
        # simplex working instead of propagating NaN.
        return -v if math.isfinite(v) else 1e300

    return negll


def _mle(x: np.ndarray, gamma: float, form: str, theta0: np.ndarray | None = None):
    """Joint MLE of (log kappa, log scale) on a surrogate box that follows the optimum.

    Returns ``(theta, converged, message, surrogate, exact_loglik)``.
    """
    th0 = _start(x, gamma, form) if theta0 is None else np.asarray(theta0, float)
    n_u, n_k = 64, 7
    msg = ""
    for _ in range(8):
        lc = min(max(th0[0], _LOGK_LO), _LOGK_HI)
        l0, l1 = max(_LOGK_LO, lc - _HALF_K), min(_LOGK_HI, lc + _HALF_K)
        ls0 = float(th0[1])
        sur = _Surrogate(gamma, *_u_box(x, ls0, form), l0, l1, n_u=n_u, n_k=n_k)
        negll = _make_negll(x, form, sur)
        # Nelder-Mead: L-BFGS-B with finite-difference gradients stopped after one iteration on some
        # ensemble draws (flat ridge in (log kappa, log scale)); the simplex is robust in 2-D.
        res = optimize.minimize(
            negll,
            np.array([lc, ls0]),
            method="Nelder-Mead",
            bounds=[(l0, l1), (ls0 - _HALF_S, ls0 + _HALF_S)],
            options={
                "xatol": 1e-6,
                "fatol": 1e-8,
                "maxiter": 1000,
                "initial_simplex": np.array([lc, ls0]) + np.array([[0.0, 0.0], [0.3, 0.0], [0.0, 0.05]]),
            },
        )
        th = res.x
        edge_k = (th[0] < l0 + 0.02 and l0 > _LOGK_LO) or (th[0] > l1 - 0.02 and l1 < _LOGK_HI)
        edge_s = abs(th[1] - ls0) > _HALF_S - 0.02
        if edge_k or edge_s:
            th0 = th  # the box did not contain the optimum: recentre it there
            continue
        if not res.success:
            return th, False, f"Nelder-Mead: {res.message}", sur, math.nan
        exact = _loglik_data(x, gamma, math.exp(th[0]), math.exp(th[1]), form)
        at_bound = th[0] > _LOGK_HI - 0.02 or th[0] < _LOGK_LO + 0.02
        # At a global kappa bound the answer is the bound itself ("mp_like" or an upper bound), which
        # needs no refinement; the density is steepest there and the interpolant least accurate.
        if abs(exact + res.fun) <= _SURROGATE_TOL or not math.isfinite(exact) or at_bound:
            return th, True, msg, sur, exact
        # the interpolant is not accurate enough here: refine it and refit from this point
        msg = f"surrogate refined (error {abs(exact + res.fun):.2g} nats)"
        n_u, n_k = n_u + 24, n_k + 4
        th0 = th
        if n_u > 120:
            break
    return th0, False, "the optimum could not be located (surrogate box or accuracy)", sur, math.nan


def _wide_surrogate(x: np.ndarray, gamma: float, form: str, th0: np.ndarray) -> _Surrogate:
    """Surrogate over a wide box in log kappa, for objectives that search kappa freely (KS, Stieltjes)."""
    lc = min(max(th0[0], _LOGK_LO + 2.0), _LOGK_HI - 2.0)
    u0, u1 = _u_box(x, th0[1], form)
    # reach down to where the CDF quadrature of _z_cdf starts (1e-4/s at the largest kappa of the box)
    u0 = min(u0, math.log(1e-4 * 2 * gamma / math.exp(lc + 2.0)) - 1.5)
    return _Surrogate(gamma, u0, u1, lc - 2.0, lc + 2.0, n_u=64, n_k=11)


def _ks_objective(x: np.ndarray, gamma: float, form: str, sur: _Surrogate) -> Callable[[np.ndarray], float]:
    def obj(theta):
        logk = min(max(theta[0], sur.l0), sur.l1)
        z = _standardise(x, math.exp(theta[1]), form)
        return _ks(z, gamma, math.exp(logk), lambda t: sur(t, logk))

    return obj


def _model_stieltjes(
    w: np.ndarray, gamma: float, kappa: float, logpdf, u0: float, u1: float, n_grid: int = 800
):
    r""":math:`\int\rho(t)/(t - w)\,dt` by the trapezoid rule in :math:`\log t` on [u0, u1], plus the mass
    below :math:`e^{u_0}` (from :math:`\rho \sim t^a`) placed at 0."""
    a = kappa / (2 * gamma) - kappa / 2 - 1
    u = np.linspace(u0, u1, n_grid)
    t = np.exp(u)
    lf = logpdf(t)
    f = np.exp(lf + u)
    f[~np.isfinite(f)] = 0.0
    wts = np.full(u.size, u[1] - u[0])
    wts[[0, -1]] *= 0.5
    left = float(np.exp(lf[0] + u[0]) / (a + 1)) if np.isfinite(lf[0]) else 0.0
    return (f * wts) @ (1.0 / (t[:, None] - w[None, :])) + left * (-1.0 / w)


def _stieltjes_objective(
    x: np.ndarray, gamma: float, form: str, sur: _Surrogate
) -> Callable[[np.ndarray], float]:
    w = STIELTJES_POINTS

    def obj(theta):
        logk = min(max(theta[0], sur.l0), sur.l1)
        z = _standardise(x, math.exp(theta[1]), form)
        emp = np.mean(1.0 / (z[:, None] - w[None, :]), axis=0)
        model = _model_stieltjes(w, gamma, math.exp(logk), lambda t: sur(t, logk), sur.u0, sur.u1)
        return float(np.sum(np.abs(emp - model) ** 2))

    return obj


def _point_fit(x: np.ndarray, gamma: float, form: str, method: str, theta0=None, sur=None):
    """Return (kappa, scale, converged, message, surrogate or None, exact log-likelihood or NaN)."""
    if method == "moments":
        k, s = _moments(x, gamma, form)
        return k, s, True, "", None, math.nan
    if method == "mle":
        th, ok, msg, sur, ll = _mle(x, gamma, form, theta0)
        if not ok:
            return math.nan, math.nan, False, msg, sur, math.nan
        return math.exp(th[0]), math.exp(th[1]), True, msg, sur, ll
    th0 = _start(x, gamma, form) if theta0 is None else np.asarray(theta0, float)
    if sur is None:
        sur = _wide_surrogate(x, gamma, form, th0)
    obj = (_ks_objective if method == "ks" else _stieltjes_objective)(x, gamma, form, sur)
    res = optimize.minimize(
        obj,
        th0,
        method="Nelder-Mead",
        bounds=[(sur.l0, sur.l1), (th0[1] - _HALF_S, th0[1] + _HALF_S)],
        options={
            "xatol": 1e-3,
            "fatol": 1e-9,
            "maxiter": 400,
            "initial_simplex": th0 + np.array([[0, 0], [0.3, 0], [0, 0.05]]),
        },
    )
    if not res.success:
        return math.nan, math.nan, False, f"Nelder-Mead: {res.message}", sur, math.nan
    if (res.x[0] < sur.l0 + 0.02 and sur.l0 > _LOGK_LO + 0.1) or (
        res.x[0] > sur.l1 - 0.02 and sur.l1 < _LOGK_HI - 0.1
    ):
        return math.nan, math.nan, False, f"{method} optimum at the edge of the search box", sur, math.nan
    return math.exp(res.x[0]), math.exp(res.x[1]), True, "", sur, math.nan


# --------------------------------------------------------------------------------------------------
# bootstrap calibration


def _hessian(f: Callable[[np.ndarray], float], th: np.ndarray, h: float = 1e-3) -> np.ndarray:
    e = np.eye(2) * h
    f0 = f(th)
    hess = np.empty((2, 2))
    for i in range(2):
        hess[i, i] = (f(th + e[i]) - 2 * f0 + f(th - e[i])) / h**2
    hess[0, 1] = hess[1, 0] = (
        f(th + e[0] + e[1]) - f(th + e[0] - e[1]) - f(th - e[0] + e[1]) + f(th - e[0] - e[1])
    ) / (4 * h**2)
    return hess


def _grad(f: Callable[[np.ndarray], float], th: np.ndarray, h: float = 1e-4) -> np.ndarray:
    e = np.eye(2) * h
    return np.array([(f(th + e[i]) - f(th - e[i])) / (2 * h) for i in range(2)])


def _replicate(n: int, gamma: float, kappa: float, scale: float, form: str, rng) -> np.ndarray:
    z = sample_htmp_ensemble(n, gamma, kappa, rng)
    return np.sort(z * scale if form == "direct" else scale / z)


def _bootstrap_logk(
    x: np.ndarray,
    gamma: float,
    form: str,
    method: str,
    kappa: float,
    scale: float,
    n_boot: int,
    boot_steps: int,
    rng: np.random.Generator,
    sur: _Surrogate | None,
) -> tuple[np.ndarray, str]:
    """log kappa of ``n_boot`` refits of ensemble replicates drawn at (kappa, scale)."""
    n = x.size
    th_hat = np.array([math.log(kappa), math.log(scale)])
    out = np.empty(n_boot)
    if method == "mle":
        # The Hessian at the original fit serves all replicates (chord-Newton): replicates differ from
        # the fit by O(sigma), so each chord step squares the error.
        hess = _hessian(_make_negll(x, form, sur), th_hat)
        if not (np.all(np.isfinite(hess)) and np.all(np.linalg.eigvalsh(hess) > 0)):
            return np.array([]), "observed information not positive definite"
        hinv = np.linalg.inv(hess)
        for b in range(n_boot):
            f = _make_negll(_replicate(n, gamma, kappa, scale, form, rng), form, sur)
            th = th_hat.copy()
            for _ in range(boot_steps):
                th = th - hinv @ _grad(f, th)
            out[b] = min(max(th[0], _LOGK_LO), _LOGK_HI)
        return out, ""
    for b in range(n_boot):
        xb = _replicate(n, gamma, kappa, scale, form, rng)
        k, _, ok, why, _, _ = _point_fit(xb, gamma, form, method, theta0=th_hat, sur=sur)
        if not ok:
            return np.array([]), f"a bootstrap refit failed ({why})"
        out[b] = math.log(min(max(k, KAPPA_BOUNDS[0]), KAPPA_BOUNDS[1]))
    return out, ""


def _as_rng(rng) -> np.random.Generator:
    if rng is None:
        # A fixed default seed: the same spectrum always gets the same interval.
        return np.random.default_rng(0)
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, int | np.integer) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise ValueError(f"rng must be None, an int seed or a numpy.random.Generator, got {type(rng).__name__}")


def _profile_lower_bound(x: np.ndarray, gamma: float, form: str, scale: float, loglik_max: float) -> float:
    """Smallest kappa whose profile log-likelihood is within chi2_1(0.90)/2 of the maximum (one-sided 95%).

    Searched downwards from the cap in boxes of width 2 in log kappa (a surrogate per box).
    """
    cut = 0.5 * stats.chi2.ppf(0.90, 1)
    ls = math.log(scale)
    hi = _LOGK_HI
    while hi > _LOGK_LO:
        lo = max(_LOGK_LO, hi - 2.0)
        sur = _Surrogate(gamma, *_u_box(x, ls, form), lo, hi, n_u=40, n_k=7)
        negll = _make_negll(x, form, sur)

        def prof(logk: float, negll=negll) -> float:
            r = optimize.minimize_scalar(
                lambda s: negll(np.array([logk, s])), bounds=(ls - _HALF_S, ls + _HALF_S), method="bounded"
            )
            return -r.fun - (loglik_max - cut)

        if prof(lo) < 0:
            # Each box has its own surrogate, so the sign at this box's top edge need not match the one the
            # previous box saw at its bottom edge: then the crossing lies at the edge, to surrogate accuracy.
            if prof(hi) < 0:
                return math.exp(hi)
            return math.exp(optimize.brentq(prof, lo, hi, xtol=1e-3))
        hi = lo
    return KAPPA_BOUNDS[0]


# --------------------------------------------------------------------------------------------------
# public API


def fit_htmp(
    eigenvalues,
    gamma: float,
    form: str = "direct",
    method: str = "mle",
    rng: np.random.Generator | int | None = None,
    ci: bool = True,
    n_boot: int = 30,
    boot_steps: int = 2,
) -> FitResult:
    r"""Fit the HTMP law to one spectrum: kappa, scale and a calibrated 95% interval for kappa.

    Direct form: :math:`x/s \sim \mathrm{HTMP}(\gamma, \kappa)`, density
    :math:`\rho(x/s)/s`. Inverse form: :math:`s/\lambda \sim \mathrm{HTMP}(\gamma, \kappa)`, density
    :math:`s\,\lambda^{-2}\rho(s/\lambda)` (Theorem 4.1 of the paper). See the module docstring for the
    estimators, the interval and the input handling.

    Parameters
    ----------
    eigenvalues : array_like
        Eigenvalues of one matrix (any order). Numerical zeros are dropped and reported.
    gamma : float
        Aspect ratio in (0, 1) of the matrix that produced them.
    form : {"direct", "inverse"}
        Which law the eigenvalues follow (see above).
    method : {"mle", "moments", "ks", "stieltjes"}
        Estimator.
    rng : numpy.random.Generator, int or None
        Randomness of the bootstrap; ``None`` uses the fixed seed 0 (reproducible).
    ci : bool
        Compute the bootstrap interval (``kappa_ci``, ``kappa_debiased``).
    n_boot : int
        Bootstrap replicates (default 30; Student's t with B - 1 degrees of freedom accounts for B).
    boot_steps : int
        Chord-Newton steps per MLE replicate (default 2).

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
    if not isinstance(n_boot, int | np.integer) or n_boot < 5:
        raise ValueError(f"n_boot must be an integer >= 5, got {n_boot!r}")
    gen = _as_rng(rng)
    prep = _prepare(eigenvalues, gamma, form)
    if prep.fail:
        return _failed(prep, method, form, prep.fail, prep.message)
    x, g = prep.x, prep.gamma
    kappa, scale, ok, msg, sur, ll_point = _point_fit(x, g, form, method)
    if not ok:
        return _failed(prep, method, form, "no_convergence", msg)

    base = "ok"
    extra = ""
    if kappa >= KAPPA_BOUNDS[1] * (1 - 1e-6) or math.isinf(kappa):
        base = "mp_like"
        kappa = math.inf
        msg = f"kappa at or beyond the cap {KAPPA_BOUNDS[1]:g}: indistinguishable from Marchenko-Pastur"
    elif kappa <= KAPPA_BOUNDS[0] * (1 + 1e-6):
        base = "kappa_at_lower_bound"
        msg = f"kappa at the lower search bound {KAPPA_BOUNDS[0]:g}: the estimate is an upper bound"

    if math.isinf(kappa):
        # MP: refit the scale under MP's mean-1 law (the HTMP scale is the same location-free quantity)
        loglik = _loglik_data(x, g, KAPPA_BOUNDS[1], scale, form)
        ks = _ks(_standardise(x, scale, form), g, KAPPA_BOUNDS[1])
    else:
        loglik = ll_point if math.isfinite(ll_point) else _loglik_data(x, g, kappa, scale, form)
        ks = _ks(_standardise(x, scale, form), g, kappa)

    kappa_ci, kappa_deb, nb = _NAN2, math.nan, 0
    if ci and base == "ok":
        logk, why = _bootstrap_logk(x, g, form, method, kappa, scale, n_boot, boot_steps, gen, sur)
        if why:
            extra = "no_interval"
            msg = _join(msg, f"no interval: {why}")
        else:
            bias = float(np.mean(logk) - math.log(kappa))
            sd = float(np.std(logk, ddof=1))
            half = stats.t.ppf(0.975, n_boot - 1) * sd * math.sqrt(1 + 1 / n_boot)
            centre = math.log(kappa) - bias
            kappa_ci = (math.exp(centre - half), math.exp(centre + half))
            kappa_deb = math.exp(centre)
            nb = int(n_boot)
    elif ci and base == "mp_like" and method == "mle":
        lo = _profile_lower_bound(x, g, form, scale, loglik)
        kappa_ci = (lo, math.inf)
        msg = _join(msg, "interval: one-sided profile-likelihood bound (not bootstrap-calibrated)")
    elif ci and base != "ok":
        extra = "no_interval"
        msg = _join(msg, f"no interval for status {base} with method {method}")

    return FitResult(
        kappa=float(kappa),
        scale=float(scale),
        kappa_ci=(float(kappa_ci[0]), float(kappa_ci[1])),
        loglik=loglik,
        ks=ks,
        status=_status(base, prep, extra),
        method=method,
        n=int(x.size),
        gamma=g,
        form=form,
        n_dropped=prep.n_dropped,
        kappa_debiased=kappa_deb,
        n_boot=nb,
        message=_join(msg, prep.message),
    )


def fit_mp(eigenvalues, gamma: float, form: str = "direct") -> FitResult:
    r"""Fit Marchenko--Pastur (kappa = inf): the scale by maximum likelihood.

    Direct form :math:`x/s \sim \mathrm{MP}(\gamma)` (mean 1, support :math:`[(1-\sqrt\gamma)^2,
    (1+\sqrt\gamma)^2]`); inverse form :math:`s/\lambda \sim \mathrm{MP}(\gamma)` (the law of 1/X).
    The support is compact, so the likelihood is finite only for scales mapping every eigenvalue
    inside it; when no scale does (e.g. finite-n edge fluctuations or a heavy tail), the result has
    ``loglik = -inf``, status ``"outside_support"`` and the moment scale.

    Parameters
    ----------
    eigenvalues : array_like
        Eigenvalues of one matrix.
    gamma : float
        Aspect ratio in (0, 1).
    form : {"direct", "inverse"}

    Returns
    -------
    FitResult
        With ``kappa = inf`` and ``kappa_ci = (inf, inf)``.
    """
    _check_form(form)
    prep = _prepare(eigenvalues, gamma, form)
    if prep.fail:
        return _failed(prep, "mle", form, prep.fail, prep.message)
    x, g = prep.x, prep.gamma
    lo_z, hi_z = (1 - math.sqrt(g)) ** 2, (1 + math.sqrt(g)) ** 2
    if form == "direct":
        s_lo, s_hi = x[-1] / hi_z, x[0] / lo_z
    else:
        s_lo, s_hi = lo_z * x[-1], hi_z * x[0]
    _, s_mom = _moments(x, g, form)
    base, msg = "ok", ""
    if s_lo < s_hi:
        r = optimize.minimize_scalar(
            lambda ls: -_loglik_data(x, g, math.inf, math.exp(ls), form),
            bounds=(math.log(s_lo), math.log(s_hi)),
            method="bounded",
            options={"xatol": 1e-10},
        )
        scale = math.exp(r.x)
        loglik = -float(r.fun)
        if not math.isfinite(loglik):
            base, msg = "outside_support", "no scale with finite MP likelihood found"
    else:
        scale = s_mom
        loglik = -math.inf
        z = _standardise(x, scale, form)
        n_out = int(np.sum((z <= lo_z) | (z >= hi_z)))
        base = "outside_support"
        msg = (
            f"eigenvalue range ratio exceeds MP's support ratio {hi_z / lo_z:.4g}: no scale gives a "
            f"finite likelihood ({n_out} outside at the moment scale)"
        )
    ks = _ks(_standardise(x, scale, form), g, math.inf)
    return FitResult(
        kappa=math.inf,
        scale=float(scale),
        kappa_ci=(math.inf, math.inf),
        loglik=loglik,
        ks=ks,
        status=_status(base, prep),
        method="mle",
        n=int(x.size),
        gamma=g,
        form=form,
        n_dropped=prep.n_dropped,
        message=_join(msg, prep.message),
    )


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
    x = np.asarray(eigenvalues, dtype=float).ravel()
    if np.isnan(x).any() or np.isinf(x).any():
        raise ValueError("eigenvalues contain NaN or infinite values")
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
        f = 1.0 - np.exp((1.0 - alpha) * (t - t[0]))
        i = np.arange(1, nt + 1)
        return alpha, float(max(np.max(i / nt - f), np.max(f - (i - 1) / nt)))

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
        f = 1.0 - np.exp((1.0 - alpha) * (t - math.log(xmin)))
        i = np.arange(1, nt + 1)
        ks = float(max(np.max(i / nt - f), np.max(f - (i - 1) / nt)))
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


def compare_laws(
    eigenvalues,
    gamma: float,
    form: str = "direct",
    method: str = "mle",
    rng: np.random.Generator | int | None = None,
    ci: bool = False,
    alpha_level: float = 0.05,
) -> LawComparison:
    r"""Compare MP, HTMP and a power-law tail for one spectrum.

    * **HTMP vs MP** (nested at :math:`\kappa = \infty`). MP's support is compact, so its exact
      likelihood is :math:`-\infty` as soon as one eigenvalue lies beyond an edge; the null model is
      therefore HTMP at the cap :math:`\kappa = 10^3` (``KAPPA_BOUNDS[1]``), MP's proxy with the same
      support, scale refitted. :math:`D = 2(\ell_{HTMP} - \ell_{cap})` is referred to the boundary
      mixture :math:`\tfrac12\chi^2_0 + \tfrac12\chi^2_1` (Self & Liang 1987): :math:`p = \tfrac12
      P(\chi^2_1 > D)`. The exact MP fit is reported alongside (``mp``).
    * **HTMP vs power law** on the tail :math:`x \ge x_{\min}` of :func:`fit_powerlaw`: HTMP's density
      conditioned on the tail against the power law, Vuong's non-nested normalised log-likelihood
      ratio :math:`z = R/(\hat\sigma\sqrt{n_t})`, two-sided :math:`p = 2\Phi(-|z|)`; :math:`z > 0`
      favours HTMP.
    * ``preferred``: ``"MP"`` when HTMP's gain over MP is not significant at ``alpha_level`` or its
      kappa is at the cap; otherwise ``"HTMP"``; ``"power_law"`` replaces either when the power law is
      significantly better on the tail (it describes the tail only); ``"none"`` when HTMP could not be
      fitted.

    Both tests use iid asymptotics although eigenvalues are dependent; read the p-values as
    indicative (``notes`` says so).

    Parameters
    ----------
    eigenvalues : array_like
    gamma : float
    form : {"direct", "inverse"}
    method : {"mle", "moments", "ks", "stieltjes"}
        Estimator of the reported HTMP fit. The likelihood-ratio test uses the log-likelihood at that
        estimate, which is at most the maximum: with a method other than ``"mle"`` the test is
        conservative.
    rng : numpy.random.Generator, int or None
        Passed to :func:`fit_htmp` (only used with ``ci=True``).
    ci : bool
        Compute the HTMP bootstrap interval too.
    alpha_level : float
        Significance level for ``preferred``.

    Returns
    -------
    LawComparison
    """
    _check_form(form)
    htmp_fit = fit_htmp(eigenvalues, gamma, form=form, method=method, rng=rng, ci=ci)
    mp_fit = fit_mp(eigenvalues, gamma, form=form)
    prep = _prepare(eigenvalues, gamma, form)
    notes = ["p-values use iid asymptotics; eigenvalues are dependent, so treat them as indicative"]
    nan = math.nan
    if prep.fail or not (
        htmp_fit.status.startswith("ok")
        or htmp_fit.status.startswith("mp_like")
        or htmp_fit.status.startswith("kappa_at")
    ):
        pl = (
            fit_powerlaw(prep.x)
            if prep.x.size > MIN_TAIL
            else PowerLawResult(nan, nan, nan, nan, nan, 0, prep.x.size, "too_few")
        )
        return LawComparison(
            htmp_fit,
            mp_fit,
            pl,
            nan,
            nan,
            nan,
            nan,
            nan,
            nan,
            nan,
            nan,
            "none",
            notes + [f"HTMP fit: {htmp_fit.status}"],
        )
    x, g = prep.x, prep.gamma
    # MP proxy: HTMP at the kappa cap, scale refitted on a one-parameter surrogate, checked exactly
    s0 = math.log(htmp_fit.scale)
    negll = _make_negll(x, form, _Surrogate(g, *_u_box(x, s0, form), _LOGK_HI, _LOGK_HI, n_u=64))
    r = optimize.minimize_scalar(
        lambda ls: negll(np.array([_LOGK_HI, ls])), bounds=(s0 - _HALF_S, s0 + _HALF_S), method="bounded"
    )
    ll_cap = _loglik_data(x, g, KAPPA_BOUNDS[1], math.exp(r.x), form)
    ll_h = htmp_fit.loglik if math.isfinite(htmp_fit.kappa) else ll_cap
    lr = max(0.0, 2 * (ll_h - ll_cap))
    p_mp = 0.5 * float(stats.chi2.sf(lr, 1)) if lr > 0 else 1.0

    pl = fit_powerlaw(x)
    kap = htmp_fit.kappa if math.isfinite(htmp_fit.kappa) else KAPPA_BOUNDS[1]
    scale = htmp_fit.scale if math.isfinite(htmp_fit.kappa) else math.exp(r.x)
    ll_tail_h = ll_tail_pl = vz = p_pl = nan
    if pl.status == "ok":
        tail = x[x >= pl.xmin]
        lp_h = _htmp_logpdf(_standardise(tail, scale, form), g, kap)
        lp_h = lp_h - math.log(scale) if form == "direct" else lp_h + math.log(scale) - 2 * np.log(tail)
        zmin = _standardise(np.array([pl.xmin]), scale, form)
        f_at = float(_z_cdf(zmin, g, kap)[0])
        surv = 1.0 - f_at if form == "direct" else f_at
        if surv > 0:
            lp_h = lp_h - math.log(surv)
            lp_pl = math.log(pl.alpha - 1) - math.log(pl.xmin) - pl.alpha * np.log(tail / pl.xmin)
            d = lp_h - lp_pl
            ll_tail_h, ll_tail_pl = float(np.sum(lp_h)), float(np.sum(lp_pl))
            sd = float(np.std(d, ddof=1))
            if sd > 0:
                vz = float(np.sum(d) / (sd * math.sqrt(d.size)))
                p_pl = float(2 * stats.norm.sf(abs(vz)))
        else:
            notes.append("HTMP puts no mass above the power law's xmin: tail comparison skipped")
    mp_pref = htmp_fit.status.startswith("mp_like") or p_mp >= alpha_level
    preferred = "MP" if mp_pref else "HTMP"
    if math.isfinite(p_pl) and p_pl < alpha_level and vz < 0:
        preferred = "power_law"
        notes.append("power law preferred on the tail only (x >= xmin)")
    return LawComparison(
        htmp=htmp_fit,
        mp=mp_fit,
        powerlaw=pl,
        loglik_htmp=ll_h,
        loglik_mp_proxy=ll_cap,
        lr_htmp_vs_mp=lr,
        p_htmp_vs_mp=p_mp,
        loglik_tail_htmp=ll_tail_h,
        loglik_tail_powerlaw=ll_tail_pl,
        vuong_z_htmp_vs_powerlaw=vz,
        p_htmp_vs_powerlaw=p_pl,
        preferred=preferred,
        notes=notes,
    )
