"""Tests of ``htmu fit`` through a subprocess (``python -m htmu.cli``)."""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from htmu.cli import main
from htmu.ensembles import sample_htmp_ensemble

SRC = str(Path(__file__).resolve().parents[1] / "src")


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, "-m", "htmu.cli", *args], capture_output=True, text=True, env=env, timeout=timeout
    )


def assert_one_line_error(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for w in words:
        assert w in lines[0], lines[0]


def _main_json(*args: str) -> dict:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(list(args)) == 0
    return json.loads(out.getvalue())


@pytest.fixture(scope="module")
def spectrum() -> np.ndarray:
    return 2.0 * sample_htmp_ensemble(300, 0.3255, 5.5, np.random.default_rng(0))


def test_help_documents_fit():
    top = run_cli("--help")
    assert top.returncode == 0 and "fit" in top.stdout
    h = run_cli("fit", "--help")
    assert h.returncode == 0
    for word in ("--gamma", "--form", "--method", "--no-ci", "--seed", "--select", ".nc", "inverse"):
        assert word in h.stdout


def test_bad_inputs_are_one_line_errors(tmp_path, spectrum):
    # one subprocess for the real entry point, the rest in-process through main() (same code path)
    assert_one_line_error(
        run_cli("fit", str(tmp_path / "missing.npy"), "--gamma", "0.3", "--form", "direct"), "no such file"
    )
    good = tmp_path / "x.npy"
    np.save(good, spectrum)
    bad = tmp_path / "bad.txt"
    np.savetxt(bad, np.concatenate([spectrum, [np.nan]]))
    neg = tmp_path / "neg.npy"
    np.save(neg, np.concatenate([spectrum, [-1.0]]))
    other = tmp_path / "x.csv"
    other.write_text("1\n2\n")
    cases = [
        ([str(good), "--gamma", "1.5"], "gamma"),
        ([str(bad), "--gamma", "0.3"], "NaN"),
        ([str(neg), "--gamma", "0.3"], "negative"),
        ([str(other), "--gamma", "0.3"], "unsupported"),
        ([str(good), "--gamma", "0.3", "--select", "layer=fc1"], ".nc files only"),
    ]
    for args, word in cases:
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = main(["fit", *args, "--form", "direct"])
        assert code == 2
        lines = err.getvalue().strip().splitlines()
        assert len(lines) == 1 and word in lines[0], err.getvalue()
    # argparse's own usage errors (missing --form) also exit with 2
    with pytest.raises(SystemExit) as exc, contextlib.redirect_stderr(io.StringIO()):
        main(["fit", str(good), "--gamma", "0.3"])
    assert exc.value.code == 2


def test_too_few_reported_as_status(tmp_path):
    f = tmp_path / "few.txt"
    np.savetxt(f, np.linspace(0.5, 1.5, 10))
    out = _main_json("fit", str(f), "--gamma", "0.3", "--form", "direct", "--no-compare")
    assert out["fit"]["status"] == "too_few" and out["fit"]["kappa"] == "nan"


def _write_nc(path: Path, spectra: dict[str, np.ndarray]) -> None:
    import xarray as xr

    n = max(v.size for v in spectra.values())
    data = np.full((len(spectra), n), np.nan)
    for i, v in enumerate(spectra.values()):
        data[i, : v.size] = v
    ds = xr.Dataset(
        {"eigenvalue": (("layer", "index"), data)},
        coords={"layer": list(spectra), "index": np.arange(n)},
    )
    ds.to_netcdf(path, engine="netcdf4")


def test_nc_with_several_spectra_needs_select(tmp_path, spectrum):
    f = tmp_path / "spectra.nc"
    _write_nc(f, {"fc1": spectrum, "fc2": spectrum[:50]})
    p = run_cli("fit", str(f), "--gamma", "0.3255", "--form", "direct")
    assert_one_line_error(p, "holds 2 spectra", "layer (fc1, fc2)", "--select")
    for sel, words in (("layer=conv9", ("conv9", "fc1")), ("depth=1", ("depth",))):
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            assert main(["fit", str(f), "--gamma", "0.3", "--form", "direct", "--select", sel]) == 2
        line = err.getvalue().strip()
        assert "\n" not in line and all(w in line for w in words), line


def test_fit_npy_txt_nc_agree(tmp_path, spectrum):
    # The same spectrum through the three readers: identical JSON fits (NaN padding dropped in .nc).
    npy, txt, nc = tmp_path / "x.npy", tmp_path / "x.txt", tmp_path / "x.nc"
    np.save(npy, spectrum)
    np.savetxt(txt, spectrum, fmt="%.17g")
    _write_nc(nc, {"fc1": spectrum, "fc2": spectrum[:50]})
    common = ["--gamma", "0.3255", "--form", "direct", "--method", "moments", "--seed", "3"]
    p = run_cli("fit", str(npy), *common)
    assert p.returncode == 0, p.stderr
    full = json.loads(p.stdout)
    # the comparison is htmu.select_law's decision with its evidence and both forms' fits
    cmp = full["comparison"]
    assert {"law", "phase", "kappa", "kappa_ci", "n_spikes", "alpha", "evidence", "fits"} <= set(cmp)
    assert cmp["law"] in ("MP", "MP+spikes", "HTMP-direct", "HTMP-inverse") and cmp["status"] == "ok"
    assert set(cmp["fits"]) == {"direct", "inverse"}
    assert [r["candidate"] for r in cmp["evidence"]][:2] == ["MP", "MP+spikes"]
    fits = [full["fit"]]
    fits.append(_main_json("fit", str(txt), *common, "--no-compare")["fit"])
    fits.append(_main_json("fit", str(nc), *common, "--no-compare", "--select", "layer=fc1")["fit"])
    assert fits[0] == fits[1] == fits[2]
    fit = fits[0]
    assert fit["n"] == 300 and fit["method"] == "moments" and fit["form"] == "direct"
    assert fit["kappa_ci"][0] < 5.5 < fit["kappa_ci"][1]


def test_fit_mle_default_and_seed_reproducible(tmp_path, spectrum):
    f = tmp_path / "x.npy"
    np.save(f, spectrum)
    a = run_cli("fit", str(f), "--gamma", "0.3255", "--form", "direct", "--seed", "1", "--no-compare")
    assert a.returncode == 0, a.stderr
    fa = json.loads(a.stdout)["fit"]
    fb = _main_json("fit", str(f), "--gamma", "0.3255", "--form", "direct", "--seed", "1", "--no-compare")[
        "fit"
    ]
    # Same seed, same numbers; compared to 1e-6 because BLAS may round differently across processes
    # (thread count), which the simplex can amplify slightly.
    assert fa["method"] == fb["method"] == "mle" and fa["status"] == fb["status"] == "ok", (fa, fb)
    for key in ("kappa", "scale", "loglik", "ks", "kappa_debiased"):
        assert fa[key] == pytest.approx(fb[key], rel=1e-6), key
    assert fa["kappa_ci"] == pytest.approx(fb["kappa_ci"], rel=1e-6)
    assert fa["kappa_ci"][0] < 5.5 < fa["kappa_ci"][1]
    fc = _main_json("fit", str(f), "--gamma", "0.3255", "--form", "inverse", "--no-ci", "--no-compare")["fit"]
    assert fc["form"] == "inverse" and fc["kappa_ci"] == ["nan", "nan"]


# ------------------------------------------------------------------------------------------------------------
# inputs refused or handled, never reinterpreted (issue 14)


def _error(*args: str) -> str:
    """The one-line error of ``htmu fit ARGS`` (in-process; exit code 2)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["fit", *args])
    lines = err.getvalue().strip().splitlines()
    assert code == 2 and len(lines) == 1, err.getvalue()
    assert lines[0].startswith("htmu fit: error: "), lines[0]
    return lines[0].removeprefix("htmu fit: error: ")


FAST = ["--gamma", "0.3255", "--form", "direct", "--method", "moments", "--no-ci", "--no-compare"]


def test_arrays_that_are_not_one_real_spectrum_are_refused(tmp_path, spectrum):
    files = {
        "x2d.npy": lambda f: np.save(f, spectrum.reshape(3, 100)),
        "x2d.txt": lambda f: np.savetxt(f, spectrum.reshape(100, 3)),
        "c.npy": lambda f: np.save(f, spectrum + 0j),
        "c.txt": lambda f: np.savetxt(f, spectrum + 1e-3j),
        "m.npy": lambda f: np.ma.masked_array(spectrum, mask=spectrum > 3).dump(f),
        "o.npy": lambda f: np.save(f, spectrum.astype(object), allow_pickle=True),
        "x.npz": lambda f: np.savez(f, spectrum),
        "s.npy": lambda f: np.save(f, np.float64(3.0)),
    }
    for name, write in files.items():
        write(tmp_path / name)
    flat = "not one spectrum; pass a 1-D array of one spectrum's eigenvalues, or --flatten to pool all"
    cplx = (
        "eigenvalues of a symmetric matrix are real: save the real part (numpy.real) if that is what you mean"
    )
    pickled = (
        "not a plain .npy array but pickled Python objects (e.g. a masked array), which htmu does not unpickle; "
        "save the values themselves: numpy.save(path, values) (values.compressed() for a masked array)"
    )
    expected = {
        "x2d.npy": f"a 2-D array of shape (3, 100), {flat} 300 values into one spectrum",
        "x2d.txt": f"a 2-D array of shape (100, 3), {flat} 300 values into one spectrum",
        "c.npy": f"complex values (dtype complex128); {cplx}",
        "c.txt": f"complex values (dtype complex128); {cplx}",
        "m.npy": pickled,
        "o.npy": pickled,
        "x.npz": "unsupported file type '.npz' (use .npy, .txt or .nc); save one spectrum with "
        "numpy.save(path, values) (values.compressed() for a masked array)",
        "s.npy": f"a 0-D array of shape (), {flat} 1 values into one spectrum",
    }
    for name, message in expected.items():
        assert _error(str(tmp_path / name), *FAST) == f"{tmp_path / name}: {message}"
    # one real subprocess: no traceback, exit code 2
    assert_one_line_error(run_cli("fit", str(tmp_path / "x2d.npy"), *FAST), "--flatten")


def test_flatten_pools_on_request(tmp_path, spectrum):
    np.save(tmp_path / "x2d.npy", spectrum.reshape(3, 100))
    np.save(tmp_path / "x.npy", spectrum)
    pooled = _main_json("fit", str(tmp_path / "x2d.npy"), *FAST, "--flatten")["fit"]
    assert pooled == _main_json("fit", str(tmp_path / "x.npy"), *FAST)["fit"]
    assert pooled["n"] == 300


def test_invalid_estimator_arguments_are_one_line_errors(tmp_path, spectrum):
    f = str(tmp_path / "x.npy")
    np.save(f, spectrum)
    for b in ("0", "1", "4", "-3"):
        assert (
            _error(f, *FAST, "--boot", b) == f"--boot {b}: the interval needs at least 5 bootstrap replicates"
        )
    assert _error(f, *FAST, "--seed", "-1") == "--seed -1: a seed is an integer >= 0"
    assert _error(f, *FAST[:-4], "--gamma", "1.5") == "gamma must lie in (0, 1), got 1.5"
    # the smallest valid --boot is the estimator's own minimum
    out = _main_json("fit", f, "--gamma", "0.3255", "--form", "direct", "--method", "moments", "--boot", "5")
    assert out["fit"]["n_boot"] == 5 and out["fit"]["status"] == "ok"


def test_all_equal_spectrum_is_degenerate_not_mp(tmp_path):
    f = tmp_path / "const.txt"
    np.savetxt(f, np.full(500, 2.5))
    out = _main_json("fit", str(f), "--gamma", "0.3255", "--form", "direct")
    assert out["fit"]["status"] == "degenerate" and out["fit"]["kappa"] == "nan"
    assert out["comparison"]["status"] == "degenerate" and out["comparison"]["law"] == ""


def test_comparison_is_select_law(tmp_path, spectrum):
    # htmu fit's comparison is select_law's decision on the same spectrum and seed; its fit is fit_htmp's.
    from htmu.fit.estimate import fit_htmp
    from htmu.fit.selection import select_law

    f = tmp_path / "x.npy"
    for x, form in ((spectrum, "direct"), (1.0 / spectrum, "inverse")):
        np.save(f, x)
        out = _main_json("fit", str(f), "--gamma", "0.3255", "--form", form, "--seed", "4")
        fit = fit_htmp(x, 0.3255, form=form, rng=np.random.default_rng(4), ci=True).to_dict()
        sel = select_law(x, 0.3255, rng=np.random.default_rng(4), ci=True).to_dict()
        assert out["fit"] == _jsonable(fit)
        assert out["comparison"] == _jsonable(sel)


def _jsonable(d):
    from htmu.cli import _jsonable as conv

    return json.loads(json.dumps(conv(d)))


# ------------------------------------------------------------------------------------------------------------
# --select on htmu's own stores (htmu.study.stores layout: eigenvalue(spectrum, k), NaN-padded)


@pytest.fixture(scope="module")
def store(tmp_path_factory, spectrum) -> tuple[Path, dict]:
    from htmu.spectra import SpectrumRecord
    from htmu.study.stores import spectra_to_dataset, write_netcdf

    rng = np.random.default_rng(5)
    eig = {
        "fc1": spectrum,
        "fc2": np.sort(sample_htmp_ensemble(120, 0.5, 3.0, rng)),
        "ntk": np.sort(sample_htmp_ensemble(60, 0.1, 8.0, rng)),
    }
    records = [
        SpectrumRecord("weight", "fc1", eig["fc1"], 0.3255, 300, 922, "eig(W W^T)"),
        SpectrumRecord("weight", "fc2", eig["fc2"], 0.5, 120, 240, "eig(W W^T), W: out x in"),
        SpectrumRecord("ntk", "all", eig["ntk"], 0.1, 60, 600, "eig(J J^T)"),
        SpectrumRecord("hessian", "fc2", eig["fc2"][-40:], math.nan, 40, 40, "eig(H)", method="lanczos"),
        SpectrumRecord(
            "hessian",
            "fc2",
            eig["fc2"][:30],
            math.nan,
            30,
            30,
            "eig(H)",
            method="slq",
            weights=np.full(30, 1 / 30),
        ),  # fmt: skip
        SpectrumRecord(
            "weight", "fc1", np.array([]), 0.3255, 300, 922, "eig(W W^T)", status="nonfinite_weights"
        ),
    ]
    stages = ["final"] * 5 + ["diverged"]
    path = tmp_path_factory.mktemp("store") / "final.nc"
    write_netcdf(spectra_to_dataset(records, coords={"arch": "lenet", "stage": stages, "seed": 0}), path)
    return path, eig


def test_select_any_store_coordinate_picks_one_spectrum(tmp_path, store):
    path, eig = store
    for name, sel in (
        ("fc1", ["layer=fc1", "stage=final"]),
        ("fc1", ["layer=fc1", "status=ok"]),
        ("fc2", ["layer=fc2", "matrix=weight"]),
        ("fc2", ["gamma=0.5"]),
        ("ntk", ["matrix=ntk", "arch=lenet", "seed=0"]),
        ("ntk", ["spectrum=2"]),
        ("ntk", ["n_rows=60"]),
    ):
        np.save(tmp_path / "ref.npy", eig[name])
        ref = _main_json("fit", str(tmp_path / "ref.npy"), *FAST)["fit"]
        args = [a for s in sel for a in ("--select", s)]
        got = _main_json("fit", str(path), *FAST, *args)["fit"]
        assert got == ref, sel  # the very eigenvalues of that record, padding dropped, nothing else


def test_select_refusals_name_what_varies(store):
    path, _ = store
    every = "gamma, floor, matrix, layer, method, status, convention, n_rows, n_cols, n_eigs, rank, arch, stage, seed, spectrum"
    cases = {
        (
            "k=3",
        ): f"--select k=3: 'k' runs along the eigenvalues of each spectrum (dimension 'k'), it does not "
        f"choose a spectrum; select by {every}",
        ("spectrum=99",): "--select spectrum=99: spectrum has no coordinate values, only positions 0..5",
        ("layer=conv9",): "--select layer=conv9: no spectrum has it; layer takes the values all, fc1, fc2",
        ("depth=1",): f"--select depth=1: {path} has no coordinate 'depth'; it has {every}",
        ("seed=x",): "--select seed=x: seed holds integers",
        ("layer=fc1", "layer=fc2"): "--select layer given twice ('fc1' and 'fc2'); give each name once",
        ("layer",): "--select expects NAME=VALUE, got 'layer'",
        (
            "matrix=ntk",
            "layer=fc1",
        ): f"{path}: no spectrum has all of matrix=ntk layer=fc1 (each value exists, not together)",
        (
            "layer=fc1",
        ): f"{path}: the selection layer=fc1 leaves 2 spectra; choose one with --select NAME=VALUE on "
        "what still varies: status (nonfinite_weights, ok); n_eigs (0, 300); stage (diverged, final); "
        "spectrum (0, 5) (or --flatten to pool them)",
        (
            "matrix=hessian",
        ): f"{path}: the selection matrix=hessian leaves 2 spectra; choose one with --select "
        "NAME=VALUE on what still varies: method (lanczos, slq); n_rows (30, 40); n_cols (30, 40); "
        "n_eigs (30, 40); rank (30, 40); spectrum (3, 4) (or --flatten to pool them)",
        (
            "method=slq",
        ): f"{path} [spectrum=4]: has quadrature weights: its values are Lanczos quadrature nodes "
        "(method slq), not the eigenvalues of the matrix",
        ("method=lanczos",): f"{path} [spectrum=3]: method 'lanczos': a partial spectrum (top eigenvalues or "
        "quadrature nodes), not all eigenvalues of the matrix, which the fit needs",
        (
            "stage=diverged",
        ): f"{path} [spectrum=5]: status 'nonfinite_weights' in the store: it holds no valid "
        "eigenvalues to fit",
    }
    for sel, message in cases.items():
        args = [a for s in sel for a in ("--select", s)]
        assert _error(str(path), *FAST, *args) == message, sel
    whole = _error(str(path), *FAST)
    assert whole.startswith(
        f"{path} holds 6 spectra; choose one with --select NAME=VALUE on what still varies: "
    )
    assert "matrix (hessian, ntk, weight); layer (all, fc1, fc2)" in whole
    # a convention with commas is quoted in the listing
    assert "convention (eig(H), eig(J J^T), eig(W W^T), 'eig(W W^T), W: out x in')" in whole
    assert_one_line_error(run_cli("fit", str(path), *FAST, "--select", "spectrum=99"), "positions 0..5")


def test_flatten_pools_selected_spectra(tmp_path, store):
    path, eig = store
    np.save(tmp_path / "ref.npy", np.concatenate([eig["fc1"], eig["fc2"]]))
    ref = _main_json("fit", str(tmp_path / "ref.npy"), *FAST)["fit"]
    sel = ["--select", "matrix=weight", "--select", "status=ok"]
    assert _main_json("fit", str(path), *FAST, *sel, "--flatten")["fit"] == ref
    # pooling never takes in a record that is not a full exact spectrum
    assert "nonfinite_weights" in _error(str(path), *FAST, "--select", "matrix=weight", "--flatten")


def test_nan_only_as_trailing_padding(tmp_path, spectrum):
    import xarray as xr

    data = np.full((2, 310), np.nan)
    data[0, :300] = spectrum
    data[1, :100] = spectrum[:100]
    data[1, 50] = np.nan  # not padding: inside the spectrum
    generic = tmp_path / "generic.nc"
    xr.Dataset({"eigenvalue": (("layer", "index"), data)}, coords={"layer": ["fc1", "fc2"]}).to_netcdf(
        generic
    )
    assert _main_json("fit", str(generic), *FAST, "--select", "layer=fc1")["fit"]["n"] == 300
    assert _error(str(generic), *FAST, "--select", "layer=fc2") == (
        f"{generic} [layer=1]: NaN inside the spectrum (value 50 of 100); only trailing NaN is read as padding"
    )
    # a store whose n_eigs disagrees with its padding is refused, not trimmed
    from htmu.spectra import SpectrumRecord
    from htmu.study.stores import read_spectra, spectra_to_dataset, write_netcdf

    ds = spectra_to_dataset([SpectrumRecord("weight", "fc1", spectrum, 0.3255, 300, 922, "eig(W W^T)")])
    ds = ds.assign_coords(n_eigs=("spectrum", [250]))
    write_netcdf(ds, tmp_path / "bad.nc")
    assert read_spectra(tmp_path / "bad.nc").sizes["k"] == 300
    assert _error(str(tmp_path / "bad.nc"), *FAST) == (
        f"{tmp_path / 'bad.nc'} [spectrum=0]: NaN inside the spectrum (value 250 of 250); only trailing NaN is read "
        "as padding"
    )


# ------------------------------------------------------------------------------------------------------------
# progress


def _run_main(*args: str) -> tuple[dict, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert main(list(args)) == 0, err.getvalue()
    return json.loads(out.getvalue()), err.getvalue()


def test_progress_above_1e4_eigenvalues_only(tmp_path):
    from htmu.cli import PROGRESS_MIN_EIGENVALUES

    rng = np.random.default_rng(0)
    small, large = tmp_path / "small.npy", tmp_path / "large.npy"
    np.save(small, rng.gamma(2.0, size=PROGRESS_MIN_EIGENVALUES))
    np.save(large, rng.gamma(2.0, size=PROGRESS_MIN_EIGENVALUES + 1))
    out, err = _run_main("fit", str(large), *FAST)
    assert out["fit"]["n"] == 10_001  # stdout stays plain JSON
    assert "htmu fit: 10001 eigenvalues, about" in err and "100%" in err, err
    assert _run_main("fit", str(small), *FAST)[1] == ""
    assert _run_main("fit", str(large), *FAST, "--no-progress")[1] == ""
    out, err = _run_main("fit", str(small), *FAST[:-2], "--progress")  # with the comparison of laws
    assert "htmu fit: 10000 eigenvalues" in err and "comparison of laws" in err and "100%" in err, err
    assert "comparison" in out


@pytest.mark.filterwarnings("error::tqdm.TqdmWarning")  # a bar pushed past its total warns
def test_progress_bar_counts_every_stage(spectrum):
    # The bar advances by each stage's share of the cost model and ends full at the fit's last unit.
    from htmu.cli import _Progress, expected_seconds
    from htmu.fit.estimate import fit_htmp

    with contextlib.redirect_stderr(io.StringIO()):
        bar = _Progress(spectrum.size, ci=True, n_boot=7, compare=False)
        fit_htmp(spectrum, 0.3255, n_boot=7, progress=bar.update)
        assert bar.bar.n == pytest.approx(
            sum(expected_seconds(spectrum.size, n_boot=7, compare=False).values())
        )
        bar.close(done=True)


def test_cost_model_interval_stops_growing_at_n_boot_max():
    from htmu.cli import COST_INTERVAL, expected_seconds
    from htmu.fit.estimate import N_BOOT_MAX

    small, cap, big = (
        expected_seconds(n)["bootstrap replicates"] for n in (N_BOOT_MAX // 2, N_BOOT_MAX, 10**6)
    )
    assert small == pytest.approx(cap / 4) and big == cap
    a, b, p = COST_INTERVAL
    assert expected_seconds(10**6)["interval"] == pytest.approx(a + b * 10 ** (6 * p))
    assert set(expected_seconds(10**6, ci=False, compare=False)) == {"point estimate"}


def test_help_documents_inputs_and_cost():
    h = run_cli("fit", "--help")
    assert h.returncode == 0
    for phrase in ("--flatten", "--boot", "--progress", "--no-progress", "cost model", "point estimate",
                   "at most 2000 eigenvalues", "layer=fc1", "still vary",
                   "masked array", "trailing NaN"):  # fmt: skip
        assert phrase in h.stdout, phrase


def test_store_floor_and_rank_reach_the_fit(tmp_path):
    # An NTK accumulated in float32 is known to n eps32 max only, and a Gram with dead rows has structural zeros:
    # the store says so, and `htmu fit` on that record uses both (censoring at the floor, dropping the zeros).
    from htmu.spectra import SpectrumRecord
    from htmu.study.stores import spectra_to_dataset, write_netcdf

    rng = np.random.default_rng(5)
    eig = np.sort(np.r_[np.zeros(10), 2.0 * sample_htmp_ensemble(190, 0.3, 2.0, rng)])
    eig[:10] = rng.uniform(-1e-6, 1e-6, 10)  # float32-level noise where the zeros are
    rec = SpectrumRecord("ntk", "all", np.sort(eig), 0.3, 200, 667, "eig(J J^T)", rank=190, floor=1e-5)
    path = tmp_path / "s.nc"
    write_netcdf(spectra_to_dataset([rec], {"arch": "lenet"}, {}), path)
    out = _main_json("fit", str(path), "--gamma", "0.3", "--form", "direct", "--no-ci")
    assert (
        out["fit"]["floor"] == 1e-5
        and out["fit"]["n_structural_zeros"] == 10
        and out["fit"]["status"] == "ok"
    )
    # without the store's floor the noise below -n eps64 max would be refused
    out = _main_json("fit", str(path), "--gamma", "0.3", "--form", "direct", "--no-ci", "--floor", "2e-5")
    assert out["fit"]["floor"] == 2e-5
