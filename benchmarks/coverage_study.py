"""Coverage and bias of ``fit_htmp``'s 95% interval over kappa's whole range, both forms, through the float64 floor.

Run from the repository root (the full grid takes hours; ``--quick`` is the short version)::

    PYTHONPATH=src python benchmarks/coverage_study.py [--draws 100] [--workers 2] [--out coverage.csv]
        [--kappas ...] [--gammas ...] [--ns ...] [--forms direct inverse] [--quick]

Each cell (kappa, gamma, form, n) gets ``draws`` spectra from the high-temperature ensemble
(:func:`htmu.ensembles.sample_htmp_ensemble`, exact to the smallest eigenvalue), scaled by 2 (direct form:
``2 z``; inverse form: ``2 / z``), passed through what a
float64 eigensolver returns (:func:`htmu.ensembles.through_eigensolver`: eigenvalues below ``n eps max`` come
back as noise of that size), and fitted with :func:`htmu.fit.estimate.fit_htmp` (default settings, interval
included). Printed per cell: the coverage of the nominal 95% interval with its Wilson 95% band, how many
intervals were one-sided (upper end inf, or lower end 0), zero-width intervals, statuses other than ok/mp_like/
rank_collapse, the bias of the corrected estimate and the median fit time. Per-draw rows go to ``--out``.

Bias, two ways. ``bias_debiased``: the geometric mean of kappa_debiased/kappa, minus 1, over the ``with_debiased``
draws that have one; a draw whose interval is one-sided has none, so near an end of the range this is conditional
on the draw having looked less extreme than it was. ``median_bias``: the median over every draw of the corrected
estimate, an open end standing for a draw without one (inf for [lo, inf), 0 for (0, hi]), divided by kappa, minus
1; defined (not NaN) while fewer than half the draws are open at one end.

``bias_oracle``: what the conditional bias owes to the selection alone. The maximum-likelihood estimates of the
cell's draws (``kappa_hat``; inf for ``mp_like``, 0 for ``rank_collapse``) are corrected by the one factor that makes
their median the true kappa, a correction only the truth allows, and their geometric mean is taken over the same
``with_debiased`` draws as ``bias_debiased``. Without selection it is near 0 (up to the skew of log kappa-hat); where
the draws with a corrected estimate are those that looked less extreme than they were, it is the bias that an exact
median-unbiased correction would still show on them. NaN under the same condition as ``median_bias``.

How many draws: under correct coverage the hits in a cell are Binomial(draws, 0.95). With 100 draws a cell
lands outside [0.90, 0.99] with probability P(hits <= 89) + P(hits = 100) = 0.028 + 0.006; over the 192 cells of
the full grid about 6 cells are expected outside by chance alone. Cells outside are therefore rerun with more
draws (``--draws 400`` on that cell: the chance probability drops to about 1e-4).

With ``--out``, each cell's rows are appended to the file as the cell finishes, and a rerun with the same
``--out`` skips the cells already there with their draws (each cell's seed depends only on ``--seed`` and the
cell, so an interrupted study resumed gives the same numbers as one run straight through). The summary covers
every cell in the file. (More draws on a cell go to a new ``--out``: the same seed would repeat the first ones.)
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

KAPPAS = [1e-3, 1e-2, 0.1, 0.5, 2.0, 5.5, 20.0, 100.0]
GAMMAS = [0.1, 0.3255, 0.5, 0.9]
NS = [500, 1000, 2000]
FORMS = ["direct", "inverse"]


def draw_spectrum(n: int, gamma: float, kappa: float, form: str, rng: np.random.Generator) -> np.ndarray:
    """One ensemble spectrum at scale 2, in the given form, as a float64 eigensolver would return it."""
    from htmu.ensembles import sample_htmp_ensemble, through_eigensolver

    z = sample_htmp_ensemble(n, gamma, kappa, rng)
    if form == "direct":
        return through_eigensolver(2.0 * z, rng)
    # 2/z. At kappa <= 0.01 the smallest z can lie below the smallest double (dqds returns 0), or be subnormal
    # so that 2/z overflows: the largest eigenvalue 2/z is then unknown, and so is its ratio to the others, but
    # the ratios between successive smallest z are there of order exp(1/(a + 1)) with
    # a + 1 = kappa (1 - gamma)/(2 gamma) <= 0.01, far beyond the eigensolver's range 1/(n eps) = exp(29):
    # such a spectrum is one eigenvalue (set to 1) above noise.
    with np.errstate(divide="ignore", over="ignore"):
        lam = 2.0 / z
    if not np.all(np.isfinite(lam)):
        lam = np.zeros(n)
        lam[0] = 1.0
    return through_eigensolver(lam, rng)


def one_cell(args: tuple) -> list[dict]:
    kappa, gamma, form, n, draws, seed = args
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    from htmu.fit.estimate import fit_htmp

    rng = np.random.default_rng(
        [seed, int(round(kappa * 1e4)), int(round(gamma * 1e4)), n, FORMS.index(form)]
    )
    rows = []
    for d in range(draws):
        x = draw_spectrum(n, gamma, kappa, form, rng)
        t0 = time.perf_counter()
        r = fit_htmp(x, gamma, form=form, rng=rng)
        dt = time.perf_counter() - t0
        lo, hi = r.kappa_ci
        rows.append({
            "kappa": kappa, "gamma": gamma, "form": form, "n": n, "draw": d, "kappa_hat": r.kappa,
            "kappa_debiased": r.kappa_debiased, "lo": lo, "hi": hi, "status": r.status,
            "covered": bool(lo <= kappa <= hi), "zero_width": bool(lo == hi), "n_censored": r.n_censored,
            "p_mp": r.p_mp, "seconds": dt,
        })  # fmt: skip
    return rows


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    out = []
    for key, g in df.groupby(["form", "gamma", "kappa", "n"], sort=True):
        hits, m = int(g["covered"].sum()), len(g)
        z = stats.norm.ppf(0.975)
        p = hits / m
        c = (p + z * z / (2 * m)) / (1 + z * z / m)
        h = z * math.sqrt(p * (1 - p) / m + z * z / (4 * m * m)) / (1 + z * z / m)
        deb = g["kappa_debiased"].to_numpy(float)
        has = np.isfinite(deb) & (deb > 0)
        bias = math.exp(np.mean(np.log(deb[has] / key[2]))) - 1 if has.any() else math.nan
        # every draw's corrected estimate, a one-sided interval's open end standing for it (inf: MP-like, 0: below
        # resolution); their median is defined while fewer than half are open at one end
        est = np.where(
            has, deb, np.where(np.isinf(g["hi"]), np.inf, np.where(g["lo"] == 0, 0.0, g["kappa_hat"]))
        )
        med = float(np.median(est))
        median_bias = med / key[2] - 1 if math.isfinite(med) and med > 0 else math.nan
        mle = g["kappa_hat"].to_numpy(float)
        mle = np.where(g["status"] == "mp_like", np.inf, np.where(g["status"] == "rank_collapse", 0.0, mle))
        med_mle = float(np.median(mle))
        oracle = math.nan
        if has.any() and math.isfinite(med_mle) and med_mle > 0:
            oracle = math.exp(np.mean(np.log(mle[has] / med_mle))) - 1
        out.append({
            "form": key[0], "gamma": key[1], "kappa": key[2], "n": key[3], "draws": m, "coverage": p,
            "wilson_lo": c - h, "wilson_hi": c + h, "one_sided_up": int(np.isinf(g["hi"]).sum()),
            "one_sided_down": int((g["lo"] == 0).sum()), "zero_width": int(g["zero_width"].sum()),
            "bad_status": int((~g["status"].isin(["ok", "mp_like", "rank_collapse"])).sum()),
            "with_debiased": int(has.sum()), "bias_debiased": bias, "median_bias": median_bias,
            "bias_oracle": oracle,
            "median_s": float(g["seconds"].median()),
        })  # fmt: skip
    return pd.DataFrame(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kappas", type=float, nargs="+", default=KAPPAS)
    ap.add_argument("--gammas", type=float, nargs="+", default=GAMMAS)
    ap.add_argument("--ns", type=int, nargs="+", default=NS)
    ap.add_argument("--forms", nargs="+", choices=FORMS, default=FORMS)
    ap.add_argument("--draws", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="")
    ap.add_argument("--quick", action="store_true", help="a few cells with 10 draws (minutes)")
    args = ap.parse_args()
    if args.quick:
        args.kappas, args.gammas, args.ns, args.draws = [1e-3, 0.5, 5.5, 100.0], [0.3255], [500], 10
    print(
        f"# command: PYTHONPATH=src python benchmarks/coverage_study.py {shlex.join(sys.argv[1:])}".rstrip()
    )
    cells = [
        (k, g, f, n, args.draws, args.seed)
        for f in args.forms
        for g in args.gammas
        for k in args.kappas
        for n in args.ns
    ]
    out = Path(args.out) if args.out else None
    if out is not None and out.exists():  # resume: a cell already in --out with its draws is not fitted again
        have = pd.read_csv(out).groupby(["kappa", "gamma", "form", "n"]).size()
        cells = [c for c in cells if have.get((c[0], c[1], c[2], c[3]), 0) < c[4]]
        print(f"# resuming: {len(have)} cells already in {out}, {len(cells)} to go", flush=True)
    t0 = time.perf_counter()
    rows = []
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        futures = {pool.submit(one_cell, c): c for c in cells}
        for i, fut in enumerate(as_completed(futures)):
            res, c = fut.result(), futures[fut]
            rows += res
            if out is not None:  # each cell as it finishes, so that an interrupted study resumes
                pd.DataFrame(res).to_csv(out, mode="a", header=not out.exists(), index=False)
            cov = np.mean([r["covered"] for r in res])
            print(f"# cell {i + 1}/{len(cells)} form={c[2]} gamma={c[1]} kappa={c[0]} n={c[3]}: coverage {cov:.2f} "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)  # fmt: skip
    df = pd.read_csv(out) if out is not None else pd.DataFrame(rows)
    summary = summarise(df)
    with pd.option_context("display.width", 200, "display.max_rows", 500):
        print(summary.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    inside = ((summary["coverage"] >= 0.90) & (summary["coverage"] <= 0.99)).sum()
    print(f"# cells with coverage in [0.90, 0.99]: {inside}/{len(summary)}; zero-width intervals: "
          f"{int(summary['zero_width'].sum())}; no_convergence/other statuses: {int(summary['bad_status'].sum())}; "
          f"cells with |bias of kappa_debiased| > 5%: {int((summary['bias_debiased'].abs() > 0.05).sum())}, "
          f"with |median bias| > 5%: {int((summary['median_bias'].abs() > 0.05).sum())}")  # fmt: skip
    print(f"# total {time.perf_counter() - t0:.0f} s, {len(df)} fits")


if __name__ == "__main__":
    main()
