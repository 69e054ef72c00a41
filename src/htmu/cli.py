"""Command-line interface: ``htmu fit EIGENVALUES --gamma G --form direct|inverse`` and ``htmu analyze PATH``.

Subcommands are argparse subparsers. Errors are printed as one line on stderr with exit code 2 (no
traceback). ``fit`` writes JSON to stdout, with non-finite numbers written as the strings ``"inf"``,
``"-inf"`` and ``"nan"`` (plain JSON has no such numbers); ``analyze`` writes a readable table to stdout
(``--out`` for the CSV, ``--plots`` for figures) and its progress bar to stderr.

Input is one spectrum, never a reinterpretation of something else: an array that is not 1-D is refused
unless ``--flatten`` asks to pool its values; complex values, pickled objects (e.g. a masked array) and
``.npz`` archives are refused with what to pass instead; in an ``.nc`` file, ``--select`` must leave
exactly one spectrum, and only trailing NaN (the padding of :mod:`htmu.study.stores`) is dropped.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np

__all__ = ["main", "build_parser", "load_eigenvalues", "summary_table", "expected_seconds"]

#: ``htmu fit`` shows a progress bar above this many eigenvalues (``--progress``/``--no-progress`` override)
PROGRESS_MIN_EIGENVALUES = 10_000


class CLIError(Exception):
    """A user-facing error: printed as one line, exit code 2."""


# --------------------------------------------------------------------------------------------------
# reading one spectrum


def _parse_select(items: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        key, eq, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not eq or not key:
            raise CLIError(f"--select expects NAME=VALUE, got {item!r}")
        if key in out:
            raise CLIError(f"--select {key} given twice ({out[key]!r} and {value!r}); give each name once")
        out[key] = value
    return out


def _check_real(dtype: np.dtype, where: str) -> None:
    if dtype.kind == "c":
        raise CLIError(
            f"{where}: complex values (dtype {dtype}); eigenvalues of a symmetric matrix are real: "
            "save the real part (numpy.real) if that is what you mean"
        )
    if dtype.kind not in "biuf":
        raise CLIError(f"{where}: values of dtype {dtype} are not numbers")


def _as_one_spectrum(arr: np.ndarray, where: str, flatten: bool) -> np.ndarray:
    """``arr`` as float64 if it is one real spectrum (or ``flatten`` asks to pool it); else refused."""
    _check_real(arr.dtype, where)
    if arr.ndim != 1:
        if not flatten:
            raise CLIError(
                f"{where}: a {arr.ndim}-D array of shape {arr.shape}, not one spectrum; pass a 1-D array of "
                f"one spectrum's eigenvalues, or --flatten to pool all {arr.size} values into one spectrum"
            )
        arr = arr.ravel()
    return arr.astype(float)


def _npy_header_dtype(p: Path) -> np.dtype | None:
    """The dtype in an .npy header (None when the header version is not 1 or 2)."""
    fmt = np.lib.format
    with open(p, "rb") as f:
        major, _ = fmt.read_magic(f)
        read = {1: fmt.read_array_header_1_0, 2: fmt.read_array_header_2_0}.get(major)
        return read(f)[2] if read else None


def _load_npy(p: Path, flatten: bool) -> np.ndarray:
    try:
        arr = np.load(p, allow_pickle=False)
    except ValueError:
        try:
            dtype = _npy_header_dtype(p)
        except ValueError:  # not the .npy format: numpy reads such a file as a pickle
            dtype = np.dtype(object)
        if dtype is not None and dtype.hasobject:
            raise CLIError(
                f"{p}: not a plain .npy array but pickled Python objects (e.g. a masked array), which htmu "
                "does not unpickle; save the values themselves: numpy.save(path, values) "
                "(values.compressed() for a masked array)"
            ) from None
        raise
    return _as_one_spectrum(arr, str(p), flatten)


def _load_txt(p: Path, flatten: bool) -> np.ndarray:
    try:
        arr = np.loadtxt(p, dtype=float, ndmin=1)
    except ValueError as exc:
        try:  # say "complex" rather than "cannot convert" when that is what the file holds
            arr = np.loadtxt(p, dtype=complex, ndmin=1)
        except ValueError:
            raise exc from None
    return _as_one_spectrum(arr, str(p), flatten)


def _values_listing(values: np.ndarray, limit: int = 12) -> str:
    values = np.asarray(values).ravel()
    if values.dtype.kind in "biuf":  # numeric order (NaN last)
        texts = [_scalar_text(v) for v in np.unique(values)]
    else:
        texts = sorted({_scalar_text(v) for v in values})
    # values with a comma are quoted: the listing separates values by commas
    uniq = [repr(t) if "," in t else t for t in texts]
    more = f", ... ({len(uniq)} values)" if len(uniq) > limit else ""
    return ", ".join(uniq[:limit]) + more


def _scalar_text(v) -> str:
    return str(v.item() if isinstance(v, np.generic) else v)


def _match(coord, name: str, text: str):
    """Boolean DataArray: where coordinate ``coord`` equals the --select text (converted to its dtype)."""
    kind = coord.dtype.kind
    try:
        if kind in "iu":
            return coord == int(text)
        if kind == "f":
            value = float(text)
            return coord.isnull() if math.isnan(value) else coord == value
        if kind == "b":
            if text.lower() not in ("true", "false"):
                raise ValueError
            return coord == (text.lower() == "true")
    except ValueError:
        what = {"i": "integers", "u": "integers", "f": "numbers", "b": "true/false"}[kind]
        raise CLIError(f"--select {name}={text}: {name} holds {what}") from None
    return coord.astype(str) == text


def _spectrum_rows(da, spec_dims: tuple, select: dict[str, str], where: str, flatten: bool) -> list[tuple]:
    """Index tuples (along ``spec_dims``) of the spectra chosen by ``select``: exactly one unless ``flatten``."""
    import xarray as xr

    axis = da.dims[-1]
    chosen = xr.DataArray(np.ones([da.sizes[d] for d in spec_dims], dtype=bool), dims=spec_dims)
    names = [c for c in da.coords if axis not in da.coords[c].dims] + [
        d for d in spec_dims if d not in da.coords
    ]
    for name, text in select.items():
        if name == axis or (name in da.coords and axis in da.coords[name].dims):
            raise CLIError(
                f"--select {name}={text}: {name!r} runs along the eigenvalues of each spectrum (dimension "
                f"{axis!r}), it does not choose a spectrum; select by {', '.join(names) or 'nothing: there is one'}"
            )
        if name in da.coords:
            hit = _match(da.coords[name], name, text)
            if not bool(hit.any()):
                raise CLIError(
                    f"--select {name}={text}: no spectrum has it; {name} takes the values "
                    f"{_values_listing(da.coords[name].values)}"
                )
        elif name in spec_dims:
            size = da.sizes[name]
            if not (text.lstrip("-").isdigit() and 0 <= int(text) < size):
                raise CLIError(
                    f"--select {name}={text}: {name} has no coordinate values, only positions 0..{size - 1}"
                )
            hit = xr.DataArray(np.arange(size) == int(text), dims=[name])
        else:
            raise CLIError(
                f"--select {name}={text}: {where} has no coordinate {name!r}; "
                f"it has {', '.join(names) or 'none (one spectrum)'}"
            )
        chosen = chosen & hit
    chosen = chosen.transpose(*spec_dims)
    rows = [tuple(int(i) for i in idx) for idx in np.argwhere(chosen.values)]
    asked = " ".join(f"{k}={v}" for k, v in select.items())
    if not rows:
        raise CLIError(f"{where}: no spectrum has all of {asked} (each value exists, not together)")
    if len(rows) > 1 and not flatten:
        varying = []
        for name in names:
            if name in da.coords:
                vals = da.coords[name].broadcast_like(chosen).transpose(*spec_dims).values[chosen.values]
            else:
                vals = np.array([r[spec_dims.index(name)] for r in rows])
            if len({_scalar_text(v) for v in vals}) > 1:
                varying.append(f"{name} ({_values_listing(vals, 8)})")
        within = f": the selection {asked} leaves" if select else " holds"
        raise CLIError(
            f"{where}{within} {len(rows)} spectra; choose one with --select NAME=VALUE on what still varies: "
            f"{'; '.join(varying)} (or --flatten to pool them)"
        )
    return rows


def _unpadded(row: np.ndarray, n_eigs: int | None, where: str) -> np.ndarray:
    """One stored spectrum without its trailing NaN padding; a NaN anywhere else is refused."""
    nan = np.isnan(row)
    if n_eigs is None:  # no count stored: trailing NaN is padding
        n_eigs = int(row.size - np.argmin(nan[::-1])) if not nan.all() else 0
    if nan[:n_eigs].any() or not nan[n_eigs:].all():
        first = int(np.argmax(nan[:n_eigs])) if nan[:n_eigs].any() else n_eigs
        raise CLIError(
            f"{where}: NaN inside the spectrum (value {first} of {n_eigs}); only trailing NaN is read as padding"
        )
    return row[:n_eigs]


def _load_nc(path: Path, select: dict[str, str], flatten: bool) -> np.ndarray:
    from htmu._io import read_netcdf

    ds = read_netcdf(path)
    if "eigenvalue" not in ds.data_vars:
        raise CLIError(
            f"{path}: no variable 'eigenvalue' (variables: {', '.join(map(str, ds.data_vars)) or 'none'})"
        )
    da = ds["eigenvalue"]
    if da.ndim == 0:
        raise CLIError(f"{path}: 'eigenvalue' is a single number, not a spectrum")
    _check_real(da.dtype, f"{path}: 'eigenvalue'")
    # eigenvalues run along the last dimension (k in htmu's stores), spectra along the others
    spec_dims = tuple(da.dims[:-1])
    out = []
    for idx in _spectrum_rows(da, spec_dims, select, str(path), flatten):
        pos = dict(zip(spec_dims, idx, strict=True))
        one = da.isel(pos)
        where = f"{path} [{' '.join(f'{d}={i}' for d, i in pos.items())}]" if pos else str(path)
        _check_store_record(ds, one, pos, where)
        n_eigs = int(one.coords["n_eigs"]) if "n_eigs" in one.coords else None
        out.append(_unpadded(np.asarray(one.values, dtype=float), n_eigs, where))
    return np.concatenate(out)


def _check_store_record(ds, one, pos: dict, where: str) -> None:
    """Refuse what an htmu store marks as not a full spectrum of exact eigenvalues (:mod:`htmu.study.stores`)."""

    def coord(name):
        return _scalar_text(one.coords[name].values) if name in one.coords else None

    status, method = coord("status"), coord("method")
    if status is not None and status != "ok":
        raise CLIError(f"{where}: status {status!r} in the store: it holds no valid eigenvalues to fit")
    if "weight" in ds.data_vars and ds["weight"].dims == ds["eigenvalue"].dims:
        w = ds["weight"].isel(pos).values
        if not np.isnan(w).all():
            raise CLIError(
                f"{where}: has quadrature weights: its values are Lanczos quadrature nodes"
                f"{f' (method {method})' if method else ''}, not the eigenvalues of the matrix"
            )
    if method is not None and method != "exact":
        raise CLIError(
            f"{where}: method {method!r}: a partial spectrum (top eigenvalues or quadrature nodes), not all "
            "eigenvalues of the matrix, which the fit needs"
        )


def load_eigenvalues(
    path: str | Path, select: dict[str, str] | None = None, *, flatten: bool = False
) -> np.ndarray:
    """Read one spectrum from ``.npy``, ``.txt`` (whitespace/newline separated) or ``.nc`` (xarray).

    Parameters
    ----------
    path : str or Path
        The file. ``.npy`` and ``.txt`` hold one 1-D array; ``.nc`` a variable ``eigenvalue`` whose last
        dimension runs along each spectrum (``k`` in :mod:`htmu.study.stores`) and whose other dimensions index
        spectra.
    select : dict, optional
        For ``.nc`` files: coordinate (or dimension) name -> value as text, e.g. ``{"layer": "fc1",
        "matrix": "weight"}``; any coordinate of the spectra can be used; a dimension without coordinate
        values takes a position. It must leave exactly one spectrum.
    flatten : bool
        Pool every value of a multi-dimensional array (or every selected spectrum of an ``.nc`` file) into
        one spectrum, instead of refusing it.

    Returns
    -------
    numpy.ndarray
        One-dimensional float array (for ``.nc``: without the trailing NaN padding of the store).

    Raises
    ------
    CLIError
        With a one-line message: missing or unreadable file, not one real spectrum (several, 2-D, complex,
        pickled objects such as masked arrays, NaN inside an ``.nc`` spectrum), a selection that matches no
        spectrum or several, or a store record that is not a full exact spectrum (SLQ nodes, top-k Lanczos
        values, a failed status).
    """
    p = Path(path)
    if not p.is_file():
        raise CLIError(f"{p}: no such file")
    suffix = p.suffix.lower()
    select = select or {}
    if select and suffix != ".nc":
        raise CLIError("--select applies to .nc files only")
    loaders = {".npy": _load_npy, ".txt": _load_txt}
    try:
        if suffix in loaders:
            return loaders[suffix](p, flatten)
        if suffix == ".nc":
            return _load_nc(p, select, flatten)
    except CLIError:
        raise
    except (OSError, ValueError) as exc:
        raise CLIError(f"{p}: cannot read eigenvalues ({exc})") from None
    hint = (
        "; save one spectrum with numpy.save(path, values) (values.compressed() for a masked array)"
        if suffix == ".npz"
        else ""
    )
    raise CLIError(f"{p}: unsupported file type {suffix!r} (use .npy, .txt or .nc){hint}")


# --------------------------------------------------------------------------------------------------
# cost model and progress

#: Cost model of ``htmu fit``, CPU seconds on the reference machine (benchmarks/bench_cli.py fits it), for n
#: eigenvalues. The point estimate (with the MP test), the rest of the interval (the MP test's null, the profile's
#: curvature and the replicates' refits against the data's profile likelihood) and the comparison of laws each
#: take a + b n^p, (a, b, p) = COST_POINT, COST_INTERVAL, COST_COMPARE (p > 1: the likelihood is O(n) per
#: evaluation and the number of evaluations grows with n); each bootstrap replicate COST_REPLICATE
#: min(1, n / N_BOOT_MAX)^2 (an ensemble draw of at most N_BOOT_MAX eigenvalues, quadratic in their number);
#: starting the command COST_START.
COST_POINT = (0.03, 5.7e-7, 1.34)
COST_INTERVAL = (0.13, 2.4e-8, 1.52)
COST_COMPARE = (0.017, 4.3e-7, 1.16)
COST_REPLICATE = 0.076
COST_START = 1.0
#: fit_htmp's smallest number of bootstrap replicates
MIN_BOOT = 5


def expected_seconds(n: int, ci: bool = True, n_boot: int = 20, compare: bool = True) -> dict[str, float]:
    """Expected seconds of each stage of ``htmu fit`` on ``n`` eigenvalues (the cost model of its help).

    Keys are the stages that :func:`htmu.fit.estimate.fit_htmp` reports to its ``progress`` callback
    (``"point estimate"``, ``"bootstrap replicates"``, ``"interval"``) and ``"comparison of laws"``. The
    figures are those of the reference machine; only their ratios matter for the progress bar, whose
    remaining time tqdm rescales by the rate it observes.
    """
    from htmu.fit.estimate import N_BOOT_MAX

    def power(cost: tuple[float, float, float]) -> float:
        return cost[0] + cost[1] * n ** cost[2]

    out = {"point estimate": power(COST_POINT)}
    if ci:
        out["bootstrap replicates"] = n_boot * COST_REPLICATE * min(1.0, n / N_BOOT_MAX) ** 2
        out["interval"] = power(COST_INTERVAL)
    if compare:
        out["comparison of laws"] = power(COST_COMPARE)
    return out


def _seconds_text(s: float) -> str:
    return f"{s:.1f} s" if s < 10 else f"{s:.0f} s" if s < 120 else f"{s / 60:.0f} min"


class _Progress:
    """A tqdm bar on stderr measured in expected seconds; ``update`` is fit_htmp's ``progress`` callback.

    Stages advance the bar by their share of :func:`expected_seconds`, so tqdm's remaining time (from the
    rate it observes) is the cost model rescaled to this machine. Before the first stage ends the bar shows
    the model's total; a timer refreshes the elapsed time every second.
    """

    def __init__(self, n: int, ci: bool, n_boot: int, compare: bool):
        from tqdm import tqdm

        self.seconds = expected_seconds(n, ci, n_boot, compare)
        self.units = {"bootstrap replicates": n_boot}
        total = sum(self.seconds.values())
        self.bar = tqdm(
            total=total,
            file=sys.stderr,
            desc=f"htmu fit: {n} eigenvalues, about {_seconds_text(total)} expected",
            bar_format="{desc} {percentage:3.0f}%|{bar}| {elapsed}<{remaining}{postfix}",
        )
        self._stop = threading.Event()
        self._timer = threading.Thread(target=self._tick, daemon=True)
        self._timer.start()

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            self.bar.refresh()

    def update(self, units: int, stage: str) -> None:
        per_unit = self.seconds.get(stage, 0.0) / self.units.get(stage, 1)
        self.bar.set_postfix_str(stage, refresh=False)
        # never past the total: the stages' shares add up to it only up to rounding, and tqdm warns beyond it
        self.bar.update(min(units * per_unit, self.bar.total - self.bar.n))

    def stage(self, name: str) -> None:
        self.bar.set_postfix_str(name)

    def close(self, done: bool) -> None:
        self._stop.set()
        self._timer.join()
        if done:
            self.bar.update(self.bar.total - self.bar.n)
        self.bar.close()


# --------------------------------------------------------------------------------------------------
# output and parser


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


def _power_text(cost: tuple[float, float, float]) -> str:
    return f"{cost[0]:g} + {cost[1]:.2g} n^{cost[2]:g}"


def _fit_epilog() -> str:
    """The cost model of ``htmu fit --help``, with the expected seconds at a few sizes."""
    from htmu.fit.estimate import N_BOOT_MAX

    sizes = (10**3, 10**4, 10**5, 10**6)

    def row(label: str, **kw) -> str:
        return f"  {label:<22}" + "".join(
            f"{_seconds_text(sum(expected_seconds(n, **kw).values())):>9}" for n in sizes
        )

    return "\n".join(
        [
            f"cost model: CPU seconds for n eigenvalues on the reference machine (one BLAS thread), plus about "
            f"{COST_START:g} s",
            "to start; benchmarks/bench_cli.py measures it (within about 20%; on a shared machine the wall time is "
            "longer):",
            f"  point estimate        {_power_text(COST_POINT)}",
            f"  interval              B x {COST_REPLICATE:g} x min(1, n/{N_BOOT_MAX})^2 + {_power_text(COST_INTERVAL)}",
            f"                        (B = --boot replicates, each of at most {N_BOOT_MAX} eigenvalues)",
            f"  comparison of laws    {_power_text(COST_COMPARE)}",
            f"  {'n =':<22}" + "".join(f"{n:>9.0e}" for n in sizes),
            row("default (B = 20)"),
            row("--no-ci", ci=False),
            row("--no-ci --no-compare", ci=False, compare=False),
            f"Above {PROGRESS_MIN_EIGENVALUES} eigenvalues a progress bar with the expected remaining time is "
            "shown on stderr (--progress/--no-progress).",
        ]
    )


def _paragraphs(*texts: str) -> str:
    return "\n\n".join(textwrap.fill(t, 100) for t in texts)


def build_parser() -> argparse.ArgumentParser:
    """The ``htmu`` argument parser (one subparser per subcommand)."""
    parser = argparse.ArgumentParser(
        prog="htmu",
        description="Heavy-tailed mechanistic universality: fit the HTMP law to eigenvalue spectra.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_fit(sub)
    _add_analyze(sub)
    return parser


def _add_fit(sub) -> None:
    """The ``htmu fit`` subcommand."""
    from htmu.fit.estimate import FORMS, METHODS  # the estimator's own lists: a new method shows up here

    fit = sub.add_parser(
        "fit",
        help="fit HTMP (kappa, scale, 95%% interval) and select the spectrum's law and phase",
        description=_paragraphs(
            "Fit the HTMP law to one spectrum and print JSON with the fit ('fit') and the law selected among "
            "MP, MP+spikes, HTMP-direct and HTMP-inverse, with its phase and evidence ('comparison', "
            "htmu.select_law). Direct form: x/scale ~ HTMP"
            "(gamma, kappa); inverse form: scale/lambda ~ HTMP(gamma, kappa). The 95% interval for kappa "
            "is calibrated by a parametric bootstrap from the high-temperature beta-Laguerre ensemble. "
            'Non-finite numbers are written as the strings "inf" and "nan".',
            "The input is one spectrum of real eigenvalues: an array that is not 1-D is refused unless "
            "--flatten pools it; complex values, pickled objects (a masked array: save its .compressed() "
            "values) and .npz files are refused; NaN is refused, except the trailing NaN padding of the "
            "spectra in an .nc store.",
        ),
        epilog=_fit_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fit.add_argument(
        "eigenvalues",
        help="EIGENVALUES.npy (a 1-D array), .txt (whitespace separated) or .nc (variable 'eigenvalue', "
        "its last dimension along each spectrum, as in htmu's stores results/spectra/*/*.nc)",
    )
    fit.add_argument("--gamma", type=float, required=True, help="aspect ratio in (0, 1) of the matrix")
    fit.add_argument("--form", choices=FORMS, required=True, help="which HTMP form to fit")
    fit.add_argument("--method", choices=METHODS, default="mle", help="estimator (default mle)")
    fit.add_argument("--no-ci", action="store_true", help="skip the bootstrap interval for kappa")
    fit.add_argument(
        "--boot",
        type=int,
        default=20,
        metavar="B",
        help=f"bootstrap replicates of the interval (default 20, at least {MIN_BOOT})",
    )
    fit.add_argument("--no-compare", action="store_true", help="skip the law selection")
    fit.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default 0)")
    fit.add_argument(
        "--select",
        action="append",
        metavar="NAME=VALUE",
        help="for .nc files: choose one spectrum by any of its coordinates (repeatable), e.g. --select "
        "arch=lenet --select stage=final --select matrix=weight --select layer=fc1; a dimension without "
        "coordinate values takes a position (--select spectrum=3). A selection that matches no spectrum "
        "or several is refused, naming the coordinates that still vary",
    )
    fit.add_argument(
        "--flatten",
        action="store_true",
        help="pool all values of a multi-dimensional array, or all selected spectra of an .nc file, into "
        "one spectrum (refused otherwise)",
    )
    fit.add_argument(
        "--floor",
        type=float,
        default=None,
        help="absolute accuracy of the eigenvalues: those at or below it are left-censored (default: a float64 "
        "eigensolver's n eps max|lambda|, or the store's own floor, e.g. an NTK accumulated in float32)",
    )
    fit.add_argument(
        "--rank",
        type=int,
        default=None,
        help="rank implied by the matrix's structure, when below the number of eigenvalues: the smallest "
        "n - rank are structural zeros and dropped (default: the store's rank, else none)",
    )
    fit.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=f"progress bar on stderr (default: on above {PROGRESS_MIN_EIGENVALUES} eigenvalues)",
    )
    fit.set_defaults(func=_cmd_fit)


def _add_analyze(sub) -> None:
    """The ``htmu analyze`` subcommand."""
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


def _store_floor_rank(args: argparse.Namespace) -> tuple[float | None, int | None]:
    """--floor and --rank, defaulting to the selected store record's own (one spectrum of an htmu store)."""
    floor, rank = args.floor, args.rank
    if floor is not None and not (math.isfinite(floor) and floor >= 0):
        raise CLIError(f"--floor {floor}: the floor is a number >= 0")
    if Path(args.eigenvalues).suffix == ".nc" and not args.flatten and (floor is None or rank is None):
        from htmu._io import read_netcdf

        ds = read_netcdf(args.eigenvalues)
        rows = _spectrum_rows(ds["eigenvalue"], tuple(ds["eigenvalue"].dims[:-1]), _parse_select(args.select),
                              str(args.eigenvalues), False)  # fmt: skip
        one = ds["eigenvalue"].isel(dict(zip(ds["eigenvalue"].dims[:-1], rows[0], strict=True)))
        if floor is None and "floor" in one.coords and np.isfinite(float(one.coords["floor"])):
            floor = float(one.coords["floor"])
        if rank is None and "rank" in one.coords and int(one.coords["rank"]) < int(one.coords["n_eigs"]):
            rank = int(one.coords["rank"])
    return floor, rank


def _cmd_fit(args: argparse.Namespace) -> dict:
    from htmu.fit.estimate import fit_htmp
    from htmu.fit.selection import select_law

    if args.boot < MIN_BOOT:
        raise CLIError(f"--boot {args.boot}: the interval needs at least {MIN_BOOT} bootstrap replicates")
    if args.seed < 0:
        raise CLIError(f"--seed {args.seed}: a seed is an integer >= 0")
    x = load_eigenvalues(args.eigenvalues, _parse_select(args.select), flatten=args.flatten)
    floor, rank = _store_floor_rank(args)
    show = args.progress if args.progress is not None else x.size > PROGRESS_MIN_EIGENVALUES
    bar = _Progress(x.size, not args.no_ci, args.boot, not args.no_compare) if show else None
    done = False
    try:
        fit = fit_htmp(
            x, args.gamma, form=args.form, method=args.method, rng=np.random.default_rng(args.seed),
            ci=not args.no_ci, n_boot=args.boot, progress=bar.update if bar else None, floor=floor, rank=rank,
        )  # fmt: skip
        out = {"file": str(args.eigenvalues), "fit": fit.to_dict()}
        if not args.no_compare:
            if bar:
                bar.stage("comparison of laws")
            sel = select_law(x, args.gamma, rng=np.random.default_rng(args.seed), ci=not args.no_ci, floor=floor,
                             rank=rank)  # fmt: skip
            out["comparison"] = sel.to_dict()
        done = True
    finally:
        if bar:
            bar.close(done)
    return out


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
        from htmu.plotting import fig_layer_esd, save_figure

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
