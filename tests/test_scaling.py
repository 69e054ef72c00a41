"""Tests of the ridge scaling-law derivation (docs/scaling.md) and of its experiment in htmu.study.experiments.

Each step of the derivation is checked against an independent truth: Monte Carlo over teacher and noise, the
exact inequality on random instances, the HTMP law's Stieltjes transform in 30-digit mpmath (the integrals of
the derivation are derivatives of it), and simulation of the ridge error itself.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pandas as pd
import pytest

from htmu.laws import htmp
from htmu.study import claims, experiments

#: The workflow's default setup of the scaling experiment (its config section's defaults), less the sizes
SETUP = {
    k: v
    for k, v in experiments.EXPERIMENTS["scaling"].defaults().items()
    if k in ("ratio", "d", "sigma", "spectrum")
}

# (kappa, gamma) with q = kappa (1 - gamma) / (2 gamma) below, at and above 1
Q_HALF, Q_ONE, Q_BIG = (1.0, 0.5), (2.0, 0.5), (5.5, 0.3255)


def q_of(kappa, gamma):
    return kappa * (1 - gamma) / (2 * gamma)


def c0_of(kappa, gamma):
    # rho(x) ~ c0 x^(q-1) at 0, from U(kappa/2, -a, 0) = Gamma(q)/Gamma(s) (docs/scaling.md, section 3)
    s, q = kappa / (2 * gamma), q_of(kappa, gamma)
    return s**q * math.gamma(s) / (math.gamma(kappa / 2 + 1) * math.gamma(q) ** 2)


def h_mp(m, kappa, gamma):
    """H(m) = ∫ rho(x) / (x + m) dx = s U(b + 1, 1 - a, s m) / U(b, -a, s m), an mpf (30 digits)."""
    s, b = mp.mpf(kappa) / (2 * mp.mpf(gamma)), mp.mpf(kappa) / 2
    a = s - b - 1
    return s * mp.hyperu(b + 1, 1 - a, s * m) / mp.hyperu(b, -a, s * m)


def bias_integral(m, kappa, gamma):
    """I(m) = ∫ x/(x + m)^2 rho(x) dx = d/dm [m H(m)], by 30-digit differentiation of the closed form."""
    with mp.workdps(30):
        m = mp.mpf(m)
        return float(mp.diff(lambda t: t * h_mp(t, kappa, gamma), m))


def mean_inverse(kappa, gamma):
    s, q = kappa / (2 * gamma), q_of(kappa, gamma)
    return s / (q - 1)  # E[1/x] = s/a, a = q - 1 > 0


# --------------------------------------------------------------------------------------------------
# the claim and the exact finite-sample error (docs/scaling.md, sections 0-1)
# --------------------------------------------------------------------------------------------------


def test_claimed_slope_is_steeper_than_two_ell_for_every_gamma_below_one():
    assert experiments.claimed_slope(2.0, 0.5, 0.5) == pytest.approx(-1.5)
    assert experiments.claimed_slope(5.5, 0.3255, 0.5) == pytest.approx(-0.5 * (2 + 5.5 / 0.651 - 2.75))
    for kappa in (1e-3, 0.5, 2.0, 50.0):
        for gamma in (0.01, 0.3255, 0.5, 0.99):
            for ell in (0.1, 0.5, 0.9):
                claimed = experiments.claimed_slope(kappa, gamma, ell)
                assert claimed == pytest.approx(-ell * (2 + q_of(kappa, gamma)))
                assert claimed < -2 * ell


def test_ridge_exact_error_matches_monte_carlo():
    rng = np.random.default_rng(0)
    n, p, mu, sigma = 30, 6, 0.3, 0.7
    lam = rng.uniform(0.2, 3.0, size=p)
    phi = rng.standard_normal((n, p)) * np.sqrt(lam)
    bias, var = experiments.ridge_exact_error(phi.T @ phi / n, n, lam, mu, sigma)
    reps = 40000
    theta = rng.standard_normal((reps, p)) / math.sqrt(p)
    y = theta @ phi.T + sigma * rng.standard_normal((reps, n))
    hat = np.linalg.solve(phi.T @ phi / n + mu * np.eye(p), (y @ phi / n).T).T
    loss = np.sum((hat - theta) ** 2 * lam, axis=1)
    assert abs(loss.mean() - (bias + var)) < 4 * loss.std() / math.sqrt(reps)
    hat0 = np.linalg.solve(phi.T @ phi / n + mu * np.eye(p), (theta @ phi.T @ phi / n).T).T
    loss0 = np.sum((hat0 - theta) ** 2 * lam, axis=1)
    assert abs(loss0.mean() - bias) < 4 * loss0.std() / math.sqrt(reps)


@pytest.mark.parametrize("n", [9, 2])  # Bartlett's decomposition (n >= p) and the plain product (n < p)
def test_gaussian_gram_has_the_wishart_moments(n):
    # E S = Lambda, Var S_ij = lam_i lam_j (1 + delta_ij) / n, and (n >= p + 2) E S^-1 = n Lambda^-1/(n - p - 1)
    rng = np.random.default_rng(1)
    lam, reps = np.array([0.5, 1.0, 2.0]), 20000
    grams = np.array([experiments._gaussian_gram(n, lam, rng) for _ in range(reps)])
    outer = lam[:, None] * lam[None, :]
    se = np.sqrt(outer * (1 + np.eye(3)) / n / reps)
    assert np.all(np.abs(grams.mean(axis=0) - np.diag(lam)) < 4.5 * se)
    assert np.allclose(grams.var(axis=0), outer * (1 + np.eye(3)) / n, rtol=0.08)
    if n >= 5:
        inv = np.linalg.inv(grams)
        expected = n / (n - 4) / lam
        assert np.allclose(np.diagonal(inv, axis1=1, axis2=2).mean(axis=0), expected, rtol=0.05)


# --------------------------------------------------------------------------------------------------
# section 2: the ridge bound, B >= (mu^2/p) sum_j lam_j / (S_jj + mu)^2, for any spectrum, n and p
# --------------------------------------------------------------------------------------------------


def test_ridge_bias_never_falls_below_the_diagonal_bound():
    rng = np.random.default_rng(2)
    checked = 0
    for kappa, gamma in (Q_HALF, Q_ONE, Q_BIG):
        for form in ("direct", "inverse"):
            for n, p in ((40, 10), (30, 30), (20, 60)):  # p < n, p = n, p > n
                x = htmp.ppf((np.arange(p) + 0.5) / p, gamma, kappa)
                lam = x if form == "direct" else 1 / x
                s = experiments._gaussian_gram(n, lam, rng)
                for mu in (1.0, 1e-2, 1e-4, 1e-6):
                    bias, _ = experiments.ridge_exact_error(s, n, lam, mu, 0.0)
                    bound = mu**2 / p * np.sum(lam / (np.diag(s) + mu) ** 2)
                    assert bias >= bound * (1 - 1e-9)
                    checked += 1
    assert checked == 72


def test_ridge_bias_over_mu_squared_stays_bounded_below_so_the_claimed_rate_is_impossible():
    # on one instance, as mu -> 0, bias/mu^2 tends to a positive constant while bias/mu^(2+q) blows up
    kappa, gamma = Q_HALF
    rng = np.random.default_rng(3)
    n, p = 400, 40
    lam = htmp.ppf((np.arange(p) + 0.5) / p, gamma, kappa)
    s = experiments._gaussian_gram(n, lam, rng)
    mus = np.array([1e-3, 1e-5, 1e-7, 1e-9])
    ratio = np.array([experiments.ridge_exact_error(s, n, lam, mu, 0.0)[0] for mu in mus]) / mus**2
    floor = np.sum(lam / (np.diag(s) + 1e-3) ** 2) / p
    assert np.all(ratio >= floor * (1 - 1e-9)) and floor > 0
    assert ratio[-1] == pytest.approx(ratio[-2], rel=1e-3)  # converged: bias ~ C mu^2
    assert ratio[-1] * mus[-1] ** -q_of(kappa, gamma) > 1e3 * ratio[0] * mus[0] ** -q_of(kappa, gamma)


# --------------------------------------------------------------------------------------------------
# section 3: spectral facts and the bias integral I(m) = ∫ lam/(lam + m)^2 rho(lam) d lam as m -> 0
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kappa, gamma, x", [(*Q_HALF, 1e-12), (*Q_ONE, 1e-12), (*Q_BIG, 1e-12), (0.5, 0.5, 1e-24)]
)
def test_direct_form_edge_constant(kappa, gamma, x):
    q = q_of(kappa, gamma)
    assert htmp.pdf(x, gamma, kappa) == pytest.approx(c0_of(kappa, gamma) * x ** (q - 1), rel=1e-5)
    assert math.exp(experiments._log_edge_constant(kappa, gamma)) == pytest.approx(
        c0_of(kappa, gamma), rel=1e-12
    )


def test_closed_form_integral_matches_the_law():
    # the mpmath closed form of I(m) against direct quadrature of the package's density (independent routes)
    from scipy import integrate

    kappa, gamma, m = *Q_BIG, 0.05
    direct = integrate.quad(lambda x: x / (x + m) ** 2 * htmp.pdf(x, gamma, kappa), 0, 40, limit=200)[0]
    assert bias_integral(m, kappa, gamma) == pytest.approx(direct, rel=1e-7)
    with mp.workdps(30):
        assert float(h_mp(mp.mpf(1e-12), kappa, gamma)) == pytest.approx(mean_inverse(kappa, gamma), rel=1e-9)


def test_bias_integral_small_m_asymptotics():
    # q < 1: I(m) ~ c0 (pi q / sin(pi q)) m^(q-1), relative error shrinking like m^min(q, 1-q)
    kappa, gamma = Q_HALF
    q, c0 = q_of(kappa, gamma), c0_of(kappa, gamma)
    errs = [abs(bias_integral(m, kappa, gamma) / (c0 * math.pi * q / math.sin(math.pi * q) * m ** (q - 1)) - 1)
            for m in (1e-4, 1e-8)]  # fmt: skip
    assert errs[1] < 0.02 and errs[1] < errs[0] / 10
    # q = 1: I(m) = c0 log(1/m) + O(1)
    kappa, gamma = Q_ONE
    i6, i10 = bias_integral(1e-6, *Q_ONE), bias_integral(1e-10, *Q_ONE)
    assert (i10 - i6) / math.log(1e4) == pytest.approx(c0_of(kappa, gamma), rel=1e-3)
    # q > 1: I(m) -> E[1/x] = s/(q - 1)
    assert bias_integral(1e-8, *Q_BIG) == pytest.approx(mean_inverse(*Q_BIG), rel=1e-5)
    # section 6: the bias for a target theta* ~ N(0, Lambda), ∫ x^2/(x + m)^2 rho = 1 - 2 m H - m^2 H', tends to 1
    # (times mu^2): the substitution x = m t would give m^q, but its integral diverges
    kappa, gamma = Q_HALF
    with mp.workdps(30):
        m = mp.mpf(1e-8)
        k_m = float(1 - 2 * m * h_mp(m, kappa, gamma) - m**2 * mp.diff(lambda t: h_mp(t, kappa, gamma), m))
    assert k_m == pytest.approx(1.0, abs=1e-3)
    # inverse form: I_inv(m) = m^-2 I(1/m) -> E[x] = 1 whatever kappa, gamma
    for kappa, gamma in (Q_HALF, Q_ONE, Q_BIG):
        assert bias_integral(1e6, kappa, gamma) * 1e12 == pytest.approx(1.0, rel=1e-4)


@pytest.mark.parametrize("kappa, gamma", [Q_HALF, Q_ONE, Q_BIG, (0.5, 0.3255)])
def test_htmp_quadrature_reproduces_the_closed_form(kappa, gamma):
    for form in ("direct", "inverse"):
        lam, w = experiments._htmp_quadrature(kappa, gamma, form)
        assert w.sum() == pytest.approx(1.0, abs=1e-10)
        for m in (1e-6, 1e-2, 1.0):
            got = np.sum(w * lam / (lam + m) ** 2)
            # inverse form: lam = 1/x, so lam/(lam + m)^2 = x/(1 + m x)^2 and the integral is m^-2 I(1/m)
            truth = (
                bias_integral(m, kappa, gamma)
                if form == "direct"
                else bias_integral(1 / m, kappa, gamma) / m**2
            )
            assert got == pytest.approx(truth, rel=1e-7)
    lam, w = experiments._htmp_quadrature(kappa, gamma, "direct")
    assert np.sum(w * lam) == pytest.approx(1.0, rel=1e-9)


# --------------------------------------------------------------------------------------------------
# sections 4-5: fixed d and p/n -> c, the deterministic equivalent against simulation, and its limits
# --------------------------------------------------------------------------------------------------


def _mean_exact_error(n, lam, mu, sigma, reps, rng):
    errs = [sum(experiments.ridge_exact_error(experiments._gaussian_gram(n, lam, rng), n, lam, mu, sigma))
            for _ in range(reps)]  # fmt: skip
    return float(np.mean(errs)), float(np.std(errs) / math.sqrt(reps))


@pytest.mark.parametrize(
    "kappa, gamma, form, p, n, sigma",
    [
        (*Q_HALF, "direct", 200, 400, 0.0),  # c = 1/2, the setup of the experiment (denser)
        (*Q_HALF, "direct", 200, 400, 0.5),  # with noise: variance sigma^2 D2/(1 - D2)
        (*Q_BIG, "inverse", 100, 400, 0.0),
        (*Q_ONE, "direct", 300, 150, 0.0),  # p > n: c = 2
    ],
)
def test_ridge_equivalent_matches_simulation(kappa, gamma, form, p, n, sigma):
    rng = np.random.default_rng(4)
    x = htmp.ppf((np.arange(p) + 0.5) / p, gamma, kappa)
    lam = x if form == "direct" else 1 / x
    for mu in (0.1, 0.01):
        mean, se = _mean_exact_error(n, lam, mu, sigma, 6, rng)
        bias, var, _ = experiments.ridge_equivalent(lam, np.full(p, 1 / p), p / n, mu, sigma)
        # the equivalent is exact as n, p -> infinity; at these sizes it is within about 1.5%
        assert abs(mean - (bias + var)) < 4 * se + 0.03 * mean


def test_fixed_d_limit_is_mu_squared_mean_inverse_plus_sigma_squared_d_over_n():
    # d fixed, n large: L = mu^2 (1/d) sum 1/lam (1 + O(mu)) + sigma^2 d/(n - d - 1) (the OLS variance)
    rng = np.random.default_rng(5)
    d, n, mu, sigma = 5, 20000, 1e-4, 0.3
    lam = 1 / htmp.ppf((np.arange(d) + 0.5) / d, 0.5, 2.0)
    mean, se = _mean_exact_error(n, lam, mu, sigma, 40, rng)
    assert mean == pytest.approx(
        mu**2 * np.mean(1 / lam) + sigma**2 * d / (n - d - 1), abs=4 * se + 1e-3 * mean
    )


def test_ridge_equivalent_small_mu_limits():
    c, sigma = 0.25, 0.5
    for (kappa, gamma), form in ((Q_HALF, "direct"), (Q_BIG, "direct"), (Q_HALF, "inverse")):
        lam, w = experiments._htmp_quadrature(kappa, gamma, form)
        q = q_of(kappa, gamma)
        mu = 1e-10
        bias, var, m = experiments.ridge_equivalent(lam, w, c, mu, sigma)
        assert m * (1 - c) / mu == pytest.approx(1.0, rel=1e-3)
        assert var == pytest.approx(sigma**2 * c / (1 - c), rel=1e-3)  # the variance does not vanish
        if form == "inverse":
            limit = mu**2 / (1 - c) ** 3  # E[1/Lambda] = E[x] = 1
        elif q < 1:
            limit = (
                c0_of(kappa, gamma) * math.pi * q / math.sin(math.pi * q) * mu ** (1 + q) / (1 - c) ** (2 + q)
            )
        else:
            limit = mu**2 * mean_inverse(kappa, gamma) / (1 - c) ** 3
        assert bias == pytest.approx(limit, rel=2e-2)
    # p > n: the bias tends to a positive constant (interpolation), the error does not vanish
    lam, w = experiments._htmp_quadrature(*Q_HALF, "direct")
    b1 = experiments.ridge_equivalent(lam, w, 2.0, 1e-8, 0.0)[0]
    b2 = experiments.ridge_equivalent(lam, w, 2.0, 1e-12, 0.0)[0]
    assert b1 > 0.01 and b2 == pytest.approx(b1, rel=1e-3)


def _equivalent_slope(kappa, gamma, ell, setup, form, sigma, n, c=0.1, d=50):
    # p/n = c: the population law; fixed d: the law's d quantiles (a finite d has a smallest eigenvalue)
    if setup == "proportional":
        lam, w = experiments._htmp_quadrature(kappa, gamma, form)
    else:
        x = htmp.ppf((np.arange(d) + 0.5) / d, gamma, kappa)
        lam, w = (x if form == "direct" else 1 / x), np.full(d, 1 / d)

    def err(nn):
        b, v, _ = experiments.ridge_equivalent(
            lam, w, c if setup == "proportional" else d / nn, nn**-ell, sigma
        )
        return b + v

    return math.log(err(n * 1.01) / err(n / 1.01)) / math.log(1.01**2)


@pytest.mark.parametrize(
    "kappa, gamma, ell, setup, form, sigma",
    [
        (*Q_HALF, 0.6, "proportional", "direct", 0.0),  # -ell (1 + q)
        (0.5, 0.3255, 0.75, "proportional", "direct", 0.0),  # q = 0.52
        (*Q_BIG, 0.5, "proportional", "direct", 0.0),  # -2 ell
        (*Q_HALF, 0.6, "proportional", "inverse", 0.0),  # -2 ell
        (*Q_HALF, 0.6, "proportional", "direct", 0.1),  # 0: the noise floor
        (*Q_HALF, 0.6, "fixed_d", "inverse", 0.1),  # -min(2 ell, 1)
        (*Q_HALF, 0.3, "fixed_d", "direct", 0.1),  # -min(2 ell, 1) = -0.6
        (*Q_BIG, 0.5, "fixed_d", "inverse", 0.0),  # -2 ell
    ],
)
def test_derived_slope_is_the_limit_of_the_equivalent(kappa, gamma, ell, setup, form, sigma):
    derived = experiments.derived_slope(kappa, gamma, ell, setup, form, sigma)
    assert _equivalent_slope(kappa, gamma, ell, setup, form, sigma, 1e20) == pytest.approx(derived, abs=0.02)


def test_derived_slope_at_q_one_is_approached_logarithmically():
    # q = 1: L ~ mu^2 log(1/mu), local slope -2 ell + ell/log(1/mu): still 0.05 off at n = 1e16
    derived = experiments.derived_slope(*Q_ONE, 0.5, "proportional", "direct", 0.0)
    assert derived == pytest.approx(-1.0)
    s8, s16 = (_equivalent_slope(*Q_ONE, 0.5, "proportional", "direct", 0.0, n) for n in (1e8, 1e16))
    assert derived < s16 < s8
    assert s16 - derived == pytest.approx(0.5 / math.log(1e8), rel=0.35)


def test_derived_slope_rejects_unknown_setups():
    with pytest.raises(ValueError, match="setup"):
        experiments.derived_slope(1.0, 0.5, 0.5, "growing", "direct", 0.0)
    with pytest.raises(ValueError, match="form"):
        experiments.derived_slope(1.0, 0.5, 0.5, "fixed_d", "both", 0.0)


# --------------------------------------------------------------------------------------------------
# the experiment and its local slopes
# --------------------------------------------------------------------------------------------------


def test_local_slope_interval_covers_at_the_nominal_rate():
    # errors lognormal around an exact power law n^-1.3 (6 draws per n): the 95% interval of the secant slope
    # should cover -1.3 in about 95% of 400 replicates (the delta method and Welch's t are approximate: the
    # acceptance band [0.90, 0.99] has a false-alarm rate below 1e-3 at a true coverage of 0.95)
    rng = np.random.default_rng(6)
    covered = 0
    for _ in range(400):
        rows = [{"n": n, "error": 2.0 * n**-1.3 * math.exp(0.1 * rng.standard_normal())}
                for n in (400, 800) for _ in range(6)]  # fmt: skip
        df = pd.DataFrame(rows)
        s, lo, hi = experiments._secant_slope(400, df.loc[df.n == 400, "error"].to_numpy(),
                                         800, df.loc[df.n == 800, "error"].to_numpy())  # fmt: skip
        covered += lo <= -1.3 <= hi
        assert lo < s < hi
    assert 0.90 <= covered / 400 <= 0.99


def test_scaling_experiment_layout_determinism_and_errors():
    kw = dict(ratio=0.25, d=6, sigma=0.1, spectrum="quantiles")
    a = experiments.scaling_experiment([(1.0, 0.5, 0.5)], (20, 40, 80), 2, np.random.default_rng(3), **kw)
    b = experiments.scaling_experiment([(1.0, 0.5, 0.5)], (20, 40, 80), 2, np.random.default_rng(3), **kw)
    pd.testing.assert_frame_equal(a, b)
    assert list(a.columns) == ["setup", "form", "spectrum", "setup_label", "kappa", "gamma", "ell", "ratio", "n",
                               "p", "draw", "sigma", "mu", "error", "bias", "variance", "lambda_min", "lambda_max"]  # fmt: skip
    assert len(a) == 2 * 3 * 2
    np.testing.assert_allclose(a["error"], a["bias"] + a["variance"])
    prop, fixed = a[a.setup == "proportional"], a[a.setup == "fixed_d"]
    assert (
        (prop["p"] == prop["n"] // 4).all()
        and (prop["sigma"] == 0).all()
        and (prop["form"] == "direct").all()
    )
    assert (fixed["p"] == 6).all() and (fixed["sigma"] == 0.1).all() and (fixed["form"] == "inverse").all()
    assert set(a["setup_label"]) == {"p = 0.25·n, direct form, σ = 0", "fixed d = 6, inverse form, σ = 0.1"}
    # quantile spectra: the direct form's smallest eigenvalue is the law's 1/(2p) quantile
    assert prop.loc[prop.n == 80, "lambda_min"].iloc[0] == pytest.approx(float(htmp.ppf(1 / 40, 0.5, 1.0)))
    ens = experiments.scaling_experiment(
        [(1.0, 0.5, 0.5)], (20, 40, 80), 2, np.random.default_rng(3), **(SETUP | {"spectrum": "ensemble"})
    )
    assert ens.groupby(["setup", "n"])["lambda_min"].nunique().eq(2).all()  # a fresh draw each time
    for bad, match in [
        (dict(grid=[(2.0, 0.5, 1.5)]), "ell"),
        (dict(grid=[(2.0, 1.5, 0.5)]), "gamma"),
        (dict(ns=(20, 40)), "ns"),
        (dict(draws=1), "draws"),
        (dict(ratio=1.0), "ratio"),
        (dict(ratio=0.01), "ratio"),
        (dict(spectrum="flat"), "spectrum"),
    ]:
        args = (
            dict(grid=[(2.0, 0.5, 0.5)], ns=(20, 40, 80), draws=2, rng=np.random.default_rng(0)) | SETUP | bad
        )
        with pytest.raises(ValueError, match=match):
            experiments.scaling_experiment(**args)


def test_scaling_exponents_on_the_real_experiment():
    raw = experiments.scaling_experiment([(1.0, 0.5, 0.9), (5.5, 0.3255, 0.5)], (200, 400, 800), 3,
                                         np.random.default_rng(7), **SETUP)  # fmt: skip
    res = experiments.scaling_exponents(raw, n_max_theory=1e6, points=6)
    sim, th = res[res.kind == "simulation"], res[res.kind == "theory"]
    assert len(sim) == 2 * 2 * 2 and len(th) == 2 * 2 * 6
    assert th["n"].max() == pytest.approx(1e6)
    assert th["agrees_theory"].isna().all() and sim["agrees_theory"].notna().all()
    # the measurement agrees with the derivation at finite n (one miss allowed of 8: 95% intervals)
    assert sim["agrees_theory"].astype(bool).sum() >= 7
    row = sim[(sim.setup == "proportional") & (sim.kappa == 1.0)].iloc[-1]
    assert row["derived_slope"] == pytest.approx(-0.9 * 1.5)
    assert row["claimed_slope"] == pytest.approx(-0.9 * 2.5) and row["bound_slope"] == pytest.approx(-1.8)
    assert row["n_lo"] == 400 and row["n_hi"] == 800 and row["n"] == pytest.approx(math.sqrt(400 * 800))
    assert (sim.loc[sim.setup == "fixed_d", "derived_slope"] == -1.0).all()
    # asymptotic flags follow the tolerance on the theory slope
    np.testing.assert_array_equal(
        res["asymptotic"], (res["theory_slope"] - res["derived_slope"]).abs() <= experiments.ASYMPTOTIC_TOL
    )
    # the bound -2 ell is on the n -> infinity exponent: near n = d the fixed-d variance sigma^2 d/(n - d - 1)
    # falls faster than 1/n, so a finite-n local slope may be steeper than -2 ell (here it is)...
    fixed = sim[sim.setup == "fixed_d"]
    assert (fixed["slope_hi"] < fixed["bound_slope"]).any()
    # ... and the derivation's finite-n slope says so too; no measured slope comes near the claimed one
    assert (fixed["theory_slope"] < fixed["bound_slope"]).any()
    assert (sim["slope_lo"] > sim["claimed_slope"] + 0.3).all()


# --------------------------------------------------------------------------------------------------
# the verdict (htmu.study.claims.scaling_verdict)
# --------------------------------------------------------------------------------------------------


def _exponents(slope, lo, hi, derived, claimed, asymptotic=True, n=3):
    rows = []
    for i in range(n):
        rows.append({"kind": "simulation", "setup_label": "S", "kappa": 1.0 + i, "gamma": 0.5, "ell": 0.5,
                     "n": 4525.0, "n_lo": 3200, "n_hi": 6400, "slope": slope, "slope_lo": lo, "slope_hi": hi,
                     "theory_slope": derived, "derived_slope": derived, "claimed_slope": claimed,
                     "bound_slope": -1.0, "asymptotic": asymptotic})  # fmt: skip
    return pd.DataFrame(rows)


def test_scaling_verdict_rules():
    # no regime gives the claimed exponent: not testable as stated, whatever the measurement
    verdict, ours, details = claims.scaling_verdict(_exponents(-0.9, -0.95, -0.85, -0.9, -1.5))
    assert verdict == "not testable as stated"
    assert details.startswith("No regime gives the claimed exponent") and "3/3 cases" in details
    assert "[S]" in ours and "claimed -1.50" in ours and "3/3 cases" in ours
    # where the derivation gives the claimed exponent and the regime is asymptotic: the majority rule decides
    assert claims.scaling_verdict(_exponents(-1.5, -1.6, -1.4, -1.5, -1.5, n=6))[0] == "reproduced"
    assert claims.scaling_verdict(_exponents(-1.0, -1.1, -0.9, -1.5, -1.5, n=6))[0] == "not reproduced"
    # ... but never from a window before the asymptotic regime
    verdict, _, details = claims.scaling_verdict(_exponents(-1.5, -1.6, -1.4, -1.5, -1.5, asymptotic=False))
    assert verdict == "inconclusive" and "a slope before it is not a verdict" in details
    # only the largest-n slope of a case counts
    early = _exponents(-1.5, -1.6, -1.4, -1.5, -1.5, n=6).assign(
        n=100.0, slope=-9.0, slope_lo=-9.1, slope_hi=-8.9
    )
    both = pd.concat([early, _exponents(-1.5, -1.6, -1.4, -1.5, -1.5, n=6)])
    assert claims.scaling_verdict(both)[0] == "reproduced"
    # asymptotic read back from a CSV as strings
    assert claims.scaling_verdict(_exponents(-1.5, -1.6, -1.4, -1.5, -1.5, "True", n=6))[0] == "reproduced"
    assert claims.scaling_verdict(None)[0] == "not run"
    assert claims.scaling_verdict(_exponents(-1, -1, -1, -1, -1).drop(columns="bound_slope"))[0] == "not run"
    assert claims.scaling_verdict(_exponents(-1, -1, -1, -1, -1).assign(kind="theory"))[0] == "not run"
