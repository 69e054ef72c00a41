"""Tests of the samplers against exact finite-n moments and the HTMP law."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from htmu.ensembles import STRUCTURES, sample_htmp_ensemble, sample_structured, sample_wishart


def _exact_m2(n: int, gamma: float, kappa: float) -> float:
    """E[(1/n) sum x_i^2] of the bidiagonal ensemble, exact at finite n.

    tr(T^2) = sum_i (D_i + S_{i-1})^2 + 2 sum_i D_i S_i with independent D_i ~ chi2(a_i),
    S_i ~ chi2(c_i), E chi2(k)^2 = k^2 + 2k.
    """
    beta, m = kappa / n, n / gamma
    i = np.arange(1, n + 1, dtype=float)
    a = beta * (m - i + 1)
    c = beta * (n - i)  # c_n = 0
    c_prev = np.concatenate([[0.0], c[:-1]])
    e_tr = np.sum(a**2 + 2 * a + 2 * a * c_prev + c_prev**2 + 2 * c_prev) + 2 * np.sum(a * c)
    return (gamma / kappa) ** 2 * e_tr / n


@pytest.mark.parametrize(("gamma", "kappa"), [(0.3, 0.5), (0.3255, 5.5), (0.7, 30.0)])
def test_exact_m2_tends_to_htmp_variance(gamma, kappa):
    # Independent check of the facts-sheet claim Var x -> gamma (1 + 2/kappa): the exact finite-n
    # second moment, at very large n, equals 1 + gamma (1 + 2/kappa).
    m2 = _exact_m2(10**6, gamma, kappa)
    assert m2 - 1.0 == pytest.approx(gamma * (1 + 2 / kappa), rel=1e-4)


@pytest.mark.parametrize(("gamma", "kappa"), [(0.3, 0.5), (0.3255, 5.5), (0.7, 30.0)])
def test_ensemble_mean_has_exact_chi2_law(gamma, kappa):
    # trace(B B^T) ~ chi2(kappa n / gamma) exactly, so mean(x) ~ gamma/(kappa n) chi2(kappa n / gamma).
    n, reps = 200, 150
    rng = np.random.default_rng(1)
    means = np.array([sample_htmp_ensemble(n, gamma, kappa, rng).mean() for _ in range(reps)])
    df = kappa * n / gamma
    p = stats.kstest(means, stats.chi2(df, scale=gamma / (kappa * n)).cdf).pvalue
    assert p > 1e-3


@pytest.mark.parametrize(("gamma", "kappa"), [(0.3, 0.5), (0.3255, 5.5), (0.7, 30.0)])
def test_ensemble_second_moment_matches_exact(gamma, kappa):
    n, reps = 300, 60
    rng = np.random.default_rng(2)
    m2 = np.array([np.mean(sample_htmp_ensemble(n, gamma, kappa, rng) ** 2) for _ in range(reps)])
    se = m2.std(ddof=1) / np.sqrt(reps)
    assert abs(m2.mean() - _exact_m2(n, gamma, kappa)) < 4 * se


def test_ensemble_variance_one_large_draw():
    # One draw, n = 2000: the spectrum's variance is close to gamma (1 + 2/kappa); the tolerance is
    # 5 sigma of the across-draw spread measured at the same (gamma, kappa, n) with other seeds.
    gamma, kappa, n = 0.3255, 5.5, 2000
    rng = np.random.default_rng(3)
    spread = np.std([sample_htmp_ensemble(n, gamma, kappa, rng).var() for _ in range(20)], ddof=1)
    x = sample_htmp_ensemble(n, gamma, kappa, np.random.default_rng(4))
    assert abs(x.mean() - 1) < 5 * np.sqrt(2 * gamma / (kappa * n))
    assert abs(x.var() - gamma * (1 + 2 / kappa)) < 5 * spread + 0.01


def test_kappa_inf_and_wishart_match_mp_moments():
    # Real Wishart: E m2 = (n + m + 1)/m exactly, for the dense and the bidiagonal (beta = 1) sampler.
    n, gamma, reps = 100, 0.5, 80
    m = int(round(n / gamma))
    rng = np.random.default_rng(5)
    for sampler in (
        lambda: sample_wishart(n, gamma, rng),
        lambda: sample_htmp_ensemble(n, gamma, np.inf, rng),
    ):
        draws = [sampler() for _ in range(reps)]
        m1 = np.array([d.mean() for d in draws])
        m2 = np.array([np.mean(d**2) for d in draws])
        assert abs(m1.mean() - 1) < 4 * m1.std(ddof=1) / np.sqrt(reps)
        assert abs(m2.mean() - (n + m + 1) / m) < 4 * m2.std(ddof=1) / np.sqrt(reps)


def test_wishart_edges_near_mp_support():
    gamma = 0.25
    x = sample_wishart(800, gamma, np.random.default_rng(6))
    lo, hi = (1 - np.sqrt(gamma)) ** 2, (1 + np.sqrt(gamma)) ** 2
    assert abs(x[0] - lo) < 0.05 and abs(x[-1] - hi) < 0.1


def test_reproducible_and_sorted():
    a = sample_htmp_ensemble(500, 0.4, 2.0, np.random.default_rng(7))
    b = sample_htmp_ensemble(500, 0.4, 2.0, np.random.default_rng(7))
    c = sample_htmp_ensemble(500, 0.4, 2.0, np.random.default_rng(8))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.all(np.diff(a) >= 0) and np.all(a > 0)
    for s in STRUCTURES:
        u = sample_structured(400, 0.4, s, np.random.default_rng(9), block_size=4)
        v = sample_structured(400, 0.4, s, np.random.default_rng(9), block_size=4)
        assert np.array_equal(u, v) and u.shape == (400,)


def test_structured_moments_and_ordering():
    # Exact second moments: block b x c Wishart E m2 = (b + c + 1)/c; Kronecker: product of the two
    # factors' E m2; fixed eigenvectors: Gamma(1/(2 gamma), 2 gamma), variance 2 gamma.
    n, gamma, reps = 300, 0.25, 20
    rng = np.random.default_rng(10)

    def stat(structure, **kw):
        v = np.array([sample_structured(n, gamma, structure, rng, **kw).var() for _ in range(reps)])
        return v.mean(), v.std(ddof=1) / np.sqrt(reps)

    var_h, se_h = stat("haar")
    var_b, se_b = stat("block_diagonal", block_size=4)
    var_k, se_k = stat("kronecker", factor=15)
    var_f, se_f = stat("fixed_eigenvectors")
    # var = E m2 - 1 up to the O(1/n) fluctuation of the sample mean, well inside 4 se + 1/n.
    assert abs(var_h - (gamma + 1 / (n / gamma))) < 4 * se_h + 2 / n
    assert abs(var_b - (4 + 16 + 1) / 16 + 1) < 4 * se_b + 2 / n
    e2_1, e2_2 = (15 + 30 + 1) / 30, (20 + 40 + 1) / 40  # factors 15 x 30 and 20 x 40
    assert abs(var_k - (e2_1 * e2_2 - 1)) < 4 * se_k + 2 / n
    assert abs(var_f - 2 * gamma) < 4 * se_f + 2 / n
    assert var_h < var_b < var_f


def test_bad_arguments():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="gamma"):
        sample_htmp_ensemble(100, 1.5, 2.0, rng)
    with pytest.raises(ValueError, match="kappa"):
        sample_htmp_ensemble(100, 0.5, -1.0, rng)
    with pytest.raises(ValueError, match="n must"):
        sample_wishart(1, 0.5, rng)
    with pytest.raises(ValueError, match="structure"):
        sample_structured(100, 0.5, "toeplitz", rng)
    with pytest.raises(ValueError, match="factor"):
        sample_structured(100, 0.5, "kronecker", rng, factor=7)
    with pytest.raises(ValueError, match="rng"):
        sample_htmp_ensemble(100, 0.5, 2.0, 42)


def test_ensemble_cdf_matches_htmp_law():
    # Empirical CDF of the ensemble against the HTMP CDF obtained here by trapezoid quadrature in
    # log x of htmu.laws.htmp_logpdf (a = 4.7 > 0: no mass below 1e-3). For n = 2000 iid draws the
    # 95% KS quantile is 1.36/sqrt(2000) = 0.030 (pooled 6000: 0.018); repulsion makes the ensemble's
    # spectrum more regular than iid, so these bounds are conservative, yet they fail for a wrong
    # kappa (the same draws at kappa = 4 or 7 give pooled distances 0.019 and 0.013; 5.5 gives 0.007).
    from htmu.laws import htmp_logpdf

    gamma, kappa = 0.3255, 5.5
    u = np.linspace(np.log(1e-3), np.log(12.0), 1500)
    f = np.exp(htmp_logpdf(np.exp(u), gamma, kappa) + u)
    cdf_u = np.concatenate([[0.0], np.cumsum(0.5 * (f[1:] + f[:-1]) * np.diff(u))])
    assert cdf_u[-1] == pytest.approx(1.0, abs=1e-6)

    def ks(x):
        x = np.sort(x)
        c = np.interp(np.log(x), u, cdf_u)
        i = np.arange(1, x.size + 1)
        return max(np.max(i / x.size - c), np.max(c - (i - 1) / x.size))

    rng = np.random.default_rng(11)
    draws = [sample_htmp_ensemble(2000, gamma, kappa, rng) for _ in range(3)]
    assert all(ks(x) < 0.030 for x in draws)
    assert ks(np.concatenate(draws)) < 0.011


@pytest.mark.parametrize(("gamma", "kappa", "seed"), [(0.3255, 1e-3, 5), (0.3255, 0.1, 6), (0.5, 5.5, 7)])
def test_dqds_eigenvalues_match_mpmath_in_relative_terms(gamma, kappa, seed):
    # The same draw's B B^T eigenvalues by mpmath: 50 significant digits beyond the spectrum's dynamic
    # range, so even the smallest eigenvalue is a 50-digit reference. Every eigenvalue whose square root is
    # above dqds's underflow limit (1e-150 of the largest singular value) must agree to a few ulps; a
    # tridiagonal eigensolver (the previous sampler) fails this for every eigenvalue below ~n eps max.
    mp = pytest.importorskip("mpmath")
    from htmu.ensembles import _log_chi2, bidiagonal_singular_values

    n = 50
    beta, m = kappa / n, n / gamma
    rng = np.random.default_rng(seed)
    i = np.arange(1, n + 1, dtype=float)
    d = np.exp(0.5 * _log_chi2(beta * (m - i + 1.0), rng))
    s = np.exp(0.5 * _log_chi2(beta * (n - i[:-1]), rng))
    lam = np.sort(bidiagonal_singular_values(d, s) ** 2)
    log_entries = np.log10(np.concatenate([d[d > 0], s[s > 0]]))
    span = int(2 * (log_entries.max() - log_entries.min())) + 1  # decades spanned by the squared entries
    with mp.workdps(50 + span):
        b = mp.zeros(n, n)
        for j in range(n):
            b[j, j] = mp.mpf(float(d[j]))
        for j in range(n - 1):
            b[j + 1, j] = mp.mpf(float(s[j]))
        ref = sorted(mp.eigsy(b * b.T, eigvals_only=True))
    ref = np.array([float(r) for r in ref])
    checked = ref > 1e-290 * ref.max()
    assert checked.sum() >= 10
    assert np.max(np.abs(lam[checked] / ref[checked] - 1)) < 1e-13
    if kappa < 0.01:
        # the point of the exercise: most of this spectrum is below what an eigensolver can resolve
        assert np.mean(ref < 50 * np.finfo(float).eps * ref.max()) > 0.5


def test_eigensolver_model_matches_eigvalsh():
    # through_eigensolver's model (exact above n eps max|lambda|, noise of that size below) against
    # numpy's eigvalsh of Q diag(lambda) Q^T with a Haar Q, for a small-kappa spectrum.
    from htmu.ensembles import eigensolver_floor, through_eigensolver

    rng = np.random.default_rng(11)
    lam = sample_htmp_ensemble(200, 0.3255, 0.01, rng)
    q, r = np.linalg.qr(rng.standard_normal((200, 200)))
    q *= np.sign(np.diag(r))
    numeric = np.sort(np.linalg.eigvalsh((q * lam) @ q.T))
    model = through_eigensolver(lam, np.random.default_rng(12))
    floor = eigensolver_floor(lam)
    above = lam > 1e3 * floor
    assert above.sum() > 20 and (lam <= floor).sum() > 20  # both regimes are present
    assert np.max(np.abs(numeric[above] - lam[above])) < floor  # absolute error within the floor
    assert np.max(np.abs(model[above] / lam[above] - 1)) == 0.0
    # below the floor both are noise of the floor's size, not the exact tiny eigenvalues
    below = lam <= floor
    assert np.max(np.abs(numeric[below])) < floor and np.max(np.abs(model[below])) <= floor
    assert np.max(np.abs(numeric[below])) > 1e-3 * floor  # eigvalsh really returns noise there


@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_eigensolver_model_refuses_a_non_finite_eigenvalue(bad):
    # 2/z of a subnormal z overflows to inf; the floor n eps max|lambda| would then be inf (numpy's uniform
    # draw failed with "high - low range exceeds valid bounds")
    from htmu.ensembles import through_eigensolver

    with pytest.raises(ValueError, match="1 not finite"):
        through_eigensolver(np.array([1.0, 2.0, bad]), np.random.default_rng(0))
