"""Eigenvalue spectra of a network's matrices: weights, NTK, conjugate kernel, loss Hessian.

Every spectrum is returned as a :class:`SpectrumRecord`: the eigenvalues (float64, ascending) and the
shape information the HTMP fit needs, with a ``status`` that says why a spectrum is empty instead of
raising (a diverged training run must not crash the workflow).

Conventions shared by all records
---------------------------------
* ``n_rows`` is the number of eigenvalues returned and ``n_cols`` the other side of the factor whose
  Gram was diagonalised: the spectrum is ``eig(A A^T)`` with ``A`` of shape ``n_rows x n_cols``.
* ``gamma = min(n_rows, n_cols) / max(n_rows, n_cols)``: the aspect ratio ``0 < gamma <= 1`` of the
  HTMP law (``gamma = n_rows / n_cols`` whenever the smaller side is the rows, which is always the case
  for weights and the conjugate kernel). The Hessian is not a Gram matrix: its ``gamma`` is NaN.
* Float32 work (the NTK's Jacobians and block products, the conjugate kernel's features, float32
  Hessian-vector products) runs in full IEEE float32 also on CUDA: TF32 is switched off for the call
  (PyTorch's default lets cuDNN convolutions use it; see ``_ieee_float32``).
* All eigen-solvers run in float64; matrices are cast to float64 before ``eigvalsh``. Tiny negative
  eigenvalues of a positive semi-definite Gram (order ``eps * lambda_max``) are kept as computed: no
  clipping, so what is stored is what LAPACK returned.
* No normalisation: weight spectra are eigenvalues of the raw ``W W^T`` and the NTK is the raw
  ``J J^T`` (``normalize=True`` divides by the number of parameters ``P``). The HTMP fit estimates the
  scale.
* Networks are evaluated in eval mode (BatchNorm uses its running statistics, Dropout is off), so that
  every kernel is a deterministic function of the parameters and of each input on its own. The
  module's ``training`` flags are restored afterwards; parameters and buffers are never modified.

References
----------
.. [1] A. Jacot, F. Gabriel, C. Hongler, "Neural Tangent Kernel: convergence and generalization in
   neural networks", NeurIPS 2018.
.. [2] R. Novak, J. Sohl-Dickstein, S. Schoenholz, "Fast finite width neural tangent kernel",
   ICML 2022 (Jacobian contraction vs. NTK-vector products; cost model of the blocked Gram).
.. [3] C. H. Martin, M. W. Mahoney, "Implicit self-regularization in deep neural networks",
   JMLR 22 (2021) (layer weight ESDs, conv layers as matrices).
.. [4] G. H. Golub, G. Meurant, "Matrices, Moments and Quadrature with Applications", Princeton 2010
   (Lanczos, Gauss quadrature); S. Ubaru, J. Chen, Y. Saad, "Fast estimation of tr(f(A)) via
   stochastic Lanczos quadrature", SIAM J. Matrix Anal. Appl. 38 (2017).
.. [5] L. Hodgkinson, Z. Wang, M. W. Mahoney, "Models of heavy-tailed mechanistic universality",
   ICML 2025.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, jacrev, vmap
from torch.func import hessian as func_hessian

from htmu.stats import as_rng

__all__ = [
    "CONV_MODES",
    "NTK_HEADROOM",
    "NTKBlockPlan",
    "SpectrumRecord",
    "WeightMatrix",
    "ck_spectrum",
    "hessian_spectrum",
    "module_weights",
    "ntk_gram",
    "ntk_spectrum",
    "plan_ntk_blocks",
    "state_dict_weights",
    "weight_spectra",
    "weight_spectrum",
]

MATRICES = ("weight", "ntk", "ck", "hessian")
METHODS = ("exact", "lanczos", "slq")

_EMPTY = np.zeros(0, dtype=np.float64)


@dataclass(frozen=True, eq=False)
class SpectrumRecord:
    """One eigenvalue spectrum with the shape information an HTMP fit needs.

    Attributes
    ----------
    matrix : {"weight", "ntk", "ck", "hessian"}
        Which matrix the spectrum belongs to.
    layer : str
        Qualified module (or parameter) name; ``"all"`` for whole-network kernels.
    eigenvalues : numpy.ndarray
        float64, ascending; empty when ``status != "ok"``.
    gamma : float
        ``min(n_rows, n_cols) / max(n_rows, n_cols)`` (see the module docstring); NaN for the Hessian.
    n_rows, n_cols : int
        Shape of the factor ``A`` with spectrum ``eig(A A^T)``; ``n_rows`` eigenvalues in all.
    convention : str
        Human-readable statement of the matrix that was diagonalised.
    method : {"exact", "lanczos", "slq"}
        ``"exact"``: full ``eigvalsh``; ``"lanczos"``: top-k Ritz values; ``"slq"``: stochastic Lanczos
        quadrature nodes with ``weights``.
    status : str
        ``"ok"`` or the reason the spectrum is empty or unreliable (``"nonfinite_weights"``, ...).
    weights : numpy.ndarray or None
        Quadrature weights (summing to one) aligned with ``eigenvalues``, for ``method == "slq"``.
    rank : int or None
        The rank the factor's structure allows, when below ``n_rows``: ``A``'s exactly-zero rows or columns
        (dead ReLU units, pruned weights) make exact zero eigenvalues, which fits drop as structural zeros
        (:func:`htmu.fit.estimate.fit_htmp`'s ``rank``) instead of reading them as the law's lower tail. None: full.
    floor : float or None
        Absolute accuracy of the eigenvalues when it is coarser than a float64 eigensolver's
        (``n eps64 max|lambda|``): a matrix whose entries were accumulated in float32 (the NTK's block
        products, float32 Hessian-vector products) is known only to ``n eps32 max|lambda|``; eigenvalues at or
        below that are left-censored by the fits (their ``floor``). None: the float64 default.
    """

    matrix: str
    layer: str
    eigenvalues: np.ndarray
    gamma: float
    n_rows: int
    n_cols: int
    convention: str
    method: str = "exact"
    status: str = "ok"
    weights: np.ndarray | None = field(default=None)
    rank: int | None = None
    floor: float | None = None

    def __post_init__(self) -> None:
        if self.matrix not in MATRICES:
            raise ValueError(f"matrix must be one of {MATRICES}, got {self.matrix!r}")
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        eig = np.ascontiguousarray(np.asarray(self.eigenvalues, dtype=np.float64)).reshape(-1)
        object.__setattr__(self, "eigenvalues", eig)
        if eig.size > 1 and np.any(np.diff(eig) < 0):
            raise ValueError("eigenvalues must be in ascending order")
        if self.weights is not None:
            w = np.ascontiguousarray(np.asarray(self.weights, dtype=np.float64)).reshape(-1)
            if w.shape != eig.shape:
                raise ValueError(f"weights has shape {w.shape}, eigenvalues {eig.shape}")
            object.__setattr__(self, "weights", w)
        object.__setattr__(self, "gamma", float(self.gamma))
        object.__setattr__(self, "n_rows", int(self.n_rows))
        object.__setattr__(self, "n_cols", int(self.n_cols))


def _aspect(n_rows: int, n_cols: int) -> float:
    return min(n_rows, n_cols) / max(n_rows, n_cols)


def _floor_of(eig: np.ndarray, dtype: torch.dtype) -> float | None:
    """``n eps max|lambda|`` for a matrix whose entries were computed in ``dtype``; None for float64 (the default)."""
    if dtype == torch.float64 or eig.size == 0:
        return None
    return float(eig.size * torch.finfo(dtype).eps * np.max(np.abs(eig)))


def _structural_rank(a: torch.Tensor) -> int | None:
    """min(nonzero rows, nonzero columns) of ``a`` when that is below its smaller side, else None (full)."""
    nz = a != 0
    r = min(int(nz.any(dim=1).sum()), int(nz.any(dim=0).sum()))
    return r if r < min(a.shape) else None


@contextlib.contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """Put ``model`` in eval mode and restore every submodule's ``training`` flag afterwards."""
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for m, flag in flags:
            m.training = flag


@contextlib.contextmanager
def _ieee_float32() -> Iterator[None]:
    """Full-precision float32 for CUDA matrix products and cuDNN convolutions, restored afterwards.

    PyTorch lets cuDNN run float32 convolutions in TF32 by default on Ampere and later GPUs (10-bit
    mantissa, unit roundoff 2^-11 ~ 4.9e-4; ``torch.backends.cudnn.conv.fp32_precision == "tf32"``), and
    cuBLAS float32 products too where a caller set ``torch.set_float32_matmul_precision("high")``. For a
    spectrum that rounding is not noise to ignore: the small eigenvalues of a Gram, which the inverse HTMP
    form weights most, sit far below ``4.9e-4 * lambda_max``. On the CPU the flags change nothing.
    """
    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    if hasattr(getattr(cudnn, "conv", None), "fp32_precision"):  # torch >= 2.9
        # The new API alone, restored value by value: mixing in the legacy ``allow_tf32`` setters would not
        # restore the caller's state exactly (it leaves ``matmul.fp32_precision`` at "ieee").
        targets = (cudnn.conv, matmul)
        old = [t.fp32_precision for t in targets]
        try:
            for t in targets:
                t.fp32_precision = "ieee"
            yield
        finally:
            for t, value in zip(targets, old, strict=True):
                t.fp32_precision = value
    else:  # pragma: no cover - torch < 2.9
        old_flags = (cudnn.allow_tf32, matmul.allow_tf32)
        try:
            cudnn.allow_tf32 = matmul.allow_tf32 = False
            yield
        finally:
            cudnn.allow_tf32, matmul.allow_tf32 = old_flags


def _all_finite(tensors: Iterable[torch.Tensor]) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in tensors)


def _eigvalsh64(gram: torch.Tensor) -> np.ndarray:
    """Ascending eigenvalues of a symmetric matrix, computed in float64 on the matrix's device."""
    return torch.linalg.eigvalsh(gram.to(torch.float64)).cpu().numpy()


# ---------------------------------------------------------------------------------------------------
# weights
# ---------------------------------------------------------------------------------------------------

#: How a convolution kernel ``(out, in/groups, *k)`` becomes a spectrum (see :func:`weight_spectrum`).
CONV_MODES: tuple[str, ...] = ("reshape", "slices")

_CONV_MODULES = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_MHA_PARTS = ("q", "k", "v")


@dataclass(frozen=True, eq=False)
class WeightMatrix:
    """One weight matrix of a network, located but not yet diagonalised.

    Attributes
    ----------
    layer : str
        Qualified name: the module's (``"features.0"``), or the state-dict key without ``.weight``;
        attention projections add ``.q``, ``.k``, ``.v`` to the attention module's name.
    module : str
        The module's class name (``"Linear"``, ``"Conv2d"``, ``"Embedding"``, ``"MultiheadAttention"``),
        or, for a state dict, the kind inferred from the tensor (see :func:`state_dict_weights`).
    weight : torch.Tensor
        The matrix (2-D), or a convolution kernel ``(out, in/groups, *k)`` as stored (``kind="conv"``).
    kind : {"matrix", "conv"}
        Whether ``weight`` is read as it is or as a convolution kernel.
    origin : str
        Where the matrix comes from, for the record's ``convention`` (e.g. ``"W: out x in"``).
    """

    layer: str
    module: str
    weight: torch.Tensor
    kind: str
    origin: str

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of ``weight`` as stored (empty for an uninitialised lazy parameter)."""
        if isinstance(self.weight, nn.parameter.UninitializedParameter):
            return ()
        return tuple(self.weight.shape)


def _qualify(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _mha_parts(name: str, m: nn.MultiheadAttention) -> list[WeightMatrix]:
    """The q, k, v projections of an attention module (packed ``in_proj_weight`` or three weights)."""
    e = m.embed_dim
    if m.in_proj_weight is not None:
        return [
            WeightMatrix(
                _qualify(name, p),
                type(m).__name__,
                m.in_proj_weight[i * e : (i + 1) * e],
                "matrix",
                f"W: {p} block of in_proj_weight (rows {i * e}:{(i + 1) * e}), embed_dim x embed_dim",
            )
            for i, p in enumerate(_MHA_PARTS)
        ]
    return [
        WeightMatrix(
            _qualify(name, p),
            type(m).__name__,
            getattr(m, f"{p}_proj_weight"),
            "matrix",
            f"W: {p}_proj_weight, embed_dim x {'embed_dim' if p == 'q' else p + 'dim'}",
        )
        for p in _MHA_PARTS
    ]


def module_weights(model: nn.Module) -> list[WeightMatrix]:
    """Every weight matrix of ``model``'s Linear, Conv, Embedding and MultiheadAttention modules.

    In ``named_modules`` order: ``nn.Linear`` (``out x in``), ``nn.Conv1d/2d/3d`` (the kernel,
    ``kind="conv"``), ``nn.Embedding`` (``num_embeddings x embedding_dim``), and for
    ``nn.MultiheadAttention`` its query, key and value projections as three matrices named
    ``<name>.q``, ``<name>.k``, ``<name>.v`` (the packed ``in_proj_weight`` split into its three
    ``embed_dim``-row blocks); its output projection is an ``nn.Linear`` (``<name>.out_proj``).
    Other parameters (biases, normalisation weights, bare ``nn.Parameter`` tensors such as positional
    embeddings) are not matrices of a layer and are left out.

    Parameters
    ----------
    model : torch.nn.Module

    Returns
    -------
    list of WeightMatrix
    """
    out: list[WeightMatrix] = []
    for name, m in model.named_modules():
        if isinstance(m, nn.MultiheadAttention):
            out += _mha_parts(name, m)
        elif isinstance(m, nn.Linear):
            out.append(WeightMatrix(name, type(m).__name__, m.weight, "matrix", "W: out x in"))
        elif isinstance(m, _CONV_MODULES):
            out.append(WeightMatrix(name, type(m).__name__, m.weight, "conv", "W: out x in*k*k"))
        elif isinstance(m, nn.Embedding):
            origin = "W: num_embeddings x embedding_dim"
            out.append(WeightMatrix(name, type(m).__name__, m.weight, "matrix", origin))
    return out


#: Module kind inferred from the number of dimensions of a state dict's ``*.weight`` tensor.
STATE_DICT_KINDS: dict[int, str] = {2: "Linear|Embedding", 3: "Conv1d", 4: "Conv2d", 5: "Conv3d"}


def state_dict_weights(state: Mapping[str, object]) -> list[WeightMatrix]:
    """The weight matrices of a state dict, inferred from key names and tensor shapes.

    Rules, in key order (no module is available, so nothing else is known):

    * a key ending in ``in_proj_weight`` (``nn.MultiheadAttention``'s packed projection, ``3E x E``)
      gives three ``E x E`` matrices ``<prefix>.q``, ``<prefix>.k``, ``<prefix>.v``; keys ending in
      ``q_proj_weight``, ``k_proj_weight``, ``v_proj_weight`` give ``<prefix>.q`` etc. (module
      ``"MultiheadAttention"``);
    * a key ``<prefix>.weight`` (or ``weight``) holding a floating-point tensor with 2 dimensions is a
      matrix read as stored (module ``"Linear|Embedding"``: a Linear and an Embedding weight cannot be
      told apart, and their spectra are taken the same way); with 3, 4 or 5 dimensions it is a
      convolution kernel (``"Conv1d"``, ``"Conv2d"``, ``"Conv3d"``); the layer is named ``<prefix>``;
    * everything else is left out: 1-D tensors (biases, normalisation weights), integer buffers, keys
      not ending in ``weight`` (positional embeddings, class tokens, running statistics).

    For a model made of Linear, Conv, Embedding and MultiheadAttention modules this finds the same
    matrices, with the same names, as :func:`module_weights` on the model. A transposed convolution's
    kernel ``(in, out/groups, *k)`` would be read as ``in x out*k*k`` (the module path leaves such
    layers out).

    Parameters
    ----------
    state : mapping of str to torch.Tensor
        E.g. ``model.state_dict()`` or a ``.safetensors`` file's tensors. Non-tensor values are ignored.

    Returns
    -------
    list of WeightMatrix
    """
    out: list[WeightMatrix] = []
    for key, t in state.items():
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            continue
        key = str(key)
        prefix, _, last = key.rpartition(".")
        if last == "in_proj_weight" and t.ndim == 2 and t.shape[0] % 3 == 0:
            e = t.shape[0] // 3
            out += [
                WeightMatrix(
                    _qualify(prefix, p),
                    "MultiheadAttention",
                    t[i * e : (i + 1) * e],
                    "matrix",
                    f"W: {p} block of in_proj_weight (rows {i * e}:{(i + 1) * e}), embed_dim x embed_dim",
                )
                for i, p in enumerate(_MHA_PARTS)
            ]
        elif last in {f"{p}_proj_weight" for p in _MHA_PARTS} and t.ndim == 2:
            p = last[0]
            out.append(WeightMatrix(_qualify(prefix, p), "MultiheadAttention", t, "matrix", f"W: {last}"))
        elif last == "weight" and t.ndim in STATE_DICT_KINDS:
            kind = "matrix" if t.ndim == 2 else "conv"
            origin = "W: out x in (2-D tensor as stored)" if t.ndim == 2 else "W: out x in*k*k"
            out.append(WeightMatrix(prefix, STATE_DICT_KINDS[t.ndim], t, kind, origin))
    return out


def _gram_eigenvalues(a: torch.Tensor) -> np.ndarray:
    """Eigenvalues of ``A A^T`` (batched over leading dimensions), ``A`` with no more rows than columns."""
    a = a.to(torch.float64)
    return _eigvalsh64(a @ a.mT)


def weight_spectrum(wm: WeightMatrix, conv: str = "reshape") -> SpectrumRecord:
    r"""Eigenvalues of ``W W^T`` for one weight matrix, from the Gram of its smaller side, in float64.

    A matrix ``W`` (``kind="matrix"``) with ``A = W`` if it has no more rows than columns and
    ``A = W^T`` otherwise gives :math:`\lambda(A A^T)` and :math:`\gamma = \text{rows}(A)/\text{cols}(A)
    \le 1`: the ``min(rows, cols)`` squared singular values of ``W``, raw (no ``1/N``: the fit
    estimates the scale).

    A convolution kernel ``(out, in/groups, *k)`` (``kind="conv"``) is read one of two ways:

    * ``conv="reshape"``: the ``out x (in/groups * prod(k))`` matrix ``weight.reshape(out, -1)``, each
      row a flattened filter (the matrix that acts on an unfolded patch);
    * ``conv="slices"``: WeightWatcher's convention [3]_: one ``out x in/groups`` matrix
      ``S_p = weight[:, :, p]`` per kernel position ``p`` (``prod(k)`` of them), their spectra pooled.
      The pooled eigenvalues are the spectrum of the block-diagonal matrix ``diag(S_p)``, so
      ``n_rows = prod(k) * min(out, in)``, ``n_cols = prod(k) * max(out, in)`` and ``gamma`` is one
      slice's aspect ratio. WeightWatcher's ``analyze`` also multiplies the weights by
      :math:`\sqrt{1/2}` (``conv2d_norm``, halving every eigenvalue); htmu does not rescale.

    Parameters
    ----------
    wm : WeightMatrix
    conv : {"reshape", "slices"}
        How a convolution kernel is read; ignored for ``kind="matrix"``.

    Returns
    -------
    SpectrumRecord
        ``matrix="weight"``, ``method="exact"``. A NaN or infinite weight gives an empty spectrum with
        ``status="nonfinite_weights"``, an uninitialised lazy parameter ``"uninitialized_weights"``.
    """
    if conv not in CONV_MODES:
        raise ValueError(f"conv must be one of {CONV_MODES}, got {conv!r}")
    if wm.kind not in ("matrix", "conv"):
        raise ValueError(f"{wm.layer}: kind must be 'matrix' or 'conv', got {wm.kind!r}")
    if isinstance(wm.weight, nn.parameter.UninitializedParameter):
        return SpectrumRecord(
            "weight", wm.layer, _EMPTY, math.nan, 0, 0, wm.origin, status="uninitialized_weights"
        )
    w = wm.weight.detach()
    if wm.kind == "conv" and conv == "slices" and w.ndim >= 3:
        a = w.reshape(w.shape[0], w.shape[1], -1).permute(2, 0, 1)  # (positions, out, in/groups)
        n_pos, out, cols = a.shape
        kind = f"S_p = weight[:, :, p], out x in/groups, pooled over {n_pos} kernel positions"
        gram = "S_p S_p^T" if out <= cols else "S_p^T S_p"
        convention = f"eig({gram}), {kind}, rows{'<=' if out <= cols else '>'}cols"
    else:
        a = w.reshape(w.shape[0], -1)
        out, cols = a.shape
        n_pos = 1
        kind = wm.origin + (" (weight.reshape(out, -1))" if wm.kind == "conv" else "")
        convention = f"eig(W W^T), {kind}, rows<=cols" if out <= cols else f"eig(W^T W), {kind}, rows>cols"
    small, large = min(out, cols), max(out, cols)
    n_rows, n_cols = n_pos * small, n_pos * large
    if small == 0:
        return SpectrumRecord(
            "weight", wm.layer, _EMPTY, math.nan, n_rows, n_cols, convention, status="empty_weights"
        )
    if not _all_finite([a]):
        status = "nonfinite_weights"
        return SpectrumRecord(
            "weight", wm.layer, _EMPTY, small / large, n_rows, n_cols, convention, status=status
        )
    # pooled slices come back one sorted row per position: sort them together
    eig = np.sort(_gram_eigenvalues(a if out <= cols else a.mT).reshape(-1))
    rank = _structural_rank(a) if n_pos == 1 else None
    return SpectrumRecord(
        "weight", wm.layer, eig, small / large, n_rows, n_cols, convention, method="exact", rank=rank
    )


def weight_spectra(
    model: nn.Module, layers: Sequence[str] | None = None, *, conv: str = "reshape"
) -> list[SpectrumRecord]:
    r"""Eigenvalues of ``W W^T`` for every weight matrix of ``model``, smaller side of the Gram.

    The matrices are those of :func:`module_weights` (Linear, Conv, Embedding, the q/k/v projections of
    MultiheadAttention), each diagonalised by :func:`weight_spectrum`. A Linear weight is the
    ``out x in`` matrix ``W``; a Conv weight ``(out, in/groups, k, k)`` is read as the
    ``out x (in/groups * k * k)`` matrix ``W = weight.reshape(out, -1)`` (each row a flattened filter, as
    in [3]_ when conv layers are treated as one matrix; ``conv="slices"`` gives WeightWatcher's per-slice
    convention instead). With ``A = W`` if ``W`` has no more rows than columns and ``A = W^T``
    otherwise, the spectrum is

    .. math:: \lambda(A A^T), \qquad \gamma = \frac{\text{rows}(A)}{\text{cols}(A)} \le 1,

    i.e. the ``min(out, in*k*k)`` non-trivially-zero eigenvalues of ``W W^T`` (or ``W^T W``), raw:
    no ``1/N`` normalisation (the fit estimates the scale). MiniAlexNet's ``fc1`` (1000 x 3072) gives
    the 1000 x 1000 ``W W^T`` with ``gamma = 0.3255`` of the paper's Figure 2 [5]_. Biases are ignored.

    Parameters
    ----------
    model : torch.nn.Module
        Any module.
    layers : sequence of str, optional
        Layer names to keep (default: all, in ``named_modules`` order); attention projections are
        named ``<module>.q``, ``.k``, ``.v``.
    conv : {"reshape", "slices"}
        How convolution kernels are read (:func:`weight_spectrum`).

    Returns
    -------
    list of SpectrumRecord
        One record per matrix, ``matrix="weight"``, ``method="exact"``. A layer with a NaN or infinite
        weight (a diverged run) gives an empty spectrum with ``status="nonfinite_weights"``.

    Raises
    ------
    ValueError
        If a name in ``layers`` is not a weight matrix of ``model``, or ``conv`` is unknown.
    """
    if conv not in CONV_MODES:
        raise ValueError(f"conv must be one of {CONV_MODES}, got {conv!r}")
    found = module_weights(model)
    if layers is not None:
        wanted = set(layers)
        available = {wm.layer for wm in found}
        missing = [name for name in layers if name not in available]
        if missing:
            raise ValueError(
                f"layers: {missing} are not weight matrices of the model (available: {sorted(available)})"
            )
        found = [wm for wm in found if wm.layer in wanted]
    return [weight_spectrum(wm, conv) for wm in found]


# ---------------------------------------------------------------------------------------------------
# NTK
# ---------------------------------------------------------------------------------------------------


#: Fraction of ``max_memory_mb`` the NTK planner leaves unplanned: allocator rounding and fragmentation,
#: small temporaries that :class:`NTKBlockPlan` does not itemise.
NTK_HEADROOM = 0.1


@dataclass(frozen=True)
class NTKBlockPlan:
    """How :func:`ntk_gram` splits the Jacobian so that its peak memory stays under a budget.

    The Jacobian ``J`` (``C n x P``) is built one *parameter block* of ``param_block`` columns at a time,
    for all ``n`` inputs (vmapped ``sample_block`` inputs at a time), and ``G += J_p J_p^T`` is
    accumulated, ``product_rows`` rows of ``G`` at a time. With ``s`` the bytes per element of the model's
    dtype, ``A`` the activation elements of one input, and, for a parameter block, ``K`` the elements of
    the parameter tensors it touches (whole tensors: autograd forms a tensor's full gradient before the
    block's columns are sliced out) and ``W`` the largest of those tensors with three or more dimensions
    (a convolution weight), the planned bytes are

    * ``gram_bytes = 8 (C n)^2``: the float64 Gram, alive throughout;
    * ``jacobian_bytes = s C n param_block``: the buffer holding ``J_p`` (exact);
    * ``working_bytes = sample_block * s (2 A + C (2 A + K + 2 W)) + s K`` (largest over the blocks): one
      vmapped ``jacrev`` call: per input and logit the full gradients of the touched tensors, two more
      copies of the largest convolution-weight gradient (the batched convolution backward materialises
      it in other layouts before returning it), activation gradients; per input the saved activations;
      once the spliced copies of the touched tensors;
    * ``product_bytes = s product_rows C n``: the temporary of one row chunk of ``J_p J_p^T``, formed
      after the vmapped calls of the block are freed;
    * ``peak_bytes = max(gram_bytes + jacobian_bytes + max(working_bytes, product_bytes),
      2 gram_bytes)``, the second term being :func:`ntk_spectrum`'s ``eigvalsh`` (a copy of ``G``);
    * ``peak_bytes <= (1 - NTK_HEADROOM) budget_bytes``.

    ``peak_bytes`` is a model of what autograd allocates, not a guarantee (autograd's exact peak is not
    exposed): its terms were measured per call (``K`` and ``W`` to within a few percent for MiniAlexNet's
    fully connected and ResNet9's convolution blocks on the CPU), and the headroom covers what it leaves
    out. Measured against the whole call (``benchmarks/bench_ntk.py``, ``tests/test_spectra.py``), the
    peak memory the NTK adds to the process, Gram included, stays below ``budget_bytes``; see
    ``config/README.md`` for the numbers. Not counted: the model, its inputs, and memory a framework
    holds once it has run (CUDA context, code pages, cuDNN handles).
    """

    n_inputs: int
    n_outputs: int
    n_params: int
    sample_block: int
    param_block: int
    n_param_blocks: int
    jacobian_bytes: int
    working_bytes: int
    gram_bytes: int
    budget_bytes: int
    product_rows: int = 0
    product_bytes: int = 0
    peak_bytes: int = 0


def _block_touch(
    tensor_sizes: Sequence[int] | None,
    conv_sizes: Sequence[int] | None,
    n_params: int,
    max_tensor_numel: int,
    param_block: int,
) -> tuple[int, int]:
    """Largest ``K + 2 W`` and largest ``K`` over the parameter blocks of width ``param_block``.

    ``K``: elements of the tensors a block touches; ``W``: the largest of those that is a convolution
    weight (``conv_sizes[i]`` is tensor ``i``'s size if it has >= 3 dimensions, else 0). Without tensor
    sizes (or with very many blocks) the bounds ``K <= min(P, param_block + 2 T)`` and ``W <= T`` are used,
    ``T = max_tensor_numel``.
    """
    n_blocks = math.ceil(n_params / param_block)
    if tensor_sizes is None or n_blocks > 100_000:
        k = min(n_params, param_block + 2 * max_tensor_numel)
        return k + 2 * max_tensor_numel, k
    sizes = np.asarray(tensor_sizes, dtype=np.int64)
    conv = np.asarray(conv_sizes if conv_sizes is not None else tensor_sizes, dtype=np.int64)
    ends = np.cumsum(sizes)  # tensor i holds flat indices [ends[i] - sizes[i], ends[i])
    starts = np.arange(n_blocks, dtype=np.int64) * param_block
    stops = np.minimum(starts + param_block, n_params)
    first = np.searchsorted(ends, starts, side="right")
    last = np.searchsorted(ends, stops - 1, side="right")
    cum = np.concatenate([[0], ends])
    touched = cum[last + 1] - cum[first]
    # range maximum of conv over [first, last] by a sparse table (a few dozen tensors)
    table = [conv]
    while 2 ** len(table) <= conv.size:
        prev, h = table[-1], 2 ** (len(table) - 1)
        table.append(np.maximum(prev[:-h], prev[h:]))
    length = last - first + 1
    level = np.floor(np.log2(length)).astype(np.int64)
    widest = np.zeros(n_blocks, dtype=np.int64)
    for j in np.unique(level):
        sel = level == j
        row = table[j]
        widest[sel] = np.maximum(row[first[sel]], row[last[sel] - 2**j + 1])
    return int((touched + 2 * widest).max()), int(touched.max())


# Long by design: one memory model (budget, Gram, Jacobian block, working set) whose quantities the search
# and the final check share; split, they would travel as a dozen arguments.
def plan_ntk_blocks(
    n_params: int,
    n_inputs: int,
    n_outputs: int,
    *,
    max_memory_mb: float = 1024,
    itemsize: int = 4,
    activation_numel: int = 0,
    max_tensor_numel: int = 0,
    tensor_shapes: Sequence[Sequence[int]] | None = None,
    block_size: int | None = None,
    param_block_size: int | None = None,
) -> NTKBlockPlan:
    """Choose the sample and parameter block sizes of the blocked NTK under a memory budget.

    The budget holds everything :class:`NTKBlockPlan` counts, the float64 Gram included, less
    :data:`NTK_HEADROOM`. Without explicit sizes, half of what the Gram leaves goes to the Jacobian buffer
    (``param_block`` as large as it allows, all ``P`` columns if they fit; smaller if not even one input's
    working set would fit beside it) and the remainder to the vmapped batch (``sample_block`` as large as
    it allows, at most ``n``): fewer parameter blocks means fewer forward/backward sweeps over the data,
    larger sample blocks mean better vectorisation. Given sizes are taken as they are and checked against
    the budget.

    ``tensor_shapes`` (the shapes of the trainable tensors, in the order they are flattened) lets the plan
    count exactly which tensors each block touches; without it ``max_tensor_numel`` gives a looser bound.

    Raises
    ------
    ValueError
        If a size is not positive, or the budget cannot hold the Gram, one input and one parameter column.
    """
    for name, value in (("n_params", n_params), ("n_inputs", n_inputs), ("n_outputs", n_outputs)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    if max_memory_mb <= 0:
        raise ValueError(f"max_memory_mb must be > 0, got {max_memory_mb}")
    if block_size is not None and block_size < 1:
        raise ValueError(f"block_size must be >= 1, got {block_size}")
    if param_block_size is not None and param_block_size < 1:
        raise ValueError(f"param_block_size must be >= 1, got {param_block_size}")
    tensor_sizes = conv_sizes = None
    if tensor_shapes is not None:
        tensor_sizes = [math.prod(shape) for shape in tensor_shapes]
        if sum(tensor_sizes) != n_params:
            raise ValueError(f"tensor_shapes hold {sum(tensor_sizes)} elements, n_params is {n_params}")
        conv_sizes = [
            size if len(shape) >= 3 else 0 for shape, size in zip(tensor_shapes, tensor_sizes, strict=True)
        ]
        max_tensor_numel = max(tensor_sizes)
    budget = int(max_memory_mb * 2**20)
    usable = int((1 - NTK_HEADROOM) * budget)
    s = int(itemsize)
    rows_total = n_outputs * n_inputs
    column_bytes = rows_total * s  # one column of J for all inputs
    gram_bytes = 8 * rows_total**2
    mib = 2**20
    if 2 * gram_bytes > usable:
        raise ValueError(
            f"max_memory_mb={max_memory_mb} cannot hold the float64 Gram ({gram_bytes / mib:.1f} MiB) and its "
            f"copy for eigvalsh within {1 - NTK_HEADROOM:.0%} of the budget; raise max_memory_mb"
        )
    avail = usable - gram_bytes  # for the Jacobian block and max(working set, product chunk)

    def working(sample_block: int, param_block: int) -> int:
        k2w, k = _block_touch(tensor_sizes, conv_sizes, n_params, max_tensor_numel, param_block)
        a = activation_numel
        return sample_block * s * (2 * a + n_outputs * (2 * a + k2w)) + s * k

    def fits(sample_block: int, param_block: int) -> bool:
        return param_block * column_bytes + working(sample_block, param_block) <= avail

    def largest_param_block(sample_block: int, upper: int) -> int:
        lo, hi = 0, upper  # bisection on the largest fitting width (0: none fits)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if fits(sample_block, mid):
                lo = mid
            else:
                hi = mid - 1
        return lo

    if param_block_size is not None:
        param_block = min(param_block_size, n_params)
    elif block_size is not None:
        param_block = largest_param_block(min(block_size, n_inputs), n_params)
    else:
        param_block = min(n_params, (avail // 2) // column_bytes)
        if param_block >= 1 and not fits(1, param_block):
            param_block = largest_param_block(1, param_block)
    if param_block < 1:
        raise ValueError(
            f"max_memory_mb={max_memory_mb} cannot hold one Jacobian column ({column_bytes} bytes) and the "
            f"working set of {block_size or 1} input(s) next to the Gram ({gram_bytes / mib:.1f} MiB); "
            "raise max_memory_mb or lower block_size"
        )
    jacobian_bytes = param_block * column_bytes
    if block_size is not None:
        sample_block = min(block_size, n_inputs)
    else:
        one = working(1, param_block)
        fixed = working(0, param_block)
        sample_block = min(n_inputs, (avail - jacobian_bytes - fixed) // max(one - fixed, 1))
    if sample_block < 1:
        raise ValueError(
            f"max_memory_mb={max_memory_mb} cannot hold the working set of one input "
            f"({working(1, param_block) / mib:.1f} MiB) next to the Jacobian block "
            f"({jacobian_bytes / mib:.1f} MiB) and the Gram ({gram_bytes / mib:.1f} MiB); raise max_memory_mb"
        )
    working_bytes = working(sample_block, param_block)
    # rows of G per product chunk: the chunk's temporary fits in the (by then freed) working set
    product_rows = int(min(rows_total, max(1, working_bytes // column_bytes)))
    product_bytes = product_rows * column_bytes
    peak = max(gram_bytes + jacobian_bytes + max(working_bytes, product_bytes), 2 * gram_bytes)
    if peak > usable:
        raise ValueError(
            f"block_size={block_size}, param_block_size={param_block_size} need {peak / mib:.1f} MiB "
            f"> {1 - NTK_HEADROOM:.0%} of max_memory_mb={max_memory_mb}"
        )
    return NTKBlockPlan(
        n_inputs=n_inputs,
        n_outputs=n_outputs,
        n_params=n_params,
        sample_block=int(sample_block),
        param_block=int(param_block),
        n_param_blocks=math.ceil(n_params / param_block),
        jacobian_bytes=int(jacobian_bytes),
        working_bytes=int(working_bytes),
        gram_bytes=int(gram_bytes),
        budget_bytes=budget,
        product_rows=product_rows,
        product_bytes=int(product_bytes),
        peak_bytes=int(peak),
    )


def _param_segments(
    names: Sequence[str], sizes: Sequence[int], start: int, stop: int
) -> list[tuple[str, int, int]]:
    """Pieces ``(name, a, b)`` of the flat parameter range ``[start, stop)``, in tensor-local offsets."""
    segments = []
    offset = 0
    for name, size in zip(names, sizes, strict=True):
        lo, hi = max(start, offset), min(stop, offset + size)
        if lo < hi:
            segments.append((name, lo - offset, hi - offset))
        offset += size
    return segments


def _fill_rows(
    jac: torch.Tensor, jac_fn: Callable, pieces: tuple[torch.Tensor, ...], xs: torch.Tensor, i: int, b: int
) -> None:
    """``jac[i:i+b] = J_p`` of inputs ``xs[i:i+b]``, piece by piece (no concatenated temporary).

    A separate function so that nothing outlives it: each piece is a view of the *full* gradient of its
    tensor (``b C T`` elements), and a loop variable left holding one would keep that alive through the
    next vmapped call, doubling the largest term of the working set.
    """
    parts = jac_fn(pieces, xs[i : i + b])
    offset = 0
    for part in parts:
        jac[i : i + b, :, offset : offset + part.shape[-1]] = part
        offset += part.shape[-1]


def _accumulate_gram(gram: torch.Tensor, jac: torch.Tensor, rows: int) -> None:
    """``gram += jac @ jac.T`` by chunks of ``rows`` rows: one chunk's product is the only temporary."""
    for r in range(0, jac.shape[0], rows):
        gram[r : r + rows] += jac[r : r + rows] @ jac.T  # in-place promotion: no float64 copy


def ntk_gram(
    model: nn.Module,
    x: torch.Tensor,
    *,
    block_size: int | None = None,
    param_block_size: int | None = None,
    max_memory_mb: float = 1024,
    device: torch.device | str | None = None,
    normalize: bool = False,
) -> tuple[torch.Tensor, NTKBlockPlan]:
    r"""Empirical NTK Gram ``G = J J^T`` over all logits, built by parameter blocks.

    ``J`` is the ``(C n) x P`` Jacobian of the ``C`` logits of the ``n`` inputs with respect to all
    ``P`` trainable parameters; row ``i * C + c`` belongs to input ``i`` and logit ``c``. With ``J_p``
    the columns of a contiguous block ``p`` of the flattened parameter vector,

    .. math:: G = J J^\top = \sum_p J_p J_p^\top ,

    so ``G`` is accumulated block by block and every Jacobian entry is computed exactly once: block
    ``p`` is obtained for all inputs by ``vmap`` over inputs of ``jacrev`` with respect to that block
    only (the block is spliced into its tensors with ``torch.cat``; the rest of the network is constant),
    and freed after ``G += J_p J_p^T``. The alternative blocking over inputs needs ``J_i`` and ``J_j``
    for every block pair ``(i, j)``; under the same budget it recomputes Jacobian rows ``O(n/b)`` times,
    and NTK-vector products [2]_ cost ``C n`` forward-mode passes over all ``n`` inputs. Parameter
    blocking recomputes only the *forward/backward sweep* (not Jacobian entries), once per block, and
    needs a single block when the whole ``J`` (``s C n P`` bytes, ``s`` bytes per element) fits in half
    of what the budget leaves beside the Gram.

    Each block product ``J_p J_p^T`` is formed in the model's dtype (float32 GEMM speed for float32
    models), by chunks of rows, and accumulated into a float64 ``G``. The model is evaluated in eval
    mode. On CUDA, TF32 is off for the call (convolutions and products in IEEE float32; PyTorch's default
    would let cuDNN convolutions round to TF32, about 1e-3 relative error in ``G``).

    Parameters
    ----------
    model : torch.nn.Module
        Returns logits of shape ``(batch, C)`` for inputs of shape ``(batch, *x.shape[1:])``.
    x : torch.Tensor
        Inputs, shape ``(n, ...)``; cast to the model's dtype and device.
    block_size : int, optional
        Inputs per vmapped Jacobian evaluation (need not divide ``n``); derived from the budget if None.
    param_block_size : int, optional
        Parameters per Jacobian block (need not divide ``P`` nor align with tensors); derived if None.
    max_memory_mb : float
        Budget in MiB for the peak memory of the computation, the float64 Gram (``8 (C n)^2`` bytes) and
        the copy :func:`ntk_spectrum` diagonalises included; see :class:`NTKBlockPlan` for what it counts.
    device : torch.device or str, optional
        Where to compute (default: the device of the model's parameters). The model is not moved.
    normalize : bool
        If True return ``G / P``.

    Returns
    -------
    G : torch.Tensor
        float64, ``(C n) x (C n)``, on ``device``.
    plan : NTKBlockPlan
        The block sizes that were used and their memory arithmetic.
    """
    if x.ndim < 1 or x.shape[0] < 1:
        raise ValueError(f"x must have shape (n, ...) with n >= 1, got {tuple(x.shape)}")
    named = [(k, v) for k, v in model.named_parameters() if v.requires_grad]
    if not named:
        raise ValueError("model has no trainable parameters")
    dev = torch.device(device) if device is not None else named[0][1].device
    dtype = named[0][1].dtype
    names = [k for k, _ in named]
    params = {k: v.detach().to(dev) for k, v in named}
    frozen = {k: v.detach().to(dev) for k, v in model.named_parameters() if not v.requires_grad}
    buffers = {k: v.detach().to(dev) for k, v in model.named_buffers()}
    sizes = [params[k].numel() for k in names]
    n_params = sum(sizes)
    xs = x.detach().to(device=dev, dtype=dtype)
    n = xs.shape[0]

    with _eval_mode(model), _ieee_float32():

        def logits(p: dict[str, torch.Tensor], xi: torch.Tensor) -> torch.Tensor:
            return functional_call(model, ({**frozen, **buffers, **p},), (xi.unsqueeze(0),)).squeeze(0)

        with torch.no_grad():
            out0 = logits(params, xs[0])
            activation_numel = _activation_numel_functional(model, params, frozen, buffers, xs[:1])
        if out0.ndim != 1:
            raise ValueError(f"model must return logits of shape (batch, C), got {(1, *out0.shape)}")
        n_outputs = out0.shape[0]
        plan = plan_ntk_blocks(
            n_params,
            n,
            n_outputs,
            max_memory_mb=max_memory_mb,
            itemsize=xs.element_size(),
            activation_numel=activation_numel,
            tensor_shapes=[tuple(params[k].shape) for k in names],
            block_size=block_size,
            param_block_size=param_block_size,
        )

        gram = torch.zeros((n * n_outputs, n * n_outputs), dtype=torch.float64, device=dev)
        for start in range(0, n_params, plan.param_block):
            segments = _param_segments(names, sizes, start, min(start + plan.param_block, n_params))
            pieces = tuple(params[k].reshape(-1)[a:b] for k, a, b in segments)

            def block_logits(pieces: tuple[torch.Tensor, ...], xi: torch.Tensor, segments=segments):
                p = dict(params)
                for (k, a, b), piece in zip(segments, pieces, strict=True):
                    flat = params[k].reshape(-1)
                    p[k] = torch.cat([flat[:a], piece, flat[b:]]).view_as(params[k])
                return logits(p, xi)

            jac_fn = vmap(jacrev(block_logits), in_dims=(None, 0))
            width = sum(b - a for _, a, b in segments)
            jac = torch.empty((n, n_outputs, width), dtype=dtype, device=dev)
            for i in range(0, n, plan.sample_block):
                _fill_rows(jac, jac_fn, pieces, xs, i, plan.sample_block)
            _accumulate_gram(gram, jac.view(n * n_outputs, width), plan.product_rows)
            del jac
    if normalize:
        gram /= n_params
    return gram, plan


def _activation_numel_functional(
    model: nn.Module,
    params: dict[str, torch.Tensor],
    frozen: dict[str, torch.Tensor],
    buffers: dict[str, torch.Tensor],
    x1: torch.Tensor,
) -> int:
    """Elements of every leaf module's output for one input: the activations autograd keeps."""
    total = [x1.numel()]

    def hook(_module, _inputs, output):
        if isinstance(output, torch.Tensor):
            total[0] += output.numel()

    handles = [m.register_forward_hook(hook) for m in model.modules() if not list(m.children())]
    try:
        functional_call(model, ({**frozen, **buffers, **params},), (x1,))
    finally:
        for h in handles:
            h.remove()
    return total[0]


def ntk_spectrum(
    model: nn.Module,
    x: torch.Tensor,
    *,
    block_size: int | None = None,
    param_block_size: int | None = None,
    max_memory_mb: float = 1024,
    device: torch.device | str | None = None,
    normalize: bool = False,
) -> SpectrumRecord:
    r"""Eigenvalues of the empirical NTK ``G = J J^T`` over all ``C`` logits of ``n`` inputs.

    ``G`` is computed by :func:`ntk_gram` (parameter-blocked, float64 accumulation, eval mode) and
    diagonalised in float64. As a Gram of the ``(C n) x P`` factor ``J``, the record has
    ``n_rows = C n`` (the number of eigenvalues), ``n_cols = P`` and

    .. math:: \gamma = \frac{\min(C n, P)}{\max(C n, P)}

    which is ``C n / P`` in the usual case ``C n < P``; when ``C n > P`` at least ``C n - P``
    eigenvalues are zero up to rounding. Kernels are fitted in the inverse HTMP form [5]_.

    Parameters are those of :func:`ntk_gram`.

    Returns
    -------
    SpectrumRecord
        ``matrix="ntk"``, ``layer="all"``, ``method="exact"``; an empty spectrum with status
        ``"nonfinite_weights"`` or ``"nonfinite_ntk"`` when parameters or the Gram are not finite.
    """
    named = [v for v in model.parameters() if v.requires_grad]
    n_params = sum(v.numel() for v in named)
    if x.ndim < 1 or x.shape[0] < 1:
        raise ValueError(f"x must have shape (n, ...) with n >= 1, got {tuple(x.shape)}")
    convention = (
        "eig(J J^T)" + (" / P" if normalize else "") + ", J: (C*n) x P Jacobian of all logits, eval mode"
    )
    if not _all_finite(named):
        with torch.no_grad(), _eval_mode(model):
            n_outputs = (
                model(x[:1].to(device=named[0].device, dtype=named[0].dtype)).shape[-1] if named else 0
            )
        rows = n_outputs * x.shape[0]
        return SpectrumRecord(
            "ntk",
            "all",
            _EMPTY,
            _aspect(rows, n_params),
            rows,
            n_params,
            convention,
            status="nonfinite_weights",
        )
    gram, plan = ntk_gram(
        model,
        x,
        block_size=block_size,
        param_block_size=param_block_size,
        max_memory_mb=max_memory_mb,
        device=device,
        normalize=normalize,
    )
    rows = gram.shape[0]
    if not bool(torch.isfinite(gram).all()):
        return SpectrumRecord(
            "ntk", "all", _EMPTY, _aspect(rows, n_params), rows, n_params, convention, status="nonfinite_ntk"
        )
    eig = _eigvalsh64(gram)
    # the block products J_p J_p^T are formed in the model's dtype: G is known to that precision only
    dtype = next(model.parameters()).dtype
    return SpectrumRecord(
        "ntk", "all", eig, _aspect(rows, n_params), rows, n_params, convention, floor=_floor_of(eig, dtype)
    )


# ---------------------------------------------------------------------------------------------------
# conjugate kernel
# ---------------------------------------------------------------------------------------------------


def ck_spectrum(
    model: nn.Module,
    x: torch.Tensor,
    *,
    features_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
    batch_size: int = 1024,
) -> SpectrumRecord:
    r"""Eigenvalues of the conjugate kernel: the Gram of the penultimate features.

    With ``F`` the ``n x d`` matrix of features (the input of the last Linear layer, flattened), the
    spectrum is that of the smaller of ``F F^T`` (``n <= d``) and ``F^T F`` (``n > d``), i.e. the squared
    singular values of ``F``, raw (no ``1/n`` or ``1/d``), with ``gamma = min(n, d) / max(n, d)``.

    Parameters
    ----------
    model : torch.nn.Module
        Evaluated in eval mode, without gradients.
    x : torch.Tensor
        Inputs, shape ``(n, ...)``; cast to the model's dtype and device.
    features_fn : callable, optional
        Maps a batch of inputs to features; default ``model.features``.
    batch_size : int
        Inputs per forward pass.

    Returns
    -------
    SpectrumRecord
        ``matrix="ck"``, ``layer="features"``; status ``"nonfinite_weights"`` or
        ``"nonfinite_features"`` with an empty spectrum when not finite.
    """
    if features_fn is None:
        if not callable(getattr(model, "features", None)):
            raise ValueError("features_fn is required: model has no callable `features`")
        features_fn = model.features
    if x.ndim < 1 or x.shape[0] < 1:
        raise ValueError(f"x must have shape (n, ...) with n >= 1, got {tuple(x.shape)}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    first = next(model.parameters(), None)
    dtype = first.dtype if first is not None else x.dtype
    dev = first.device if first is not None else x.device
    with torch.no_grad(), _eval_mode(model), _ieee_float32():
        feats = torch.cat(
            [
                features_fn(x[i : i + batch_size].to(device=dev, dtype=dtype)).reshape(
                    min(batch_size, x.shape[0] - i), -1
                )
                for i in range(0, x.shape[0], batch_size)
            ]
        )
    n, d = feats.shape
    if n <= d:
        convention, n_rows, n_cols = "eig(F F^T), F: n x d penultimate features, rows<=cols", n, d
    else:
        convention, n_rows, n_cols = "eig(F^T F), F: n x d penultimate features, rows>cols", d, n
    if first is not None and not _all_finite(model.parameters()):
        status = "nonfinite_weights"
    elif not bool(torch.isfinite(feats).all()):
        status = "nonfinite_features"
    else:
        status = "ok"
    if status != "ok":
        return SpectrumRecord(
            "ck", "features", _EMPTY, n_rows / n_cols, n_rows, n_cols, convention, status=status
        )
    f64 = feats.to(torch.float64)
    if n > d:
        f64 = f64.T
    eig = _eigvalsh64(f64 @ f64.T)
    rank = _structural_rank(f64)  # dead ReLU units are exactly-zero feature rows
    return SpectrumRecord("ck", "features", eig, n_rows / n_cols, n_rows, n_cols, convention, rank=rank)


# ---------------------------------------------------------------------------------------------------
# Hessian
# ---------------------------------------------------------------------------------------------------


def _select_params(model: nn.Module, layer: str | None) -> list[str]:
    """Trainable parameter names of ``layer`` (a parameter, or every parameter under a module name)."""
    names = [k for k, v in model.named_parameters() if v.requires_grad]
    if layer is None:
        return names
    chosen = [k for k in names if k == layer or k.startswith(layer + ".")]
    if not chosen:
        raise ValueError(
            f"layer {layer!r} names neither a module with parameters nor a parameter of the model"
        )
    return chosen


def _lanczos(
    matvec: Callable[[torch.Tensor], torch.Tensor], v0: torch.Tensor, steps: int
) -> tuple[np.ndarray, np.ndarray, float]:
    """``steps`` Lanczos iterations with full (twice-applied) reorthogonalisation, in float64.

    Returns the Ritz values (ascending), the eigenvectors of the tridiagonal matrix (columns) and the
    last off-diagonal ``beta_m`` (zero after an invariant subspace was found).
    """
    dim = v0.numel()
    steps = min(steps, dim)
    basis = torch.zeros((steps, dim), dtype=torch.float64, device=v0.device)
    alphas: list[float] = []
    betas: list[float] = []
    q = v0 / torch.linalg.vector_norm(v0)
    beta_last = 0.0
    for j in range(steps):
        basis[j] = q
        w = matvec(q)
        alpha = float(torch.dot(w, q))
        alphas.append(alpha)
        w = w - alpha * q
        if j > 0:
            w = w - betas[-1] * basis[j - 1]
        # Classical Gram-Schmidt applied twice ("twice is enough") keeps the basis orthogonal to
        # working precision, so Ritz values do not duplicate (no ghost eigenvalues).
        for _ in range(2):
            w = w - basis[: j + 1].T @ (basis[: j + 1] @ w)
        beta = float(torch.linalg.vector_norm(w))
        scale = max(abs(a) for a in alphas) + (max(betas) if betas else 0.0)
        if beta <= 1e-12 * max(scale, 1e-300):
            break  # invariant subspace: the Ritz values are exact eigenvalues, residual zero
        if j == steps - 1:
            beta_last = beta
            break
        betas.append(beta)
        q = w / beta
    t = np.diag(alphas)
    if betas:
        off = np.asarray(betas[: len(alphas) - 1])
        t += np.diag(off, 1) + np.diag(off, -1)
    theta, vecs = np.linalg.eigh(t)
    return theta, vecs, beta_last


def _hessian_loss(
    model: nn.Module, chosen: list[str], x: torch.Tensor, y: torch.Tensor, dtype: torch.dtype
) -> tuple[Callable[[torch.Tensor], torch.Tensor], torch.Tensor]:
    """The mean cross-entropy as a function of the ``chosen`` parameters, flattened, on copies cast to ``dtype``.

    Returns the function and the flattened parameters' values (the point the Hessian is taken at).
    """
    all_params = dict(model.named_parameters())
    sizes = [all_params[k].numel() for k in chosen]
    shapes = [all_params[k].shape for k in chosen]
    dev = all_params[chosen[0]].device
    p_d = {k: v.detach().to(dtype) for k, v in all_params.items()}
    b_d = {k: (v.detach().to(dtype) if v.is_floating_point() else v) for k, v in model.named_buffers()}
    x_d = x.detach().to(device=dev, dtype=dtype)

    def loss_of(flat: torch.Tensor) -> torch.Tensor:
        p = dict(p_d)
        for k, piece, shape in zip(chosen, torch.split(flat, sizes), shapes, strict=True):
            p[k] = piece.view(shape)
        return torch.nn.functional.cross_entropy(functional_call(model, (p, b_d), (x_d,)), y)

    return loss_of, torch.cat([p_d[k].reshape(-1) for k in chosen])


def _hessian_vector_product(
    loss_of: Callable[[torch.Tensor], torch.Tensor], flat: torch.Tensor
) -> Callable[[torch.Tensor], torch.Tensor]:
    """``v -> H v`` by double backward, in ``flat``'s dtype, returned in float64.

    The gradient's graph is built once and every product is one backward pass through it (measured ~7x cheaper
    than torch.func's jvp-over-grad on small nets).
    """
    flat_req = flat.clone().requires_grad_(True)
    (grad_flat,) = torch.autograd.grad(loss_of(flat_req), flat_req, create_graph=True)

    def hvp(v: torch.Tensor) -> torch.Tensor:
        # products in the parameters' dtype, Lanczos recurrences and reorthogonalisation in float64
        (hv,) = torch.autograd.grad(grad_flat, flat_req, v.to(flat.dtype), retain_graph=True)
        return hv.detach().to(torch.float64)

    return hvp


def _top_ritz(
    hvp: Callable[[torch.Tensor], torch.Tensor], v0: torch.Tensor, steps: int, top_k: int, tol: float
) -> tuple[np.ndarray, bool, int]:
    """The ``top_k`` largest Ritz values of ``steps`` Lanczos steps from ``v0``, whether each has converged
    (residual ``|beta_m s_{m,i}| <= tol * max|theta|``), and the number of steps taken."""
    theta, vecs, beta = _lanczos(hvp, v0, steps)
    if not np.all(np.isfinite(theta)):
        return theta, False, theta.size
    k = min(top_k, theta.size)
    residual = np.abs(beta * vecs[-1, -k:])
    return theta[-k:], bool(np.all(residual <= tol * max(np.max(np.abs(theta)), 1e-300))), theta.size


def _slq_density(
    hvp: Callable[[torch.Tensor], torch.Tensor],
    n_params: int,
    dev: torch.device,
    gen: np.random.Generator,
    probes: int,
    steps: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Stochastic Lanczos quadrature: nodes (ascending) and weights from ``probes`` Rademacher vectors."""
    nodes, weights = [], []
    for _ in range(probes):
        z = gen.integers(0, 2, size=n_params).astype(np.float64) * 2.0 - 1.0
        t_nodes, t_vecs, _ = _lanczos(hvp, torch.from_numpy(z).to(dev), min(steps, n_params))
        nodes.append(t_nodes)
        weights.append(t_vecs[0] ** 2 / probes)
    nodes_a, weights_a = np.concatenate(nodes), np.concatenate(weights)
    order = np.argsort(nodes_a, kind="stable")
    return nodes_a[order], weights_a[order]


def _check_hessian_args(x, y, loss: str, method: str, top_k: int, slq_probes: int, slq_steps: int) -> None:
    if loss != "cross_entropy":
        raise ValueError(f"loss must be 'cross_entropy', got {loss!r}")
    if method not in ("auto", "exact", "lanczos"):
        raise ValueError(f"method must be 'auto', 'exact' or 'lanczos', got {method!r}")
    if top_k < 1 or slq_probes < 1 or slq_steps < 1:
        raise ValueError(f"top_k, slq_probes, slq_steps must be >= 1, got {top_k}, {slq_probes}, {slq_steps}")
    if x.shape[0] != y.shape[0] or x.shape[0] < 1:
        raise ValueError(f"x and y must have the same n >= 1 rows, got {tuple(x.shape)} and {tuple(y.shape)}")


def hessian_spectrum(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    loss: str = "cross_entropy",
    method: str = "auto",
    layer: str | None = None,
    top_k: int = 20,
    lanczos_steps: int | None = None,
    slq_probes: int = 4,
    slq_steps: int = 64,
    rng: np.random.Generator | int | None = None,
    max_exact_params: int = 4000,
    tol: float = 1e-6,
    hvp_dtype: torch.dtype | None = None,
) -> list[SpectrumRecord]:
    r"""Eigenvalues of the Hessian of the mean cross-entropy loss with respect to the parameters.

    .. math:: H = \nabla^2_\theta \, \frac1n \sum_{i=1}^n \ell(f_\theta(x_i), y_i)

    over all trainable parameters, or over one ``layer``'s block (the other parameters held fixed), with
    the model in eval mode. The exact Hessian is computed in float64 (a float64 copy of the parameters,
    buffers and inputs); Lanczos runs in float64 on Hessian-vector products in ``hvp_dtype``.

    * ``method="exact"``: ``torch.func.hessian`` of the loss as a function of the flattened parameters,
      symmetrised, and ``eigvalsh``: all ``P`` eigenvalues.
    * ``method="lanczos"``: Hessian-vector products by double backward (the gradient's graph is built
      once, each product is one backward pass through it), Lanczos
      with full reorthogonalisation from a Gaussian start vector, ``lanczos_steps`` iterations (default
      ``min(P, max(4 top_k, 100))``): the ``top_k`` largest Ritz values. ``status`` is ``"ok"`` when every
      returned Ritz value has residual ``|beta_m s_{m,i}| <= tol * max|theta|`` (a bound on its distance to
      an eigenvalue of ``H``), else ``"lanczos_not_converged"``. Plus a stochastic Lanczos quadrature
      (SLQ) density [4]_: ``slq_probes`` normalised Rademacher vectors, ``slq_steps`` iterations each;
      nodes are the Ritz values and weights the squared first components of the Ritz vectors divided by
      ``slq_probes``, so that ``sum_j w_j theta_j^k`` estimates ``tr(H^k) / P`` without bias, exactly
      for each probe's quadratic form when ``k < 2 slq_steps``.
    * ``method="auto"``: exact when ``P <= max_exact_params``, Lanczos otherwise.

    Parameters
    ----------
    model : torch.nn.Module
        Returns logits ``(n, C)``; not modified (a float64 copy of its tensors is differentiated).
    x, y : torch.Tensor
        Inputs ``(n, ...)`` and integer class labels ``(n,)``.
    loss : {"cross_entropy"}
        Mean cross-entropy of the logits.
    method : {"auto", "exact", "lanczos"}
    layer : str, optional
        A parameter name (``"fc1.weight"``) or a module name (``"fc1"``: all parameters under it).
    top_k : int
        Number of largest eigenvalues returned by Lanczos.
    lanczos_steps : int, optional
        Lanczos iterations for the top-k (see above).
    slq_probes, slq_steps : int
        Probe vectors and Lanczos iterations per probe of the SLQ density.
    rng : numpy.random.Generator or int
        Required for Lanczos (start vector and probes): same seed, same bits on CPU.
    max_exact_params : int
        Threshold of ``method="auto"``.
    tol : float
        Relative residual below which a Ritz value counts as converged.
    hvp_dtype : torch.dtype, optional
        dtype of the Hessian-vector products (default: the model's; ``torch.float64`` for full
        precision). Lanczos itself always runs in float64; float32 products limit the top-k accuracy to
        about 1e-6 relative but run several times faster (float64 convolutions are slow on CPU).

    Notes
    -----
    Memory: the exact Hessian vectorises ``P`` forward-mode tangents over the ``n`` inputs
    (``O(P n A)`` for ``A`` activations per input): keep ``n`` or ``max_exact_params`` small for large
    networks. Lanczos keeps its basis, ``8 * steps * P`` bytes, to reorthogonalise fully.

    Returns
    -------
    list of SpectrumRecord
        ``matrix="hessian"``, ``gamma=nan`` (not a Gram), ``n_rows = n_cols = P`` (the block size). One
        record for "exact"; two for "lanczos" (top-k with ``method="lanczos"``, density with
        ``method="slq"``). Non-finite parameters or loss give empty spectra with a status.
    """
    _check_hessian_args(x, y, loss, method, top_k, slq_probes, slq_steps)
    chosen = _select_params(model, layer)
    all_params = dict(model.named_parameters())
    dev = all_params[chosen[0]].device
    model_dtype = all_params[chosen[0]].dtype
    hvp_dtype = model_dtype if hvp_dtype is None else hvp_dtype
    n_params = sum(all_params[k].numel() for k in chosen)
    y = y.detach().to(dev)
    name = layer if layer is not None else "all"
    use_exact = method == "exact" or (method == "auto" and n_params <= max_exact_params)
    base = (
        "eig(H), H: Hessian of mean cross-entropy w.r.t. "
        + (f"parameters of {layer}" if layer else "all parameters")
        + ", eval mode, "
        + ("float64" if use_exact else f"{str(hvp_dtype).removeprefix('torch.')} HVPs, float64 Lanczos")
    )

    def record(eig, method_, status="ok", weights=None, convention=base):
        nan = float("nan")
        return SpectrumRecord("hessian", name, eig, nan, n_params, n_params, convention, method=method_,
                              status=status, weights=weights)  # fmt: skip

    def failed(status):
        if use_exact:
            return [record(_EMPTY, "exact", status)]
        return [record(_EMPTY, "lanczos", status), record(_EMPTY, "slq", status, weights=_EMPTY)]

    if not _all_finite(all_params.values()):
        return failed("nonfinite_weights")

    loss_of, flat0 = _hessian_loss(model, chosen, x, y, torch.float64)

    with _eval_mode(model), _ieee_float32():
        with torch.no_grad():
            if not bool(torch.isfinite(loss_of(flat0))):
                return failed("nonfinite_loss")
        if use_exact:
            h = func_hessian(loss_of)(flat0)
            h = 0.5 * (h + h.T)  # forward-over-reverse is symmetric only up to rounding
            if not bool(torch.isfinite(h).all()):
                return failed("nonfinite_hessian")
            return [record(_eigvalsh64(h), "exact")]

        gen = as_rng(rng)  # required: the Lanczos start and the probes are random
        hvp = _hessian_vector_product(*_hessian_loss(model, chosen, x, y, hvp_dtype))
        steps = min(n_params, lanczos_steps if lanczos_steps is not None else max(4 * top_k, 100))
        theta, converged, n_steps = _top_ritz(hvp, torch.from_numpy(gen.standard_normal(n_params)).to(dev), steps,
                                              top_k, tol)  # fmt: skip
        if not np.all(np.isfinite(theta)):
            return failed("nonfinite_hessian")
        top = record(theta, "lanczos", "ok" if converged else "lanczos_not_converged",
                     convention=base + f", top {theta.size} Ritz values of {n_steps} Lanczos steps")  # fmt: skip
        nodes, weights = _slq_density(hvp, n_params, dev, gen, slq_probes, slq_steps)
        density = record(
            nodes,
            "slq",
            "ok" if np.all(np.isfinite(nodes)) else "nonfinite_hessian",
            weights=weights,
            convention=base + f", SLQ density: {slq_probes} Rademacher probes x {slq_steps} Lanczos steps",
        )
        return [top, density]
