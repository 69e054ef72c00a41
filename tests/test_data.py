"""Subsets: digits, CIFAR-10 (through torchvision, offline on a tiny copy) and the synthetic task."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from htmu.study.data import load_subset, synthetic_basis, synthetic_task, validate_dataset_cfg, write_subset


def _raw_digits():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.images.astype(np.float64), bunch.target


def _bilinear_8_to_32(img: np.ndarray) -> np.ndarray:
    """Bilinear upsampling by 4 with half-pixel centres (align_corners=False), written out by hand."""
    src = (np.arange(32) + 0.5) / 4 - 0.5  # output pixel centre in input coordinates
    src = np.clip(src, 0, None)
    lo = np.minimum(np.floor(src).astype(int), 7)
    hi = np.minimum(lo + 1, 7)
    w = src - lo
    rows = img[lo, :] * (1 - w)[:, None] + img[hi, :] * w[:, None]
    return rows[:, lo] * (1 - w)[None, :] + rows[:, hi] * w[None, :]


def test_digits_subset_round_trip(tmp_path):
    path = tmp_path / "d.npz"
    meta = write_subset({"name": "digits", "n_train": 100, "n_test": 40}, 7, path)
    assert meta["n_train"] == 100 and meta["n_test"] == 40 and meta["num_classes"] == 10 and meta["seed"] == 7
    assert [p.name for p in tmp_path.iterdir()] == ["d.npz"]  # atomic write: no temporary left behind
    with np.load(path) as npz:
        assert set(npz.files) == {"train_indices", "test_indices", "seed", "config_json", "meta_json"}
        train_idx, test_idx = npz["train_indices"], npz["test_indices"]
        assert json.loads(str(npz["config_json"]))["name"] == "digits"
    assert len(set(train_idx) | set(test_idx)) == 140  # disjoint
    sub = load_subset(path)
    assert sub.x_train.shape == (100, 3, 32, 32) and sub.x_train.dtype == torch.float32
    assert sub.x_test.shape == (40, 3, 32, 32) and sub.y_test.dtype == torch.int64

    images, target = _raw_digits()
    assert np.array_equal(sub.y_train.numpy(), target[train_idx])
    assert np.array_equal(sub.y_test.numpy(), target[test_idx])
    # undo the normalisation and compare with a hand-written bilinear upsampling of the raw 8×8 image
    mean = np.asarray(sub.meta["channel_mean"])[:, None, None]
    std = np.asarray(sub.meta["channel_std"])[:, None, None]
    x0 = sub.x_train[0].double().numpy() * std + mean
    expected = _bilinear_8_to_32(images[train_idx[0]])
    for c in range(3):
        np.testing.assert_allclose(x0[c], expected, atol=1e-4)
    # normalised per channel on the training part
    np.testing.assert_allclose(sub.x_train.mean(dim=(0, 2, 3)).numpy(), 0, atol=1e-5)
    np.testing.assert_allclose(sub.x_train.std(dim=(0, 2, 3)).numpy(), 1, atol=1e-5)


def test_digits_defaults_and_seeds(tmp_path):
    meta = write_subset({"name": "digits"}, 0, tmp_path / "a.npz")
    assert (meta["n_train"], meta["n_test"]) == (1437, 360)
    write_subset({"name": "digits", "n_train": 50, "n_test": 20}, 1, tmp_path / "b.npz")
    write_subset({"name": "digits", "n_train": 50, "n_test": 20}, 1, tmp_path / "c.npz")
    write_subset({"name": "digits", "n_train": 50, "n_test": 20}, 2, tmp_path / "d.npz")
    b, c, d = (np.load(tmp_path / f"{k}.npz")["train_indices"] for k in "bcd")
    assert np.array_equal(b, c)
    assert not np.array_equal(b, d)


def test_cifar10_through_torchvision(tiny_cifar10, tmp_path):
    cfg = {"name": "cifar10", "n_train": 25, "n_test": 10, "root": str(tiny_cifar10["root"])}
    path = tmp_path / "c.npz"
    meta = write_subset(cfg, 3, path)
    assert meta["indices_source"] == "torchvision.datasets.CIFAR10"
    sub = load_subset(path)
    idx = np.load(path)["train_indices"]
    assert idx.max() < 60 and len(set(idx)) == 25
    # pixels: CIFAR rows are channel-major 3×1024, so row.reshape(3, 32, 32) is the CHW image
    raw = tiny_cifar10["train_data"][idx].reshape(-1, 3, 32, 32) / 255.0
    mean = raw.mean(axis=(0, 2, 3), keepdims=True)
    std = raw.std(axis=(0, 2, 3), keepdims=True, ddof=1)
    np.testing.assert_allclose(sub.x_train.numpy(), (raw - mean) / std, atol=1e-5)
    assert np.array_equal(sub.y_train.numpy(), tiny_cifar10["train_labels"][idx])
    test_idx = np.load(path)["test_indices"]
    assert np.array_equal(sub.y_test.numpy(), tiny_cifar10["test_labels"][test_idx])


def test_cifar10_all_points(tiny_cifar10, tmp_path):
    meta = write_subset(
        {"name": "cifar10", "n_train": None, "root": str(tiny_cifar10["root"])}, 0, tmp_path / "a.npz"
    )
    assert (meta["n_train"], meta["n_test"]) == (60, 20)


def test_cifar10_more_points_than_the_copy_has(tiny_cifar10, tmp_path):
    with pytest.raises(ValueError, match=r"dataset\.n_train"):
        write_subset(
            {"name": "cifar10", "n_train": 61, "root": str(tiny_cifar10["root"])}, 0, tmp_path / "a.npz"
        )


def test_cifar10_missing_copy_says_where_and_how(tmp_path):
    root = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="cifar-10-batches-py") as info:
        write_subset({"name": "cifar10", "n_train": 10, "root": str(root)}, 0, tmp_path / "x.npz")
    assert str(root) in str(info.value) and "download: true" in str(info.value)
    assert not (tmp_path / "x.npz").exists()


def test_synthetic_power_law_covariance(tmp_path):
    cfg = {"name": "synthetic", "n_train": 2000, "n_test": 10, "covariance": "power_law", "alpha": 1.0}
    task = synthetic_task(cfg)
    lam, teacher = task["eigenvalues"], task["teacher"]
    d = 3072
    k = np.arange(1, d + 1)
    np.testing.assert_allclose(lam / lam[0], k**-1.0)
    assert lam.mean() == pytest.approx(1.0)
    q = synthetic_basis(cfg)
    # orthogonal: Q preserves inner products (checked on 40 random vectors: a dense QᵀQ costs d³)
    u = np.random.default_rng(0).standard_normal((d, 40))
    np.testing.assert_allclose((q @ u).T @ (q @ u), u.T @ u, rtol=1e-10, atol=1e-8)
    np.testing.assert_allclose(np.linalg.norm(q, axis=0), 1.0, rtol=1e-12)
    assert teacher.shape == (10, d)

    path = tmp_path / "s.npz"
    write_subset(cfg, 0, path)
    sub = load_subset(path)
    assert sub.x_train.shape == (2000, 3, 32, 32) and sub.meta["indices_source"] == "generated"
    x = sub.x_train.reshape(2000, d).double().numpy()
    x = x * np.repeat(sub.meta["channel_std"], 1024)  # undo the per-channel scaling (the mean is ≈ 0)
    # variance along the eigenvector q_k is λ_k: a 2000-sample variance has relative sd √(2/2000) ≈ 3 %
    cols = [0, 1, 9, 99, 999]
    np.testing.assert_allclose((x @ q[:, cols]).var(axis=0), lam[cols], rtol=0.15)
    # labels are the teacher's argmax on the raw inputs
    raw = x + np.repeat(sub.meta["channel_mean"], 1024)
    agree = np.mean(sub.y_train.numpy() == np.argmax(raw @ teacher.T, axis=1))
    assert agree > 0.99  # float32 storage may flip a near-tie
    again = load_subset(path)
    assert torch.equal(again.x_train, sub.x_train)


def test_synthetic_isotropic_seeds(tmp_path):
    cfg = {"name": "synthetic", "n_train": 30, "n_test": 10, "covariance": "isotropic"}
    write_subset(cfg, 0, tmp_path / "a.npz")
    write_subset(cfg, 1, tmp_path / "b.npz")
    a, b = load_subset(tmp_path / "a.npz"), load_subset(tmp_path / "b.npz")
    assert a.meta["num_classes"] == 10 and not torch.equal(a.x_train, b.x_train)


@pytest.mark.parametrize(
    ("cfg", "key"),
    [
        ({"name": "mnist"}, "dataset.name"),
        ({"name": "digits", "n_train": 0}, "dataset.n_train"),
        ({"name": "digits", "n_train": 1500, "n_test": 360}, "dataset.n_train"),
        ({"name": "digits", "n_test": 2.5}, "dataset.n_test"),
        ({"name": "digits", "colour": True}, "dataset.colour"),
        ({"name": "cifar10", "download": "yes"}, "dataset.download"),
        ({"name": "synthetic", "n_train": 10}, "dataset.n_test"),
        ({"name": "synthetic", "n_train": 10, "n_test": 10, "covariance": "toeplitz"}, "dataset.covariance"),
        ({"name": "synthetic", "n_train": 10, "n_test": 10, "alpha": -1}, "dataset.alpha"),
        ({"name": "synthetic", "n_train": 10, "n_test": 10, "num_classes": 1}, "dataset.num_classes"),
    ],
)
def test_bad_config_names_the_key(cfg, key):
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        validate_dataset_cfg(cfg)


def test_bad_seed(tmp_path):
    with pytest.raises(ValueError, match="seed"):
        write_subset({"name": "digits"}, -1, tmp_path / "a.npz")
    assert os.listdir(tmp_path) == []
