r"""One decision per spectrum: which law, which of the 5+1 phases, with the evidence behind it.

:func:`select_law` decides between four laws of a spectrum, each a density of the eigenvalues as given:

``"MP"``
    Marchenko--Pastur, :math:`\kappa = \infty`, scale fitted;
``"MP+spikes"``
    an MP bulk plus :math:`k` outliers beyond the finite-n (Tracy--Widom) edge: a spiked covariance model;
``"HTMP-direct"``, ``"HTMP-inverse"``
    the HTMP law in the direct form (:math:`x/s \sim \mathrm{HTMP}(\gamma, \kappa)`) or the inverse form
    (:math:`s/\lambda \sim \mathrm{HTMP}(\gamma, \kappa)`, density :math:`s\lambda^{-2}\rho(s/\lambda)`, the
    paper's Theorem 4.1), fitted by :func:`htmu.fit.estimate.fit_htmp` (censoring at the eigensolver floor, ensemble
    bootstrap interval).

A power-law tail (:func:`htmu.fit.estimate.fit_powerlaw`, Clauset--Shalizi--Newman) is reported as evidence: it
describes a tail only and is never the law of a whole spectrum.

The rule
--------
Eigenvalues are dependent, so every threshold is calibrated by simulation from the ensembles, not by iid
asymptotics; ``tests/test_selection.py`` measures the false-alarm rates stated here.

1. **Spikes.** The bulk scale :math:`s` is the mean of the eigenvalues below the edge (iterated as outliers are
   removed); an eigenvalue is an outlier when :math:`\lambda/s` exceeds the finite-n edge of the real Wishart
   ensemble of the bulk's size at level ``SPIKE_LEVEL`` = 1%: Johnstone's centring and scaling
   :math:`\mu + q\,\sigma` (with :math:`n - 1/2`, :math:`m - 1/2`) and the Tracy--Widom (:math:`\beta = 1`)
   quantile :math:`q = 2.0234`. Simulated false-alarm rate on pure Wishart spectra: 0.4--1.1% for
   :math:`n` from 30 to 1000 and :math:`\gamma \in \{0.1, 0.5, 0.9\}`. At most ``max_spikes(n)`` outliers count
   as spikes; more is not "a few spikes" and rules the MP+spikes law out.
2. **MP test of the bulk** (the eigenvalues without the outliers): the statistic :math:`R = m_2/m_1^2` against its
   exact finite-n law under the real Wishart ensemble (:func:`htmu.fit.estimate.mp_test`), one-sided at
   ``MP_LEVEL`` = 4%. Together with the spike test, a pure Wishart spectrum is called MP (random-like) in at
   least 95% of draws.
3. **Decision.** No outlier and the MP test passes: ``"MP"``. Between 1 and ``max_spikes(n)`` outliers and a bulk
   that is MP: ``"MP+spikes"``. The bulk counts as MP when the test passes, or when the HTMP law fitted to it
   puts less than ``MP_MARGIN`` = 1% of its mass outside MP's support (:func:`mass_outside_mp`, about
   :math:`0.5/\kappa`, so kappa above about 50): trained networks' bulks are MP to the eye and to within a per
   cent, but not Wishart matrices, and with a thousand eigenvalues the exact Wishart test sees the difference
   (MiniAlexNet fc1 at batch 128: 8 spikes, bulk test p = 5e-4, the HTMP fit of the bulk at kappa = inf). Otherwise the
   HTMP form with the larger log-likelihood (both are densities of the eigenvalues as given, same number of
   parameters): ``"HTMP-direct"`` or ``"HTMP-inverse"``.
4. **Phase** (Martin & Mahoney's 5+1 phases; the thresholds are htmu's and act on the tail exponent
   :math:`\alpha = 1 + \kappa(1 - \gamma)/(2\gamma)`, so they are :math:`\gamma`-aware):

   - ``"random-like"``: law MP, or an HTMP law with less than ``MP_MARGIN`` of its mass outside MP's support;
   - ``"bulk+spikes"``: MP+spikes with every spike well separated (Tracy--Widom statistic at least
     ``SEPARATED_TW`` = 5, a null tail probability of about 2e-5);
   - ``"bleeding-out"``: MP+spikes with an outlier just past the edge (statistic below 5);
   - ``"bulk-decay"``: HTMP with :math:`\alpha > 6`;
   - ``"heavy-tailed"``: HTMP with :math:`1.1 < \alpha \le 6` (WeightWatcher's "well-trained" range is
     :math:`2 \le \alpha \le 6`);
   - ``"rank-collapse"``: HTMP with :math:`\alpha \le 1.1`, or too few eigenvalues above the floor to say more
     than "kappa is tiny". At :math:`\alpha - 1 = 0.1` the direct form puts about 6% of its mass below 1e-12
     of its scale: the matrix is numerically rank deficient.

   At :math:`\gamma = 0.3255` (the paper's Figure 2) kappa = 5.5 gives :math:`\alpha = 6.70` (bulk-decay),
   kappa = 1.9 gives 2.97 (heavy-tailed) and kappa = 1e-3 gives 1.001 (rank-collapse).

References
----------
I. M. Johnstone, "On the distribution of the largest eigenvalue in principal components analysis", Ann.
Statist. 29 (2001) 295; C. A. Tracy & H. Widom, Commun. Math. Phys. 177 (1996) 727 (TW1 quantiles);
C. H. Martin & M. W. Mahoney, "Implicit self-regularization in deep neural networks", JMLR 22 (2021), the
5+1 phases; J. Baik, G. Ben Arous & S. Peche, Ann. Probab. 33 (2005) 1643 (BBP transition).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from htmu.fit.estimate import (
    MIN_EIGENVALUES,
    FitResult,
    as_spectrum,
    fit_htmp,
    fit_mp,
    fit_powerlaw,
    kappa_lower_bound,
    mp_test,
)

__all__ = [
    "LAWS",
    "PHASES",
    "MP_LEVEL",
    "SPIKE_LEVEL",
    "LawSelection",
    "select_law",
    "tail_exponent",
    "phase_of",
    "max_spikes",
    "mass_outside_mp",
]

LAWS = ("MP", "MP+spikes", "HTMP-direct", "HTMP-inverse")
PHASES = ("random-like", "bleeding-out", "bulk+spikes", "bulk-decay", "heavy-tailed", "rank-collapse")
MP_LEVEL = 0.04
SPIKE_LEVEL = 0.01
#: Tracy-Widom (beta = 1) quantiles used: level 1% (spike detection)
TW1_Q99 = 2.02344
#: a spike whose Tracy-Widom statistic reaches this is "well separated" (null tail probability about 2e-5)
SEPARATED_TW = 5.0
#: phase thresholds on alpha = 1 + kappa (1 - gamma)/(2 gamma)
ALPHA_HEAVY = 6.0
ALPHA_RANK_COLLAPSE = 1.1
#: an HTMP law with less than this share of its mass outside MP's support is MP to the eye (kappa above ~50)
MP_MARGIN = 0.01


def mass_outside_mp(gamma: float, kappa: float) -> float:
    """The share of HTMP(gamma, kappa) outside MP(gamma)'s support [(1 - sqrt g)^2, (1 + sqrt g)^2]: about 0.5/kappa.

    The same number in either form (the inverse form is the law of 1/x; MP's support maps onto inverse MP's).
    """
    if math.isinf(kappa):
        return 0.0
    if math.isnan(kappa):
        return math.nan
    from htmu.laws import htmp_logcdf, htmp_logsf

    lo, hi = (1 - math.sqrt(gamma)) ** 2, (1 + math.sqrt(gamma)) ** 2
    return float(
        np.exp(htmp_logcdf(np.array([lo]), gamma, kappa)[0])
        + np.exp(htmp_logsf(np.array([hi]), gamma, kappa)[0])
    )


def tail_exponent(kappa: float, gamma: float) -> float:
    """alpha = 1 + kappa (1 - gamma)/(2 gamma): the inverse form's upper-tail exponent (inf for kappa = inf)."""
    return math.inf if math.isinf(kappa) else 1.0 + kappa * (1.0 - gamma) / (2.0 * gamma)


def phase_of(kappa: float, gamma: float) -> str:
    """The phase of an HTMP spectrum from its kappa (see the module docstring); NaN gives ``""``."""
    if math.isnan(kappa):
        return ""
    a = tail_exponent(kappa, gamma)
    if math.isinf(a) or mass_outside_mp(gamma, kappa) < MP_MARGIN:
        return "random-like"
    if a <= ALPHA_RANK_COLLAPSE:
        return "rank-collapse"
    return "heavy-tailed" if a <= ALPHA_HEAVY else "bulk-decay"


def max_spikes(n: int) -> int:
    """The most outliers that still count as "a few spikes" on top of an MP bulk of n eigenvalues.

    At least 10: a classifier's layers commonly carry one direction per class beyond the bulk (C - 1 = 9 for ten
    classes). The bulk test (step 2) keeps an HTMP spectrum from passing as MP+spikes whatever this number is.
    """
    return max(10, n // 20)


def _tw_edge(n: int, gamma: float) -> tuple[float, float]:
    """(centre, scale) of the largest eigenvalue of a unit-mean real Wishart matrix W W^T/m, W n x m, m = n/gamma.

    Johnstone (2001) with the n - 1/2, m - 1/2 corrections: (lambda_max - centre)/scale -> TW1, accurate to
    a few per cent of the scale for n >= 20.
    """
    m = n / gamma
    a, b = math.sqrt(m - 0.5), math.sqrt(n - 0.5)
    return (a + b) ** 2 / m, (a + b) * (1 / a + 1 / b) ** (1 / 3) / m


@dataclass(frozen=True)
class _Spikes:
    k: int  # outliers beyond the edge (may exceed max_spikes)
    scale: float  # mean of the bulk
    tw: np.ndarray  # Tracy-Widom statistics of the outliers, largest first
    tw_max: float  # statistic of the largest eigenvalue


def _spikes(lam: np.ndarray, gamma: float) -> _Spikes:
    """Outliers beyond the bulk's 1% Tracy-Widom edge, iterated: the bulk's scale and size exclude them."""
    lam = np.sort(lam)
    n = lam.size
    k = 0
    for _ in range(50):
        bulk = lam[: n - k]
        scale = float(bulk.mean())
        g = gamma * (n - k) / n
        centre, sd = _tw_edge(n - k, g)
        stats_ = (lam / scale - centre) / sd
        k_new = int(np.sum(stats_ > TW1_Q99))
        if k_new == k or k_new >= n - MIN_EIGENVALUES:
            k = min(k_new, n - MIN_EIGENVALUES)
            break
        k = k_new
    return _Spikes(k, scale, stats_[::-1][:k], float(stats_[-1]))


@dataclass(frozen=True, eq=False)
class LawSelection:
    """The law and phase of one spectrum, with the evidence (see :func:`select_law`).

    Attributes
    ----------
    law : str
        One of ``LAWS``, or ``""`` when ``status`` is not ``"ok"``.
    phase : str
        One of ``PHASES``, or ``""``.
    kappa : float
        kappa of the selected law (``inf`` for MP and MP+spikes; NaN at rank collapse without an estimate).
    kappa_ci : tuple of float
        Its 95% interval (``(lo, inf)`` when MP cannot be rejected, ``(0, hi)`` at rank collapse). For the MP laws,
        ``lo`` is the one-sided 95% profile-likelihood bound of the direct form fitted to the spectrum (MP+spikes:
        to its bulk), :func:`htmu.fit.estimate.kappa_lower_bound`: how far from MP the data still allow kappa.
    scale : float
        Scale of the selected law, in the eigenvalues' units (MP laws: the bulk's mean).
    form : str
        ``"direct"`` or ``"inverse"``: the form of the reported kappa (``"direct"`` for MP laws).
    n_spikes : int
        Outliers of the MP+spikes law (0 for the other laws).
    n_outliers : int
        Eigenvalues beyond the Tracy--Widom edge of the MP bulk, whatever the law (0 when some are censored at
        the floor: no MP bulk is possible then). More than :func:`max_spikes` rules MP+spikes out.
    alpha : float
        Tail exponent ``1 + kappa (1 - gamma)/(2 gamma)`` (inf for MP laws).
    evidence : pandas.DataFrame
        One row per candidate: ``candidate``, ``loglik``, ``statistic``, ``p_value``, ``note``.
    status : str
        ``"ok"``, or why no law was selected (``"too_few"``, ``"degenerate"``, ``"no_fit"``).
    gamma : float
        Aspect ratio used (adjusted when structural zeros were dropped).
    n : int
        Eigenvalues used.
    fits : dict
        The two HTMP fits (``"direct"``, ``"inverse"``) as :class:`htmu.fit.estimate.FitResult`.
    message : str
        Why, in words.
    """

    law: str
    phase: str
    kappa: float
    kappa_ci: tuple[float, float]
    scale: float
    form: str
    n_spikes: int
    alpha: float
    evidence: pd.DataFrame
    status: str
    gamma: float
    n: int
    fits: dict[str, FitResult] = field(default_factory=dict)
    message: str = ""
    n_outliers: int = 0

    def to_dict(self) -> dict:
        """Plain-Python dictionary: the decision, the evidence as a list of rows, the two fits."""
        return {
            "law": self.law, "phase": self.phase, "kappa": self.kappa, "kappa_ci": list(self.kappa_ci),
            "scale": self.scale, "form": self.form, "n_spikes": self.n_spikes, "n_outliers": self.n_outliers,
            "alpha": self.alpha,
            "status": self.status, "gamma": self.gamma, "n": self.n, "message": self.message,
            "evidence": self.evidence.to_dict(orient="records"),
            "fits": {k: v.to_dict() for k, v in self.fits.items()},
        }  # fmt: skip


def _row(candidate: str, loglik: float, statistic: float, p_value: float, note: str) -> dict:
    return {
        "candidate": candidate,
        "loglik": loglik,
        "statistic": statistic,
        "p_value": p_value,
        "note": note,
    }


# Long by design: the decision rule of the module docstring, steps 1-4 in their order, each a few lines around
# a helper; split, the evidence table each step adds to would travel between them.
def select_law(
    eigenvalues,
    gamma: float,
    *,
    rng: np.random.Generator | int | None = None,
    floor: float | None = None,
    rank: int | None = None,
    ci: bool = True,
) -> LawSelection:
    """Select the law and the phase of one spectrum (the rule is in the module docstring).

    Parameters
    ----------
    eigenvalues : array_like
        Eigenvalues of one matrix (1-D, any order, any units).
    gamma : float
        Aspect ratio in (0, 1] of the matrix. A square matrix (gamma = 1) can only read MP or MP+spikes: the
        HTMP law needs gamma < 1 (its density is not integrable at 0 otherwise), so a square spectrum that is
        not MP gets status ``"htmp_needs_gamma_below_1"``.
    rng : numpy.random.Generator, int or None
        Randomness of the HTMP fits' bootstrap; ``None`` is the fixed seed 0.
    floor, rank : optional
        As in :func:`htmu.fit.estimate.fit_htmp` (numerical floor; rank implied by the matrix's shape).
    ci : bool
        Compute the kappa intervals (the decision itself does not need them; ``False`` is much faster).

    Returns
    -------
    LawSelection
    """
    lam = as_spectrum(eigenvalues)
    try:
        square = float(gamma) == 1.0 and (rank is None or rank >= lam.size)
    except (TypeError, ValueError):
        square = False  # fit_htmp names the bad gamma below
    if square:
        return _select_square(lam, floor)
    if rank is not None and float(gamma) == 1.0:
        gamma = (
            rank / lam.size
        )  # the nonzero eigenvalues of a rank-r square Gram are those of an r x n matrix
        rank = None
        lam = np.sort(lam)[lam.size - int(gamma * lam.size + 0.5) :]
    kw = {"floor": floor, "rank": rank}
    # the decision needs only the point fits; the interval is then computed for the reported law alone
    fits = {form: fit_htmp(lam, gamma, form=form, ci=False, **kw) for form in ("direct", "inverse")}
    d = fits["direct"]
    g, n = d.gamma, d.n
    if d.status in ("too_few", "degenerate"):
        return _no_law(d.status, d.message, g, n, fits)

    lam = np.sort(lam)[d.n_structural_zeros :]
    censored = d.n_censored > 0
    rows = []
    # MP and MP+spikes (impossible with eigenvalues at the floor: MP's support stays away from 0)
    spikes = None if censored else _spikes(lam, g)
    p_full = p_bulk = 0.0
    if spikes is None:
        rows.append(_row("MP", -math.inf, math.inf, 0.0, f"{d.n_censored} eigenvalue(s) at the floor"))
        rows.append(
            _row("MP+spikes", -math.inf, math.nan, 0.0, "MP bulk impossible with eigenvalues at the floor")
        )
    else:
        p_full, z_full = mp_test(lam, g)
        mp = fit_mp(lam, gamma, **kw)
        rows.append(
            _row("MP", mp.loglik, z_full, p_full, "MP test of the whole spectrum (m2/m1^2 vs Wishart)")
        )
        k = spikes.k
        g_bulk = g * (n - k) / n
        p_bulk, _ = mp_test(lam[: n - k], g_bulk) if k else (p_full, z_full)
        mp_bulk = fit_mp(lam[: n - k], g_bulk) if k else mp
        rows.append(_row("MP+spikes", mp_bulk.loglik, spikes.tw_max, p_bulk,
                         f"{k} outlier(s) beyond the 1% Tracy-Widom edge (statistic: largest eigenvalue's); "
                         "p: MP test of the bulk"))  # fmt: skip
    for form, f in fits.items():
        rows.append(_row(f"HTMP-{form}", f.loglik, f.kappa, f.p_mp,
                         f"{f.status}; statistic: kappa; p: test of kappa = inf in this form"))  # fmt: skip
    usable = [f for f in fits.values() if f.status in ("ok", "mp_like", "rank_collapse")]
    best = max(usable, key=lambda f: f.loglik if np.isfinite(f.loglik) else -np.inf) if usable else None
    rows.append(_tail_row(lam[lam > d.floor], best))
    evidence = pd.DataFrame(rows, columns=["candidate", "loglik", "statistic", "p_value", "note"])

    n_out = spikes.k if spikes is not None else 0
    common = {"evidence": evidence, "status": "ok", "gamma": g, "n": n, "fits": fits, "n_outliers": n_out}
    if spikes is not None and spikes.k == 0 and p_full >= MP_LEVEL:
        lo = kappa_lower_bound(lam, gamma, **kw) if ci else math.nan
        return LawSelection("MP", "random-like", math.inf, (lo, math.inf), spikes.scale, "direct", 0, math.inf,
                            message=f"no outlier beyond the Tracy-Widom edge; MP not rejected (p = {p_full:.3g})",
                            **common)  # fmt: skip
    if spikes is not None and 1 <= spikes.k <= max_spikes(n):
        bulk_lam, g_bulk = lam[: n - spikes.k], g * (n - spikes.k) / n
        bulk_fit = fit_htmp(bulk_lam, g_bulk, ci=False)
        margin = mass_outside_mp(g_bulk, bulk_fit.kappa) if bulk_fit.status in ("ok", "mp_like") else math.nan
        if p_bulk >= MP_LEVEL or margin < MP_MARGIN:
            phase = "bulk+spikes" if spikes.tw.min() >= SEPARATED_TW else "bleeding-out"
            how = (f"the bulk is MP (p = {p_bulk:.3g})" if p_bulk >= MP_LEVEL else
                   f"the bulk is MP to the eye: the HTMP law fitted to it (kappa {bulk_fit.kappa:.3g}) puts "
                   f"{margin:.2%} of its mass outside MP's support (the exact Wishart test rejects it, p = "
                   f"{p_bulk:.2g})")  # fmt: skip
            # kappa >= the bulk's lower bound; the upper end is inf whatever the bulk fit says (MP to the eye)
            lo = kappa_lower_bound(bulk_lam, g_bulk) if ci else math.nan
            return LawSelection("MP+spikes", phase, math.inf, (lo, math.inf), spikes.scale, "direct", spikes.k,
                                math.inf, message=f"{spikes.k} outlier(s) beyond the Tracy-Widom edge (smallest "
                                f"statistic {spikes.tw.min():.3g}); {how}", **common)  # fmt: skip
    if best is None:
        return _no_law("no_fit", "; ".join(f"{k_}: {f.status} ({f.message})" for k_, f in fits.items()), g, n,
                       fits, evidence)  # fmt: skip
    other = fits["inverse" if best.form == "direct" else "direct"]
    why = (f"MP rejected (p = {p_full:.3g})" if spikes is None or spikes.k == 0 else
           f"{spikes.k} outliers" + (" (more than a few spikes)" if spikes.k > max_spikes(n)
                                     else f", bulk not MP (p = {p_bulk:.3g})"))  # fmt: skip
    if censored:
        why = f"{d.n_censored} eigenvalue(s) at the floor rule MP out"
    if ci:
        # the reported law's fit again, now with its interval (the same point estimate: it is deterministic)
        best = fits[best.form] = fit_htmp(lam, gamma, form=best.form, rng=rng, ci=True, **kw)
    form_note = (
        f"{best.form} form preferred (log-likelihood {best.loglik - other.loglik:+.4g} over the {other.form} form)"
        if np.isfinite(other.loglik)
        else f"{best.form} form (the {other.form} form: {other.status})"
    )
    if best.status == "mp_like":
        # no finite kappa fits better than the top of the range: MP in that form, although the exact Wishart
        # test rejected it (at level MP_LEVEL it does so for 4% of Wishart spectra)
        return LawSelection("MP" if best.form == "direct" else "HTMP-inverse", "random-like", math.inf,
                            best.kappa_ci, best.scale, best.form, 0, math.inf,
                            message=f"{why}, but no finite kappa fits better; {form_note}", **common)  # fmt: skip
    phase = "rank-collapse" if best.status == "rank_collapse" else phase_of(best.kappa, best.gamma)
    alpha = math.nan if math.isnan(best.kappa) else tail_exponent(best.kappa, best.gamma)
    return LawSelection(
        f"HTMP-{best.form}", phase, best.kappa, best.kappa_ci, best.scale, best.form, 0, alpha,
        message=f"{why}; {form_note}", **common,
    )  # fmt: skip


def _select_square(lam: np.ndarray, floor: float | None) -> LawSelection:
    """select_law for a square matrix (gamma = 1): MP, MP+spikes, or no law (HTMP needs gamma < 1)."""
    from htmu.ensembles import eigensolver_floor

    n = lam.size
    cols = ["candidate", "loglik", "statistic", "p_value", "note"]
    if n < MIN_EIGENVALUES:
        return _no_law("too_few", f"{n} eigenvalues < {MIN_EIGENVALUES}", 1.0, n, {})
    t = eigensolver_floor(lam) if floor is None else float(floor)
    lam = np.sort(lam)
    if lam[-1] <= t or np.any(lam < -t):
        why = "no eigenvalue above the floor" if lam[-1] <= t else "negative eigenvalues below -floor"
        return _no_law("degenerate", why, 1.0, n, {})
    spikes = _spikes(np.maximum(lam, 0.0), 1.0)
    p_full, z_full = mp_test(np.maximum(lam, 0.0), 1.0)
    k = spikes.k
    p_bulk = mp_test(np.maximum(lam[: n - k], 0.0), (n - k) / n)[0] if k else p_full
    evidence = pd.DataFrame(
        [
            _row(
                "MP",
                math.nan,
                z_full,
                p_full,
                "MP test of the whole spectrum (m2/m1^2 vs Wishart), gamma = 1",
            ),
            _row(
                "MP+spikes", math.nan, spikes.tw_max, p_bulk, f"{k} outlier(s) beyond the 1% Tracy-Widom edge"
            ),
        ],
        columns=cols,
    )
    common = {"evidence": evidence, "status": "ok", "gamma": 1.0, "n": n, "n_outliers": k}
    nan2 = (math.nan, math.inf)
    if k == 0 and p_full >= MP_LEVEL:
        return LawSelection("MP", "random-like", math.inf, nan2, spikes.scale, "direct", 0, math.inf,
                            message=f"square matrix; MP not rejected (p = {p_full:.3g})", **common)  # fmt: skip
    if 1 <= k <= max_spikes(n) and p_bulk >= MP_LEVEL:
        phase = "bulk+spikes" if spikes.tw.min() >= SEPARATED_TW else "bleeding-out"
        return LawSelection("MP+spikes", phase, math.inf, nan2, spikes.scale, "direct", k, math.inf,
                            message=f"square matrix; {k} outlier(s), the bulk is MP (p = {p_bulk:.3g})",
                            **common)  # fmt: skip
    return _no_law("htmp_needs_gamma_below_1", f"square matrix, not MP (p = {p_full:.3g}, {k} outliers): the "
                   "HTMP law needs gamma < 1", 1.0, n, {}, evidence)  # fmt: skip


def _tail_row(x: np.ndarray, best: FitResult | None) -> dict:
    """Evidence row of the power-law tail: its log-likelihood on the tail and Vuong's test against the selected
    HTMP law conditioned on the same tail (iid asymptotics: indicative only)."""
    from scipy import stats

    from htmu.laws import htmp_logcdf, htmp_logpdf, htmp_logsf

    if x.size <= 10:
        return _row("power-law tail", math.nan, math.nan, math.nan, "too few eigenvalues above the floor")
    pl = fit_powerlaw(x)
    if pl.status != "ok":
        return _row("power-law tail", math.nan, math.nan, math.nan, f"power law: {pl.status}")
    note = (
        f"statistic: alpha_tail (+- {pl.alpha_se:.2g}) above xmin = {pl.xmin:.4g} ({pl.n_tail} eigenvalues)"
    )
    if best is None or not math.isfinite(best.kappa):
        return _row(
            "power-law tail", pl.loglik, pl.alpha, math.nan, note + "; a tail law only, never the spectrum's"
        )
    tail = x[x >= pl.xmin]
    # the selected law's density of lambda, conditioned on lambda >= xmin
    s_, g, k = best.scale, best.gamma, best.kappa
    if best.form == "direct":
        lp_h = htmp_logpdf(tail / s_, g, k) - math.log(s_) - htmp_logsf(np.array([pl.xmin / s_]), g, k)[0]
    else:
        lp_h = htmp_logpdf(s_ / tail, g, k) + math.log(s_) - 2 * np.log(tail)
        lp_h = lp_h - htmp_logcdf(np.array([s_ / pl.xmin]), g, k)[0]
    lp_pl = math.log(pl.alpha - 1) - math.log(pl.xmin) - pl.alpha * np.log(tail / pl.xmin)
    diff = lp_h - lp_pl
    sd = float(np.std(diff, ddof=1))
    zv = float(np.sum(diff) / (sd * math.sqrt(diff.size))) if sd > 0 else math.nan
    p = float(2 * stats.norm.sf(abs(zv))) if math.isfinite(zv) else math.nan
    return _row("power-law tail", pl.loglik, pl.alpha, p, note + f"; p: Vuong's test of the HTMP-{best.form} law "
                f"against the power law on that tail, z = {zv:+.3g} (> 0 favours HTMP; iid asymptotics, "
                "indicative)")  # fmt: skip


def _no_law(status: str, message: str, gamma: float, n: int, fits: dict, evidence=None) -> LawSelection:
    if evidence is None:
        evidence = pd.DataFrame(columns=["candidate", "loglik", "statistic", "p_value", "note"])
    nan = math.nan
    return LawSelection("", "", nan, (nan, nan), nan, "", 0, nan, evidence, status, gamma, n, fits, message)
