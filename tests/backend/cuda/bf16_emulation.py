"""tests/backend/cuda/bf16_emulation.py: how far storing tensors in bf16 moves results from fp32,
on the CPU, to size the bf16 tolerances of tests/backend/cuda/parity.cu without a GPU.

    LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 /usr/bin/python3 tests/backend/cuda/bf16_emulation.py

It emulates Model<Net, Cuda, bfloat16> with PyTorch in fp32: every layer output and every
gradient between layers is rounded to bf16 (round to nearest even, as strata rounds), a
convolution reads its weights rounded to bf16, rounds its output, adds the float bias and rounds
again, and its weight gradient is rounded (cuDNN writes it in bf16); parameters and the optimizer
stay fp32. It prints the worst difference over the largest value, as parity.cu measures it, for
the layer cases the CUDA tests run (five seeds each: where rounding moves a value across a
ReLU's zero or changes a max-pool's choice, the spread is wide), then the losses of 10 Adam steps
of ConvNet v1 and a prediction. Not a test: nothing here runs in CI (PyTorch is optional).
"""
import copy
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "parity"))
from torch_parity import ConcatInput, ConcatJoin, Flattened, ResidualAdd, ResidualInput, twin  # noqa: E402


def bf16(t):
    return t.to(torch.bfloat16).to(torch.float32)


class Round(torch.autograd.Function):
    """Rounds the tensor going forward and its gradient going back."""

    @staticmethod
    def forward(ctx, x):
        return bf16(x)

    @staticmethod
    def backward(ctx, g):
        return bf16(g)


class Stored(torch.nn.Module):
    def forward(self, x):
        return Round.apply(x)


class Bf16Conv(torch.nn.Module):
    def __init__(self, conv):
        super().__init__()
        self.conv = conv

    def forward(self, x):
        y = torch.nn.functional.conv2d(x, Round.apply(self.conv.weight), None, self.conv.stride, self.conv.padding)
        return Round.apply(Round.apply(y) + self.conv.bias.view(1, -1, 1, 1))


def emulated(model):
    """model (a Flattened list, skip blocks as torch_parity's markers and joins) with every stored
    tensor rounded: a join's copy stores nothing new, a residual sum is rounded like any output."""
    layers = []
    for m in model:
        layers += [Bf16Conv(m)] if isinstance(m, torch.nn.Conv2d) else [m, Stored()]
    return Flattened(*layers)


def relative(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


def layer_case(name, layers, shape, batch, low=-1.0, high=1.0, seeds=range(1, 6)):
    for seed in seeds:
        one_layer_case(f"{name}, seed {seed}", copy.deepcopy(layers), shape, batch, low, high, seed)


def one_layer_case(name, layers, shape, batch, low, high, seed):
    torch.manual_seed(seed)
    net = Flattened(*layers)
    for p in net.parameters():
        torch.nn.init.uniform_(p, -0.5, 0.5)
    x = bf16(torch.rand(batch, *shape) * (high - low) + low)  # bf16 values on both sides, as parity.cu
    upstream = bf16(torch.rand_like(net(x)) * 2 - 1)
    emulation = emulated(copy.deepcopy(net))
    xa, xb = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    ya, yb = net(xa), emulation(Round.apply(xb))
    ya.backward(upstream)
    yb.backward(upstream)
    found = [f"output {relative(yb, ya):.1e}", f"input gradient {relative(xb.grad, xa.grad):.1e}"]
    for (n, a), (_, b) in zip(net.named_parameters(), emulation.named_parameters()):
        found.append(f"{n} gradient {relative(b.grad, a.grad):.1e}")
    print(f"{name}: " + ", ".join(found))


def smooth_images(seed, n=8):
    g = torch.Generator().manual_seed(seed)
    fx, fy = (0.2 + 0.6 * torch.rand(n, 1, 1, 1, generator=g) for _ in range(2))
    phase = 6.28 * torch.rand(n, 1, 1, 1, generator=g)
    j, i = torch.arange(64.0).view(1, 1, 1, 64), torch.arange(64.0).view(1, 1, 64, 1)
    c = torch.arange(3.0).view(1, 3, 1, 1)
    return 0.5 + 0.45 * torch.sin(fx * j + fy * i + phase + c)


def main():
    conv = torch.nn.Conv2d
    layer_case("Conv<8, 3>", [conv(3, 8, 3, padding=1)], (3, 12, 10), 3)
    layer_case("Conv<8, 3>, ReLU, Conv<4, 3>", [conv(3, 8, 3, padding=1), torch.nn.ReLU(), conv(8, 4, 3, padding=1)],
               (3, 12, 10), 3)
    layer_case("Conv<64, 3>, Conv<32, 3> at 32x32x32, batch 8",
               [conv(32, 64, 3, padding=1), conv(64, 32, 3, padding=1)], (32, 32, 32), 8)
    layer_case("Conv<64, 3>, ReLU, Conv<32, 3> at 32x32x32, batch 8",
               [conv(32, 64, 3, padding=1), torch.nn.ReLU(), conv(64, 32, 3, padding=1)], (32, 32, 32), 8)
    layer_case("Sigmoid", [torch.nn.Sigmoid()], (3, 12, 10), 3, -8.0, 8.0)
    layer_case("ReLU, MaxPool<2>, Upsample<2>", [torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Upsample(scale_factor=2)],
               (3, 12, 12), 3)

    relu, pool, up = torch.nn.ReLU, torch.nn.MaxPool2d, torch.nn.Upsample
    layer_case("Conv, ReLU, MaxPool<2>, Upsample<2> on 8 x 16 x 16 (flips)",
               [conv(8, 8, 3, padding=1), relu(), pool(2), up(scale_factor=2)], (8, 16, 16), 3)
    layer_case("ReLU, MaxPool<2>, Upsample<2>, Conv on 8 x 16 x 16",
               [relu(), pool(2), up(scale_factor=2), conv(8, 8, 3, padding=1)], (8, 16, 16), 3)
    C, J, I, A = ConcatInput, ConcatJoin, ResidualInput, ResidualAdd
    layer_case("a U-Net of two levels (flips)",
               [conv(3, 8, 3, padding=1), relu(),
                C(), pool(2), conv(8, 16, 3, padding=1), relu(),
                C(), pool(2), conv(16, 16, 3, padding=1), relu(), up(scale_factor=2), J(),
                conv(32, 16, 3, padding=1), relu(), up(scale_factor=2), J(),
                conv(24, 8, 3, padding=1), relu(), conv(8, 3, 1), torch.nn.Sigmoid()], (3, 16, 12), 3)
    layer_case("a U-Net level holding a join of 6 channels and a residual block",
               [C(), pool(2), conv(8, 16, 3, padding=1), C(), conv(16, 6, 1), J(),
                I(), conv(22, 22, 3, padding=1), A(), up(scale_factor=2), J(),
                conv(30, 3, 1)], (8, 16, 12), 3)

    torch.manual_seed(0)
    reference = twin("v1")
    emulation = emulated(copy.deepcopy(reference))
    adam_reference = torch.optim.Adam(reference.parameters(), lr=1e-3, eps=1e-7)
    adam_emulation = torch.optim.Adam(emulation.parameters(), lr=1e-3, eps=1e-7)
    bce = torch.nn.BCELoss()
    worst = 0.0
    for step in range(10):
        x = smooth_images(100 + step)
        adam_reference.zero_grad()
        a = bce(reference(x), x)
        a.backward()
        adam_reference.step()
        adam_emulation.zero_grad()
        b = bce(emulation(Round.apply(x)), bf16(x))
        b.backward()
        adam_emulation.step()
        worst = max(worst, abs(b.item() - a.item()) / abs(a.item()))
    print(f"ConvNet v1, 10 Adam steps at batch 8: worst relative loss difference {worst:.1e}")
    with torch.no_grad():
        x = smooth_images(7)
        print(f"  prediction after them: {relative(emulation(Round.apply(x)), reference(x)):.1e} (separate trajectories)")
        for a, b in zip(reference.parameters(), emulation.parameters()):
            a.copy_(b)
        print(f"  prediction with the same weights: {relative(emulation(Round.apply(x)), reference(x)):.1e}")


if __name__ == "__main__":
    main()
