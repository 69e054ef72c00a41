"""Amortised log |I(y)| for many points of one (s, b): adaptive Chebyshev panels (private helper).

Since the Riccati march (``htmu._riccati``) serves such calls, this is its fallback: it is used
when the march cannot certify its result (``MarchFailed``).

``htmu._hyperu.log_abs_integral`` costs a few hundred exp/log evaluations per point.  For a call
with many points of one parameter pair we use that ``L(v) = log |I(e^v)|`` is analytic in
``v = log y`` on the whole real line (I has no zeros on the cut: ρ > 0), and replace it on
``[min v, max v]`` by piecewise Chebyshev interpolants:

1. cover the range by panels of width ≤ ``W0`` (only panels that contain points are kept);
2. evaluate the exact routine at the ``N`` Chebyshev points of the second kind
   ``v_j = mid + half · cos(π j / (N − 1))`` of every pending panel, all panels in one vectorised
   call;
3. accept a panel when its last three Chebyshev coefficients are below the tolerance (the
   coefficients of an analytic function decay geometrically, so the tail bounds the interpolation
   error, cf. Trefethen, *Approximation Theory and Approximation Practice*, ch. 8), otherwise split
   it in two (in four when the tail exceeds 1e4 times the tolerance) and repeat from 2 with the
   parts that contain points;
4. evaluate the accepted interpolants at the points (Clenshaw recurrence, vectorised).

The tolerance is ``ATOL`` absolute in ``L`` plus the rounding floor of the exact routine
(``1e-15`` times the size of the exponent it sums, see ``_hyperu``); panels narrower than
``MIN_WIDTH`` that still fail, panels with an unconverged node, and panels left when the node
count would exceed ``BUDGET`` times the number of points are not used: their points are
recomputed by the exact routine (which reports its own convergence).  The cost is that of the nodes
(24 to ~900 for the benchmark's cases), independent of the number of points.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numpy.polynomial import chebyshev as C

from htmu._hyperu import log_abs_integral

#: Chebyshev points per panel
N = 24
#: initial panel width in v = log y
W0 = 4.0
#: absolute tolerance on the trailing coefficients (log |I|, hence 2·ATOL in log ρ)
ATOL = 2e-11
#: panels narrower than this are not split further
MIN_WIDTH = 1e-4
#: node budget as a fraction of the number of points (beyond it the exact routine is cheaper)
BUDGET = 0.5


@cache
def _cheb_points(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Chebyshev points of the second kind on [−1, 1] and the map nodal values -> coefficients."""
    t = np.cos(np.pi * np.arange(n) / (n - 1))
    return t, np.linalg.inv(C.chebvander(t, n - 1))


def _clenshaw_rows(t: np.ndarray, coefs: np.ndarray) -> np.ndarray:
    """Σ_k coefs[i, k] T_k(t[i]) for every row i (Clenshaw's recurrence, vectorised over rows)."""
    b1 = np.zeros_like(t)
    b2 = np.zeros_like(t)
    for k in range(coefs.shape[1] - 1, 0, -1):
        b1, b2 = 2 * t * b1 - b2 + coefs[:, k], b1
    return t * b1 - b2 + coefs[:, 0]


def log_abs_integral_panels(y: np.ndarray, s: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    """log |I(y)| for a 1-d array y > 0 and scalar s, b by adaptive Chebyshev interpolation.

    Returns (value, converged) like ``log_abs_integral``.  Points whose panel could not be
    certified are recomputed by the exact routine, whose own convergence flag is returned for them.
    """
    y = np.asarray(y, dtype=float)
    v = np.log(y)
    lo, hi = float(v.min()), float(v.max())
    npan = max(1, int(np.ceil((hi - lo) / W0)))
    # widen a hair so every point lies strictly inside [lo, hi]
    pad = 1e-9 * max(1.0, abs(lo), abs(hi))
    edges = np.linspace(lo - pad, hi + pad, npan + 1)
    pending = np.stack([edges[:-1], edges[1:]], -1)
    vs = np.sort(v)
    tn, v2c = _cheb_points(N)
    acc_lo, acc_hi, acc_coef, acc_ok = [], [], [], []
    used = 0
    while pending.size:
        # keep only panels that contain points
        has = np.searchsorted(vs, pending[:, 1], "right") > np.searchsorted(vs, pending[:, 0], "left")
        pending = pending[has]
        if not pending.size:
            break
        if used + pending.shape[0] * N > BUDGET * y.size:
            # the remaining panels' points are cheaper to compute exactly
            acc_lo.append(pending[:, 0])
            acc_hi.append(pending[:, 1])
            acc_coef.append(np.zeros((pending.shape[0], N)))
            acc_ok.append(np.zeros(pending.shape[0], dtype=bool))
            break
        used += pending.shape[0] * N
        mid = 0.5 * (pending[:, 0] + pending[:, 1])
        half = 0.5 * (pending[:, 1] - pending[:, 0])
        nodes = mid[:, None] + half[:, None] * tn
        yn = np.exp(nodes).ravel()
        val, ok = log_abs_integral(yn, np.full(yn.shape, s), np.full(yn.shape, b))
        val, ok = val.reshape(nodes.shape), ok.reshape(nodes.shape).all(-1)
        coef = val @ v2c.T
        # rounding floor of the exact routine: 1e-15 × the size of the exponent it sums
        floor = 1e-15 * (np.abs(val).max(-1) + s + b + np.exp(nodes[:, 0]))
        tail = np.abs(coef[:, -3:]).max(-1)
        good = ok & (tail <= ATOL + 3 * floor)
        # a panel with an unconverged node is not refined (unconverged nodes are the expensive
        # ones, and they cluster): its points are recomputed exactly
        final = good | ~ok | (2 * half < MIN_WIDTH)
        acc_lo.append(pending[final, 0])
        acc_hi.append(pending[final, 1])
        acc_coef.append(coef[final])
        acc_ok.append(good[final])
        split = pending[~final]
        # far from converged (tail ≥ 1e4 × tolerance): quarter the panel at once, which saves a
        # round of nodes that would only confirm the need for a second split
        far = (tail > 1e4 * (ATOL + 3 * floor))[~final]
        parts = []
        for k, sel in ((2, ~far), (4, far)):
            lo_, w_ = split[sel, 0], (split[sel, 1] - split[sel, 0]) / k
            parts += [np.stack([lo_ + j * w_, lo_ + (j + 1) * w_], -1) for j in range(k)]
        pending = np.concatenate(parts)
    plo = np.concatenate(acc_lo)
    order = np.argsort(plo)
    plo = plo[order]
    phi = np.concatenate(acc_hi)[order]
    coefs = np.concatenate(acc_coef)[order]
    pok = np.concatenate(acc_ok)[order]
    idx = np.clip(np.searchsorted(plo, v, "right") - 1, 0, plo.size - 1)
    t = np.clip((2 * v - plo[idx] - phi[idx]) / (phi[idx] - plo[idx]), -1.0, 1.0)
    out = _clenshaw_rows(t, coefs[idx])
    ok = np.ones(y.shape, dtype=bool)
    # uncertified panels: their points get the exact routine (and its own convergence flags)
    redo = ~pok[idx]
    if redo.any():
        out[redo], ok[redo] = log_abs_integral(y[redo], np.full(redo.sum(), s), np.full(redo.sum(), b))
    return out, ok
