"""Tests of ``htmu.laws``: the HTMP density against 40-digit mpmath, CDF/PPF, moments, limits.

Independent truths used: ``mpmath.hyperu`` at 40 digits (``tests/mpref.py``), adaptive
composite Gauss–Legendre quadrature of the density (``glq``), the closed-form moments E x = 1, Var x = γ(1 + 2/κ),
Marchenko–Pastur's closed form, and seeded samples.
"""

from __future__ import annotations

import warnings

import mpmath as mp
import numpy as np
import pytest
from mpref import htmp_logpdf_contour_ref, htmp_logpdf_ref, hyperu_cut

from htmu import htmp as lazy_htmp
from htmu import invhtmp as lazy_invhtmp
from htmu.laws import (
    HTMPAccuracyWarning,
    htmp,
    htmp_logcdf,
    htmp_logpdf,
    htmp_logsf,
    invhtmp,
    marchenko_pastur,
    mp_logpdf,
    stieltjes,
)

_XG, _WG = np.polynomial.legendre.leggauss(20)


@pytest.fixture(autouse=True)
def _fresh_march_memo():
    """Each test starts without the law's last march (htmu.laws._march_covering), so that what a test counts or
    breaks is its own calls' marches."""
    from htmu.laws import forget_march

    forget_march()


def glq(f, a, b, panels=200):
    """∫_a^b f(x) dx (0 < a < b < ∞) by composite 20-point Gauss–Legendre in v = log x.

    One vectorised call of f on all nodes: the independent high-precision quadrature the tests
    compare against (its grid shares nothing with the CDF tables of ``htmu.laws``).
    """
    edges = np.linspace(np.log(a), np.log(b), panels + 1)
    half = 0.5 * np.diff(edges)
    v = edges[:-1, None] + half[:, None] * (_XG + 1)
    x = np.exp(v)
    val = (half[:, None] * _WG * f(x) * x).sum()
    return complex(val) if np.iscomplexobj(val) else float(val)


# (γ, κ): integer c = 1 + κ/2 − κ/(2γ) (0.5, 2 → c = 0; 0.25, 6 → c = −8), large |c| (0.1, 50;
# 0.05, 200; 0.3255, 100), tiny and moderate κ, γ near 0 and 1
GRID = [
    (0.5, 2.0),
    (0.25, 6.0),
    (0.1, 50.0),
    (0.05, 200.0),
    (0.3255, 1e-5),
    (0.3255, 1e-4),
    (0.3255, 1e-3),
    (0.3255, 1.9),
    (0.3255, 5.5),
    (0.3255, 100.0),
    (0.9, 20.0),
    (0.7, 1e-3),
    (0.7, 1e-5),
    (0.01, 1.0),
    (0.99, 3.0),
]
# both tails: tiny and large x
XS = np.array([1e-6, 1e-3, 0.1, 0.5, 1.0, 2.0, 4.0, 10.0])


@pytest.mark.parametrize(("gamma", "kappa"), GRID)
def test_logpdf_matches_40_digit_mpmath(gamma, kappa):
    # mpmath is slow (seconds per point) in the right tail at large κ/γ: fewer points there
    xs = XS[XS <= 2.0] if kappa / gamma > 1000 else XS
    ref = np.array([htmp_logpdf_ref(x, gamma, kappa) for x in xs])
    got = htmp_logpdf(xs, gamma, kappa)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-8)


def test_logpdf_matches_mpmath_at_kappa_1000():
    # mpmath's hyperu does not converge at κ = 10³ right of the mean; these points it does
    xs = np.array([0.01, 0.3, 0.5])
    ref = np.array([htmp_logpdf_ref(x, 0.3255, 1000.0) for x in xs])
    np.testing.assert_allclose(htmp_logpdf(xs, 0.3255, 1000.0), ref, rtol=0, atol=1e-8)


def test_reference_sides_of_cut_are_conjugate():
    with mp.workdps(40):
        up = hyperu_cut(1.0, 0.0, 2.5, side=1)
        down = hyperu_cut(1.0, 0.0, 2.5, side=-1)
        assert abs(up - mp.conj(down)) < mp.mpf(10) ** -30 * abs(up)
        assert abs(up.imag) > 1e-3 * abs(up)  # truly on the cut, not a real value


def test_vectorised_over_parameters_and_edge_cases():
    x = np.array([0.5, 1.0, 1.5])
    g = np.array([0.5, 0.25, 0.3255])
    k = np.array([2.0, 6.0, np.inf])
    got = htmp_logpdf(x, g, k)
    want = [htmp_logpdf(xi, gi, ki)[()] for xi, gi, ki in zip(x, g, k, strict=True)]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert np.all(htmp_logpdf(np.array([-1.0, 0.0]), 0.5, 2.0) == -np.inf)
    with pytest.raises(ValueError, match="gamma"):
        htmp_logpdf(1.0, 1.5, 2.0)
    with pytest.raises(ValueError, match="kappa"):
        htmp_logpdf(1.0, 0.5, 0.0)
    # scipy-style argcheck: nan for bad shapes
    assert np.isnan(htmp.pdf(1.0, 1.2, 2.0))
    assert np.isnan(htmp.pdf(1.0, 0.5, -1.0))
    assert np.isnan(invhtmp.logpdf(1.0, 0.0, 2.0))
    assert htmp.logpdf(-0.5, 0.5, 2.0) == -np.inf


def test_few_points_outside_the_quadratures_domain_take_the_march(monkeypatch):
    # one point at κ = 10³ just outside the MP edge (the per-point quadrature does not confirm its
    # tolerance there: it was off by 0.24), and one at y = s x ≈ 1e-99 (below its peak finder's
    # range): both are served by the march, a priori, and right
    import htmu.laws as laws

    calls = _spy_march(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error", HTMPAccuracyWarning)
        near_edge = htmp_logpdf(np.array([0.1669]), 0.3255, 1000.0)
        tiny = htmp_logpdf(np.array([1e-100]), 0.1, 50.0)
    assert calls == [1, 1]
    assert near_edge[0] == pytest.approx(htmp_logpdf_ref(0.1669, 0.3255, 1000.0), abs=1e-8)
    assert tiny[0] == pytest.approx(htmp_logpdf_ref(1e-100, 0.1, 50.0), abs=1e-8)
    # inside its domain a few points take the quadrature (no march), whatever their (γ, κ)
    calls.clear()
    x, g, k = np.array([0.3, 1.0, 2.0]), np.array([0.5, 0.25, 0.3255]), np.array([2.0, 6.0, 5.5])
    got = htmp_logpdf(x, g, k)
    assert calls == []
    assert laws._quadrature_serves(np.array([0.5]), 5.5 / 0.651, 2.75)
    np.testing.assert_allclose(
        got, [htmp_logpdf_ref(*a) for a in zip(x, g, k, strict=True)], rtol=0, atol=1e-8
    )


def test_uncertified_values_are_nan_with_a_warning(monkeypatch):
    # one documented behaviour whatever fails: NaN and an HTMPAccuracyWarning saying how many,
    # never a number from another method behind the scenes
    import htmu.laws as laws

    def fail(*args, **kwargs):
        raise laws.MarchFailed("forced")

    x = _many_points(0.25, 200)
    monkeypatch.setattr(laws, "march", fail)
    with pytest.warns(HTMPAccuracyWarning, match="200 of 200 values"):
        got = htmp_logpdf(x, 0.25, 6.0)
    assert np.isnan(got).all()
    monkeypatch.undo()

    def unconfirmed(y, s, b, *args, **kwargs):
        return np.full(y.shape, 0.0), np.array([True, False, True])[: y.size]

    monkeypatch.setattr(laws, "log_abs_integral", unconfirmed)
    with pytest.warns(HTMPAccuracyWarning, match="1 of 3 values"):
        got = htmp_logpdf(np.array([0.5, 1.0, 1.5]), 0.25, 6.0)
    assert np.isnan(got[1]) and np.isfinite(got[[0, 2]]).all()


def test_native_logpdf_is_finite_deep_in_the_tails():
    # log space throughout: the pdf underflows (log ρ ≈ −1.5e4 and −1.1e4), the logpdf does not
    lp = htmp.logpdf(np.array([1e-30, 50.0]), 0.1, 50.0)
    assert np.all(np.isfinite(lp))
    assert lp[0] == pytest.approx(htmp_logpdf_ref(1e-30, 0.1, 50.0), abs=1e-8)
    assert lp[1] < -1000


@pytest.mark.parametrize(("gamma", "kappa"), [(0.5, 2.0), (0.3255, 5.5), (0.1, 50.0)])
def test_normalisation_mean_variance_by_quadrature(gamma, kappa):
    # a + 1 = κ/(2γ) − κ/2 ≥ 1 here, so the mass below x = 1e-14 is negligible
    mom = [glq(lambda x, p=p: x**p * htmp.pdf(x, gamma, kappa), 1e-14, 60.0, 300) for p in (0, 1, 2)]
    assert mom[0] == pytest.approx(1.0, abs=1e-9)
    assert mom[1] == pytest.approx(1.0, abs=1e-9)
    assert mom[2] - 1.0 == pytest.approx(gamma * (1 + 2 / kappa), abs=1e-9)


@pytest.mark.parametrize(("gamma", "kappa"), [(0.5, 2.0), (0.3255, 5.5), (0.1, 50.0), (0.3255, 1e-3)])
def test_cdf_and_sf_against_quadrature(gamma, kappa):
    xs = np.array([0.05, 0.3, 0.8, 1.0, 1.7, 3.0])
    cdf = htmp.cdf(xs, gamma, kappa)
    sf = htmp.sf(xs, gamma, kappa)
    np.testing.assert_allclose(cdf + sf, 1.0, rtol=0, atol=1e-10)
    # ∫_x^∞ ρ (the upper part avoids the x^a singularity at 0 for tiny κ)
    x_end = max(60.0, 900.0 * 2 * gamma / kappa)
    for x, s in zip(xs, sf, strict=True):
        assert s == pytest.approx(glq(lambda t: htmp.pdf(t, gamma, kappa), x, x_end, 150), abs=1e-9)


@pytest.mark.parametrize(("gamma", "kappa"), [(0.5, 2.0), (0.3255, 5.5), (0.1, 50.0)])
def test_ppf_inverts_cdf(gamma, kappa):
    q = np.array([1e-6, 0.01, 0.3, 0.5, 0.9, 0.999, 1 - 1e-7])
    x = htmp.ppf(q, gamma, kappa)
    np.testing.assert_allclose(htmp.cdf(x, gamma, kappa), q, rtol=1e-9, atol=0)
    xi = htmp.isf(1 - q[:-1], gamma, kappa)
    np.testing.assert_allclose(xi, x[:-1], rtol=1e-8)


def test_kappa_to_infinity_meets_marchenko_pastur():
    x = np.linspace(0.25, 2.3, 9)
    mp_ = mp_logpdf(x, 0.3255)
    np.testing.assert_allclose(htmp_logpdf(x, 0.3255, np.inf), mp_, atol=1e-14)
    # finite but huge κ: within O(1/κ)-ish of MP in the bulk
    np.testing.assert_allclose(htmp_logpdf(x, 0.3255, 1e6), mp_, atol=1e-2)
    far = np.abs(htmp_logpdf(x, 0.3255, 1e2) - mp_).max()
    near = np.abs(htmp_logpdf(x, 0.3255, 1e4) - mp_).max()
    assert near < far / 10  # converging


def test_marchenko_pastur_cdf_closed_form():
    g = 0.3
    lo = (1 - g**0.5) ** 2
    for x in (0.25, 0.7, 1.0, 2.0):
        # θ-substitution x = 1 + γ + 2√γ cos θ makes the integrand smooth up to the edge
        th = np.arccos((x - 1 - g) / (2 * g**0.5))
        nodes = th + 0.5 * (np.pi - th) * (_XG + 1)
        xx = 1 + g + 2 * g**0.5 * np.cos(nodes)
        want = 0.5 * (np.pi - th) * np.sum(_WG * 2 * np.sin(nodes) ** 2 / (np.pi * xx))
        assert marchenko_pastur.cdf(x, g) == pytest.approx(want, abs=1e-12)
    assert marchenko_pastur.cdf(lo, g) == 0.0


def test_invhtmp_is_the_law_of_the_reciprocal():
    g, k = 0.3255, 5.5
    lam = np.array([0.4, 1.0, 2.5, 8.0])
    np.testing.assert_allclose(
        invhtmp.logpdf(lam, g, k), htmp.logpdf(1 / lam, g, k) - 2 * np.log(lam), atol=1e-12
    )
    np.testing.assert_allclose(invhtmp.cdf(lam, g, k), htmp.sf(1 / lam, g, k), atol=1e-14)
    # closed-form mean s/a = E[1/X] against quadrature of the direct density
    s = k / (2 * g)
    a = s - k / 2 - 1
    m1 = glq(lambda x: htmp.pdf(x, g, k) / x, 1e-14, 60.0, 300)
    assert invhtmp.mean(g, k) == pytest.approx(s / a, rel=1e-12)
    assert m1 == pytest.approx(s / a, rel=1e-8)
    m2 = glq(lambda x: htmp.pdf(x, g, k) / x**2, 1e-14, 60.0, 300)
    assert invhtmp.var(g, k) == pytest.approx(m2 - m1**2, rel=1e-8)
    # upper tail exponent 1 + κ/(2γ) − κ/2 = a + 2
    slope = np.diff(invhtmp.logpdf(np.array([1e4, 1e5]), g, k))[0] / np.log(10)
    assert slope == pytest.approx(-(a + 2), abs=1e-3)


def test_invhtmp_moments_diverge_with_heavy_tail():
    # γ = 0.5, κ = 2: a = 0, no mean; γ = 0.3255, κ = 1.9: 0 < a ≤ 1, mean but no variance
    m, v = invhtmp.stats(0.5, 2.0)
    assert m == np.inf and np.isnan(v)
    m, v = invhtmp.stats(0.3255, 1.9)
    assert np.isfinite(m) and v == np.inf
    m, v = invhtmp.stats(0.3255, np.inf)
    assert m == pytest.approx(1 / (1 - 0.3255)) and v == pytest.approx(0.3255 / (1 - 0.3255) ** 3)


def test_stieltjes_against_quadrature():
    g, k = 0.3255, 5.5
    s = k / (2 * g)
    a = s - k / 2 - 1
    for z in (-1.0 + 0j, 1.0 + 1.0j):
        want = glq(lambda t, z=z: htmp.pdf(t, g, k) / (t - z), 1e-14, 60.0, 300)
        assert complex(stieltjes(z, g, k)) == pytest.approx(want, rel=1e-8)
    assert complex(stieltjes(-1e-12, g, k)).real == pytest.approx(s / a, rel=1e-6)
    z = 1.0 + 0.5j
    xg, wg = np.polynomial.legendre.leggauss(400)
    th = np.pi * 0.5 * (xg + 1)  # x = 1 + γ + 2√γ cos θ, smooth at the MP edges
    xx = 1 + g + 2 * g**0.5 * np.cos(th)
    want = 0.5 * np.pi * np.sum(wg * 2 * np.sin(th) ** 2 / (np.pi * xx) / (xx - z))
    assert complex(stieltjes(z, g, np.inf)) == pytest.approx(want, rel=1e-8)


def test_lazy_exports():
    assert lazy_htmp is htmp and lazy_invhtmp is invhtmp


# --- one generic scipy-style law test for every law ---------------------------------------

LAWS = [
    pytest.param(htmp, (0.3255, 5.5), id="htmp"),
    pytest.param(htmp, (0.3255, np.inf), id="htmp-kappa-inf"),
    pytest.param(invhtmp, (0.3255, 5.5), id="invhtmp"),
    pytest.param(marchenko_pastur, (0.3255,), id="marchenko_pastur"),
]


@pytest.mark.parametrize(("law", "shapes"), LAWS)
def test_generic_law(law, shapes):
    lo, hi = law.support(*shapes)
    assert lo >= 0 and hi > lo
    q = np.array([0.001, 0.1, 0.5, 0.9, 0.999])
    x = law.ppf(q, *shapes)
    assert np.all(np.diff(x) > 0)
    np.testing.assert_allclose(law.cdf(x, *shapes), q, rtol=1e-8)
    np.testing.assert_allclose(law.sf(x, *shapes), 1 - q, rtol=1e-8)
    np.testing.assert_allclose(law.logpdf(x, *shapes), np.log(law.pdf(x, *shapes)), rtol=1e-12)
    # the density integrates to the probability between quantiles
    assert glq(lambda t: law.pdf(t, *shapes), x[0], x[-1], 200) == pytest.approx(q[-1] - q[0], abs=1e-9)
    assert glq(lambda t: law.pdf(t, *shapes), x[1], x[3], 100) == pytest.approx(q[3] - q[1], abs=1e-9)
    mean, var = law.stats(*shapes)
    # seeded samples: mean within 5 standard errors; loc/scale as scipy
    rng = np.random.default_rng(1234)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = law.rvs(*shapes, size=4000, random_state=rng)
    assert abs(r.mean() - mean) < 5 * np.sqrt(var / r.size)
    assert law.pdf(2 * x[2] + 1, *shapes, loc=1, scale=2) == pytest.approx(
        law.pdf(x[2], *shapes) / 2, rel=1e-12
    )


# The amortised path (``htmu._riccati``): ≥ FAST_MIN_POINTS points of one (γ, κ) are served by one
# Riccati march along log y.  Truths: the direct quadrature routine (certified by the 40-digit
# tests above) at every point where it confirms its own tolerance, and 40-digit mpmath at a sample.
# The (γ, κ) are the accuracy GRID's inside the quadrature's domain (κ ≤ 100, κ/(2γ) ≤ 1000):
# integer c, large |c|, tiny κ, γ near 0 and 1.
FAST_GRID = [(g, k) for g, k in GRID if k <= 100 and k / (2 * g) <= 1000]


def _many_points(gamma, n=600):
    lo, hi = (1 - gamma**0.5) ** 2, (1 + gamma**0.5) ** 2
    rng = np.random.default_rng(1)
    # log-spaced over both tails plus a dense uniform bulk
    return np.concatenate([np.geomspace(1e-6, 10.0, n // 2), rng.uniform(0.5 * lo, 1.2 * hi, n - n // 2)])


def _spy_march(monkeypatch):
    """Record the number of points of each march the density uses."""
    import htmu.laws as laws

    calls = []
    real = laws.march

    class Spy:
        def __init__(self, sol):
            self.sol = sol

        def __getattr__(self, name):  # the range (v_lo, v_hi) the law's reuse of a march reads
            return getattr(self.sol, name)

        def logpdf(self, x):
            calls.append(np.size(x))
            return self.sol.logpdf(x)

    monkeypatch.setattr(laws, "march", lambda *a, **k: Spy(real(*a, **k)))
    return calls


@pytest.mark.parametrize(("gamma", "kappa"), FAST_GRID)
def test_fast_path_agrees_with_direct_quadrature(gamma, kappa, monkeypatch):
    import htmu.laws as laws

    x = _many_points(gamma)
    done = _spy_march(monkeypatch)
    fast = htmp_logpdf(x, gamma, kappa)
    assert done == [x.size], "the march did not serve the call"
    monkeypatch.undo()
    monkeypatch.setattr(laws, "FAST_MIN_POINTS", 10**9)
    with warnings.catch_warnings():
        warnings.simplefilter("error", HTMPAccuracyWarning)  # the truth must confirm itself
        direct = htmp_logpdf(x, gamma, kappa)
    assert np.all(np.isfinite(fast))
    # the direct routine accepts two quadrature orders agreeing to 1e-9 in log|I| (2e-9 in log ρ);
    # where the two differ by more, 40-digit mpmath sided with the march (e.g. γ = 0.05, κ = 200,
    # x = 0.614: march −1.4e-11, quadrature −1.8e-9)
    np.testing.assert_allclose(fast, direct, rtol=0, atol=4e-9)


@pytest.mark.parametrize(
    ("gamma", "kappa"), [(0.5, 2.0), (0.25, 6.0), (0.1, 50.0), (0.3255, 1e-3), (0.3255, 5.5)]
)
def test_fast_path_matches_40_digit_mpmath(gamma, kappa, monkeypatch):
    x = _many_points(gamma)
    done = _spy_march(monkeypatch)
    got = htmp_logpdf(x, gamma, kappa)
    assert done == [x.size]
    # a sample: both tails (log-spaced part) and the bulk (uniform part), right tail kept to x ≤ 4
    idx = np.r_[np.arange(0, 300, 60), 299 - 10, np.arange(300, 600, 75)]
    idx = idx[x[idx] <= 4.0]
    ref = np.array([htmp_logpdf_ref(x[i], gamma, kappa) for i in idx])
    np.testing.assert_allclose(got[idx], ref, rtol=0, atol=1e-8)


def test_fast_path_at_kappa_1000_matches_mpmath_where_quadrature_is_unconfirmed(monkeypatch):
    # κ = 10³ just outside the MP edges: the per-point quadrature cannot confirm 1e-9 there (and the
    # Chebyshev panels built on it were off by 0.38 at x = 0.1669); the march is certified
    # (mpmath.hyperu itself stops converging from x ≈ 2 on at this κ, so the sample stays left of it)
    x = np.concatenate([np.linspace(0.16, 0.2, 40), np.linspace(2.3, 2.6, 40), np.linspace(0.5, 1.0, 40)])
    done = _spy_march(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error", HTMPAccuracyWarning)
        got = htmp_logpdf(x, 0.3255, 1000.0)
    assert done == [x.size]
    assert np.all(np.isfinite(got))
    idx = [0, 6, 20, 39, 80, 119]
    ref = np.array([htmp_logpdf_ref(x[i], 0.3255, 1000.0) for i in idx])
    np.testing.assert_allclose(got[idx], ref, rtol=0, atol=1e-8)


# One call whose points span hundreds of decades: a likelihood on a censored spectrum at small κ
# (most of the mass below 1e-20), a bootstrap replicate, a quadrature rule of the law.  The march
# must leave its starting point outward: it used to start at the smallest point when
# c = 1 + b − s > C_FROBENIUS and march inward across the left tail, where errors grow like
# y^(1−c), so that γ = 0.5, κ = 1 on points from 5e-37 was off by 8.55 in the bulk, silently
# (per point, on narrower ranges and in every test above, it was right).  The grid: the two cases
# of the first report (0.5, 1) and (0.3255, 0.5), integer c (0.5, 2), large |c| (0.1, 50), tiny κ
# and γ near 1 (0.9, 0.01), c just above C_FROBENIUS, where the march's inward stretch from its
# own starting point is longest ((0.01, 0.0192); (0.9, 16.9)), the paper's κ (0.3255: 1e-3, 5.5,
# 100), κ = 1e-5, and κ = 10⁴ (start at y = s).
WIDE_GRID = [
    (0.5, 1.0),
    (0.5, 2.0),
    (0.3255, 0.5),
    (0.1, 50.0),
    (0.9, 0.01),
    (0.3255, 1e-3),
    (0.3255, 5.5),
    (0.3255, 100.0),
    (0.3255, 1e-5),
    (0.01, 0.0192),
    (0.9, 16.9),
    (0.3255, 1e4),
]


def _logpdf_one_call(x, gamma, kappa):
    """htmp_logpdf on all of x in one call, and whether it warned (HTMPAccuracyWarning)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", HTMPAccuracyWarning)
        got = htmp_logpdf(x, gamma, kappa)
    return got, any(issubclass(w.category, HTMPAccuracyWarning) for w in caught)


def _assert_right_or_flagged(got, warned, idx, ref):
    """The law's contract at the points idx: within 1e-8 of ref (plus 1e-13 relative, the float64
    floor of log ρ where |log ρ| ≫ 10⁵), or NaN with a warning; never another number.  Then, more
    strictly, that the march certified every point here (a NaN would honour the contract but lose
    these calls to the estimator)."""
    nan = np.isnan(got)
    assert warned or not nan.any(), "NaN without an HTMPAccuracyWarning"
    keep = ~nan[idx]
    np.testing.assert_allclose(got[idx][keep], ref[keep], rtol=1e-13, atol=1e-8)
    assert not nan.any() and not warned


@pytest.mark.parametrize("span", [(5e-324, 1e3), (1e-40, 1e2)])
@pytest.mark.parametrize(("gamma", "kappa"), WIDE_GRID)
def test_logpdf_in_one_call_over_hundreds_of_decades(gamma, kappa, span):
    # log-spaced points over the span (from the smallest subnormal: s x underflows there when
    # s < 1) plus a uniform bulk, in one call.  Truth at a sample of both tails and the bulk:
    # 40-digit mpmath; at κ = 10⁴ (mpmath.hyperu does not converge) the same law one point per
    # call, each its own march over one point (certified against mpmath's contour quadrature at
    # κ ≥ 10⁴ by the slow tests above), so the one call must match it
    lo, hi = (1 - gamma**0.5) ** 2, (1 + gamma**0.5) ** 2
    x = np.concatenate([np.geomspace(span[0], span[1], 200), np.linspace(0.5 * lo, 1.2 * hi, 40)])
    got, warned = _logpdf_one_call(x, gamma, kappa)
    idx = np.r_[np.linspace(0, 190, 8).astype(int), np.arange(200, 240, 8)]
    idx = idx[x[idx] <= 50.0]  # mpmath slows down far right at large κ/γ
    if kappa <= 100:
        ref = np.array([htmp_logpdf_ref(x[i], gamma, kappa) for i in idx])
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("error", HTMPAccuracyWarning)
            ref = np.array([htmp_logpdf(x[i : i + 1], gamma, kappa)[0] for i in idx])
    _assert_right_or_flagged(got, warned, idx, ref)


@pytest.mark.parametrize(
    ("gamma", "kappa", "lo"), [(0.5, 1.0, 5e-37), (0.3255, 0.5, 9e-36), (0.5, 2.0, 3e-19), (0.9, 3.0, 3e-105)]
)
def test_logpdf_in_one_call_on_a_quadrature_rule_integrates_to_one(gamma, kappa, lo):
    # the failing case as tests/test_scaling.py met it: Gauss–Legendre in log x (16 nodes per
    # half decade) over [lo, 60] (lo: the ranges of htmu.study.experiments's rules), the density on all
    # nodes in one call (the weights summed to 1.23 at γ = 0.5, κ = 1).  Truths: the mass and
    # the mean are 1 (F(lo) and 1 − F(60) are below 1e-18), and 40-digit mpmath at a sample
    t, w = np.polynomial.legendre.leggauss(16)
    edges = np.linspace(np.log(lo), np.log(60.0), int(np.ceil(2 * np.log10(60.0 / lo))) + 1)
    half = 0.5 * np.diff(edges)[:, None]
    v = (0.5 * (edges[1:] + edges[:-1])[:, None] + half * t).ravel()
    x = np.exp(v)
    got, warned = _logpdf_one_call(x, gamma, kappa)
    idx = np.r_[0 : x.size : 97, x.size - 1]
    ref = np.array([htmp_logpdf_ref(x[i], gamma, kappa) for i in idx])
    _assert_right_or_flagged(got, warned, idx, ref)
    weights = np.exp(got + v) * (half * w).ravel()
    assert weights.sum() == pytest.approx(1.0, abs=1e-10)
    assert (weights * x).sum() == pytest.approx(1.0, abs=1e-10)


@pytest.mark.parametrize(("gamma", "kappa"), [(0.5, 1.0), (0.3255, 0.5)])
def test_march_from_deep_in_the_left_tail_fails_rather_than_drift(gamma, kappa, monkeypatch):
    # the guard behind the fixed start: put the Frobenius start back at the smallest point, as the
    # old one-way march did (without the guard these points come out off by 10 and 0.056); ℓ then
    # rises by ~40 in the march direction, beyond RISE_MAX, and the march must fail, so that the
    # law returns NaN with a warning instead of those numbers
    import htmu._riccati as ric

    x = np.concatenate([[1e-37], np.linspace(0.1, 3.0, 40)])
    monkeypatch.setattr(ric, "_frobenius_y0", lambda s, b, c, v_lo: s * 1e-37)
    with pytest.raises(ric.MarchFailed, match="rose by"):
        ric.htmp_logpdf_march(x, kappa / (2 * gamma), kappa / 2)
    with pytest.warns(HTMPAccuracyWarning, match="41 of 41 values"):
        assert np.isnan(htmp_logpdf(x, gamma, kappa)).all()


@pytest.mark.parametrize(
    ("gamma", "kappa"), [(0.5, 2.0), (0.3255, 1.9), (0.1, 50.0), (0.3255, 1000.0), (0.3255, 0.1), (0.9, 3.0)]
)
def test_march_initial_values_against_mpmath(gamma, kappa):
    # h = y f'/f with f = U(b, c, −y − i0) and ℓ = log Im h, both from mpmath at 40 digits
    import htmu._riccati as ric

    s, b = kappa / (2 * gamma), kappa / 2
    c = 1 + b - s
    init = ric._initial_frobenius if c > ric.C_FROBENIUS else ric._initial_quadrature
    v0, h_re, ell = init(s, b, c)
    y = float(np.exp(v0))
    with mp.workdps(40):
        u0 = hyperu_cut(b, c, y, side=-1)
        u1 = hyperu_cut(b + 1, c + 1, y, side=-1)
        h = y * b * u1 / u0
        ell_ref = float(mp.log(abs(h.imag)))
    assert h_re == pytest.approx(float(h.real), rel=1e-12, abs=1e-300)
    assert ell == pytest.approx(ell_ref, rel=0, abs=1e-11 * (1 + abs(ell_ref)))


@pytest.mark.parametrize(("gamma", "kappa"), [(0.3255, 5.5), (0.5, 2.0), (0.05, 200.0)])
def test_far_right_tail_is_finite_and_continuous(gamma, kappa):
    # beyond y = Y_FAR (b+2)(s+2) the asymptotic series of U takes over (the quadrature and the
    # march would overflow: x = 1e100 gave nan); at the switch it must agree with the quadrature
    from scipy.special import gammaln

    import htmu.laws as laws
    from htmu._hyperu import log_abs_integral

    s, b = kappa / (2 * gamma), kappa / 2
    y = laws.Y_FAR * (b + 2) * (s + 2) * np.array([1.0001, 2.0])
    li, ok = log_abs_integral(y, np.full(2, s), np.full(2, b))
    assert ok.all()
    quad = np.log(s) - (s - b + 1) * np.log(y) - y - gammaln(b + 1) + gammaln(s) - 2 * li
    np.testing.assert_allclose(laws._logpdf_far(y, s, b), quad, rtol=1e-13)
    x = np.array([1e100, 1e300, 1e308, np.inf])
    lp = htmp_logpdf(x, gamma, kappa)
    assert np.all(np.isfinite(lp[:2])) and np.all(lp[:2] < -1e99)
    assert lp[3] == -np.inf and not np.isnan(lp).any()
    many = htmp_logpdf(np.concatenate([x, np.linspace(0.2, 2.0, 20)]), gamma, kappa)
    np.testing.assert_array_equal(many[:4], lp)


# --------------------------------------------------------------------------------------------
# Large κ: the density against mpmath, the distribution function against adaptive quadrature
# --------------------------------------------------------------------------------------------

_G12, _W12 = np.polynomial.legendre.leggauss(12)
_G24, _W24 = np.polynomial.legendre.leggauss(24)


def adaptive_integrals(logpdf, edges, tol=1e-14):
    """∫ over each [edges[i], edges[i+1]] of exp(logpdf), with an error estimate for each.

    Adaptive bisection: a piece is accepted when 12- and 24-point Gauss–Legendre agree to ``tol``
    times its share of the whole range (the 24-point value, far more accurate, is kept, so the
    estimate is an upper bound in practice).  All pending pieces share one vectorised call of
    ``logpdf``: an independent quadrature (nodes, panels and error control of its own) of the law's
    own density, the reference of issue 14's CDF requirement.
    """
    edges = np.asarray(edges, float)
    total = edges[-1] - edges[0]
    val = np.zeros(edges.size - 1)
    err = np.zeros(edges.size - 1)
    a, b, origin = edges[:-1], edges[1:], np.arange(edges.size - 1)
    for _ in range(60):
        if not a.size:
            break
        mid, half = 0.5 * (a + b), 0.5 * (b - a)
        x = np.concatenate(
            [(mid[:, None] + half[:, None] * _G24).ravel(), (mid[:, None] + half[:, None] * _G12).ravel()]
        )
        f = np.exp(logpdf(x))
        q24 = half * (f[: a.size * 24].reshape(-1, 24) @ _W24)
        q12 = half * (f[a.size * 24 :].reshape(-1, 12) @ _W12)
        done = np.abs(q24 - q12) <= tol * np.maximum((b - a) / total, 1e-6)
        np.add.at(val, origin[done], q24[done])
        np.add.at(err, origin[done], np.abs(q24 - q12)[done])
        keep = ~done
        a, b, origin = (np.concatenate([v[keep], w[keep]]) for v, w in ((a, mid), (mid, b), (origin, origin)))
    assert not a.size, "adaptive quadrature did not converge"
    return val, err


def _sweep_points(gamma, kappa):
    lo, hi = (1 - gamma**0.5) ** 2, (1 + gamma**0.5) ** 2
    w = kappa ** (-2 / 3)  # the width of the edge layers in x, relative
    left = lo * np.array([1 - 30 * w, 1 - 10 * w, 1 - 3 * w, 1, 1 + 3 * w, 1 + 10 * w])
    right = hi * np.array([1 - 10 * w, 1 - 3 * w, 1, 1 + 3 * w, 1 + 10 * w, 1 + 30 * w])
    return np.concatenate([left, np.linspace(lo, hi, 9)[1:-1], right])


def reference_grid(gamma, kappa):
    """Breakpoints from x_a = x₋ (1 − 60 w)/2 to x_b = 1.5 x₊ around the MP edges x±, with spacing
    w = κ^(−2/3) (the width of their layers) across both layers: no piece is then so wide that both
    rules of ``adaptive_integrals`` miss the density in it (a piece whose nodes all see ~0 would be
    accepted)."""
    lo, hi = (1 - gamma**0.5) ** 2, (1 + gamma**0.5) ** 2
    w = kappa ** (-2 / 3)
    layer = np.arange(-60, 61) * w
    return np.unique(
        np.r_[lo * (1 - 60 * w) * 0.5, lo * (1 + layer), np.linspace(lo, hi, 40), hi * (1 + layer), hi * 1.5]
    )


def reference_cdf(gamma, kappa, x):
    """(∫_{x_a}^{x} ρ, ∫_{x}^{x_b} ρ, ∫_{x_a}^{x_b} ρ) by ``adaptive_integrals`` on ``reference_grid``."""
    grid = np.unique(np.r_[reference_grid(gamma, kappa), x])
    with warnings.catch_warnings():
        warnings.simplefilter("error", HTMPAccuracyWarning)
        pieces, errs = adaptive_integrals(lambda t: htmp_logpdf(t, gamma, kappa), grid)
    assert errs.sum() < 1e-11
    idx = np.searchsorted(grid, x)
    cum = np.r_[0.0, np.cumsum(pieces)]
    rcum = np.r_[np.cumsum(pieces[::-1])[::-1], 0.0]
    return cum[idx], rcum[idx], pieces.sum()


def _roundtrip_rtol(x, gamma, kappa):
    """Relative error allowed in F(F⁻¹(q)) = q at the quantile x: 1e-10, or 16 ulps of v = log(s x) times
    d log q / d v (the larger of the lower and the upper tail's), never more than 1e-8."""
    v = np.log(x) + np.log(kappa / (2 * gamma))
    xf = x * htmp.pdf(x, gamma, kappa)
    slope = np.maximum(xf / htmp.cdf(x, gamma, kappa), xf / htmp.sf(x, gamma, kappa))
    rtol = np.maximum(1e-10, slope * 16 * np.finfo(float).eps * np.maximum(1.0, np.abs(v)))
    assert np.all(rtol <= 1e-8), rtol
    return rtol


@pytest.mark.parametrize("kappa", [1e3, 1e4, 1e5, 1e6])
@pytest.mark.parametrize("gamma", [0.1, 0.3255, 0.5, 0.9])
def test_cdf_sf_ppf_isf_at_large_kappa_against_adaptive_quadrature(gamma, kappa):
    # issue 14: cdf, sf, ppf and isf to 1e-8 for κ up to 10⁶ (κ = 10⁵ gave cdf(1) = 0.558 for
    # 0.576 with a warning).  Truth: adaptive quadrature of the density (``reference_cdf``); it
    # must add up to 1, so the mass outside its range is below 1e-10.
    x = _sweep_points(gamma, kappa)
    q = np.array([1e-8, 1e-4, 0.01, 0.3, 0.5, 0.9, 0.9999])
    with warnings.catch_warnings():
        warnings.simplefilter("error", HTMPAccuracyWarning)
        cdf, sf = htmp.cdf(x, gamma, kappa), htmp.sf(x, gamma, kappa)
        xq = htmp.ppf(q, gamma, kappa)
        xi = htmp.isf(q, gamma, kappa)
        sf_xi = htmp.sf(xi, gamma, kappa)
        ref_cdf, ref_sf, total = reference_cdf(gamma, kappa, np.r_[x, xq])
        ref_sf_i = reference_cdf(gamma, kappa, xi)[1]
    assert total == pytest.approx(1.0, abs=1e-10)
    np.testing.assert_allclose(cdf, ref_cdf[: x.size], rtol=0, atol=1e-8)
    np.testing.assert_allclose(sf, ref_sf[: x.size], rtol=0, atol=1e-8)
    # the far tails relative: small values right to 1e-6 of themselves
    for got, ref in ((cdf, ref_cdf[: x.size]), (sf, ref_sf[: x.size])):
        small = ref < 1e-3
        np.testing.assert_allclose(got[small], ref[small], rtol=1e-6, atol=1e-15)
    # round trips to the quantile's conditioning: the solver finds v = log(s x) to 8 ulps, and an error dv in v moves
    # log F by c dv, c = d log F / d log x (6e4 at gamma 0.1, kappa 1e6, q = 1e-8: one ulp of v is 2e-10 of q there,
    # and which side of 1e-10 a round trip lands on depended on the CPU's libm: 1.05e-10 on an AVX-512 EPYC)
    np.testing.assert_array_less(
        np.abs(htmp.cdf(xq, gamma, kappa) / q - 1), _roundtrip_rtol(xq, gamma, kappa)
    )
    np.testing.assert_allclose(ref_cdf[x.size :], q, rtol=0, atol=1e-8)
    np.testing.assert_array_less(np.abs(sf_xi / q - 1), _roundtrip_rtol(xi, gamma, kappa))
    np.testing.assert_allclose(ref_sf_i, q, rtol=0, atol=1e-8)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("gamma", "kappa", "xs"),
    [
        # left tail, near the lower edge (both sides), bulk, near the upper edge, right tail
        (0.1, 1e4, [0.3, 0.4646, 1.0, 1.7325, 1.8]),
        (0.9, 1e5, [0.002, 1.0, 3.8]),
        (0.5, 1e6, [0.05, 0.08586, 1.0, 2.914, 3.0]),
    ],
)
def test_logpdf_at_large_kappa_matches_mpmath_contour_quadrature(gamma, kappa, xs):
    # mpmath.hyperu does not converge beyond κ ≈ 10³; the reference integrates U's Laplace
    # integral on a steepest-descent contour with mpmath (30 digits, its error estimate < 1e-30)
    got = htmp_logpdf(np.array(xs), gamma, kappa)
    for x, g_ in zip(xs, got, strict=True):
        ref, err = htmp_logpdf_contour_ref(x, gamma, kappa, dps=30)
        assert err < 1e-25
        assert g_ == pytest.approx(ref, abs=1e-8 + 1e-13 * abs(ref))


@pytest.mark.slow
def test_contour_reference_is_path_independent():
    # Cauchy: the reference's value does not depend on its contour (bulk, left and right tail),
    # and it meets mpmath.hyperu where that converges
    for x in (0.05, 1.0, 4.0):
        a, _ = htmp_logpdf_contour_ref(x, 0.3255, 100.0, dps=30)
        b, _ = htmp_logpdf_contour_ref(x, 0.3255, 100.0, dps=30, variant=1)
        assert a == pytest.approx(b, abs=1e-20) and a == pytest.approx(
            htmp_logpdf_ref(x, 0.3255, 100.0), abs=1e-13
        )
    a, _ = htmp_logpdf_contour_ref(0.002, 0.9, 1e5, dps=30)
    b, _ = htmp_logpdf_contour_ref(0.002, 0.9, 1e5, dps=30, variant=1)
    assert a == pytest.approx(b, abs=1e-20 * abs(a))


@pytest.mark.parametrize(("gamma", "kappa"), [(0.5, 1e4), (0.1, 1e6), (0.9, 1e6)])
def test_normalisation_mean_variance_at_large_kappa(gamma, kappa):
    # the three moments to 1e-12: any error in the density (a constant offset of log ρ, a wrong
    # edge layer) would show here
    edges = reference_grid(gamma, kappa)
    m = [
        adaptive_integrals(lambda t, p=p: htmp_logpdf(t, gamma, kappa) + p * np.log(t), edges)[0].sum()
        for p in (0, 1, 2)
    ]
    assert m[0] == pytest.approx(1.0, abs=1e-12)
    assert m[1] == pytest.approx(1.0, abs=1e-12)
    assert m[2] - 1.0 == pytest.approx(gamma * (1 + 2 / kappa), abs=1e-12)


# --------------------------------------------------------------------------------------------
# log CDF and log SF in the deep tails (the censored likelihood's terms)
# --------------------------------------------------------------------------------------------


def log_cdf_phase_ref(x, gamma, kappa, dps=120):
    """log F(x) = log(arg U(b, −a, −y − i0)/(π b)) by mpmath.hyperu at ``dps`` digits.

    The phase formula itself is checked against quadrature of the density below; 120 digits
    because mpmath's hyperu loses ~y^ε of its precision to cancellation (40 digits were off by
    3e-9 relative at y = 1e-300, ε = 1/6).  Not at integer c = 1 + b − s, where hyperu's limit
    is inaccurate at tiny y.
    """
    with mp.workdps(dps):
        s = mp.mpf(kappa) / (2 * mp.mpf(gamma))
        b = mp.mpf(kappa) / 2
        y = s * mp.mpf(x)
        u = hyperu_cut(b, 1 + b - s, y, side=-1, dps=dps)
        return float(mp.log(abs(mp.arg(u)) / (mp.pi * b)))


def log_sf_integral_ref(logpdf, x):
    """log ∫_x^∞ ρ by mpmath quadrature (``logpdf`` an mpmath-valued log density)."""
    with mp.workdps(30):
        shift = logpdf(mp.mpf(x))
        val = mp.quad(
            lambda t: mp.exp(logpdf(t) - shift), [x, x * (1 + 1e-3), x * 1.01, x * 1.1, x * 2, mp.inf]
        )
        return float(shift + mp.log(val))


def log_cdf_integral_ref(logpdf, x, eps):
    """log ∫_0^x ρ by mpmath quadrature in r, t = x r^(1/ε) (ε = a + 1: ρ ~ t^(ε−1) near 0, so
    the integrand, ρ(t) t/(ε r), is smooth in r all the way to 0, however small ε)."""
    with mp.workdps(30):
        x, eps = mp.mpf(x), mp.mpf(eps)
        shift = logpdf(x) + mp.log(x / eps)

        def f(r):
            if r == 0:
                return mp.mpf(0)
            t = x * r ** (1 / eps)
            return mp.exp(logpdf(t) + mp.log(t / (eps * r)) - shift)

        val = mp.quad(f, [0, mp.mpf(10) ** -12, mp.mpf(10) ** -6, mp.mpf(10) ** -3, 0.1, 1])
        return float(shift + mp.log(val))


def _ref_logpdf_mp(gamma, kappa):
    def f(x):
        with mp.workdps(40):
            g, k, xx = mp.mpf(gamma), mp.mpf(kappa), mp.mpf(x)
            s, b = k / (2 * g), k / 2
            a = s - b - 1
            y = s * xx
            u = hyperu_cut(b, -a, y)
            return mp.log(s) + a * mp.log(y) - y - mp.loggamma(b + 1) - mp.loggamma(s) - 2 * mp.log(abs(u))

    return f


@pytest.mark.parametrize("kappa", [1e-5, 1e-4, 1e-3, 0.1, 5.5, 100.0, 1000.0])
def test_logcdf_deep_left_tail_against_mpmath_phase(kappa):
    # the censored likelihood's term: F at one point with y = s x between 1e-300 and 1e-6; for
    # κ ≤ 1e-3 most of the mass lies there (F(1e-300) ≈ 0.39 at κ = 1e-3, γ = 0.3255)
    gamma = 0.3255
    s = kappa / (2 * gamma)
    y = np.array([1e-300, 1e-30, 1e-6])
    got = htmp_logcdf(y / s, gamma, kappa)
    ref = np.array([log_cdf_phase_ref(yy / s, gamma, kappa) for yy in y])
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)
    if kappa == 1e-3:
        assert 0.2 < np.exp(htmp_logcdf(1e-300, gamma, kappa)) < 0.6
        assert htmp.cdf(y[0] / s, gamma, kappa) == pytest.approx(np.exp(ref[0]), rel=1e-10)


@pytest.mark.slow
def test_phase_formula_is_the_integral_of_the_density():
    # the phase identity F = arg U/(π b) against mpmath quadrature of the 40-digit density, in
    # both regimes of htmp_logcdf's closed form (ε < 0.95: connection formula; ε ≥ 0.95: the
    # regular series) and at integer c = 0 (γ = 0.5, κ = 2), where the tail march serves
    for gamma, kappa, x in [(0.3255, 0.1, 1e-8), (0.3255, 5.5, 0.05), (0.5, 2.0, 1e-30)]:
        eps = kappa * (1 - gamma) / (2 * gamma)
        ref = log_cdf_integral_ref(_ref_logpdf_mp(gamma, kappa), x, eps)
        assert htmp_logcdf(x, gamma, kappa) == pytest.approx(ref, abs=1e-10)


@pytest.mark.parametrize(
    ("gamma", "kappa", "y"),
    [
        (0.3255, 5.5, 2400.0),  # SF ≈ 1e-1000: U's asymptotic series (Gauss–Laguerre)
        (0.3255, 5.5, 60.0),  # nearer: the tail march
        (0.3255, 1e-3, 40.0),
        (0.9, 3.0, 50.0),
    ],
)
def test_logsf_deep_right_tail_against_mpmath(gamma, kappa, y):
    s = kappa / (2 * gamma)
    x = y / s
    ref = log_sf_integral_ref(_ref_logpdf_mp(gamma, kappa), x)
    assert htmp_logsf(x, gamma, kappa) == pytest.approx(ref, rel=1e-10, abs=1e-10)


@pytest.mark.parametrize(
    ("gamma", "kappa", "x"),
    [(0.3255, 100.0, 1e-5), (0.3255, 1e3, 0.05), (0.1, 1e4, 0.3), (0.5, 1e6, 0.07)],
)
def test_logcdf_deep_left_tail_at_large_kappa(gamma, kappa, x):
    # F(1e-5) at κ = 100 is ~1e-500: log F against adaptive quadrature of the density, shifted
    # by log ρ(x) so that nothing underflows (the density itself is certified above)
    c = htmp_logpdf(x, gamma, kappa)
    lo = x * np.exp(-80 / (kappa / (2 * gamma) - kappa / 2))  # F ∝ x^ε: e^(−80) of it below
    pieces, _ = adaptive_integrals(lambda t: htmp_logpdf(t, gamma, kappa) - c, np.geomspace(lo, x, 200))
    got = htmp_logcdf(x, gamma, kappa)
    assert got < -300
    assert got == pytest.approx(c + np.log(pieces.sum()), rel=1e-10)


@pytest.mark.parametrize(("gamma", "kappa"), [(0.3255, 100.0), (0.5, 1e4), (0.1, 1e6)])
def test_logsf_right_tail_at_large_kappa(gamma, kappa):
    s, b = kappa / (2 * gamma), kappa / 2
    hi = (np.sqrt(s) + np.sqrt(b)) ** 2
    for y in (hi * 1.2, hi * 3.0):
        x = y / s
        c = htmp_logpdf(x, gamma, kappa)
        pieces, _ = adaptive_integrals(
            lambda t, c=c: htmp_logpdf(t, gamma, kappa) - c, x * (1 + np.geomspace(1e-9, 1.0, 200) - 1e-9)
        )
        got = htmp_logsf(x, gamma, kappa)
        assert got == pytest.approx(c + np.log(pieces.sum()), rel=1e-10)


@pytest.mark.parametrize(("gamma", "kappa"), [(0.3255, 1e-3), (0.5, 2.0), (0.3255, 5.5), (0.1, 1e4)])
def test_logcdf_logsf_agree_with_cdf_sf_in_the_bulk_and_hook_into_scipy(gamma, kappa):
    lo, hi = (1 - gamma**0.5) ** 2, (1 + gamma**0.5) ** 2
    x = np.r_[np.geomspace(1e-12, lo, 5), np.linspace(lo, hi, 7), np.linspace(hi, 2 * hi, 5)]
    lc, ls = htmp_logcdf(x, gamma, kappa), htmp_logsf(x, gamma, kappa)
    c, sf = htmp.cdf(x, gamma, kappa), htmp.sf(x, gamma, kappa)
    ok = c > 1e-300
    np.testing.assert_allclose(np.exp(lc[ok]), c[ok], rtol=1e-9, atol=1e-15)
    ok = sf > 1e-300
    np.testing.assert_allclose(np.exp(ls[ok]), sf[ok], rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(-np.expm1(lc), np.exp(ls), rtol=1e-8, atol=1e-14)
    # scipy's logcdf/logsf are these; invhtmp's are the direct ones at 1/λ, swapped
    np.testing.assert_allclose(htmp.logcdf(x, gamma, kappa), lc, rtol=1e-14)
    np.testing.assert_allclose(htmp.logsf(x, gamma, kappa), ls, rtol=1e-14)
    np.testing.assert_allclose(invhtmp.logcdf(1 / x, gamma, kappa), ls, rtol=1e-14)
    np.testing.assert_allclose(invhtmp.logsf(1 / x, gamma, kappa), lc, rtol=1e-14)


def test_logcdf_logsf_edge_cases():
    x = np.array([-1.0, 0.0, 0.5, np.inf])
    np.testing.assert_array_equal(htmp_logcdf(x, 0.5, 2.0)[[0, 1, 3]], [-np.inf, -np.inf, 0.0])
    np.testing.assert_array_equal(htmp_logsf(x, 0.5, 2.0)[[0, 1, 3]], [0.0, 0.0, -np.inf])
    # κ = ∞: Marchenko–Pastur's, −inf outside its support
    lo, hi = (1 - 0.5**0.5) ** 2, (1 + 0.5**0.5) ** 2
    assert htmp_logcdf(0.5 * lo, 0.5, np.inf) == -np.inf and htmp_logsf(2 * hi, 0.5, np.inf) == -np.inf
    assert np.exp(htmp_logcdf(1.0, 0.5, np.inf)) == pytest.approx(marchenko_pastur.cdf(1.0, 0.5), rel=1e-14)
    # deep values are finite where the cdf underflows; the inverse form's lower tail is the
    # direct form's upper tail
    assert np.isfinite(invhtmp.logcdf(1e-6, 0.3255, 5.5)) and invhtmp.logcdf(1e-6, 0.3255, 5.5) < -1e4
    with pytest.raises(ValueError, match="gamma"):
        htmp_logcdf(1.0, 1.5, 2.0)
    with pytest.raises(ValueError, match="kappa"):
        htmp_logsf(1.0, 0.5, -1.0)


def test_a_march_is_reused_inside_its_range_and_gives_the_same_density(monkeypatch):
    """Consecutive calls at one (γ, κ) reuse the last march when it spans their points (a likelihood maximised
    over the scale), march anew over the union otherwise, and never for another (γ, κ); the values equal a fresh
    march's to rounding."""
    import htmu.laws as laws

    marches = []
    real = laws.march
    monkeypatch.setattr(
        laws, "march", lambda s, b, lo, hi, **k: marches.append((lo, hi)) or real(s, b, lo, hi, **k)
    )
    x = np.linspace(0.2, 3.0, 200)
    first = htmp_logpdf(x, 0.3255, 5.5)
    inside = htmp_logpdf(x[20:150] * 1.01, 0.3255, 5.5)  # scaled a little, still inside the first range
    assert len(marches) == 1
    wider = htmp_logpdf(x * 1.5, 0.3255, 5.5)
    assert len(marches) == 2 and marches[1][0] <= marches[0][0] and marches[1][1] > marches[0][1]  # the union
    htmp_logpdf(x, 0.3255, 2.0)  # another κ: its own march
    assert len(marches) == 3
    for pts, got in ((x, first), (x[20:150] * 1.01, inside), (x * 1.5, wider)):
        laws.forget_march()
        np.testing.assert_allclose(got, htmp_logpdf(pts, 0.3255, 5.5), rtol=0, atol=1e-12)
