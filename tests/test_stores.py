"""Tests of htmu.study.stores: round trips, padding, combination, atomic writes, provenance."""

from __future__ import annotations

import os
from pathlib import Path

import netCDF4
import numpy as np
import pytest
import xarray as xr

from htmu.spectra import SpectrumRecord
from htmu.study.provenance import provenance_attrs
from htmu.study.stores import combine_spectra, iter_spectra, read_spectra, spectra_to_dataset, write_netcdf


def _records(rng: np.random.Generator, sizes=(5, 3)) -> list[SpectrumRecord]:
    recs = [
        SpectrumRecord("weight", f"fc{i}", np.sort(rng.standard_exponential(m)), m / 11, m, 11, "eig(W W^T)")
        for i, m in enumerate(sizes)
    ]
    recs.append(
        SpectrumRecord("weight", "fc_bad", np.zeros(0), 0.5, 4, 8, "eig(W W^T)", status="nonfinite_weights")
    )
    return recs


def _slq(rng: np.random.Generator) -> SpectrumRecord:
    w = rng.random(6)
    return SpectrumRecord(
        "hessian",
        "all",
        np.sort(rng.normal(size=6)),
        float("nan"),
        40,
        40,
        "eig(H)",
        method="slq",
        weights=w / w.sum(),
    )


def test_round_trip_is_bit_identical_with_cf_and_provenance(tmp_path) -> None:
    rng = np.random.default_rng(0)
    recs = [*_records(rng), _slq(rng)]
    attrs = provenance_attrs({"arch": "mlp", "lr": 0.1}, seed=3)
    ds = spectra_to_dataset(
        recs, {"dataset": "cifar10", "arch": "mlp", "batch_size": 250, "epoch": 7.5}, attrs
    )
    path = write_netcdf(ds, tmp_path / "sub" / "spectra.nc")
    back = read_spectra(path)
    assert back.sizes == {"spectrum": 4, "k": 6}
    for rec, (meta, eig) in zip(recs, iter_spectra(back), strict=True):
        np.testing.assert_array_equal(eig, rec.eigenvalues)  # bit-identical, padding removed
        assert eig.dtype == np.float64
        assert meta["matrix"] == rec.matrix and meta["layer"] == rec.layer and meta["status"] == rec.status
        assert meta["n_eigs"] == rec.eigenvalues.size and meta["n_rows"] == rec.n_rows
        assert meta["dataset"] == "cifar10" and meta["batch_size"] == 250 and meta["epoch"] == 7.5
        np.testing.assert_array_equal(meta["gamma"], rec.gamma)  # NaN for the Hessian survives too
    # padding is NaN exactly after n_eigs
    assert np.isnan(back["eigenvalue"].values[1, 3:]).all() and np.isnan(back["eigenvalue"].values[2]).all()
    # SLQ weights round trip; the other spectra have none
    triples = list(iter_spectra(back, with_weights=True))
    np.testing.assert_array_equal(triples[3][2], recs[3].weights)
    assert triples[0][2] is None
    # CF and provenance attributes
    assert back.attrs["Conventions"] == "CF-1.10" and back.attrs["title"]
    for key in ("config_hash", "git_commit", "htmu_version", "seed"):
        assert back.attrs[key] == attrs[key]
    assert back["eigenvalue"].attrs["units"] == "1" and "long_name" in back["eigenvalue"].attrs
    # on disk: compressed float64 eigenvalues, variable-length string coordinates
    with netCDF4.Dataset(path) as nc:
        var = nc.variables["eigenvalue"]
        assert var.dtype == np.float64 and var.filters()["zlib"] and var.filters()["complevel"] == 4
        assert nc.variables["matrix"].dtype is str and nc.variables["convention"].dtype is str


def test_coords_per_spectrum_and_bad_arguments() -> None:
    rng = np.random.default_rng(1)
    recs = _records(rng)
    ds = spectra_to_dataset(recs, {"seed": [1, 2, 3], "arch": "mlp"}, {})
    assert list(ds["seed"].values) == [1, 2, 3]
    # iterating an in-memory dataset (object-dtype strings) gives the same Python values as a file
    metas = [meta for meta, _ in iter_spectra(ds)]
    assert [m["seed"] for m in metas] == [1, 2, 3] and {type(m["seed"]) for m in metas} == {int}
    assert [m["layer"] for m in metas] == ["fc0", "fc1", "fc_bad"] and metas[0]["arch"] == "mlp"
    with pytest.raises(ValueError, match="seed"):
        spectra_to_dataset(recs, {"seed": [1, 2]}, {})
    with pytest.raises(ValueError, match="clash"):
        spectra_to_dataset(recs, {"gamma": 1.0}, {})
    with pytest.raises(ValueError, match="records"):
        spectra_to_dataset([], {}, {})
    with pytest.raises(ValueError, match="attrs"):
        spectra_to_dataset(recs, {}, {"flag": None})


def test_all_empty_spectra_still_make_a_valid_file(tmp_path) -> None:
    rec = SpectrumRecord("ntk", "all", np.zeros(0), 0.1, 10, 100, "eig(J J^T)", status="nonfinite_weights")
    back = read_spectra(write_netcdf(spectra_to_dataset([rec], {}, {}), tmp_path / "empty.nc"))
    ((meta, eig),) = list(iter_spectra(back))
    assert eig.size == 0 and meta["status"] == "nonfinite_weights"


def test_combine_files_of_different_lengths_keeps_provenance(tmp_path) -> None:
    rng = np.random.default_rng(2)
    a = _records(rng, sizes=(9, 2))
    b = [*_records(rng, sizes=(4,)), _slq(rng)]
    pa = write_netcdf(
        spectra_to_dataset(a, {"arch": "mlp", "seed": 0}, provenance_attrs({"x": 1}, seed=0)),
        tmp_path / "a.nc",
    )
    pb = write_netcdf(
        spectra_to_dataset(b, {"arch": "cnn", "seed": 1}, provenance_attrs({"x": 2}, seed=1)),
        tmp_path / "b.nc",
    )
    out = tmp_path / "all.nc"
    combined = combine_spectra([pa, pb], out)
    back = read_spectra(out)
    assert back.sizes == {"spectrum": 6, "k": 9}
    got = list(iter_spectra(back, with_weights=True))
    for rec, (meta, eig, w) in zip([*a, *b], got, strict=True):
        np.testing.assert_array_equal(eig, rec.eigenvalues)
        assert (meta["layer"], meta["status"], meta["n_eigs"]) == (
            rec.layer,
            rec.status,
            rec.eigenvalues.size,
        )
        if rec.weights is not None:
            np.testing.assert_array_equal(w, rec.weights)
        else:
            assert w is None
    assert [m["source"] for m, *_ in got] == ["a.nc"] * 3 + ["b.nc"] * 3
    hashes = [m["source_config_hash"] for m, *_ in got]
    assert (
        hashes[0]
        == read_spectra(pa).attrs["config_hash"]
        != hashes[-1]
        == read_spectra(pb).attrs["config_hash"]
    )
    assert [m["arch"] for m, *_ in got] == ["mlp"] * 3 + ["cnn"] * 3
    # agreed attributes kept, conflicting ones dropped from the dataset attrs
    assert back.attrs["Conventions"] == "CF-1.10" and "config_hash" not in back.attrs
    assert back.attrs["combined_from"] == "a.nc, b.nc"
    assert combined.sizes == back.sizes
    # combining a combined file keeps the original sources
    again = combine_spectra([out, pa], tmp_path / "again.nc")
    assert list(again["source"].values) == ["a.nc"] * 3 + ["b.nc"] * 3 + ["a.nc"] * 3


def test_combine_refuses_mismatched_coordinates(tmp_path) -> None:
    rng = np.random.default_rng(3)
    pa = write_netcdf(spectra_to_dataset(_records(rng), {"arch": "mlp"}, {}), tmp_path / "a.nc")
    pb = write_netcdf(spectra_to_dataset(_records(rng), {"epoch": 3}, {}), tmp_path / "b.nc")
    with pytest.raises(ValueError, match="paths"):
        combine_spectra([pa, pb], tmp_path / "c.nc")
    assert not (tmp_path / "c.nc").exists()


def test_atomic_write_leaves_nothing_on_failure(tmp_path, monkeypatch) -> None:
    rng = np.random.default_rng(4)
    ds = spectra_to_dataset(_records(rng), {}, {})
    target = tmp_path / "out.nc"
    real = xr.Dataset.to_netcdf

    def half_then_fail(self, path, *args, **kwargs):
        real(self, path, *args, **kwargs)  # the temporary file is complete on disk ...
        raise OSError("disk full")  # ... and the job dies before the rename

    monkeypatch.setattr(xr.Dataset, "to_netcdf", half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        write_netcdf(ds, target)
    assert not target.exists() and os.listdir(tmp_path) == []
    # an existing good file survives a failed overwrite untouched
    monkeypatch.setattr(xr.Dataset, "to_netcdf", real)
    write_netcdf(ds, target)
    before = target.read_bytes()
    monkeypatch.setattr(xr.Dataset, "to_netcdf", half_then_fail)
    with pytest.raises(OSError):
        write_netcdf(spectra_to_dataset(_records(rng, sizes=(2,)), {}, {}), target)
    assert target.read_bytes() == before and os.listdir(tmp_path) == ["out.nc"]


def test_stores_leave_the_environment_alone_and_the_workflow_unlocks_hdf5(tmp_path, monkeypatch) -> None:
    """HDF5 file locking fails on cluster file systems without POSIX locks: the workflow switches it off for its
    jobs (common.smk, before any job starts); the package itself never writes the environment."""
    ds = spectra_to_dataset(_records(np.random.default_rng(5)), {}, {})
    monkeypatch.delenv("HDF5_USE_FILE_LOCKING", raising=False)
    before = dict(os.environ)
    write_netcdf(ds, tmp_path / "a.nc")
    read_spectra(tmp_path / "a.nc")
    assert dict(os.environ) == before
    common = (Path(__file__).resolve().parents[1] / "workflow/rules/common.smk").read_text()
    assert 'os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")' in common
