"""Files: atomic writes (a killed job leaves nothing that looks complete) and NetCDF reads.

Every writer goes through :func:`atomic_path`: the content is written under a temporary name beside the
target and renamed into place with ``os.replace`` (atomic on POSIX within one file system), and the
temporary file is removed when writing fails.

NetCDF files are read and written with one engine, :data:`NETCDF_ENGINE`. HDF5 locks the files it opens;
on cluster file systems without POSIX locks set ``HDF5_USE_FILE_LOCKING=FALSE`` in the environment (the
workflow does so for its jobs, ``workflow/rules/common.smk``): the package itself never changes the
environment.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas and xarray are imported by the functions that need them
    import pandas as pd
    import xarray as xr

__all__ = [
    "NETCDF_ENGINE",
    "atomic_path",
    "read_netcdf",
    "write_csv_atomic",
    "write_netcdf",
    "write_text_atomic",
]

#: The one engine NetCDF files are read and written with.
NETCDF_ENGINE = "netcdf4"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed onto ``path`` when the block succeeds.

    The parent folder is created. On any exception the temporary file is removed and the exception
    propagates; ``path`` is then untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(text: str, path: str | os.PathLike) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_csv_atomic(df: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write ``df`` as CSV (no index) atomically."""
    write_text_atomic(df.to_csv(index=False), path)


def read_netcdf(path: str | os.PathLike) -> xr.Dataset:
    """Load a NetCDF file fully into memory and close it (safe to overwrite or move afterwards)."""
    import xarray as xr

    with xr.open_dataset(path, engine=NETCDF_ENGINE) as ds:
        return ds.load()


def write_netcdf(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write ``ds`` atomically to ``path`` with :data:`NETCDF_ENGINE` and zlib (level 4) on float variables.

    Encodings carried over from a file that was read are discarded, so that the layout is always this one;
    string variables are written as variable-length NetCDF strings.

    Returns
    -------
    pathlib.Path
        The target path.
    """
    import numpy as np

    ds = ds.copy(deep=False)
    encoding: dict[str, dict[str, Any]] = {}
    for name, var in ds.variables.items():
        var.encoding = {}
        if var.dtype.kind == "f":
            encoding[name] = {"zlib": True, "complevel": 4}
        elif var.dtype.kind == "U" or (
            var.dtype == object and all(isinstance(v, str) for v in np.asarray(var.values).ravel())
        ):
            # variable-length strings; mixed object columns are left to xarray's own checks
            encoding[name] = {"dtype": str}
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, mode="w", engine=NETCDF_ENGINE, format="NETCDF4", encoding=encoding)
    return Path(path)
