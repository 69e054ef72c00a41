"""CUDA paths against the CPU: spectra in float32 on the GPU vs float64 on the CPU, training on the GPU.

Skipped without a CUDA device (CI has none); run on a GPU machine with ``pytest tests/test_cuda.py``.

Tolerances, relative to the largest entry / eigenvalue, against the same weights in float64 on the CPU
(measured on an H100, torch 2.11, cuDNN 9.19, with ``benchmarks/cuda_agreement.py``):

* NTK Gram of a float32 model, 40 x 40: CUDA as htmu computes it is off by at most 3.4e-6 (entries) and
  8e-7 (eigenvalues) on LeNet (cuDNN's kernels for its 5 x 5 convolutions; 2.5e-7 with cuDNN off) and
  9e-7 / 4e-7 on ResNet9, against 2e-7 / 4e-8 for float32 on the CPU. With PyTorch's default TF32
  convolutions it is 3e-4 / 1.5e-4 on ResNet9 and MiniAlexNet. ``NTK_RTOL = 2e-5`` leaves a margin of 6x
  over the worst float32 case and fails TF32 by 7x.
* Conjugate kernel eigenvalues: 4e-8 (htmu), 1.2e-5 to 2.8e-5 with TF32: ``CK_RTOL = 1e-6``.
* Float64 computations (weights, exact Hessian) differ from the CPU only in summation order: measured
  6e-15 and 7e-16, bound 1e-10.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from htmu.spectra import ck_spectrum, hessian_spectrum, ntk_gram, weight_spectra
from htmu.study.models import build_model
from htmu.study.train import load_checkpoint, train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

NTK_RTOL = 2e-5  # relative to the largest entry / eigenvalue; see the module docstring
CK_RTOL = 1e-6
FLOAT64_RTOL = 1e-10


def _model(arch: str) -> nn.Module:
    """An htmu architecture with non-trivial BatchNorm running statistics (eval mode is observable)."""
    model = build_model(arch, num_classes=10, seed=0)
    gen = torch.Generator().manual_seed(1)
    for name, buf in model.named_buffers():
        if name.endswith("running_mean"):
            buf.copy_(0.1 * torch.randn(buf.shape, generator=gen))
        elif name.endswith("running_var"):
            buf.copy_(0.5 + torch.rand(buf.shape, generator=gen))
    return model


def _inputs(n: int) -> torch.Tensor:
    return torch.randn(n, 3, 32, 32, generator=torch.Generator().manual_seed(2))


def _tf32_flags() -> tuple:
    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    if hasattr(getattr(cudnn, "conv", None), "fp32_precision"):
        return cudnn.conv.fp32_precision, matmul.fp32_precision
    return cudnn.allow_tf32, matmul.allow_tf32


def _rel(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> float:
    a, b = (np.asarray(torch.as_tensor(t).cpu(), dtype=np.float64) for t in (a, b))
    return float(np.abs(a - b).max() / np.abs(b).max())


@pytest.mark.parametrize("arch", ["lenet", "resnet9"])
def test_ntk_on_cuda_matches_cpu_float64(arch: str) -> None:
    model, x = _model(arch), _inputs(4)
    ref, _ = ntk_gram(copy.deepcopy(model).double(), x.double(), max_memory_mb=8192)  # CPU, float64
    before = _tf32_flags()
    gram, plan = ntk_gram(model.cuda(), x.cuda(), max_memory_mb=1024)
    assert _tf32_flags() == before  # the caller's TF32 settings are restored
    assert gram.device.type == "cuda" and gram.dtype == torch.float64
    assert arch == "lenet" or plan.n_param_blocks > 1  # ResNet9 (784 MB of Jacobian) is blocked
    assert _rel(gram, ref) < NTK_RTOL
    eig, eig_ref = torch.linalg.eigvalsh(gram).cpu(), torch.linalg.eigvalsh(ref)
    assert _rel(eig, eig_ref) < NTK_RTOL


def test_ck_and_weights_on_cuda_match_cpu_float64() -> None:
    model, x = _model("resnet9"), _inputs(64)
    ck_ref = ck_spectrum(copy.deepcopy(model).double(), x.double())
    w_ref = weight_spectra(model)
    model = model.cuda()
    ck = ck_spectrum(model, x.cuda())
    assert (ck.status, ck.n_rows, ck.n_cols) == (ck_ref.status, ck_ref.n_rows, ck_ref.n_cols)
    assert _rel(ck.eigenvalues, ck_ref.eigenvalues) < CK_RTOL
    w = weight_spectra(model)
    assert [r.layer for r in w] == [r.layer for r in w_ref]
    for got, want in zip(w, w_ref, strict=True):
        assert got.eigenvalues.dtype == np.float64
        assert _rel(got.eigenvalues, want.eigenvalues) < FLOAT64_RTOL, got.layer


class _SmallCNN(nn.Module):
    """Conv + BatchNorm + Linear: few enough parameters (P = 309) for the exact Hessian."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, kernel_size=3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4 * 4 * 4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.bn(self.conv(x)))
        return self.fc(nn.functional.max_pool2d(h, 2).flatten(1))


def test_hessian_on_cuda_matches_cpu() -> None:
    torch.manual_seed(0)  # only to draw the fixture's weights
    model = _SmallCNN()
    model.bn.running_var.uniform_(0.5, 1.5)
    gen = torch.Generator().manual_seed(3)
    x, y = torch.randn(16, 3, 8, 8, generator=gen), torch.randint(0, 4, (16,), generator=gen)
    (ref,) = hessian_spectrum(copy.deepcopy(model).double(), x.double(), y, method="exact")
    cuda = model.cuda()
    (exact,) = hessian_spectrum(cuda, x.cuda(), y.cuda(), method="exact")
    assert _rel(exact.eigenvalues, ref.eigenvalues) < FLOAT64_RTOL
    # float32 Hessian-vector products on the GPU, float64 Lanczos: the top eigenvalues to float32 accuracy
    top, slq = hessian_spectrum(cuda, x.cuda(), y.cuda(), method="lanczos", top_k=3, rng=0, slq_steps=8)
    assert "float32 HVPs" in top.convention and slq.status == "ok"
    np.testing.assert_allclose(top.eigenvalues, ref.eigenvalues[-3:], rtol=1e-4)


def _state(path) -> dict:
    return torch.load(path, weights_only=True)["state_dict"]


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


class _Crash(Exception):
    pass


def test_training_on_cuda_logs_is_reproducible_and_resumes(digits_subset, tmp_path) -> None:
    kw = dict(batch_size=32, seed=1, epochs=3, snapshot_epochs=(2,), device="cuda", num_threads=1)
    lines: list[str] = []
    summary = train("lenet", digits_subset, tmp_path / "full", log=lines.append, **kw)
    assert summary["status"] == "ok" and summary["device"] == "cuda" and summary["epochs_run"] == 3
    assert [line.split()[2] for line in lines] == ["1/3", "2/3", "3/3"]  # one progress line per epoch
    assert summary["final_train_acc"] > 0.2
    model, _ = load_checkpoint(tmp_path / "full" / "model_final.pt")  # files hold CPU tensors
    assert all(p.device.type == "cpu" for p in model.parameters())
    # deterministic kernels: the same seed gives the same bits on the same GPU
    train("lenet", digits_subset, tmp_path / "again", log=lambda _: None, **kw)
    assert _same(_state(tmp_path / "full" / "model_final.pt"), _state(tmp_path / "again" / "model_final.pt"))

    def crash_in_epoch_3(line: str) -> None:
        if "epoch 3/3" in line:  # after the epoch-2 checkpoint was written
            raise _Crash

    with pytest.raises(_Crash):
        train("lenet", digits_subset, tmp_path / "resumed", log=crash_in_epoch_3, **kw)
    assert (tmp_path / "resumed" / "checkpoint.pt").exists()
    resumed_lines: list[str] = []
    resumed = train("lenet", digits_subset, tmp_path / "resumed", log=resumed_lines.append, **kw)
    assert (
        "resuming" in resumed_lines[0] and resumed["resumed_from_epoch"] == 2 and resumed["epochs_run"] == 3
    )
    for name in ("model_final.pt", "model_epoch2.pt", "model_init.pt"):
        assert _same(_state(tmp_path / "full" / name), _state(tmp_path / "resumed" / name)), name
    assert resumed["final_test_loss"] == summary["final_test_loss"]


def test_pipeline_train_and_spectra_store_on_cuda(digits_subset, tmp_path) -> None:
    pytest.importorskip("netCDF4")
    from htmu.study.config import load_schema, validate_config
    from htmu.study.pipeline import run_spectra, run_train
    from htmu.study.stores import read_spectra

    spectra = {
        "matrices": ["weight", "ck", "ntk", "hessian"],
        "ntk": {"n": 6, "max_memory_mb": 512},
        "ck": {"n": None},
        "hessian": {
            "n": 32, "method": "auto", "layer": "fc3", "top_k": 5, "slq_probes": 2, "slq_steps": 8,
            "max_exact_params": 4000,
        },
    }  # fmt: skip
    cfg = validate_config(
        {"dataset": {"name": "digits"}, "architectures": ["lenet"], "batch_sizes": [64], "seeds": [0], "epochs": 1,
         "training": {"device": "cuda", "lr_scale": 2.0}, "spectra": spectra},
        load_schema(Path(__file__).resolve().parents[1] / "workflow/schemas/config.schema.yaml"),
    )  # fmt: skip
    run_train("lenet_bs64_s0", digits_subset, tmp_path / "run", cfg["training"], epochs=1)
    out = tmp_path / "final.nc"
    run_spectra(
        tmp_path / "run" / "model_final.pt", tmp_path / "run" / "summary.json", digits_subset, out, cfg["spectra"],
        "lenet_bs64_s0", "final", device="cuda", config=cfg,
    )  # fmt: skip
    ds = read_spectra(out)
    assert ds.attrs["device"] == "cuda"
    matrices = set(np.asarray(ds["matrix"].values).tolist())
    assert {"weight", "ck", "ntk", "hessian"} <= matrices
    assert np.isfinite(ds["eigenvalue"].values).any()
