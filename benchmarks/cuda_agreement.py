"""How closely the CUDA paths reproduce the CPU: spectra errors against float64 and training reproducibility.

Prints, for the study's models on random CIFAR-shaped inputs,

* NTK Gram (n = 4 inputs, 40 x 40) and conjugate kernel of a float32 model: the error of the CPU in
  float32, of CUDA as :mod:`htmu.spectra` computes it (TF32 off) and of CUDA with PyTorch's default TF32
  convolutions, each against the same weights in float64 on the CPU: ``entries`` = max |G - G64| / max |G64|,
  ``eig`` = max |lambda - lambda64| / lambda64_max, ``min eig`` = relative error of the smallest eigenvalue;
* weight spectra and the exact Hessian (float64 on both devices) and the float32-HVP Lanczos top-3;
* training: two same-seed runs on CUDA (bitwise equal?), a CUDA run against a CPU run (max weight
  difference after the given epochs), and the non-determinism warnings PyTorch raised.

Needs a CUDA device. Run::

    PYTHONPATH=src python benchmarks/cuda_agreement.py
"""

from __future__ import annotations

import contextlib
import copy
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

import htmu.spectra as spectra
from htmu.spectra import ck_spectrum, hessian_spectrum, ntk_gram, weight_spectra
from htmu.study.data import write_subset
from htmu.study.models import build_model
from htmu.study.train import train


def _model(arch: str) -> torch.nn.Module:
    model = build_model(arch, num_classes=10, seed=0)
    gen = torch.Generator().manual_seed(1)
    for name, buf in model.named_buffers():
        if name.endswith("running_mean"):
            buf.copy_(0.1 * torch.randn(buf.shape, generator=gen))
        elif name.endswith("running_var"):
            buf.copy_(0.5 + torch.rand(buf.shape, generator=gen))
    return model


def _errors(got: torch.Tensor, ref: torch.Tensor) -> tuple[float, float, float]:
    got, ref = got.detach().cpu().double(), ref.detach().cpu().double()
    e, e_ref = torch.linalg.eigvalsh(got), torch.linalg.eigvalsh(ref)
    return (
        float((got - ref).abs().max() / ref.abs().max()),
        float((e - e_ref).abs().max() / e_ref.abs().max()),
        float(abs(e[0] - e_ref[0]) / abs(e_ref[0])),
    )


@contextlib.contextmanager
def _tf32_default():
    """Run htmu.spectra with PyTorch's own TF32 settings (its guard replaced by a no-op)."""
    saved = spectra._ieee_float32
    spectra._ieee_float32 = contextlib.nullcontext
    try:
        yield
    finally:
        spectra._ieee_float32 = saved


def kernels() -> None:
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    print("NTK Gram (40 x 40), float32 model vs the same weights in float64 on the CPU")
    print(f"{'model':<12}{'path':<22}{'entries':>10}{'eig':>10}{'min eig':>10}{'lmin/lmax':>11}")
    for arch in ("lenet", "minialexnet", "resnet9"):
        model = _model(arch)
        ref, _ = ntk_gram(copy.deepcopy(model).double(), x.double(), max_memory_mb=16384)
        ratio = float(torch.linalg.eigvalsh(ref)[0] / torch.linalg.eigvalsh(ref)[-1])
        rows = [("cpu float32", ntk_gram(model, x, max_memory_mb=16384)[0])]
        gpu = model.cuda()
        rows.append(("cuda (htmu: no TF32)", ntk_gram(gpu, x.cuda(), max_memory_mb=16384)[0]))
        with _tf32_default():
            rows.append(("cuda TF32 default", ntk_gram(gpu, x.cuda(), max_memory_mb=16384)[0]))
        for label, g in rows:
            ent, eig, emin = _errors(g, ref)
            print(f"{arch:<12}{label:<22}{ent:>10.1e}{eig:>10.1e}{emin:>10.1e}{ratio:>11.1e}")

    print("conjugate kernel (64 inputs), eigenvalues vs float64 on the CPU: max |dl|/l_max, |dl_min|/l_min")
    x64 = torch.randn(64, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    for arch in ("minialexnet", "resnet9"):
        model = _model(arch)
        ref = ck_spectrum(copy.deepcopy(model).double(), x64.double()).eigenvalues
        gpu = model.cuda()
        got = ck_spectrum(gpu, x64.cuda()).eigenvalues
        with _tf32_default():
            tf32 = ck_spectrum(gpu, x64.cuda()).eigenvalues
        for label, e in (("cuda (htmu)", got), ("cuda TF32 default", tf32)):
            print(
                f"  {arch:<12}{label:<20}{np.abs(e - ref).max() / ref.max():>10.1e}"
                f"{abs(e[0] - ref[0]) / abs(ref[0]):>10.1e}  (l_min/l_max {ref[0] / ref[-1]:.1e})"
            )

    print("weight spectra (float64 on both): max over layers of max |dl| / l_max")
    for arch in ("minialexnet", "resnet9"):
        model = _model(arch)
        cpu = weight_spectra(model)
        gpu = weight_spectra(model.cuda())
        err = max(
            float(np.abs(a.eigenvalues - b.eigenvalues).max() / b.eigenvalues.max())
            for a, b in zip(gpu, cpu, strict=True)
        )
        print(f"  {arch:<12}{len(cpu):>3} layers {err:.1e}")


def hessian() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1),
        torch.nn.BatchNorm2d(4),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(64, 4),
    )
    model[1].running_var.uniform_(0.5, 1.5)
    gen = torch.Generator().manual_seed(3)
    x, y = torch.randn(16, 3, 8, 8, generator=gen), torch.randint(0, 4, (16,), generator=gen)
    (ref,) = hessian_spectrum(copy.deepcopy(model).double(), x.double(), y, method="exact")
    gpu = model.cuda()
    (exact,) = hessian_spectrum(gpu, x.cuda(), y.cuda(), method="exact")
    top, _ = hessian_spectrum(gpu, x.cuda(), y.cuda(), method="lanczos", top_k=3, rng=0, slq_steps=8)
    e_ref = ref.eigenvalues
    print(
        f"Hessian (P = {e_ref.size}): exact float64 cuda vs cpu max |dl|/|l|_max "
        f"{np.abs(exact.eigenvalues - e_ref).max() / np.abs(e_ref).max():.1e}; float32-HVP Lanczos top-3 "
        f"max rel. error {np.max(np.abs(top.eigenvalues - e_ref[-3:]) / e_ref[-3:]):.1e} ({top.status})"
    )


def training(epochs: int = 2) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        subset = tmp / "digits.npz"
        write_subset({"name": "digits", "n_train": 1000, "n_test": 200}, 0, subset)
        print(f"training, {epochs} epochs on 1000 digits images, batch 32")
        for arch in ("lenet", "minialexnet", "resnet9"):
            states = {}
            caught: set[str] = set()
            for tag, device in (("a", "cuda"), ("b", "cuda"), ("cpu", "cpu")):
                with warnings.catch_warnings(record=True) as w:
                    warnings.simplefilter("always")
                    summary = train(
                        arch, subset, tmp / f"{arch}_{tag}", batch_size=32, seed=0, epochs=epochs,
                        device=device, log=lambda _: None,
                    )  # fmt: skip
                caught |= {str(m.message).split(".")[0][:110] for m in w}
                blob = torch.load(tmp / f"{arch}_{tag}" / "model_final.pt", weights_only=True)
                states[tag] = (blob["state_dict"], summary)
            a, b, c = (states[k][0] for k in ("a", "b", "cpu"))
            bitwise = all(torch.equal(a[k], b[k]) for k in a)
            rel = max(
                float(
                    (a[k].double() - c[k].double()).abs().max() / c[k].double().abs().max().clamp_min(1e-30)
                )
                for k in a
                if a[k].is_floating_point()
            )
            print(
                f"  {arch:<12} cuda run twice bitwise equal: {bitwise}; cuda vs cpu: max rel. weight diff {rel:.1e}, "
                f"test acc {states['a'][1]['final_test_acc']:.4f} vs {states['cpu'][1]['final_test_acc']:.4f}, "
                f"train loss {states['a'][1]['final_train_loss']:.6f} vs {states['cpu'][1]['final_train_loss']:.6f}"
            )
            for message in sorted(caught):
                print(f"    warning: {message}")


def main() -> int:
    if not torch.cuda.is_available():
        print("SKIP: no CUDA device")
        return 0
    cudnn = torch.backends.cudnn
    print(
        f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}, cuDNN {cudnn.version()}, "
        f"conv fp32_precision {getattr(getattr(cudnn, 'conv', None), 'fp32_precision', 'n/a')}, "
        f"matmul fp32_precision {getattr(torch.backends.cuda.matmul, 'fp32_precision', 'n/a')}"
    )
    kernels()
    hessian()
    training()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
