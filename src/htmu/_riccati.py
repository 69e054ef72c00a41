"""log |I(y)| for many points of one (s, b) by a spectral march of a Riccati equation (private helper).

This is the fast path of ``htmu.laws.htmp_logpdf`` for a call with many points of one (γ, κ).  It
returns what ``htmu._hyperu.log_abs_integral`` returns, log |I(y)| with
``log |U(b, c, −y)| = (s − b) log y − log Γ(s) + log |I(y)|`` and ``c = 1 + b − s``, but its cost
does not grow with the number of points: one ordinary differential equation is solved along
v = log y, once per call, and the points are read off its solution.

The equation.  ``f(y) = U(b, c, −y ∓ i0)`` (the density's Tricomi function on its branch cut) solves
Kummer's equation, which in ``v = log y`` reads ``f_vv + (c − 1 + y) f_v + b y f = 0``.  Its
logarithmic derivative ``h = f_v / f`` therefore solves the Riccati equation

    h' = −h² + p h − b y,        p = 1 − c − y,   y = e^v.

h is non-oscillatory (f never vanishes on the cut: the density is positive), and its two parts
carry everything:

* ``Re h = d log |f| / dv``, so ``−2 log |f|`` is ``m(v)`` with ``m' = −2 Re h`` (plus a constant);
* ``Im h = y W / |f|²`` where ``W = π y^(−c) e^(−y) / (Γ(b) Γ(s))`` is the Wronskian of Re f and
  Im f (DLMF 13.2.34 in this normalisation; it is ``(π b)`` times the density in y, i.e. the
  Stieltjes inversion ρ_y = Im(f'/f)/(π b)).

With ``ℓ = log Im h = m − y + (1 − c) v`` the pair (Re h, m) solves the real system

    (Re h)' = −(Re h)² + e^(2ℓ) + p Re h − b y,       m' = −2 Re h,

which is what is solved.  ``m`` is exact up to rounding wherever the density is tiny (ℓ is a sum,
never the logarithm of a difference), and the imaginary part never has to be resolved against the
real part in the tails.  Then ``log |I| = −(s − b) v + (lnΓ(s) − lnΓ(b + 1) + log(π b) − m) / 2``.

Initial value: one point where h is computed independently.
* ``c ≤ C_FROBENIUS``: at the mean, y = s (inside the bulk, where the saddle of the Laplace
  integral is complex), by the trapezoidal rule on the ray through that saddle in a sinh-map of
  u = log t (double-exponential decay at both ends; nested halving until two rules agree).
* ``C_FROBENIUS < c < 1`` (small κ): at a small y₀ (at most the smallest point, so the march goes
  one way) from the connection formula through two Kummer series,
  ``U = Γ(1−c)/Γ(s) M(b, c, z) + Γ(c−1)/Γ(b) z^(1−c) M(s, 2−c, z)`` (well conditioned there: c is
  away from the integers 0 and 1).

In both cases ℓ at that point comes from the Wronskian identity, not from Im h, so it is exact
whatever the size of Im h.

Marching.  From the initial point the solution is continued panel by panel to the largest and to
the smallest v of the points (outward in both directions, where the equation is stable: the real
part relaxes onto the solution at rate |p| in the tails).  On each panel of width L the system is
solved by Chebyshev collocation at ``N`` Lobatto points in integral form, ``Re h = h₀ + ∫ F``, by
Newton's method (chord steps once the steps are small), started from the quasi-static root of
``h² − p h + b y = 0`` (the Marchenko–Pastur-like leading order, exact for κ → ∞) shifted onto the
initial value and its slope.  Collocation is
implicit, so the stiffness of the equation (rates of order κ in the bulk, y in the right tail)
does not limit L; only the smoothness of the solution does.  A panel is accepted when Newton has
converged and the last Chebyshev coefficients of m (and L times those of Re h) are below ``TOL``
(less their rounding floor).  The next width is predicted from the geometric decay of those
coefficients (``_assess``).  The points are read off the panels by barycentric interpolation.
Cost, for the 1000-point cases of ``benchmarks/bench_laws.py``: 1–12 panels (1–15 tried) and
3–62 Newton steps of one 32×32 system for κ ≤ 100, 41 panels at κ = 10³, whatever the number of
points.

If anything fails (Newton diverges, panels shrink below ``MIN_WIDTH``, too many panels, a
non-finite value) :func:`htmp_logpdf_march` and :func:`log_abs_integral_march` raise
:class:`MarchFailed` and the caller falls back to the quadrature.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numpy.polynomial import chebyshev as C
from scipy.linalg.lapack import dgetrf, dgetrs
from scipy.special import gamma as gamma_fn
from scipy.special import gammaln

#: Chebyshev–Lobatto points per panel
N = 32
#: absolute tolerance on the trailing Chebyshev coefficients of m (= −2 log|f| + const)
TOL = 1e-11
#: first panel width in v = log y (divided by sqrt(1 + 2κ): the edge layers narrow as κ grows)
L0 = 4.0
#: width control: growth when the coefficients show no decay above rounding, safety factor on the
#: predicted width, largest growth per panel
GROW_BLIND, GROW_SAFETY, GROW_MAX = 1.5, 0.7, 1.5
#: panels narrower than this mean failure
MIN_WIDTH = 1e-7
#: at most this many panels (accepted + rejected) per call
MAX_PANELS = 2000
#: Newton steps per panel
MAX_NEWTON = 12
#: below this step size (relative) the Jacobian's factorisation is reused (chord steps)
CHORD = 1e-5
#: a Newton step smaller than this (relative to 1 + max|Re h|) ends the iteration
NEWTON_TOL = 1e-8
#: above this c the initial value comes from the Frobenius series at small y, else from quadrature
C_FROBENIUS = 0.05


#: work of the last march (diagnostics for ``benchmarks/bench_laws.py``; reset by each call)
STATS = {"panels": 0, "panels_tried": 0, "newton": 0}


class MarchFailed(RuntimeError):
    """The Riccati march could not certify its result (the caller falls back to quadrature)."""


@cache
def _cheb(n: int):
    """Lobatto points on [−1, 1] (ascending), values -> coefficients, left/right integration."""
    t = -np.cos(np.pi * np.arange(n) / (n - 1))
    vinv = np.linalg.inv(C.chebvander(t, n - 1))
    anti = np.empty((n, n))
    for k in range(n):
        e = np.zeros(n)
        e[k] = 1.0
        anti[:, k] = C.chebval(t, C.chebint(e, lbnd=-1))
    left = anti @ vinv  # (left f)_j = ∫_{-1}^{t_j} p_f
    right = left - left[-1]  # ∫_{1}^{t_j} p_f
    return t, vinv, left, right


# --------------------------------------------------------------------------------------------
# initial values
# --------------------------------------------------------------------------------------------


def _ell_from_log_abs_f(y, log_abs_f, s, b, c):
    """ℓ = log Im h from the Wronskian: Im h = y W / |f|², W = π y^(−c) e^(−y) / (Γ(b) Γ(s))."""
    return np.log(np.pi) + (1 - c) * np.log(y) - y - gammaln(b) - gammaln(s) - 2 * log_abs_f


def _kummer_series(a, c, y):
    """M(a, c, −y) and y d/dy M(a, c, −y) by their power series (small y only)."""
    term, total, ytotal = 1.0, 1.0, 0.0
    for k in range(200):
        term *= (a + k) / (c + k) * (-y) / (k + 1)
        total += term
        ytotal += (k + 1) * term
        if abs(term) * (k + 2) <= 1e-18 * max(abs(total), abs(ytotal), 1e-300):
            return total, ytotal
    raise MarchFailed("Kummer series did not converge")


def _initial_frobenius(s, b, c, y_min=np.inf):
    """(v0, Re h, ℓ) at a small y0 from the connection formula (for 0 < c < 1, c not near 0).

    y0 is at most ``y_min`` (the smallest point), so that the march goes one way only.
    """
    y0 = min(1e-3 * min(1.0, c) / (1.0 + s + b), y_min)
    A = gamma_fn(1 - c) / gamma_fn(s)
    B = gamma_fn(c - 1) / gamma_fn(b) * np.exp(1j * np.pi * (1 - c))
    m1, ym1 = _kummer_series(b, c, y0)
    m2, ym2 = _kummer_series(s, 2 - c, y0)
    yc = y0 ** (1 - c)
    f = A * m1 + B * yc * m2
    yf = A * ym1 + B * yc * ((1 - c) * m2 + ym2)
    h = yf / f
    return np.log(y0), h.real, float(_ell_from_log_abs_f(y0, np.log(abs(f)), s, b, c))


def _initial_quadrature(s, b, c):
    """(v*, Re h, ℓ) at y = s by the trapezoidal rule on the saddle ray (for c ≤ C_FROBENIUS).

    I_β(y) = ∫ e^(y t) t^(s−1) (1 + t)^(−β) dt along the ray through the complex saddle t* of the
    integrand (|t*| = 1 at y = s), in u = log|t| = w sinh τ; h = −b I_{b+1} / I_b and
    log|f| = (s − b) log y − lnΓ(s) + log|I_b|.
    """
    y = s
    tstar = (-(2 * s - b) + 1j * np.sqrt(max(4 * s * s - (2 * s - b) ** 2, 0.0))) / (2 * s)
    theta = float(np.angle(tstar))
    if not np.pi / 2 < theta < np.pi:
        raise MarchFailed("no complex saddle at the mean")
    d2 = y * tstar - b * tstar / (1 + tstar) ** 2
    w = float(min(1.0, 1.0 / np.sqrt(abs(d2))))
    eith = np.exp(1j * theta)

    def phi(u):
        t = np.exp(u) * eith
        return y * t + s * (u + 1j * theta) - b * np.log1p(t), t

    ref = phi(0.0)[0].real
    # τ range: the integrand is below e^(−70) of its peak beyond it (left: e^(s u) decay; right:
    # e^(y r cos θ) decay, located on a coarse grid)
    grid = np.arange(1.0, 25.0)
    with np.errstate(over="ignore", invalid="ignore"):
        low = phi(w * np.sinh(np.concatenate([grid, -grid])))[0].real - ref < -75.0
    low_r, low_l = low[: grid.size], low[grid.size :]
    if not (low_r.any() and low_l.any()):
        raise MarchFailed("saddle-ray integrand does not decay")
    tr = float(grid[np.argmax(low_r)])
    tl = float(grid[np.argmax(low_l)])
    h_step = 0.125
    n_int = int(np.ceil((tl + tr) / h_step))  # grid −tl + j h_step, j = 0..n_int

    def add(tau):
        ph, t = phi(w * np.sinh(tau))
        g = np.exp(ph - ref) * (w * np.cosh(tau))
        return np.array([g.sum(), (g / (1 + t)).sum(), np.abs(g).sum()])

    sums = add(-tl + h_step * np.arange(n_int + 1))
    prev = None
    for _ in range(7):
        cur = sums[:2] * h_step
        # two successive rules agree to 1e-7 (the trapezoidal rule converges like exp(−const/h)
        # here, so halving h roughly squares the relative error: the finer rule is then good to
        # ~1e-14; measured against 40-digit mpmath: at most 1.3e-13 in Re h and ℓ over 13 cases),
        # or down to the rounding floor of the sums
        floor = 1e-15 * n_int * sums[2].real * h_step
        if prev is not None and np.all(np.abs(cur - prev) <= np.maximum(1e-7 * np.abs(cur), floor)):
            if np.any(floor > 1e-12 * np.abs(cur)):
                break
            hval = -b * cur[1] / cur[0]
            log_abs_f = (s - b) * np.log(y) - gammaln(s) + ref + np.log(abs(cur[0]))
            return np.log(y), hval.real, float(_ell_from_log_abs_f(y, log_abs_f, s, b, c))
        prev = cur
        # halve the step: the new nodes are the midpoints of the current grid
        sums = sums + add(-tl + h_step * (np.arange(n_int) + 0.5))
        h_step /= 2
        n_int *= 2
    raise MarchFailed("saddle-ray quadrature did not converge")


# --------------------------------------------------------------------------------------------
# the march
# --------------------------------------------------------------------------------------------


def _panel(v_ic, L, h0, m0, c, b, forward):
    """Solve one panel [v_ic, v_ic + L] (forward) or [v_ic − L, v_ic] by Newton collocation.

    Returns (converged, v nodes, Re h, m) with the nodes ascending.
    """
    t, _, left, right = _cheb(N)
    if forward:
        v = v_ic + (t + 1) * (0.5 * L)
        sl = left * (0.5 * L)
        i0 = 0
    else:
        v = v_ic - (1 - t) * (0.5 * L)
        sl = right * (0.5 * L)
        i0 = N - 1
    y = np.exp(v)
    p = 1 - c - y
    lin = (1 - c) * v - y
    by = b * y
    # initial guess: the quasi-static root of h² − p h + b y = 0, shifted onto the initial value
    # (complex roots in the bulk: their common real part p/2; real roots in the tails: the one on
    # the initial value's side of p/2, the two being symmetric about it)
    half_p = 0.5 * p
    sq = np.sqrt(np.maximum(p * p - 4 * by, 0.0))
    side = 1.0 if h0 >= half_p[i0] else -1.0
    q = half_p + (0.5 * side) * sq
    # the deviation h − q continued linearly from the initial point, its slope from the equation
    y0, p0 = y[i0], p[i0]
    dq0 = -0.5 * y0
    if sq[i0] > 0:
        dq0 += side * (-p0 * y0 - 2 * b * y0) / (2 * sq[i0])
    dh0 = (p0 - h0) * h0 + np.exp(2 * (m0 + lin[i0])) - by[i0]
    h = q + (h0 - q[i0]) + (dh0 - dq0) * (v - v[i0])
    eye = _eye(N)
    ml0 = 2 * (m0 + lin)  # 2ℓ = 2(m + lin) with m = m0 − 2 ∫ Re h
    lu = piv = None
    for _ in range(MAX_NEWTON):
        STATS["newton"] += 1
        e2 = np.exp(ml0 - 4 * (sl @ h))
        resid = h - (h0 + sl @ ((p - h) * h + e2 - by))
        if lu is None:
            jac = sl * (2 * h - p)
            jac += eye
            jac += (sl * (4 * e2)) @ sl
            lu, piv, info = dgetrf(jac)
            if info != 0:
                break
        d, _ = dgetrs(lu, piv, resid)
        h = h - d
        dmax = np.abs(d).max()
        if not dmax < np.inf:
            break
        scale = 1 + np.abs(h).max()
        # converged: Newton's error after a step is of order dmax² (relative), ~1e-16 here
        if dmax <= NEWTON_TOL * scale:
            return True, v, h, m0 - 2 * (sl @ h)
        # once the steps are small, keep the factorisation (chord steps: cheaper, and they still
        # contract by a factor of order the step); refactorise while they are large
        if dmax > CHORD * scale:
            lu = None
    return False, v, h, None


def _shorten(cm, m):
    """m's values on the fewest Lobatto points that carry its Chebyshev series to rounding.

    The trailing coefficients below 1e-15 of max|m| are dropped (an error of at most N times
    that), so the interpolation at the points costs in proportion to the degree actually used.
    """
    big = np.nonzero(np.abs(cm) > 1e-15 * (1.0 + np.abs(m).max()))[0]
    k = max(int(big[-1]) + 1 if big.size else 1, 4)
    if k >= cm.size:
        return m
    return _cheb_values(k) @ cm[:k]


@cache
def _cheb_values(k: int) -> np.ndarray:
    """T_j at k Lobatto points, j < k: Chebyshev coefficients -> values on that grid."""
    return C.chebvander(_cheb(k)[0], k - 1)


def _assess(cm, ch, size):
    """Truncation error of a panel and the factor for the next width.

    ``cm``, ``ch``: Chebyshev coefficients of m and of L·Re h (both bound m's error).  For a
    function analytic in the Bernstein ellipse of parameter ρ the coefficients fall like ρ^(−k),
    and ρ scales like 1/L; so ρ is fitted on the coefficients above the rounding floor and the
    width that would bring the last coefficient to ``TOL`` is proposed (at most ×3, at least ×1/4,
    with a safety factor).
    """
    c = np.maximum(np.abs(cm), np.abs(ch))
    floor = 64 * np.finfo(float).eps * size
    tail = max(c[-3:].max() - floor, 0.0)
    k = np.nonzero(c[1:] > 100 * floor)[0] + 1
    if k.size < 3:
        return tail, GROW_BLIND  # all at the floor: how far the limit is, is unknown
    k1, k2 = k[0], k[-1]
    if c[k2] >= c[k1]:
        return tail, 0.25
    rho = (c[k1] / c[k2]) ** (1.0 / (k2 - k1))  # c_k ≈ A ρ^(−k) between the first and last
    rho_needed = (c[k1] * rho**k1 / TOL) ** (1.0 / (c.size - 1))
    return tail, float(np.clip(GROW_SAFETY * rho / rho_needed, 0.25, GROW_MAX))


def _march(v_ic, h_ic, ell_ic, c, b, v_lo, v_hi):
    """Panels (v_left, v_right, m at the panel's Lobatto points) covering [v_lo, v_hi] ∪ {v_ic}."""
    _, vinv, _, _ = _cheb(N)
    m_ic = ell_ic + np.exp(v_ic) - (1 - c) * v_ic
    panels = []
    for forward, v_end in ((True, v_hi), (False, v_lo)):
        v0, h0, m0, L = v_ic, h_ic, m_ic, L0 / np.sqrt(1 + 4 * b)
        while (v0 < v_end) if forward else (v0 > v_end):
            STATS["panels_tried"] += 1
            if STATS["panels_tried"] > MAX_PANELS:
                raise MarchFailed(f"more than {MAX_PANELS} panels")
            # the last panel ends at the end of the range (a hair beyond it)
            L = min(L, ((v_end - v0) if forward else (v0 - v_end)) * (1 + 1e-12) + 1e-12)
            ok, v, h, m = _panel(v0, L, h0, m0, c, b, forward)
            tail, grow = np.inf, 0.25
            if ok:
                cm = vinv @ m
                tail, grow = _assess(cm, L * (vinv @ h), np.abs(m).max() + L * np.abs(h).max())
            if tail > TOL:
                L *= min(grow, 0.7)
                if L < MIN_WIDTH:
                    raise MarchFailed(f"panel width below {MIN_WIDTH} at v = {v0:.6g}")
                continue
            panels.append((v[0], v[-1], _shorten(cm, m)))
            STATS["panels"] += 1
            i = -1 if forward else 0
            v0, h0, m0 = v[i], h[i], m[i]
            L *= grow
    return panels


@cache
def _eye(n: int) -> np.ndarray:
    return np.eye(n)


@cache
def _bary_weights(n: int) -> np.ndarray:
    """Barycentric weights of the Chebyshev–Lobatto points: (−1)^j, halved at both ends."""
    w = (-1.0) ** np.arange(n)
    w[0] *= 0.5
    w[-1] *= 0.5
    return w


def _solve(v, s, b):
    """Panels and the point→panel map for points at v = log y (raises MarchFailed)."""
    c = 1.0 + b - s
    STATS.update(panels=0, panels_tried=0, newton=0)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        if c > C_FROBENIUS:
            v_ic, h_ic, ell_ic = _initial_frobenius(s, b, c, float(np.exp(v.min())))
        else:
            v_ic, h_ic, ell_ic = _initial_quadrature(s, b, c)
        if not (np.isfinite(h_ic) and np.isfinite(ell_ic)):
            raise MarchFailed("non-finite initial value")
        return _march(v_ic, h_ic, ell_ic, c, b, float(v.min()), float(v.max()))


def _m_at(v, panels):
    """m (= −2 log|f| + const) at the points v from the panels' nodal values.

    Barycentric interpolation at the Lobatto points, panel by panel (two matrix–vector products
    per panel; the points of a panel are found by one sort).
    """
    if len(panels) == 1:
        left, right, values = panels[0]
        return _bary(np.clip((2 * v - left - right) / (right - left), -1.0, 1.0), values)
    edges = np.sort(np.array([p_[0] for p_ in panels]))
    by_left = {p_[0]: p_ for p_ in panels}
    idx = np.clip(np.searchsorted(edges, v, "right") - 1, 0, edges.size - 1)
    out = np.empty(v.shape)
    if edges.size == 1:
        groups = [(edges[0], slice(None))]
    else:
        order = np.argsort(idx, kind="stable")
        cuts = np.searchsorted(idx[order], np.arange(edges.size + 1))
        groups = [
            (edges[j], order[cuts[j] : cuts[j + 1]]) for j in range(edges.size) if cuts[j + 1] > cuts[j]
        ]
    for left, sel in groups:
        _, right, values = by_left[left]
        out[sel] = _bary(np.clip((2 * v[sel] - left - right) / (right - left), -1.0, 1.0), values)
    return out


def _bary(t, values):
    """The polynomial through the Lobatto points and ``values`` at t (barycentric formula)."""
    tn = _cheb(values.size)[0]
    w = _bary_weights(values.size)
    with np.errstate(divide="ignore", invalid="ignore"):
        num_den = np.reciprocal(t[:, None] - tn) @ np.stack([w * values, w], 1)
        val = num_den[:, 0] / num_den[:, 1]
    hit = ~np.isfinite(val)  # t on a node (the panel ends, at least)
    if hit.any():
        val[hit] = values[np.argmin(np.abs(t[hit, None] - tn), 1)]
    return val


def htmp_logpdf_march(x, s: float, b: float):
    """log ρ(x) of the direct-form HTMP law (s = κ/(2γ), b = κ/2) for a 1-d array 0 < x < ∞.

    ``log ρ = log(s / (π b)) + ℓ − v`` with ``v = log(s x)`` and ``ℓ = m − y + (1 − c) v``.
    Raises :class:`MarchFailed` when the march cannot certify its result.
    """
    y = s * np.asarray(x, dtype=float)
    v = np.log(y)
    m = _m_at(v, _solve(v, s, b))
    out = (np.log(s / (np.pi * b)) + m - y) + (s - b - 1.0) * v
    if not np.all(np.isfinite(out)):
        raise MarchFailed("non-finite result")
    return out


def log_abs_integral_march(y, s: float, b: float):
    """log |I(y)| for a 1-d array y > 0 and scalars s > b > 0; returns (value, converged).

    Same contract as ``htmu._hyperu.log_abs_integral``; raises :class:`MarchFailed` when the
    march cannot certify its result (the caller then uses the quadrature).
    """
    y = np.asarray(y, dtype=float)
    v = np.log(y)
    m = _m_at(v, _solve(v, s, b))
    out = -(s - b) * v + 0.5 * (gammaln(s) - gammaln(b + 1) + np.log(np.pi * b) - m)
    if not np.all(np.isfinite(out)):
        raise MarchFailed("non-finite result")
    return out, np.ones(y.shape, dtype=bool)
