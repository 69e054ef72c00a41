"""Coverage and bias of the kappa estimators on draws with known kappa (high-temperature ensemble).

Run from the repository root::

    PYTHONPATH=src python benchmarks/coverage_study.py [--gammas 0.3255 0.5] [--kappas 1 5.5 20]
        [--ns 500 1000] [--draws 40] [--form direct] [--method mle] [--seed 0]

For each (gamma, kappa, n) it draws ``draws`` spectra from :func:`htmu.ensembles.sample_htmp_ensemble`
(scaled by 2 in the direct form, or 2/x in the inverse form), fits them with
:func:`htmu.estimate.fit_htmp` (interval included) and prints: the coverage of the nominal 95%
interval with its 95% Clopper-Pearson band, the mean estimate, the relative bias of kappa_hat and of
kappa_debiased, the spread of log kappa_hat across draws against the mean interval half-width / 1.96
(the bootstrap's estimate of that spread), and the median fit time. Under correct coverage the number
of hits is Binomial(draws, 0.95); the last column gives the two-sided binomial p-value of the observed
count against 0.95.
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import time

import numpy as np
from scipy import stats

from htmu.ensembles import sample_htmp_ensemble
from htmu.estimate import fit_htmp


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gammas", type=float, nargs="+", default=[0.3255, 0.5])
    ap.add_argument("--kappas", type=float, nargs="+", default=[1.0, 5.5, 20.0])
    ap.add_argument("--ns", type=int, nargs="+", default=[500, 1000])
    ap.add_argument("--draws", type=int, default=40)
    ap.add_argument("--form", choices=["direct", "inverse"], default="direct")
    ap.add_argument("--method", choices=["mle", "moments", "ks", "stieltjes"], default="mle")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    print(
        f"# command: PYTHONPATH=src python benchmarks/coverage_study.py {shlex.join(sys.argv[1:])}".rstrip()
    )
    print(
        f"# form={args.form} method={args.method} draws={args.draws} seed={args.seed}; nominal coverage 0.95"
    )
    hdr = (
        f"{'gamma':>7} {'kappa':>6} {'n':>5} {'cover':>6} {'CP 95% band':>14} {'mean k^':>8} "
        f"{'bias k^':>8} {'bias deb':>8} {'sd logk':>8} {'hw/1.96':>8} {'t med':>6} {'fails':>5} {'p binom':>8}"
    )
    print(hdr)
    tot_hits = tot = 0
    for gamma in args.gammas:
        for kappa in args.kappas:
            for n in args.ns:
                hits, est, deb, half, times, fails = 0, [], [], [], [], 0
                for _ in range(args.draws):
                    z = sample_htmp_ensemble(n, gamma, kappa, rng)
                    x = 2.0 * z if args.form == "direct" else 2.0 / z
                    t0 = time.perf_counter()
                    r = fit_htmp(x, gamma, form=args.form, method=args.method, rng=rng)
                    times.append(time.perf_counter() - t0)
                    if not r.status.startswith("ok"):
                        # a failed fit or interval counts as a miss: coverage is of the procedure
                        fails += 1
                        continue
                    hits += r.kappa_ci[0] <= kappa <= r.kappa_ci[1]
                    est.append(r.kappa)
                    deb.append(r.kappa_debiased)
                    half.append(0.5 * math.log(r.kappa_ci[1] / r.kappa_ci[0]))
                d = args.draws
                lo = stats.beta.ppf(0.025, hits, d - hits + 1) if hits > 0 else 0.0
                hi = stats.beta.ppf(0.975, hits + 1, d - hits) if hits < d else 1.0
                p = stats.binomtest(hits, d, 0.95).pvalue
                est_a, deb_a = np.array(est), np.array(deb)
                print(
                    f"{gamma:7.4g} {kappa:6.3g} {n:5d} {hits / d:6.3f} {f'[{lo:.2f}, {hi:.2f}]':>14} "
                    f"{est_a.mean():8.4g} {est_a.mean() / kappa - 1:+8.3f} {deb_a.mean() / kappa - 1:+8.3f} "
                    f"{np.std(np.log(est_a), ddof=1):8.4f} {np.mean(half) / 1.96:8.4f} "
                    f"{np.median(times):6.2f} {fails:5d} {p:8.3f}",
                    flush=True,
                )
                tot_hits += hits
                tot += d
    p = stats.binomtest(tot_hits, tot, 0.95).pvalue
    print(f"# pooled coverage {tot_hits}/{tot} = {tot_hits / tot:.3f} (binomial p vs 0.95: {p:.3f})")


if __name__ == "__main__":
    main()
