"""Seeded data subsets: scikit-learn digits, CIFAR-10 and a synthetic power-law-covariance task.

A subset file (``.npz``) written by :func:`write_subset` holds the *indices* of the seeded random subset
into the source data set plus the data-set config as JSON, never the pixels; :func:`load_subset`
re-materialises the arrays from the source. Every subset is 3×32×32, float32, normalised per channel with
the mean and standard deviation of its own training part, with int64 labels.

Data sets (``dataset_cfg["name"]``)
-----------------------------------
``digits``
    scikit-learn's ``load_digits`` (1797 grey 8×8 images, 10 classes), upsampled to 32×32 (bilinear,
    ``torch.nn.functional.interpolate``, ``align_corners=False``) and repeated to 3 channels, so that
    MiniAlexNet's fc1 is 3072→1000 (γ = 0.3255) exactly as on CIFAR-10. There is no official split: a
    seeded permutation of the 1797 images gives the test set (its first ``n_test`` images, default 360,
    about 20 %) and the training set (the next ``n_train`` images, default all the remaining 1437).
``cifar10``
    ``torchvision.datasets.CIFAR10(root, train=..., download=...)``: ``n_train`` of the 50 000 training
    images and ``n_test`` of the 10 000 test images, drawn without replacement (``null`` = all).
``synthetic``
    x = Σ^{1/2} z, z ~ N(0, I_d), d = 3·32·32 = 3072, with Σ = Q diag(λ) Qᵀ: ``covariance="isotropic"`` gives
    λ_k = 1; ``"power_law"`` gives λ_k ∝ k^(−alpha), k = 1..d, scaled to mean 1 (tr Σ = d), Q a randomised
    orthogonal DCT basis (random signs and coordinate permutation of the orthonormal DCT; see
    :func:`synthetic_task`). Labels come from a fixed random linear teacher: y = argmax_c (T x)_c with
    T_{ci} ~ N(0, 1/d). Σ's basis Q and the teacher T are drawn from ``teacher_seed`` (default 0), fixed
    across subset seeds, so every seed samples the same task; the samples z are drawn from the subset's
    seed. The "indices" stored are 0..n−1 (the points are generated, not selected).
    This is the "power law in, power law out" factor of Hodgkinson, Wang & Mahoney (ICML 2025): a
    correlated input covariance with a power-law spectrum.

References
----------
.. [1] A. Krizhevsky, "Learning multiple layers of features from tiny images", 2009 (CIFAR-10).
.. [2] L. Hodgkinson, Z. Wang, M. W. Mahoney, "Models of Heavy-Tailed Mechanistic Universality", ICML 2025.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from htmu._io import atomic_path
from htmu.study.config import DIGITS_DEFAULT_TEST, DIGITS_SIZE, validate_dataset

IMAGE_SHAPE: tuple[int, int, int] = (3, 32, 32)
SUBSET_FORMAT_VERSION = 1


@dataclass(frozen=True)
class Subset:
    """A materialised subset: normalised float32 images N×3×32×32 and int64 labels.

    Attributes
    ----------
    x_train, y_train, x_test, y_test : torch.Tensor
    meta : dict
        ``name``, ``seed``, ``indices_source``, ``n_train``, ``n_test``, ``num_classes``, ``input_shape``,
        ``channel_mean``, ``channel_std`` (the normalisation, from the training part) and ``config``.
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    meta: dict = field(default_factory=dict)


def validate_dataset_cfg(dataset_cfg: dict) -> dict:
    """Check a data-set config and fill in its defaults, as the workflow does.

    The section is validated against the workflow's schema, which holds every default
    (:func:`htmu.study.config.validate_dataset`); for digits, null sizes then become numbers: the default test
    subset (:data:`htmu.study.config.DIGITS_DEFAULT_TEST` images) and the rest for training.

    Returns
    -------
    dict
        A new dict with every key of the data set's kind present.

    Raises
    ------
    ValueError
        Unknown ``name``, unknown key, or a bad value; the message names the key.
    """
    cfg = validate_dataset(dataset_cfg)
    if cfg["name"] == "digits":
        cfg["n_test"] = DIGITS_DEFAULT_TEST if cfg["n_test"] is None else cfg["n_test"]
        cfg["n_train"] = DIGITS_SIZE - cfg["n_test"] if cfg["n_train"] is None else cfg["n_train"]
    return cfg


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
    return int(seed)


# --------------------------------------------------------------------------------------------------
# sources


def _digits_images() -> tuple[np.ndarray, np.ndarray]:
    """All 1797 digits as float32 3×32×32 (unnormalised, pixel range 0..16) and int64 labels."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.as_tensor(bunch.images, dtype=torch.float32).unsqueeze(1)  # N×1×8×8
    x = torch.nn.functional.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False)
    x = x.repeat(1, 3, 1, 1)
    return x.numpy(), np.asarray(bunch.target, dtype=np.int64)


def _cifar10(root: str, train: bool, download: bool):
    """torchvision's CIFAR10, with a message that says where it looked and how to provide a copy."""
    import torchvision

    try:
        return torchvision.datasets.CIFAR10(root=root, train=train, download=download)
    except RuntimeError as err:  # torchvision: "Dataset not found or corrupted"
        where = Path(root).resolve() / "cifar-10-batches-py"
        raise FileNotFoundError(
            f"dataset.root: CIFAR-10 not found or corrupted at {where} ({err}). Provide a copy: point "
            "dataset.root at a directory containing 'cifar-10-batches-py' (the python version from "
            "https://www.cs.toronto.edu/~kriz/cifar.html), or set dataset.download: true where a network exists."
        ) from err


def _power_law_eigenvalues(d: int, alpha: float) -> np.ndarray:
    """λ_k = k^(−alpha), k = 1..d, scaled to mean 1 so that tr Σ = d."""
    lam = np.arange(1, d + 1, dtype=np.float64) ** (-alpha)
    return lam * (d / lam.sum())


def synthetic_task(cfg: dict) -> dict[str, np.ndarray]:
    """The fixed part of the synthetic task, drawn from ``cfg["teacher_seed"]``.

    Σ's eigenbasis is Q = diag(s) · P · C, with C the orthonormal inverse DCT-II matrix (DCT-III), P a random
    permutation of the d coordinates and s random signs: orthogonal, randomised, and applied in
    O(d log d) through ``scipy.fft.idct`` instead of a dense d×d product (a Haar-random Q would cost a
    3072×3072 QR per load). The teacher T is num_classes × d with N(0, 1/d) entries.

    Returns
    -------
    dict
        ``eigenvalues`` λ (d,), ``signs`` s (d,), ``permutation`` (d,), ``teacher`` T (num_classes, d).
    """
    cfg = validate_dataset_cfg(cfg)
    if cfg["name"] != "synthetic":
        raise ValueError(f"dataset.name: synthetic_task needs the synthetic data set, got {cfg['name']!r}")
    d = int(np.prod(IMAGE_SHAPE))
    rng = np.random.default_rng(np.random.SeedSequence([cfg["teacher_seed"], 0x5EED]))
    teacher = rng.standard_normal((cfg["num_classes"], d)) / np.sqrt(d)
    signs = rng.choice(np.array([-1.0, 1.0]), size=d)
    permutation = rng.permutation(d)
    lam = np.ones(d) if cfg["covariance"] == "isotropic" else _power_law_eigenvalues(d, cfg["alpha"])
    return {"eigenvalues": lam, "signs": signs, "permutation": permutation, "teacher": teacher}


def apply_synthetic_basis(task: dict[str, np.ndarray], u: np.ndarray) -> np.ndarray:
    """Rows u (n×d) ↦ rows Q u, with Q the orthogonal eigenbasis of :func:`synthetic_task`."""
    from scipy.fft import idct

    return idct(u, type=2, norm="ortho", axis=-1)[..., task["permutation"]] * task["signs"]


def synthetic_basis(cfg: dict) -> np.ndarray:
    """The explicit d×d eigenbasis Q of the synthetic task (column k is the k-th eigenvector of Σ)."""
    task = synthetic_task(cfg)
    d = task["eigenvalues"].size
    return apply_synthetic_basis(task, np.eye(d)).T


def _synthetic_arrays(cfg: dict, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    task = synthetic_task(cfg)
    lam, teacher = task["eigenvalues"], task["teacher"]
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xDA7A]))
    d = lam.size
    out = []
    for n in (cfg["n_train"], cfg["n_test"]):
        z = rng.standard_normal((n, d))
        x = apply_synthetic_basis(task, z * np.sqrt(lam))  # rows x = Q diag(√λ) z ~ N(0, Q diag(λ) Qᵀ)
        y = np.argmax(x @ teacher.T, axis=1).astype(np.int64)
        out += [x.reshape(n, *IMAGE_SHAPE).astype(np.float32), y]
    return out[0], out[1], out[2], out[3]


# --------------------------------------------------------------------------------------------------
# writing and loading


def _indices(cfg: dict, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x1D5]))
    name = cfg["name"]
    if name == "digits":
        perm = rng.permutation(DIGITS_SIZE)
        test = perm[: cfg["n_test"]]
        train = perm[cfg["n_test"] : cfg["n_test"] + cfg["n_train"]]
        return np.sort(train), np.sort(test), "sklearn.datasets.load_digits"
    if name == "cifar10":
        sizes = {}
        for split in ("train", "test"):
            # Opening the source here makes a missing copy fail when the subset is written, not later.
            sizes[split] = len(_cifar10(cfg["root"], split == "train", cfg["download"]).targets)
        picked = []
        for split in ("train", "test"):
            n = cfg[f"n_{split}"]
            if n is not None and n > sizes[split]:
                raise ValueError(
                    f"dataset.n_{split}: {n} exceeds the {sizes[split]} CIFAR-10 {split} images at {cfg['root']}"
                )
            picked.append(
                np.arange(sizes[split]) if n is None else np.sort(rng.choice(sizes[split], n, replace=False))
            )
        return picked[0], picked[1], "torchvision.datasets.CIFAR10"
    return np.arange(cfg["n_train"]), np.arange(cfg["n_test"]), "generated"


def _meta(cfg: dict, seed: int, train_idx: np.ndarray, test_idx: np.ndarray, source: str) -> dict:
    return {
        "name": cfg["name"],
        "seed": seed,
        "indices_source": source,
        "n_train": int(train_idx.size),
        "n_test": int(test_idx.size),
        "num_classes": int(
            cfg.get("num_classes", 10)
        ),  # only the synthetic task names it: 10 classes otherwise
        "input_shape": list(IMAGE_SHAPE),
        "config": cfg,
        "format_version": SUBSET_FORMAT_VERSION,
    }


def write_subset(dataset_cfg: dict, seed: int, path: str | os.PathLike) -> dict:
    """Draw the seeded subset and write its indices and config to ``path`` (``.npz``), atomically.

    Parameters
    ----------
    dataset_cfg : dict
        See the module docstring; checked by :func:`validate_dataset_cfg`.
    seed : int
        Non-negative seed of the subset draw (and, for ``synthetic``, of the samples).
    path : path-like
        Output file. Written to a temporary file in the same directory, then ``os.replace``-d.

    Returns
    -------
    dict
        The subset's meta data (see :class:`Subset`, without the normalisation constants).

    Raises
    ------
    ValueError
        Bad config or seed.
    FileNotFoundError
        CIFAR-10 requested and no copy found at ``dataset.root``.
    """
    cfg = validate_dataset_cfg(dataset_cfg)
    seed = _check_seed(seed)
    train_idx, test_idx, source = _indices(cfg, seed)
    meta = _meta(cfg, seed, train_idx, test_idx, source)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(
            fh,
            train_indices=train_idx.astype(np.int64),
            test_indices=test_idx.astype(np.int64),
            seed=np.int64(seed),
            config_json=np.array(json.dumps(cfg, sort_keys=True)),
            meta_json=np.array(json.dumps(meta, sort_keys=True)),
        )
    return meta


def load_subset(path: str | os.PathLike, *, root: str | os.PathLike | None = None) -> Subset:
    """Re-materialise a subset written by :func:`write_subset`.

    Parameters
    ----------
    path : path-like
        The ``.npz`` subset file.
    root : path-like, optional
        Override of ``dataset.root`` (CIFAR-10 only), for a copy that has moved since the subset was written.

    Returns
    -------
    Subset
        Images normalised per channel: x ← (x − μ_c)/σ_c with μ_c, σ_c the mean and standard deviation of
        channel c over the training images (all pixels).
    """
    with np.load(path, allow_pickle=False) as npz:
        train_idx = npz["train_indices"]
        test_idx = npz["test_indices"]
        seed = int(npz["seed"])
        cfg = json.loads(str(npz["config_json"]))
    cfg = validate_dataset_cfg(cfg)
    if root is not None:
        if cfg["name"] != "cifar10":
            raise ValueError(f"root: only meaningful for cifar10, the subset is {cfg['name']!r}")
        cfg["root"] = str(root)
    name = cfg["name"]
    if name == "digits":
        x, y = _digits_images()
        x_tr, y_tr, x_te, y_te = x[train_idx], y[train_idx], x[test_idx], y[test_idx]
        source = "sklearn.datasets.load_digits"
    elif name == "cifar10":
        arrays = []
        for split, idx in (("train", train_idx), ("test", test_idx)):
            ds = _cifar10(cfg["root"], split == "train", cfg["download"])
            if idx.size and idx.max() >= len(ds.targets):
                raise ValueError(
                    f"path: subset index {idx.max()} out of range for CIFAR-10 {split} at {cfg['root']}"
                )
            # ds.data is N×32×32×3 uint8
            arrays.append(np.ascontiguousarray(ds.data[idx].transpose(0, 3, 1, 2), dtype=np.float32) / 255.0)
            arrays.append(np.asarray(ds.targets, dtype=np.int64)[idx])
        x_tr, y_tr, x_te, y_te = arrays
        source = "torchvision.datasets.CIFAR10"
    else:
        x_tr, y_tr, x_te, y_te = _synthetic_arrays(cfg, seed)
        source = "generated"
    x_tr = torch.as_tensor(x_tr, dtype=torch.float32)
    x_te = torch.as_tensor(x_te, dtype=torch.float32)
    mean = x_tr.mean(dim=(0, 2, 3), keepdim=True)
    std = x_tr.std(dim=(0, 2, 3), keepdim=True)
    std = torch.where(std > 0, std, torch.ones_like(std))  # a constant channel is only centred
    meta = _meta(cfg, seed, train_idx, test_idx, source)
    meta["channel_mean"] = mean.flatten().tolist()
    meta["channel_std"] = std.flatten().tolist()
    return Subset(
        x_train=(x_tr - mean) / std,
        y_train=torch.as_tensor(y_tr, dtype=torch.int64),
        x_test=(x_te - mean) / std,
        y_test=torch.as_tensor(y_te, dtype=torch.int64),
        meta=meta,
    )
