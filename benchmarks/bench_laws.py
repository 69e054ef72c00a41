"""Speed of the vectorised HTMP log-density against per-point mpmath.hyperu.

For each (γ, κ) it times ``htmu.laws.htmp_logpdf`` on 1000 points spread over the bulk and tails
(one call, all of its setup included: there is no cache across calls, so every call is like a
fresh (γ, κ) in a likelihood optimiser).  Such a call takes the amortised path: one Riccati march
along log y (``htmu._riccati``), whose work (panels accepted / tried, Newton steps: independent of
the machine's load, returned by the march through its ``info`` argument) is printed too.  The per-point ``mpmath.hyperu`` evaluation of the same density
at mp.dps = 15 is timed on 8 of the points (mean per point).

On this project's shared 2-core machines the speed of the same code moves by up to 2× from one
minute to the next, so the two sides are measured in interleaved rounds (one htmu call, shortest
of 3, then one mpmath pass) and the speed-up is the median over rounds of the ratio within a
round; the µs columns are the shortest over the rounds.  The table also gives the per-point
quadrature (``htmu._hyperu``) on the same 1000 points, and a call with a single point (the
quadrature inside its domain, κ ≤ ``KAPPA_QUAD`` and κ/(2γ) ≤ ``S_QUAD``; the march beyond).
Then the march alone at κ = 10⁴–10⁶ (mpmath does not converge there), and the one-point tail
calls of a censored likelihood (``htmp_logcdf`` / ``htmp_logsf``).  mpmath failures (hypsum
non-convergence at large κ) are counted and timed as they happen, and so are the
``HTMPAccuracyWarning``s of the timed ``htmp_logpdf`` calls.

Reproduce with::

    PYTHONPATH=src python benchmarks/bench_laws.py
"""

from __future__ import annotations

import time
import warnings

import mpmath as mp
import numpy as np

import htmu._riccati as ric
import htmu.laws as laws
from htmu.laws import forget_march, htmp_logcdf, htmp_logpdf, htmp_logsf

CASES = [
    (0.1, 50.0),
    (0.5, 2.0),
    (0.3255, 1e-3),
    (0.3255, 1.9),
    (0.3255, 5.5),
    (0.3255, 100.0),
    (0.3255, 1000.0),
]
#: κ beyond mpmath's reach: the march alone
LARGE_KAPPA = [(0.3255, 1e4), (0.3255, 1e5), (0.3255, 1e6)]
N_FAST = 1000
N_MPMATH = 8
#: interleaved rounds of (htmu call, mpmath pass) per case
ROUNDS = 7


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


def time_call(x: np.ndarray, gamma: float, kappa: float, repeats: int = 7, func=htmp_logpdf) -> float:
    """Shortest wall time of ``repeats`` calls of ``func`` (``htmp_logpdf``), in µs per point, each from scratch
    (the law would otherwise reuse the previous call's march at the same (γ, κ))."""
    times = []
    for _ in range(repeats):
        forget_march()
        t0 = time.perf_counter()
        func(x, gamma, kappa)
        times.append(time.perf_counter() - t0)
    return float(np.min(times)) / x.size * 1e6


def quadrature(x: np.ndarray, gamma: float, kappa: float) -> np.ndarray:
    """The per-point quadrature on all the points (``htmu._hyperu``)."""
    s, b = kappa / (2 * gamma), kappa / 2
    return laws._logpdf_quadrature(x, np.full(x.shape, s), np.full(x.shape, b))[0]


def time_mpmath(sub: np.ndarray, gamma: float, kappa: float) -> tuple[float, int]:
    """One pass of per-point mpmath over ``sub``: mean µs per point, and the failures."""
    fails = 0
    t0 = time.perf_counter()
    with mp.workdps(15):
        for xi in sub:
            try:
                mp_logpdf_point(float(xi), gamma, kappa)
            except (ValueError, mp.libmp.NoConvergence):
                fails += 1
    return (time.perf_counter() - t0) / sub.size * 1e6, fails


#: κ for the one-point tail calls of a censored likelihood (γ = 0.3255)
TAIL_KAPPAS = [1e-5, 1e-3, 0.1, 5.5, 1e3]


def tail_calls() -> None:
    """Per-call time of htmp_logcdf / htmp_logsf at ONE point deep in a tail, a new κ each time.

    No per-(γ, κ) table is built by these calls.  Left: y = s x = 1e-30 and 1e-6 (the phase of
    U in closed form).  Right: y = 3 (y₊ + 1) (the tail march) and y = 10⁴ (s + b + 1) (U's asymptotic
    series, Gauss–Laguerre).  Shortest of 20 calls, in µs.
    """
    gamma = 0.3255
    print("one tail point per call (gamma = 0.3255), us per call, shortest of 20:")
    print(
        f"{'kappa':>8} {'logcdf y=1e-30':>15} {'logcdf y=1e-6':>14} {'logsf y=3(y+ +1)':>17} {'logsf y=1e4(s+b+1)':>19}"
    )
    for kappa in TAIL_KAPPAS:
        s, b = kappa / (2 * gamma), kappa / 2
        y_hi = (np.sqrt(s) + np.sqrt(b)) ** 2
        cells = []
        for func, y in (
            (htmp_logcdf, 1e-30),
            (htmp_logcdf, 1e-6),
            (htmp_logsf, 3 * (y_hi + 1)),
            (htmp_logsf, 1e4 * (s + b + 1)),
        ):
            x = np.array([y / s])
            func(x, gamma, kappa)
            times = []
            for _ in range(20):
                forget_march()
                t0 = time.perf_counter()
                func(x, gamma, kappa)
                times.append(time.perf_counter() - t0)
            cells.append(min(times) * 1e6)
        print(f"{kappa:8.4g} {cells[0]:15.0f} {cells[1]:14.0f} {cells[2]:17.0f} {cells[3]:19.0f}")


def main() -> None:
    rng = np.random.default_rng(0)
    # warm the Gauss–Legendre node cache (up to 1024 nodes: ~1 s, once per process)
    from htmu._hyperu import LEVELS, _gauss_legendre

    for n in LEVELS:
        _gauss_legendre(n)
    rows = []
    for gamma, kappa in CASES:
        x = points(gamma, N_FAST, rng)
        sub = x[:: x.size // N_MPMATH][:N_MPMATH]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", laws.HTMPAccuracyWarning)
            htmp_logpdf(x, gamma, kappa)  # warm-up
            work = {}
            ric.htmp_logpdf_march(x, kappa / (2 * gamma), kappa / 2, info=work)
            # interleaved rounds: one htmu call (shortest of 3) and one mpmath pass per round, so
            # that both sides of each ratio see the same state of a shared machine
            fast, slow, ratios = [], [], []
            for _ in range(ROUNDS if kappa < 500 else 1):
                f_us = time_call(x, gamma, kappa, repeats=3)
                s_us, fails = time_mpmath(sub, gamma, kappa)
                fast.append(f_us)
                slow.append(s_us)
                ratios.append(s_us / f_us)
            one_us = time_call(x[N_FAST // 2 : N_FAST // 2 + 1], gamma, kappa, repeats=5)
            direct_us = time_call(x, gamma, kappa, repeats=3, func=quadrature)
        unconfirmed = len(caught)
        march = f"{work['panels']}/{work['panels_tried']}/{work['newton']}"
        rows.append(
            (gamma, kappa, min(fast), direct_us, one_us, min(slow), float(np.median(ratios)), fails, sub.size)
            + (unconfirmed, march)
        )
    print(
        f"{'gamma':>7} {'kappa':>8} {'1000 pts us/pt':>14} {'march':>10} {'quadr. us/pt':>12} {'1 pt us':>9}"
        f" {'mpmath us/pt':>12} {'x 1000':>8} {'x 1 pt':>7}  mpmath fails  HTMPAccuracyWarnings"
    )
    for g, k, f, d, o, s, r, nf, ns, nw, mw in rows:
        print(
            f"{g:7.4g} {k:8.4g} {f:14.1f} {mw:>10} {d:12.1f} {o:9.0f} {s:12.0f} {r:8.1f} {s / o:7.1f}  "
            f"{nf}/{ns}{'':10}{nw}"
        )
    print("march: panels accepted / panels tried / Newton steps of the Riccati march (htmu._riccati)")
    print(
        f"us/pt: shortest over the rounds; x 1000: median over {ROUNDS} interleaved rounds (1 at kappa >= 500)"
        " of mpmath's time over htmu's in the same round"
    )
    speed = np.array([r[6] for r in rows])
    one = np.array([r[5] / r[4] for r in rows])
    print(
        f"1000 points: median speed-up {np.median(speed):.1f}x, worst {speed.min():.1f}x (targets: 1000x, 100x)"
    )
    print(f"1 point:     median speed-up {np.median(one):.1f}x, worst {one.min():.1f}x")
    # beyond κ = 10³ mpmath.hyperu does not converge (minutes per point): htmu alone
    print(
        f"{'gamma':>7} {'kappa':>8} {'1000 pts us/pt':>14} {'march':>10}   (no mpmath: hyperu does not converge)"
    )
    for gamma, kappa in LARGE_KAPPA:
        x = points(gamma, N_FAST, rng)
        work = {}
        ric.htmp_logpdf_march(x, kappa / (2 * gamma), kappa / 2, info=work)
        us = time_call(x, gamma, kappa, repeats=5)
        print(
            f"{gamma:7.4g} {kappa:8.4g} {us:14.1f} {work['panels']}/{work['panels_tried']}/{work['newton']:>4}"
        )
    tail_calls()
    print("reproduce: PYTHONPATH=src python benchmarks/bench_laws.py")


if __name__ == "__main__":
    main()
