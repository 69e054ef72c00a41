"""Wall and CPU time of ``htmu fit`` (the command line) on 10^4, 10^5 and 10^6 eigenvalues, and its cost model.

Run from the repository root::

    PYTHONPATH=src python benchmarks/bench_cli.py [--sizes 10000 100000 1000000] [--model-sizes 1000 ... 1000000]

Data: direct-form HTMP spectra with gamma = 0.3255, kappa = 5.5. Up to 10^4 eigenvalues they are ensemble
draws (``htmu.ensembles.sample_htmp_ensemble``, exact but O(n^2)); above, iid draws from the limit law,
``htmu.laws.htmp.ppf`` of sorted uniforms (no eigenvalue repulsion; the work per likelihood evaluation is the
same). Generating the data is not timed.

Part 1 runs ``python -m htmu.cli fit FILE --gamma 0.3255 --form direct --no-progress`` in a subprocess, with
and without ``--no-ci``, and prints its wall time and CPU time (user + system of the child: on a shared
machine the CPU time is the better measure of the work, the wall time is what a user waits). The target
is 10^5 eigenvalues with the interval within 60 s.

Part 2 fits the cost model of ``htmu fit --help`` (``htmu.cli.COST_*``) from the CPU time of each stage of
:func:`htmu.fit.estimate.fit_htmp` (read at its ``progress`` callbacks) and of the comparison of laws, at the
model sizes, one BLAS thread: point estimate, rest of the interval and comparison each a + b n^p, each
bootstrap replicate c min(1, n/N_BOOT_MAX)^2 (least relative squares, each stage separately, on the median of ``--repeats``
fits up to 10^5 eigenvalues, one fit above), and prints them next to the constants in ``htmu.cli``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import shlex  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from scipy import optimize  # noqa: E402

from htmu import cli  # noqa: E402
from htmu.ensembles import sample_htmp_ensemble  # noqa: E402
from htmu.fit.estimate import N_BOOT_MAX, fit_htmp, fit_mp, fit_powerlaw  # noqa: E402
from htmu.laws import htmp  # noqa: E402

GAMMA, KAPPA = 0.3255, 5.5
SRC = str(Path(__file__).resolve().parents[1] / "src")


def spectrum(n: int, rng: np.random.Generator) -> np.ndarray:
    """Direct-form HTMP eigenvalues: the ensemble up to 10^4, iid from the limit law above."""
    if n <= 10_000:
        return sample_htmp_ensemble(n, GAMMA, KAPPA, rng)
    return htmp.ppf(np.sort(rng.uniform(size=n)), GAMMA, KAPPA)


def _child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def time_cli(path: Path, *extra: str) -> tuple[float, float, dict]:
    """(wall s, CPU s, JSON fit) of one ``htmu fit`` subprocess."""
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "htmu.cli", "fit", str(path), "--gamma", str(GAMMA), "--form", "direct"]
    cpu0, t0 = _child_cpu(), time.perf_counter()
    proc = subprocess.run(
        [*cmd, "--no-progress", *extra], capture_output=True, text=True, env=env, check=False
    )
    wall, cpu = time.perf_counter() - t0, _child_cpu() - cpu0
    if proc.returncode != 0:
        raise SystemExit(f"htmu fit failed: {proc.stderr.strip()}")
    return wall, cpu, json.loads(proc.stdout)["fit"]


def part_cli(sizes: list[int], rng: np.random.Generator) -> None:
    print(f"# part 1: CLI, data: ensemble for n <= 1e4, iid htmp.ppf(sorted uniforms) above; kappa = {KAPPA}")
    print(
        f"{'n':>9} {'interval':>9} {'wall s':>8} {'cpu s':>8} {'model s':>8} {'kappa':>8} {'95% interval':>22}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path = Path(tmp) / f"x{n}.npy"
            np.save(path, spectrum(n, rng))
            for ci in (False, True):
                wall, cpu, fit = time_cli(path, *([] if ci else ["--no-ci"]))
                model = cli.COST_START + sum(cli.expected_seconds(n, ci=ci).values())
                interval = (
                    f"({float(fit['kappa_ci'][0]):.4g}, {float(fit['kappa_ci'][1]):.4g})" if ci else "-"
                )
                print(
                    f"{n:9d} {'yes' if ci else 'no':>9} {wall:8.1f} {cpu:8.1f} {model:8.1f} "
                    f"{float(fit['kappa']):8.4g} {interval:>22}  [{fit['status']}]",
                    flush=True,
                )
                if ci and n == 100_000:
                    verdict = "met" if wall <= 60 else "MISSED"
                    print(
                        f"# target: 1e5 eigenvalues with the interval within 60 s: {verdict} ({wall:.1f} s)"
                    )


def stage_cpu(x: np.ndarray) -> dict[str, float]:
    """CPU seconds (whole process) of each fit_htmp stage and of the comparison, at its progress callbacks."""
    marks: list[tuple[str, float]] = []
    c0 = time.process_time()
    fit = fit_htmp(
        x, GAMMA, rng=np.random.default_rng(0), progress=lambda u, s: marks.append((s, time.process_time()))
    )
    point = next(t for s, t in marks if s == "point estimate")
    reps = [t for s, t in marks if s == "bootstrap replicates"]
    c1 = time.process_time()
    fit_mp(x, GAMMA)
    fit_powerlaw(x[x > fit.floor])
    per_rep = (reps[-1] - reps[0]) / (len(reps) - 1)
    return {
        "point": point - c0,
        # between the first and the last draw (whole process: the draws run in threads)
        "replicate": per_rep,
        # the rest of the interval: the MP test and the profile's curvature before the draws, the refits after
        "interval": (reps[0] - point - per_rep) + (marks[-1][1] - reps[-1]),
        "compare": time.process_time() - c1,
    }


def _fmt(t: tuple) -> str:
    return "(" + ", ".join(f"{v:.2g}" for v in t) + ")"


def part_model(sizes: list[int], repeats: int, rng: np.random.Generator) -> None:
    print(
        f"# part 2: cost model, CPU seconds per stage (one BLAS thread, median of {repeats}), least squares "
        "over the model sizes"
    )
    rows = []
    stage_cpu(spectrum(1000, rng))  # warm-up: caches of the MP test and the law
    for n in sizes:
        x = spectrum(n, rng)
        runs = [stage_cpu(x) for _ in range(repeats if n <= 100_000 else 1)]
        s = {k: float(np.median([r[k] for r in runs])) for k in runs[0]}
        rows.append((n, s))
        print(f"  n = {n:8d}: " + ", ".join(f"{k} {v:.3f}" for k, v in s.items()), flush=True)
    n = np.array([r[0] for r in rows], dtype=float)

    def col(k):
        return np.array([r[1][k] for r in rows])

    def power(y):  # a + b n^p, least relative squares
        (a, b, p), _ = optimize.curve_fit(
            lambda n_, a_, b_, p_: a_ + b_ * n_**p_, n, y, p0=(0.05, 1e-5, 1.2), sigma=y, maxfev=20000
        )
        return a, b, p

    c = float(np.mean(col("replicate") / np.minimum(1.0, n / N_BOOT_MAX) ** 2))
    print(
        f"  fitted:    COST_POINT = {_fmt(power(col('point')))}, COST_INTERVAL = {_fmt(power(col('interval')))}, "
        f"COST_COMPARE = {_fmt(power(col('compare')))}, COST_REPLICATE = {c:.2g}"
    )
    print(
        f"  htmu.cli:  COST_POINT = {cli.COST_POINT}, COST_INTERVAL = {cli.COST_INTERVAL}, "
        f"COST_COMPARE = {cli.COST_COMPARE}, COST_REPLICATE = {cli.COST_REPLICATE}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--model-sizes", type=int, nargs="*", default=[1000, 10_000, 100_000, 1_000_000])
    ap.add_argument("--repeats", type=int, default=3, help="fits per model size up to 1e5 (median per stage)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    print(f"# command: PYTHONPATH=src python benchmarks/bench_cli.py {shlex.join(sys.argv[1:])}".rstrip())
    print(f"# load average at the start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    if args.sizes:
        part_cli(args.sizes, rng)
    if args.model_sizes:
        part_model(args.model_sizes, args.repeats, rng)
    print(f"# load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
