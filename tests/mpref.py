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
