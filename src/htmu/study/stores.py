"""NetCDF stores of eigenvalue spectra: one dataset layout for every matrix, file and study.

Layout
------
Dimensions ``(spectrum, k)``. ``k`` is an integer index coordinate ``0 .. K-1`` with ``K`` the length
of the longest spectrum (at least 1, so that a file of empty spectra is still a valid NetCDF file).

* ``eigenvalue(spectrum, k)``: float64, ascending along ``k``, NaN-padded after the ``n_eigs``
  values of each spectrum; zlib-compressed.
* ``weight(spectrum, k)`` (only when some record has quadrature weights, i.e. SLQ densities): float64,
  NaN where a spectrum has no weights.
* Per-spectrum coordinates on ``spectrum``: ``matrix``, ``layer``, ``method``, ``status``,
  ``convention`` (variable-length strings), ``gamma`` and ``floor`` (float64), ``n_rows``, ``n_cols``,
  ``n_eigs``, ``rank`` (int64), plus every key of the caller's ``coords`` (dataset, arch, batch_size, seed, stage, ...).
* Dataset attributes: the caller's provenance attributes (``htmu.study.provenance.provenance_attrs``: config
  hash, seed, version, git commit), ``Conventions = "CF-1.10"`` and ``title``.

Units: every matrix in the study is dimensionless (weights, logits and the loss are pure numbers), so
eigenvalues carry the CF unit ``"1"``; what they are eigenvalues *of* (raw ``W W^T``, ``J J^T`` or
``J J^T / P``, ``F F^T``, the Hessian) is stated per spectrum in ``convention``.

Files with the same coordinate names concatenate along ``spectrum`` (:func:`combine_spectra`); a
spectrum's ``source`` coordinates keep the file and provenance it came from.

Files are read with :func:`read_spectra` and written with :func:`write_netcdf` (atomically, one engine, zlib on
floats; both from :mod:`htmu._io`, which says how HDF5's file locking is handled).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from htmu._io import read_netcdf as read_spectra
from htmu._io import write_netcdf

if TYPE_CHECKING:  # the stores are read by jobs that never need torch
    from htmu.spectra import SpectrumRecord

__all__ = ["combine_spectra", "iter_spectra", "read_spectra", "spectra_to_dataset", "write_netcdf"]

_RECORD_STR = ("matrix", "layer", "method", "status", "convention")
_RECORD_INT = ("n_rows", "n_cols", "n_eigs", "rank")
_RESERVED = ("spectrum", "k", "eigenvalue", "weight", "gamma", "floor", *_RECORD_STR, *_RECORD_INT)
_SOURCE = ("source", "source_config_hash", "source_git_commit")
TITLE = "Eigenvalue spectra of neural-network matrices (htmu)"


def _string_array(values: Sequence[str]) -> np.ndarray:
    """Object array of Python str: written by xarray as a variable-length NetCDF string."""
    out = np.empty(len(values), dtype=object)
    out[:] = [str(v) for v in values]
    return out


def _coord_values(name: str, value: Any, n: int) -> np.ndarray:
    """Broadcast a scalar coordinate along ``spectrum`` (or check a per-spectrum sequence)."""
    if value is None:
        raise ValueError(f"coords[{name!r}] is None; use a string such as 'none' for missing values")
    if isinstance(value, str | bytes) or np.ndim(value) == 0:
        values = [value] * n
    else:
        values = list(value)
        if len(values) != n:
            raise ValueError(f"coords[{name!r}] has {len(values)} values for {n} spectra")
    if all(isinstance(v, str) for v in values):
        return _string_array(values)
    arr = np.asarray(values)
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise ValueError(f"coords[{name!r}] must hold strings or numbers, got {arr.dtype}")
    return arr


def _check_attr(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, str | int | float | np.integer | np.floating):
        raise ValueError(
            f"attrs[{name!r}] must be a str, int or float to be a NetCDF attribute, got {type(value)}"
        )


def _padded(values: Sequence[np.ndarray | None], width: int) -> np.ndarray:
    """Rows of ``values`` (None: an all-NaN row), NaN-padded to ``width``."""
    out = np.full((len(values), width), np.nan, dtype=np.float64)
    for i, v in enumerate(values):
        if v is not None:
            out[i, : v.size] = v
    return out


def _data_vars(records: Sequence[SpectrumRecord], width: int) -> dict[str, Any]:
    """``eigenvalue`` and, when a record has quadrature weights, ``weight``: ``(spectrum, k)``, NaN-padded."""
    eig_attrs = {"units": "1", "long_name": "eigenvalue of the matrix named by `matrix` (see `convention`), ascending",
                 "comment": "NaN-padded after the first n_eigs values"}  # fmt: skip
    data_vars = {
        "eigenvalue": (("spectrum", "k"), _padded([r.eigenvalues for r in records], width), eig_attrs)
    }
    if any(r.weights is not None for r in records):
        w_attrs = {"units": "1", "long_name": "quadrature weight of each eigenvalue node (stochastic Lanczos quadrature)",
                   "comment": "sums to one over k for an SLQ spectrum; NaN for spectra without weights"}  # fmt: skip
        data_vars["weight"] = (("spectrum", "k"), _padded([r.weights for r in records], width), w_attrs)
    return data_vars


def _record_coords(records: Sequence[SpectrumRecord], width: int) -> dict[str, Any]:
    """``k`` and the per-spectrum coordinates every store has (the records' fields)."""
    coord_vars: dict[str, Any] = {
        "k": ("k", np.arange(width, dtype=np.int64), {"long_name": "eigenvalue index, ascending order"}),
        "gamma": (
            "spectrum",
            np.array([r.gamma for r in records], dtype=np.float64),
            {
                "units": "1",
                "long_name": "aspect ratio min(n_rows, n_cols)/max(n_rows, n_cols); NaN: not a Gram",
            },
        ),
    }
    coord_vars["floor"] = (
        "spectrum",
        np.array([np.nan if r.floor is None else r.floor for r in records], dtype=np.float64),
        {
            "long_name": "absolute accuracy of the eigenvalues when coarser than float64's n eps max (NaN: that)"
        },
    )
    for name in _RECORD_STR:
        coord_vars[name] = ("spectrum", _string_array([getattr(r, name) for r in records]))
    for name, values in (
        ("n_rows", [r.n_rows for r in records]),
        ("n_cols", [r.n_cols for r in records]),
        ("n_eigs", [r.eigenvalues.size for r in records]),
        ("rank", [r.n_rows if r.rank is None else r.rank for r in records]),
    ):
        coord_vars[name] = ("spectrum", np.asarray(values, dtype=np.int64))
    coord_vars["n_rows"] += (
        {"long_name": "rows of the factor A of the Gram A A^T (= eigenvalues computed)"},
    )
    coord_vars["n_cols"] += ({"long_name": "columns of the factor A of the Gram A A^T"},)
    coord_vars["n_eigs"] += ({"long_name": "number of eigenvalues stored (the rest of k is NaN)"},)
    coord_vars["rank"] += (
        {"long_name": "rank the factor's exactly-zero rows and columns allow (n_rows: no structural zeros)"},
    )
    return coord_vars


def spectra_to_dataset(
    records: Sequence[SpectrumRecord],
    coords: Mapping[str, Any] | None = None,
    attrs: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """Pack spectra into one ``(spectrum, k)`` dataset, NaN-padded to the longest spectrum.

    Parameters
    ----------
    records : sequence of SpectrumRecord
        At least one; order is kept along ``spectrum``.
    coords : mapping, optional
        Extra per-spectrum coordinates. A scalar (str, int, float) is broadcast along ``spectrum``; a
        sequence must have one value per record. Names may not shadow the record fields.
    attrs : mapping, optional
        Dataset attributes, typically ``htmu.study.provenance.provenance_attrs(config, seed)``; values must be
        str, int or float. ``Conventions`` and ``title`` are set unless given.

    Returns
    -------
    xarray.Dataset
        See the module docstring for the layout.
    """
    records = list(records)
    if not records:
        raise ValueError("records is empty: nothing to store")
    coords = dict(coords or {})
    attrs = dict(attrs or {})
    clash = sorted(set(coords) & set(_RESERVED))
    if clash:
        raise ValueError(f"coords {clash} clash with the names the store itself uses")
    for name, value in attrs.items():
        _check_attr(name, value)
    n = len(records)
    width = max(1, max(r.eigenvalues.size for r in records))
    data_vars = _data_vars(records, width)
    coord_vars = _record_coords(records, width)
    for name, value in coords.items():
        coord_vars[name] = ("spectrum", _coord_values(name, value, n))
    ds_attrs = {"Conventions": "CF-1.10", "title": TITLE, **attrs}
    return xr.Dataset(data_vars=data_vars, coords=coord_vars, attrs=ds_attrs)


def _python_scalar(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def iter_spectra(ds: xr.Dataset, *, with_weights: bool = False) -> Iterator[tuple[dict[str, Any], ...]]:
    """Yield ``(coords, eigenvalues)`` per spectrum, eigenvalues without the NaN padding.

    ``coords`` maps every coordinate on ``spectrum`` to a Python scalar. The first ``n_eigs`` values
    are the spectrum (the padding is NaN by construction). With ``with_weights=True`` yields
    ``(coords, eigenvalues, weights)`` with ``weights`` None where the spectrum has none.
    """
    names = [name for name, c in ds.coords.items() if c.dims == ("spectrum",)]
    columns = {name: ds.coords[name].values for name in names}
    eig = ds["eigenvalue"].values
    wts = ds["weight"].values if "weight" in ds else None
    n_eigs = ds["n_eigs"].values if "n_eigs" in ds.coords else None
    for i in range(ds.sizes["spectrum"]):
        # numpy scalars -> Python scalars; object arrays (in-memory strings) already hold Python objects
        meta = {name: _python_scalar(col[i]) for name, col in columns.items()}
        row = eig[i]
        m = int(n_eigs[i]) if n_eigs is not None else int(np.count_nonzero(~np.isnan(row)))
        values = row[:m].copy()
        if not with_weights:
            yield meta, values
            continue
        w = None
        if wts is not None and not np.all(np.isnan(wts[i, :m])):
            w = wts[i, :m].copy()
        yield meta, values, w


def combine_spectra(paths: Sequence[str | os.PathLike], out_path: str | os.PathLike) -> xr.Dataset:
    """Concatenate spectra files along ``spectrum`` into one store, keeping each file's provenance.

    Each spectrum gets ``source`` (file name), ``source_config_hash`` and ``source_git_commit`` (from
    the file's attributes, ``"unknown"`` when absent); spectra that already have them (a combined file)
    keep theirs. The concatenation is

    ``xr.concat(datasets, dim="spectrum", data_vars="all", coords="minimal", compat="equals",
    join="outer", fill_value=nan, combine_attrs="drop_conflicts")``:

    * ``join="outer"`` aligns the ``k`` index: shorter spectra are NaN-padded to the longest;
    * every data variable and coordinate lies on ``spectrum`` and is concatenated (``data_vars="all"``,
      ``coords="minimal"``); any other coordinate must be equal in all files (``compat="equals"``),
      else xarray raises;
    * attributes equal in all files (``Conventions``, ``title``, ``htmu_version`` ...) are kept, the
      differing ones (config hash, seed, created) are dropped from the dataset attributes; they live on
      in the per-spectrum ``source*`` coordinates.

    All files must have the same coordinate names (a ``ValueError`` names the differences); a file
    without SLQ weights gets an all-NaN ``weight`` when another file has one.

    Returns
    -------
    xarray.Dataset
        The combined dataset, also written atomically to ``out_path``.
    """
    paths = list(paths)
    if not paths:
        raise ValueError("paths is empty: nothing to combine")
    datasets = []
    for p in paths:
        ds = read_spectra(p)
        n = ds.sizes["spectrum"]
        extra = {}
        for name, value in (
            ("source", Path(p).name),
            ("source_config_hash", str(ds.attrs.get("config_hash", "unknown"))),
            ("source_git_commit", str(ds.attrs.get("git_commit", "unknown"))),
        ):
            if name not in ds.coords:
                extra[name] = ("spectrum", _string_array([value] * n))
        datasets.append(ds.assign_coords(extra))
    names0 = {name for name, c in datasets[0].coords.items() if "spectrum" in c.dims}
    for p, ds in zip(paths[1:], datasets[1:], strict=True):
        names = {name for name, c in ds.coords.items() if "spectrum" in c.dims}
        if names != names0:
            raise ValueError(
                f"paths: {Path(p).name} has coordinates {sorted(names ^ names0)} that {Path(paths[0]).name} "
                "does not share (or lacks ones it has); write every file with the same coords keys"
            )
    if any("weight" in ds for ds in datasets):
        for i, ds in enumerate(datasets):
            if "weight" not in ds:
                filler = xr.full_like(ds["eigenvalue"], np.nan)
                filler.attrs = {}
                datasets[i] = ds.assign(weight=filler)
    combined = xr.concat(
        datasets,
        dim="spectrum",
        data_vars="all",
        coords="minimal",
        compat="equals",
        join="outer",
        fill_value=np.nan,
        combine_attrs="drop_conflicts",
    )
    combined.attrs["combined_from"] = ", ".join(Path(p).name for p in paths)
    write_netcdf(combined, out_path)
    return combined
