"""Tests of ``htmu fit`` through a subprocess (``python -m htmu.cli``)."""

from __future__ import annotations

import contextlib
import io
import json
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
    assert_one_line_error(p, "several spectra", "fc1", "fc2", "--select")
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
