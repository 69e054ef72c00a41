"""Time ``fit_htmp`` (MLE + ensemble-bootstrap interval) on 1000 eigenvalues, on one core.

Run from the repository root::

    PYTHONPATH=src python benchmarks/bench_fit.py [--n 1000] [--repeats 7]

Prints, per (gamma, kappa, form), the median wall time and CPU time (``time.process_time``, single
thread) of a full fit with its 95% interval, of the point fit alone (``ci=False``), and the fitted
kappa. On a shared machine the CPU time is the better measure of the one-core cost: wall time also
counts waiting for the CPU. The requirement is at most 2 s per fit with its interval on one core.
"""

from __future__ import annotations

import os

# One core: single-threaded BLAS/OpenMP, set before numpy is imported, and pinned to one CPU.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from htmu.ensembles import sample_htmp_ensemble  # noqa: E402
from htmu.estimate import fit_htmp  # noqa: E402

CASES = [(0.3255, 5.5, "direct"), (0.3255, 1.9, "inverse"), (0.5, 1.0, "direct"), (0.2, 20.0, "direct")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    rng = np.random.default_rng(args.seed)
    print(f"# command: PYTHONPATH=src python benchmarks/bench_fit.py {shlex.join(sys.argv[1:])}".rstrip())
    print(f"# n = {args.n}, repeats = {args.repeats}, one core; times are medians over repeats (s)")
    print(
        f"{'gamma':>7} {'kappa':>6} {'form':>8} {'fit+ci':>8} {'cpu':>6} {'fit only':>9} {'cpu':>6} "
        f"{'kappa_hat':>10} {'ci':>20}"
    )
    all_ci, all_cpu = [], []
    for gamma, kappa, form in CASES:
        t_ci, t_pt, c_ci, c_pt = [], [], [], []
        for _ in range(args.repeats):
            z = sample_htmp_ensemble(args.n, gamma, kappa, rng)
            x = z if form == "direct" else 1.0 / z
            t0, c0 = time.perf_counter(), time.process_time()
            r = fit_htmp(x, gamma, form=form, rng=rng)
            t_ci.append(time.perf_counter() - t0)
            c_ci.append(time.process_time() - c0)
            t0, c0 = time.perf_counter(), time.process_time()
            fit_htmp(x, gamma, form=form, ci=False)
            t_pt.append(time.perf_counter() - t0)
            c_pt.append(time.process_time() - c0)
        all_ci += t_ci
        all_cpu += c_ci
        ci = f"({r.kappa_ci[0]:.3g}, {r.kappa_ci[1]:.3g})"
        print(
            f"{gamma:7.4g} {kappa:6.3g} {form:>8} {np.median(t_ci):8.3f} {np.median(c_ci):6.3f} "
            f"{np.median(t_pt):9.3f} {np.median(c_pt):6.3f} "
            f"{r.kappa:10.4g} {ci:>20}  [{r.status}]"
        )
    print(
        f"# median over all cases, fit with interval: wall {np.median(all_ci):.3f} s (max {np.max(all_ci):.3f}), "
        f"CPU {np.median(all_cpu):.3f} s (max {np.max(all_cpu):.3f})"
    )
    print(f"# load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
