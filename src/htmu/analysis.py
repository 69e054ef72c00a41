r"""Analyze any PyTorch network layer by layer: law, phase, :math:`\kappa` and norms of every weight matrix.

:func:`analyze` is htmu's answer to ``WeightWatcher(model=m).analyze()``: one call, one row per weight
matrix, and for each the law the study's decision (:func:`htmu.fit.selection.select_law`) picks among
Marchenko--Pastur, MP with spikes and the two HTMP forms, the training phase, :math:`\kappa` with its
bootstrap interval, the tail exponent :math:`\alpha`, the number of spikes, and WeightWatcher's norm
metrics (``mp_softrank``, ``stable_rank``, ``log_spectral_norm``).

What is a row
    Each matrix found by :func:`htmu.spectra.module_weights` (a module) or
    :func:`htmu.spectra.state_dict_weights` (a state dict or a file: the layer kind is inferred from
    key names and tensor shapes, rules there): ``nn.Linear`` (``out x in``); ``nn.Conv1d/2d/3d`` as the
    ``out x in*k*k`` matrix (``conv="reshape"``) or WeightWatcher's pooled per-position slices
    (``conv="slices"``); ``nn.Embedding``; the query, key and value blocks of
    ``nn.MultiheadAttention``'s packed ``in_proj_weight`` (``<name>.q``, ``.k``, ``.v``; its
    ``out_proj`` is a Linear). The spectrum is :func:`htmu.spectra.weight_spectrum`'s: eigenvalues of the
    Gram of the smaller side, in float64, raw (no ``1/N``), :math:`\gamma = \min/\max \le 1`.

Columns (:data:`COLUMNS`)
    ``layer``, ``module`` (class name; for a state dict the inferred kind), ``shape`` (the weight as
    stored, ``"512x256x3x3"``), ``gamma``, ``n_eigs``; from :func:`~htmu.fit.selection.select_law`:
    ``law``, ``phase``, ``kappa`` with ``kappa_lo``/``kappa_hi`` (95% interval; NaN with ``ci=False``;
    ``inf`` for the MP laws), ``form`` (``"direct"``/``"inverse"``), ``alpha``
    (:math:`1 + \kappa(1-\gamma)/(2\gamma)`), ``n_spikes``; the norms, computed from the same
    eigenvalues for every row that has them:

    * ``mp_softrank`` :math:`= \lambda_+/\lambda_{max}`, with :math:`\lambda_+ = s(1+\sqrt\gamma)^2` the
      upper edge of the Marchenko--Pastur law MP(:math:`\gamma`) of mean :math:`s` fitted to the bulk.
      WeightWatcher fits :math:`s` by a grid search matching MP's density to a kernel density estimate
      of the whole spectrum; htmu fits it to the median: :math:`s = \mathrm{median}(\lambda) /
      \mathrm{median}\,\mathrm{MP}(\gamma)`, which ignores spikes and a tail holding less than half of
      the eigenvalues. About 1 for a random matrix (the largest eigenvalue sits at the edge), small when
      a spike or a heavy tail dominates.
    * ``stable_rank`` :math:`= \sum_i\lambda_i / \lambda_{max} = \|W\|_F^2/\|W\|_2^2` (as WeightWatcher).
    * ``log_spectral_norm`` :math:`= \log_{10}\lambda_{max} = \log_{10}\|W\|_2^2` (as WeightWatcher:
      the log of the largest eigenvalue of :math:`W W^T`, i.e. twice :math:`\log_{10}` of the largest
      singular value). With ``conv="slices"`` WeightWatcher's own value is :math:`\log_{10}2` lower
      (its ``conv2d_norm`` halves conv eigenvalues; htmu does not rescale).

    ``status`` is ``"ok"`` or why a row has no law: the spectrum's status (``"nonfinite_weights"``,
    ...), ``select_law``'s (``"too_few"``, ``"htmp_needs_gamma_below_1"`` for a square matrix that is not MP:
    a square one reads MP or MP+spikes at most), or ``"zero_weights: ..."`` for ``W = 0``; such
    rows keep the norms they have. A matrix never raises.

Speed
    The eigenvalues are computed here, largest layer first, with PyTorch's intra-op threads set to one for the
    call (and restored); each layer's ``select_law`` goes to a pool of worker processes (default: one per
    usable core) as soon as its eigenvalues are known. Processes, not threads: most of ``select_law``'s time is
    Python-level work that holds the GIL (two threads ran at 0.7x the speed of one). How the workers start,
    and what that asks of a script on macOS and Windows, is in :mod:`htmu._workers`.
    ``benchmarks/bench_analyze.py`` times it against WeightWatcher; ``docs/analyze.md`` gives the numbers.

Reproducibility
    Each layer's bootstrap draws from its own generator, seeded by ``(rng, crc32(layer name))``: a row
    does not depend on the other layers analysed, on their order or on the number of workers.

Loading files
    ``.pt``/``.pth``/``.bin``/``.ckpt`` through ``torch.load(weights_only=True)`` and ``.safetensors``
    through the ``safetensors`` package: no pickled code runs. A ``.safetensors`` file keeps no order of
    its tensors: its layers are listed in natural order of their names (``layers.2`` before
    ``layers.10``), not necessarily the model's. A ``{"state_dict": ...}`` checkpoint or a
    plain state dict goes through :func:`htmu.spectra.state_dict_weights`; a checkpoint that also holds
    ``"module_types"`` (layer name -> module class name, as the study's checkpoints do) gives its rows
    those class names instead of the kind inferred from the tensor.

References
----------
C. H. Martin, M. W. Mahoney, "Implicit self-regularization in deep neural networks", JMLR 22 (2021)
(the phases, WeightWatcher's metrics). L. Hodgkinson, Z. Wang, M. W. Mahoney, "Models of heavy-tailed
mechanistic universality", ICML 2025 (HTMP, :math:`\kappa`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import os
import re
import sys
import time
import zlib
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from htmu.spectra import (
    CONV_MODES,
    SpectrumRecord,
    WeightMatrix,
    module_weights,
    state_dict_weights,
    weight_spectrum,
)

__all__ = [
    "COLUMNS",
    "LayerAnalysis",
    "analyze",
    "analyze_layers",
    "load_weights",
    "mp_bulk_scale",
    "mp_softrank",
    "results_table",
]

#: Columns of :func:`analyze`'s table, in order.
COLUMNS: tuple[str, ...] = (
    "layer", "module", "shape", "gamma", "n_eigs", "law", "phase", "kappa", "kappa_lo", "kappa_hi", "form",
    "alpha", "n_spikes", "mp_softrank", "stable_rank", "log_spectral_norm", "status",
)  # fmt: skip

#: File suffixes read with ``torch.load(weights_only=True)``.
TORCH_SUFFIXES: tuple[str, ...] = (".pt", ".pth", ".bin", ".ckpt")
SAFETENSORS_SUFFIX = ".safetensors"

_ZERO = "zero_weights: W = 0, every eigenvalue is 0"


@dataclass(frozen=True, eq=False)
class LayerAnalysis:
    """Everything :func:`analyze_layers` learned about one weight matrix.

    Attributes
    ----------
    matrix : WeightMatrix
        The matrix (name, module, weight).
    spectrum : SpectrumRecord
        Its eigenvalues and aspect ratio.
    selection : LawSelection or None
        :func:`htmu.fit.selection.select_law`'s decision; None when it was not called (square matrix, empty
        spectrum).
    row : dict
        The table row (keys :data:`COLUMNS`).
    seconds : float
        Wall time spent on this layer: its eigenvalues here and its law selection in its worker.
    """

    matrix: WeightMatrix
    spectrum: SpectrumRecord
    selection: Any
    row: dict
    seconds: float


# ------------------------------------------------------------------------------------------ metrics
@functools.lru_cache(maxsize=256)
def _mp_median(gamma: float) -> float:
    """Median of MP(gamma) with mean 1, for 0 < gamma <= 1."""
    if gamma < 1:
        from htmu.laws import marchenko_pastur

        return float(marchenko_pastur.ppf(0.5, gamma))
    # gamma = 1: x = s^2 with s quarter-circle on [0, 2], P(s <= t) = (t sqrt(4 - t^2)/2 + 2 asin(t/2))/pi
    from scipy.optimize import brentq

    t = brentq(lambda t: (t * math.sqrt(4 - t * t) / 2 + 2 * math.asin(t / 2)) / math.pi - 0.5, 0.0, 2.0)
    return t * t


def _check_spectrum(eigenvalues, gamma: float) -> np.ndarray:
    x = np.asarray(eigenvalues, dtype=float)
    if x.ndim != 1 or x.size == 0 or not np.all(np.isfinite(x)):
        raise ValueError("eigenvalues must be a non-empty 1-D array of finite numbers")
    if not 0 < gamma <= 1:
        raise ValueError(f"gamma must lie in (0, 1], got {gamma!r}")
    return x


def mp_bulk_scale(eigenvalues: np.ndarray, gamma: float) -> float:
    r"""Mean :math:`s` of the Marchenko--Pastur law MP(:math:`\gamma`) fitted to a spectrum's bulk, by its median.

    :math:`s = \mathrm{median}(\lambda)/\mathrm{median}\,\mathrm{MP}(\gamma)` (MP with mean 1): the
    median ignores spikes and any tail holding less than half of the eigenvalues, so the fit describes
    the bulk. WeightWatcher fits the same scale by matching MP's density to a kernel density estimate of
    the whole spectrum (a grid search); the median needs no bandwidth and no grid.

    Parameters
    ----------
    eigenvalues : array_like
        Eigenvalues of ``W W^T``, finite, at least one.
    gamma : float
        Aspect ratio in (0, 1].

    Returns
    -------
    float
    """
    x = _check_spectrum(eigenvalues, gamma)
    return float(np.median(x)) / _mp_median(float(gamma))


def mp_softrank(eigenvalues: np.ndarray, gamma: float) -> float:
    r"""WeightWatcher's ``mp_softrank`` :math:`\lambda_+/\lambda_{max}`, with the MP edge of the bulk fit.

    :math:`\lambda_+ = s (1+\sqrt\gamma)^2` is the upper edge of MP(:math:`\gamma`) with mean :math:`s`
    from :func:`mp_bulk_scale`. About 1 for a random matrix (its largest eigenvalue sits at the edge),
    small when a spike or a heavy tail dominates.

    Parameters
    ----------
    eigenvalues : array_like
        Eigenvalues of ``W W^T`` (at least one, largest > 0).
    gamma : float
        Aspect ratio in (0, 1].

    Returns
    -------
    float
    """
    x = _check_spectrum(eigenvalues, gamma)
    lam_max = float(x.max())
    if not lam_max > 0:
        raise ValueError(f"the largest eigenvalue must be > 0, got {lam_max!r}")
    return mp_bulk_scale(x, gamma) * (1 + math.sqrt(gamma)) ** 2 / lam_max


def _norm_metrics(eig: np.ndarray, gamma: float) -> dict[str, float]:
    nan = math.nan
    if eig.size == 0 or not eig[-1] > 0:
        return {"mp_softrank": nan, "stable_rank": nan, "log_spectral_norm": nan}
    lam_max = float(eig[-1])
    return {
        "mp_softrank": mp_softrank(eig, gamma) if 0 < gamma <= 1 else nan,
        "stable_rank": float(eig.sum()) / lam_max,
        "log_spectral_norm": math.log10(lam_max),
    }


# ---------------------------------------------------------------------------------------- loading
def _from_state_dict(state: Mapping, where: str) -> list[WeightMatrix]:
    found = state_dict_weights(state)
    if not found:
        keys = ", ".join(map(str, list(state)[:8])) or "none"
        raise ValueError(
            f"{where}: no weight matrices found (keys ending in 'weight' with 2 to 5 dimensions, or "
            f"'in_proj_weight'); first keys: {keys}"
        )
    return found


def _from_blob(blob: object, where: str) -> list[WeightMatrix]:
    """Weight matrices of a loaded object: a state dict, or ``{"state_dict": ..., "module_types": ...}``."""
    if not isinstance(blob, Mapping):
        raise ValueError(
            f"{where}: expected a state dict (a mapping of names to tensors), got {type(blob).__name__}"
        )
    inner = blob.get("state_dict")
    if isinstance(inner, Mapping):
        found = _from_state_dict(inner, f"{where} ['state_dict']")
        types = blob.get("module_types")
        if isinstance(types, Mapping):  # the modules' class names, where the checkpoint records them
            found = [dataclasses.replace(wm, module=str(types.get(wm.layer, wm.module))) for wm in found]
        return found
    if not any(isinstance(v, torch.Tensor) for v in blob.values()):
        keys = ", ".join(map(str, list(blob)[:8])) or "none"
        raise ValueError(f"{where}: holds no tensors and no 'state_dict' (top-level keys: {keys})")
    return _from_state_dict(blob, where)


def _load_file(path: Path) -> list[WeightMatrix]:
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if not path.is_file():
        raise ValueError(f"{path}: not a file")
    suffix = path.suffix.lower()
    if suffix == SAFETENSORS_SUFFIX:
        from safetensors.torch import load_file

        try:
            blob = load_file(str(path), device="cpu")
        except Exception as err:  # noqa: BLE001 (any reader failure is an unreadable file, said in one line)
            raise ValueError(f"{path}: cannot read as safetensors ({_first_line(err)})") from None
        # safetensors keeps no key order (its reader returns them sorted as text, "layers.10" before
        # "layers.2"): list the layers in natural order, digit runs compared as numbers
        blob = {k: blob[k] for k in sorted(blob, key=_natural_key)}
        return _from_blob(blob, str(path))
    if suffix in TORCH_SUFFIXES:
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001 (unpickling errors come in many types)
            raise ValueError(
                f"{path}: cannot load with torch.load(weights_only=True) ({_first_line(err)}); a pickled "
                "nn.Module is refused on purpose: save model.state_dict() instead"
            ) from None
        return _from_blob(blob, str(path))
    raise ValueError(
        f"{path}: unsupported file type {suffix!r} (use {', '.join(TORCH_SUFFIXES)} or {SAFETENSORS_SUFFIX})"
    )


def _natural_key(name: str) -> list:
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name)]


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}".rstrip(": ")


def load_weights(model_or_path: nn.Module | Mapping | str | os.PathLike) -> list[WeightMatrix]:
    """The weight matrices of a module, a state dict or a model file (see the module notes).

    Parameters
    ----------
    model_or_path : torch.nn.Module, mapping of str to Tensor, str or path-like
        A module; a state dict; a ``.pt``/``.pth``/``.bin``/``.ckpt`` file (``torch.load`` with
        ``weights_only=True``) or a ``.safetensors`` file.

    Returns
    -------
    list of WeightMatrix

    Raises
    ------
    FileNotFoundError
        If the path does not exist.
    ValueError
        If the file cannot be read safely, holds no state dict, or no weight matrix is found.
    TypeError
        For any other kind of input.
    """
    if isinstance(model_or_path, nn.Module):
        found = module_weights(model_or_path)
        if not found:
            raise ValueError(
                f"model_or_path: {type(model_or_path).__name__} has no Linear, Conv, Embedding or "
                "MultiheadAttention module"
            )
        return found
    if isinstance(model_or_path, str | os.PathLike):
        return _load_file(Path(model_or_path))
    if isinstance(model_or_path, Mapping):
        return _from_blob(model_or_path, "state dict")
    raise TypeError(
        "model_or_path: expected an nn.Module, a state dict or a path to a .pt/.pth/.safetensors file, "
        f"got {type(model_or_path).__name__}"
    )


def _select_layers(found: list[WeightMatrix], layers: str | Sequence[str] | None) -> list[WeightMatrix]:
    if layers is None:
        return found
    names = [wm.layer for wm in found]
    shown = ", ".join(names[:12]) + (f", ... ({len(names)} in all)" if len(names) > 12 else "")
    if isinstance(layers, str):
        try:
            pattern = re.compile(layers)
        except re.error as err:
            raise ValueError(f"layers: {layers!r} is not a regular expression ({err})") from None
        kept = [wm for wm in found if pattern.search(wm.layer)]
        if not kept:
            raise ValueError(f"layers: regular expression {layers!r} matches no layer (layers: {shown})")
        return kept
    wanted = list(layers)
    missing = [n for n in wanted if n not in set(names)]
    if missing:
        raise ValueError(f"layers: {missing} are not weight matrices of the model (layers: {shown})")
    return [wm for wm in found if wm.layer in set(wanted)]


# ---------------------------------------------------------------------------------------- analysis
def _base_seed(rng: int | np.random.Generator | None) -> int:
    if rng is None:
        return int(np.random.SeedSequence().entropy % 2**63)
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(2**63))
    if isinstance(rng, int | np.integer) and not isinstance(rng, bool) and rng >= 0:
        return int(rng)
    raise ValueError(f"rng: expected a non-negative int, a numpy Generator or None, got {rng!r}")


def _layer_rng(seed: int, layer: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(layer.encode())])


def _shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape)) if shape else "?"


def _layer_spectrum(wm: WeightMatrix, conv: str) -> tuple[SpectrumRecord, dict[str, Any], bool]:
    """The layer's eigenvalues, its row without the law, and whether ``select_law`` has a spectrum to read."""
    rec = weight_spectrum(wm, conv)
    eig = rec.eigenvalues
    row: dict[str, Any] = dict.fromkeys(COLUMNS, math.nan)
    row.update(layer=wm.layer, module=wm.module, shape=_shape_text(wm.shape), gamma=rec.gamma,
               n_eigs=int(eig.size), law="", phase="", form="", n_spikes=pd.NA)  # fmt: skip
    if rec.status != "ok":
        row["status"] = rec.status
        return rec, row, False
    row.update(_norm_metrics(eig, rec.gamma))
    if not eig[-1] > 0:  # W = 0 (e.g. a zero-initialised layer): no spectrum to fit
        row["status"] = _ZERO
        return rec, row, False
    return rec, row, True


def _add_selection(row: dict[str, Any], sel: Any) -> None:
    row["status"] = sel.status
    if sel.status == "ok":
        lo, hi = sel.kappa_ci
        row.update(law=sel.law, phase=sel.phase, kappa=float(sel.kappa), kappa_lo=float(lo), kappa_hi=float(hi),
                   form=sel.form, alpha=float(sel.alpha), n_spikes=int(sel.n_spikes))  # fmt: skip


def _cost(wm: WeightMatrix) -> int:
    """Rough work of a layer (its number of entries), to schedule the largest first."""
    shape = wm.shape
    return int(np.prod(shape)) if shape else 0


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    old = torch.get_num_threads()
    try:
        torch.set_num_threads(n)
        yield
    finally:
        torch.set_num_threads(old)


def analyze_layers(
    model_or_path: nn.Module | Mapping | str | os.PathLike,
    *,
    layers: str | Sequence[str] | None = None,
    conv: str = "reshape",
    ci: bool = True,
    progress: bool = True,
    rng: int | np.random.Generator | None = 0,
    workers: int | None = None,
) -> list[LayerAnalysis]:
    """:func:`analyze`, keeping each layer's eigenvalues and law selection (for figures).

    Parameters and errors are :func:`analyze`'s.

    Returns
    -------
    list of LayerAnalysis
        In the model's layer order.
    """
    if conv not in CONV_MODES:
        raise ValueError(f"conv must be one of {CONV_MODES}, got {conv!r}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ValueError(f"workers: expected a positive integer or None, got {workers!r}")
    seed = _base_seed(rng)
    from htmu._workers import process_pool, timed_select_law

    found = _select_layers(load_weights(model_or_path), layers)
    n_workers = min(workers or _usable_cores(), len(found))
    order = sorted(range(len(found)), key=lambda i: -_cost(found[i]))
    results: list[LayerAnalysis | None] = [None] * len(found)
    from tqdm import tqdm

    bar = tqdm(total=len(found), desc="htmu analyze", unit="layer", file=sys.stderr, disable=not progress)
    pool = process_pool(n_workers) if n_workers > 1 else contextlib.nullcontext()
    with bar, pool, _torch_threads(1), torch.no_grad():
        pending = {}
        # eigenvalues here, largest layer first; each layer's law in a worker as soon as it has them
        for i in order:
            t0 = time.perf_counter()
            rec, row, fit = _layer_spectrum(found[i], conv)
            t_eig = time.perf_counter() - t0
            args = (rec.eigenvalues, rec.gamma, rec.rank, bool(ci), _layer_rng(seed, found[i].layer))
            if fit and n_workers > 1:
                pending[pool.submit(timed_select_law, *args)] = (i, rec, row, t_eig)
                continue
            sel, t_sel = timed_select_law(*args) if fit else (None, 0.0)
            if sel is not None:
                _add_selection(row, sel)
            results[i] = LayerAnalysis(found[i], rec, sel, row, t_eig + t_sel)
            bar.update()
        for fut in as_completed(pending):
            sel, t_sel = fut.result()
            i, rec, row, t_eig = pending[fut]
            _add_selection(row, sel)
            results[i] = LayerAnalysis(found[i], rec, sel, row, t_eig + t_sel)
            bar.update()
    return [r for r in results if r is not None]


def results_table(results: Sequence[LayerAnalysis]) -> pd.DataFrame:
    """The table of :func:`analyze` from :func:`analyze_layers`' results."""
    df = pd.DataFrame([r.row for r in results], columns=list(COLUMNS))
    df["n_eigs"] = df["n_eigs"].astype("int64")
    df["n_spikes"] = df["n_spikes"].astype("Int64")
    for c in ("gamma", "kappa", "kappa_lo", "kappa_hi", "alpha", "mp_softrank", "stable_rank",
              "log_spectral_norm"):  # fmt: skip
        df[c] = df[c].astype("float64")
    return df


def analyze(
    model_or_path: nn.Module | Mapping | str | os.PathLike,
    *,
    layers: str | Sequence[str] | None = None,
    conv: str = "reshape",
    ci: bool = True,
    progress: bool = True,
    rng: int | np.random.Generator | None = 0,
    workers: int | None = None,
) -> pd.DataFrame:
    r"""One row per weight matrix: the selected law, phase, :math:`\kappa` [95% CI], :math:`\alpha`, norms.

    Parameters
    ----------
    model_or_path : torch.nn.Module, state dict, str or path-like
        A module; a state dict (mapping of names to tensors); a ``.pt``/``.pth``/``.bin``/``.ckpt``
        file (``torch.load(weights_only=True)``; the study's checkpoints included) or a
        ``.safetensors`` file. Files never run pickled code.
    layers : str or sequence of str, optional
        A regular expression searched in each layer name (``re.search``), or a list of exact names.
        Default: every matrix.
    conv : {"reshape", "slices"}
        Convolutions as one ``out x in*k*k`` matrix, or WeightWatcher's pooled per-position slices
        (:func:`htmu.spectra.weight_spectrum`).
    ci : bool
        Compute the bootstrap interval of :math:`\kappa` (much slower; ``kappa_lo``/``kappa_hi`` are NaN
        without).
    progress : bool
        Show a progress bar (tqdm) on stderr.
    rng : int, numpy.random.Generator or None
        Seed of the bootstrap; each layer gets its own stream (see the module notes). None: fresh
        entropy.
    workers : int, optional
        Worker processes over layers (default: the usable cores); 1 runs everything in this process.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COLUMNS`, one row per matrix in the model's order (see the module notes).

    Raises
    ------
    FileNotFoundError, ValueError, TypeError
        Bad input (see :func:`load_weights`), a ``layers`` pattern that matches nothing or names
        missing layers, an unknown ``conv``. A matrix that cannot be fitted is a row with a ``status``.

    Examples
    --------
    >>> import torchvision, htmu
    >>> df = htmu.analyze(torchvision.models.resnet18(weights=None))  # doctest: +SKIP
    >>> df[["layer", "gamma", "law", "phase", "kappa", "alpha"]]  # doctest: +SKIP
    """
    return results_table(
        analyze_layers(
            model_or_path, layers=layers, conv=conv, ci=ci, progress=progress, rng=rng, workers=workers
        )
    )
