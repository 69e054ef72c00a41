"""Shared fixtures: a tiny CIFAR-10 copy in CIFAR-10's own on-disk format, and small digits subsets."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import numpy as np
import pytest

TINY_CIFAR_PER_BATCH = 12  # images per data_batch_k (5 files → 60 training images)
TINY_CIFAR_TEST = 20
CIFAR_LABEL_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def write_tiny_cifar10(root: Path, seed: int = 0) -> dict:
    """Write ``root/cifar-10-batches-py`` with data_batch_1..5, test_batch and batches.meta.

    Each batch file is a pickled dict with ``data`` (uint8, N×3072, channel-major rows as in CIFAR-10) and
    ``labels`` (list of int), like the real files. (The real files were pickled by Python 2 with byte-string
    keys that torchvision reads back as ``str`` through ``encoding="latin1"``; pickling ``str`` keys here
    gives the same dict after loading.)

    Returns
    -------
    dict
        ``train_list``, ``test_list``, ``meta`` (with the tiny files' md5 sums, in torchvision's class
        attribute layout), and the arrays ``train_data``, ``train_labels``, ``test_data``, ``test_labels``.
    """
    rng = np.random.default_rng(seed)
    folder = Path(root) / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    train_list, train_data, train_labels = [], [], []
    for k in range(1, 6):
        data = rng.integers(0, 256, size=(TINY_CIFAR_PER_BATCH, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, size=TINY_CIFAR_PER_BATCH)]
        path = folder / f"data_batch_{k}"
        with open(path, "wb") as fh:
            pickle.dump(
                {"batch_label": f"training batch {k} of 5", "data": data, "labels": labels}, fh, protocol=2
            )
        train_list.append([path.name, _md5(path)])
        train_data.append(data)
        train_labels += labels
    test_data = rng.integers(0, 256, size=(TINY_CIFAR_TEST, 3072), dtype=np.uint8)
    test_labels = [int(v) for v in rng.integers(0, 10, size=TINY_CIFAR_TEST)]
    test_path = folder / "test_batch"
    with open(test_path, "wb") as fh:
        pickle.dump(
            {"batch_label": "testing batch 1 of 1", "data": test_data, "labels": test_labels}, fh, protocol=2
        )
    meta_path = folder / "batches.meta"
    with open(meta_path, "wb") as fh:
        pickle.dump(
            {"label_names": CIFAR_LABEL_NAMES, "num_cases_per_batch": TINY_CIFAR_PER_BATCH}, fh, protocol=2
        )
    return {
        "train_list": train_list,
        "test_list": [[test_path.name, _md5(test_path)]],
        "meta": {"filename": meta_path.name, "key": "label_names", "md5": _md5(meta_path)},
        "train_data": np.concatenate(train_data),
        "train_labels": np.asarray(train_labels, dtype=np.int64),
        "test_data": test_data,
        "test_labels": np.asarray(test_labels, dtype=np.int64),
    }


@pytest.fixture
def tiny_cifar10(tmp_path, monkeypatch):
    """A tiny CIFAR-10 copy under ``tmp_path / "cifar"``, with torchvision's md5 table pointed at it.

    torchvision checks the md5 sums of the real files in ``_check_integrity``; the class attributes
    ``train_list``, ``test_list`` and ``meta`` are monkeypatched (for this test only) with the tiny files'
    sums, so the production loading code runs unchanged and offline. Yields the dict of
    :func:`write_tiny_cifar10` plus ``root``.
    """
    import torchvision

    root = tmp_path / "cifar"
    info = write_tiny_cifar10(root)
    cls = torchvision.datasets.CIFAR10
    monkeypatch.setattr(cls, "train_list", info["train_list"])
    monkeypatch.setattr(cls, "test_list", info["test_list"])
    monkeypatch.setattr(cls, "meta", info["meta"])
    return {**info, "root": root}


@pytest.fixture(scope="session")
def digits_subset(tmp_path_factory):
    """A small digits subset file (200 train, 60 test images, seed 0), shared by the session."""
    from htmu.study.data import write_subset

    path = tmp_path_factory.mktemp("subsets") / "digits_200.npz"
    write_subset({"name": "digits", "n_train": 200, "n_test": 60}, 0, path)
    return path
