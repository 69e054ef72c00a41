"""Training loop: files, determinism, bitwise resume, divergence, argument checks (LeNet on tiny subsets)."""

from __future__ import annotations

import csv
import json
import math

import pytest
import torch

import htmu.study.train as train_mod
from htmu.study.data import Subset, write_subset
from htmu.study.models import build_model
from htmu.study.train import METRIC_COLUMNS, load_checkpoint, train


def _quiet(_line: str) -> None:
    pass


def _weights(path):
    return torch.load(path, weights_only=True)["state_dict"]


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _read_metrics(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def test_outputs_and_headers(digits_subset, tmp_path):
    lines = []
    summary = train(
        "lenet",
        digits_subset,
        tmp_path,
        batch_size=32,
        seed=0,
        epochs=2,
        snapshot_epochs=(1,),
        log=lines.append,
        num_threads=1,
        device="cpu",  # the CPU path also on a GPU machine (the CUDA one is in test_cuda.py)
    )
    assert summary["status"] == "ok" and summary["epochs_run"] == 2 and summary["diverged_at_epoch"] is None
    assert summary["device"] == "cpu" and summary["lr"] == pytest.approx(2.0 / 32)  # lr = lr_scale / B
    names = sorted(p.name for p in tmp_path.iterdir())
    # checkpoint.pt is removed after a completed run; no temporary files left behind
    assert names == ["metrics.csv", "model_epoch1.pt", "model_final.pt", "model_init.pt", "summary.json"]
    assert len(lines) == 2 and "epoch 2/2" in lines[1] and "lr" in lines[1]

    rows = _read_metrics(tmp_path / "metrics.csv")
    assert list(rows[0]) == list(METRIC_COLUMNS) and [int(r["epoch"]) for r in rows] == [1, 2]
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk["final_test_acc"] == summary["final_test_acc"] == float(rows[-1]["test_acc"])

    init = build_model("lenet", seed=0).state_dict()
    assert _same(_weights(tmp_path / "model_init.pt"), init)

    model, header = load_checkpoint(tmp_path / "model_final.pt")
    assert header == {
        "arch": "lenet",
        "num_classes": 10,
        "init": "default",
        "seed": 0,
        "epoch": 2,
        "status": "ok",
    }
    assert load_checkpoint(tmp_path / "model_epoch1.pt")[1]["epoch"] == 1
    # the reloaded model reproduces the reported test figures, recomputed here with a plain loop
    from htmu.study.data import load_subset

    sub = load_subset(digits_subset)
    with torch.no_grad():
        logits = model(sub.x_test)
    assert float(torch.nn.functional.cross_entropy(logits, sub.y_test)) == pytest.approx(
        summary["final_test_loss"], rel=1e-5
    )
    assert float((logits.argmax(1) == sub.y_test).double().mean()) == pytest.approx(summary["final_test_acc"])
    assert summary["final_train_acc"] > 0.2  # it learns something in two epochs (chance is 0.1)


def test_same_seed_same_bits_and_seed_matters(digits_subset, tmp_path):
    kw = dict(batch_size=50, epochs=1, log=_quiet, num_threads=1, device="cpu")  # bits promised on the CPU
    train("lenet", digits_subset, tmp_path / "a", seed=3, **kw)
    train("lenet", digits_subset, tmp_path / "b", seed=3, **kw)
    train("lenet", digits_subset, tmp_path / "c", seed=4, **kw)
    a, b, c = (_weights(tmp_path / k / "model_final.pt") for k in "abc")
    assert _same(a, b)
    assert not torch.equal(a["fc1.weight"], c["fc1.weight"])
    assert (tmp_path / "a" / "metrics.csv").read_text().split("\n")[1].split(",")[:5] == (
        (tmp_path / "b" / "metrics.csv").read_text().split("\n")[1].split(",")[:5]
    )


class Crash(Exception):
    pass


@pytest.mark.parametrize("separate", [False, True], ids=["resume-in-out-dir", "resume-dir-outputs-deleted"])
def test_resume_is_bit_identical(digits_subset, tmp_path, separate):
    kw = dict(
        batch_size=32,
        seed=1,
        epochs=4,
        schedule="cosine",
        snapshot_epochs=(1, 3),
        num_threads=1,
        device="cpu",
    )
    train("lenet", digits_subset, tmp_path / "full", log=_quiet, **kw)
    out = tmp_path / "resumed"
    resume = tmp_path / "resume" / "run" if separate else out

    def crash_in_epoch_4(line: str) -> None:
        if "epoch 4/4" in line:  # after the epoch-3 checkpoint and snapshot were written
            raise Crash

    with pytest.raises(Crash):
        train("lenet", digits_subset, out, log=crash_in_epoch_4, resume_dir=resume, **kw)
    assert (resume / "checkpoint.pt").exists() and not (out / "model_final.pt").exists()
    if separate:
        # as Snakemake does with the outputs of an interrupted job: everything in out/ is gone
        assert sorted(p.name for p in resume.iterdir()) == [
            "checkpoint.pt",
            "model_epoch1.pt",
            "model_epoch3.pt",
        ]
        for path in out.iterdir():
            path.unlink()
    lines = []
    summary = train("lenet", digits_subset, out, log=lines.append, resume_dir=resume, **kw)
    assert "resuming" in lines[0] and summary["resumed_from_epoch"] == 3 and summary["epochs_run"] == 4
    assert len(lines) == 2  # the resume line and epoch 4: epochs 1-3 were not trained again
    names = [
        "metrics.csv",
        "model_epoch1.pt",
        "model_epoch3.pt",
        "model_final.pt",
        "model_init.pt",
        "summary.json",
    ]
    assert sorted(p.name for p in out.iterdir()) == names  # every output, and no checkpoint left
    if separate:
        assert not resume.exists()  # the resume folder is removed after success
    for name in names[1:5]:
        # byte-identical files: same weights, same header, same serialisation
        assert (tmp_path / "full" / name).read_bytes() == (out / name).read_bytes(), name
    full, resumed = (_read_metrics(tmp_path / k / "metrics.csv") for k in ("full", "resumed"))
    drop_time = [{k: v for k, v in r.items() if k != "wall_s"} for r in full]
    assert drop_time == [{k: v for k, v in r.items() if k != "wall_s"} for r in resumed]
    # cosine schedule: η_e = η/2 (1 + cos(π e / E)), e = 0, 1, 2, 3
    lr0 = 2.0 / 32
    for e, row in enumerate(full):
        assert float(row["lr"]) == pytest.approx(lr0 / 2 * (1 + math.cos(math.pi * e / 4)))


def test_checkpoint_with_a_changed_snapshot_is_not_resumed(digits_subset, tmp_path):
    kw = dict(batch_size=64, seed=0, epochs=3, snapshot_epochs=(1,), num_threads=1, device="cpu")
    resume = tmp_path / "resume"

    def crash_in_epoch_3(line: str) -> None:
        if "epoch 3/3" in line:
            raise Crash

    with pytest.raises(Crash):
        train("lenet", digits_subset, tmp_path / "out", log=crash_in_epoch_3, resume_dir=resume, **kw)
    snap = resume / "model_epoch1.pt"
    snap.write_bytes(snap.read_bytes() + b"\0")  # no longer the file the checkpoint vouches for
    lines = []
    summary = train("lenet", digits_subset, tmp_path / "out", log=lines.append, resume_dir=resume, **kw)
    assert "ignoring" in lines[0] and "model_epoch1.pt" in lines[0] and summary["resumed_from_epoch"] is None
    train("lenet", digits_subset, tmp_path / "fresh", log=_quiet, **kw)
    for name in ("model_epoch1.pt", "model_final.pt"):
        assert (tmp_path / "out" / name).read_bytes() == (tmp_path / "fresh" / name).read_bytes()


def test_checkpoint_with_other_arguments_is_not_resumed(digits_subset, tmp_path):
    def crash_in_epoch_2(line: str) -> None:
        if "epoch 2/2" in line:
            raise Crash

    with pytest.raises(Crash):
        train(
            "lenet",
            digits_subset,
            tmp_path,
            batch_size=64,
            seed=0,
            epochs=2,
            log=crash_in_epoch_2,
            num_threads=1,
        )
    lines = []
    summary = train(
        "lenet", digits_subset, tmp_path, batch_size=64, seed=9, epochs=2, log=lines.append, num_threads=1
    )
    assert "ignoring" in lines[0] and summary["resumed_from_epoch"] is None
    fresh = tmp_path / "fresh"
    train("lenet", digits_subset, fresh, batch_size=64, seed=9, epochs=2, log=_quiet, num_threads=1)
    assert _same(_weights(tmp_path / "model_final.pt"), _weights(fresh / "model_final.pt"))


def test_divergence_is_recorded_not_raised(digits_subset, tmp_path):
    lines = []
    summary = train(
        "lenet",
        digits_subset,
        tmp_path,
        batch_size=20,
        seed=0,
        epochs=3,
        lr=1e6,
        snapshot_epochs=(1, 3),
        log=lines.append,
        num_threads=1,
    )
    assert (
        summary["status"] == "diverged" and summary["diverged_at_epoch"] == 1 and summary["epochs_run"] == 1
    )
    assert math.isnan(summary["final_train_loss"])
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk["status"] == "diverged" and on_disk["final_train_loss"] is None
    assert "DIVERGED" in lines[-1]
    for name in ("model_final.pt", "model_epoch1.pt", "model_epoch3.pt"):
        _, header = load_checkpoint(tmp_path / name)
        assert header["status"] == "diverged" and header["epoch"] == 1
    assert load_checkpoint(tmp_path / "model_epoch3.pt")[1]["requested_epoch"] == 3
    assert not (tmp_path / "checkpoint.pt").exists()
    assert len(_read_metrics(tmp_path / "metrics.csv")) == 1


def test_cifar10_end_to_end(tiny_cifar10, tmp_path):
    path = tmp_path / "c.npz"
    write_subset({"name": "cifar10", "n_train": 40, "n_test": 10, "root": str(tiny_cifar10["root"])}, 0, path)
    summary = train(
        "minialexnet", path, tmp_path / "run", batch_size=16, seed=0, epochs=1, init="fan_in", log=_quiet
    )
    assert summary["status"] in ("ok", "diverged", "collapsed", "undertrained") and summary["epochs_run"] == 1
    assert load_checkpoint(tmp_path / "run" / "model_init.pt")[1]["init"] == "fan_in"


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"model_name": "alexnet"}, "model_name"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": -4}, "batch_size"),
        ({"lr": -1.0}, "lr"),
        ({"lr_scale": 0.0}, "lr_scale"),
        ({"schedule": "step"}, "schedule"),
        ({"snapshot_epochs": (5,)}, "snapshot_epochs"),
        ({"init": "xavier"}, "init"),
        ({"device": "tpu"}, "device"),
    ],
)
def test_bad_arguments(digits_subset, tmp_path, kwargs, word):
    args = {"model_name": "lenet", "batch_size": 8, "seed": 0, "epochs": 2, "log": _quiet}
    args.update(kwargs)
    with pytest.raises(ValueError, match=word):
        train(subset_path=digits_subset, out_dir=tmp_path, **args)


def _fake_subset(shape=(3, 32, 32), num_classes=10, label=0):
    x = torch.zeros(4, *shape)
    y = torch.full((4,), label, dtype=torch.int64)
    meta = {"seed": 0, "num_classes": num_classes}
    return Subset(x, y, x, y, meta)


@pytest.mark.parametrize(
    ("subset", "match"),
    [(_fake_subset(shape=(1, 28, 28)), "inputs"), (_fake_subset(num_classes=10, label=12), "labels")],
)
def test_dataset_the_architecture_cannot_feed(monkeypatch, tmp_path, subset, match):
    monkeypatch.setattr(train_mod, "load_subset", lambda _path: subset)
    with pytest.raises(ValueError, match=match) as info:
        train("lenet", tmp_path / "x.npz", tmp_path / "out", batch_size=2, seed=0, epochs=1, log=_quiet)
    assert "lenet" in str(info.value)
    assert not (tmp_path / "out").exists()


def test_zero_epochs_writes_the_initial_model(digits_subset, tmp_path):
    summary = train(
        "lenet", digits_subset, tmp_path, batch_size=8, seed=2, epochs=0, lr_scale=4.0, log=_quiet
    )
    assert summary["epochs_run"] == 0 and summary["status"] == "ok" and summary["lr"] == pytest.approx(0.5)
    assert _same(_weights(tmp_path / "model_init.pt"), _weights(tmp_path / "model_final.pt"))
    assert _read_metrics(tmp_path / "metrics.csv") == []
    assert 0.0 <= summary["final_test_acc"] <= 1.0 and math.isfinite(summary["final_train_loss"])


def _rows(losses, accs):
    return [
        {"epoch": i + 1, "train_loss": l_, "train_acc": a}
        for i, (l_, a) in enumerate(zip(losses, accs, strict=True))
    ]


def test_training_outcome_criteria():
    from htmu.study.train import training_outcome

    # at chance (10 balanced classes): collapsed, whatever the loss does
    assert training_outcome(_rows([2.3] * 10, [0.11] * 10), 10, 0.1)[0] == "collapsed"
    # the majority class sets chance: 0.3 of the labels in one class, accuracy 0.33 is still chance
    assert training_outcome(_rows([1.0] * 10, [0.33] * 10), 10, 0.3)[0] == "collapsed"
    # unlearned: 0.98 at its best, 0.75 at the end
    status, why = training_outcome(_rows([0.5] * 10, [0.9, 0.98] + [0.9] * 7 + [0.75]), 10, 0.1)
    assert status == "collapsed" and "unlearned" in why
    # still learning: 0.6 of a total drop of 2.3 - 0.4 = 1.9 nats came in the last 2 of 10 epochs (32%)
    losses = [2.0, 1.6, 1.3, 1.1, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
    status, why = training_outcome(_rows(losses, [0.9] * 10), 10, 0.1)
    assert status == "undertrained" and "still falling" in why
    # a slow plateau far from 0: 1.50 -> 1.40 at the end is 11% of the drop from ln 10 (undertrained)
    losses = [2.2, 1.9, 1.7, 1.6, 1.55, 1.53, 1.52, 1.50, 1.45, 1.40]
    assert training_outcome(_rows(losses, [0.6] * 10), 10, 0.1)[0] == "undertrained"
    # converged: the loss halves near 0 (1e-4 -> 5e-5), a negligible share of the drop
    losses = [2.0, 1.0, 0.3, 0.05, 0.01, 1e-3, 5e-4, 2e-4, 1e-4, 5e-5]
    assert training_outcome(_rows(losses, [0.99] * 10), 10, 0.1) == ("ok", "")
    # noise without a new low does not count (min over the earlier epochs)
    losses = [2.0, 1.0, 0.3, 0.05, 0.01, 0.011, 0.012, 0.01, 0.02, 0.011]
    assert training_outcome(_rows(losses, [0.99] * 10), 10, 0.1) == ("ok", "")
    # too short to judge: ok
    assert training_outcome(_rows([2.0, 1.0], [0.5, 0.6]), 10, 0.1) == ("ok", "")


def test_a_run_that_does_not_learn_is_collapsed(digits_subset, tmp_path):
    # lr = 1e-6: one epoch leaves the network at chance; the summary names it, with the reason and chance
    s = train("lenet", digits_subset, tmp_path, batch_size=64, seed=0, epochs=1, lr=1e-6, device="cpu")
    assert s["status"] == "collapsed" and "chance" in s["status_reason"]
    assert 0.1 <= s["chance_accuracy"] < 0.2
    header = torch.load(tmp_path / "model_final.pt", weights_only=True)["header"]
    assert header["status"] == "collapsed"
