"""Tricomi's U on its branch cut, |U(b, c, −y ± i0)|, by saddle-ray quadrature (private helper).

The HTMP density needs ``log |U(b, c, −y)|`` with ``b = κ/2``, ``c = 1 + b − s`` and ``s = κ/(2γ)``
for ``y > 0``, i.e. on the branch cut of U, where both sides are complex conjugates and only the
modulus matters.  We use Kummer's transformation ``U(b, c, z) = z^(1−c) U(s, 2 − c, z)`` (note
``b − c + 1 = s``) and the Laplace-type integral (DLMF 13.4.4)

    U(b, c, z) = z^(1−c) / Γ(s) · ∫₀^{∞·e^{iθ}} e^{−zt} t^{s−1} (1 + t)^{−b} dt,

which, at ``z = y e^{−iπ}`` (the lower side of the cut), converges on every ray ``θ ∈ (π/2, π)``:
``e^{yt}`` decays there and the ray passes above the branch point ``t = −1`` (Cauchy's theorem makes
the value independent of θ).  So

    log |U(b, c, −y)| = (s − b) log y − log Γ(s) + log |I|,
    I = ∫_{−∞}^{∞} exp φ(u) du,   φ(u) = y t + s log t − b log(1 + t),   t = e^{u + iθ}.

Why this route (and not the connection formula or per-point mpmath): the integrand involves only
``exp`` and ``log``, so it is evaluated in log space without overflow for κ up to 10³ and beyond,
and it has no removable singularities: the connection formula through two Kummer functions divides
Γ(1 − c) by Γ(c − 1) and breaks down at integer c (γ = 0.5, κ = 2) and for large |c| (cancellation
between huge terms), whereas the integral is uniform in the parameters.

Choice of the ray.  The integral is exact on every admissible ray, but the quadrature is only
accurate if the integrand does not cancel.  For each point we scan ``NCAND`` fixed rays plus the
ray through the complex saddle point of φ (where it exists, i.e. in the bulk), and estimate
``∫ |f|`` along each one from the stationary points of ``Re φ`` (a cubic in ``r = e^u``, solved in
closed form): ``Σ_peaks exp(Re φ(u_k)) · w_k``, with ``w_k = |φ''(u_k)|^(−1/2)``.  In the bulk the
minimum sits on the ray through the complex saddle point of φ (steepest descent); in the tails,
where the saddles are real, it is a ray close to the negative axis.  Among rays whose estimate is
within ``e`` of the best we take the one closest to π (least oscillation of ``e^{yt}``).  The saddle
ray matters for large κ, where the peak is narrow and a ray a few degrees off cancels badly.

Cost: a few hundred evaluations of exp/log/atan2 per point (two Gauss orders, six pieces), i.e.
of order 0.2–1 ms per point in numpy on this project's 2-core machines: this is ``htmu.laws``'s
path for a few points (fewer than ``FAST_MIN_POINTS`` of one (γ, κ), batched across (γ, κ)).  Many
points of one (s, b) go to ``htmu._riccati`` (one ODE for all of them; it evaluates the same
integral, on the saddle ray, for its initial value).  Domain: ``htmu.laws`` sends points here only
for κ ≤ 100, s ≤ 1000 and y ≥ 1e-25·s (``KAPPA_QUAD``, ``S_QUAD``, ``TINY_Y``), where every point
confirmed its tolerance and agreed with the march to 3.3e-11; beyond (κ ≈ 10³ near the MP edges,
y below ≈ 1e-30·s, where the peak finder loses accuracy) the tolerance check fails and the march
serves instead.

Quadrature along the ray.  The ray's features are the one or two peaks of ``Re φ`` and the point of
closest approach to ``t = −1`` (where ``(1 + t)^{−b}`` is nearly singular).  The ``u``-axis is cut
at these features and at the midpoints between them; each piece is mapped by ``u = a + w sinh τ``
anchored at its feature ``a`` with that feature's width ``w`` and integrated by Gauss–Legendre in τ.
Near ``t = 0`` (``r < r₀``) the integrand ``t^{s−1} e^{yt}(1 + t)^{−b}`` is integrated exactly
term by term from four Taylor terms of ``exp(yt − b log(1 + t))`` (this makes tiny s, i.e. tiny κ,
cheap: the integrand decays only like ``e^{su}`` as ``u → −∞``).  Accuracy is controlled
adaptively: the rule is doubled (20, 40, 80, … nodes per piece) until two successive results agree
to ``rtol`` for every point; points that never agree are reported to the caller.

Everything is vectorised over points and parameters; no per-parameter setup is done, so a new
(γ, κ) on every call costs the same as a repeated one.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numpy.polynomial.legendre import leggauss

#: number of candidate rays scanned per point
NCAND = 12
#: Gauss–Legendre orders tried in turn (nodes per piece, 6 pieces per point)
LEVELS = (32, 64, 128, 256, 512, 1024)
#: relative agreement between two successive orders that accepts a point
RTOL = 1e-9
#: the integrand is cut where it is below exp(-CUT) times its peak
CUT = 60.0


@cache
def _gauss_legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    return leggauss(n)


def _phi(u, theta, y, s, b):
    """φ(u) = y t + s log t − b log(1 + t), t = e^(u + iθ) (the t^s includes the Jacobian dt = t du)."""
    t = np.exp(u + 1j * theta)
    return y * t + s * (u + 1j * theta) - b * np.log1p(t)


def _cubic_roots(A, B, C, D):
    """The three complex roots of A r³ + B r² + C r + D (A ≠ 0), vectorised.

    Eigenvalues of the companion matrices (LAPACK balances them), which stays accurate when the
    roots differ by many orders of magnitude (tiny y makes A tiny and one root huge), where
    Cardano's formula loses the small roots.
    """
    A, B, C, D = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (A, B, C, D)))
    comp = np.zeros(A.shape + (3, 3))
    comp[..., 0, 0] = -B / A
    comp[..., 0, 1] = -C / A
    comp[..., 0, 2] = -D / A
    comp[..., 1, 0] = 1.0
    comp[..., 2, 1] = 1.0
    return np.linalg.eigvals(comp)


def _newton(u, theta, y, s, b, steps=3):
    """Polish a stationary point of Re φ(u) (Newton steps, each clipped to one unit of u)."""
    for _ in range(steps):
        t = np.exp(u + 1j * theta)
        d1 = (y * t + s - b * t / (1 + t)).real
        d2 = (y * t - b * t / (1 + t) ** 2).real
        step = d1 / np.where(d2 == 0, -1.0, d2)
        u = u - np.clip(step, -1.0, 1.0)
    return u


def _width(u, theta, y, s, b):
    t = np.exp(u + 1j * theta)
    d2 = y * t - b * t / (1 + t) ** 2
    return np.minimum(1 / np.sqrt(np.maximum(np.abs(d2), 1e-300)), 10.0)


def _ray_features(theta, y, s, b, polish):
    """Peaks of Re φ along the ray θ and the estimate log ∫|f| used to choose the ray."""
    c = np.cos(theta)
    # r · d/dr Re φ = 0, multiplied by |1 + t|², is a cubic in r.  Below y = 1e-280 the leading
    # coefficient would overflow the companion matrix; the peaks are then located as for
    # y = 1e-280 (only the quadrature layout uses them; the integrand keeps the true y)
    yc = np.maximum(y, 1e-280)
    roots = _cubic_roots(yc * c, 2 * yc * c * c + s - b, c * (yc + 2 * s - b), s + 0 * y)
    real = (np.abs(roots.imag) <= 1e-7 * np.abs(roots)) & (roots.real > 0)
    u = np.where(real, np.log(np.where(real, roots.real, 1.0)), np.nan)
    u = np.sort(u, -1)
    three = real.sum(-1) >= 3
    # Re φ rises like s·u as u → −∞ and falls as u → ∞: one peak, or peak–trough–peak
    u1 = u[..., 0]
    umin = np.where(three, u[..., 1], u1)
    u2 = np.where(three, u[..., 2], u1)
    u1 = np.where(np.isnan(u1), 0.0, u1)
    umin = np.where(np.isnan(umin), u1, umin)
    u2 = np.where(np.isnan(u2), u1, u2)
    if polish:
        u1 = _newton(u1, theta, y, s, b)
        u2 = np.where(three, _newton(u2, theta, y, s, b), u1)
        umin = np.where(three, _newton(umin, theta, y, s, b), u1)
    m1 = _phi(u1, theta, y, s, b).real
    m2 = _phi(u2, theta, y, s, b).real
    w1 = _width(u1, theta, y, s, b)
    w2 = _width(u2, theta, y, s, b)
    score = np.where(three, np.logaddexp(m1 + np.log(w1), m2 + np.log(w2)), m1 + np.log(w1))
    return score, u1, umin, u2, m1, m2, w1, w2


def _pieces(theta, y, s, b):
    """Quadrature pieces (lo, hi, anchor, width), the log-scale m and the small-t part."""
    _, u1, umin, u2, m1, m2, w1, w2 = _ray_features(theta, y, s, b, polish=True)
    m = np.maximum(m1, m2)
    # exact part for r < r0: ∫₀^{t0} t^{s−1} Σ_k e_k t^k dt with exp(yt − b log(1+t)) = Σ e_k t^k
    u0 = np.minimum(np.log(1e-3 / (np.abs(y - b) + b + 1)), u1 - 5 * w1)
    g1, g2, g3 = y - b, b / 2, -b / 3
    coef = (1.0, g1, g1 * g1 / 2 + g2, g1**3 / 6 + g1 * g2 + g3)
    small = sum(ek * np.exp((s + k) * (u0 + 1j * theta) - m) / (s + k) for k, ek in enumerate(coef))
    # right end: double the distance from the last peak until the integrand is negligible
    uhi = u2 + 4 * w2
    for _ in range(10):
        low = _phi(uhi, theta, y, s, b).real - m < -CUT
        uhi = np.where(low, uhi, np.minimum(u2 + 2 * (uhi - u2), 700.0))
    c = np.cos(theta)
    uc = np.clip(np.log(-c), u0, uhi)
    wc = np.minimum(np.sin(theta) / (-c) / np.sqrt(1.0 + b), 1.0)
    feats = np.stack([u1, u2, uc], -1)
    wids = np.stack([w1, w2, wc], -1)
    order = np.argsort(feats, -1)
    F = np.clip(np.take_along_axis(feats, order, -1), u0[..., None], uhi[..., None])
    W = np.take_along_axis(wids, order, -1)
    pieces = [(u0, F[..., 0], F[..., 0], W[..., 0])]
    for i in range(2):
        mid = 0.5 * (F[..., i] + F[..., i + 1])
        pieces.append((F[..., i], mid, F[..., i], W[..., i]))
        pieces.append((mid, F[..., i + 1], F[..., i + 1], W[..., i + 1]))
    pieces.append((F[..., 2], uhi, F[..., 2], W[..., 2]))
    return pieces, m, small


def _integrate(pieces, theta, y, s, b, m, small, n):
    """Σ over pieces of Gauss–Legendre sums of exp(φ − m), φ in real arithmetic.

    Returns (total, shift): the integral is exp(m + shift) · total.  ``shift`` rescales on the fly
    (log-sum-exp) should a node exceed the predicted peak m, so nothing overflows.
    """
    xg, wg = _gauss_legendre(n)
    # all pieces at once, shape (points, pieces, nodes): one pass of numpy calls per order
    lo, hi, a, w = (np.stack(q, -1)[..., None] for q in zip(*pieces, strict=True))
    ct, st = np.cos(theta)[..., None, None], np.sin(theta)[..., None, None]
    y_, s_, b_, m_ = (v[..., None, None] for v in (y, s, b, m))
    tl = np.arcsinh((lo - a) / w)
    tr = np.arcsinh((hi - a) / w)
    half = 0.5 * (tr - tl)
    tau = half * xg + 0.5 * (tr + tl)
    jac = half * wg * w * np.cosh(tau)
    u = a + w * np.sinh(tau)
    r = np.exp(u)
    # log|1 + t|² without overflowing r² for huge r (tiny y puts the decay at r ~ 1/y)
    big = u > 0
    e = np.exp(-np.where(big, u, 0.0))
    rs = np.where(big, 0.0, r)
    log_mod2 = np.where(big, 2 * u + np.log1p(e * (2 * ct + e)), np.log1p(rs * (2 * ct + rs)))
    # φ = y t + s (u + iθ) − b log(1 + t), t = r e^{iθ}: real and imaginary parts
    re = y_ * r * ct + s_ * u - 0.5 * b_ * log_mod2 - m_
    im = y_ * r * st + s_ * theta[..., None, None] - b_ * np.arctan2(r * st, 1 + r * ct)
    # rescale (log-sum-exp) should a node exceed the predicted peak m, so nothing overflows
    shift = np.maximum(0.0, re.max((-2, -1)))
    mag = np.exp(re - shift[..., None, None]) * jac
    total = small * np.exp(-shift) + (mag * np.cos(im)).sum((-2, -1)) + 1j * (mag * np.sin(im)).sum((-2, -1))
    return total, shift


def log_abs_integral(y, s, b, rtol: float = RTOL):
    """log |I(y)| for 1-d arrays y > 0, s > 0, b > 0 (same shape); returns (value, converged)."""
    y, s, b = (np.asarray(v, dtype=float) for v in (y, s, b))
    grid = np.pi * (0.5 + 0.5 * (np.arange(NCAND) + 0.5) / NCAND)
    # the ray through the complex saddle of φ (y t² + (y + s − b) t + s = 0), where it exists:
    # the steepest-descent choice in the bulk, needed when large κ makes the peak very narrow
    disc = (y + s - b) ** 2 - 4 * y * s
    saddle = (-(y + s - b) + 1j * np.sqrt(np.maximum(-disc, 0.0))) / (2 * y)
    th_saddle = np.where(disc < 0, np.angle(saddle), grid[-1])
    thetas = np.concatenate([np.broadcast_to(grid, y.shape + grid.shape), th_saddle[..., None]], -1)
    # all candidate rays in one broadcast call (a Python loop over rays costs more than the work)
    scores = _ray_features(thetas, y[..., None], s[..., None], b[..., None], polish=False)[0]
    scores = np.where(np.isnan(scores), np.inf, scores)
    near_best = scores <= scores.min(-1, keepdims=True) + 1.0
    # among the near-best rays, the one closest to π (least oscillation of e^{yt})
    pick = np.argmax(np.where(near_best, thetas, -np.inf), -1)
    theta = np.take_along_axis(thetas, pick[..., None], -1)[..., 0]
    pieces, m, small = _pieces(theta, y, s, b)

    out = np.full(y.shape, np.nan)
    done = np.zeros(y.shape, dtype=bool)
    todo = np.arange(y.size)
    prev = None
    for n in LEVELS:
        sub = [tuple(p[todo] for p in piece) for piece in pieces]
        cur, sh = _integrate(sub, theta[todo], y[todo], s[todo], b[todo], m[todo], small[todo], n)
        # put both levels on the scale m (shift is 0 unless the peak estimate was off)
        logcur = m[todo] + sh + np.log(np.abs(cur))
        if prev is not None:
            plog, parg = prev
            # rtol, widened by the rounding of φ itself (|φ| reaches 1e7 for κ = 1e6)
            tol = rtol + 1e-15 * (np.abs(m[todo]) + s[todo] + b[todo] + y[todo])
            ok = np.abs(logcur - plog) <= tol
            ok &= np.abs(np.angle(np.exp(1j * (np.angle(cur) - parg)))) <= tol
            idx = todo[ok]
            out[idx] = logcur[ok]
            done[idx] = True
            todo, logcur, cur = todo[~ok], logcur[~ok], cur[~ok]
            if todo.size == 0:
                break
        prev = (logcur, np.angle(cur))
    if todo.size:
        out[todo] = prev[0]
    done &= np.isfinite(out)
    return out, done
