"""Time ``fit_htmp`` (MLE + ensemble-bootstrap interval) at n = 1000, 2000 and 10 000 eigenvalues.

Run from the repository root::

    PYTHONPATH=src python benchmarks/bench_fit.py [--ns 1000 2000 10000] [--repeats 5]

Prints, per (n, gamma, kappa, form), the median wall time of a full fit with its 95% interval and of the
point fit alone (``ci=False``), and the fitted kappa with its interval; then the median per n. The spectra
are ensemble draws passed through the float64 floor (:func:`htmu.ensembles.through_eigensolver`). The fit
uses the machine's cores (bootstrap replicates are drawn in threads), as a user's call does; on a busy
machine the wall time also counts waiting for the CPU, so the load average is printed too.
Targets (issue 12): a median of at most 0.5 s at n = 1000 and at most 5 s at n = 10 000.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time

import numpy as np

from htmu.ensembles import sample_htmp_ensemble, through_eigensolver
from htmu.fit.estimate import fit_htmp, forget_point_fits
from htmu.laws import forget_march

CASES = [(0.3255, 5.5, "direct"), (0.3255, 1.9, "inverse"), (0.5, 0.1, "direct"), (0.1, 20.0, "direct")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ns", type=int, nargs="+", default=[1000, 2000, 10000])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    print(f"# command: PYTHONPATH=src python benchmarks/bench_fit.py {shlex.join(sys.argv[1:])}".rstrip())
    print(
        f"# repeats = {args.repeats}; times are medians over repeats (s), wall clock, {os.cpu_count()} CPUs"
    )
    print(
        f"{'n':>6} {'gamma':>7} {'kappa':>6} {'form':>8} {'fit+ci':>8} {'fit only':>9} {'kappa_hat':>10} {'ci':>22}"
    )
    for n in args.ns:
        per_n = []
        for gamma, kappa, form in CASES:
            t_ci, t_pt = [], []
            for _ in range(args.repeats):
                z = sample_htmp_ensemble(n, gamma, kappa, rng)
                x = through_eigensolver(z if form == "direct" else 1.0 / z, rng)
                forget_point_fits(), forget_march()  # each fit from scratch: no point stage or march reused
                t0 = time.perf_counter()
                r = fit_htmp(x, gamma, form=form, rng=rng)
                t_ci.append(time.perf_counter() - t0)
                forget_point_fits(), forget_march()
                t0 = time.perf_counter()
                fit_htmp(x, gamma, form=form, ci=False)
                t_pt.append(time.perf_counter() - t0)
            per_n += t_ci
            ci = f"({r.kappa_ci[0]:.3g}, {r.kappa_ci[1]:.3g})"
            print(
                f"{n:6d} {gamma:7.4g} {kappa:6.3g} {form:>8} {np.median(t_ci):8.3f} {np.median(t_pt):9.3f} "
                f"{r.kappa:10.4g} {ci:>22}  [{r.status}]",
                flush=True,
            )
        print(
            f"# n = {n}: median fit with interval {np.median(per_n):.3f} s (max {np.max(per_n):.3f})",
            flush=True,
        )
    print(f"# load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
