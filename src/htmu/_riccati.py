"""The HTMP density's Tricomi function along v = log y by a spectral march of a Riccati equation.

This is the fast path of ``htmu.laws``: the density at many points of one (γ, κ), and the
distribution function (the integral of the same solution).  Its cost does not grow with the
number of points: one ordinary differential equation is solved along v = log y, once per call,
and the points are read off its solution (:func:`march` returns it as a :class:`Solution`).

The equation.  ``f(y) = U(b, c, −y ∓ i0)`` (the density's Tricomi function on its branch cut,
``c = 1 + b − s``) solves Kummer's equation, which in ``v = log y`` reads
``f_vv + (c − 1 + y) f_v + b y f = 0``.  Its logarithmic derivative ``h = f_v / f`` solves the
Riccati equation

    h' = −h² + p h − b y,        p = 1 − c − y,   y = e^v.

h is non-oscillatory (f never vanishes on the cut: the density is positive), and its imaginary
part is the density: ``Im h = y W / |f|²`` where ``W = π y^(−c) e^(−y) / (Γ(b) Γ(s))`` is the
Wronskian of Re f and Im f (DLMF 13.2.34 in this normalisation), i.e. ρ_x = (s/(π b)) e^(ℓ − v)
with ``ℓ = log Im h``, and the density of v is e^ℓ/(π b).  The real part is written
``Re h = p/2 + g``, so that (g, ℓ) solve

    g' = y/2 − D − g² + e^(2ℓ),      ℓ' = −2 g,      −D = p²/4 − b y = (y − y₋)(y − y₊)/4,

with y± = (√s ± √b)² = s (1 ± √γ)², the Marchenko–Pastur edges.  Every term is of the size of the
solution: in the bulk e^(2ℓ) ≈ D (the MP density, exact for κ → ∞) and g = O(1), so ℓ ~ log κ
carries no rounding of order κ (writing the system for Re h and −2 log|f| instead loses
κ·1e-16 in ℓ, which at κ = 10⁵ already breaks the march); in the tails ℓ is a sum, never the
logarithm of a difference, so it stays exact where the density is far below the smallest double.

Initial value: one point where h is computed independently.
* ``c ≤ C_FROBENIUS``: at the mean, y = s (inside the bulk, where the saddle of the Laplace
  integral is complex), by the trapezoidal rule on the ray through that saddle in a sinh-map of
  u = log t (double-exponential decay at both ends; nested halving until two rules agree).
* ``C_FROBENIUS < c < 1`` (small κ): at a small y₀ from the connection formula through two Kummer
  series, ``U = Γ(1−c)/Γ(s) M(b, c, z) + Γ(c−1)/Γ(b) z^(1−c) M(s, 2−c, z)`` (well conditioned
  there: c is away from the integers 0 and 1).  y₀ is set by (s, b), not by the points (it moves
  down towards the smallest one only a little: ``_frobenius_y0``): the march must leave it
  outward (below).

In both cases ℓ at that point comes from the Wronskian identity, not from Im h, so it is exact
whatever the size of Im h.  In the bulk the linearised system oscillates at ω = 2 e^ℓ ~ κ;
the initial value, off the non-oscillatory solution by rounding, is first settled onto it
(``_settle``).

Marching.  From the initial point the solution is continued panel by panel to the ends of the
range, outward in both directions, where the equation is stable: a perturbation δg evolves as
δg' = −2g δg, and g ≈ −(1 − c)/2 < 0 in the left tail, g ≈ y/2 − b > 0 in the right one, so it
decays away from the bulk.  Towards the bulk it grows instead, like y^(1−c) across the left
tail: there Re h ~ y^(1−c) is far below the rounding of g ≈ −p/2, and a march inward from a
point deep in the left tail carries that rounding into the bulk multiplied by
(y_bulk/y_start)^(1−c) (γ = 0.5, κ = 1 from y = 1e-37: log ρ off by 8.5 in the bulk).  Hence
the starting points set by (s, b): y = s, or the Frobenius y₀ above, from which the growth up to
the lower MP edge y₋, at most (y₋/y₀)^(1−c), is below 2·10⁴ for every 0 < γ < 1, κ > 0 with
c > ``C_FROBENIUS`` (times e at most where y₀ has moved down towards the points).  Since
ℓ' = −2g, that growth is e^(rise of ℓ in the march direction), so the march measures it: once ℓ
has risen by more than ``RISE_MAX`` above its lowest value on the path, the rounding could be
amplified beyond the law's tolerance, and it fails instead (a guard: from these starting points
ℓ rises by at most 9.3 over γ ∈ [0.001, 0.999], κ ∈ [10⁻⁶, 10⁶]; from y = 1e-37 at γ = 0.5,
κ = 1 it rose by 42).

On each panel the system is solved by Radau IIA collocation at ``N`` right Radau points in
integral form, ``g = g₀ + ∫ F``, ``ℓ = ℓ₀ − 2 ∫ g``, by Newton's method (chord steps once the
steps are small), started from the quasi-static root g = ±√(−D) shifted onto the initial value
and its slope.  Collocation is implicit, so the stiffness of the equation (rates of order κ in
the bulk, y in the right tail) does not limit the width; and Radau's stability function vanishes
at infinity, so the unresolved oscillation of frequency ~κ in the bulk is damped within a panel
instead of being carried along (Lobatto collocation keeps it, and then panels of width ~N/κ are
needed: 2000+ panels at κ = 10⁵).  A panel is accepted when Newton has converged and the last
Chebyshev coefficients of ℓ are below ``TOL`` (less their rounding floor); the next width is
predicted from their geometric decay (``_assess``).  Points are read off the panels by
barycentric interpolation.  Cost, for the 1000-point cases of ``benchmarks/bench_laws.py``: 1–25
panels for κ ≤ 100, 40–90 for κ = 10³–10⁶, whatever the number of points.

If anything fails (Newton diverges, panels shrink below ``MIN_WIDTH``, too many panels, ℓ rises
by more than ``RISE_MAX``, a non-finite value) :func:`march` raises :class:`MarchFailed`; ``htmu.laws`` then returns NaN for
the points with an ``HTMPAccuracyWarning``.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numpy.polynomial import chebyshev as C
from numpy.polynomial import legendre as L
from scipy.linalg.lapack import dgetrf, dgetrs
from scipy.special import gamma as gamma_fn
from scipy.special import gammaln

#: Radau collocation points per panel (plus the initial point)
N = 32
#: absolute tolerance on the trailing Chebyshev coefficients of ℓ
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
#: a Newton step smaller than this (relative to 1 + max|g|) ends the iteration
NEWTON_TOL = 1e-8
#: above this c the initial value comes from the Frobenius series at small y, else from quadrature
C_FROBENIUS = 0.05
#: largest rise of ℓ along the march direction above its lowest value on the path: rounding grows
#: by e^(rise) at most (1e-16 · e^14 ≈ 1e-10); the starting points of ``march`` give at most 9.3
RISE_MAX = 14.0
#: the Frobenius start moves down towards the smallest point by at most this much in log y
#: (``_frobenius_y0``)
FROBENIUS_SLIDE = 5.0


class MarchFailed(RuntimeError):
    """The Riccati march could not certify its result."""


@cache
def _lobatto(n: int) -> np.ndarray:
    """n Chebyshev–Lobatto points on [−1, 1], ascending (the panels' storage and interpolation grid)."""
    return -np.cos(np.pi * np.arange(n) / (n - 1))


@cache
def _radau(n: int):
    """Collocation grid of one panel in local coordinates, the initial point first.

    Returns (t, S, vinv): t = [−1, τ₁, …, τ_n] with τ the right Radau points (roots of
    P_n − P_(n−1), τ_n = 1); S[j, k] = ∫_(−1)^(t_j) L_k, L_k the Lagrange basis on τ placed in
    column k (column and row 0, the initial point, are zero); vinv maps the n + 1 values at t to
    Chebyshev coefficients (degree n).
    """
    e = np.zeros(n + 1)
    e[n], e[n - 1] = 1.0, -1.0
    tau = np.sort(L.legroots(e).real)
    for _ in range(3):  # polish the roots (companion-matrix eigenvalues lose a few digits)
        tau = tau - L.legval(tau, e) / np.where(tau < 1, L.legval(tau, L.legder(e)), np.inf)
    tau[-1] = 1.0
    t = np.concatenate([[-1.0], tau])
    basis = np.linalg.inv(L.legvander(tau, n - 1))  # column k: Legendre coefficients of L_k
    S = np.zeros((n + 1, n + 1))
    S[:, 1:] = L.legval(t, L.legint(basis, lbnd=-1, axis=0)).T
    S[0] = 0.0
    vinv = np.linalg.inv(C.chebvander(t, n))
    return t, S, vinv


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


def _frobenius_y0(s, b, c, v_lo=-np.inf):
    """Where the Frobenius initial value is taken.

    At most 1e-3 c / (1 + s + b): y ∝ c keeps the cancellation between the connection formula's
    two terms (of order y/c) at 1e-3.  Below it, down towards the smallest point v_lo (saving the
    march back to it when the points lie just below), by at most ``FROBENIUS_SLIDE`` in log y and
    only as far as ℓ rises by at most 1 on the way back up (at rate 2√(−D) ≤ 1 − c): marching
    inward across the left tail is unstable (module docstring), and even where it is not (small κ)
    its panels' truncation errors would land in the bulk (5e-10 at γ = 0.3255, κ = 10⁻³ from
    y = 1e-300, instead of in the tail).
    """
    v_max = np.log(1e-3 * min(1.0, c) / (1.0 + s + b))
    slide = min(FROBENIUS_SLIDE, 1.0 / (1.0 - c))
    return float(np.exp(min(v_max, max(v_lo, v_max - slide))))


def _initial_frobenius(s, b, c, v_lo=-np.inf):
    """(v0, Re h, ℓ) at y0 = ``_frobenius_y0`` from the connection formula (0 < c < 1, c not near 0)."""
    y0 = _frobenius_y0(s, b, c, v_lo)
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


def _panel(v_ic, width, g0, l0, edges, forward, work):
    """Solve one panel [v_ic, v_ic + width] (forward) or [v_ic − width, v_ic] by Radau collocation.

    ``edges`` = (y₋, y₊), the roots of p²/4 − b y.  Returns (converged, v nodes, g, ℓ) in the
    direction of the march (the initial point first).
    """
    t, S, _ = _radau(N)
    sign = 1.0 if forward else -1.0
    v = v_ic + sign * (t + 1) * (0.5 * width)
    sl = S * (sign * 0.5 * width)
    y = np.exp(v)
    # −D = p²/4 − b y in factored form (no cancellation between the two terms of order y²)
    neg_d = 0.25 * (y - edges[0]) * (y - edges[1])
    force = 0.5 * y + neg_d  # g' = force − g² + e^(2ℓ)
    # initial guess: the quasi-static root of g² = −D (0 in the bulk, where the roots of
    # h² − p h + b y are complex; ±√(−D) in the tails, the sign on the initial value's side),
    # shifted onto the initial value, with the deviation continued linearly at the equation's slope
    sq = np.sqrt(np.maximum(neg_d, 0.0))
    side = 1.0 if g0 >= 0 else -1.0
    q = side * sq
    y0 = y[0]
    dq0 = side * y0 * (y0 - 0.5 * (edges[0] + edges[1])) / (4 * sq[0]) if sq[0] > 0 else 0.0
    dg0 = force[0] - g0 * g0 + np.exp(2 * l0)
    g = q + (g0 - q[0]) + (dg0 - dq0) * (v - v[0])
    eye = _eye(N + 1)
    lu = piv = None
    for _ in range(MAX_NEWTON):
        work["newton"] += 1
        e2 = np.exp(2 * (l0 - 2 * (sl @ g)))
        resid = g - (g0 + sl @ (force - g * g + e2))
        if lu is None:
            jac = sl * (2 * g)
            jac += eye
            jac += (sl * (4 * e2)) @ sl
            lu, piv, info = dgetrf(jac)
            if info != 0:
                break
        d, _ = dgetrs(lu, piv, resid)
        g = g - d
        dmax = np.abs(d).max()
        if not dmax < np.inf:
            break
        scale = 1 + np.abs(g).max()
        # converged: Newton's error after a step is of order dmax² (relative), ~1e-16 here
        if dmax <= NEWTON_TOL * scale:
            return True, v, g, l0 - 2 * (sl @ g)
        # once the steps are small, keep the factorisation (chord steps: cheaper, and they still
        # contract by a factor of order the step); refactorise while they are large
        if dmax > CHORD * scale:
            lu = None
    return False, v, g, None


def _store(coef, forward, size):
    """A panel's values on the fewest Lobatto points (ascending in v) that carry its series.

    ``coef``: Chebyshev coefficients in the panel's local coordinate (which runs against v when
    the march goes backward).  The trailing coefficients below 1e-15 of ``size`` are dropped (an
    error of at most N times that), so the interpolation at the points costs in proportion to the
    degree actually used.
    """
    if not forward:
        coef = coef * (-1.0) ** np.arange(coef.size)
    big = np.nonzero(np.abs(coef) > 1e-15 * (1.0 + size))[0]
    k = max(int(big[-1]) + 1 if big.size else 1, 4)
    return _cheb_values(k) @ coef[:k]


@cache
def _cheb_values(k: int) -> np.ndarray:
    """T_j at k Lobatto points, j < k: Chebyshev coefficients -> values on that grid."""
    return C.chebvander(_lobatto(k), k - 1)


def _assess(cl, size):
    """Truncation error of a panel and the factor for the next width.

    ``cl``: Chebyshev coefficients of ℓ on the panel; ``size``: the scale of its rounding
    (max |ℓ| + width · max |g|).  For a function analytic in the Bernstein ellipse of parameter ρ
    the coefficients fall like ρ^(−k), and ρ scales like 1/width; so ρ is fitted on the
    coefficients above the rounding floor and the width that would bring the last coefficient to
    ``TOL`` is proposed (at most ×``GROW_MAX``, at least ×1/4, with a safety factor).  Only ℓ is
    judged, not g: in the bulk g carries an oscillation of frequency ~κ at rounding amplitude that
    the panels need not resolve (it integrates away in ℓ = ℓ₀ − 2∫g).
    """
    c = np.abs(cl)
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


def _march(v_ic, g_ic, l_ic, edges, b, v_lo, v_hi, work, stop_ell=None, extend=None):
    """Panels (v_left, v_right, ℓ at Lobatto points) covering [v_lo, v_hi] ∪ {v_ic}, or less/more.

    Each direction stops early once ℓ < ``stop_ell`` and falls in that direction (the density is
    negligible beyond), or, if ``extend`` = (for v_lo, for v_hi) gives it a number, goes on past
    the end of the range until ℓ has fallen that much below its value there (the integral of e^ℓ
    beyond is then negligible relative to its value there).
    """
    vinv = _radau(N)[2]
    panels = []
    extend = extend or (None, None)
    for forward, v_end, ext in ((True, v_hi, extend[1]), (False, v_lo, extend[0])):
        sign = 1.0 if forward else -1.0
        v0, g0, l0, width = v_ic, g_ic, l_ic, L0 / np.sqrt(1 + 4 * b)
        l_low = l_ic  # the lowest ℓ on the path so far (for RISE_MAX)
        l_end = None  # ℓ at the end of the range, once passed (for ``extend``)
        while True:
            falling = sign * g0 > 0  # ℓ' = −2g: ℓ falls in the march direction
            if stop_ell is not None and l0 < stop_ell and falling:
                break
            if sign * (v0 - v_end) >= 0:
                if ext is None or (l_end is not None and l0 < l_end - ext and falling):
                    break
                if l_end is None:
                    l_end = l0
            work["panels_tried"] += 1
            if work["panels_tried"] > MAX_PANELS:
                raise MarchFailed(f"more than {MAX_PANELS} panels")
            if ext is None or l_end is None:
                # the last panel ends at the end of the range (a hair beyond it)
                width = min(width, sign * (v_end - v0) * (1 + 1e-12) + 1e-12)
            ok, v, g, ell = _panel(v0, width, g0, l0, edges, forward, work)
            tail, grow = np.inf, 0.25
            if ok:
                cl = vinv @ ell
                tail, grow = _assess(cl, np.abs(ell).max() + width * np.abs(g).max())
            if tail > TOL:
                width *= min(grow, 0.7)
                if width < MIN_WIDTH:
                    raise MarchFailed(f"panel width below {MIN_WIDTH} at v = {v0:.6g}")
                continue
            low = np.minimum.accumulate(np.concatenate([[l_low], ell]))
            rise = float(np.max(ell - low[1:]))
            if rise > RISE_MAX:
                raise MarchFailed(f"ℓ rose by {rise:.3g} in the march direction (unstable) at v = {v0:.6g}")
            l_low = float(low[-1])
            panels.append((min(v[0], v[-1]), max(v[0], v[-1]), _store(cl, forward, np.abs(ell).max())))
            work["panels"] += 1
            v0, g0, l0 = v[-1], g[-1], ell[-1]
            width *= grow
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


class Solution:
    """ℓ(v) from one march: Chebyshev panels covering [``v_lo``, ``v_hi``] (v = log y).

    The density of v is e^ℓ/(π b) and that of x = y/s is (s/(π b)) e^(ℓ − v).
    """

    def __init__(self, panels, s: float, b: float, work: dict):
        order = np.argsort([p_[0] for p_ in panels])
        self.panels = [panels[i] for i in order]
        self.s, self.b, self.work = s, b, work
        self.v_lo = self.panels[0][0] if panels else np.nan
        self.v_hi = self.panels[-1][1] if panels else np.nan

    def ell(self, v) -> np.ndarray:
        """ℓ at v (v inside [v_lo, v_hi]; beyond, the end panels' polynomials are clipped)."""
        return _ell_at(np.asarray(v, dtype=float), self.panels)

    def logpdf(self, x) -> np.ndarray:
        """log ρ(x) of the direct-form law; raises MarchFailed if a value is not finite."""
        v = np.log(np.asarray(x, dtype=float)) + np.log(self.s)  # not log(s x): s x may underflow
        out = np.log(self.s / (np.pi * self.b)) + self.ell(v) - v
        if not np.all(np.isfinite(out)):
            raise MarchFailed("non-finite result")
        return out


def march(s: float, b: float, v_lo: float, v_hi: float, *, stop_ell=None, extend=None, info=None) -> Solution:
    """Solve for ℓ on [v_lo, v_hi] (v = log y) for s = κ/(2γ) > b = κ/2 > 0.

    ``stop_ell`` and ``extend`` change where each direction stops (see ``_march``).  Raises
    :class:`MarchFailed` when the march cannot certify its result.  If ``info`` is a dict, the
    march's work is stored in it: ``panels`` (accepted), ``panels_tried`` and ``newton`` (Newton
    steps).
    """
    c = 1.0 + b - s
    edges = ((np.sqrt(s) - np.sqrt(b)) ** 2, (np.sqrt(s) + np.sqrt(b)) ** 2)
    work = {"panels": 0, "panels_tried": 0, "newton": 0}
    v_hi = max(v_hi, v_lo + 1e-3)  # at least one panel, even for one point at the initial value
    try:
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            if c > C_FROBENIUS:
                v_ic, h_ic, ell_ic = _initial_frobenius(s, b, c, v_lo)
            else:
                v_ic, h_ic, ell_ic = _initial_quadrature(s, b, c)
            # g = Re h − p/2, p = s − b − y
            g_ic = h_ic - 0.5 * (s - b - np.exp(v_ic))
            if not (np.isfinite(g_ic) and np.isfinite(ell_ic)):
                raise MarchFailed("non-finite initial value")
            g_ic, ell_ic = _settle(v_ic, g_ic, ell_ic, edges, b, work)
            panels = _march(v_ic, g_ic, ell_ic, edges, b, v_lo, v_hi, work, stop_ell, extend)
    finally:
        if info is not None:
            info.update(work)
    return Solution(panels, s, b, work)


def _settle(v_ic, g_ic, ell_ic, edges, b, work):
    """Put an initial value in the bulk onto the solution's slow manifold.

    In the bulk the linearised system oscillates at ω = 2 e^ℓ (of order κ): an initial value off
    the non-oscillatory solution by δℓ starts an oscillation of amplitude ω δℓ in g, which the
    panels would then have to resolve (widths ~ N/ω).  The initial ℓ is a sum of terms of order
    κ log κ, so δℓ ~ 1e-9 at κ = 10⁶.  Radau collocation damps an unresolved oscillation within
    one panel (its stability function vanishes at infinity), so one panel of width ≫ N/ω forward
    and one back return the initial point with the oscillation removed; the slow part of δℓ (a
    constant offset in log ρ) remains.  Nothing to do where ω is small.
    """
    width = L0 / np.sqrt(1 + 4 * b)
    # narrower panels when Newton fails (a larger δℓ, κ ≳ 10⁷), as long as they stay ≫ N/ω
    while 2 * np.exp(ell_ic) * width >= 8 * N:
        ok, v, g, ell = _panel(v_ic, width, g_ic, ell_ic, edges, True, work)
        if ok:
            ok, v, g, ell = _panel(v[-1], width, g[-1], ell[-1], edges, False, work)
        if ok:
            return g[-1], ell[-1]
        width /= 4
    if 2 * np.exp(ell_ic) * L0 / np.sqrt(1 + 4 * b) < 8 * N:
        return g_ic, ell_ic  # nothing to settle: ω is small
    raise MarchFailed("initial value could not be settled")


def _ell_at(v, panels):
    """ℓ at the points v from the panels' nodal values.

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
    tn = _lobatto(values.size)
    w = _bary_weights(values.size)
    with np.errstate(divide="ignore", invalid="ignore"):
        num_den = np.reciprocal(t[:, None] - tn) @ np.stack([w * values, w], 1)
        val = num_den[:, 0] / num_den[:, 1]
    hit = ~np.isfinite(val)  # t on a node (the panel ends, at least)
    if hit.any():
        val[hit] = values[np.argmin(np.abs(t[hit, None] - tn), 1)]
    return val


def htmp_logpdf_march(x, s: float, b: float, info: dict | None = None):
    """log ρ(x) of the direct-form HTMP law (s = κ/(2γ), b = κ/2) for a 1-d array 0 < x < ∞.

    ``log ρ = log(s / (π b)) + ℓ − v`` with ``v = log(s x)``: one march over the points' range.
    Raises :class:`MarchFailed` when the march cannot certify its result; ``info`` as in
    :func:`march`.
    """
    v = np.log(np.asarray(x, dtype=float)) + np.log(s)
    return march(s, b, float(v.min()), float(v.max()), info=info).logpdf(x)
