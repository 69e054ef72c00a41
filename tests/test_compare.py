"""WeightWatcher comparison: the alpha-kappa relation, the clamp self-check, the join, the no-extra path.

Tests that need weightwatcher run it in a subprocess (it silences warnings process-wide on import) and are
skipped, with the reason, when the optional extra is not installed.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from htmu.study import compare
from htmu.study.compare import (
    COMPARE_COLUMNS,
    CORRELATION_COLUMNS,
    SKIP_STATUS,
    alpha_from_kappa,
    clamp_selfcheck,
    join_fits,
    pareto_sample,
    rank_correlations,
    run_compare,
)

SRC = Path(__file__).resolve().parents[1] / "src"
needs_ww = pytest.mark.skipif(
    not compare.weightwatcher_available(),
    reason="weightwatcher not installed (optional extra: pip install .[compare])",
)


# ------------------------------------------------------------------------------------------ relation
def test_alpha_from_kappa_reference_values():
    # htmp-facts.md section 2, gamma = 0.3255 (MiniAlexNet fc1): kappa 5.5 -> 6.70, 1.9 -> 2.97, 1e-3 -> 1.00
    got = alpha_from_kappa([5.5, 1.9, 1e-3], 0.3255)
    np.testing.assert_allclose(got, [6.70, 2.97, 1.00], atol=0.006)
    assert alpha_from_kappa(math.inf, 0.5) == math.inf
    with pytest.raises(ValueError, match="gamma"):
        alpha_from_kappa(2.0, 1.0)
    with pytest.raises(ValueError, match="kappa"):
        alpha_from_kappa(-1.0, 0.5)


@pytest.mark.parametrize(("gamma", "kappa"), [(0.3, 2.0), (0.5, 0.7), (0.25, 6.0)])
def test_alpha_is_the_tail_exponent_of_the_inverse_density(gamma, kappa):
    """Independent check: the log-log slope of lambda^-2 rho(1/lambda) at large lambda, from the package law."""
    from htmu.laws import htmp_logpdf

    # the next term of the small-x expansion decays slowly for small kappa: go far out
    lam = np.array([1e8, 1e9])
    logf = np.asarray(htmp_logpdf(1.0 / lam, gamma, kappa), dtype=float) - 2.0 * np.log(lam)
    slope = -(logf[1] - logf[0]) / (np.log(lam[1]) - np.log(lam[0]))
    assert slope == pytest.approx(float(alpha_from_kappa(kappa, gamma)), rel=1e-3)


# ----------------------------------------------------------------------------------- clamp self-check
def _mle_fit(x):
    # the closed-form continuous MLE with xmin = min(x) (Clauset et al. 2009, eq. 3.1)
    return 1.0 + x.size / float(np.sum(np.log(x / x.min()))), x.size


def test_selfcheck_passes_an_unclamped_fitter_and_catches_a_clamped_one():
    rng = np.random.default_rng(7)
    good = clamp_selfcheck(_mle_fit, rng)
    assert [r["alpha_true"] for r in good] == [3.5, 6.0]
    assert all(r["ok"] for r in good), good
    # powerlaw 2.0's behaviour: the same estimate, bounded to [0, 3]
    clamped = clamp_selfcheck(lambda x: (min(_mle_fit(x)[0], 3.0), x.size), rng)
    assert not any(r["ok"] for r in clamped), clamped
    assert clamped[0]["alpha_fit"] == 3.0 and clamped[0]["z_score"] > 4
    raising = clamp_selfcheck(
        lambda x: (_ for _ in ()).throw(TypeError("unexpected keyword 'distribution'")), rng
    )
    assert not any(r["ok"] for r in raising) and "TypeError" in raising[0]["error"]


def test_pareto_sample_has_the_requested_exponent():
    x = pareto_sample(3.5, 200_000, np.random.default_rng(0), xmin=2.0)
    assert x.min() >= 2.0
    # survival function P(X > t) = (t / xmin)^(1 - alpha)
    for t in (3.0, 6.0):
        assert np.mean(x > t) == pytest.approx((t / 2.0) ** -2.5, rel=0.03)
    with pytest.raises(ValueError, match="alpha"):
        pareto_sample(1.0, 10, np.random.default_rng(0))


# ------------------------------------------------------------------------------------------------ join
def _fits_table() -> pd.DataFrame:
    """fits.csv rows as pipeline.fit_rows writes them: the selection reports the inverse form's κ, or MP."""
    rows = []
    acc = {16: 0.90, 64: 0.85, 256: 0.80, 1024: 0.70}
    kinv = {16: 1.0, 64: 2.0, 256: 4.0, 1024: math.inf}
    for bs in acc:
        law = "MP" if math.isinf(kinv[bs]) else "HTMP-inverse"
        for form in ("direct", "inverse"):
            k = kinv[bs] if form == "inverse" else 3.0
            rows.append(dict(dataset="digits", arch="lenet", batch_size=bs, seed=0, stage="final", epoch=2,
                             matrix="weight", layer="fc1", gamma=0.3, n_eigs=120, form=form,
                             kappa=1000.0 if math.isinf(k) else k, kappa_lo=np.nan, kappa_hi=np.nan,
                             status="ok", law=law, phase="random-like" if law == "MP" else "heavy-tailed",
                             law_kappa=kinv[bs], law_kappa_lo=np.nan, law_kappa_hi=np.nan, n_spikes=0,
                             law_status="ok", selected=form == ("direct" if law == "MP" else "inverse"),
                             test_acc=acc[bs], train_status="ok"))  # fmt: skip
            # an init-stage row and an NTK row that must not be joined
            rows.append(dict(rows[-1], stage="init", kappa=99.0, law_kappa=99.0))
            rows.append(dict(rows[-2], matrix="ntk", kappa=77.0, law_kappa=77.0))
    return pd.DataFrame(rows)


def _ww_table(layers=("fc1",)) -> pd.DataFrame:
    rows = []
    for bs, a in ((16, 2.0), (64, 3.0), (256, 4.5), (1024, 8.0)):
        for layer in layers:
            rows.append(dict(arch="lenet", batch_size=bs, seed=0, layer=layer, layer_type="linear",
                             comparable=True, alpha=a, alpha_weighted=a * 0.5, log_norm=1.0 + bs / 1e3,
                             stable_rank=50.0 - bs / 100, mp_softrank=0.5, status="ok"))  # fmt: skip
    return pd.DataFrame(rows)


def test_join_uses_final_weight_fits_and_the_inverse_form_for_alpha_theory():
    out = join_fits(_ww_table(), _fits_table())
    assert list(out.columns) == COMPARE_COLUMNS
    assert len(out) == 4
    out = out.set_index("batch_size")
    # kappa, form and law are the selection's: HTMP-inverse, or MP (kappa = inf, the direct row)
    assert list(out["law"]) == ["HTMP-inverse"] * 3 + ["MP"]
    assert list(out["form"]) == ["inverse"] * 3 + ["direct"]
    assert out.loc[64, "kappa"] == 2.0 and out.loc[64, "kappa_inverse"] == 2.0
    assert out.loc[1024, "kappa"] == math.inf and out.loc[1024, "kappa_inverse"] == 1000.0
    assert out.loc[64, "alpha_theory"] == pytest.approx(1 + 2.0 * 0.7 / 0.6)
    # alpha_theory is the inverse form's fit (finite here), whatever law was selected
    assert out.loc[1024, "alpha_theory"] == pytest.approx(1 + 1000.0 * 0.7 / 0.6)
    assert out.loc[16, "test_acc"] == 0.90 and (out["status"] == "ok").all()


def test_join_marks_layers_without_a_fit():
    out = join_fits(_ww_table(layers=("fc1", "fc2")), _fits_table())
    fc2 = out[out["layer"] == "fc2"]
    assert len(fc2) == 4 and fc2["status"].str.startswith("no_fit").all()
    assert fc2["alpha"].notna().all()  # WeightWatcher's numbers are kept
    with pytest.raises(ValueError, match="ww: missing key columns"):
        join_fits(_ww_table().drop(columns="layer"), _fits_table())


def test_rank_correlations_recover_known_orderings():
    table = join_fits(_ww_table(), _fits_table())
    corr = rank_correlations(table, np.random.default_rng(0), n_boot=200)
    assert list(corr.columns) == CORRELATION_COLUMNS
    by = corr.set_index("metric")
    # accuracy falls as the batch size grows; alpha and kappa grow with it: rho = -1 exactly
    assert by.loc["alpha", "rho"] == pytest.approx(-1.0)
    assert by.loc["kappa", "rho"] == pytest.approx(-1.0)  # inf ranks highest
    assert by.loc["stable_rank", "rho"] == pytest.approx(1.0)
    assert by.loc["mp_softrank", "status"].startswith("constant")
    assert by.loc["alpha", "n"] == 4 and by.loc["alpha", "status"] == "ok"
    few = rank_correlations(table.head(2), np.random.default_rng(0), n_boot=200)
    assert few["status"].str.startswith("too_few").all()
    # a network that collapsed is no evidence: only the three that learned are correlated
    table.loc[table["batch_size"] == 16, "train_status"] = "collapsed"
    by = rank_correlations(table, np.random.default_rng(0), n_boot=200).set_index("metric")
    assert by.loc["kappa", "n"] == 3 and by.loc["kappa", "rho"] == pytest.approx(-1.0)


# ------------------------------------------------------------------------------------- no-extra path
def test_without_the_extra_outputs_are_written_with_a_skip_status(tmp_path, caplog):
    fits = tmp_path / "fits.csv"
    _fits_table().to_csv(fits, index=False)
    out, corr = tmp_path / "compare" / "ww.csv", tmp_path / "compare" / "corr.csv"
    figs = [tmp_path / "fig" / "compare_kappa_alpha.png", tmp_path / "fig" / "compare_kappa_alpha.pdf"]
    with caplog.at_level("INFO", logger="htmu"):
        status = run_compare([tmp_path / "lenet_bs16_s0" / "model_final.pt"], fits, out, corr, figs,
                             available=False)  # fmt: skip
    assert status == SKIP_STATUS
    skip_lines = [r.getMessage() for r in caplog.records if SKIP_STATUS in r.getMessage()]
    assert len(skip_lines) == 1 and "pip install .[compare]" in skip_lines[0]
    table = pd.read_csv(out)
    assert list(table.columns) == COMPARE_COLUMNS and len(table) == 4
    assert (table["status"] == SKIP_STATUS).all() and table["alpha"].isna().all()
    assert table["kappa_inverse"].notna().all()  # htmu's side is still there
    assert pd.read_csv(corr).columns.tolist() == CORRELATION_COLUMNS
    assert all(f.stat().st_size > 0 for f in figs)
    with pytest.raises(ValueError, match="layer_types"):
        run_compare([], fits, out, corr, figs, layer_types=("attention",), available=False)


def test_a_plain_module_named_weightwatcher_does_not_count(tmp_path, monkeypatch):
    # Snakemake appends the scripts folder to sys.path: a script called weightwatcher.py must not pass
    (tmp_path / "weightwatcher.py").write_text("raise ImportError('not the package')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert not compare.weightwatcher_available()


def test_the_subprocess_decides_and_a_missing_package_is_one_skip_line(tmp_path, caplog):
    # an interpreter in which weightwatcher is absent, whatever this environment has installed
    wrapper = tmp_path / "python-without-ww"
    wrapper.write_text(
        "#!/bin/sh\n"
        f"exec {sys.executable} -c \"import sys, runpy; sys.modules['weightwatcher'] = None; "
        "sys.argv = ['htmu.study.compare'] + sys.argv[3:]; runpy.run_module('htmu.study.compare', run_name='__main__')\" "
        '"$@"\n'
    )
    wrapper.chmod(0o755)
    fits = tmp_path / "fits.csv"
    _fits_table().to_csv(fits, index=False)
    out, corr, fig = tmp_path / "ww.csv", tmp_path / "corr.csv", tmp_path / "k.png"
    with caplog.at_level("INFO", logger="htmu"):
        status = run_compare([tmp_path / "lenet_bs16_s0" / "model_final.pt"], fits, out, corr, [fig],
                             python=str(wrapper), n_boot=50)  # fmt: skip
    assert status == SKIP_STATUS
    assert [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()] == [
        f"htmu: WeightWatcher comparison {SKIP_STATUS}"
    ]
    assert (pd.read_csv(out)["status"] == SKIP_STATUS).all() and fig.stat().st_size > 0


def test_the_ww_subcommand_says_one_line_when_weightwatcher_is_missing(tmp_path):
    # sys.modules[name] = None makes importlib.util.find_spec report the package as absent
    code = (
        "import sys; sys.modules['weightwatcher'] = None; "
        "from htmu.study.compare import main; sys.exit(main(sys.argv[1:]))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, "ww", "--out", str(tmp_path / "x.csv"), "--meta", str(tmp_path / "m.json"),
         str(tmp_path / "model_final.pt")],
        capture_output=True, text=True, env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"}, check=False,
    )  # fmt: skip
    assert proc.returncode == 3
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
    assert lines == [f"htmu: WeightWatcher comparison {SKIP_STATUS}"]


# ------------------------------------------------------------------------------- with weightwatcher
@needs_ww
@pytest.mark.slow
def test_weightwatcher_on_a_tiny_model_matches_htmu_conventions(tmp_path):
    """LeNet at init: no clamp; WW's Linear ESDs equal htmu's eig(W W^T); metrics equal their definitions."""
    from htmu.spectra import weight_spectra
    from htmu.study.models import build_model
    from htmu.study.train import save_model

    model = build_model("lenet", num_classes=10, seed=0)
    ckpt = tmp_path / "train" / "lenet_bs16_s0" / "model_final.pt"
    ckpt.parent.mkdir(parents=True)
    save_model(model, ckpt, {"arch": "lenet", "num_classes": 10, "init": "default", "seed": 0, "epoch": 0,
                             "status": "ok"})  # fmt: skip
    recs = {r.layer: r for r in weight_spectra(model)}
    rows = []
    for layer in ("fc1", "fc2", "fc3"):
        for form in ("direct", "inverse"):
            rows.append(dict(arch="lenet", batch_size=16, seed=0, stage="final", matrix="weight", layer=layer,
                             gamma=recs[layer].gamma, n_eigs=recs[layer].eigenvalues.size, form=form, kappa=2.0,
                             kappa_lo=1.0, kappa_hi=3.0, status="ok", law="HTMP-inverse", phase="heavy-tailed",
                             law_kappa=2.0, selected=form == "inverse", test_acc=0.5, train_status="ok"))  # fmt: skip
    # one weightwatcher process (its import dominates the cost): the subprocess glue of run_compare
    ww, meta = compare._run_ww_subprocess([ckpt], ["linear"], 3, sys.executable)
    # the non-clamping proof: both of WeightWatcher's power-law paths recover Pareto alpha = 3.5 and 6
    assert meta["ww_version"] == compare.WW_PIN and meta["selfcheck_ok"] and meta["selfcheck_powerlaw_ok"]
    for package in ("ww", "powerlaw"):
        checks = meta["selfcheck"][package]
        assert [r["alpha_true"] for r in checks] == [3.5, 6.0]
        assert all(r["ok"] and r["alpha_fit"] > 3.2 for r in checks), (package, checks)  # a clamp at 3 fails
    table = join_fits(ww, pd.DataFrame(rows)).set_index("layer")
    assert sorted(table.index) == ["fc1", "fc2", "fc3"]  # Linear layers only, by default
    assert (table["status"] == "ok").all(), table["status"].to_dict()
    for layer, rec in recs.items():
        if layer not in table.index:
            continue
        eig = rec.eigenvalues
        row = table.loc[layer]
        assert row["esd_rel_diff"] < 1e-10 and row["ww_num_evals"] == eig.size
        # WeightWatcher 0.7.7's definitions, recomputed from htmu's eigenvalues
        assert row["log_norm"] == pytest.approx(np.log10(eig.sum()), rel=1e-9)
        assert row["stable_rank"] == pytest.approx(eig.sum() / eig.max(), rel=1e-9)
        assert row["alpha_weighted"] == pytest.approx(row["alpha"] * np.log10(eig.max()), rel=1e-9)
        # alpha: the closed-form MLE on the eigenvalues above WW's xmin (ww_xmin)
        tail = eig[eig >= row["ww_xmin"] * (1 - 1e-12)]
        if tail.size >= 20:
            assert row["alpha"] == pytest.approx(1 + tail.size / np.sum(np.log(tail / tail.min())), rel=1e-6)
        assert row["alpha_theory"] == pytest.approx(1 + 2.0 * (1 - rec.gamma) / (2 * rec.gamma))
