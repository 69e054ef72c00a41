"""Tests of htmu.study.claims: verdict rules on constructed cases, helpers against closed forms, RST output."""

from __future__ import annotations

import math
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from htmu.stats import spearman_with_ci
from htmu.study import claims

BASE = {
    "dataset": "cifar10",
    "arch": "minialexnet",
    "stage": "final",
    "epoch": 200,
    "matrix": "weight",
    "layer": "fc1",
    "gamma": 0.3255,
    "n_eigs": 1000,
    "scale": 1.0,
    "ks": 0.02,
    "test_acc": 0.6,
    "train_status": "ok",
}
GAMMA = BASE["gamma"]


def selection(kappa: float) -> dict:
    """The selection columns a spectrum of this κ gets (κ = ∞: MP; NaN: rank collapse without an estimate)."""
    from htmu.fit.selection import phase_of, tail_exponent

    if math.isinf(kappa):
        return {"law": "MP", "phase": "random-like", "law_kappa": math.inf, "alpha": math.inf}
    if math.isnan(kappa):
        return {"law": "HTMP-direct", "phase": "rank-collapse", "law_kappa": math.nan, "alpha": math.nan}
    return {"law": "HTMP-inverse", "phase": phase_of(kappa, GAMMA), "law_kappa": kappa,
            "alpha": tail_exponent(kappa, GAMMA)}  # fmt: skip


def sweep_fits(kappa_of_batch, batches=(1000, 800, 250, 100, 50), seeds=(0, 1, 2), train_of_batch=None,
               arch="minialexnet", acc_of=None):  # fmt: skip
    """Two rows (direct, inverse) per spectrum as pipeline.fit_rows writes them; the selection reports κ of the
    inverse form (the direct row for MP laws and at rank collapse)."""
    rows = []
    for b in batches:
        for s in seeds:
            k = kappa_of_batch(b, s)
            train = train_of_batch(b) if train_of_batch else "ok"
            sel = selection(k)
            chosen = "direct" if sel["law"] in ("MP", "HTMP-direct") else "inverse"
            for form in ("direct", "inverse"):
                rows.append({**BASE, **sel, "arch": arch, "batch_size": b, "seed": s, "form": form,
                             "selected": form == chosen, "law_status": "ok", "train_status": train,
                             "kappa": k if form == "inverse" else 100.0, "status": "ok",
                             "test_acc": acc_of(b, s) if acc_of else 0.6})  # fmt: skip
    return pd.DataFrame(rows)


def verdict(card: pd.DataFrame, prefix: str) -> str:
    return row_of(card, prefix)["verdict"]


def row_of(card: pd.DataFrame, prefix: str) -> pd.Series:
    rows = card[card["claim"].str.startswith(prefix)]
    assert len(rows) == 1, (prefix, card["claim"].tolist())
    return rows.iloc[0]


# ------------------------------------------------------------------------------------------ helpers


def test_spectrum_rows_and_kappa_rank():
    fits = sweep_fits(
        lambda b, s: {1000: math.inf, 800: 5.5, 250: 1.9, 100: math.nan, 50: 2.0}[b], seeds=(0,)
    )
    no_law = fits["batch_size"] == 50
    fits.loc[no_law, ["law", "phase", "law_status"]] = ["", "", "diverged"]
    fits.loc[no_law, "selected"] = fits.loc[no_law, "form"] == "direct"
    rows = claims.spectrum_rows(fits.astype({"selected": str}))  # a CSV round trip with NA leaves strings
    assert list(rows["batch_size"]) == [1000, 800, 250, 100, 50]
    assert list(rows["form"]) == ["direct", "inverse", "inverse", "direct", "direct"]
    # MP → inf; HTMP → its κ; rank-collapse phase → 0; no law → NaN
    np.testing.assert_array_equal(claims.kappa_rank(rows), [math.inf, 5.5, 1.9, 0.0, math.nan])
    with pytest.raises(ValueError, match="selected"):
        claims.spectrum_rows(fits.drop(columns="selected"))


def test_spearman_with_ci_matches_scipy_and_ranks_infinity_top():
    rng = np.random.default_rng(0)
    x = rng.normal(size=40)
    y = x + rng.normal(size=40)
    res = spearman_with_ci(x, y, rng=np.random.default_rng(1), n_boot=500)
    assert res.rho == pytest.approx(stats.spearmanr(x, y).statistic)
    assert res.lo < res.rho < res.hi and res.status == "ok" and res.n == 40
    # κ = ∞ ranks like a value above every finite κ
    k = np.array([0.5, 2.0, np.inf, 5.0, np.inf, 1.0])
    b = np.array([5, 50, 1000, 250, 800, 100])
    res = spearman_with_ci(b, k, rng=np.random.default_rng(2), n_boot=200)
    assert res.rho == pytest.approx(stats.spearmanr(b, np.where(np.isinf(k), 1e9, k)).statistic)


def test_spearman_with_ci_statuses_and_errors():
    rng = np.random.default_rng(0)
    assert spearman_with_ci([1, 2], [3, 4], rng=rng).status == "too_few"
    assert spearman_with_ci([1, 2, 3, 4], [5, 5, 5, 5], rng=rng).status == "constant"
    # NaN pairs are dropped first (theory.spearman_ci refuses NaN)
    res = spearman_with_ci([1, 2, np.nan, 4, 5], [1, 2, 3, np.nan, 5], rng=rng)
    assert res.status == "ok" and res.n == 3 and res.rho == pytest.approx(1.0)
    with pytest.raises(ValueError, match="same length"):
        spearman_with_ci([1, 2, 3], [1, 2], rng=rng)


# ------------------------------------------------------------------------------------------ verdict rules


def test_decreasing_kappa_with_batch_size_is_reproduced():
    paper = {1000: math.inf, 800: math.inf, 250: 5.5, 100: 2.3, 50: 0.5}
    # the paper's κ, and test accuracy rising as κ falls
    card = claims.build_scorecard(
        sweep_fits(lambda b, s: paper[b] * (1 + 0.05 * s), acc_of=lambda b, s: 0.9 - b / 10000 - 0.001 * s),
        n_boot=500,
    )
    assert list(card.columns) == list(claims.SCORECARD_COLUMNS)
    assert verdict(card, "κ falls as batch size falls") == "reproduced"
    assert verdict(card, "κ = ∞ (MP) for large batches") == "reproduced"  # 6/6 MP at 1000 and 800
    assert verdict(card, "small batches give heavy tails") == "reproduced"  # κ = 2.3 and 0.5: heavy-tailed
    assert verdict(card, "lower κ goes with better test accuracy") == "reproduced"
    # the medians it reports: every batch, largest first, each the median of its seeds' κ (MP: ∞)
    ours = row_of(card, "κ falls")["ours"]
    medians = dict(item.split(": ") for item in ours.split("median κ by batch ")[1].split(", "))
    expected = {
        str(b): "∞" if math.isinf(k) else f"{np.median([k * (1 + 0.05 * s) for s in (0, 1, 2)]):.3g}"
        for b, k in sorted(paper.items(), reverse=True)
    }
    assert list(medians.items()) == list(expected.items())
    assert (
        "law MP or MP+spikes in 6/6 runs that learned at batch 1000, 800 (MP ×6)"
        in row_of(card, "κ = ∞")["ours"]
    )


def test_increasing_kappa_with_batch_size_is_not_reproduced():
    card = claims.build_scorecard(sweep_fits(lambda b, s: 1000.0 / b + 0.01 * s), n_boot=500)
    assert verdict(card, "κ falls as batch size falls") == "not reproduced"
    assert verdict(card, "κ = ∞ (MP) for large batches") == "not reproduced"  # finite κ at 1000, 800
    assert verdict(card, "small batches give heavy tails") == "not reproduced"  # κ = 10, 20: bulk-decay


def test_phase_sequence_needs_every_stage():
    """The presence rule: the paper's sweep shows every stage; one without bulk-decay is not reproduced, naming it;
    with fewer than MIN_PHASE_RUNS runs that learned a missing stage is inconclusive."""
    paper = {1000: math.inf, 800: math.inf, 250: 5.5, 100: 1.9, 50: math.nan}  # α = 6.70, 2.97, rank collapse
    row = row_of(claims.build_scorecard(sweep_fits(lambda b, s: paper[b])), "the sweep passes")
    assert row["verdict"] == "reproduced"
    assert row["ours"].startswith("1000: random-like ×3; 800: random-like ×3; 250: bulk-decay ×3")
    # no bulk-decay: MP at the top, heavy tails below, training collapsed at the smallest batch
    no_decay = {1000: math.inf, 800: math.inf, 250: 2.3, 100: 1.9, 50: 1.9}
    fits = sweep_fits(lambda b, s: no_decay[b], train_of_batch=lambda b: "collapsed" if b == 50 else "ok")
    row = row_of(claims.build_scorecard(fits), "the sweep passes")
    assert (
        row["verdict"] == "not reproduced"
        and "never seen in 12 runs that learned: bulk-decay" in row["details"]
    )
    assert "50: training collapsed ×3" in row["ours"]
    few = sweep_fits(lambda b, s: no_decay[b], seeds=(0,))  # 5 runs that learned
    assert verdict(claims.build_scorecard(few), "the sweep passes") == "inconclusive"


def test_noise_is_inconclusive():
    # κ ranks 4, 1, 3, 5, 2 over batches 1000..50: Σd² = 20, so Spearman's ρ = 0 exactly at seed level
    scrambled = {1000: 4.0, 800: 1.0, 250: 3.0, 100: 5.0, 50: 2.0}
    card = claims.build_scorecard(sweep_fits(lambda b, s: scrambled[b] + 0.01 * s), n_boot=500)
    row = row_of(card, "κ falls")
    assert row["verdict"] == "inconclusive" and "ρ = +0.00" in row["ours"]


def test_rank_collapse_counts_at_the_heavy_end():
    """Small batches in the rank-collapse phase (no κ estimate) support the trend and the small-batch claim."""
    card = claims.build_scorecard(
        sweep_fits(lambda b, s: math.inf if b >= 800 else (5.5 if b == 250 else math.nan)), n_boot=500
    )
    assert verdict(card, "κ falls as batch size falls") == "reproduced"
    assert verdict(card, "small batches give heavy tails") == "reproduced"
    assert "rank-collapse ×6" in row_of(card, "small batches")["ours"]


def test_collapsed_runs_are_the_rank_collapse_end_never_heavy_tailed_evidence():
    """Networks at chance whose fc1 looks heavy-tailed: only the rank-collapse end, never evidence of a tail."""
    kappa = {1000: math.inf, 800: math.inf, 250: 5.5, 100: 1.9, 50: 1.9}
    collapsed = sweep_fits(kappa.get, seeds=(0, 1, 2), train_of_batch=lambda b: "collapsed" if b <= 100 else "ok",
                           acc_of=lambda b, s: 0.1 if b <= 100 else 0.9 + 0.01 * s)  # fmt: skip
    card = claims.build_scorecard(collapsed, n_boot=500)
    small = row_of(card, "small batches")
    assert (
        "training collapsed (rank-collapse end) ×6" in small["ours"] and "heavy-tailed" not in small["ours"]
    )
    # the κ–accuracy claim sees only the 9 networks that learned: the collapsed runs' κ = 1.9 at accuracy 0.1 would
    # otherwise make it "reproduced" on networks at chance
    acc = row_of(card, "lower κ")
    assert "(n=9)" in acc["ours"] and "training collapsed ×6" in acc["details"]
    # the batch-size trend counts them at κ = 0, not at their κ = 1.9
    trend = row_of(card, "κ falls")
    assert "100: 0, 50: 0" in trend["ours"] and "6 collapsed or diverged runs" in trend["details"]


def test_undertrained_runs_count_for_nothing():
    kappa = {1000: math.inf, 800: math.inf, 250: 5.5, 100: 1.9, 50: 1.9}
    fits = sweep_fits(kappa.get, train_of_batch=lambda b: "undertrained" if b >= 800 else "ok")
    card = claims.build_scorecard(fits, n_boot=500)
    large = row_of(card, "κ = ∞")
    # the MP spectra of undertrained networks are no evidence for κ = ∞ at large batches
    assert large["verdict"] == "inconclusive" and "in 0/0 runs" in large["ours"]
    assert "left out at these batches: 6 run(s) (training undertrained ×6)" in large["details"]
    trend = row_of(card, "κ falls")
    assert "(n=9)" in trend["ours"] and "training undertrained ×6" in trend["details"]


def test_one_row_per_architecture():
    paper = {1000: math.inf, 800: math.inf, 250: 5.5, 100: 2.3, 50: 0.5}
    fits = pd.concat(
        [sweep_fits(lambda b, s: paper[b] * (1 + 0.05 * s), arch=a) for a in ("lenet", "minialexnet")]
    )
    card = claims.build_scorecard(fits, n_boot=200)
    for claim in ("κ falls as batch size falls", "κ = ∞ (MP) for large batches", "small batches give heavy",
                  "lower κ goes with better test accuracy", "the sweep passes through"):  # fmt: skip
        rows = card[card["claim"].str.startswith(claim)]
        assert [c.split("(")[-1] for c in rows["claim"]] == ["lenet fc1)", "minialexnet fc1)"]


def test_largest_batch_used_when_none_reaches_800():
    card = claims.build_scorecard(sweep_fits(lambda b, s: math.inf if b == 64 else 3.0, batches=(64, 16, 4)))
    row = row_of(card, "κ = ∞")
    assert "at batch 64" in row["ours"] and row["verdict"] == "inconclusive"  # 3/3: Wilson lo 0.44


def test_all_missing_is_not_run():
    card = claims.build_scorecard(None)
    assert set(card["verdict"]) == {"not run"}
    assert card["details"].str.len().min() > 0
    assert len(card) >= 8
    card = claims.build_scorecard(
        pd.DataFrame(),
        ensemble=pd.DataFrame(),
        estimator=pd.DataFrame(),
        structure=pd.DataFrame(),
        correlation=pd.DataFrame(),
    )
    assert set(card["verdict"]) == {"not run"}
    assert "fits lacks columns" in claims.build_scorecard(pd.DataFrame({"x": [1]}))["details"].iloc[0]


def test_ntk_claim():
    rows = []
    for arch in ("vgg11", "resnet9"):
        for stage, train in (("init", math.nan), ("final", "ok"), ("final", "collapsed")):
            for form in ("direct", "inverse"):
                rows.append({**BASE, "arch": arch, "stage": stage, "matrix": "ntk", "layer": "all", "batch_size": 64,
                             "seed": 0 if train == "ok" else 1, "form": form, "kappa": 3.0, "status": "ok",
                             "law": "HTMP-inverse", "phase": "heavy-tailed", "law_kappa": 3.0,
                             "selected": form == "inverse", "train_status": train})  # fmt: skip
    fits = pd.DataFrame(rows)
    card = claims.build_scorecard(fits)
    # one row per architecture; init and the network that learned count, the collapsed one does not
    assert verdict(card, "NTK near zero is inverse-Gamma (resnet9)") == "inconclusive"  # 2/2: Wilson lo 0.34
    assert "2/2" in row_of(card, "NTK near zero is inverse-Gamma (vgg11)")["ours"]
    assert "training collapsed ×1" in row_of(card, "NTK near zero is inverse-Gamma (vgg11)")["details"]
    fits.loc[fits["arch"] == "vgg11", "law"] = "HTMP-direct"
    assert "0/2" in row_of(claims.build_scorecard(fits), "NTK near zero is inverse-Gamma (vgg11)")["ours"]
    no_ntk = claims.build_scorecard(sweep_fits(lambda b, s: 2.0))
    assert verdict(no_ntk, "NTK near zero") == "not run"
    assert "no NTK rows" in row_of(no_ntk, "NTK")["details"]


def test_ensemble_claim():
    ens = pd.DataFrame(
        {"gamma": 0.5, "kappa": 2.0, "draw": range(8), "ks_vs_htmp": 0.01, "kappa_hat": 2.0, "kappa_lo": 1.5,
         "kappa_hi": 2.5, "status": "ok"}
    )  # fmt: skip
    card = claims.build_scorecard(None, ensemble=ens)
    assert verdict(card, "the ensemble follows HTMP") == "reproduced"
    assert (
        "covers the true κ in 8/8"
        in card.loc[card["claim"].str.startswith("the ensemble"), "details"].iloc[0]
    )
    assert (
        verdict(claims.build_scorecard(None, ensemble=ens.assign(ks_vs_htmp=0.2)), "the ensemble")
        == "not reproduced"
    )


def test_estimator_claim():
    est = pd.DataFrame(
        {"n": [100, 1000, 10000], "bias": 0.0, "rel_bias": 0.0, "coverage": [0.94, 0.95, 0.95]}
    )
    good = est.assign(coverage_lo=[0.92, 0.93, 0.94], coverage_hi=[0.96, 0.97, 0.96])
    bad = est.assign(coverage_lo=[0.5, 0.6, 0.7], coverage_hi=[0.6, 0.7, 0.8])
    assert (
        verdict(claims.build_scorecard(None, estimator=good), "κ estimator") == "inconclusive"
    )  # 3/3: lo 0.44
    assert (
        verdict(claims.build_scorecard(None, estimator=pd.concat([good] * 2)), "κ estimator") == "reproduced"
    )
    assert (
        verdict(claims.build_scorecard(None, estimator=pd.concat([bad] * 2)), "κ estimator")
        == "not reproduced"
    )


def test_structure_claim():
    free = np.tile(np.linspace(0.1, 1.0, 5), 2)
    rows = pd.DataFrame(
        {"structure": ["block"] * 5 + ["toeplitz"] * 5, "param": range(10), "freedom": free,
         "kappa": 10 * free**2, "law": "HTMP-direct", "phase": "heavy-tailed", "status": "ok"}
    )  # fmt: skip
    assert verdict(claims.build_scorecard(None, structure=rows), "structure lowers κ") == "reproduced"
    flipped = rows.assign(kappa=10 / free)
    assert verdict(claims.build_scorecard(None, structure=flipped), "structure lowers κ") == "not reproduced"
    # the most free matrices read MP (κ = ∞) and the least free rank collapse (κ = 0): still the claimed order
    ends = flipped.copy()
    ends.loc[free == 1.0, "law"] = "MP"
    ends.loc[free == 0.1, "phase"] = "rank-collapse"
    ends = ends.assign(kappa=np.where(free == 0.1, np.nan, 2.0))
    assert verdict(claims.build_scorecard(None, structure=ends), "structure lowers κ") == "reproduced"


def test_correlation_claim():
    """Covariance exponent α → input tail 1 + 1/α: the output tail exponent should fall as α grows."""
    a_in = np.repeat([0.0, 0.5, 1.0, 1.5, 2.0, 3.0], 2)
    with np.errstate(divide="ignore"):
        out = 1 + 1 / a_in + np.tile([0.0, 0.05], 6)
    rows = pd.DataFrame(
        {"alpha_in": a_in, "tail_alpha_out": out, "kappa": 2.0, "status": "ok", "tail_status": "ok"}
    )  # fmt: skip
    card = claims.build_scorecard(None, correlation=rows)
    assert verdict(card, "power law in") == "reproduced"
    details = card.loc[card["claim"] == "power law in, power law out", "details"].iloc[0]
    assert "2 rows excluded" in details  # the α = 0 control
    rows.loc[2, "tail_status"] = "too_few"
    card = claims.build_scorecard(None, correlation=rows)
    assert "3 rows excluded" in card.loc[card["claim"] == "power law in, power law out", "details"].iloc[0]
    flipped = rows.assign(tail_alpha_out=1 + a_in)
    assert verdict(claims.build_scorecard(None, correlation=flipped), "power law in") == "not reproduced"


def test_scaling_claim():
    # the claimed exponent exceeds the ridge bound in every case: the row says so, naming the setup
    sim = pd.DataFrame({"kind": "simulation", "setup_label": "p = 0.1·n, direct form, σ = 0", "kappa": [1.0, 5.5],
                        "gamma": [0.5, 0.3255], "ell": 0.5, "n": 4525.0, "n_lo": 3200, "n_hi": 6400,
                        "slope": [-0.74, -0.95], "slope_lo": [-0.76, -0.97], "slope_hi": [-0.72, -0.93],
                        "theory_slope": [-0.74, -0.94], "derived_slope": [-0.75, -1.0],
                        "claimed_slope": [-1.25, -3.85], "bound_slope": -1.0, "asymptotic": True})  # fmt: skip
    card = claims.build_scorecard(None, scaling=sim)
    assert verdict(card, "scaling exponent") == "not testable as stated"
    row = card[card["claim"].str.startswith("scaling")].iloc[0]
    assert "p = 0.1·n, direct form, σ = 0" in row["ours"] and "n^(−2ℓ)" in row["details"]
    # a table in the old layout (fitted slope over a window) is not a verdict
    old = pd.DataFrame({"kappa": [1.0], "gamma": [0.5], "ell": [0.5], "slope": [-1.2], "slope_lo": [-1.3],
                        "slope_hi": [-1.1], "predicted_slope": [-1.25], "agrees": [True]})  # fmt: skip
    assert verdict(claims.build_scorecard(None, scaling=old), "scaling exponent") == "not run"


def test_scorecard_is_deterministic_given_seed():
    fits = sweep_fits(lambda b, s: float(np.random.default_rng(b + s).lognormal()))
    a = claims.build_scorecard(fits, seed=3, n_boot=300)
    b = claims.build_scorecard(fits, seed=3, n_boot=300)
    pd.testing.assert_frame_equal(a, b)


# ------------------------------------------------------------------------------------------ report


NASTY = [
    "*bold* and **strong** and `code`",
    "- looks like a bullet",
    ".. comment",
    "κ = 5.5 [4.4, 6.6]",
    "two\nlines",
    "<script>alert(1)</script> & <b>not bold</b>",
    "{{ snakemake.config }} and {% raw %} and {# comment #}",
    "",
]


class _Cells(HTMLParser):
    """Text of each table cell, plus the inline style of each <span> and the <details> seen."""

    def __init__(self):
        super().__init__()
        self.rows, self.spans, self.details, self._cell = [], [], 0, None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = ""
        elif tag == "span":
            self.spans.append(dict(attrs).get("style", ""))
        elif tag == "details":
            self.details += 1

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.rows[-1].append(self._cell)
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def _render(rst: str) -> _Cells:
    """As Snakemake's report renders its text: a Jinja pass, then docutils to HTML."""
    docutils_core = pytest.importorskip("docutils.core")
    jinja2 = pytest.importorskip("jinja2")
    text = jinja2.Environment().from_string(rst).render(snakemake=None)
    parts = docutils_core.publish_parts(text, writer="html", settings_overrides={"report_level": 5})
    parser = _Cells()
    parser.feed(parts["html_body"])
    return parser


def card_of(texts: list[str], verdicts: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"claim": texts, "source": "src", "paper_value": texts, "ours": texts, "verdict": verdicts,
                         "details": texts})  # fmt: skip


def test_scorecard_html_reads_back_as_the_literal_text():
    card = card_of(NASTY, ["reproduced"] * len(NASTY))
    cells = _render(claims.scorecard_rst(card))
    assert cells.rows[0] == ["Claim", "Paper", "Ours", "Verdict"]
    assert len(cells.rows) == len(NASTY) + 1
    for text, row in zip(NASTY, cells.rows[1:], strict=True):
        flat = " ".join(text.split())
        claim, paper, ours, verdict_cell = row
        assert claim == flat + "src" and paper == flat and ours == flat
        assert verdict_cell == "reproducedhow decided" + flat  # the label, then the folded details
    assert cells.details == len(NASTY)  # every row's details are folded


def test_scorecard_html_colours_each_verdict():
    verdicts = list(claims.VERDICT_COLOURS)
    cells = _render(claims.scorecard_rst(card_of(["c"] * len(verdicts), verdicts)))
    for v, style in zip(verdicts, cells.spans, strict=True):
        fg, bg = claims.VERDICT_COLOURS[v]
        assert f"color:{fg}" in style and f"background:{bg}" in style
    assert len({claims.VERDICT_COLOURS[v] for v in verdicts}) == len(verdicts)


def test_scorecard_html_folds_long_ours():
    long = "word " * 60
    cells = _render(claims.scorecard_rst(card_of([long], ["inconclusive"])))
    assert cells.details == 2  # the long "ours" and the details
    assert cells.rows[1][2].startswith("word word") and cells.rows[1][2].count("word") > 60


def test_scorecard_html_of_real_scorecard():
    card = claims.build_scorecard(
        sweep_fits(lambda b, s: {1000: math.inf, 800: math.inf}.get(b, 1000 / b)), n_boot=200
    )
    cells = _render(claims.scorecard_rst(card))
    assert len(cells.rows) == len(card) + 1
    assert [r[0] for r in cells.rows[1:]] == [" ".join(c.split()) + s for c, s in zip(card["claim"], card["source"],
                                                                                          strict=True)]  # fmt: skip


def test_scorecard_rst_rejects_missing_columns():
    with pytest.raises(ValueError, match="columns"):
        claims.scorecard_rst(pd.DataFrame({"claim": ["x"]}))


@pytest.mark.parametrize(
    ("rho", "lo", "hi", "sign", "verdict"),
    [
        (0.9, 0.5, 0.99, +1, "reproduced"),
        (0.9, 0.5, 0.99, -1, "not reproduced"),
        (-0.9, -0.99, -0.5, -1, "reproduced"),
        (-0.9, -0.99, -0.5, +1, "not reproduced"),
        (0.16, -0.89, 0.92, -1, "inconclusive"),  # a positive rho with an interval across 0, claimed negative
        (0.16, -0.89, 0.92, +1, "inconclusive"),
    ],
)
def test_trend_rule_reads_the_interval_on_the_claimed_side(rho, lo, hi, sign, verdict):
    from htmu.study.claims import SpearmanResult, _trend_verdict

    assert _trend_verdict(SpearmanResult(rho, lo, hi, 10, "ok"), sign)[0] == verdict


@pytest.mark.parametrize(
    ("batches", "large", "small"),
    [
        ([16, 32, 48, 64, 128], [64, 128], [16, 32, 48]),  # the default sweep: no batch is both
        ([32, 64, 128, 256, 512, 800, 1000], [800, 1000], [32, 64]),  # the paper's
        ([128, 256, 512], [256, 512], [128]),  # none <= 100: the smallest
    ],
)
def test_large_and_small_batches_are_disjoint_in_a_sweep(batches, large, small):
    from htmu.study.claims import _large_batches, _small_batches

    b = np.array(batches, float)
    assert _large_batches(b).tolist() == large and _small_batches(b).tolist() == small
