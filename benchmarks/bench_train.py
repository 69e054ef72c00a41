"""Seconds per training epoch of the study's architectures (CPU, and CUDA when available).

Two tables:

``sizing``
    MiniAlexNet and LeNet on the full digits training split (1437 images, 360 test images) at batch sizes
    1024, 256, 128, 64, 32, 16, with ``torch.set_num_threads(1)`` and ``(2)``: the numbers that size the
    default (CPU) configuration of the workflow.
``arch``
    The five architectures at batch size 128 (and MiniAlexNet at 32) on a 1000-image digits subset, on the
    CPU with the given thread count, and on CUDA when available (``--devices`` picks; CUDA epochs run with
    cuDNN in deterministic mode and cuDNN's default TF32 convolutions, as :func:`htmu.study.train.train` does).

An epoch here is what :func:`htmu.study.train.train` does per epoch: one SGD pass over the training set plus the
evaluation of the test set, plus the per-epoch checkpoint write; the figures are medians over epochs
2..E of the intervals between the per-epoch log lines, in wall and in process CPU seconds. ``call_s`` is the whole ``train`` call (loading the subset,
building the model, writing every file) for the given number of epochs.

Reproduce with::

    PYTHONPATH=src python benchmarks/bench_train.py --section sizing --epochs 3
    PYTHONPATH=src python benchmarks/bench_train.py --section arch --epochs 2 --threads 2
    PYTHONPATH=src python benchmarks/bench_train.py --section arch --devices cuda   # GPU only
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from htmu.study.data import write_subset
from htmu.study.models import ARCHITECTURES
from htmu.study.train import train

SIZING_BATCHES = (1024, 256, 128, 64, 32, 16)


def _epoch_seconds(
    arch: str, subset: Path, batch_size: int, epochs: int, threads: int, device: str
) -> tuple[float, float, float]:
    """Median wall and CPU seconds per epoch (epochs 2..E, from the per-epoch log), and the call's wall time.

    CPU time (``time.process_time``, all threads) is reported beside wall time because the machine is
    shared: under load the wall time of a multi-threaded epoch inflates far more than its CPU time.
    """
    marks: list[tuple[float, float]] = []

    def mark(_line: str) -> None:
        if device == "cuda":
            torch.cuda.synchronize()
        marks.append((time.perf_counter(), time.process_time()))

    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        marks.append((t0, time.process_time()))
        # lr fixed and small: the timing must not depend on a divergence stopping the run early.
        train(
            arch, subset, out, batch_size=batch_size, seed=0, epochs=epochs, lr=1e-3,
            num_threads=threads, device=device, log=mark,
        )  # fmt: skip
        call = time.perf_counter() - t0
    deltas = [(b[0] - a[0], b[1] - a[1]) for a, b in zip(marks[:-1], marks[1:], strict=True)]
    if len(deltas) >= 2:
        deltas = deltas[1:]  # the first interval includes loading the subset and building the model
    return statistics.median(d[0] for d in deltas), statistics.median(d[1] for d in deltas), call


def sizing(epochs: int, tmp: Path, archs: tuple[str, ...] = ("minialexnet", "lenet")) -> list[str]:
    subset = tmp / "digits_full.npz"
    write_subset({"name": "digits"}, 0, subset)
    lines = [
        "sizing: s/epoch (SGD pass over 1437 digits images + eval of 360), CPU, median of epochs 2..E;",
        "wall = elapsed seconds, cpu = process CPU seconds (all threads)",
        f"{'arch':<12} {'batch':>6} {'wall 1thr':>10} {'cpu 1thr':>10} {'wall 2thr':>10} {'cpu 2thr':>10}",
    ]
    for arch in archs:
        for bs in SIZING_BATCHES:
            cells = []
            for threads in (1, 2):
                wall, cpu, _ = _epoch_seconds(arch, subset, bs, epochs, threads, "cpu")
                cells += [wall, cpu]
            line = f"{arch:<12} {bs:>6} " + " ".join(f"{c:>10.3f}" for c in cells)
            print(line, flush=True)
            lines.append(line)
    return lines


def arch_table(epochs: int, threads: int, tmp: Path, devices: list[str] | None = None) -> list[str]:
    subset = tmp / "digits_1000.npz"
    write_subset({"name": "digits", "n_train": 1000, "n_test": 200}, 0, subset)
    if devices is None:
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    lines = [
        f"arch: s/epoch (SGD pass over 1000 digits images + eval of 200), {threads} CPU threads",
        f"{'arch':<12} {'batch':>6} {'device':>6} {'wall s/ep':>9} {'cpu s/ep':>9} {'call_s':>8}",
    ]
    cases = [(a, 128) for a in ARCHITECTURES] + [("minialexnet", 32)]
    for device in devices:
        for arch, bs in cases:
            wall, cpu, call = _epoch_seconds(arch, subset, bs, epochs, threads, device)
            line = f"{arch:<12} {bs:>6} {device:>6} {wall:>9.3f} {cpu:>9.3f} {call:>8.2f}"
            print(line, flush=True)
            lines.append(line)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--section", choices=("sizing", "arch", "all"), default="all")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--archs", nargs="+", default=["minialexnet", "lenet"], help="sizing section only")
    parser.add_argument(
        "--devices", nargs="+", choices=("cpu", "cuda"), default=None,
        help="arch section only (default: cpu, and cuda when available)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=None, help="also write the table to this file")
    args = parser.parse_args(argv)
    header = [
        f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
        f"cuda={'yes: ' + torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no'}",
        "command: PYTHONPATH=src python benchmarks/bench_train.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
    ]
    print("\n".join(header), flush=True)
    lines = list(header)
    with tempfile.TemporaryDirectory() as tmp:
        if args.section in ("sizing", "all"):
            lines += sizing(args.epochs, Path(tmp), tuple(args.archs))
        if args.section in ("arch", "all"):
            lines += arch_table(args.epochs, args.threads, Path(tmp), args.devices)
    if args.out is not None:
        args.out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
