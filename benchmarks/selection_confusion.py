"""Confusion matrix of ``select_law`` on simulated spectra with known laws, and its time per call.

Run from the repository root::

    PYTHONPATH=src python benchmarks/selection_confusion.py [--draws 40] [--n 500] [--gamma 0.3255]

Truths (each ``draws`` spectra of n eigenvalues, aspect ratio gamma, through the float64 floor):

- MP: the real Wishart ensemble (:func:`htmu.ensembles.sample_htmp_ensemble` at kappa = inf, exact);
- MP+spikes: a spiked Wishart matrix with three spikes well above the BBP threshold
  (:func:`htmu.ensembles.sample_spiked_wishart`, population spikes 4, 6 and 9 times 1 + sqrt(gamma));
- HTMP-direct / HTMP-inverse: the high-temperature ensemble at kappa drawn log-uniformly in [0.3, 20]
  (so the phases vary), as z or 1/z.

Prints the confusion matrix (rows: truth, columns: selected law), the phases per truth, the coverage of the
kappa interval on the HTMP rows, and the median time of one ``select_law`` call with intervals at n = 1000.
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import time

import numpy as np
import pandas as pd

from htmu.ensembles import sample_htmp_ensemble, sample_spiked_wishart, through_eigensolver
from htmu.fit.selection import LAWS, select_law


def draw(truth: str, n: int, gamma: float, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    if truth == "MP":
        return sample_htmp_ensemble(n, gamma, np.inf, rng), math.inf
    if truth == "MP+spikes":
        edge = 1 + math.sqrt(gamma)
        return sample_spiked_wishart(n, gamma, [4 * edge, 6 * edge, 9 * edge], rng), math.inf
    kappa = float(np.exp(rng.uniform(math.log(0.3), math.log(20.0))))
    z = sample_htmp_ensemble(n, gamma, kappa, rng)
    return through_eigensolver(2.0 * z if truth == "HTMP-direct" else 2.0 / z, rng), kappa


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--draws", type=int, default=40)
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--gamma", type=float, default=0.3255)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print(
        f"# command: PYTHONPATH=src python benchmarks/selection_confusion.py {shlex.join(sys.argv[1:])}".rstrip()
    )
    rng = np.random.default_rng(args.seed)
    rows = []
    for truth in LAWS:
        for _ in range(args.draws):
            x, kappa = draw(truth, args.n, args.gamma, rng)
            s = select_law(x, args.gamma, rng=rng)
            rows.append({"truth": truth, "law": s.law or s.status, "phase": s.phase, "kappa": kappa,
                         "lo": s.kappa_ci[0], "hi": s.kappa_ci[1], "n_spikes": s.n_spikes})  # fmt: skip
    df = pd.DataFrame(rows)
    print(f"# n = {args.n}, gamma = {args.gamma}, {args.draws} draws per truth")
    print(pd.crosstab(df["truth"], df["law"]).reindex(index=list(LAWS)).to_string())
    print(pd.crosstab(df["truth"], df["phase"]).reindex(index=list(LAWS)).to_string())
    htmp = df[df["truth"].str.startswith("HTMP")]
    cov = ((htmp["lo"] <= htmp["kappa"]) & (htmp["kappa"] <= htmp["hi"])).mean()
    print(f"# coverage of the 95% kappa interval on the HTMP truths: {cov:.3f} ({len(htmp)} draws)")
    spikes = df[df["truth"] == "MP+spikes"]
    print(f"# MP+spikes truths with n_spikes = 3: {(spikes['n_spikes'] == 3).sum()}/{len(spikes)}")
    times = []
    for truth in LAWS:
        x, _ = draw(truth, 1000, args.gamma, rng)
        t0 = time.perf_counter()
        select_law(x, args.gamma, rng=rng)
        times.append(time.perf_counter() - t0)
    print(f"# select_law with intervals at n = 1000: median {np.median(times):.3f} s over {len(times)} calls "
          f"({', '.join(f'{t:.2f}' for t in times)})")  # fmt: skip


if __name__ == "__main__":
    main()
