"""Tests of htmu.scorecard: verdict rules on constructed cases, helpers against closed forms, RST output."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from htmu import scorecard as sc

BASE = {
    "dataset": "cifar10",
    "arch": "minialexnet",
    "stage": "final",
    "epoch": 200,
    "matrix": "weight",
    "layer": "fc1",
    "gamma": 0.3255,
    "n_eigs": 1000,
    "kappa_lo": math.nan,
    "kappa_hi": math.nan,
    "scale": 1.0,
    "ks": 0.02,
    "alpha_tail": math.nan,
    "alpha_tail_se": math.nan,
    "xmin": math.nan,
    "test_acc": 0.6,
    "train_status": "ok",
}


def sweep_fits(kappa_of_batch, batches=(1000, 800, 250, 100, 50), seeds=(0, 1, 2), status_of_batch=None):
    """Two rows (direct, inverse) per spectrum; the inverse form has the larger likelihood and carries κ."""
    rows = []
    for b in batches:
        for s in seeds:
            k = kappa_of_batch(b, s)
            status = status_of_batch(b) if status_of_batch else "ok"
            pref = "MP" if math.isinf(k) else ("HTMP" if status == "ok" else "")
            for form, ll in (("direct", -20.0), ("inverse", -10.0)):
                rows.append(
                    {
                        **BASE,
                        "batch_size": b,
                        "seed": s,
                        "form": form,
                        "kappa": k if form == "inverse" else 100.0,
                        "loglik": ll,
                        "status": status,
                        "preferred": pref,
                    }
                )
    return pd.DataFrame(rows)


def verdict(card: pd.DataFrame, prefix: str) -> str:
    rows = card[card["claim"].str.startswith(prefix)]
    assert len(rows) == 1, (prefix, card["claim"].tolist())
    return rows["verdict"].iloc[0]


# ------------------------------------------------------------------------------------------ helpers


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("MP", math.inf), "random-like / bulk+spikes (κ=∞)"),
        (("HTMP", 5.5), "bulk-decay"),  # the paper's Figure 2 bottom row: 5.5, 1.9, 1e-3
        (("HTMP", 1.9), "heavy-tailed"),
        (("HTMP", 1e-3), "rank-collapse"),
        (("HTMP", 4.0), "heavy-tailed"),
        (("HTMP", 0.1), "rank-collapse"),
        (("", math.nan, "rank_collapse"), "rank-collapse"),
        (("HTMP", 2.0, "ok", "diverged"), "diverged"),
        (("", math.nan, "diverged"), "diverged"),
        (("power_law", math.nan), "heavy-tailed"),
        (("", math.nan, "no_convergence"), "unfitted (no_convergence)"),
        ((None, pd.NA, None), "unfitted (no status)"),
    ],
)
def test_phase_label(args, expected):
    assert sc.phase_label(*args) == expected


def test_spearman_with_ci_matches_scipy_and_ranks_infinity_top():
    rng = np.random.default_rng(0)
    x = rng.normal(size=40)
    y = x + rng.normal(size=40)
    res = sc.spearman_with_ci(x, y, rng=np.random.default_rng(1), n_boot=500)
    assert res.rho == pytest.approx(stats.spearmanr(x, y).statistic)
    assert res.lo < res.rho < res.hi and res.status == "ok" and res.n == 40
    # κ = ∞ ranks like a value above every finite κ
    k = np.array([0.5, 2.0, np.inf, 5.0, np.inf, 1.0])
    b = np.array([5, 50, 1000, 250, 800, 100])
    res = sc.spearman_with_ci(b, k, rng=np.random.default_rng(2), n_boot=200)
    assert res.rho == pytest.approx(stats.spearmanr(b, np.where(np.isinf(k), 1e9, k)).statistic)


def test_spearman_with_ci_statuses_and_errors():
    rng = np.random.default_rng(0)
    assert sc.spearman_with_ci([1, 2], [3, 4], rng=rng).status == "too_few"
    assert sc.spearman_with_ci([1, 2, 3, 4], [5, 5, 5, 5], rng=rng).status == "constant"
    # NaN pairs are dropped first (theory.spearman_ci refuses NaN)
    res = sc.spearman_with_ci([1, 2, np.nan, 4, 5], [1, 2, 3, np.nan, 5], rng=rng)
    assert res.status == "ok" and res.n == 3 and res.rho == pytest.approx(1.0)
    with pytest.raises(ValueError, match="same length"):
        sc.spearman_with_ci([1, 2, 3], [1, 2], rng=rng)


def test_best_fits_prefers_ok_then_likelihood():
    fits = sweep_fits(lambda b, s: 2.0, batches=(100,), seeds=(0,))
    fits.loc[fits["form"] == "inverse", "status"] = "no_convergence"
    best = sc.best_fits(fits)
    assert len(best) == 1 and best["form"].iloc[0] == "direct"
    fits["status"] = "ok"
    assert sc.best_fits(fits)["form"].iloc[0] == "inverse"


# ------------------------------------------------------------------------------------------ verdict rules


def test_decreasing_kappa_with_batch_size_is_reproduced():
    paper = {1000: math.inf, 800: math.inf, 250: 5.5, 100: 2.3, 50: 0.5}
    card = sc.build_scorecard(sweep_fits(lambda b, s: paper[b] * (1 + 0.05 * s)), n_boot=500)
    assert list(card.columns) == list(sc.SCORECARD_COLUMNS)
    assert verdict(card, "κ falls as batch size falls") == "reproduced"
    assert verdict(card, "κ = ∞ (MP) for large batches") == "reproduced"  # 6/6 MP at 1000 and 800
    assert verdict(card, "small batches give heavy tails") == "reproduced"  # κ = 2.3 and 0.5
    ours = card.loc[card["claim"].str.startswith("κ falls"), "ours"].iloc[0]
    assert "1000: ∞" in ours and "250: 5.78" in ours


def test_increasing_kappa_with_batch_size_is_not_reproduced():
    card = sc.build_scorecard(sweep_fits(lambda b, s: 1000.0 / b + 0.01 * s), n_boot=500)
    assert verdict(card, "κ falls as batch size falls") == "not reproduced"
    assert verdict(card, "κ = ∞ (MP) for large batches") == "not reproduced"  # finite κ at 1000, 800
    assert verdict(card, "small batches give heavy tails") == "not reproduced"  # κ = 10, 20: bulk-decay


def test_noise_is_inconclusive():
    # κ ranks 4, 1, 3, 5, 2 over batches 1000..50: Σd² = 20, so Spearman's ρ = 0 exactly at seed level
    scrambled = {1000: 4.0, 800: 1.0, 250: 3.0, 100: 5.0, 50: 2.0}
    card = sc.build_scorecard(sweep_fits(lambda b, s: scrambled[b] + 0.01 * s), n_boot=500)
    row = card[card["claim"].str.startswith("κ falls")].iloc[0]
    assert row["verdict"] == "inconclusive" and "ρ = +0.00" in row["ours"]


def test_rank_collapse_counts_at_the_heavy_end():
    """Small batches that collapse (no κ) still support the trend and the small-batch claim."""
    card = sc.build_scorecard(
        sweep_fits(
            lambda b, s: math.inf if b >= 800 else (5.5 if b == 250 else math.nan),
            status_of_batch=lambda b: "rank_collapse" if b <= 100 else "ok",
        ),
        n_boot=500,
    )
    assert verdict(card, "κ falls as batch size falls") == "reproduced"
    assert verdict(card, "small batches give heavy tails") == "reproduced"


def test_largest_batch_used_when_none_reaches_800():
    card = sc.build_scorecard(sweep_fits(lambda b, s: math.inf if b == 64 else 3.0, batches=(64, 16, 4)))
    row = card[card["claim"].str.startswith("κ = ∞")].iloc[0]
    assert "at batch 64" in row["ours"] and row["verdict"] == "inconclusive"  # 3/3: Wilson lo 0.44


def test_all_missing_is_not_run():
    card = sc.build_scorecard(None)
    assert set(card["verdict"]) == {"not run"}
    assert card["details"].str.len().min() > 0
    assert len(card) >= 8
    card = sc.build_scorecard(pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), pd.DataFrame())
    assert set(card["verdict"]) == {"not run"}
    assert "fits lacks columns" in sc.build_scorecard(pd.DataFrame({"x": [1]}))["details"].iloc[0]


def test_ntk_claim():
    rows = []
    for arch in ("vgg11", "resnet9", "resnet18"):
        for stage in ("init", "final"):
            for form, ll in (("direct", -50.0), ("inverse", -10.0)):
                rows.append(
                    {**BASE, "arch": arch, "stage": stage, "matrix": "ntk", "layer": "all", "batch_size": 64,
                     "seed": 0, "form": form, "kappa": 3.0, "loglik": ll, "status": "ok", "preferred": "HTMP"}
                )  # fmt: skip
    fits = pd.DataFrame(rows)
    assert verdict(sc.build_scorecard(fits), "NTK near zero") == "reproduced"  # 6/6
    fits.loc[fits["form"] == "inverse", "loglik"] = -100.0
    assert verdict(sc.build_scorecard(fits), "NTK near zero") == "not reproduced"
    no_ntk = sc.build_scorecard(sweep_fits(lambda b, s: 2.0))
    assert verdict(no_ntk, "NTK near zero") == "not run"
    assert "no NTK rows" in no_ntk.loc[no_ntk["claim"].str.startswith("NTK"), "details"].iloc[0]


def test_ensemble_claim():
    ens = pd.DataFrame(
        {"gamma": 0.5, "kappa": 2.0, "draw": range(8), "ks_vs_htmp": 0.01, "kappa_hat": 2.0, "kappa_lo": 1.5,
         "kappa_hi": 2.5, "status": "ok"}
    )  # fmt: skip
    card = sc.build_scorecard(None, ensemble=ens)
    assert verdict(card, "the ensemble follows HTMP") == "reproduced"
    assert (
        "covers the true κ in 8/8"
        in card.loc[card["claim"].str.startswith("the ensemble"), "details"].iloc[0]
    )
    assert (
        verdict(sc.build_scorecard(None, ensemble=ens.assign(ks_vs_htmp=0.2)), "the ensemble")
        == "not reproduced"
    )


def test_estimator_claim():
    est = pd.DataFrame(
        {"n": [100, 1000, 10000], "bias": 0.0, "rel_bias": 0.0, "coverage": [0.94, 0.95, 0.95]}
    )
    good = est.assign(coverage_lo=[0.92, 0.93, 0.94], coverage_hi=[0.96, 0.97, 0.96])
    bad = est.assign(coverage_lo=[0.5, 0.6, 0.7], coverage_hi=[0.6, 0.7, 0.8])
    assert verdict(sc.build_scorecard(None, estimator=good), "κ estimator") == "inconclusive"  # 3/3: lo 0.44
    assert verdict(sc.build_scorecard(None, estimator=pd.concat([good] * 2)), "κ estimator") == "reproduced"
    assert (
        verdict(sc.build_scorecard(None, estimator=pd.concat([bad] * 2)), "κ estimator") == "not reproduced"
    )


def test_structure_claim():
    free = np.tile(np.linspace(0.1, 1.0, 5), 2)
    rows = pd.DataFrame(
        {"structure": ["block"] * 5 + ["toeplitz"] * 5, "param": range(10), "freedom": free,
         "kappa": 10 * free**2, "preferred": "HTMP", "status": "ok"}
    )  # fmt: skip
    assert verdict(sc.build_scorecard(None, structure=rows), "structure lowers κ") == "reproduced"
    flipped = rows.assign(kappa=10 / free)
    assert verdict(sc.build_scorecard(None, structure=flipped), "structure lowers κ") == "not reproduced"


def test_correlation_claim():
    """Covariance exponent α → input tail 1 + 1/α: the output tail exponent should fall as α grows."""
    a_in = np.repeat([0.0, 0.5, 1.0, 1.5, 2.0, 3.0], 2)
    with np.errstate(divide="ignore"):
        out = 1 + 1 / a_in + np.tile([0.0, 0.05], 6)
    rows = pd.DataFrame(
        {"alpha_in": a_in, "tail_alpha_out": out, "kappa": 2.0, "status": "ok", "tail_status": "ok"}
    )  # fmt: skip
    card = sc.build_scorecard(None, correlation=rows)
    assert verdict(card, "power law in") == "reproduced"
    details = card.loc[card["claim"] == "power law in, power law out", "details"].iloc[0]
    assert "2 rows excluded" in details  # the α = 0 control
    rows.loc[2, "tail_status"] = "too_few"
    card = sc.build_scorecard(None, correlation=rows)
    assert "3 rows excluded" in card.loc[card["claim"] == "power law in, power law out", "details"].iloc[0]
    flipped = rows.assign(tail_alpha_out=1 + a_in)
    assert verdict(sc.build_scorecard(None, correlation=flipped), "power law in") == "not reproduced"


def test_scaling_claim():
    # the claimed exponent exceeds the ridge bound in every case: the row says so, naming the setup
    sim = pd.DataFrame({"kind": "simulation", "setup_label": "p = 0.1·n, direct form, σ = 0", "kappa": [1.0, 5.5],
                        "gamma": [0.5, 0.3255], "ell": 0.5, "n": 4525.0, "n_lo": 3200, "n_hi": 6400,
                        "slope": [-0.74, -0.95], "slope_lo": [-0.76, -0.97], "slope_hi": [-0.72, -0.93],
                        "theory_slope": [-0.74, -0.94], "derived_slope": [-0.75, -1.0],
                        "claimed_slope": [-1.25, -3.85], "bound_slope": -1.0, "asymptotic": True})  # fmt: skip
    card = sc.build_scorecard(None, scaling=sim)
    assert verdict(card, "scaling exponent") == "not testable as stated"
    row = card[card["claim"].str.startswith("scaling")].iloc[0]
    assert "p = 0.1·n, direct form, σ = 0" in row["ours"] and "n^(−2ℓ)" in row["details"]
    # a table in the old layout (fitted slope over a window) is not a verdict
    old = pd.DataFrame({"kappa": [1.0], "gamma": [0.5], "ell": [0.5], "slope": [-1.2], "slope_lo": [-1.3],
                        "slope_hi": [-1.1], "predicted_slope": [-1.25], "agrees": [True]})  # fmt: skip
    assert verdict(sc.build_scorecard(None, scaling=old), "scaling exponent") == "not run"


def test_scorecard_is_deterministic_given_seed():
    fits = sweep_fits(lambda b, s: float(np.random.default_rng(b + s).lognormal()))
    a = sc.build_scorecard(fits, seed=3, n_boot=300)
    b = sc.build_scorecard(fits, seed=3, n_boot=300)
    pd.testing.assert_frame_equal(a, b)


# ------------------------------------------------------------------------------------------ RST


NASTY = [
    "*bold* and **strong**",
    "`code` and ``literal``",
    "ref_ and |sub| and [1]_",
    "- looks like a bullet",
    "1. looks enumerated",
    "#. auto enumerated",
    "iv) roman",
    "(a) parenthesised",
    ".. comment",
    "κ = 5.5 [4.4, 6.6]",
    "two\nlines",
    "back\\slash",
    ":field: value",
    "",
    "a <http://x> link",
]


def test_scorecard_rst_round_trips_through_docutils():
    docutils_core = pytest.importorskip("docutils.core")
    from docutils import nodes

    df = pd.DataFrame(
        {"claim": NASTY, "verdict": ["reproduced"] * len(NASTY), "ours": [math.nan] * len(NASTY)}
    )
    rst = sc.scorecard_rst(df)
    doc = docutils_core.publish_doctree(rst, settings_overrides={"report_level": 5, "halt_level": 5})
    assert not list(doc.findall(nodes.system_message))
    tables = list(doc.findall(nodes.table))
    assert len(tables) == 1
    rows = list(tables[0].findall(nodes.row))
    assert len(rows) == len(NASTY) + 1
    cells = [[entry.astext() for entry in row.findall(nodes.entry)] for row in rows]
    assert cells[0] == ["claim", "verdict", "ours"]
    for text, row in zip(NASTY, cells[1:], strict=True):
        assert row[0] == " ".join(text.split())
        assert row[1] == "reproduced" and row[2] == ""
    # no inline markup survived as markup (a bare URL may become a link: its text is unchanged)
    assert [r.astext() for r in doc.findall(nodes.reference)] == ["http://x"]
    for kind in (
        nodes.emphasis,
        nodes.strong,
        nodes.literal,
        nodes.bullet_list,
        nodes.enumerated_list,
        nodes.field_list,
        nodes.substitution_reference,
        nodes.footnote_reference,
    ):
        assert not list(doc.findall(kind)), kind  # fmt: skip


def test_scorecard_rst_of_real_scorecard():
    docutils_core = pytest.importorskip("docutils.core")
    from docutils import nodes

    card = sc.build_scorecard(
        sweep_fits(lambda b, s: {1000: math.inf, 800: math.inf}.get(b, 1000 / b)), n_boot=200
    )
    doc = docutils_core.publish_doctree(sc.scorecard_rst(card), settings_overrides={"report_level": 5})
    assert not list(doc.findall(nodes.system_message))
    rows = list(doc.findall(nodes.row))
    assert len(rows) == len(card) + 1
    assert [e.astext() for e in rows[1].findall(nodes.entry)] == [
        " ".join(str(v).split()) for v in card.iloc[0]
    ]


def test_scorecard_rst_rejects_no_columns():
    with pytest.raises(ValueError, match="column"):
        sc.scorecard_rst(pd.DataFrame())
