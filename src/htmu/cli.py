"""Command-line interface: ``htmu fit EIGENVALUES --gamma G --form direct|inverse``.

Subcommands are argparse subparsers so that others can be added next to ``fit``. Errors are printed as
one line on stderr with exit code 2 (no traceback); results go to stdout as JSON, with non-finite
numbers written as the strings ``"inf"``, ``"-inf"`` and ``"nan"`` (plain JSON has no such numbers).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

__all__ = ["main", "build_parser", "load_eigenvalues"]


class CLIError(Exception):
    """A user-facing error: printed as one line, exit code 2."""


def _parse_select(items: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        if "=" not in item:
            raise CLIError(f"--select expects DIM=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _coerce(value: str, coord: np.ndarray):
    """Convert a --select value to the coordinate's dtype."""
    if np.issubdtype(coord.dtype, np.integer):
        return int(value)
    if np.issubdtype(coord.dtype, np.floating):
        return float(value)
    return value


def _load_nc(path: Path, select: dict[str, str]) -> np.ndarray:
    import xarray as xr

    with xr.open_dataset(path) as ds:
        if "eigenvalue" not in ds.data_vars:
            raise CLIError(
                f"{path}: no variable 'eigenvalue' (variables: {', '.join(map(str, ds.data_vars)) or 'none'})"
            )
        da = ds["eigenvalue"]
        for dim, val in select.items():
            if dim not in da.dims:
                raise CLIError(
                    f"--select {dim}=...: 'eigenvalue' has no dimension {dim!r} (dims: {', '.join(map(str, da.dims))})"
                )
            if dim in da.coords:
                coord = da[dim].values
                v = _coerce(val, coord)
                if v not in set(coord.tolist()):
                    raise CLIError(
                        f"--select {dim}={val}: not found; available: {', '.join(map(str, coord.tolist()))}"
                    )
                da = da.sel({dim: v})
            else:
                da = da.isel({dim: int(val)})
        # the remaining dimensions: one of them indexes eigenvalues; any other one means several spectra
        other = [d for d in da.dims if da.sizes[d] > 1]
        if len(other) > 1:
            listing = "; ".join(
                f"{d}: {', '.join(map(str, da[d].values.tolist())) if d in da.coords else f'0..{da.sizes[d] - 1}'}"
                for d in other
            )
            raise CLIError(
                f"{path} holds several spectra; choose one with --select DIM=VALUE (dims {listing})"
            )
        values = np.asarray(da.values, dtype=float).ravel()
    # NaN is the padding of ragged spectra stored in one array
    return values[~np.isnan(values)]


def load_eigenvalues(path: str | Path, select: dict[str, str] | None = None) -> np.ndarray:
    """Read eigenvalues from ``.npy``, ``.txt`` (whitespace/newline separated) or ``.nc`` (xarray).

    Parameters
    ----------
    path : str or Path
        The file.
    select : dict, optional
        For ``.nc`` files holding several spectra: dimension -> coordinate value (as text).

    Returns
    -------
    numpy.ndarray
        One-dimensional float array (NaN padding removed for ``.nc``).
    """
    p = Path(path)
    if not p.is_file():
        raise CLIError(f"{p}: no such file")
    suffix = p.suffix.lower()
    select = select or {}
    if select and suffix != ".nc":
        raise CLIError("--select applies to .nc files only")
    try:
        if suffix == ".npy":
            return np.asarray(np.load(p, allow_pickle=False), dtype=float).ravel()
        if suffix == ".txt":
            return np.loadtxt(p, dtype=float, ndmin=1).ravel()
        if suffix == ".nc":
            return _load_nc(p, select)
    except CLIError:
        raise
    except (OSError, ValueError) as exc:
        raise CLIError(f"{p}: cannot read eigenvalues ({exc})") from None
    raise CLIError(f"{p}: unsupported file type {suffix!r} (use .npy, .txt or .nc)")


def _jsonable(obj):
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float | np.floating):
        f = float(obj)
        if math.isnan(f):
            return "nan"
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        return f
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def build_parser() -> argparse.ArgumentParser:
    """The ``htmu`` argument parser (one subparser per subcommand)."""
    parser = argparse.ArgumentParser(
        prog="htmu",
        description="Heavy-tailed mechanistic universality: fit the HTMP law to eigenvalue spectra.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    fit = sub.add_parser(
        "fit",
        help="fit HTMP (kappa, scale, 95%% interval) and select the spectrum's law and phase",
        description=(
            "Fit the HTMP law to one spectrum and print JSON with the fit ('fit') and the law selected among "
            "MP, MP+spikes, HTMP-direct and HTMP-inverse, with its phase and evidence ('comparison', "
            "htmu.select_law). Direct form: x/scale ~ HTMP"
            "(gamma, kappa); inverse form: scale/lambda ~ HTMP(gamma, kappa). The 95%% interval for kappa "
            "is calibrated by a parametric bootstrap from the high-temperature beta-Laguerre ensemble. "
            'Non-finite numbers are written as the strings "inf" and "nan".'
        ),
    )
    fit.add_argument(
        "eigenvalues", help="EIGENVALUES.npy, .txt (whitespace separated) or .nc (variable 'eigenvalue')"
    )
    fit.add_argument("--gamma", type=float, required=True, help="aspect ratio in (0, 1) of the matrix")
    fit.add_argument("--form", choices=["direct", "inverse"], required=True, help="which HTMP form to fit")
    fit.add_argument(
        "--method",
        choices=["mle", "moments", "ks", "stieltjes"],
        default="mle",
        help="estimator (default mle)",
    )
    fit.add_argument("--no-ci", action="store_true", help="skip the bootstrap interval for kappa")
    fit.add_argument("--no-compare", action="store_true", help="skip the law selection")
    fit.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default 0)")
    fit.add_argument(
        "--select",
        action="append",
        metavar="DIM=VALUE",
        help="for .nc files with several spectra: pick one (repeatable), e.g. --select layer=fc1",
    )
    fit.set_defaults(func=_cmd_fit)
    return parser


def _cmd_fit(args: argparse.Namespace) -> dict:
    from htmu.estimate import fit_htmp
    from htmu.selection import select_law

    x = load_eigenvalues(args.eigenvalues, _parse_select(args.select))
    rng = np.random.default_rng(args.seed)
    kw = {"form": args.form, "method": args.method, "rng": rng, "ci": not args.no_ci}
    out = {"file": str(args.eigenvalues), "fit": fit_htmp(x, args.gamma, **kw).to_dict()}
    if not args.no_compare:
        sel = select_law(x, args.gamma, rng=np.random.default_rng(args.seed), ci=not args.no_ci)
        out["comparison"] = sel.to_dict()
    return out


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``htmu`` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        out = args.func(args)
    except (CLIError, ValueError) as exc:
        print(f"htmu {args.command}: error: {exc}", file=sys.stderr)
        return 2
    json.dump(_jsonable(out), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
