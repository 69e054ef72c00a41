"""Speed of the vectorised HTMP log-density against per-point mpmath.hyperu.

For each (γ, κ) it times ``htmu.laws.htmp_logpdf`` on 1000 points spread over the bulk and tails
(a fresh (γ, κ) per call, as in a likelihood optimiser; best of 3 repeats) and the per-point
``mpmath.hyperu`` evaluation of the same density at mp.dps = 15 on a subset of the points
(mean per point), then prints µs per point, the speed-up and its median and worst case.
mpmath failures (hypsum non-convergence at large κ) are counted and timed as they happen.

Reproduce with::

    PYTHONPATH=src python benchmarks/bench_laws.py
"""

from __future__ import annotations

import time

import mpmath as mp
import numpy as np

from htmu.laws import htmp_logpdf

CASES = [
    (0.1, 50.0),
    (0.5, 2.0),
    (0.3255, 1e-3),
    (0.3255, 1.9),
    (0.3255, 5.5),
    (0.3255, 100.0),
    (0.3255, 1000.0),
]
N_FAST = 1000
N_MPMATH = 8


def mp_logpdf_point(x: float, gamma: float, kappa: float) -> float:
    """The density through mpmath.hyperu at the current mp.dps (the naive per-point route)."""
    s = mp.mpf(kappa) / (2 * gamma)
    b = mp.mpf(kappa) / 2
    a = s - b - 1
    y = s * x
    u = mp.hyperu(b, -a, mp.mpc(-y, 0))
    return float(mp.log(s) + a * mp.log(y) - y - mp.loggamma(b + 1) - mp.loggamma(s) - 2 * mp.log(abs(u)))


def points(gamma: float, n: int, rng: np.random.Generator) -> np.ndarray:
    lo, hi = (1 - gamma**0.5) ** 2, (1 + gamma**0.5) ** 2
    return np.sort(rng.uniform(0.5 * lo, 1.2 * hi, n))


def main() -> None:
    rng = np.random.default_rng(0)
    htmp_logpdf(np.array([1.0]), 0.5, 2.0)  # warm caches (Gauss–Legendre nodes)
    rows = []
    for gamma, kappa in CASES:
        x = points(gamma, N_FAST, rng)
        best = np.inf
        for _ in range(3):
            t0 = time.perf_counter()
            htmp_logpdf(x, gamma, kappa)
            best = min(best, time.perf_counter() - t0)
        fast_us = best / x.size * 1e6
        sub = x[:: x.size // N_MPMATH][:N_MPMATH]
        fails = 0
        t0 = time.perf_counter()
        with mp.workdps(15):
            for xi in sub:
                try:
                    mp_logpdf_point(float(xi), gamma, kappa)
                except (ValueError, mp.libmp.NoConvergence):
                    fails += 1
        slow_us = (time.perf_counter() - t0) / sub.size * 1e6
        rows.append((gamma, kappa, fast_us, slow_us, slow_us / fast_us, fails, sub.size))
    print(
        f"{'gamma':>7} {'kappa':>8} {'htmp_logpdf us/pt':>18} {'mpmath us/pt':>13} {'speed-up':>9}  mpmath fails"
    )
    for g, k, f, s, r, nf, ns in rows:
        print(f"{g:7.4g} {k:8.4g} {f:18.1f} {s:13.0f} {r:9.1f}  {nf}/{ns}")
    speed = np.array([r[4] for r in rows])
    print(f"median speed-up {np.median(speed):.1f}x, worst {speed.min():.1f}x (targets: 1000x, 100x)")
    print("reproduce: PYTHONPATH=src python benchmarks/bench_laws.py")


if __name__ == "__main__":
    main()
