"""Resumable, deterministic SGD training of the study's architectures on a subset file.

The batch-size sweep of Hodgkinson, Wang & Mahoney (ICML 2025; Martin & Mahoney 2021) trains with SGD,
momentum 0.9, weight decay 1e-4, learning rate η = 2/B for batch size B (``lr_scale / batch_size``), no
schedule. :func:`train` runs that loop and writes, into ``out_dir``:

- ``model_init.pt``: the weights at initialisation (epoch 0);
- ``model_epoch{E}.pt`` for each requested snapshot epoch E;
- ``model_final.pt``: the weights at the end;
- ``metrics.csv``: one row per epoch (epoch, train_loss, train_acc, test_loss, test_acc, lr, wall_s);
- ``summary.json``: the summary dict :func:`train` returns.

While it runs, the resume state lives in ``resume_dir`` (default ``out_dir``; see *Resume*). Every file is
written to a temporary name in its folder and then ``os.replace``-d, so a crash never leaves a truncated
file. Model files hold ``{"header": {...}, "state_dict": {...}, "module_types": {...}}`` with header keys ``arch``,
``num_classes``, ``init``, ``seed``, ``epoch``, ``status`` and are read back by :func:`load_checkpoint`.

Determinism
    The initial weights come from ``build_model(..., seed=seed)``; mini-batches from ``torch.randperm`` with
    a dedicated ``torch.Generator`` seeded from ``seed``; the global RNG is not used. On the CPU the same
    arguments give the same bits. On CUDA, cuDNN is put in deterministic mode for the duration of the
    call and cuBLAS gets a fixed workspace (``CUBLAS_WORKSPACE_CONFIG``, when the process has not used
    cuBLAS yet): same-seed runs and resumed runs gave the same bits on one H100 (``tests/test_cuda.py``),
    but bitwise equality is only promised on the CPU. CUDA training keeps PyTorch's default TF32
    convolutions; a CUDA run is not a copy of the CPU run (after two epochs of SGD at η = 2/B the
    weights differ by O(1), ``benchmarks/cuda_agreement.py``). Spectra are computed without TF32
    (:mod:`htmu.spectra`).

Resume
    ``resume_dir/checkpoint.pt`` (model, optimiser and scheduler state, the shuffling generator's state, the
    epoch, the metrics so far and the SHA-256 of each snapshot taken so far) is written after every epoch but
    the last; snapshots are written into ``resume_dir`` and copied into ``out_dir`` at the end. If the
    checkpoint exists when :func:`train` starts, was made with the same arguments and its snapshots are
    intact, training resumes after its epoch and every output is written again, ``model_init.pt`` (a
    function of the seed alone) and the earlier snapshots included: a workflow engine may have deleted the
    outputs of the interrupted job (Snakemake does), so ``resume_dir`` should lie outside them. The result
    is bitwise identical to an uninterrupted run on the CPU (``summary.json`` differs in ``wall_s`` and
    ``resumed_from_epoch``, ``metrics.csv`` in ``wall_s``). A checkpoint made with other arguments, or
    whose snapshots are missing or changed, is reported through ``log`` and training starts afresh. Once
    the final files of a completed (or diverged) run are written, the resume state is deleted (and
    ``resume_dir`` too, when that leaves it empty): the final files supersede it and keeping it would
    double the disk use of the sweep.

Divergence
    A non-finite training loss (checked every batch) or non-finite weights (checked every epoch) stop the
    training with ``status="diverged"``; the files are still written with the weights as they are and header
    status ``"diverged"``. Snapshot epochs not reached are still written (same weights, header ``epoch`` =
    the epoch reached, ``requested_epoch`` = E) so that every declared output of a workflow exists.

Outcome
    Every run ends with one ``status`` in ``summary.json`` (and in ``model_final.pt``'s header): ``"ok"``,
    ``"diverged"`` (above), ``"collapsed"`` (stopped learning: final training accuracy within
    ``COLLAPSE_MARGIN`` of chance) or ``"undertrained"`` (training loss still falling at the end); see
    :func:`training_outcome` for the precise criteria. ``status_reason`` says why in words. Runs that are not
    ``"ok"`` still get all their files: their spectra are part of the study (a collapsed network is the
    rank-collapse end of the phases), and their status travels with them.

Train loss and accuracy in ``metrics.csv`` are the averages over the epoch's mini-batches, in training
mode (the usual running figure, at no extra cost); test loss and accuracy are computed after the epoch in
evaluation mode.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import math
import os
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from htmu._io import atomic_path, write_text_atomic
from htmu.study.data import load_subset
from htmu.study.models import ARCHITECTURES, INITS, INPUT_SHAPE, build_model

LR_SCALE = 2.0
SCHEDULES: tuple[str, ...] = ("none", "cosine")
METRIC_COLUMNS: tuple[str, ...] = (
    "epoch",
    "train_loss",
    "train_acc",
    "test_loss",
    "test_acc",
    "lr",
    "wall_s",
)
CHECKPOINT_VERSION = 2  # 2: snapshots live in the resume folder, their digests in the checkpoint
_EVAL_BATCH = 1024


# --------------------------------------------------------------------------------------------------
# atomic files


def _save_torch(obj: Any, path: Path) -> None:
    # through a file object: torch.save names the archive inside after a path, and the temporary one is random
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        torch.save(obj, fh)


def _copy_file(src: Path, dst: Path) -> None:
    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_model(model: nn.Module, path: str | os.PathLike, header: dict) -> None:
    """Write ``{"header": header, "state_dict": ..., "module_types": ...}`` atomically.

    ``state_dict`` is a CPU copy of ``model.state_dict()``; ``module_types`` maps each named module to its
    class name, so that a reader without the architectures (``htmu analyze``) can name the layers' kinds.
    """
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    types = {name: type(m).__name__ for name, m in model.named_modules() if name}
    _save_torch({"header": dict(header), "state_dict": state, "module_types": types}, Path(path))


def load_checkpoint(
    path: str | os.PathLike, map_location: str | torch.device = "cpu"
) -> tuple[nn.Module, dict]:
    """Load a model file written by :func:`train`.

    Parameters
    ----------
    path : path-like
        ``model_init.pt``, ``model_epoch{E}.pt`` or ``model_final.pt``.
    map_location : str or torch.device
        Device the model is put on.

    Returns
    -------
    model : torch.nn.Module
        Rebuilt from the header (``arch``, ``num_classes``), weights loaded, in evaluation mode.
    header : dict
        ``arch``, ``num_classes``, ``init``, ``seed``, ``epoch``, ``status`` and training arguments.
    """
    blob = torch.load(path, map_location=map_location, weights_only=True)
    header = blob["header"]
    model = build_model(header["arch"], num_classes=int(header["num_classes"]), init="default", seed=0)
    model.load_state_dict(blob["state_dict"])
    model.to(map_location).eval()
    return model, header


# --------------------------------------------------------------------------------------------------
# helpers


def resolve_device(device: str | torch.device, name: str = "device") -> torch.device:
    """``"auto"`` -> CUDA when torch sees a device, else the CPU; any other value must name a usable device.

    Raises
    ------
    ValueError
        Not a torch device, or a CUDA device on a machine where torch sees none (``name`` is the key named in
        the message, e.g. ``training.device``).
    """
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"{name}: not a torch device: {device!r}") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{name}: {device!r} requested but torch sees no CUDA device on this machine")
    return dev


def _derived_seed(seed: int, stream: int) -> int:
    """An independent 63-bit seed for one random stream of the run (SeedSequence hashing)."""
    return int(np.random.SeedSequence([seed, stream]).generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


@contextlib.contextmanager
def _runtime(device: torch.device, num_threads: int | None):
    """Set the thread count and cuDNN determinism for the call, restoring the caller's settings."""
    old_threads = torch.get_num_threads()
    old_cudnn = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    old_det = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    try:
        if num_threads is not None:
            torch.set_num_threads(num_threads)
        if device.type == "cuda":
            # The CPU kernels used here are deterministic already; on CUDA ask for deterministic kernels and
            # warn (not fail) where none exists (e.g. the backward of adaptive average pooling). cuBLAS is
            # deterministic only with a fixed workspace, read once, when the process first uses cuBLAS:
            # effective for a training job in its own process (the workflow's), else left to the caller.
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.backends.cudnn.deterministic = True
            torch.backends.cudnn.benchmark = False
            torch.use_deterministic_algorithms(True, warn_only=True)
        yield
    finally:
        torch.set_num_threads(old_threads)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = old_cudnn
        torch.use_deterministic_algorithms(old_det[0], warn_only=old_det[1])


def _all_finite(model: nn.Module) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, device: torch.device) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on (x, y), in evaluation mode, in batches of 1024."""
    was_training = model.training
    model.eval()
    total_loss, correct = 0.0, 0
    for start in range(0, x.shape[0], _EVAL_BATCH):
        xb = x[start : start + _EVAL_BATCH].to(device)
        yb = y[start : start + _EVAL_BATCH].to(device)
        logits = model(xb)
        total_loss += float(nn.functional.cross_entropy(logits, yb, reduction="sum"))
        correct += int((logits.argmax(1) == yb).sum())
    model.train(was_training)
    n = max(int(x.shape[0]), 1)
    return total_loss / n, correct / n


def _write_metrics(rows: list[dict], path: Path) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=METRIC_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row[k] for k in METRIC_COLUMNS})
    write_text_atomic(buf.getvalue(), path)


def _check_args(
    model_name: str,
    batch_size: int,
    seed: int,
    epochs: int,
    lr: float | None,
    lr_scale: float,
    momentum: float,
    weight_decay: float,
    schedule: str,
    init: str,
    snapshot_epochs: Iterable[int],
    num_threads: int | None,
) -> tuple[str, float, tuple[int, ...]]:
    arch = str(model_name).lower()
    if arch not in ARCHITECTURES:
        raise ValueError(f"model_name: unknown architecture {model_name!r}; expected one of {ARCHITECTURES}")

    def is_int(v: Any) -> bool:
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

    if not is_int(batch_size) or batch_size <= 0:
        raise ValueError(f"batch_size: expected a positive integer, got {batch_size!r}")
    if not is_int(seed) or seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
    if not is_int(epochs) or epochs < 0:
        raise ValueError(f"epochs: expected a non-negative integer, got {epochs!r}")
    if lr is None and (
        isinstance(lr_scale, bool)
        or not isinstance(lr_scale, (int, float))
        or not math.isfinite(lr_scale)
        or lr_scale <= 0
    ):
        raise ValueError(f"lr_scale: expected a positive finite number, got {lr_scale!r}")
    lr_value = lr_scale / batch_size if lr is None else lr
    if not isinstance(lr_value, (int, float)) or not math.isfinite(lr_value) or lr_value <= 0:
        raise ValueError(f"lr: expected a positive finite number or None, got {lr!r}")
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum: expected 0 ≤ momentum < 1, got {momentum!r}")
    if not weight_decay >= 0:
        raise ValueError(f"weight_decay: expected ≥ 0, got {weight_decay!r}")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule: unknown {schedule!r}; expected one of {SCHEDULES}")
    if init not in INITS:
        raise ValueError(f"init: unknown initialisation {init!r}; expected one of {INITS}")
    snaps = tuple(sorted({int(e) for e in snapshot_epochs}))
    if any(not (1 <= e <= epochs) for e in snaps):
        raise ValueError(f"snapshot_epochs: every epoch must lie in 1..{epochs}, got {list(snapshot_epochs)}")
    if num_threads is not None and (not is_int(num_threads) or num_threads < 1):
        raise ValueError(f"num_threads: expected a positive integer or None, got {num_threads!r}")
    return arch, float(lr_value), snaps


# --------------------------------------------------------------------------------------------------
# training


#: a run whose final training accuracy is within this of chance (the majority class's share) has collapsed
COLLAPSE_MARGIN = 0.05
#: ... and so has one whose final training accuracy fell this far below the best it reached (it unlearned)
COLLAPSE_DROP = 0.2
#: a run that made at least this share of its total loss drop (from ln(classes), the loss at chance) in the last
#: fifth of its epochs (at least the last UNDERTRAINED_MIN_EPOCHS) was still learning: undertrained
UNDERTRAINED_SHARE = 0.05
UNDERTRAINED_MIN_EPOCHS = 2


def training_outcome(rows: list[dict], num_classes: int, chance: float) -> tuple[str, str]:
    r"""Name how a finished (not diverged) run ended: ``"ok"``, ``"collapsed"`` or ``"undertrained"``.

    With the training loss :math:`\ell_e` and accuracy :math:`a_e` of epoch e = 1..E, C classes and
    k = max(``UNDERTRAINED_MIN_EPOCHS``, ceil(E/5)):

    - ``"collapsed"``: the network stopped learning: :math:`a_E \le` ``chance + COLLAPSE_MARGIN`` (``chance`` is
      the share of the most frequent class, the accuracy of a constant prediction), or it unlearned:
      :math:`a_E \le \max_e a_e -` ``COLLAPSE_DROP``.
    - ``"undertrained"``: the loss was still falling at the end: the share of the total drop made in the last k
      epochs, :math:`(\min_{e \le E-k}\ell_e - \ell_E)/(\ln C - \ell_E)`, is at least ``UNDERTRAINED_SHARE``.
      Converged runs drive a tiny loss towards 0 by ever smaller steps (a relative criterion would call them
      undertrained), and a slow plateau far from 0 is caught although its relative drop is small; the minimum
      over the earlier epochs keeps a noisy run that makes no new low from counting.
    - ``"ok"`` otherwise, and for runs too short to judge (at most k epochs).

    The thresholds come from the trials behind the default sweep (config/README.md): collapsed runs ended at
    training accuracy 0.08-0.11, learned ones at >= 0.9; converged runs made <= 2.4% of their drop in the last
    fifth, runs still learning 5.6-79%.

    Returns
    -------
    (status, reason) : tuple of str
    """
    if not rows:
        return "ok", "no epoch run"
    accs = [float(r["train_acc"]) for r in rows]
    acc = accs[-1]
    if acc <= chance + COLLAPSE_MARGIN:
        return "collapsed", (
            f"final training accuracy {acc:.3f} is within {COLLAPSE_MARGIN:g} of chance ({chance:.3f}, the largest "
            "class's share)"
        )
    if acc <= max(accs) - COLLAPSE_DROP:
        return (
            "collapsed",
            f"final training accuracy {acc:.3f} fell from its best {max(accs):.3f}: it unlearned",
        )
    k = max(UNDERTRAINED_MIN_EPOCHS, math.ceil(len(rows) / 5))
    if len(rows) > k:
        losses = [float(r["train_loss"]) for r in rows]
        total = math.log(num_classes) - losses[-1]
        share = (min(losses[:-k]) - losses[-1]) / total if total > 0 else 0.0
        if share >= UNDERTRAINED_SHARE:
            return "undertrained", (
                f"training loss still falling: {share:.1%} of its total drop came in the last {k} epochs "
                f"(limit {UNDERTRAINED_SHARE:.0%})"
            )
    return "ok", ""


def train(
    model_name: str,
    subset_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    batch_size: int,
    seed: int,
    epochs: int,
    lr: float | None = None,
    lr_scale: float = LR_SCALE,
    momentum: float = 0.9,
    weight_decay: float = 1e-4,
    schedule: str = "none",
    init: str = "default",
    snapshot_epochs: Iterable[int] = (),
    device: str = "auto",
    num_threads: int | None = None,
    resume_dir: str | os.PathLike | None = None,
    log: Callable[[str], Any] = print,
) -> dict:
    """Train one architecture on one subset with SGD, resumably and deterministically.

    Parameters
    ----------
    model_name : str
        One of :data:`htmu.study.models.ARCHITECTURES`.
    subset_path : path-like
        Subset file from :func:`htmu.study.data.write_subset`.
    out_dir : path-like
        Output directory (created); see the module docstring for its files.
    batch_size : int
        Mini-batch size B ≥ 1; the last batch of an epoch may be smaller (n mod B).
    seed : int
        Seeds the initial weights and the mini-batch order.
    epochs : int
        Number of passes over the training set (0 writes the initial model only).
    lr : float, optional
        SGD learning rate η; ``None`` gives η = ``lr_scale``/B.
    lr_scale : float
        Numerator of the batch-size rule η = lr_scale/B used when ``lr`` is None; the default 2.0 gives
        η = 2/B, the sweep rule of the paper.
    momentum, weight_decay : float
        SGD heavy-ball momentum and L2 weight decay (PyTorch convention: added to the gradient).
    schedule : {"none", "cosine"}
        ``"cosine"``: η_e = η/2 · (1 + cos(π e/epochs)) for epoch e = 0..epochs−1 (``CosineAnnealingLR``,
        stepped per epoch).
    init : {"default", "fan_in"}
        See :func:`htmu.study.models.build_model`.
    snapshot_epochs : iterable of int
        Epochs (1..epochs) after which ``model_epoch{E}.pt`` is written.
    device : str
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...
    num_threads : int, optional
        CPU threads for the call (``torch.set_num_threads``, restored afterwards).
    resume_dir : path-like, optional
        Folder of the resume state (``checkpoint.pt`` and the snapshots taken so far), created; default
        ``out_dir``. A workflow that deletes the outputs of an interrupted job should put it elsewhere.
    log : callable
        Receives one progress line per epoch.

    Returns
    -------
    dict
        ``status`` ("ok", "diverged", "collapsed" or "undertrained"; see :func:`training_outcome`),
        ``status_reason``, ``chance_accuracy``, ``final_train_loss``, ``final_train_acc``, ``final_test_loss``,
        ``final_test_acc``, ``epochs_run``, ``diverged_at_epoch`` (None if not), ``device``, ``wall_s`` (the
        training time summed over resumed sessions), ``resumed_from_epoch`` and the arguments.

    Raises
    ------
    ValueError
        Unknown architecture, bad batch size or other argument, or a data set the architecture cannot feed
        (input shape other than 3×32×32, labels outside 0..num_classes−1).
    """
    arch, lr_value, snaps = _check_args(
        model_name,
        batch_size,
        seed,
        epochs,
        lr,
        lr_scale,
        momentum,
        weight_decay,
        schedule,
        init,
        snapshot_epochs,
        num_threads,
    )
    dev = resolve_device(device)
    subset = load_subset(subset_path)
    num_classes = int(subset.meta["num_classes"])
    for split, x, y in (("train", subset.x_train, subset.y_train), ("test", subset.x_test, subset.y_test)):
        if tuple(x.shape[1:]) != INPUT_SHAPE:
            raise ValueError(
                f"subset_path: architecture {arch!r} needs {INPUT_SHAPE} inputs, the {split} set has {tuple(x.shape[1:])}"
            )
        if y.numel() and (int(y.min()) < 0 or int(y.max()) >= num_classes):
            raise ValueError(
                f"subset_path: {split} labels span {int(y.min())}..{int(y.max())}, outside the {num_classes} classes "
                f"architecture {arch!r} is built with"
            )
    if subset.x_train.shape[0] == 0:
        raise ValueError("subset_path: the training set is empty")

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    args = {
        "arch": arch,
        "subset": str(Path(subset_path).resolve()),
        "subset_seed": int(subset.meta["seed"]),
        "n_train": int(subset.x_train.shape[0]),
        "batch_size": int(batch_size),
        "seed": int(seed),
        "epochs": int(epochs),
        "lr": lr_value,
        "momentum": float(momentum),
        "weight_decay": float(weight_decay),
        "schedule": schedule,
        "init": init,
        "snapshot_epochs": list(snaps),
    }
    resume = out if resume_dir is None else Path(resume_dir)
    resume.mkdir(parents=True, exist_ok=True)
    with _runtime(dev, num_threads):
        return _train(subset, out, resume, args, num_classes, dev, log)


def _load_resume_state(resume: Path, args: dict, log) -> dict | None:
    """The checkpoint in ``resume`` if it was written with ``args`` and its snapshots are intact, else None."""
    ckpt_path = resume / "checkpoint.pt"
    if not ckpt_path.exists():
        return None
    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    if ckpt.get("version") != CHECKPOINT_VERSION or ckpt.get("args") != args:
        log(f"[{args['arch']}] ignoring {ckpt_path}: written with other arguments; starting afresh")
        return None
    for epoch, digest in ckpt["snapshots"].items():
        snap = resume / f"model_epoch{epoch}.pt"
        if not snap.exists() or _sha256(snap) != digest:
            log(
                f"[{args['arch']}] ignoring {ckpt_path}: snapshot {snap} is missing or changed; starting afresh"
            )
            return None
    return ckpt


@dataclass
class _Session:
    """One training session's state: what a checkpoint saves and a resume restores, and the clock."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    shuffle: torch.Generator
    rows: list[dict] = field(default_factory=list)  # metrics.csv so far
    snapshots: dict[int, str] = field(
        default_factory=dict
    )  # epoch -> SHA-256 of resume/model_epoch{epoch}.pt
    start_epoch: int = 0
    wall_before: float = 0.0  # training time of the earlier sessions
    resumed_from: int | None = None
    t_session: float = 0.0

    def wall(self) -> float:
        return self.wall_before + time.perf_counter() - self.t_session


def _start(
    args: dict, num_classes: int, dev: torch.device, out: Path, resume: Path, header: dict, log
) -> _Session:
    """Build the model, optimiser and shuffling generator; write model_init.pt; resume from a valid checkpoint."""
    model = build_model(args["arch"], num_classes=num_classes, init=args["init"], seed=args["seed"]).to(dev)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=args["lr"], momentum=args["momentum"], weight_decay=args["weight_decay"]
    )
    scheduler = (
        torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(args["epochs"], 1))
        if args["schedule"] == "cosine"
        else None
    )
    s = _Session(model, optimizer, scheduler, torch.Generator().manual_seed(_derived_seed(args["seed"], 1)))
    # Written on resume too: the interrupted job's outputs may have been deleted.
    save_model(model, out / "model_init.pt", {**header, "epoch": 0, "status": "ok"})
    ckpt = _load_resume_state(resume, args, log)
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(ckpt["scheduler"])
        s.shuffle.set_state(ckpt["shuffle_rng"])
        s.start_epoch, s.rows, s.wall_before = (
            int(ckpt["epoch"]),
            list(ckpt["metrics"]),
            float(ckpt["wall_s"]),
        )
        s.snapshots = dict(ckpt["snapshots"])
        s.resumed_from = s.start_epoch
        log(f"[{args['arch']}] resuming from {resume / 'checkpoint.pt'} at epoch {s.start_epoch}")
    return s


def _one_epoch(s: _Session, x: torch.Tensor, y: torch.Tensor, batch_size: int, dev: torch.device):
    """One pass of SGD over (x, y) in the session's shuffled order: (loss sum, correct, finite loss)."""
    n = x.shape[0]
    s.model.train()
    perm = torch.randperm(n, generator=s.shuffle).to(dev)
    loss_sum = torch.zeros((), dtype=torch.float64, device=dev)
    correct = torch.zeros((), dtype=torch.int64, device=dev)
    for start in range(0, n, batch_size):
        idx = perm[start : start + batch_size]
        xb, yb = x[idx], y[idx]
        logits = s.model(xb)
        loss = nn.functional.cross_entropy(logits, yb)
        if not torch.isfinite(loss):
            return loss_sum, correct, False
        s.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        s.optimizer.step()
        loss_sum += loss.detach().double() * idx.numel()
        correct += (logits.detach().argmax(1) == yb).sum()
    return loss_sum, correct, True


def _save_checkpoint(s: _Session, args: dict, epoch: int, path: Path) -> None:
    _save_torch(
        {
            "version": CHECKPOINT_VERSION,
            "args": args,
            "epoch": epoch,
            "model": {k: v.detach().cpu() for k, v in s.model.state_dict().items()},
            "optimizer": s.optimizer.state_dict(),
            "scheduler": s.scheduler.state_dict() if s.scheduler is not None else None,
            "shuffle_rng": s.shuffle.get_state(),
            "metrics": s.rows,
            "snapshots": s.snapshots,
            "wall_s": s.wall(),
        },
        path,
    )


def _train(subset, out: Path, resume: Path, args: dict, num_classes: int, dev: torch.device, log) -> dict:
    """The epochs of :func:`train` (see its module notes: resume, divergence, outcome)."""
    arch, epochs = args["arch"], args["epochs"]
    header = {"arch": arch, "num_classes": num_classes, "init": args["init"], "seed": args["seed"]}
    s = _start(args, num_classes, dev, out, resume, header, log)
    status, diverged_at = "ok", None
    n = subset.x_train.shape[0]
    x_train, y_train = subset.x_train.to(dev), subset.y_train.to(dev)
    s.t_session = time.perf_counter()
    epoch = s.start_epoch
    for epoch in range(s.start_epoch + 1, epochs + 1):
        t0 = time.perf_counter()
        lr_now = s.optimizer.param_groups[0]["lr"]
        loss_sum, correct, finite = _one_epoch(s, x_train, y_train, args["batch_size"], dev)
        if not finite or not _all_finite(s.model):
            status, diverged_at = "diverged", epoch
            train_loss, train_acc, test_loss, test_acc = math.nan, math.nan, math.nan, math.nan
        else:
            train_loss, train_acc = float(loss_sum) / n, int(correct) / n
            test_loss, test_acc = evaluate(s.model, subset.x_test, subset.y_test, dev)
            if s.scheduler is not None:
                s.scheduler.step()
        wall = time.perf_counter() - t0
        s.rows.append({"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc, "test_loss": test_loss,
                       "test_acc": test_acc, "lr": lr_now, "wall_s": wall})  # fmt: skip
        log(
            f"[{arch}] epoch {epoch}/{epochs} train_loss {train_loss:.4f} train_acc {train_acc:.4f} "
            f"test_loss {test_loss:.4f} test_acc {test_acc:.4f} lr {lr_now:.4g} {wall:.2f}s"
            + (" DIVERGED" if status == "diverged" else "")
        )
        if status == "diverged":
            break
        if epoch in args["snapshot_epochs"]:
            snap = resume / f"model_epoch{epoch}.pt"
            save_model(s.model, snap, {**header, "epoch": epoch, "status": "ok"})
            s.snapshots[epoch] = _sha256(snap)
        if epoch < epochs:
            _save_checkpoint(s, args, epoch, resume / "checkpoint.pt")
    return _finish(s, subset, out, resume, args, header, dev, status, diverged_at, epoch)


def _finish(s: _Session, subset, out: Path, resume: Path, args: dict, header: dict, dev: torch.device,
            status: str, diverged_at: int | None, epoch: int) -> dict:  # fmt: skip
    """Name the outcome, write the final files and the summary, then delete the resume state."""
    num_classes = header["num_classes"]
    chance = float(torch.bincount(subset.y_train, minlength=num_classes).max()) / max(
        int(subset.y_train.numel()), 1
    )
    if status == "diverged":
        reason = f"non-finite loss or weights at epoch {diverged_at}"
    else:
        status, reason = training_outcome(s.rows, num_classes, chance)
    final_header = {**header, "epoch": len(s.rows), "status": status}
    separate = resume.resolve() != out.resolve()
    if separate:
        for e in s.snapshots:
            _copy_file(resume / f"model_epoch{e}.pt", out / f"model_epoch{e}.pt")
    if status == "diverged":
        for e in args["snapshot_epochs"]:
            if e >= epoch:
                save_model(s.model, out / f"model_epoch{e}.pt", {**final_header, "requested_epoch": e})
    save_model(s.model, out / "model_final.pt", final_header)
    _write_metrics(s.rows, out / "metrics.csv")
    if s.rows:
        last = s.rows[-1]
        train_loss, train_acc, test_loss, test_acc = (last[k] for k in ("train_loss", "train_acc", "test_loss",
                                                                        "test_acc"))  # fmt: skip
    else:
        train_loss, train_acc = evaluate(s.model, subset.x_train, subset.y_train, dev)
        test_loss, test_acc = evaluate(s.model, subset.x_test, subset.y_test, dev)
    summary = {
        "status": status, "status_reason": reason, "chance_accuracy": chance, "final_train_loss": train_loss,
        "final_train_acc": train_acc, "final_test_loss": test_loss, "final_test_acc": test_acc,
        "epochs_run": len(s.rows), "diverged_at_epoch": diverged_at, "device": str(dev), "wall_s": s.wall(),
        "resumed_from_epoch": s.resumed_from, "num_classes": num_classes, **args,
    }  # fmt: skip
    # NaN is not JSON: a diverged run's losses are written as null.
    clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in summary.items()}
    write_text_atomic(json.dumps(clean, indent=2, sort_keys=True) + "\n", out / "summary.json")
    # The checkpoint first: without it the snapshot copies are never trusted again.
    (resume / "checkpoint.pt").unlink(missing_ok=True)
    if separate:
        for e in s.snapshots:
            (resume / f"model_epoch{e}.pt").unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # not empty: something else lives there
            resume.rmdir()
    return summary
