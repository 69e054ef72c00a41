"""Command-line interface: ``htmu fit EIGENVALUES --gamma G --form direct|inverse`` and ``htmu analyze PATH``.

Subcommands are argparse subparsers. Errors are printed as one line on stderr with exit code 2 (no
traceback). ``fit`` writes JSON to stdout, with non-finite numbers written as the strings ``"inf"``,
``"-inf"`` and ``"nan"`` (plain JSON has no such numbers); ``analyze`` writes a readable table to stdout
(``--out`` for the CSV, ``--plots`` for figures) and its progress bar to stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

__all__ = ["main", "build_parser", "load_eigenvalues", "summary_table"]


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
        help="fit HTMP (kappa, scale, 95%% interval) and compare with MP and a power-law tail",
        description=(
            "Fit the HTMP law to one spectrum and print JSON with the fit ('fit') and the comparison of "
            "Marchenko-Pastur, HTMP and a power-law tail ('comparison'). Direct form: x/scale ~ HTMP"
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
    fit.add_argument("--no-compare", action="store_true", help="skip the comparison of laws")
    fit.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default 0)")
    fit.add_argument(
        "--select",
        action="append",
        metavar="DIM=VALUE",
        help="for .nc files with several spectra: pick one (repeatable), e.g. --select layer=fc1",
    )
    fit.set_defaults(func=_cmd_fit)

    an = sub.add_parser(
        "analyze",
        help="law, phase, kappa [95%% CI] and norms of every weight matrix of a PyTorch model file",
        description=(
            "Analyze a model file layer by layer: one row per weight matrix (Linear, Conv as out x in*k*k, "
            "Embedding, the q/k/v blocks of MultiheadAttention's in_proj_weight) with the law selected "
            "among MP, MP+spikes and the two HTMP forms, the training phase, kappa with its bootstrap "
            "interval, the tail exponent alpha and WeightWatcher's mp_softrank, stable_rank and "
            "log_spectral_norm. Files are read without running pickled code (torch.load with "
            "weights_only=True, or safetensors). A summary table goes to stdout, a progress bar to stderr."
        ),
    )
    an.add_argument("path", help="model file: .pt, .pth, .bin, .ckpt (a state dict) or .safetensors")
    an.add_argument("--out", metavar="CSV", help="write the full table (every column) to this CSV file")
    an.add_argument("--plots", metavar="DIR", help="write one ESD figure per layer (PNG) into DIR")
    an.add_argument("--layers", metavar="REGEX", help="analyze only layers whose name matches (re.search)")
    an.add_argument(
        "--conv",
        choices=["reshape", "slices"],
        default="reshape",
        help="conv kernels as one out x in*k*k matrix (default) or WeightWatcher's pooled k*k slices",
    )
    an.add_argument("--no-ci", action="store_true", help="skip the bootstrap intervals of kappa (faster)")
    an.add_argument("--seed", type=int, default=0, help="seed of the bootstraps (default 0)")
    an.add_argument("--no-progress", action="store_true", help="no progress bar")
    an.set_defaults(func=_cmd_analyze)
    return parser


def _cmd_fit(args: argparse.Namespace) -> dict:
    from htmu.estimate import compare_laws, fit_htmp

    x = load_eigenvalues(args.eigenvalues, _parse_select(args.select))
    rng = np.random.default_rng(args.seed)
    kw = {"form": args.form, "method": args.method, "rng": rng, "ci": not args.no_ci}
    if args.no_compare:
        return {"file": str(args.eigenvalues), "fit": fit_htmp(x, args.gamma, **kw).to_dict()}
    cmp = compare_laws(x, args.gamma, **kw)
    comparison = cmp.to_dict()
    fit = comparison.pop("htmp")
    return {"file": str(args.eigenvalues), "fit": fit, "comparison": comparison}


def _fmt(v: float, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.{digits}g}"


def summary_table(df) -> str:
    """The readable summary of ``htmu analyze``: one line per layer, kappa with its interval.

    Text columns are left-aligned and numbers right-aligned; ``form`` is shown for the HTMP laws only
    (select_law reports "direct" for the MP laws); ``status`` is shortened to its reason (the part
    before ``":"``; the CSV keeps it whole).
    """
    import pandas as pd

    def kappa_text(r) -> str:
        k, lo, hi = r["kappa"], r["kappa_lo"], r["kappa_hi"]
        if pd.isna(k):
            return ""
        ci = f" [{_fmt(lo)}, {_fmt(hi)}]" if not (pd.isna(lo) or pd.isna(hi)) else ""
        return _fmt(k) + ci

    def text(col: str) -> list[str]:  # empty for a missing value (a CSV round trip turns "" into NaN)
        return ["" if pd.isna(v) else str(v) for v in df[col]]

    columns = {
        "layer": text("layer"),
        "module": text("module"),
        "shape": text("shape"),
        "gamma": [_fmt(g) for g in df["gamma"]],
        "n": [str(n) for n in df["n_eigs"]],
        "law": text("law"),
        "phase": text("phase"),
        "kappa [95% CI]": [kappa_text(r) for _, r in df.iterrows()],
        "form": [
            f if str(law).startswith("HTMP") else "" for f, law in zip(df["form"], df["law"], strict=True)
        ],
        "alpha": [_fmt(a) for a in df["alpha"]],
        "spikes": ["" if pd.isna(v) else str(int(v)) for v in df["n_spikes"]],
        "softrank": [_fmt(v) for v in df["mp_softrank"]],
        "status": [s.split(":")[0] for s in text("status")],
    }
    right = {"gamma", "n", "kappa [95% CI]", "alpha", "spikes", "softrank"}
    widths = {c: max([len(c), *map(len, map(str, v))]) for c, v in columns.items()}

    def line(cells: dict) -> str:
        return "  ".join(
            (str(cells[c]).rjust if c in right else str(cells[c]).ljust)(widths[c]) for c in columns
        ).rstrip()

    rows = [line({c: c for c in columns})]
    rows += [line({c: v[i] for c, v in columns.items()}) for i in range(len(df))]
    return "\n".join(rows)


def _plot_name(i: int, layer: str) -> str:
    return f"{i:03d}_" + ("".join(c if c.isalnum() or c in "._-" else "_" for c in layer) or "layer")


def _cmd_analyze(args: argparse.Namespace) -> None:
    import time

    from htmu.analysis import analyze_layers, mp_bulk_scale, results_table

    t0 = time.perf_counter()
    try:
        results = analyze_layers(
            args.path,
            layers=args.layers,
            conv=args.conv,
            ci=not args.no_ci,
            progress=not args.no_progress,
            rng=args.seed,
        )
    except FileNotFoundError as err:
        raise CLIError(str(err)) from None
    seconds = time.perf_counter() - t0
    df = results_table(results)
    if args.out:
        from htmu._io import write_csv_atomic

        write_csv_atomic(df, args.out)
    if args.plots:
        from htmu.plots import fig_layer_esd, save_figure

        for i, r in enumerate(results):
            eig, gamma = r.spectrum.eigenvalues, r.spectrum.gamma
            mp_scale = mp_bulk_scale(eig, gamma) if eig.size and 0 < gamma <= 1 else math.nan
            scale = (
                float(r.selection.scale)
                if r.selection is not None and r.selection.status == "ok"
                else math.nan
            )
            fig = fig_layer_esd(eig, r.row, scale=scale, mp_scale=mp_scale)
            save_figure(fig, Path(args.plots) / _plot_name(i, r.matrix.layer), formats=("png",))
    print(summary_table(df))
    laws = df.loc[df["status"] == "ok", "law"].value_counts()
    counts = ", ".join(f"{k} {v}" for k, v in laws.items()) or "none"
    print(f"\n{len(df)} weight matrices of {args.path} in {seconds:.1f} s; laws: {counts}")
    if args.out:
        print(f"table: {args.out}")
    if args.plots:
        print(f"figures: {args.plots}/NNN_<layer>.png")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``htmu`` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        out = args.func(args)
    except (CLIError, ValueError) as exc:
        print(f"htmu {args.command}: error: {exc}", file=sys.stderr)
        return 2
    if out is not None:  # commands that print their own output (analyze) return None
        json.dump(_jsonable(out), sys.stdout, indent=2)
        sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
