"""Tests of the theory checks (htmu.study.experiments) against closed forms and samplers with known behaviour.

The experiments take their samplers and estimators as arguments; most tests inject small ones whose
answers are known exactly, so that each test checks the experiment's own bookkeeping and statistics.
The tests at the end run the experiments on the package's real law and estimator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from htmu.stats import ks_statistic, spearman_ci, wilson_interval
from htmu.study import experiments

# --------------------------------------------------------------------------------------------------
# injected fakes with known behaviour
# --------------------------------------------------------------------------------------------------


@dataclass
class _Fit:
    kappa: float
    kappa_ci: tuple[float, float] | None
    status: str = "ok"


@dataclass
class _PowerLaw:
    alpha: float
    xmin: float
    alpha_se: float
    n_tail: int
    ks: float = float("nan")
    status: str = "ok"


@dataclass
class _Selection:
    law: str
    phase: str
    kappa: float
    kappa_ci: tuple[float, float]
    form: str = "direct"
    n_spikes: int = 0
    alpha: float = float("nan")
    status: str = "ok"


def _moment_fit(eigs, gamma, form="direct", rng=None, ci=True):
    """Method of moments from Var x / (E x)^2 = gamma (1 + 2/kappa), interval +-10%."""
    x = np.asarray(eigs, dtype=float)
    if form == "inverse":
        x = 1.0 / x
    excess = x.var() / x.mean() ** 2 - gamma
    if excess <= 0:
        return _Fit(math.inf, None, "mp")
    k = 2.0 * gamma / excess
    return _Fit(k, (0.9 * k, 1.1 * k) if ci else None)


def _hill(eigs, xmin=None):
    """Hill estimator on the top 10%: alpha = 1 + k / sum log(x_i / x_min) (the CSN continuous MLE)."""
    x = np.sort(np.asarray(eigs, dtype=float))
    k = max(5, x.size // 10)
    tail = x[-k:]
    lo = tail[0]
    alpha = 1.0 + k / np.sum(np.log(tail / lo))
    return _PowerLaw(alpha=float(alpha), xmin=float(lo), alpha_se=float((alpha - 1) / math.sqrt(k)), n_tail=k)


def _select(eigs, gamma, rng=None, ci=True):
    """A selection from the direct-form moment fit: MP when its excess variance is not positive."""
    f = _moment_fit(eigs, gamma, "direct", rng, ci)
    if math.isinf(f.kappa):
        return _Selection("MP", "random-like", math.inf, (math.nan, math.inf))
    return _Selection("HTMP-direct", "heavy-tailed", f.kappa, f.kappa_ci or (math.nan, math.nan))


# --------------------------------------------------------------------------------------------------
# 6. spearman_ci
# --------------------------------------------------------------------------------------------------


def test_spearman_matches_scipy_with_ties_and_infinities():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 8, size=40).astype(float)  # many ties
    y = x + rng.normal(size=40)
    x[3] = np.inf
    rho, lo, hi, p = spearman_ci(x, y, np.random.default_rng(2), n_boot=500)
    ref = stats.spearmanr(x, y)
    assert rho == pytest.approx(ref.statistic, abs=1e-12)
    assert p == pytest.approx(ref.pvalue, rel=1e-9)
    assert lo < rho < hi
    assert -1.0 <= lo and hi <= 1.0


def test_spearman_perfectly_monotone_and_antitone():
    x = np.linspace(0.0, 3.0, 12)
    rho, lo, hi, p = spearman_ci(x, np.exp(x), np.random.default_rng(0), n_boot=200)
    assert (rho, lo, hi, p) == (1.0, 1.0, 1.0, 0.0)
    rho, lo, hi, p = spearman_ci(x, -(x**3), np.random.default_rng(0), n_boot=200)
    assert (rho, lo, hi, p) == (-1.0, -1.0, -1.0, 0.0)


def test_spearman_bootstrap_interval_is_calibrated_roughly():
    # For bivariate normal data with correlation r, Spearman's rho_s = (6/pi) asin(r/2); a 95%
    # bootstrap interval from m = 200 pairs should contain it (seeded, so deterministic).
    r = 0.6
    truth = 6.0 / math.pi * math.asin(r / 2.0)
    rng = np.random.default_rng(3)
    z = rng.multivariate_normal([0, 0], [[1, r], [r, 1]], size=200)
    rho, lo, hi, _ = spearman_ci(z[:, 0], z[:, 1], rng, n_boot=1000)
    assert lo < truth < hi
    assert hi - lo < 0.3


def test_spearman_deterministic_and_rejects_bad_input():
    x, y = np.arange(10.0), np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3.0])
    a = spearman_ci(x, y, np.random.default_rng(5))
    b = spearman_ci(x, y, np.random.default_rng(5))
    assert a == b
    with pytest.raises(ValueError, match="NaN"):
        spearman_ci([1, 2, np.nan], [1, 2, 3], np.random.default_rng(0))
    with pytest.raises(ValueError, match="same length"):
        spearman_ci([1, 2, 3], [1, 2], np.random.default_rng(0))
    with pytest.raises(ValueError, match="rng"):
        spearman_ci([1, 2, 3], [1, 2, 3], 0)


# --------------------------------------------------------------------------------------------------
# 1. ensemble_check
# --------------------------------------------------------------------------------------------------


def _gamma_sampler(n, gamma, kappa, rng):
    # A law with a known CDF stands in for the ensemble: Gamma(shape kappa, scale 1/kappa), mean 1.
    return rng.gamma(kappa, 1.0 / kappa, size=n)


def _gamma_cdf(x, gamma, kappa):
    return stats.gamma.cdf(x, kappa, scale=1.0 / kappa)


def test_ensemble_check_ks_matches_scipy_and_layout():
    grid = [(0.3, 2.0), (0.5, 5.0)]
    table, ds = experiments.ensemble_check(
        grid,
        n=150,
        draws=2,
        rng=np.random.default_rng(0),
        sampler=_gamma_sampler,
        fit=_moment_fit,
        cdf=_gamma_cdf,
    )
    assert list(table.columns) == [
        "gamma",
        "kappa",
        "draw",
        "n",
        "ks_vs_htmp",
        "kappa_hat",
        "kappa_lo",
        "kappa_hi",
        "status",
    ]
    assert len(table) == 4
    # Re-draw the same spectra and compare with scipy's one-sample KS statistic.
    rng = np.random.default_rng(0)
    for row in table.itertuples():
        eigs = _gamma_sampler(150, row.gamma, row.kappa, rng)
        assert row.ks_vs_htmp == pytest.approx(
            stats.kstest(eigs, _gamma_cdf, args=(row.gamma, row.kappa)).statistic, abs=1e-14
        )
    assert ds["eigenvalue"].dims == ("case", "k")
    assert ds["eigenvalue"].shape == (2, 300)
    np.testing.assert_array_equal(ds["gamma"].values, [0.3, 0.5])
    np.testing.assert_array_equal(ds["kappa"].values, [2.0, 5.0])
    assert np.all(np.diff(ds["eigenvalue"].values[0, :150]) >= 0)
    assert set(np.unique(ds["draw"].values)) == {0, 1}


def test_ensemble_check_is_deterministic_and_validates():
    kw = dict(n=50, draws=2, sampler=_gamma_sampler, fit=_moment_fit, cdf=_gamma_cdf)
    t1, d1 = experiments.ensemble_check([(0.4, 3.0)], rng=np.random.default_rng(9), **kw)
    t2, d2 = experiments.ensemble_check([(0.4, 3.0)], rng=np.random.default_rng(9), **kw)
    pd.testing.assert_frame_equal(t1, t2)
    assert d1.identical(d2)
    with pytest.raises(ValueError, match="gamma"):
        experiments.ensemble_check([(1.5, 3.0)], rng=np.random.default_rng(0), **kw)
    with pytest.raises(ValueError, match="rng"):
        experiments.ensemble_check([(0.4, 3.0)], rng=None, **kw)


# --------------------------------------------------------------------------------------------------
# 2. estimator_study / summarise_estimator / wilson_interval
# --------------------------------------------------------------------------------------------------


def test_wilson_interval_solves_its_quadratic():
    z = stats.norm.ppf(0.975)
    for k, m in [(7, 20), (1, 3), (45, 50), (0, 10), (10, 10)]:
        lo, hi = wilson_interval(k, m)
        p = k / m
        # (p - q)^2 = z^2 q (1 - q) / m  <=>  (1 + z^2/m) q^2 - (2p + z^2/m) q + p^2 = 0
        roots = np.sort(np.roots([1 + z * z / m, -(2 * p + z * z / m), p * p]).real)
        assert lo == pytest.approx(max(roots[0], 0.0), abs=1e-12)
        assert hi == pytest.approx(min(roots[1], 1.0), abs=1e-12)
    assert wilson_interval(0, 10) == pytest.approx((0.0, z * z / (10 + z * z)))
    assert wilson_interval(10, 10) == pytest.approx((10 / (10 + z * z), 1.0))
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(11, 10)


_Z80 = stats.norm.ppf(0.9)  # +-1.2816 sd covers 80%


def _normal_sampler(n, gamma, kappa, rng):
    return rng.standard_normal(n)


def _coverage80_fit(eigs, gamma, form="direct", rng=None, ci=True):
    """kappa_hat = 3 + 0.1 z with z = sqrt(n) mean(eigs) ~ N(0, 1) exactly; interval covers w.p. 0.8."""
    z = math.sqrt(eigs.size) * float(np.mean(eigs))
    k = 3.0 + 0.1 * z
    return _Fit(k, (k - 0.1 * _Z80, k + 0.1 * _Z80))


def test_estimator_study_coverage_summary_on_known_coverage():
    df = experiments.estimator_study(
        0.5,
        3.0,
        ns=(20, 40),
        draws=300,
        rng=np.random.default_rng(4),
        sampler=_normal_sampler,
        fit=_coverage80_fit,
    )
    assert list(df.columns) == [
        "gamma",
        "kappa",
        "form",
        "n",
        "draw",
        "kappa_hat",
        "lo",
        "hi",
        "covered",
        "status",
    ]
    assert len(df) == 600
    assert df["covered"].dtype == "boolean"
    summary = experiments.summarise_estimator(df)
    assert list(summary["n"]) == [20, 40]
    for row in summary.itertuples():
        k = int(df.loc[df["n"] == row.n, "covered"].sum())
        assert row.coverage == k / 300
        assert (row.coverage_lo, row.coverage_hi) == wilson_interval(k, 300)
        assert row.coverage_lo < 0.8 < row.coverage_hi
        # bias of 0.1 z over 300 draws: standard error 0.1/sqrt(300) = 0.0058
        assert abs(row.bias) < 4 * 0.1 / math.sqrt(300)
        assert row.relative_bias == pytest.approx(row.bias / 3.0)
        assert row.sd_kappa_hat == pytest.approx(0.1, rel=0.15)


def test_estimator_study_missing_intervals_and_determinism():
    def no_ci(eigs, gamma, form="direct", rng=None, ci=True):
        return _Fit(float("nan"), None, "failed")

    df = experiments.estimator_study(
        0.5, 3.0, ns=(20,), draws=3, rng=np.random.default_rng(0), sampler=_normal_sampler, fit=no_ci
    )
    assert df["covered"].isna().all()
    s = experiments.summarise_estimator(df)
    assert s.loc[0, "n_intervals"] == 0 and np.isnan(s.loc[0, "coverage"]) and np.isnan(s.loc[0, "bias"])
    kw = dict(ns=(20, 30), draws=4, sampler=_normal_sampler, fit=_coverage80_fit)
    a = experiments.estimator_study(0.5, 3.0, rng=np.random.default_rng(1), **kw)
    b = experiments.estimator_study(0.5, 3.0, rng=np.random.default_rng(1), **kw)
    pd.testing.assert_frame_equal(a, b)


# --------------------------------------------------------------------------------------------------
# 3. structure_experiment / structure_trend / eigenvector_freedom
# --------------------------------------------------------------------------------------------------


def test_eigenvector_freedom_closed_forms():
    n = 60
    dim = n * (n - 1) / 2
    assert experiments.eigenvector_freedom("haar", n) == 1.0
    assert experiments.eigenvector_freedom("fixed_eigenvectors", n) == 0.0
    assert experiments.eigenvector_freedom("block_diagonal", n, block_size=15) == pytest.approx(4 * 105 / dim)
    # 60 = 4 blocks of 14 + one of 4
    assert experiments.eigenvector_freedom("block_diagonal", n, block_size=14) == pytest.approx(
        (4 * 91 + 6) / dim
    )
    assert experiments.eigenvector_freedom("block_diagonal", n, block_size=n) == 1.0
    assert experiments.eigenvector_freedom("block_diagonal", n, block_size=1) == 0.0
    assert experiments.eigenvector_freedom("kronecker", n) == pytest.approx((6 * 5 / 2 + 10 * 9 / 2) / dim)
    with pytest.raises(ValueError, match="structure"):
        experiments.eigenvector_freedom("banded", n)
    with pytest.raises(ValueError, match="factor"):
        experiments.eigenvector_freedom("kronecker", n, factor=7)


def test_structure_experiment_layout_and_trend_with_moment_fit():
    kw = dict(block_counts=(2, 6), select=_select, tail=_hill)
    df = experiments.structure_experiment(120, 0.5, 2, np.random.default_rng(0), **kw)
    assert list(df["label"].unique()) == [
        "haar",
        "block_diagonal(k=2)",
        "block_diagonal(k=6)",
        "kronecker(10x12)",
        "fixed_eigenvectors",
    ]
    assert len(df) == 10
    for col in [
        "kappa_moments",
        "structure",
        "freedom",
        "form",
        "kappa",
        "kappa_lo",
        "kappa_hi",
        "status",
        "law",
        "phase",
        "n_spikes",
        "alpha",
        "tail_alpha",
        "tail_alpha_se",
        "tail_xmin",
        "tail_n",
    ]:
        assert col in df.columns
    assert (df["form"] == "direct").all()
    # the selection's κ: the moment fit's, or ∞ where it says MP
    for _, r in df.iterrows():
        assert r["kappa"] == (math.inf if r["law"] == "MP" else pytest.approx(r["kappa_moments"]))
    per = df.groupby("label", sort=False)["freedom"].first()
    assert per.is_monotonic_decreasing
    assert per["block_diagonal(k=6)"] == pytest.approx(
        experiments.eigenvector_freedom("block_diagonal", 120, block_size=20)
    )
    first = df.groupby("label", sort=False).first()
    assert first["block_size"].tolist() == [120, 60, 20, pd.NA, 1]
    assert first["n_blocks"].tolist() == [1, 2, 6, pd.NA, 120]
    assert df.loc[df["structure"] == "kronecker", "factor"].eq(10).all()
    trend = experiments.structure_trend(df, np.random.default_rng(1), n_boot=200)
    assert list(trend.columns) == ["x", "y", "rho", "lo", "hi", "p", "n_used", "n_dropped"]
    assert trend.loc[0, "n_used"] == 10
    df2 = experiments.structure_experiment(120, 0.5, 2, np.random.default_rng(0), **kw)
    pd.testing.assert_frame_equal(df, df2)


def test_kappa_moments_closed_form():
    # Var x = gamma (1 + 2/kappa) for a mean-1 law; a two-point law with the right variance recovers kappa.
    gamma, kappa = 0.4, 3.0
    v = gamma * (1 + 2 / kappa)
    x = np.array([1 - math.sqrt(v), 1 + math.sqrt(v)])
    assert experiments.kappa_moments(x, gamma) == pytest.approx(kappa)
    assert experiments.kappa_moments(5.0 * x, gamma) == pytest.approx(kappa)
    assert experiments.kappa_moments(np.ones(5), gamma) == math.inf


def test_structure_trend_drops_failed_fits_and_ranks_infinity():
    df = pd.DataFrame(
        {"freedom": [0.0, 0.1, 0.2, 0.5, 1.0, 1.0], "kappa": [0.5, 1.0, 2.0, np.nan, np.inf, np.inf]}
    )
    t = experiments.structure_trend(df, np.random.default_rng(0), n_boot=100)
    assert t.loc[0, "n_used"] == 5 and t.loc[0, "n_dropped"] == 1
    assert t.loc[0, "rho"] == pytest.approx(1.0)


# --------------------------------------------------------------------------------------------------
# 4. correlation_experiment
# --------------------------------------------------------------------------------------------------


def test_correlation_experiment_layout_and_power_law_in_power_law_out():
    df = experiments.correlation_experiment(
        200, 0.5, (0.0, 1.5), 2, np.random.default_rng(0), select=_select, tail=_hill
    )
    assert len(df) == 4
    for col in [
        "alpha_in",
        "tail_alpha_in_theory",
        "tail_alpha_in",
        "tail_alpha_out",
        "tail_alpha_out_lo",
        "tail_alpha_out_hi",
        "kappa",
        "kappa_lo",
        "kappa_hi",
        "form",
        "law",
        "law_in",
        "status",
    ]:
        assert col in df.columns
    assert np.isinf(df.loc[df["alpha_in"] == 0, "tail_alpha_in_theory"]).all()
    assert df.loc[df["alpha_in"] == 1.5, "tail_alpha_in_theory"].iloc[0] == pytest.approx(1 + 1 / 1.5)
    assert (df["tail_alpha_out_lo"] < df["tail_alpha_out"]).all()
    # A power-law input covariance gives a much heavier output tail than an isotropic one.
    heavy = df.loc[df["alpha_in"] == 1.5, "tail_alpha_out"].max()
    light = df.loc[df["alpha_in"] == 0.0, "tail_alpha_out"].min()
    assert heavy < 0.5 * light
    df2 = experiments.correlation_experiment(
        200, 0.5, (0.0, 1.5), 2, np.random.default_rng(0), select=_select, tail=_hill
    )
    pd.testing.assert_frame_equal(df, df2)
    with pytest.raises(ValueError, match="activation"):
        experiments.correlation_experiment(20, 0.5, (0.0,), 1, np.random.default_rng(0), activation="tanh")


# --------------------------------------------------------------------------------------------------
# 5. the scaling law: tests/test_scaling.py
# --------------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------------
# the experiments on the package's real ensemble, law and estimator (small sizes)
# --------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_ensemble_check_real_law_and_estimator():
    # Under the null, sqrt(n) D follows the Kolmogorov law: P(sqrt(n) D > 1.95) = 0.001. The finite-n
    # ensemble differs from the limit law by O(1/n), far below that threshold at n = 400.
    table, ds = experiments.ensemble_check([(0.5, 2.0)], n=400, draws=1, rng=np.random.default_rng(0))
    row = table.iloc[0]
    assert row["ks_vs_htmp"] < 1.95 / math.sqrt(400)
    assert row["status"].startswith("ok")
    assert row["kappa_lo"] < row["kappa_hat"] < row["kappa_hi"]
    assert 1.0 < row["kappa_hat"] < 4.0
    # the same spectrum is far from the kappa = inf member (Marchenko-Pastur): the check can fail
    from htmu.laws import marchenko_pastur

    x = ds["eigenvalue"].values[0]
    ks_wrong = ks_statistic(marchenko_pastur.cdf(x, 0.5))
    assert ks_wrong > 3 * row["ks_vs_htmp"]


@pytest.mark.slow
def test_structure_and_correlation_real_small():
    df = experiments.structure_experiment(60, 0.5, 1, np.random.default_rng(0), block_counts=(6,))
    assert len(df) == 4 and df["law"].isin(["MP", "MP+spikes", "HTMP-direct", "HTMP-inverse"]).all()
    # the fixed-eigenvector spectrum is iid Gamma: far heavier than MP, so an HTMP law with finite kappa
    fixed = df.loc[df["structure"] == "fixed_eigenvectors"].iloc[0]
    assert fixed["status"] == "ok" and fixed["law"].startswith("HTMP") and np.isfinite(fixed["kappa"])
    cor = experiments.correlation_experiment(60, 0.5, (1.0,), 1, np.random.default_rng(0))
    assert len(cor) == 1 and cor["law"].isin(["MP", "MP+spikes", "HTMP-direct", "HTMP-inverse"]).all()
    assert (cor["status"] == "ok").all() and cor["tail_alpha_out"].notna().all()
