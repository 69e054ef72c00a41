"""The five architectures of the study, for 3×32×32 inputs (CIFAR-10 shaped).

Every model exposes

- ``features(x)``: the penultimate representation, i.e. the (flattened) input of the last ``Linear``
  layer; its Gram matrix over a data set is the conjugate kernel;
- ``classifier``: that last ``Linear`` layer, so that ``model(x) == model.classifier(model.features(x))``.

Architectures (settings from the public code around Hodgkinson, Wang & Mahoney, ICML 2025, see
``htmp-facts.md`` §5):

===============  ===============================================================  ==========
name             layers                                                           parameters
===============  ===============================================================  ==========
``minialexnet``  conv 3→64 (3×3, s2, p1), ReLU, maxpool 2; conv 64→192 (3×3, p1),      3 195 586
                 ReLU, maxpool 2; fc1 3072→1000, ReLU; fc2 1000→10
``lenet``        conv 3→6 (5×5), ReLU, maxpool 2; conv 6→16 (5×5), ReLU, maxpool 2;         62 006
                 fc1 400→120, ReLU; fc2 120→84, ReLU; fc3 84→10
``vgg11``        VGG-11 "A" configuration with BatchNorm, 5 max-pools, 512→10            9 231 114
``resnet9``      CIFAR ResNet, 3×3 stem of width 64, 4 stages of one BasicBlock each     4 903 242
                 (widths 64, 128, 256, 512), global average pool, 512→10
``resnet18``     same with two BasicBlocks per stage                                    11 173 962
===============  ===============================================================  ==========

(counts for 10 classes). MiniAlexNet's ``fc1`` weight W (1000×3072) is the matrix of the paper's
Figure 2: the ESD of W Wᵀ has aspect ratio γ = 1000/3072 = 0.3255.

References
----------
.. [1] L. Hodgkinson, Z. Wang, M. W. Mahoney, "Models of Heavy-Tailed Mechanistic Universality", ICML 2025.
.. [2] C. H. Martin, M. W. Mahoney, "Implicit self-regularization in deep neural networks", JMLR 22 (2021):
   MiniAlexNet.
.. [3] K. Simonyan, A. Zisserman, "Very deep convolutional networks for large-scale image recognition", 2015.
.. [4] K. He, X. Zhang, S. Ren, J. Sun, "Deep residual learning for image recognition", CVPR 2016.
"""

from __future__ import annotations

import math

import torch
from torch import nn

ARCHITECTURES: tuple[str, ...] = ("minialexnet", "lenet", "vgg11", "resnet9", "resnet18")

#: Parameter counts as the paper's public material states them (approximate, for 10 classes). The
#: exact counts of these implementations are in the module docstring and checked in the tests.
PAPER_PARAM_COUNTS: dict[str, float] = {
    "minialexnet": 3.2e6,
    "lenet": 62e3,
    "vgg11": 9.2e6,
    "resnet9": 4.8e6,
    "resnet18": 11.1e6,
}

#: Input shape every architecture here is built for.
INPUT_SHAPE: tuple[int, int, int] = (3, 32, 32)

INITS: tuple[str, ...] = ("default", "fan_in")


class _Net(nn.Module):
    """Common interface: ``forward(x) = classifier(features(x))``."""

    arch: str = ""

    def features(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def classifier(self) -> nn.Linear:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class MiniAlexNet(_Net):
    """MiniAlexNet of Martin & Mahoney [2]: two conv layers and two fully connected ones."""

    arch = "minialexnet"

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(64, 192, kernel_size=3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(192 * 4 * 4, 1000)
        self.fc2 = nn.Linear(1000, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(torch.relu(self.conv1(x)))  # 64×8×8
        x = self.pool(torch.relu(self.conv2(x)))  # 192×4×4
        return torch.relu(self.fc1(torch.flatten(x, 1)))

    @property
    def classifier(self) -> nn.Linear:
        return self.fc2


class LeNet(_Net):
    """LeNet-5 for 32×32 RGB input."""

    arch = "lenet"

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, kernel_size=5)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(torch.relu(self.conv1(x)))  # 6×14×14
        x = self.pool(torch.relu(self.conv2(x)))  # 16×5×5
        x = torch.relu(self.fc1(torch.flatten(x, 1)))
        return torch.relu(self.fc2(x))

    @property
    def classifier(self) -> nn.Linear:
        return self.fc3


_VGG11_CFG: tuple[int | str, ...] = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")


class VGG11(_Net):
    """VGG-11 (configuration "A") with BatchNorm, CIFAR variant: a single 512→classes linear layer."""

    arch = "vgg11"

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for v in _VGG11_CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += [nn.Conv2d(channels, int(v), 3, padding=1), nn.BatchNorm2d(int(v)), nn.ReLU()]
                channels = int(v)
        # Not called ``features``: that name is the penultimate-features method of every model.
        self.body = nn.Sequential(*layers)
        self.fc = nn.Linear(512, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.body(x), 1)  # five pools: 512×1×1

    @property
    def classifier(self) -> nn.Linear:
        return self.fc


class BasicBlock(nn.Module):
    """ResNet basic block: two 3×3 conv+BN, identity or 1×1-conv+BN projection shortcut."""

    def __init__(self, in_channels: int, channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, channels, 1, stride=stride, bias=False), nn.BatchNorm2d(channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class ResNetCIFAR(_Net):
    """CIFAR ResNet [4]: 3×3 stem of width 64, four stages (64, 128, 256, 512), average pool, linear."""

    def __init__(
        self, blocks_per_stage: tuple[int, int, int, int], num_classes: int = 10, arch: str = ""
    ) -> None:
        super().__init__()
        self.arch = arch
        self.conv1 = nn.Conv2d(3, 64, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        in_channels = 64
        stages = []
        for i, (width, n_blocks) in enumerate(zip((64, 128, 256, 512), blocks_per_stage, strict=True)):
            blocks = []
            for j in range(n_blocks):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(BasicBlock(in_channels, width, stride))
                in_channels = width
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.fc = nn.Linear(512, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)

    @property
    def classifier(self) -> nn.Linear:
        return self.fc


def _construct(name: str, num_classes: int) -> _Net:
    if name == "minialexnet":
        return MiniAlexNet(num_classes)
    if name == "lenet":
        return LeNet(num_classes)
    if name == "vgg11":
        return VGG11(num_classes)
    if name == "resnet9":
        return ResNetCIFAR((1, 1, 1, 1), num_classes, arch="resnet9")
    return ResNetCIFAR((2, 2, 2, 2), num_classes, arch="resnet18")


def _fan_in_init(model: nn.Module, generator: torch.Generator | None) -> None:
    """Weights ~ N(0, 1/fan_in), biases 0, for every Linear and Conv2d (fan_in = in·k·k/groups)."""
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            fan_in = module.weight[0].numel()
            with torch.no_grad():
                module.weight.normal_(0.0, 1.0 / math.sqrt(fan_in), generator=generator)
                if module.bias is not None:
                    module.bias.zero_()


def build_model(
    name: str, num_classes: int = 10, init: str = "default", seed: int | None = None
) -> nn.Module:
    """Build one of the study's architectures for 3×32×32 inputs.

    Parameters
    ----------
    name : str
        One of :data:`ARCHITECTURES` (case-insensitive).
    num_classes : int
        Width of the last linear layer (the ``classifier``).
    init : {"default", "fan_in"}
        ``"default"``: PyTorch's own initialisation (Kaiming-uniform with a = √5 for Linear/Conv2d).
        ``"fan_in"``: W_ij ~ N(0, 1/fan_in) with fan_in = in_features (Linear) or in_channels·k_h·k_w
        (Conv2d), zero biases, as in the MiniAlexNet experiments of [1]_. BatchNorm layers keep weight 1,
        bias 0 in both cases.
    seed : int or None
        Seed of the initialisation. With a seed, the weights are a function of ``(name, num_classes, init,
        seed)`` only and the global torch RNG is left untouched (its state is forked and restored). With
        ``None`` the global torch RNG is used (and advanced).

    Returns
    -------
    torch.nn.Module
        The model, in training mode, with ``features(x)`` and ``classifier`` (see the module docstring).

    Raises
    ------
    ValueError
        Unknown ``name`` or ``init``, or ``num_classes`` < 1.
    """
    key = str(name).lower()
    if key not in ARCHITECTURES:
        raise ValueError(f"name: unknown architecture {name!r}; expected one of {ARCHITECTURES}")
    if init not in INITS:
        raise ValueError(f"init: unknown initialisation {init!r}; expected one of {INITS}")
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
        raise ValueError(f"num_classes: expected a positive int, got {num_classes!r}")
    if seed is None:
        model = _construct(key, num_classes)
        if init == "fan_in":
            _fan_in_init(model, None)
        return model
    # PyTorch's default initialisers draw from the global generator: fork it so the caller's RNG state
    # is unchanged, then seed the fork.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        model = _construct(key, num_classes)
        if init == "fan_in":
            generator = torch.Generator().manual_seed(int(seed))
            _fan_in_init(model, generator)
    return model


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (BatchNorm running statistics excluded)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def layer_matrices(model: nn.Module) -> list[tuple[str, torch.Tensor]]:
    """Every Linear and Conv2d weight as a 2-D matrix, with the module's qualified name.

    A Linear weight is returned as is (out_features × in_features); a Conv2d weight of shape
    (out, in, k_h, k_w) is reshaped to (out, in·k_h·k_w), the matrix that acts on an unfolded patch.

    Parameters
    ----------
    model : torch.nn.Module

    Returns
    -------
    list of (str, torch.Tensor)
        ``(qualified_name, weight_matrix)`` in module registration order; tensors are detached (they share
        memory with the parameters: clone before modifying).
    """
    out = []
    for qualname, module in model.named_modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            weight = module.weight.detach()
            out.append((qualname, weight.reshape(weight.shape[0], -1)))
    return out
