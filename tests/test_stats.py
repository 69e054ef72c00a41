"""htmu.stats: the helpers that replaced the copies in the estimators, the experiments and the spectra."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from htmu.stats import Z95, as_rng, ks_statistic


def test_z95_is_scipys_quantile_to_the_last_bit():
    assert Z95 == float(stats.norm.ppf(0.975))


def test_ks_statistic_is_scipys_kolmogorov_distance():
    rng = np.random.default_rng(3)
    for law, x in ((stats.expon(), rng.exponential(size=50)), (stats.norm(0.3, 1), rng.normal(size=400))):
        want = stats.kstest(x, law.cdf).statistic
        assert ks_statistic(law.cdf(x)) == pytest.approx(want, abs=1e-15)
        assert ks_statistic(law.cdf(x)[::-1]) == ks_statistic(law.cdf(x))  # any order


def test_ks_statistic_counts_censored_points_below():
    """n_below points known only to lie below every observed one: the empirical CDF starts at n_below/n, and the
    distance is taken over the observed points (on both sides of each jump), written out here point by point."""
    rng = np.random.default_rng(4)
    f = np.sort(rng.uniform(size=300))  # the uniform law's CDF at its own sample
    k, n = 40, 300
    want = max(max((i + 1) / n - f[i], f[i] - i / n) for i in range(k, n))
    assert ks_statistic(f[k:], n_below=k) == pytest.approx(want, abs=1e-15)
    assert ks_statistic(f[k:], n=n, n_below=k) == ks_statistic(f[k:], n_below=k)
    assert ks_statistic(f) == pytest.approx(
        max(max((i + 1) / n - f[i], f[i] - i / n) for i in range(n)), abs=1e-15
    )


def test_as_rng_semantics():
    g = np.random.default_rng(7)
    assert as_rng(g) is g
    assert as_rng(5).random() == np.random.default_rng(5).random()
    assert as_rng(np.int64(5)).random() == np.random.default_rng(5).random()
    assert as_rng(None, default_seed=0).random() == np.random.default_rng(0).random()
    for bad in (None, -1, 1.5, True, "0"):
        with pytest.raises(ValueError, match="rng must be"):
            as_rng(bad)
    with pytest.raises(ValueError, match=r"\(or None\)"):
        as_rng(-3, default_seed=0)
