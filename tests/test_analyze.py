"""Tests of ``htmu.analyze`` against planted truth: random layers, HTMP spectra at known kappa, spikes.

Statistical tests use fixed seeds, so each passes or fails deterministically; the rates quoted say how
often a fresh seed would fail. ``select_law``'s decisions are the lead's (htmu.fit.selection): these tests
check that ``analyze`` feeds it the right spectrum and reports its answer faithfully.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats
from torch import nn

import htmu
from htmu.analysis import COLUMNS, _mp_median, analyze_layers, load_weights, mp_bulk_scale, mp_softrank
from htmu.cli import main
from htmu.ensembles import sample_htmp_ensemble

SRC = str(Path(__file__).resolve().parents[1] / "src")


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _haar(n: int, rng: np.random.Generator) -> np.ndarray:
    """Haar-distributed orthogonal n x n matrix (QR of a Gaussian matrix, signs fixed by R's diagonal)."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def _planted(eig: np.ndarray, m: int, rng: np.random.Generator) -> np.ndarray:
    """W = U diag(sqrt(eig)) V^T (n x m) with Haar U and V: W W^T has exactly the eigenvalues ``eig``."""
    n = eig.size
    return (_haar(n, rng) * np.sqrt(eig)) @ _haar(m, rng)[:, :n].T


def _linear_with(w: np.ndarray) -> nn.Linear:
    lin = nn.Linear(w.shape[1], w.shape[0], bias=False, dtype=torch.float64)  # the planted matrix, unrounded
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(w))
    return lin


# ------------------------------------------------------------------------------------------ truth
def test_random_init_layers_read_random_like():
    """PyTorch's default initialisation draws iid entries: MP, no spikes, kappa = inf.

    Each layer is a false alarm of select_law's MP test with its own rate (5% at its level, fewer after
    the spike rule); the fixed seeds make this deterministic.
    """
    torch.manual_seed(0)
    model = nn.ModuleDict(
        {
            "fc": nn.Linear(900, 300),  # gamma 1/3, 300 eigenvalues
            "conv": nn.Conv2d(32, 64, 3),  # 64 x 288
            "emb": nn.Embedding(1000, 64),  # N(0, 1) entries, 1000 x 64
            "proj": nn.Linear(200, 500),  # more rows than columns: W^T W, gamma 0.4
        }
    )
    df = htmu.analyze(model, progress=False).set_index("layer")
    assert list(df.index) == ["fc", "conv", "emb", "proj"]
    assert (df["status"] == "ok").all(), df["status"].to_dict()
    assert (df["law"] == "MP").all() and (df["phase"] == "random-like").all(), df[["law", "phase"]]
    assert np.isinf(df["kappa"]).all() and np.isinf(df["alpha"]).all() and (df["n_spikes"] == 0).all()
    assert list(df["n_eigs"]) == [300, 64, 64, 200]
    assert df.loc["proj", "gamma"] == pytest.approx(0.4) and df.loc["emb", "module"] == "Embedding"
    # a random matrix's largest eigenvalue sits at the MP edge (Tracy-Widom: within ~n^(-2/3) relatively)
    assert df["mp_softrank"].between(0.85, 1.15).all(), df["mp_softrank"]


def test_planted_htmp_layers_are_recovered_in_their_form():
    """W W^T with eigenvalues from the ensemble at known kappa (lambda = 1/z for the inverse form), at the paper's
    bulk-decay (direct, 5.5) and heavy-tailed (inverse, 1.9) values, five seeds each.

    Every layer must get the HTMP law of its form. The intervals are 95% intervals, so a single one misses about
    one time in twenty (seed 1 of the direct form does: kappa-hat 4.53, interval up to 5.46): of the ten, at least
    seven must cover kappa, which under exact coverage fails with probability P(Binomial(10, 0.95) <= 6) = 1e-3.
    """
    n, m = 400, 1229  # gamma = 0.3255, as MiniAlexNet's fc1
    hits = 0
    for form, kappa in [("direct", 5.5), ("inverse", 1.9)]:
        for seed in range(1, 6):
            rng = np.random.default_rng(seed)
            z = sample_htmp_ensemble(n, n / m, kappa, rng)
            eig = 3.0 * z if form == "direct" else 0.5 / z
            row = htmu.analyze(_linear_with(_planted(eig, m, rng)), progress=False, rng=seed).iloc[0]
            assert row["status"] == "ok" and row["gamma"] == pytest.approx(n / m)
            assert row["law"] == f"HTMP-{form}" and row["form"] == form, row.to_dict()
            assert row["alpha"] == pytest.approx(1 + row["kappa"] * (1 - n / m) / (2 * n / m))
            hits += row["kappa_lo"] <= kappa <= row["kappa_hi"]
    assert stats.binom.cdf(6, 10, 0.95) < 1.1e-3
    assert hits >= 7, hits


def test_planted_spikes_are_reported():
    """MP bulk plus two rank-one spikes above the BBP threshold gamma^(1/4)."""
    rng = np.random.default_rng(3)
    n, m = 300, 900
    gamma = n / m
    w = rng.standard_normal((n, m)) / math.sqrt(m)
    thetas = (3.0, 5.0)
    for theta in thetas:
        u, v = rng.standard_normal(n), rng.standard_normal(m)
        w += theta * np.outer(u / np.linalg.norm(u), v / np.linalg.norm(v))
    row = htmu.analyze(_linear_with(w), progress=False).iloc[0]
    assert row["law"] == "MP+spikes" and row["phase"] == "bulk+spikes" and row["n_spikes"] == 2, row.to_dict()
    # Benaych-Georges & Nadakuditi: the outlier eigenvalue is (1 + t^2)(gamma + t^2)/t^2 for a spike t
    top = (1 + 5.0**2) * (gamma + 5.0**2) / 5.0**2
    assert row["mp_softrank"] == pytest.approx((1 + math.sqrt(gamma)) ** 2 / top, rel=0.05)


def test_norm_metrics_against_numpy_and_known_scales():
    rng = np.random.default_rng(4)
    w = rng.standard_normal((120, 500)) * 0.1
    row = htmu.analyze(_linear_with(w), progress=False, ci=False).iloc[0]
    sv = np.linalg.svd(w, compute_uv=False)
    assert row["stable_rank"] == pytest.approx(np.sum(w**2) / sv[0] ** 2, rel=1e-10)
    assert row["log_spectral_norm"] == pytest.approx(2 * np.log10(sv[0]), rel=1e-10)
    # the bulk fit recovers a known MP scale (the ensemble at kappa = inf has mean 1)
    x = 2.5 * sample_htmp_ensemble(2000, 0.3, math.inf, rng)
    assert mp_bulk_scale(x, 0.3) == pytest.approx(2.5, rel=0.02)
    assert mp_softrank(x, 0.3) == pytest.approx(1.0, abs=0.03)
    # median of MP(1) (mean 1, density sqrt((4 - x) x)/(2 pi x) on [0, 4]), by quadrature
    from scipy.integrate import quad

    med = _mp_median(1.0)
    assert quad(lambda t: math.sqrt((4 - t) * t) / (2 * math.pi * t), 0, med)[0] == pytest.approx(
        0.5, abs=1e-9
    )
    assert _mp_median(1 - 1e-9) == pytest.approx(med, rel=1e-3)  # continuous at gamma = 1
    with pytest.raises(ValueError, match="gamma"):
        mp_softrank(x, 1.5)


def test_small_square_and_diverged_matrices_are_statuses_not_exceptions():
    model = nn.ModuleDict({"tiny": nn.Linear(30, 5), "square": nn.Linear(40, 40), "bad": nn.Linear(60, 20),
                           "zero": nn.Linear(90, 30)})  # fmt: skip
    with torch.no_grad():
        model["bad"].weight[0, 0] = float("nan")
        model["zero"].weight.zero_()  # a zero-initialised layer
    df = htmu.analyze(model, progress=False, ci=False).set_index("layer")
    assert df.loc["tiny", "status"] == "too_few" and df.loc["tiny", "law"] == ""
    # a random square matrix reads MP (square: MP or MP+spikes at most, HTMP needs gamma < 1)
    assert df.loc["square", "law"] == "MP" and df.loc["square", "gamma"] == 1.0
    assert math.isfinite(df.loc["square", "stable_rank"]) and math.isfinite(df.loc["square", "mp_softrank"])
    assert df.loc["bad", "status"] == "nonfinite_weights" and df.loc["bad", "n_eigs"] == 0
    assert pd.isna(df.loc["bad", "n_spikes"]) and math.isnan(df.loc["bad", "kappa"])
    assert df.loc["zero", "status"].startswith("zero_weights") and df.loc["zero", "n_eigs"] == 30
    assert math.isnan(df.loc["zero", "stable_rank"]) and df.loc["zero", "law"] == ""
    assert list(df.reset_index().columns) == list(COLUMNS)


# ------------------------------------------------------------------------------ the study's checkpoint
def test_study_checkpoint_gives_the_study_fc1_kappa(digits_subset, tmp_path):
    """A checkpoint written by htmu.study.train: fc1's row is select_law on the study's weight spectrum."""
    from htmu.fit.selection import select_law
    from htmu.spectra import weight_spectra
    from htmu.study.train import load_checkpoint, train

    train("lenet", digits_subset, tmp_path, batch_size=16, seed=0, epochs=2, num_threads=1, device="cpu",
          log=lambda *_: None)  # fmt: skip
    ckpt = tmp_path / "model_final.pt"
    rec = weight_spectra(load_checkpoint(ckpt)[0], layers=["fc1"])[0]
    study = select_law(rec.eigenvalues, rec.gamma, ci=False)
    row = htmu.analyze(ckpt, layers="^fc1$", ci=False, progress=False).iloc[0]
    assert row["layer"] == "fc1" and row["module"] == "Linear" and row["shape"] == "120x400"
    assert row["gamma"] == rec.gamma == pytest.approx(0.3) and row["n_eigs"] == 120
    assert (row["law"], row["phase"], row["form"], row["status"]) == (
        study.law, study.phase, study.form, study.status)  # fmt: skip
    assert row["kappa"] == pytest.approx(study.kappa, rel=1e-9) or (
        math.isinf(row["kappa"]) and math.isinf(study.kappa)
    )


# ---------------------------------------------------------------------------------------- inputs
class Net(nn.Module):
    """A small conv net with a transformer encoder layer and an embedding: every kind of matrix."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(16, 48, 3)
        self.emb = nn.Embedding(300, 48)
        self.encoder = nn.TransformerEncoder(
            nn.TransformerEncoderLayer(d_model=48, nhead=4, dim_feedforward=160, batch_first=True),
            num_layers=1,
        )
        self.head = nn.Linear(48, 10)


@pytest.fixture(scope="module")
def net() -> Net:
    torch.manual_seed(5)
    return Net()


@pytest.fixture(scope="module")
def module_table(net) -> pd.DataFrame:
    return htmu.analyze(net, progress=False, workers=2)


def test_files_state_dicts_and_modules_give_the_same_table(net, module_table, tmp_path):
    from safetensors.torch import save_file

    sd = net.state_dict()
    torch.save(sd, tmp_path / "net.pt")
    save_file({k: v.contiguous() for k, v in sd.items()}, tmp_path / "net.safetensors")
    torch.save({"epoch": 3, "state_dict": sd}, tmp_path / "lightning.ckpt")
    assert list(module_table["layer"]) == [
        "conv", "emb", "encoder.layers.0.self_attn.q", "encoder.layers.0.self_attn.k",
        "encoder.layers.0.self_attn.v", "encoder.layers.0.self_attn.out_proj", "encoder.layers.0.linear1",
        "encoder.layers.0.linear2", "head",
    ]  # fmt: skip
    # with intervals for one file type (each layer's bootstrap stream is seeded by its name), without
    # for the others (the intervals are the costly part)
    others = {
        "safetensors": htmu.analyze(tmp_path / "net.safetensors", progress=False, workers=1),
        "state dict": htmu.analyze(sd, progress=False, ci=False),
        ".pt": htmu.analyze(str(tmp_path / "net.pt"), progress=False, ci=False),
        "{'state_dict'} .ckpt": htmu.analyze(tmp_path / "lightning.ckpt", progress=False, ci=False),
    }
    no_ci = htmu.analyze(net, progress=False, ci=False)
    # the module column: class names from a module, the inferred kind from a state dict
    kinds = {"Embedding": "Linear|Embedding", "Linear": "Linear|Embedding",
             "NonDynamicallyQuantizableLinear": "Linear|Embedding"}  # fmt: skip
    inferred = [kinds.get(m, m) for m in module_table["module"]]
    # safetensors keeps no order: its layers come in natural name order; align them to compare
    sf = others["safetensors"]
    enc = "encoder.layers.0."
    assert list(sf["layer"]) == ["conv", "emb", enc + "linear1", enc + "linear2", enc + "self_attn.q",
                                 enc + "self_attn.k", enc + "self_attn.v", enc + "self_attn.out_proj", "head"]  # fmt: skip
    others["safetensors"] = sf.set_index("layer").loc[module_table["layer"]].reset_index()
    for name, df in others.items():
        assert list(df["module"]) == inferred, name
        ref = module_table if name == "safetensors" else no_ci
        pd.testing.assert_frame_equal(df.drop(columns="module"), ref.drop(columns="module"), obj=name)


def test_rows_do_not_depend_on_threads_or_on_the_other_layers(net, module_table):
    """Each layer's bootstrap has its own stream: same row alone, in another order, with one thread."""
    alone = htmu.analyze(net, layers=["encoder.layers.0.linear1"], progress=False, workers=1)
    full = module_table.set_index("layer")
    pd.testing.assert_series_equal(alone.set_index("layer").iloc[0], full.loc["encoder.layers.0.linear1"])
    sub = htmu.analyze(net, layers="linear|conv", progress=False, workers=1).set_index("layer")
    assert list(sub.index) == ["conv", "encoder.layers.0.linear1", "encoder.layers.0.linear2"]
    pd.testing.assert_frame_equal(sub, full.loc[sub.index])
    assert torch.get_num_threads() == 1  # the fixture's setting, restored after the call


def test_transformer_attention_blocks_are_square(module_table):
    """q, k, v of a d_model x d_model attention are square (gamma = 1): at random init they read MP, which is
    the only family a square spectrum can have here (HTMP needs gamma < 1); norms kept."""
    attn = module_table[module_table["layer"].str.contains("self_attn")].set_index("layer")
    for part in "qkv":
        r = attn.loc[f"encoder.layers.0.self_attn.{part}"]
        assert r["shape"] == "48x48" and r["gamma"] == 1.0 and r["status"] == "ok"
        assert r["law"] in ("MP", "MP+spikes") and math.isfinite(r["stable_rank"])


def test_conv_slices_convention_in_the_table(net):
    df = htmu.analyze(net, layers="^conv$", conv="slices", ci=False, progress=False).iloc[0]
    assert df["gamma"] == pytest.approx(16 / 48) and df["n_eigs"] == 9 * 16 and df["shape"] == "48x16x3x3"
    w = net.conv.weight.detach().numpy().astype(np.float64)  # htmu works in float64
    top = max(np.linalg.svd(w[:, :, i, j], compute_uv=False)[0] ** 2 for i in range(3) for j in range(3))
    assert df["log_spectral_norm"] == pytest.approx(np.log10(top), rel=1e-10)


def test_bad_inputs_are_clear_errors(net, tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_weights(tmp_path / "missing.pt")
    torch.save(net, tmp_path / "pickled.pt")  # a whole pickled module: refused, never unpickled
    with pytest.raises(ValueError, match="weights_only=True"):
        load_weights(tmp_path / "pickled.pt")
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file at all")
    with pytest.raises(ValueError, match="cannot read as safetensors"):
        load_weights(tmp_path / "junk.safetensors")
    (tmp_path / "w.npy").write_bytes(b"")
    with pytest.raises(ValueError, match="unsupported file type"):
        load_weights(tmp_path / "w.npy")
    torch.save({"epoch": 3, "lr": 0.1}, tmp_path / "meta.pt")
    with pytest.raises(ValueError, match="no tensors"):
        load_weights(tmp_path / "meta.pt")
    with pytest.raises(ValueError, match="no weight matrices"):
        load_weights({"bias": torch.zeros(3)})
    with pytest.raises(ValueError, match="no Linear"):
        load_weights(nn.ReLU())
    with pytest.raises(TypeError, match="model_or_path"):
        load_weights(42)
    with pytest.raises(ValueError, match="matches no layer"):
        analyze_layers(net, layers="^nothing$", progress=False)
    with pytest.raises(ValueError, match="not a regular expression"):
        analyze_layers(net, layers="(", progress=False)
    with pytest.raises(ValueError, match=r"\['fc9'\]"):
        analyze_layers(net, layers=["head", "fc9"], progress=False)
    with pytest.raises(ValueError, match="conv"):
        analyze_layers(net, conv="fft", progress=False)
    with pytest.raises(ValueError, match="rng"):
        analyze_layers(net, rng=-1, progress=False)


# ----------------------------------------------------------------------------------------- the CLI
def _run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "htmu.cli", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)  # fmt: skip


def _main_err(*args: str) -> str:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        assert main(list(args)) == 2
    lines = err.getvalue().strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err.getvalue(), err.getvalue()
    return lines[0]


def test_cli_analyze_table_csv_and_figures(net, tmp_path):
    torch.save(net.state_dict(), tmp_path / "net.pt")
    proc = _run_cli("analyze", str(tmp_path / "net.pt"), "--out", str(tmp_path / "layers.csv"), "--plots",
                    str(tmp_path / "figs"), "--layers", "linear|head")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "htmu analyze" in proc.stderr and "3/3" in proc.stderr  # the tqdm bar, on stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:3] == ["layer", "module", "shape"] and "kappa [95% CI]" in lines[0]
    assert [ln.split()[0] for ln in lines[1:4]] == [
        "encoder.layers.0.linear1",
        "encoder.layers.0.linear2",
        "head",
    ]
    df = pd.read_csv(tmp_path / "layers.csv")
    assert list(df.columns) == list(COLUMNS) and len(df) == 3
    pngs = sorted(p.name for p in (tmp_path / "figs").iterdir())
    assert pngs == ["000_encoder.layers.0.linear1.png", "001_encoder.layers.0.linear2.png", "002_head.png"]


def test_cli_analyze_errors_are_one_line(net, tmp_path):
    assert "no such file" in _main_err("analyze", str(tmp_path / "missing.pt"))
    (tmp_path / "bad.pt").write_bytes(b"garbage")
    assert "cannot load with torch.load" in _main_err("analyze", str(tmp_path / "bad.pt"))
    torch.save(net.state_dict(), tmp_path / "net.pt")
    assert "matches no layer" in _main_err("analyze", str(tmp_path / "net.pt"), "--layers", "^zzz")
    h = _run_cli("analyze", "--help")
    assert h.returncode == 0
    for word in ("--out", "--plots", "--layers", "--conv", "--no-ci", "--seed", "safetensors"):
        assert word in h.stdout


# ------------------------------------------------------------------------------------- import hygiene
def test_import_and_use_leave_warnings_logging_and_backend_alone():
    """WeightWatcher silences warnings, configures logging and sets the backend on import; htmu must not.

    The third-party libraries htmu uses are imported first (what they do on import is theirs), then
    ``htmu.analyze`` is accessed and called; nothing may change.
    """
    script = textwrap.dedent(
        """
        import json, logging, warnings
        import matplotlib
        matplotlib.use("pdf")  # not the default: a matplotlib.use("Agg") anywhere would show
        import numpy, pandas, scipy.integrate, scipy.optimize, scipy.special, scipy.stats, mpmath, torch, tqdm
        import safetensors.torch

        def snapshot():
            loggers = {n: (l.level, len(l.handlers), l.propagate, l.disabled)
                       for n, l in logging.root.manager.loggerDict.items() if isinstance(l, logging.Logger)}
            return {"filters": repr(warnings.filters), "backend": matplotlib.get_backend(),
                    "root": (logging.root.level, len(logging.root.handlers)), "loggers": loggers,
                    "threads": torch.get_num_threads()}

        before = snapshot()
        import htmu
        fn = htmu.analyze
        after_import = snapshot()
        df = fn(torch.nn.Linear(90, 30), progress=False, ci=False)
        after_call = snapshot()
        import htmu.analysis
        diff = lambda a, b: {k: (a[k], b[k]) for k in a if a[k] != b[k] and k != "loggers"} | {
            "new_loggers": sorted(n for n in b["loggers"] if a["loggers"].get(n) != b["loggers"][n])}
        print(json.dumps({"callable": callable(fn) and htmu.analyze is fn, "rows": len(df),
                          "import": diff(before, after_import), "call": diff(before, after_call)}))
        """
    )
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("MPLBACKEND", None)
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["callable"] and out["rows"] == 1
    assert out["import"] == {"new_loggers": []}, out["import"]
    assert out["call"] == {"new_loggers": []}, out["call"]


def test_layer_figure_draws_mp_and_the_selected_law():
    from htmu.plotting import fig_layer_esd

    calls = []

    def pdf(law, x, **kw):
        calls.append((law, kw))
        return np.ones_like(x)

    row = {"layer": "fc1", "gamma": 0.3, "law": "HTMP-inverse", "phase": "heavy-tailed", "kappa": 2.0,
           "kappa_lo": 1.5, "kappa_hi": 2.5, "form": "inverse", "alpha": 3.33, "n_spikes": 0, "status": "ok"}  # fmt: skip
    eig = np.geomspace(0.1, 10, 50)
    fig = fig_layer_esd(eig, row, scale=0.7, mp_scale=1.2, pdf=pdf)
    assert fig.get_suptitle() == "fc1: heavy-tailed"
    assert calls == [
        ("mp", {"gamma": 0.3, "scale": 1.2}),
        ("inverse", {"gamma": 0.3, "scale": 0.7, "kappa": 2.0}),
    ]
    ax = fig.axes[0]
    labels = [ln.get_label() for ln in ax.get_lines()]
    assert labels == ["MP(γ=0.3), bulk fit", "MP edge λ₊", "selected: HTMP-inverse"]
    edge = next(ln for ln in ax.get_lines() if ln.get_label() == "MP edge λ₊")
    assert edge.get_xdata()[0] == pytest.approx(1.2 * (1 + math.sqrt(0.3)) ** 2)
    assert ax.get_xscale() == "log"
    box = ax.texts[0].get_text()
    assert "κ = 2 [1.5, 2.5] (inverse form)" in box and "α = 3.33" in box
    # an MP law is drawn with its own scale, no kappa; a row without a law says why in its title
    calls.clear()
    fig_layer_esd(
        eig, dict(row, law="MP", phase="random-like", kappa=math.inf), scale=0.9, mp_scale=1.0, pdf=pdf
    )
    assert calls[1] == ("mp", {"gamma": 0.3, "scale": 0.9})
    fig = fig_layer_esd(eig, dict(row, law="", phase="", status="too_few"), mp_scale=1.0, pdf=pdf)
    assert fig.get_suptitle() == "fc1: no law (too_few)"
