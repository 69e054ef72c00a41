"""Tests of htmu.study.figures on small synthetic inputs built here (independent of the other modules' progress)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import stats

from htmu import plotting
from htmu.stats import spearman_ci
from htmu.study import figures
from htmu.study.claims import SPECTRUM_KEYS

# ------------------------------------------------------------------------------------------ builders

FIT_DEFAULTS = {
    "dataset": "cifar10",
    "arch": "minialexnet",
    "batch_size": 1000,
    "seed": 0,
    "stage": "final",
    "epoch": 200,
    "matrix": "weight",
    "layer": "fc1",
    "gamma": 1 / 3,
    "n_eigs": 200,
    "form": "direct",
    "selected": True,
    "law": "MP",
    "phase": "random-like",
    "law_kappa": math.inf,
    "law_kappa_lo": 300.0,
    "law_kappa_hi": math.inf,
    "law_scale": 1.0,
    "n_spikes": 0,
    "alpha": math.inf,
    "law_status": "ok",
    "law_message": "",
    "mp_p": math.nan,
    "spikes_p": math.nan,
    "kappa": math.inf,
    "kappa_lo": math.nan,
    "kappa_hi": math.nan,
    "scale": 1.0,
    "loglik": 0.0,
    "ks": 0.02,
    "status": "ok",
    "test_acc": 0.6,
    "train_status": "ok",
}


def make_fits(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{**FIT_DEFAULTS, **r} for r in rows], columns=list(FIT_DEFAULTS))


def make_spectra(items: list[tuple[dict, np.ndarray]]) -> xr.Dataset:
    """Dataset in the results/spectra.nc format: eigenvalue(spectrum, k), ascending, NaN-padded."""
    kmax = max((ev.size for _, ev in items), default=0)
    eig = np.full((len(items), kmax), np.nan)
    for i, (_, ev) in enumerate(items):
        eig[i, : ev.size] = np.sort(ev)
    coords = {}
    for name in (*SPECTRUM_KEYS, "gamma", "status"):
        coords[name] = ("spectrum", [{**FIT_DEFAULTS, **meta}[name] for meta, _ in items])
    coords["n_eigs"] = ("spectrum", [ev.size for _, ev in items])
    return xr.Dataset({"eigenvalue": (("spectrum", "k"), eig)}, coords=coords)


def mp_sample(n: int, gamma: float, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
    """Eigenvalues of W Wᵀ/m, W n×m Gaussian, m = n/γ: Marchenko–Pastur MP(γ) with mean ``scale``."""
    m = int(round(n / gamma))
    w = rng.standard_normal((n, m))
    return scale * np.linalg.eigvalsh(w @ w.T / m)


def mp_pdf_closed(x: np.ndarray, gamma: float, scale: float) -> np.ndarray:
    """Marchenko–Pastur density (γ < 1, mean ``scale``), closed form."""
    a, b = scale * (1 - math.sqrt(gamma)) ** 2, scale * (1 + math.sqrt(gamma)) ** 2
    inside = (x > a) & (x < b)
    out = np.zeros_like(x, dtype=float)
    out[inside] = np.sqrt((b - x[inside]) * (x[inside] - a)) / (2 * math.pi * gamma * scale * x[inside])
    return out


class RecordingPdf:
    """Injectable density: closed-form MP, a Gamma stand-in for HTMP; records every call."""

    def __init__(self, fail_on: str | None = None):
        self.calls: list[dict] = []
        self.fail_on = fail_on

    def __call__(self, law, x, *, gamma, kappa=math.inf, scale=1.0):
        self.calls.append({"law": law, "gamma": gamma, "kappa": kappa, "scale": scale})
        if law == self.fail_on:
            raise ValueError("hypergeometric evaluation did not converge")
        if law == "mp":
            return mp_pdf_closed(np.asarray(x, float), gamma, scale)
        return stats.gamma.pdf(x, 2.0, scale=scale / 2.0)


def texts(fig) -> str:
    return "\n".join(t.get_text() for ax in fig.axes for t in ax.texts)


def visible_titles(fig) -> list[str]:
    return [ax.get_title() for ax in fig.axes if ax.get_visible()]


def law_row(law: str, kappa: float, gamma: float, **kw) -> dict:
    """The selection columns of a spectrum (phase and alpha from htmu.fit.selection's own rule)."""
    from htmu.fit.selection import phase_of, tail_exponent

    phase = kw.pop("phase", "random-like" if law == "MP" else ("bulk+spikes" if law == "MP+spikes" else
                                                               phase_of(kappa, gamma)))  # fmt: skip
    alpha = (
        math.inf
        if law.startswith("MP")
        else (tail_exponent(kappa, gamma) if math.isfinite(kappa) else math.nan)
    )
    return {"law": law, "phase": phase, "law_kappa": kappa, "alpha": alpha, **kw}


@pytest.fixture(scope="module")
def sweep():
    """MiniAlexNet-like fc1 sweep: MP, MP+spikes, bulk-decay, heavy-tailed and rank collapse as batches fall."""
    rng = np.random.default_rng(1)
    gamma = 1 / 3
    items, fit_rows = [], []
    design = {1000: ("MP", math.inf), 500: ("MP+spikes", math.inf), 250: ("HTMP-inverse", 5.5),
              100: ("HTMP-inverse", 1.9), 5: ("HTMP-direct", math.nan)}  # fmt: skip
    for bs, (law, kappa) in design.items():
        for seed in (0, 1):
            if bs == 5:
                ev = np.concatenate([np.zeros(20), rng.pareto(1.0, 180) + 1e-3])
            elif law.startswith("MP"):
                ev = mp_sample(150, gamma, rng, scale=2.0)
                if law == "MP+spikes":
                    ev[-3:] = [30.0, 50.0, 80.0]
            else:
                ev = rng.pareto(kappa, 150) + 0.1
            meta = {"batch_size": bs, "seed": seed, "status": "ok"}
            items.append((meta, ev))
            chosen = "inverse" if law == "HTMP-inverse" else "direct"
            extra = {"law_kappa_lo": kappa * 0.8, "law_kappa_hi": kappa * 1.2, "law_scale": 3.0}
            if law.startswith("MP"):
                extra = {"law_kappa_lo": 300.0, "law_kappa_hi": math.inf, "law_scale": 2.1,
                         "n_spikes": 3 if law == "MP+spikes" else 0}  # fmt: skip
            if bs == 5:
                extra = {
                    "law_kappa_lo": 0.0,
                    "law_kappa_hi": 0.01,
                    "law_scale": 3.0,
                    "phase": "rank-collapse",
                }
            extra["mp_p"], extra["spikes_p"] = (0.5, 0.5) if law == "MP" else (0.0, 0.3)
            if law.startswith("HTMP"):
                extra["law_message"] = (
                    f"{bs} outliers, bulk not MP (p = 0.001); the form's likelihood is larger"
                )
            for form in ("direct", "inverse"):
                fit_rows.append(
                    {
                        **meta,
                        **law_row(law, kappa, gamma, **extra),
                        "n_eigs": ev.size,
                        "gamma": gamma,
                        "form": form,
                        "selected": form == chosen,
                        "kappa": kappa if form == "inverse" else kappa * 2,
                        "scale": 3.0 if form == "inverse" else 7.0,
                        "test_acc": 0.5 + bs / 5000 + 0.01 * seed,
                        "train_status": "collapsed" if bs == 5 else "ok",
                    }
                )
    return make_spectra(items), make_fits(fit_rows)


# ------------------------------------------------------------------------------------------ module basics


def test_figures_leave_matplotlibs_global_state_alone(tmp_path):
    """Importing the figures, drawing one and saving it as PNG and PDF selects no backend and imports no pyplot.

    Run in a fresh interpreter: this test session has imported matplotlib already. A ``matplotlib.use`` or a
    pyplot import anywhere on the path would change the backend or leave pyplot in ``sys.modules``.
    """
    script = f"""
import json, sys
import matplotlib
backend = dict.__getitem__(matplotlib.rcParams, "backend")  # unresolved: the auto sentinel
from htmu.study import figures
from htmu.plotting import save_figure
paths = save_figure(figures.fig_structure(None), {str(tmp_path / "fig")!r}, ("png", "pdf"))
print(json.dumps({{"same_backend": dict.__getitem__(matplotlib.rcParams, "backend") is backend,
                  "pyplot": "matplotlib.pyplot" in sys.modules, "sizes": [p.stat().st_size for p in paths]}}))
"""
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1] / "src")
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["same_backend"] and not out["pyplot"]
    assert all(size > 1000 for size in out["sizes"])


def test_save_figure_writes_both_formats(tmp_path, sweep):
    spectra, fits = sweep
    fig = figures.fig_kappa_accuracy(fits, n_boot=50)  # one panel: cheap to render on a loaded machine
    paths = plotting.save_figure(fig, tmp_path / "deep" / "dir" / "kappa_accuracy")
    assert [p.suffix for p in paths] == [".png", ".pdf"]
    for p in paths:
        assert p.exists() and p.stat().st_size > 1000
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert paths[1].read_bytes()[:5] == b"%PDF-"


def test_save_figure_rejects_no_format(tmp_path):
    with pytest.raises(ValueError, match="formats"):
        plotting.save_figure(figures.fig_structure(None), tmp_path / "x", formats=())


# ------------------------------------------------------------------------------------------ Figure 2


def panel_text(ax) -> str:
    return "\n".join(t.get_text() for t in ax.texts)


def test_fig_phases_panels_descending_with_the_selections_labels(sweep):
    """Each panel names its own spectrum's selected law, κ [interval], phase, accuracy and training status."""
    spectra, fits = sweep
    fig = figures.fig_phases(spectra, fits, pdf=RecordingPdf())
    batches = (1000, 500, 250, 100, 5)
    assert visible_titles(fig) == [f"batch size {b}, seed 0" for b in batches]
    axes = [ax for ax in fig.axes if ax.get_visible()]
    expected = {
        1000: ["law: MP", "κ = ∞ [300, ∞]", "phase: random-like", "MP test p = 0.5", "test acc 0.700, training ok"],
        500: ["law: MP+spikes (3 spikes, ticks)", "κ = ∞ [300, ∞]", "phase: bulk+spikes",
              "MP test of the bulk p = 0.3", "test acc 0.600"],
        250: ["law: HTMP-inverse", "κ = 5.5 [4.4, 6.6], α = 6.5", "phase: bulk-decay", "test acc 0.550",
              "why not MP: 250 outliers, bulk not MP (p = 0.001)\n"],
        100: ["law: HTMP-inverse", "κ = 1.9 [1.52, 2.28], α = 2.9", "phase: heavy-tailed", "test acc 0.520"],
        5: ["law: HTMP-direct", "κ ≤ 0.01", "phase: rank-collapse", "training collapsed",
            "20 eigenvalues ≤ 0 not shown", "density not drawn: κ is only bounded above"],
    }  # fmt: skip
    for ax, b in zip(axes, batches, strict=True):
        t = panel_text(ax)
        for line in expected[b]:
            assert line in t, (b, line, t)
        other = {p for bb, lines in expected.items() if bb != b for p in lines if p.startswith("phase:")}
        assert not any(p in t.split("\n") for p in other - set(expected[b])), (b, t)


def test_fig_phases_draws_mp_and_the_selected_law(sweep):
    spectra, fits = sweep
    pdf = RecordingPdf()
    fig = figures.fig_phases(spectra, fits, pdf=pdf)
    refs = pdf.calls[0::2][:5]
    # one reference MP(γ) per panel at the mean eigenvalue of the seed-0 spectrum
    assert all(c["law"] == "mp" for c in refs)
    ev0 = spectra["eigenvalue"].isel(spectrum=0).values
    assert refs[0]["scale"] == pytest.approx(np.nanmean(ev0))
    selected = [c for i, c in enumerate(pdf.calls) if i % 2 == 1]
    # MP at its fitted scale; MP+spikes: the bulk's γ = γ (n − k)/n at its scale; HTMP: the selected form at κ, scale;
    # the rank-collapse panel draws nothing (κ only bounded above)
    assert [(c["law"], c["gamma"], c["kappa"], c["scale"]) for c in selected] == [
        ("mp", pytest.approx(1 / 3), math.inf, 2.1),
        ("mp", pytest.approx(1 / 3 * 147 / 150), math.inf, 2.1),
        ("inverse", pytest.approx(1 / 3), 5.5, 3.0),
        ("inverse", pytest.approx(1 / 3), 1.9, 3.0),
    ]
    ax_spikes = [ax for ax in fig.axes if ax.get_title().startswith("batch size 500")][0]
    bulk = next(
        line for line in ax_spikes.lines if line.get_label().startswith("selected: MP bulk + 3 spikes")
    )
    x = np.asarray(bulk.get_xdata())
    # the bulk carries the mass of its 147 eigenvalues: 147/150 of the closed-form MP density of the bulk
    truth = 147 / 150 * mp_pdf_closed(x, 1 / 3 * 147 / 150, 2.1)
    ok = truth > 0
    np.testing.assert_allclose(np.asarray(bulk.get_ydata())[ok], truth[ok], rtol=1e-12)
    ticks = [line for line in ax_spikes.lines if line.get_marker() == "|"]
    assert len(ticks) == 1 and sorted(ticks[0].get_xdata()) == [30.0, 50.0, 80.0]


def test_fig_phases_histogram_is_density_per_unit_lambda():
    """Bars integrate to 1 over λ and match the closed-form MP density: curves and bars share units."""
    rng = np.random.default_rng(7)
    gamma = 0.25
    ev = mp_sample(240, gamma, rng, scale=1.5)
    spectra = make_spectra([({"gamma": gamma}, ev)])
    fig = figures.fig_phases(spectra, make_fits([{"gamma": gamma}]), pdf=RecordingPdf())
    ax = fig.axes[0]
    bars = ax.patches
    heights = np.array([b.get_height() for b in bars])
    lefts = np.array([b.get_x() for b in bars])
    widths = np.array([b.get_width() for b in bars])
    assert np.sum(heights * widths) == pytest.approx(1.0, rel=1e-9)
    centres = np.sqrt(lefts * (lefts + widths))
    truth = mp_pdf_closed(centres, gamma, ev.mean())
    bulk = (centres > 0.6 * 1.5) & (centres < 2.0 * 1.5)
    assert np.median(np.abs(heights[bulk] - truth[bulk]) / truth[bulk]) < 0.15


def test_weighted_slq_spectra_use_their_weights():
    """Stochastic-Lanczos nodes carry quadrature weights: the histogram and the MP scale must use them."""
    nodes = np.geomspace(0.5, 4.0, 40)
    w = np.exp(-nodes)
    w /= w.sum()
    meta = {"gamma": 0.5, "matrix": "ntk", "stage": "init", "arch": "lenet"}
    ds = make_spectra([(meta, nodes)])
    ds["weight"] = (("spectrum", "k"), w[None, :])
    pdf = RecordingPdf()
    fig = figures.fig_phases(ds, None, arch="lenet", matrix="ntk", stage="init", layer="fc1", pdf=pdf)
    assert [c["scale"] for c in pdf.calls] == [pytest.approx(np.sum(w * nodes))]
    bars = fig.axes[0].patches
    heights = np.array([b.get_height() for b in bars])
    assert len(bars) == 10  # sqrt(40) bins, clipped to at least 10
    expected, _ = np.histogram(nodes, bins=np.geomspace(0.5, 4.0, 11), weights=w, density=True)
    assert np.allclose(heights, expected)
    fig = figures.fig_ntk(ds, None, stages=("init",), pdf=pdf)
    assert "inverse-Gamma fit: not done (weighted SLQ nodes)" in texts(fig)


def test_fig_phases_seed_selection(sweep):
    spectra, fits = sweep
    fig = figures.fig_phases(spectra, fits, seed=1, pdf=RecordingPdf())
    assert visible_titles(fig)[0] == "batch size 1000, seed 1"


def test_fig_phases_density_failure_is_shown_not_raised(sweep):
    spectra, fits = sweep
    fig = figures.fig_phases(spectra, fits, pdf=RecordingPdf(fail_on="inverse"))
    assert "selected: HTMP-inverse not drawn: ValueError" in texts(fig)


@pytest.mark.parametrize("spectra", [None, make_spectra([])])
def test_fig_phases_empty(spectra):
    fig = figures.fig_phases(spectra, None, pdf=RecordingPdf())
    assert "no data" in texts(fig)


def test_spectra_without_the_needed_coordinates_say_so(sweep):
    spectra, fits = sweep
    bare = spectra.drop_vars(["batch_size", "arch"])
    assert "spectra lack coordinates ['arch', 'batch_size']" in texts(figures.fig_phases(bare, fits))
    ntk = make_spectra([({"matrix": "ntk"}, np.linspace(0.1, 2.0, 50))]).drop_vars("arch")
    assert "spectra lack coordinates ['arch']" in texts(figures.fig_ntk(ntk, fits))


def test_fig_phases_unknown_arch_says_no_data(sweep):
    spectra, fits = sweep
    assert "no data" in texts(figures.fig_phases(spectra, fits, arch="vgg11", pdf=RecordingPdf()))


# ------------------------------------------------------------------------------------------ Figure 1


def test_fit_invgamma_lower_recovers_known_law():
    rng = np.random.default_rng(3)
    a, s = 3.0, 2.0
    x = stats.invgamma.rvs(a, scale=s, size=20000, random_state=rng)
    fit = figures.fit_invgamma_lower(x, quantile=0.5)
    assert fit.status == "ok"
    assert fit.n_used == 10000 and fit.n_total == 20000
    assert fit.shape == pytest.approx(a, rel=0.1)
    assert fit.scale == pytest.approx(s, rel=0.1)


def test_fit_invgamma_lower_ignores_the_upper_part():
    """Only the law below the threshold matters: replacing the upper half leaves the fit unchanged."""
    rng = np.random.default_rng(4)
    x = stats.invgamma.rvs(2.5, scale=1.0, size=20001, random_state=rng)  # odd size: the median is a point
    t = np.median(x)
    y = x.copy()
    y[x > t] = t + rng.exponential(50.0, size=(x > t).sum())
    fx = figures.fit_invgamma_lower(x)
    fy = figures.fit_invgamma_lower(y)
    assert fy.threshold == t
    assert fy.shape == pytest.approx(fx.shape, rel=1e-6)
    # the lower-half shape estimate has a standard error near 0.2 at this size (seen over seeds): 2.5 SE
    assert abs(fy.shape - 2.5) < 0.5
    # the untruncated fit is fooled by the replaced upper half
    a_full, _, _ = stats.invgamma.fit(y, floc=0)
    assert abs(a_full - 2.5) > 0.5


def test_fit_invgamma_lower_too_few_and_bad_quantile():
    assert figures.fit_invgamma_lower(np.array([1.0, 2.0, -1.0])).status == "too_few"
    assert figures.fit_invgamma_lower(np.array([])).status == "too_few"
    with pytest.raises(ValueError, match="quantile"):
        figures.fit_invgamma_lower(np.ones(50), quantile=0.0)


def test_fig_ntk_grid_with_fits():
    rng = np.random.default_rng(5)
    items, rows = [], []
    for arch in ("resnet9", "vgg11"):
        for stage in ("init", "final"):
            meta = {
                "arch": arch,
                "stage": stage,
                "matrix": "ntk",
                "layer": "all",
                "gamma": 0.5,
                "batch_size": 64,
            }
            items.append((meta, stats.invgamma.rvs(3.0, scale=2.0, size=300, random_state=rng)))
            for form in ("direct", "inverse"):
                rows.append({**meta, **law_row("HTMP-inverse", 2.0, 0.5), "law_kappa_lo": 1.5, "law_kappa_hi": 2.5,
                             "law_scale": 2.0, "form": form, "selected": form == "inverse",
                             "train_status": "ok" if stage == "final" else math.nan})  # fmt: skip
    pdf = RecordingPdf()
    fig = figures.fig_ntk(make_spectra(items), make_fits(rows), pdf=pdf)
    assert visible_titles(fig) == ["resnet9, init", "resnet9, final", "vgg11, init", "vgg11, final"]
    # the selected law in each panel: the inverse form at its κ and scale
    assert [(c["law"], c["kappa"], c["scale"]) for c in pdf.calls] == [("inverse", 2.0, 2.0)] * 4
    t = texts(fig)
    assert t.count("inv-Gamma shape") == 4 and t.count("law: HTMP-inverse\nκ = 2 [1.5, 2.5], α = 2") == 4
    assert t.count("phase: heavy-tailed") == 4 and t.count("test acc 0.600, training ok") == 2
    labels = [line.get_label() for ax in fig.axes for line in ax.lines]
    assert labels.count("inverse-Gamma (lowest 50%)") == 4


def test_fig_ntk_init_spectrum_finds_its_fit_without_a_batch_size():
    """The init store names the first batch size; aggregate_fits blanks it (init is shared by every batch)."""
    rng = np.random.default_rng(9)
    meta = {
        "arch": "lenet",
        "stage": "init",
        "matrix": "ntk",
        "layer": "all",
        "gamma": 0.5,
        "batch_size": 1024,
    }
    spectra = make_spectra([(meta, stats.invgamma.rvs(3.0, size=200, random_state=rng))])
    rows = [{**meta, **law_row("HTMP-inverse", 2.0, 0.5), "batch_size": math.nan, "law_scale": 2.0, "form": form,
             "selected": form == "inverse", "train_status": math.nan} for form in ("direct", "inverse")]  # fmt: skip
    pdf = RecordingPdf()
    fig = figures.fig_ntk(spectra, make_fits(rows), stages=("init",), pdf=pdf)
    assert "law: HTMP-inverse" in texts(fig) and [c["law"] for c in pdf.calls] == ["inverse"]
    # a final spectrum still needs its own batch size
    final = make_spectra([({**meta, "stage": "final"}, stats.invgamma.rvs(3.0, size=200, random_state=rng))])
    fits = make_fits([{**r, "stage": "final", "batch_size": 64} for r in rows])
    assert "no fit" in texts(figures.fig_ntk(final, fits, stages=("final",), pdf=pdf))


def test_fig_ntk_missing_stage_and_empty():
    rng = np.random.default_rng(6)
    meta = {"arch": "resnet18", "stage": "init", "matrix": "ntk"}
    fig = figures.fig_ntk(make_spectra([(meta, rng.gamma(2.0, size=100))]), None, pdf=RecordingPdf())
    assert "no final NTK spectrum" in texts(fig)
    assert "no fit" in texts(fig)
    assert "no data" in texts(figures.fig_ntk(None, None))
    assert "no data" in texts(figures.fig_ntk(make_spectra([]), make_fits([])))


# ------------------------------------------------------------------------------------------ κ vs accuracy


def test_fig_kappa_accuracy_legend_matches_spearman(sweep):
    _, fits = sweep
    fig = figures.fig_kappa_accuracy(fits, seed=0, n_boot=200)
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert labels[0].startswith("minialexnet fc1: ρ = ")
    # independent truth: the selected rows of networks that learned; MP laws at +inf (collapsed batch 5 left out)
    learned = fits[fits["selected"] & (fits["train_status"] == "ok")]
    kappa = np.where(learned["law"].str.startswith("MP"), np.inf, learned["law_kappa"])
    rho, lo, hi, _ = spearman_ci(kappa, learned["test_acc"].to_numpy(), np.random.default_rng(0), n_boot=200)
    assert (
        labels[0] == f"minialexnet fc1: ρ = {rho:+.2f} [{lo:+.2f}, {hi:+.2f}] (n={len(learned)})"
        and len(learned) == 8
    )
    assert [lab for lab in labels[1:]] == ["law MP", "law MP+spikes", "law HTMP-direct", "law HTMP-inverse",
                                          "hollow, *: training not ok (not in ρ)"]  # fmt: skip
    assert "not in ρ: 2 collapsed" in texts(fig)
    # every spectrum is drawn: 8 that learned, 2 collapsed (hollow, on the rank-collapse line)
    points = [c for c in fig.axes[0].collections if len(c.get_offsets())]
    assert sum(len(c.get_offsets()) for c in points) == 10
    hollow = [c for c in points if len(c.get_facecolors()) == 0 or c.get_facecolors()[0][3] == 0]
    assert sum(len(c.get_offsets()) for c in hollow) == 2


@pytest.mark.parametrize(
    "fits",
    [
        None,
        make_fits([]),
        make_fits(
            [
                {
                    "status": "no_convergence",
                    "kappa": math.nan,
                    "law": "",
                    "phase": "",
                    "law_kappa": math.nan,
                    "law_status": "no_fit",
                }
            ]
        ),
    ],
)
def test_fig_kappa_accuracy_no_data(fits):
    assert "no data" in texts(figures.fig_kappa_accuracy(fits))


# ------------------------------------------------------------------------------------------ theory figures


def test_fig_ensemble_with_ks():
    rng = np.random.default_rng(8)
    cases = [(0.5, 2.0), (0.25, 10.0)]
    eig = np.stack([rng.gamma(2.0, 0.5, size=500) for _ in cases])
    ds = xr.Dataset(
        {"eigenvalue": (("case", "k"), eig)},
        coords={"gamma": ("case", [g for g, _ in cases]), "kappa": ("case", [k for _, k in cases])},
    )
    rows = pd.DataFrame(
        {
            "gamma": [0.5, 0.5, 0.25],
            "kappa": [2.0, 2.0, 10.0],
            "draw": [0, 1, 0],
            "ks_vs_htmp": [0.01, 0.03, 0.005],
            "kappa_hat": [2.1, 1.9, 9.5],
            "kappa_lo": [1.5, 1.4, 8.0],
            "kappa_hi": [2.7, 2.5, 11.0],
            "status": "ok",
        }
    )
    pdf = RecordingPdf()
    fig = figures.fig_ensemble(rows, ds, pdf=pdf)
    assert visible_titles(fig) == ["γ = 0.5, κ = 2", "γ = 0.25, κ = 10"]
    assert "KS median 0.0200 (2 draws)" in texts(fig) and "KS median 0.0050 (1 draws)" in texts(fig)
    assert [(c["law"], c["gamma"], c["kappa"]) for c in pdf.calls] == [
        ("direct", 0.5, 2.0),
        ("direct", 0.25, 10.0),
    ]
    assert "no data" in texts(figures.fig_ensemble(None, None))
    assert "no KS rows" in texts(figures.fig_ensemble(None, ds, pdf=pdf))


def test_fig_estimator():
    summary = pd.DataFrame(
        {
            "n": [100, 300, 1000] * 2,
            "kappa": [2.0] * 3 + [8.0] * 3,
            "bias": [0.3, 0.1, 0.02, 1.0, 0.5, 0.1],
            "relative_bias": [0.15, 0.05, 0.01, 0.125, 0.06, 0.01],
            "coverage": [0.9, 0.93, 0.95, 0.88, 0.92, 0.94],
            "coverage_lo": [0.85, 0.9, 0.93, 0.83, 0.88, 0.92],
            "coverage_hi": [0.94, 0.96, 0.97, 0.92, 0.95, 0.96],
        }
    )
    fig = figures.fig_estimator(summary)
    ax_b, ax_c = fig.axes
    assert ax_b.get_legend_handles_labels()[1] == ["kappa=2", "kappa=8"]
    assert "nominal 0.95" in ax_c.get_legend_handles_labels()[1]
    assert ax_b.get_ylabel() == "relative bias (κ̂ − κ)/κ"
    assert np.allclose(ax_b.lines[0].get_ydata(), [0.15, 0.05, 0.01])
    assert any(np.allclose(line.get_ydata(), 0.95) for line in ax_c.lines)
    assert texts(figures.fig_estimator(None)).count("no data") == 2


def test_fig_structure():
    rows = pd.DataFrame(
        {
            "structure": ["block"] * 3 + ["circulant"] * 2,
            "param": [1, 2, 3, 1, 2],
            "freedom": [0.1, 0.5, 1.0, 0.2, 1.0],
            "kappa": [math.nan, 3.0, math.inf, 1.0, 8.0],
            "kappa_lo": [0.0, 2.0, 300.0, 0.7, 6.0],
            "kappa_hi": [0.01, 4.5, math.inf, 1.4, 11.0],
            "law": ["HTMP-direct", "HTMP-direct", "MP", "HTMP-inverse", "HTMP-direct"],
            "phase": ["rank-collapse", "heavy-tailed", "random-like", "heavy-tailed", "bulk-decay"],
            "form": ["direct", "direct", "direct", "inverse", "direct"],
        }
    )
    fig = figures.fig_structure(rows)
    ax = fig.axes[0]
    assert ax.get_legend_handles_labels()[1] == ["block", "circulant"]
    assert "no data" not in texts(fig)
    # MP on the κ = ∞ line above the data, the rank collapse on the line below
    lo, hi = ax.get_ylim()
    from matplotlib.collections import PathCollection

    ys = sorted(float(y) for c in ax.collections if isinstance(c, PathCollection) for _, y in c.get_offsets())
    assert ys == pytest.approx([1.0 / 3.0, 1.0, 3.0, 8.0, 24.0])  # κ → 0 at min/3, ∞ at max·3
    assert lo < ys[0] and ys[-1] < hi
    assert "no data" in texts(figures.fig_structure(rows.iloc[:0]))


def test_fig_correlation():
    """Theory's table: tail_alpha_out_lo/hi interval columns, tail_status, theory input tail 1 + 1/α."""
    alpha = np.array([0.5, 1.0, 2.0, 1.0])
    rows = pd.DataFrame(
        {
            "alpha_in": alpha,
            "tail_alpha_in_theory": 1 + 1 / alpha,
            "tail_alpha_in": 1 + 1 / alpha + 0.05,
            "tail_alpha_out": [3.1, 2.1, 1.6, math.nan],
            "tail_alpha_out_lo": [2.8, 1.9, 1.4, math.nan],
            "tail_alpha_out_hi": [3.4, 2.3, 1.8, math.nan],
            "activation": "linear",
            "kappa": [2.0, 2.1, 1.9, 2.0],
            "tail_status": ["ok", "ok", "ok", "too_few"],
        }
    )
    fig = figures.fig_correlation(rows)
    ax = fig.axes[0]
    assert "1 rows without an ok tail fit omitted" in texts(fig)
    labels = ax.get_legend_handles_labels()[1]
    assert sorted(labels) == [
        "input tail exponent (measured)",
        "input tail exponent (theory)",
        "output tail (activation = linear)",
    ]
    ref = next(line for line in ax.lines if line.get_label() == "input tail exponent (theory)")
    assert np.allclose(ref.get_ydata(), 1 + 1 / np.asarray(ref.get_xdata()))
    assert "no data" in texts(figures.fig_correlation(None))


def test_fig_scaling_draws_measured_derived_and_claimed_slopes():
    from htmu.study import experiments

    setup = {
        k: v
        for k, v in experiments.EXPERIMENTS["scaling"].defaults().items()
        if k in ("ratio", "d", "sigma", "spectrum")
    }
    raw = experiments.scaling_experiment(
        [(1.0, 0.5, 0.9)], (200, 400, 800), 2, np.random.default_rng(0), **setup
    )
    exps = experiments.scaling_exponents(raw, n_max_theory=1e6, points=5)
    fig = figures.fig_scaling(raw, exps)
    assert len(fig.axes) == 3
    ax_err, ax_prop, ax_fixed = fig.axes
    assert ax_prop.get_title() == "p = 0.1·n, direct form, σ = 0"
    assert ax_fixed.get_title() == "fixed d = 50, inverse form, σ = 0.1"
    assert "Verdict: not testable as stated" in fig._suptitle.get_text()

    def level(ax, style):
        return sorted({round(float(line.get_ydata()[0]), 6) for line in ax.lines
                       if line.get_linestyle() == style and len(line.get_ydata())})  # fmt: skip

    # dotted: derived −ℓ(1 + q) = −1.35 (q = 0.5) and −min(2ℓ, 1) = −1; dashed: claimed −ℓ(2 + q) = −2.25;
    # dash-dot: the bound −2ℓ = −1.8
    assert level(ax_prop, ":") == [-1.35] and level(ax_fixed, ":") == [-1.0]
    assert level(ax_prop, "--") == level(ax_fixed, "--") == [-2.25]
    assert level(ax_prop, "-.") == [-1.8]
    # the solid curve is the equivalent's local slope out to n = 1e6; the points are the measured slopes
    curve = next(line for line in ax_prop.lines if line.get_linestyle() == "-" and len(line.get_xdata()) == 5)
    th = exps[(exps.kind == "theory") & (exps.setup == "proportional")]
    np.testing.assert_allclose(curve.get_ydata(), th["slope"])
    assert max(curve.get_xdata()) == pytest.approx(1e6)
    sim = exps[(exps.kind == "simulation") & (exps.setup == "proportional")]
    points = next(c for c in ax_prop.containers)
    np.testing.assert_allclose(points.lines[0].get_ydata(), sim["slope"])
    assert ax_err.get_yscale() == "log" and len(ax_err.get_legend().get_texts()) == 3
    assert texts(figures.fig_scaling(None, None)).count("no data") == 2


@pytest.mark.parametrize(
    "fn",
    [
        lambda: figures.fig_estimator(pd.DataFrame()),
        lambda: figures.fig_structure(pd.DataFrame()),
        lambda: figures.fig_correlation(pd.DataFrame()),
        lambda: figures.fig_scaling(pd.DataFrame(), pd.DataFrame()),
        lambda: figures.fig_ensemble(pd.DataFrame(), xr.Dataset()),
    ],
)
def test_empty_frames_give_no_data_and_save(fn, tmp_path):
    fig = fn()
    assert "no data" in texts(fig)
    for p in plotting.save_figure(fig, tmp_path / "empty"):
        assert p.stat().st_size > 0


# ------------------------------------------------------------------------------------------ package laws


def test_package_pdf_wiring_against_closed_forms():
    """The default densities pass γ, κ and scale in the right places (MP closed form; change of variables)."""
    pytest.importorskip("htmu.laws")
    x = np.linspace(0.3, 2.5, 12)
    assert np.allclose(
        plotting.package_pdf("mp", x, gamma=0.25, scale=1.3), mp_pdf_closed(x, 0.25, 1.3), rtol=1e-8
    )
    gamma, kappa, c = 0.3255, 5.5, 2.0
    rho = plotting.package_pdf("direct", c / x, gamma=gamma, kappa=kappa, scale=1.0)
    # Λ = c/X with X ~ HTMP(γ, κ): f_Λ(λ) = c/λ² ρ(c/λ)
    inv = plotting.package_pdf("inverse", x, gamma=gamma, kappa=kappa, scale=c)
    assert np.allclose(inv, c / x**2 * rho, rtol=1e-6)
    # a direct-form scale s: f(x) = ρ(x/s)/s
    direct = plotting.package_pdf("direct", x, gamma=gamma, kappa=kappa, scale=c)
    assert np.allclose(direct, plotting.package_pdf("direct", x / c, gamma=gamma, kappa=kappa) / c, rtol=1e-6)
    with pytest.raises(ValueError, match="law"):
        plotting.package_pdf("wishart", x, gamma=0.5)
