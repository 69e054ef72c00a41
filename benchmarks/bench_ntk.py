"""Throughput and peak memory of the blocked empirical NTK Gram (``htmu.spectra.ntk_gram``).

For MiniAlexNet and ResNet9 on ``n`` random CIFAR-shaped inputs (3 x 32 x 32, 10 logits) it times
``G = J J^T`` (10n x 10n) and its float64 ``eigvalsh``, and compares the Gram time with the
matrix-multiply floor ``2 (10 n)^2 P`` flops at this machine's measured GEMM rate in the model's dtype
(float32; the float64 rate is printed too, since ``G`` is accumulated and diagonalised in float64).
``floor / time`` is the fraction of the GEMM roofline reached: the rest is the Jacobian itself (forward
and backward sweeps, one per parameter block).

On CUDA, :func:`htmu.spectra.ntk_gram` runs with TF32 off (IEEE float32 convolutions and products), so
the float32 floor is measured at PyTorch's default ``"highest"`` matmul precision, i.e. IEEE float32 too
(on an H100 that rate, 51 TFLOP/s, is below the float64 one, 61 TFLOP/s).

Each configuration runs in a fresh subprocess so that its peak resident memory (``ru_maxrss``) is its
own; on CUDA the peak is ``torch.cuda.max_memory_allocated``. The models come from ``htmu.models``;
without it the benchmark says so and exits.

Run::

    PYTHONPATH=src python benchmarks/bench_ntk.py                 # n = 100, 250
    PYTHONPATH=src python benchmarks/bench_ntk.py --full          # n = 100, 250, 1000
    PYTHONPATH=src python benchmarks/bench_ntk.py --n 20 50 --models minialexnet
    PYTHONPATH=src python benchmarks/bench_ntk.py --device cuda --n 100 250 500 1000 --max-memory-mb 32768
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import statistics
import subprocess
import sys
import time

import torch


def gemm_rate(dtype: torch.dtype, device: torch.device, size: int, repeats: int = 5) -> float:
    """Median flop/s of a square ``size x size`` matrix product (2 size^3 flops)."""
    gen = torch.Generator(device="cpu").manual_seed(0)
    a = torch.randn(size, size, generator=gen, dtype=dtype).to(device)
    b = torch.randn(size, size, generator=gen, dtype=dtype).to(device)
    torch.mm(a, b)  # warm-up (thread pool, cuBLAS handles)
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        torch.mm(a, b)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return 2 * size**3 / statistics.median(times)


def run_one(model_name: str, n: int, max_memory_mb: float, device: torch.device) -> dict:
    """Time one NTK Gram and its eigenvalues; report peak memory. Runs in its own process."""
    from htmu.models import build_model, count_parameters
    from htmu.spectra import ntk_gram

    model = build_model(model_name, num_classes=10, seed=0).to(device)
    x = torch.randn(n, 3, 32, 32, generator=torch.Generator().manual_seed(1)).to(device)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB -> MiB
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(device)
    t = time.perf_counter()
    gram, plan = ntk_gram(model, x, max_memory_mb=max_memory_mb, device=device)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t_gram = time.perf_counter() - t
    t = time.perf_counter()
    eig = torch.linalg.eigvalsh(gram)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t_eig = time.perf_counter() - t
    out = {
        "model": model_name,
        "n": n,
        "P": count_parameters(model),
        "t_gram_s": t_gram,
        "t_eigvalsh_s": t_eig,
        "param_blocks": plan.n_param_blocks,
        "sample_block": plan.sample_block,
        "planned_jacobian_mib": (plan.jacobian_bytes + plan.working_bytes) / 2**20,
        "gram_mib": plan.gram_bytes / 2**20,
        "rss_before_mib": rss_before,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "lambda_max": float(eig[-1]),
    }
    if device.type == "cuda":
        out["peak_cuda_mib"] = torch.cuda.max_memory_allocated(device) / 2**20
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["minialexnet", "resnet9"])
    parser.add_argument("--n", nargs="+", type=int, default=[100, 250], help="numbers of inputs")
    parser.add_argument("--full", action="store_true", help="also n = 1000")
    parser.add_argument("--max-memory-mb", type=float, default=4096, help="Jacobian budget (MiB)")
    parser.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    parser.add_argument("--one", nargs=2, metavar=("MODEL", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))

    if args.one:
        print(json.dumps(run_one(args.one[0], int(args.one[1]), args.max_memory_mb, device)))
        return 0

    try:
        import htmu.models  # noqa: F401
    except ImportError as err:
        print(f"SKIP: htmu.models is not available ({err}); nothing to benchmark")
        return 0

    sizes = sorted(set(args.n + ([1000] if args.full else [])))
    size = 8192 if device.type == "cuda" else 2048
    rate32 = gemm_rate(torch.float32, device, size)
    rate64 = gemm_rate(torch.float64, device, size)
    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(
        f"GEMM {size}^2: float32 {rate32 / 1e9:.1f} GFLOP/s, float64 {rate64 / 1e9:.1f} GFLOP/s (median of 5)"
    )
    header = (
        f"{'model':<12}{'n':>6}{'P':>10}{'blocks':>7}{'b':>4}{'gram s':>9}{'floor s':>9}{'floor/t':>8}"
        f"{'eigh s':>8}{'plan MiB':>9}{'G MiB':>8}{'base MiB':>9}{'peak MiB':>9}"
    )
    print(header)
    for name in args.models:
        for n in sizes:
            cmd = [
                sys.executable,
                __file__,
                "--one",
                name,
                str(n),
                "--max-memory-mb",
                str(args.max_memory_mb),
            ]
            cmd += ["--device", str(device)]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                print(f"{name:<12}{n:>6}  FAILED: {proc.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            floor = 2 * (10 * n) ** 2 * r["P"] / rate32
            peak = r.get("peak_cuda_mib", r["peak_rss_mib"])
            print(
                f"{name:<12}{n:>6}{r['P']:>10}{r['param_blocks']:>7}{r['sample_block']:>4}{r['t_gram_s']:>9.2f}"
                f"{floor:>9.2f}{floor / r['t_gram_s']:>8.3f}{r['t_eigvalsh_s']:>8.2f}"
                f"{r['planned_jacobian_mib']:>9.0f}{r['gram_mib']:>8.1f}{r['rss_before_mib']:>9.0f}{peak:>9.0f}",
                flush=True,
            )
    print("peak MiB: ru_maxrss of the configuration's process (CPU, includes torch and the model) or")
    print(
        "torch.cuda.max_memory_allocated (CUDA); base MiB: ru_maxrss before the NTK (torch, model, inputs);"
    )
    print("plan MiB: Jacobian block + estimated vmapped working set planned under --max-memory-mb.")
    print(
        "reproduce: PYTHONPATH=src python "
        + " ".join(shlex.quote(a) for a in [os.path.relpath(__file__), *(argv or sys.argv[1:])])
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
