"""Slow 40-digit mpmath reference for the HTMP law (used by ``tests/test_laws.py`` only).

The standard (mean-1) HTMP(γ, κ) density of Hodgkinson, Wang & Mahoney (arXiv 2506.03470) is

    ρ(x) = s y^a e^(−y) / (Γ(κ/2 + 1) Γ(κ/(2γ)) |U(κ/2, −a, −y)|²),
    s = κ/(2γ), b = κ/2, a = s − b − 1, y = s x.

Tricomi's U is evaluated by ``mpmath.hyperu`` at ``−y + i·y·10^(−2 dps)``, i.e. just above its branch cut
(the modulus is the same on both sides, which ``test_laws`` checks once).
"""

from __future__ import annotations

import mpmath as mp

DPS = 40


def hyperu_cut(b: float, c: float, y: float, side: int = 1, dps: int = DPS) -> mp.mpc:
    """U(b, c, −y ± i0) with ``dps`` digits; ``side`` = +1 (above the cut) or −1 (below)."""
    with mp.workdps(dps):
        # an offset relative to y: an absolute one (10^(−2 dps)) dwarfs y below ~1e-80 and then
        # evaluates U off the cut (it matters where U ~ A + B z^(1−c) with 1 − c small)
        z = mp.mpc(-mp.mpf(y), side * mp.mpf(y) * mp.mpf(10) ** (-2 * dps))
        return mp.hyperu(mp.mpf(b), mp.mpf(c), z, maxterms=10**6)


def htmp_logpdf_ref(x: float, gamma: float, kappa: float, dps: int = DPS) -> float:
    """log ρ(x) of the standard direct-form HTMP(γ, κ) law with ``dps`` digits."""
    with mp.workdps(dps):
        g, k, xx = mp.mpf(gamma), mp.mpf(kappa), mp.mpf(x)
        s = k / (2 * g)
        b = k / 2
        a = s - b - 1
        y = s * xx
        u = hyperu_cut(b, -a, y, dps=dps)
        val = mp.log(s) + a * mp.log(y) - y - mp.loggamma(b + 1) - mp.loggamma(s) - 2 * mp.log(abs(u))
        return float(val)


def _trace(
    t: complex, h: float, y: float, s: float, b: float, ref: float, drop: float, bend: complex
) -> list:
    """Vertices of the steepest-descent path of Re φ, φ = y t + s log t − b log(1 + t), from t on,
    until it reaches 0 or goes far out (Re φ having fallen by ``drop`` below ``ref``)."""
    import numpy as np

    def phi(t_):
        return y * t_ + s * np.log(t_) - b * np.log1p(t_)

    far_r = 10.0 * (abs(t) + 1.0 + drop / y)
    pts = [t]
    for _ in range(20000):
        gr = y + s / t - b / (1 + t)
        # Re φ falls by about 2 per step, the step growing at most 1.5-fold (a near-degenerate
        # saddle, close to the edges, bends the path within a width); once the integrand is
        # negligible the path is only followed (to 0 or far out), never cutting past t = −1
        below = ref - phi(t).real > drop
        h = min(np.inf if below else 2.0 / abs(gr), 1.5 * h, 0.3 * abs(t), 0.3 * abs(1 + t))
        t = t - h * np.conj(gr) / abs(gr) * bend
        pts.append(t)
        if below and (abs(t) < 1e-8 or abs(t) > far_r):
            break
    return pts


def _descent_path(t0: complex, y: float, s: float, b: float, drop: float, variant: int) -> list:
    """Vertices of the steepest-descent path of Re φ through the saddle t0, from 0 to far out.

    ``variant`` = 1 bends the path off it by a few degrees (a Cauchy check)."""
    import numpy as np

    d2 = -s / t0**2 + b / (1 + t0) ** 2
    w = 1 / np.sqrt(abs(d2))
    alpha = (np.pi - np.angle(d2)) / 2  # φ'' e^(2iα) < 0: the two descent directions ±e^(iα)
    ref = (y * t0 + s * np.log(t0) - b * np.log1p(t0)).real
    bend = np.exp(1j * 0.15 * variant)
    a_, b_ = (
        _trace(t0 + sg * 0.05 * w * np.exp(1j * alpha), 0.05 * w, y, s, b, ref, drop, bend) for sg in (1, -1)
    )
    # the branch that ends near 0 comes first, reversed
    if abs(a_[-1]) > abs(b_[-1]):
        a_, b_ = b_, a_
    return [0.0] + a_[::-1] + [t0] + b_


def htmp_logpdf_contour_ref(x: float, gamma: float, kappa: float, dps: int = DPS, variant: int = 0):
    """log ρ(x) from mpmath quadrature of U's Laplace integral on a steepest-descent-like contour.

    For large κ, where ``mpmath.hyperu`` does not converge (κ ≳ 10³).  With s = κ/(2γ), b = κ/2,
    y = s x, Kummer's transformation and DLMF 13.4.4 give, on the lower side of the cut,

        |U(b, −a, −y)| = y^(s−b) / Γ(s) · |I|,   I = ∫_C e^(φ(t)) dt / t,
        φ(t) = y t + s log t − b log(1 + t),

    for any contour C from 0 to ∞ in the left half plane that passes above t = −1 (principal
    logarithms, i.e. the upper side of the negative axis).  The contour goes through the
    stationary points of φ (roots of y t² + (y + s − b) t + s = 0), so that the integrand does
    not cancel:

    * bulk (complex roots): the ray from 0 through the upper root;
    * right tail (two roots in (−1, 0)): along the axis through the maximum of Re φ to the minimum,
      then up and left (angle 5π/8, where Re φ falls);
    * left tail (two roots below −1): over t = −1 to the root nearer −1, then along the axis
      through the far root (where Re φ has its maximum) to −∞.

    ``mpmath.quad`` (tanh-sinh, its error estimate returned) integrates each piece with the
    stationary points and multiples of their widths as breakpoints, at ``dps`` digits plus the
    digits the size of φ costs.  ``variant`` = 1 moves the free parts of the contour (the ray
    angle, the detour over −1): Cauchy's theorem makes the value the same, which checks it.
    Returns (log ρ, estimated error of log ρ).
    """
    import numpy as np

    extra = int(np.log10(1.0 + kappa / gamma)) + 15
    with mp.workdps(dps + extra):
        g, k, xx = mp.mpf(gamma), mp.mpf(kappa), mp.mpf(x)
        s, b = k / (2 * g), k / 2
        a = s - b - 1
        y = s * xx
        disc = (y + s - b) ** 2 - 4 * y * s
        roots = [(-(y + s - b) + sg * mp.sqrt(mp.mpc(disc))) / (2 * y) for sg in (1, -1)]

        def phi(t):
            return y * t + s * mp.log(t) - b * mp.log(1 + t)

        def width(t):
            return 1 / mp.sqrt(abs(-s / t**2 + b / (1 + t) ** 2))

        def around(t0, direction, lo_, hi_):
            # breakpoints t0 + direction·w·2^j inside the segment [lo_, hi_] of the parameter
            w = width(t0)
            pts = []
            for j in range(0, 40):
                for sg in (-1, 1):
                    d = sg * w * 2**j
                    if lo_ < d < hi_:
                        pts.append(d)
            return sorted(pts)

        if disc < 0:
            # the steepest-descent path of Re φ through the upper saddle, traced in double precision
            # (its vertices need not be exact: any path from 0 to ∞ above −1 gives the same value)
            t_star = roots[0] if mp.im(roots[0]) > 0 else roots[1]
            ref = mp.re(phi(t_star))
            path = _descent_path(complex(t_star), float(y), float(s), float(b), (dps + 10) * 2.303, variant)
            path = [mp.mpf(0)] + [mp.mpc(p_) for p_ in path[1:-1]] + [mp.mpc(path[-1])]
        else:
            r1, r2 = sorted(mp.re(r) for r in roots)  # r1 < r2 < 0
            if r1 > -1:  # right tail: maximum of Re φ on the axis at r2 (nearer 0), minimum at r1
                t_max, t_min = r2, r1
                ref = mp.re(phi(t_max))
                w = width(t_max)
                axis = sorted(
                    {mp.mpf(0), t_min}
                    | {
                        t_max + sg * w * 2**j
                        for j in range(40)
                        for sg in (-1, 1)
                        if t_min < t_max + sg * w * 2**j < 0
                    }
                    | {t_max}
                )[::-1]
                alpha = mp.pi * (mp.mpf(5) / 8 + (mp.mpf(1) / 16 if variant else 0))
                ray_len = (abs(ref - mp.re(phi(t_min))) + 200 + 3 * dps) / (y * abs(mp.cos(alpha))) + 2
                wm = width(t_min)
                ray = [t_min + mp.expj(alpha) * wm * 2**j for j in range(40) if wm * 2**j < ray_len]
                path = axis + ray + [t_min + mp.expj(alpha) * ray_len]
            else:  # left tail: from 0 down the descent path that ends at the root nearer −1 (r2),
                # where Re φ is least along the axis and greatest across it, then along the axis
                # through r1 (greatest along the axis) to −∞
                t_min, t_max = r2, r1
                ref = mp.re(phi(t_max))
                w0 = float(width(t_min))
                up = _trace(
                    complex(t_min) + 0.05j * w0,
                    0.05 * w0,
                    float(y),
                    float(s),
                    float(b),
                    float(mp.re(phi(t_min))),
                    (dps + 10) * 2.303,
                    np.exp(1j * 0.15 * variant),
                )
                w = width(t_max)
                far = t_max - (200 + 3 * dps) / y - 50 * w
                axis = sorted(
                    {t_min, t_max, far}
                    | {
                        t_max + sg * w * 2**j
                        for j in range(40)
                        for sg in (-1, 1)
                        if far < t_max + sg * w * 2**j < t_min
                    }
                )[::-1]
                path = [mp.mpf(0)] + [mp.mpc(p_) for p_ in up[::-1][1:]] + axis
        val, err = mp.quad(lambda t: mp.exp(phi(t) - ref) / t, path, error=True, maxdegree=12)
        log_i = ref + mp.log(abs(val))
        log_u = (s - b) * mp.log(y) - mp.loggamma(s) + log_i
        lp = mp.log(s) + a * mp.log(y) - y - mp.loggamma(b + 1) - mp.loggamma(s) - 2 * log_u
        return float(lp), float(2 * err / abs(val))
