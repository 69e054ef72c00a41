"""Time ``htmu.analyze`` against WeightWatcher's ``analyze()`` on torchvision's ResNet18, in one process.

Run from the repository root::

    PYTHONPATH=src python benchmarks/bench_analyze.py [--seed 0] [--no-ww] [--no-per-layer]

The model is ``torchvision.models.resnet18(weights=None)`` (random initialisation, nothing downloaded),
seeded with ``torch.manual_seed(seed)``. Printed:

1. htmu's whole analysis with intervals (``ci=True``), using every usable core (the first call in the
   process), then WeightWatcher 0.7.7's ``WeightWatcher(model=m).analyze()`` with its defaults on the same
   model, and the ratio of the two wall times. Imports are timed apart and not counted, for either tool:
   htmu's modules (``htmu.analysis`` and the law and estimators its workers use) are imported before its
   call, WeightWatcher only after htmu has run (its import silences warnings and reconfigures logging
   process-wide).
2. The same htmu analysis again, warm, in one process (``workers=1``) and with one worker process per core:
   the gain of the pool; and each layer's time (eigenvalues and law selection, one process) against its
   size, with the log-log slope of time against the number of eigenvalues.
3. One random ``n x 4n`` Linear layer per size in ``--sizes``: eigenvalues and whole-row time.

CPU times include the worker processes' (``RUSAGE_CHILDREN``).
4. For the one Linear layer (``fc``, the only layer both tools read as the same matrix) the norm metrics
   both tools define the same way, side by side.

Timings on a shared machine are noisy, and a loaded machine punishes multi-threaded BLAS/OpenMP (threads
spin waiting for busy cores; WeightWatcher runs with the default thread counts): rerun on an idle machine to
quote them, and with ``OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1`` to compare both tools on one BLAS thread.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata as md
import io
import os
import resource
import shlex
import sys
import time

import numpy as np


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (the analysis' worker processes)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _resnet18(seed: int):
    import torch
    import torchvision

    torch.manual_seed(seed)
    return torchvision.models.resnet18(weights=None).eval()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-ww", action="store_true", help="skip WeightWatcher")
    ap.add_argument("--no-per-layer", action="store_true", help="skip the one-process pass")
    ap.add_argument("--sizes", type=int, nargs="*", default=[64, 256, 1024, 2048],
                    help="n of the single-layer size sweep (none to skip)")  # fmt: skip
    args = ap.parse_args()
    print(f"# command: PYTHONPATH=src python benchmarks/bench_analyze.py {shlex.join(sys.argv[1:])}".rstrip())
    import torch

    t0 = time.perf_counter()
    import htmu._workers  # noqa: F401 (what analyze imports on its first call: the law and the estimators)
    from htmu.analysis import _usable_cores, analyze_layers, results_table

    t_import_htmu = time.perf_counter() - t0

    cores = _usable_cores()
    print(f"# torch {torch.__version__}, {cores} usable cores, torch threads {torch.get_num_threads()}, "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    model = _resnet18(args.seed)

    t0, c0 = time.perf_counter(), _cpu()
    results = analyze_layers(model, ci=True, progress=False)
    t_htmu, c_htmu = time.perf_counter() - t0, _cpu() - c0
    df = results_table(results)
    n_ok = int((df["status"] == "ok").sum())
    print(f"htmu.analyze (ci=True, {cores} worker processes): {t_htmu:.2f} s wall, {c_htmu:.2f} s CPU, for {len(df)} "
          f"matrices ({n_ok} with a law; laws: {df['law'].value_counts().to_dict()}; import {t_import_htmu:.1f} s, "
          "not counted)")  # fmt: skip
    from htmu.spectra import weight_spectra

    old_threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as analyze does
    t0 = time.perf_counter()
    weight_spectra(model)
    print(
        f"  of which eigenvalues (weight_spectra, float64 Grams, 1 torch thread): {time.perf_counter() - t0:.2f} s"
    )
    torch.set_num_threads(old_threads)

    ww_details = None
    if not args.no_ww:
        t0 = time.perf_counter()
        import weightwatcher as ww

        t_import = time.perf_counter() - t0
        watcher = ww.WeightWatcher(model=model)
        with contextlib.redirect_stdout(io.StringIO()):
            t0 = time.perf_counter()
            ww_details = watcher.analyze()
            t_ww = time.perf_counter() - t0
        print(f"WeightWatcher {md.version('weightwatcher')} analyze() (defaults): {t_ww:.2f} s for "
              f"{len(ww_details)} layers (import {t_import:.1f} s, not counted)")  # fmt: skip
        r = t_htmu / t_ww
        verdict = f"htmu {1 / r:.1f}x faster" if r < 1 else f"htmu {r:.1f}x slower"
        print(f"ratio htmu / WeightWatcher: {r:.3f} ({verdict}; issue 13 asks for a ratio below 1)")

    if not args.no_per_layer:
        # both warm (imports done), so that the difference is the pool's
        t0, c0 = time.perf_counter(), _cpu()
        seq = analyze_layers(model, ci=True, progress=False, workers=1)
        t_seq, c_seq = time.perf_counter() - t0, _cpu() - c0
        t0, c0 = time.perf_counter(), _cpu()
        analyze_layers(model, ci=True, progress=False)
        t_par, c_par = time.perf_counter() - t0, _cpu() - c0
        print(f"htmu.analyze again, warm: 1 process {t_seq:.2f} s wall ({c_seq:.2f} s CPU), {cores} worker "
              f"processes {t_par:.2f} s wall ({c_par:.2f} s CPU); pool speed-up {t_seq / t_par:.2f}x")  # fmt: skip
        print("\nper layer, one process (eigenvalues + select_law with intervals):")
        print(f"{'layer':<24}{'shape':>14}{'n_eigs':>8}{'gamma':>8}{'law':>14}{'seconds':>9}")
        for r in sorted(seq, key=lambda r: r.row["n_eigs"]):
            row = r.row
            print(f"{row['layer']:<24}{row['shape']:>14}{row['n_eigs']:>8}{row['gamma']:>8.3f}"
                  f"{row['law'] or row['status'][:12]:>14}{r.seconds:>9.3f}")  # fmt: skip
        n = np.array([r.row["n_eigs"] for r in seq], dtype=float)
        s = np.array([r.seconds for r in seq])
        slope = np.polyfit(np.log(n), np.log(s), 1)[0]
        by_n = {int(k): float(np.median(s[n == k])) for k in np.unique(n)}
        print(f"median seconds by n_eigs: {by_n}; log-log slope of time against n_eigs: {slope:.2f}")

    if args.sizes:
        from torch import nn

        print(
            "\ntime per layer against size: one random Linear layer n x 4n (gamma 0.25), one process, ci=True"
        )
        print(f"{'n_eigs':>8}{'eigenvalues s':>15}{'total s':>9}{'law':>14}")
        for n in args.sizes:
            torch.manual_seed(args.seed)
            lin = nn.Linear(4 * n, n, bias=False)
            (r,) = analyze_layers(lin, ci=True, progress=False, workers=1)
            old_threads = torch.get_num_threads()
            torch.set_num_threads(1)
            t0 = time.perf_counter()
            weight_spectra(lin)
            t_eig = time.perf_counter() - t0
            torch.set_num_threads(old_threads)
            print(f"{n:>8}{t_eig:>15.3f}{r.seconds:>9.2f}{r.row['law'] or r.row['status'][:12]:>14}")

    if ww_details is not None:
        fc = df.set_index("layer").loc["fc"]
        w = ww_details[ww_details["longname"] == "fc"].iloc[0]
        print("\nfc (1000x512 Linear): metric, htmu, WeightWatcher")
        for m in ("stable_rank", "log_spectral_norm"):
            print(f"  {m:<18} {fc[m]:.6g}  {float(w[m]):.6g}")
        print(f"  {'alpha':<18} {fc['alpha']:.4g} (htmu: 1 + kappa(1-gamma)/(2 gamma))  {float(w['alpha']):.4g} "
              f"(WeightWatcher: power-law fit of the tail)")  # fmt: skip


if __name__ == "__main__":
    main()
