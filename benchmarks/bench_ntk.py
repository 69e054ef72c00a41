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

Each configuration runs in a fresh subprocess. Its peak memory, measured over the Gram and its
``eigvalsh`` (what ``--max-memory-mb`` bounds, see :class:`htmu.spectra.NTKBlockPlan`), is reported
against the budget: on CUDA ``torch.cuda.max_memory_allocated`` above what was allocated before, on the
CPU the resident high-water mark above the resident size before, both after a warm-up Jacobian that
pays first-use costs (the CPU's ``cold`` column counts those too). The models come from
``htmu.study.models``; without it the benchmark says so and exits.

Run::

    PYTHONPATH=src python benchmarks/bench_ntk.py                 # n = 100, 250
    PYTHONPATH=src python benchmarks/bench_ntk.py --full          # n = 100, 250, 1000
    PYTHONPATH=src python benchmarks/bench_ntk.py --n 20 50 --models minialexnet --max-memory-mb 512
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


def _status_mib(key: str) -> float | None:
    """A ``/proc/self/status`` field in MiB (Linux), None elsewhere."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _reset_rss_peak() -> bool:
    """Reset the process's resident high-water mark (``VmHWM``; Linux >= 4.0), True if it worked."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def warm_up(model: torch.nn.Module, x: torch.Tensor) -> None:
    """One vmapped ``jacrev`` of the logits of two inputs with respect to the first parameter tensor.

    Pays the one-time costs of the first Jacobian (code pages, thread pools, library state; on the CPU
    about 170-250 MiB resident) with a working set of a few MiB, so that what is measured afterwards is
    the NTK's own memory.
    """
    from torch.func import functional_call, jacrev, vmap

    params = {k: v.detach() for k, v in model.named_parameters()}
    buffers = dict(model.named_buffers())
    name = next(iter(params))

    def logits(w: torch.Tensor, xi: torch.Tensor) -> torch.Tensor:
        return functional_call(model, ({**params, **buffers, name: w},), (xi.unsqueeze(0),)).squeeze(0)

    training = model.training
    model.eval()
    try:
        vmap(jacrev(logits), in_dims=(None, 0))(params[name], x[:2])
    finally:
        model.train(training)


def run_one(model_name: str, n: int, max_memory_mb: float, device: torch.device) -> dict:
    """Time one NTK Gram and its eigenvalues; report peak memory. Runs in its own process.

    Peak memory is measured over the Gram and its ``eigvalsh`` (what ``max_memory_mb`` bounds), above
    what the process held just before: on CUDA ``torch.cuda.max_memory_allocated`` minus the memory
    allocated before; on the CPU the resident high-water mark (``VmHWM``, reset first) minus the resident
    size before, after :func:`warm_up` (``cold`` also counts the first-use costs, from before it).
    """
    from htmu.spectra import ntk_gram
    from htmu.study.models import build_model, count_parameters

    model = build_model(model_name, num_classes=10, seed=0).to(device)
    x = torch.randn(n, 3, 32, 32, generator=torch.Generator().manual_seed(1)).to(device)
    rss_cold = _status_mib("VmRSS")
    warm_up(model, x)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(device)
        cuda_before = torch.cuda.memory_allocated(device)
    hwm_reset = _reset_rss_peak()
    rss_before = _status_mib("VmRSS")
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
    hwm = _status_mib("VmHWM") if hwm_reset else None
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB -> MiB
    out = {
        "model": model_name,
        "n": n,
        "P": count_parameters(model),
        "t_gram_s": t_gram,
        "t_eigvalsh_s": t_eig,
        "param_blocks": plan.n_param_blocks,
        "sample_block": plan.sample_block,
        "planned_peak_mib": getattr(plan, "peak_bytes", plan.jacobian_bytes + plan.working_bytes) / 2**20,
        "gram_mib": plan.gram_bytes / 2**20,
        "budget_mib": max_memory_mb,
        "rss_before_mib": rss_before,
        # without a resettable high-water mark, ru_maxrss (which may predate the warm-up) is the peak
        "peak_rss_growth_mib": (hwm if hwm is not None else maxrss) - rss_before,
        "cold_rss_growth_mib": max(maxrss, hwm or 0.0) - rss_cold,
        "lambda_max": float(eig[-1]),
    }
    if device.type == "cuda":
        out["peak_cuda_growth_mib"] = (torch.cuda.max_memory_allocated(device) - cuda_before) / 2**20
        out["peak_cuda_reserved_mib"] = torch.cuda.max_memory_reserved(device) / 2**20
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
        import htmu.study.models  # noqa: F401
    except ImportError as err:
        print(f"SKIP: htmu.study.models is not available ({err}); nothing to benchmark")
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
        f"{'eigh s':>8}{'G MiB':>8}{'plan MiB':>9}{'peak MiB':>9}{'peak/bud':>9}{'cold MiB':>9}"
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
            peak = r.get("peak_cuda_growth_mib", r["peak_rss_growth_mib"])
            cold = r.get("peak_cuda_reserved_mib", r["cold_rss_growth_mib"])
            print(
                f"{name:<12}{n:>6}{r['P']:>10}{r['param_blocks']:>7}{r['sample_block']:>4}{r['t_gram_s']:>9.2f}"
                f"{floor:>9.2f}{floor / r['t_gram_s']:>8.3f}{r['t_eigvalsh_s']:>8.2f}{r['gram_mib']:>8.1f}"
                f"{r['planned_peak_mib']:>9.0f}{peak:>9.0f}{peak / args.max_memory_mb:>9.2f}{cold:>9.0f}",
                flush=True,
            )
    print("plan MiB: the planner's peak (NTKBlockPlan.peak_bytes: Gram, Jacobian block, vmapped working")
    print("set, eigvalsh copy), at most 90% of --max-memory-mb. peak MiB: measured over the Gram and its")
    print("eigvalsh, above what the process held before: torch.cuda.max_memory_allocated (CUDA) or the")
    print("resident high-water mark (CPU), after a warm-up Jacobian. cold MiB: CPU, resident growth from")
    print("before the warm-up (first-use costs too); CUDA, torch.cuda.max_memory_reserved (whole process).")
    print(
        "reproduce: PYTHONPATH=src python "
        + " ".join(shlex.quote(a) for a in [os.path.relpath(__file__), *(argv or sys.argv[1:])])
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
